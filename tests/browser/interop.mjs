// interop.mjs — Debian's Chromium (fake camera and microphone) joins a
// mixmeet room through interop.html and plays the composite.
//
//   node interop.mjs BASE_URL ROOM_CODE [SECONDS]
//
// Prints one JSON line: {"ok": bool, "frames": N, "width": W, "height": H, ...}
// ok means: connected, and the page's video element got frames of the
// composite advancing (more than 10 after the first, within the time given).
import { chromium } from 'playwright-core';

const [base, code, seconds = '20'] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: [
    '--no-sandbox',
    '--use-fake-device-for-media-stream',
    '--use-fake-ui-for-media-stream',
    '--allow-loopback-in-peer-connection',
    '--disable-features=WebRtcHideLocalIpsWithMdns',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
  ],
});
let result = { ok: false };
try {
  const page = await browser.newPage();
  page.on('console', (m) => { if (m.type() === 'error') console.error('page: ' + m.text()); });
  await page.goto(`${base}/interop.html?room=${encodeURIComponent(code)}&name=chromium`);
  const deadline = Date.now() + Number(seconds) * 1000;
  let r = null;
  let framesAt = null;
  while (Date.now() < deadline) {
    r = await page.evaluate(() => window.result);
    if (r.error) break;
    if (r.connected && r.frames > 0 && framesAt === null) framesAt = { frames: r.frames, t: Date.now() };
    // Enough frames to say the composite goes on (headless Chromium on a
    // loaded machine renders a few per second at times: no fixed window).
    if (framesAt && r.frames - framesAt.frames > 30) break;
    await new Promise((res) => setTimeout(res, 250));
  }
  const advancing = framesAt ? r.frames - framesAt.frames : 0;
  result = { ...r, advancing, ok: !r.error && r.connected && advancing > 10 };
} catch (e) {
  result = { ok: false, error: String(e) };
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
