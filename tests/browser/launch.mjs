// launch.mjs — Debian's Chromium as every browser test starts it: no
// sandbox (root in CI), fake camera and microphone granted without asking,
// WebRTC on loopback with real host addresses (no mDNS names), and none of
// the background traffic a closed network would refuse.  Never a browser
// downloaded by a tool: CHROMIUM or /usr/bin/chromium.
import { chromium } from 'playwright-core';

export function launchChromium(extraArgs = []) {
  return chromium.launch({
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
      ...extraArgs,
    ],
  });
}
