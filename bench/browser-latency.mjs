// browser-latency.mjs — end-to-end latency as Chromium sees it: peer to
// peer, then through a mixmeet room, in one run of one browser.
//
//   node bench/browser-latency.mjs [BASE_URL ROOM_CODE] [--seconds N]
//        [--warmup N] [--nosync] [--only p2p|mixmeet]
//
// A sender page (browser-latency.js) blinks a canvas red/cyan every 700 ms
// with a tone while cyan; a receiver page plays what it gets and notes when
// it presents a frame of the new colour and when it hears the tone start
// or stop.  Each change is matched to the first time the receiver saw or
// heard it: the delay, sent to seen, on the browser's one clock.
//   p2p      the two pages joined by an RTCPeerConnection (signalling
//            through this script);
//   mixmeet  the sender publishes into ROOM_CODE at BASE_URL, the receiver
//            joins the same room receive-only and gets the composite and
//            the mix.
// Each case runs --warmup seconds (5) and is then measured for --seconds
// (25).  The receiver's getStats over that window say where the delay is:
// the jitter buffers' mean delay, target and minimum, the video's
// processing delay, the audio's concealment.  --nosync gives the video
// m-line of the room's answer a stream of its own, so that Chromium does
// not synchronise audio and video (a diagnosis).
//
// Prints one JSON line: {"p2p": {...}, "mixmeet": {...}, "added": {...}}.
// Launches Chromium only through tests/browser/launch.mjs.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '../tests/browser/launch.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const PERIOD = 700;
const MATCH_MS = 2 * PERIOD;   // a change not seen by then counts as missed

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
};
const flag = (name) => {
  const i = args.indexOf(name);
  if (i >= 0) args.splice(i, 1);
  return i >= 0;
};
const seconds = Number(opt('--seconds', '25'));
const warmup = Number(opt('--warmup', '5'));
const only = opt('--only', null);
const nosync = flag('--nosync');
const [base, room] = args;

const files = {
  'browser-latency.html': 'text/html',
  'browser-latency.js': 'text/javascript',
};
const origin = base || 'http://bench.invalid';
const pageUrl = `${origin}/bench/browser-latency.html`;

