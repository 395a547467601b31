// quality.mjs — receive quality tiers (issue #8) in the web client, in
// Debian's Chromium (fake camera and microphone) against a real mixmeetd
// while a mixmeet-bot publishes into the room.
//
//   node quality.mjs BASE_URL ROOM_CODE [SCREENSHOT_DIR]
//
// A guest picks "High" on the pre-join page (the join body carries it),
// joins and receives the 1280x720 composite. Its camera sender takes an
// uplink limit (RTCRtpSender.setParameters, as an `uplink` event makes
// it) and drops it again, and a tile size (a `video-size` event scales
// the camera down to fit it). Then, from the settings dialog: "Data saver" —
// the inbound video's frameWidth (pc.getStats()) must come down to 320
// within QUALITY_SWITCH_MS (15 s) and the tier chip say so; "Audio only" —
// the video's bytesReceived must stop growing (at most STILL_BYTES over
// 3 s) while the sound goes on, and the page show who speaks instead of
// the video; "Turn video back on" — video decoded again. The choice is
// remembered in localStorage.
//
// stdout: JSON lines: {"step": NAME} as each step starts, the result last:
// {"ok": bool, "error": "...", "steps": {NAME: ms}, "seen": {...}};
// exit status 1 on failure. Failures say what was expected and what was
// seen. Screenshots (PNG) in SCREENSHOT_DIR: quality-data-saver,
// quality-audio-only (quality-failure on failure).
import { launchChromium } from './launch.mjs';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const [base, code, shots = null] = process.argv.slice(2);
if (!base || !code) {
  console.error('usage: node quality.mjs BASE_URL ROOM_CODE [SCREENSHOT_DIR]');
  process.exit(2);
}
if (shots) mkdirSync(shots, { recursive: true });
const started = Date.now();
const log = (m) => console.error(`[quality ${((Date.now() - started) / 1000).toFixed(1)}s] ${m}`);
const emit = (o) => console.log(JSON.stringify(o));
// How long the server may take to change a receiver's tier: the property
// under test, not stretched.
const SWITCH_MS = Number(process.env.QUALITY_SWITCH_MS || 15000);
// "Stops growing": at most this many bytes of video over STILL_WINDOW_MS.
const STILL_BYTES = Number(process.env.QUALITY_STILL_BYTES || 5000);
const STILL_WINDOW_MS = 3000;
// The low tier is 15 fps: at most this many frames a second received.
const LOW_MAX_FPS = Number(process.env.QUALITY_LOW_MAX_FPS || 17);
// Waits for the page itself (joining, dialogs), stretched on a busy
// machine as e2e.mjs does.
const SLOW = Number(process.env.E2E_SLOW || 4);
const T = (ms) => ms * SLOW;

const steps = {};
const seen = {};
let page = null;
const step = async (name, fn) => {
  log(name);
  emit({ step: name });
  const t = Date.now();
  await fn();
  steps[name] = Date.now() - t;
};
class Expectation extends Error {}
const expect = (cond, msg) => { if (!cond) throw new Expectation(msg); };
const tid = (id) => page.locator(`[data-testid="${id}"]`);
const shot = (name) => (shots ? page.screenshot({ path: join(shots, name + '.png') }) : Promise.resolve());
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The inbound video (the composite) and audio (the mix), and the camera's
// outbound video, from the session's RTCPeerConnection. Should the server
// switch tiers by SSRC, bytes and frames add up over every inbound stream
// of a kind, and the sizes are those of the one that received last.
const stats = () => page.evaluate(async () => {
  const pc = window.__mixmeet && window.__mixmeet.session && window.__mixmeet.session.pc;
  if (!pc) return null;
  const report = await pc.getStats();
  const out = { video: null, audio: null, outVideo: null };
  const latest = { video: -1, audio: -1 };
  report.forEach((s) => {
    if (s.type === 'inbound-rtp' && (s.kind === 'video' || s.kind === 'audio')) {
      const cur = out[s.kind] || (out[s.kind] = { bytesReceived: 0, framesDecoded: 0, framesReceived: 0, frameWidth: null, frameHeight: null, fps: null, streams: 0 });
      cur.bytesReceived += s.bytesReceived || 0;
      cur.framesDecoded += s.framesDecoded || 0;
      cur.framesReceived += s.framesReceived || 0;
      cur.streams++;
      const at = s.lastPacketReceivedTimestamp || 0;
      if (at >= latest[s.kind]) {
        latest[s.kind] = at;
        cur.frameWidth = s.frameWidth ?? null;
        cur.frameHeight = s.frameHeight ?? null;
        cur.fps = s.framesPerSecond ?? null;
      }
    }
    if (s.type === 'outbound-rtp' && s.kind === 'video' && (!out.outVideo || (s.bytesSent || 0) > out.outVideo.bytesSent)) {
      out.outVideo = { bytesSent: s.bytesSent || 0, frameWidth: s.frameWidth ?? null, frameHeight: s.frameHeight ?? null, fps: s.framesPerSecond ?? null };
    }
  });
  return out;
});

