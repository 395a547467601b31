// interop.mjs — Debian's Chromium (fake camera and microphone) joins a
// mixmeet room through interop.html and plays the composite.
//
//   node interop.mjs BASE_URL ROOM_CODE [SECONDS [stdin]]
//
// Prints one JSON line: {"ok": bool, "decoded": N, "painted": N, "width": W,
// "height": H, "stats": {...}, "t": {...}, ...}.  ok means: connected, and
// the browser decoded more than 10 frames of the composite after its first
// one, at 1280x720.
//
// SECONDS bounds the time to the first frame: Chromium's start, getUserMedia, ICE and
// DTLS take from one to many seconds on a loaded machine.  Once the first
// frame is in, the composite has up to ADVANCE_SECONDS more to show that it
// goes on: the count is of frames decoded by the WebRTC stack (getStats),
// which does not depend on how often headless Chromium paints; painted
// frames (requestVideoFrameCallback) are reported too.  The page stays in
// the room so that the others there can see its camera in their composite:
// with "stdin", until its standard input ends (the caller closes it once
// it has seen the camera; at most STAY_MAX_SECONDS after the first frame),
// otherwise STAY_SECONDS after its first frame.
import { launchChromium } from './launch.mjs';

const [base, code, seconds = '60', stay = ''] = process.argv.slice(2);
const ADVANCE_SECONDS = 60;
const WANT = 30;
const STAY_SECONDS = 5;
const STAY_MAX_SECONDS = 240;
let released = false;
if (stay === 'stdin') {
  process.stdin.on('data', () => {});
  process.stdin.on('end', () => { released = true; });
  process.stdin.on('error', () => { released = true; });
}
const browser = await launchChromium();
let result = { ok: false };
try {
  const page = await browser.newPage();
  page.on('console', (m) => { if (m.type() === 'error') console.error('page: ' + m.text()); });
  await page.goto(`${base}/interop.html?room=${encodeURIComponent(code)}&name=chromium`);
  const started = Date.now();
  let deadline = started + Number(seconds) * 1000;
  let r = null;
  let stats = null;
  let first = null;
  for (;;) {
    const now = Date.now();
    if (!first && now > deadline) break;
    const stayed = stay === 'stdin' ? released : first && now - first.at >= STAY_SECONDS * 1000;
    if (first && now > deadline && (stayed || now - first.at > STAY_MAX_SECONDS * 1000)) break;
    r = await page.evaluate(() => {
      const v = document.getElementById('remote');
      return { ...window.result, width: v.videoWidth, height: v.videoHeight };
    });
    if (r.error) break;
    stats = await page.evaluate(() => window.videoStats());
    if (r.connected && stats && stats.framesDecoded > 0 && first === null) {
      first = { decoded: stats.framesDecoded, painted: r.frames, at: Date.now() };
      deadline = first.at + ADVANCE_SECONDS * 1000;
    }
    if (first && stats.framesDecoded - first.decoded > WANT && r.frames - first.painted > 0
        && stayed) break;
    await new Promise((res) => setTimeout(res, 250));
  }
  const decoded = first ? stats.framesDecoded - first.decoded : 0;
  const painted = first ? r.frames - first.painted : 0;
  const window_ms = first ? Date.now() - first.at : 0;
  const fps = window_ms > 0 ? Math.round((decoded * 10000) / window_ms) / 10 : 0;
  result = {
    ...r, stats, decoded, painted, fps, window_ms, elapsed_ms: Date.now() - started,
    ok: !r.error && r.connected && decoded > 10 && r.width === 1280 && r.height === 720,
  };
} catch (e) {
  result = { ok: false, error: String(e) };
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
