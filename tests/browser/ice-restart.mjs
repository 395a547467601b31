// ice-restart.mjs — Debian's Chromium joins a mixmeet room through
// interop.html, plays the composite, then restarts ICE: pc.restartIce()
// and a new offer (new ICE credentials, the same certificate), which the
// server takes as an ICE restart (mm_media_offer) and answers with new
// credentials of its own.
//
//   node ice-restart.mjs BASE_URL ROOM_CODE MEDIA_PORT [SECONDS]
//
// Prints one JSON line: {"ok": bool, "ufrag_before", "ufrag_after",
// "server_ufrag_before", "server_ufrag_after", "decoded_before",
// "decoded_after", "remote_port", "pair": {...}, ...}.  ok means: the
// browser decoded frames before the restart, both sides' ICE credentials
// changed, the selected candidate pair after it is on new credentials
// (the transport's local ufrag is the new one, when Chromium reports it)
// and its remote port is MEDIA_PORT, and more than WANT frames were
// decoded after the new answer was applied.
//
// SECONDS bounds each wait (the first frames; the answer; the frames
// after it): a loaded machine is slow, so each ends as soon as it holds.
import { launchChromium } from './launch.mjs';

const [base, code, mediaPort, seconds = '90'] = process.argv.slice(2);
const WANT = 30;
const browser = await launchChromium();
let result = { ok: false };

const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

try {
  const page = await browser.newPage();
  page.on('console', (m) => { if (m.type() === 'error') console.error('page: ' + m.text()); });
  await page.goto(`${base}/interop.html?room=${encodeURIComponent(code)}&name=restarter`);
  const state = () => page.evaluate(async () => ({
    r: window.result, stats: await window.videoStats(), ufrags: window.ufrags(),
    pair: await window.selectedPair(),
  }));
  // Wait until @cond(state) holds or SECONDS pass; the last state.
  const until = async (what, cond) => {
    const deadline = Date.now() + Number(seconds) * 1000;
    for (;;) {
      const s = await state();
      if (s.r.error) throw new Error(s.r.error);
      if (cond(s)) return s;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ` + JSON.stringify(s));
      await sleep(250);
    }
  };

  const before = await until('the first frames',
    (s) => s.r.connected && s.stats && s.stats.framesDecoded > 10 && s.pair);
  await page.evaluate(() => window.restartIce());
  const answered = await until('the answer to the restart',
    (s) => s.r.answers >= 2 && s.ufrags.remote !== before.ufrags.remote);
  const from = answered.stats.framesDecoded;
  // The pair in use is on the new credentials once Chromium's checks with
  // them were answered (the old pair carries media meanwhile).
  const after = await until('frames after the restart',
    (s) => s.stats.framesDecoded - from > WANT && s.pair && s.pair.state === 'succeeded'
      && (s.pair.localUfrag === null || s.pair.localUfrag === answered.ufrags.local));
  result = {
    ufrag_before: before.ufrags.local, ufrag_after: after.ufrags.local,
    server_ufrag_before: before.ufrags.remote, server_ufrag_after: after.ufrags.remote,
    decoded_before: before.stats.framesDecoded, decoded_after: after.stats.framesDecoded - from,
    remote_port: after.pair.port, pair_before: before.pair, pair: after.pair,
  };
  result.ok = result.ufrag_before !== result.ufrag_after
    && result.server_ufrag_before !== result.server_ufrag_after
    && result.decoded_after > WANT && result.remote_port === Number(mediaPort);
} catch (e) {
  result = { ...result, ok: false, error: String(e) };
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