// Poll stats until @pick(stats) is true, for at most @ms; → {ok, last,
// history} where history lists the distinct values of @show(stats) seen.
async function watch (ms, pick, show) {
  const end = Date.now() + ms;
  const history = [];
  let last = null;
  for (;;) {
    last = await stats();
    const v = last ? show(last) : 'no peer connection';
    if (history.at(-1) !== v) history.push(v);
    if (last && pick(last)) return { ok: true, last, history };
    if (Date.now() > end) return { ok: false, last, history };
    await sleep(250);
  }
}

// Choose a quality from More options → Settings.
async function chooseInSettings (quality) {
  await tid('more-button').click();
  await tid('open-settings').click();
  await tid('quality-' + quality).check({ timeout: T(5000) });
  await page.keyboard.press('Escape');
  await tid('quality-choice').waitFor({ state: 'detached', timeout: T(5000) });
}

// Whether the server takes `quality` messages (400 "unknown message type": no).
const serverTakesQuality = () => page.evaluate(async () => {
  const s = window.__mixmeet.session;
  const r = await fetch(s.join.signalling.messages, {
    method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + s.join.secret },
    body: JSON.stringify({ type: 'quality', quality: s.quality }),
  });
  return { status: r.status, text: (await r.text()).slice(0, 300) };
});