// The page and its script from bench/, under the server's origin (the
// API is then same-origin) and without the server's Content-Security-Policy.
async function newPage (browser) {
  const page = await browser.newPage();
  await page.route(`${origin}/bench/*`, (route) => {
    const name = new URL(route.request().url()).pathname.split('/').pop();
    if (!(name in files)) return route.fulfill({ status: 404, body: '' });
    return route.fulfill({ status: 200, contentType: files[name],
                           body: readFileSync(join(here, name)) });
  });
  page.on('console', (m) => { if (m.type() === 'error') console.error('page: ' + m.text()); });
  page.on('pageerror', (e) => console.error('page error: ' + e));
  await page.goto(pageUrl);
  return page;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function pct (values, p) {
  if (values.length === 0) return null;
  const v = [...values].sort((a, b) => a - b);
  const i = Math.min(v.length, Math.max(1, Math.ceil(v.length * p / 100)));
  return Math.round(v[i - 1]);
}

// Each change in [from, to) and the first receiver event after it with
// the same state: {delay, event}.
function match (changes, events, from, to) {
  const out = [];
  for (const c of changes) {
    if (c.t < from || c.t >= to) continue;
    const e = events.find((x) => x.t >= c.t && x.on === c.on && x.t < c.t + MATCH_MS);
    out.push(e ? { delay: e.t - c.t, e, c } : { delay: null, c });
  }
  return out;
}

// The means over the window of what the receiver's getStats counts.
function window_ (a, b, kind) {
  const x = a[kind] || {}, y = b[kind] || {};
  const d = (f) => (y[f] !== undefined && x[f] !== undefined ? y[f] - x[f] : null);
  const per = (f, n, k = 1000) => {
    const num = d(f), den = d(n);
    return num !== null && den ? Math.round((num / den) * k * 10) / 10 : null;
  };
  const o = {
    jitter_buffer_ms: per('jitterBufferDelay', 'jitterBufferEmittedCount'),
    target_ms: per('jitterBufferTargetDelay', 'jitterBufferEmittedCount'),
    minimum_ms: per('jitterBufferMinimumDelay', 'jitterBufferEmittedCount'),
    packets: d('packetsReceived'),
    lost: d('packetsLost'),
    jitter_ms: y.jitter !== undefined ? Math.round(y.jitter * 10000) / 10 : null,
  };
  if (kind === 'video') {
    o.processing_ms = per('totalProcessingDelay', 'framesDecoded');
    o.decode_ms = per('totalDecodeTime', 'framesDecoded');
    o.frames_decoded = d('framesDecoded');
    o.frames_dropped = d('framesDropped');
    o.freezes = d('freezeCount');
    o.size = y.frameWidth ? `${y.frameWidth}x${y.frameHeight}` : null;
  } else {
    o.concealed_pct = per('concealedSamples', 'totalSamplesReceived', 100);
    o.accelerated = d('removedSamplesForAcceleration');
    o.decelerated = d('insertedSamplesForDeceleration');
  }
  return o;
}

// The sender's video over the window: frames encoded and sent per second,
// the mean wait of a packet in its pacer, its target and estimated bit rates.
function sent (a, b) {
  const x = a.video || {}, y = b.video || {};
  const d = (f) => (y[f] !== undefined && x[f] !== undefined ? y[f] - x[f] : null);
  const secs = (b.t - a.t) / 1000;
  return {
    fps_encoded: d('framesEncoded') !== null ? Math.round(d('framesEncoded') / secs * 10) / 10 : null,
    fps_sent: d('framesSent') !== null ? Math.round(d('framesSent') / secs * 10) / 10 : null,
    pacer_ms: d('packetsSent') ? Math.round(d('totalPacketSendDelay') / d('packetsSent') * 10000) / 10 : null,
    kbps: d('bytesSent') !== null ? Math.round(d('bytesSent') * 8 / secs / 1000) : null,
    target_kbps: y.targetBitrate ? Math.round(y.targetBitrate / 1000) : null,
    estimate_kbps: b.availableOutgoingBitrate ? Math.round(b.availableOutgoingBitrate / 1000) : null,
    limited_by: y.qualityLimitationReason ?? null,
    keyframes: d('keyFramesEncoded'), plis: d('pliCount'), nacks: d('nackCount'),
    retransmitted: d('retransmittedPacketsSent'),
    size: y.frameWidth ? `${y.frameWidth}x${y.frameHeight}` : null,
  };
}

// Run a case whose pages are connected: warm up, measure, summarise.
async function measure (name, sender, receiver) {
  // Until the receiver presents frames and hears the tone.
  const deadline = Date.now() + 30000;
  for (;;) {
    const r = await receiver.evaluate(() => ({ f: bench.frames, a: bench.audio.length,
                                               e: bench.errors }));
    if (r.f > 10 && r.a > 0) break;
    if (Date.now() > deadline) throw new Error(`${name}: no media at the receiver (${JSON.stringify(r)})`);
    await sleep(250);
  }
  await sleep(warmup * 1000);
  const s0 = await receiver.evaluate(() => bench.stats());
  const o0 = await sender.evaluate(() => bench.sendStats());
  const f0 = await receiver.evaluate(() => bench.frames);
  await sleep(seconds * 1000);
  const s1 = await receiver.evaluate(() => bench.stats());
  const o1 = await sender.evaluate(() => bench.sendStats());
  await sleep(MATCH_MS);
  const tx = await sender.evaluate(() => bench.changes);
  const rx = await receiver.evaluate(() => ({ video: bench.video, audio: bench.audio,
                                               frames: bench.frames, unknown: bench.unknown }));
  const video = match(tx, rx.video, s0.t, s1.t);
  const audio = match(tx, rx.audio, s0.t, s1.t);
  const ok = (m) => m.filter((x) => x.delay !== null);
  const vd = ok(video).map((x) => x.delay);
  const ad = ok(audio).map((x) => x.delay);
  // Video, split where the frame's last packet arrived (receiveTime):
  // sent -> received (network and server), received -> presented
  // (the receiver's jitter buffer, decoding and rendering).
  if (process.env.BENCH_BROWSER_DUMP) {
    const { appendFileSync } = await import('node:fs');
    appendFileSync(process.env.BENCH_BROWSER_DUMP,
                   JSON.stringify({ name, tx, rx, s0, s1 }) + '\n');
  }
  const net = ok(video).filter((x) => x.e.recv).map((x) => x.e.recv - x.c.t);
  const rcv = ok(video).filter((x) => x.e.recv).map((x) => x.e.t - x.e.recv);
  return {
    changes: video.length,
    video: { matched: vd.length, p50_ms: pct(vd, 50), p95_ms: pct(vd, 95),
             to_received_p50_ms: pct(net, 50), received_to_presented_p50_ms: pct(rcv, 50),
             fps: Math.round(((rx.frames - f0) / seconds) * 10) / 10,
             stats: window_(s0, s1, 'video') },
    audio: { matched: ad.length, p50_ms: pct(ad, 50), p95_ms: pct(ad, 95),
             stats: window_(s0, s1, 'audio') },
    sender: sent(o0, o1),
  };
}

async function p2p (browser) {
  const sender = await newPage(browser);
  const receiver = await newPage(browser);
  try {
    const offer = await sender.evaluate((p) => bench.p2pOffer(p), PERIOD);
    const answer = await receiver.evaluate((sdp) => bench.p2pAnswer(sdp), offer);
    await sender.evaluate((sdp) => bench.p2pFinish(sdp), answer);
    return await measure('p2p', sender, receiver);
  } finally {
    await sender.close();
    await receiver.close();
  }
}

async function mixmeet (browser) {
  const sender = await newPage(browser);
  const receiver = await newPage(browser);
  try {
    await sender.evaluate(([r, p]) => bench.join('send', r, 'sender', p), [room, PERIOD]);
    await receiver.evaluate(([r, p, o]) => bench.join('recv', r, 'receiver', p, o),
                            [room, PERIOD, { nosync }]);
    return await measure('mixmeet', sender, receiver);
  } finally {
    for (const p of [sender, receiver]) {
      await p.evaluate(() => bench.leave && bench.leave()).catch(() => {});
      await p.close();
    }
  }
}

const browser = await launchChromium([
  '--autoplay-policy=no-user-gesture-required',
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
]);
const result = { period_ms: PERIOD, seconds, nosync };
let failed = false;
try {
  if (only !== 'mixmeet') result.p2p = await p2p(browser);
  if (only !== 'p2p' && base && room) result.mixmeet = await mixmeet(browser);
} catch (e) {
  result.error = String(e);
  failed = true;
} finally {
  await browser.close();
}
if (result.p2p && result.mixmeet) {
  const sub = (k) => {
    const a = result.mixmeet[k].p50_ms, b = result.p2p[k].p50_ms;
    return a !== null && b !== null ? a - b : null;
  };
  const sub95 = (k) => {
    const a = result.mixmeet[k].p95_ms, b = result.p2p[k].p95_ms;
    return a !== null && b !== null ? a - b : null;
  };
  result.added = { video_p50_ms: sub('video'), video_p95_ms: sub95('video'),
                   audio_p50_ms: sub('audio'), audio_p95_ms: sub95('audio') };
}
console.log(JSON.stringify(result));
process.exit(failed ? 1 : 0);