const browser = await launchChromium(['--disable-gpu']);
let result = { ok: false };
try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  ctx.setDefaultTimeout(T(15000));
  await ctx.grantPermissions(['camera', 'microphone'], { origin: base });
  page = await ctx.newPage();
  page.on('console', (m) => { if (m.type() === 'error') log(`console: ${m.text()}`); });
  page.on('pageerror', (e) => log(`pageerror: ${e.message}`));
  let joinBody = null;
  page.on('request', (r) => {
    if (r.method() === 'POST' && /\/api\/v1\/rooms\/[^/]+\/join$/.test(new URL(r.url()).pathname)) {
      try { joinBody = JSON.parse(r.postData() || '{}'); } catch { joinBody = r.postData(); }
    }
  });

  await step('pre-join: choose High', async () => {
    await page.goto(`${base}/${code}`);
    await tid('guest-name').fill('Quinn Quality');
    const shown = await tid('pick-quality').textContent();
    expect(/Auto/.test(shown), `the pre-join quality picker starts at "Auto" in a fresh browser; it shows "${shown}"`);
    await tid('pick-quality').locator('[role=combobox]').click();
    await tid('pick-quality-high').click();
    await tid('pick-quality-high').waitFor({ state: 'detached', timeout: T(5000) });
    const stored = await page.evaluate(() => localStorage.getItem('mixmeet.quality'));
    expect(stored === 'high', `choosing High on the pre-join page stores localStorage mixmeet.quality = "high"; it is ${JSON.stringify(stored)}`);
  });

  await step('join', async () => {
    await tid('join-now').click();
    await page.locator('[data-testid=meeting][data-status=connected]').waitFor({ timeout: T(20000) });
    expect(joinBody && joinBody.quality === 'high', `the join body carries "quality": "high"; it was ${JSON.stringify(joinBody)}`);
    emit({ step: 'connected' });
    const w = await watch(T(10000), (s) => s.video && s.video.framesDecoded > 10 && s.video.frameWidth === 1280,
      (s) => (s.video ? `${s.video.frameWidth}x${s.video.frameHeight}` : 'no inbound video'));
    seen.joined = w.history;
    expect(w.ok, `the composite arrives at 1280 wide on High; inbound video sizes seen: ${w.history.join(', ')}`);
  });

  await step('uplink limit on the camera sender', async () => {
    // What an `uplink` event does, straight on the session: the browser
    // must take the parameters (it throws on ones it refuses).
    const r = await page.evaluate(async () => {
      const s = window.__mixmeet.session;
      const sender = s.cameraSender();
      if (!sender) return { error: 'no camera sender' };
      const ok = await s.applyUplink({ max_bitrate: 150000, max_height: 90 });
      const e = sender.getParameters().encodings[0];
      return { ok, maxBitrate: e.maxBitrate ?? null, scale: e.scaleResolutionDownBy ?? null, height: sender.track.getSettings().height };
    });
    seen.uplinkLimited = r;
    expect(!r.error, 'the guest sends its camera: ' + r.error);
    expect(r.ok && r.maxBitrate === 150000 && Math.abs(r.height / r.scale - 90) < 1,
      `setParameters limits the camera to 150 kbps and 90 px high; got ${JSON.stringify(r)}`);
    await tid('uplink-limited').waitFor({ timeout: T(5000) });
    const w = await watch(T(10000), (s) => s.outVideo && s.outVideo.frameHeight != null && s.outVideo.frameHeight <= 90,
      (s) => (s.outVideo ? `${s.outVideo.frameWidth}x${s.outVideo.frameHeight}` : 'no outbound video'));
    seen.uplinkSent = w.history;
    expect(w.ok, `the camera goes out at most 90 high once limited; outbound sizes seen: ${w.history.join(', ')}`);
    const back = await page.evaluate(async () => {
      const s = window.__mixmeet.session;
      const ok = await s.applyUplink(null);
      const e = s.cameraSender().getParameters().encodings[0];
      return { ok, maxBitrate: e.maxBitrate ?? null, scale: e.scaleResolutionDownBy ?? 1 };
    });
    seen.uplinkLifted = back;
    expect(back.ok && back.maxBitrate === null && back.scale === 1, `the limit goes with {max_bitrate: null}; got ${JSON.stringify(back)}`);
    await tid('uplink-limited').waitFor({ state: 'detached', timeout: T(5000) });
  });

  await step('camera scaled to its tile', async () => {
    // A `video-size` event (what the server sends at every layout change),
    // through the session's own event handling: the camera sender keeps
    // within the tile, its shape kept, and goes back when the tile grows.
    // First the camera back at its own size after the uplink limit went.
    const before = await watch(T(10000), (s) => s.outVideo && s.outVideo.frameWidth > 160,
      (s) => (s.outVideo ? `${s.outVideo.frameWidth}x${s.outVideo.frameHeight}` : 'no outbound video'));
    seen.tileBefore = before.history;
    expect(before.ok, `the camera goes out over 160 wide without limits; outbound sizes seen: ${before.history.join(', ')}`);
    const r = await page.evaluate(async () => {
      const s = window.__mixmeet.session;
      await s.handleEvent({ type: 'video-size', max_width: 160, max_height: 90 });
      await s.uplinkChain;
      const e = s.cameraSender().getParameters().encodings[0];
      const st = s.cameraSender().track.getSettings();
      return { scale: e.scaleResolutionDownBy ?? 1, width: st.width, height: st.height };
    });
    seen.tileLimited = r;
    expect(r.width / r.scale <= 161 && r.height / r.scale <= 91 && r.scale > 1,
      `video-size {160, 90} scales the camera into 160x90; got ${JSON.stringify(r)}`);
    const w = await watch(T(10000), (s) => s.outVideo && s.outVideo.frameWidth != null && s.outVideo.frameWidth <= 160,
      (s) => (s.outVideo ? `${s.outVideo.frameWidth}x${s.outVideo.frameHeight}` : 'no outbound video'));
    seen.tileSent = w.history;
    expect(w.ok, `the camera goes out at most 160 wide in a 160x90 tile; outbound sizes seen: ${w.history.join(', ')}`);
    const back = await page.evaluate(async () => {
      const s = window.__mixmeet.session;
      await s.handleEvent({ type: 'video-size', max_width: 1280, max_height: 720 });
      await s.uplinkChain;
      return { scale: s.cameraSender().getParameters().encodings[0].scaleResolutionDownBy ?? 1 };
    });
    expect(back.scale === 1, `a 1280x720 tile lets the camera go at its own size; got ${JSON.stringify(back)}`);
  });

  await step('server takes quality messages', async () => {
    const r = await serverTakesQuality();
    seen.qualityMessage = r;
    expect(r.status === 200, `POST …/messages {"type": "quality"} answers 200 (the #8 server side); it answered ${r.status} ${r.text}`);
  });

  await step('data saver', async () => {
    await chooseInSettings('data-saver');
    const t0 = Date.now();
    const stored = await page.evaluate(() => localStorage.getItem('mixmeet.quality'));
    expect(stored === 'data-saver', `Data saver is remembered in localStorage; it holds ${JSON.stringify(stored)}`);
    const w = await watch(SWITCH_MS, (s) => s.video && s.video.frameWidth === 320,
      (s) => (s.video ? `${s.video.frameWidth}x${s.video.frameHeight}` : 'no inbound video'));
    seen.dataSaver = { sizes: w.history, after_ms: Date.now() - t0, last: w.last && w.last.video };
    expect(w.ok, `inbound video frameWidth 320 within ${SWITCH_MS / 1000} s of choosing Data saver; sizes seen: ${w.history.join(', ')}`);
    expect(w.last.video.frameHeight === 180, `Data saver is 320x180; it is ${w.last.video.frameWidth}x${w.last.video.frameHeight}`);
    const chip = page.locator('[data-testid=tier-chip][data-tier=low]');
    const shown = await chip.waitFor({ timeout: T(5000) }).then(() => true).catch(() => false);
    const now = await tid('tier-chip').getAttribute('data-tier', { timeout: 1000 }).catch(() => 'none');
    expect(shown, `the tier chip shows the low tier (from the server's "tier" event); it shows ${now}`);
    const label = await chip.textContent();
    expect(/Data saver · 180p/.test(label), `the tier chip says "Data saver · 180p"; it says "${label}"`);
    // The rate the low tier promises: at most 15 frames a second (a bit of
    // margin), counted over 3 s of frames received.
    const a = await stats();
    const ta = Date.now();
    await sleep(3000);
    const b = await stats();
    const fps = (b.video.framesReceived - a.video.framesReceived) / ((Date.now() - ta) / 1000);
    seen.dataSaver.fps = Math.round(fps * 10) / 10;
    seen.dataSaver.browserFps = b.video.fps;
    expect(fps <= LOW_MAX_FPS, `the low tier comes at 15 frames a second or less (at most ${LOW_MAX_FPS} counted); ${b.video.framesReceived - a.video.framesReceived} frames came in ${((Date.now() - ta) / 1000).toFixed(1)} s (${seen.dataSaver.fps} a second; the browser's framesPerSecond: ${b.video.fps})`);
    await shot('quality-data-saver');
  });

  await step('audio only', async () => {
    await chooseInSettings('audio-only');
    await tid('audio-only-stage').waitFor({ timeout: T(5000) });
    const hidden = await tid('composite').evaluate((v) => getComputedStyle(v).visibility);
    expect(hidden === 'hidden', `the composite <video> is hidden in audio only; its visibility is ${hidden}`);
    // Who speaks, as the page knows it from active-speaker events (reported,
    // not required: the bot became the speaker before this page joined, and
    // the join answer does not say who speaks).
    await page.locator('[data-testid=audio-only-stage]:not([data-speaker=""])').waitFor({ timeout: 2000 }).catch(() => {});
    seen.audioOnlySpeaker = await tid('audio-only-speaker').textContent();
    // Windows of 3 s until one where the video stood still.
    const end = Date.now() + SWITCH_MS;
    const grew = [];
    let audioGrew = null;
    for (;;) {
      const a = await stats();
      await sleep(STILL_WINDOW_MS);
      const b = await stats();
      expect(a && b, 'the peer connection stays while in audio only');
      const dv = b.video ? b.video.bytesReceived - (a.video ? a.video.bytesReceived : 0) : 0;
      grew.push(dv);
      audioGrew = b.audio ? b.audio.bytesReceived - (a.audio ? a.audio.bytesReceived : 0) : 0;
      if (dv <= STILL_BYTES || Date.now() > end) break;
    }
    seen.audioOnly = { video_bytes_per_window: grew, audio_bytes_last_window: audioGrew, speaker: seen.audioOnlySpeaker };
    expect(grew.at(-1) <= STILL_BYTES,
      `inbound video bytesReceived grows by at most ${STILL_BYTES} bytes over ${STILL_WINDOW_MS / 1000} s within ${SWITCH_MS / 1000} s of choosing Audio only; it grew by ${grew.join(', ')} bytes in successive windows`);
    expect(audioGrew > 1000, `the sound goes on in audio only: inbound audio grew by ${audioGrew} bytes in the last ${STILL_WINDOW_MS / 1000} s`);
    const tier = await page.locator('[data-testid=tier-chip][data-tier=audio-only]').waitFor({ timeout: T(5000) }).then(() => true).catch(() => false);
    expect(tier, 'the tier chip shows "Audio only" (the server\'s "tier" event)');
    const stored = await page.evaluate(() => localStorage.getItem('mixmeet.quality'));
    expect(stored === 'audio-only', `Audio only is remembered in localStorage; it holds ${JSON.stringify(stored)}`);
    await shot('quality-audio-only');
  });

  await step('video back on', async () => {
    await tid('audio-only-video-on').click();
    await tid('audio-only-stage').waitFor({ state: 'detached', timeout: T(5000) });
    // Auto: whichever tier the server's estimate allows, but video again.
    const from = await stats();
    const w = await watch(SWITCH_MS, (s) => s.video && from && from.video && s.video.framesDecoded > from.video.framesDecoded + 15 &&
      [320, 640, 1280].includes(s.video.frameWidth),
    (s) => (s.video ? `${s.video.frameWidth}x${s.video.frameHeight}` : 'no inbound video'));
    seen.backOn = w.history;
    expect(w.ok, `video decoded again (15 frames or more, 320, 640 or 1280 wide) within ${SWITCH_MS / 1000} s of "Turn video back on" (auto); sizes seen: ${w.history.join(', ')}`);
    const stored = await page.evaluate(() => localStorage.getItem('mixmeet.quality'));
    expect(stored === 'auto', `Auto is remembered again; localStorage holds ${JSON.stringify(stored)}`);
  });

  await tid('leave').click();
  await page.locator('[data-testid=end-screen]').waitFor({ timeout: T(10000) });
  result = { ok: true, steps, seen, seconds: Math.round((Date.now() - started) / 1000) };
} catch (e) {
  const msg = e instanceof Expectation ? 'expected ' + e.message : (e && e.message ? e.message.split('\n')[0] : String(e));
  log(`failed: ${msg}`);
  result = { ok: false, error: msg, steps, seen };
  if (page) await shot('quality-failure').catch(() => {});
} finally {
  await browser.close();
}
emit(result);
process.exit(result.ok ? 0 : 1);
