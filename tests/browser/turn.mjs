// turn.mjs — the web client's media through a TURN relay only, in Debian's
// Chromium (fake camera and microphone) against a real mixmeetd and a real
// coturn.
//
//   node turn.mjs BASE_URL ROOM_CODE
//
// The page is told to use relays only (localStorage
// 'mixmeet.iceTransportPolicy' = 'relay'), joins ROOM_CODE as a guest, and
// must receive the composite (frames decoded) over a candidate pair whose
// local candidate is a relay one. Then, in the same page, plain
// RTCPeerConnections gather candidates against coturn with other
// credentials; the environment gives them as JSON RTCIceServer objects:
// TURN_WRONG (a wrong password), TURN_EXPIRED (a correct password for a
// username whose time has passed) and TURN_TLS (the join answer's
// credentials on the TLS listener); each result says how many relay
// candidates came and which errors.
//
// stdout: JSON lines; the last one is the result
// {"ok": bool, "frames_decoded": N, "local_candidate_type": "relay", ...};
// exit status 1 on failure.
import { launchChromium } from './launch.mjs';

const [base, code] = process.argv.slice(2);
if (!base || !code) {
  console.error('usage: node turn.mjs BASE_URL ROOM_CODE');
  process.exit(2);
}
const started = Date.now();
const log = (m) => console.error(`[turn ${((Date.now() - started) / 1000).toFixed(1)}s] ${m}`);
const emit = (o) => console.log(JSON.stringify(o));
const result = { ok: false };

const browser = await launchChromium([
  '--disable-gpu',
  // coturn's TLS listener has a self-signed certificate made by the test.
  ...(process.env.TURN_TLS ? ['--ignore-certificate-errors'] : []),
]);

// Gather candidates with only @server, relays only: how many relay
// candidates, and the ICE candidate errors (code, text).
const gatherIn = (page, server) => page.evaluate(async (s) => {
  const pc = new RTCPeerConnection({ iceServers: [s], iceTransportPolicy: 'relay' });
  const relays = [];
  const errors = [];
  pc.onicecandidate = (e) => { if (e.candidate && / typ relay /.test(e.candidate.candidate)) relays.push(e.candidate.candidate); };
  pc.onicecandidateerror = (e) => errors.push({ code: e.errorCode, text: e.errorText, url: e.url });
  pc.createDataChannel('probe');
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((resolve) => {
    const done = () => { if (pc.iceGatheringState === 'complete') resolve(); };
    pc.onicegatheringstatechange = done;
    done();
    setTimeout(resolve, 20000);
  });
  pc.close();
  return { relays: relays.length, errors };
}, server);

try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  await ctx.grantPermissions(['camera', 'microphone'], { origin: base });
  const page = await ctx.newPage();
  page.on('console', (m) => { if (m.type() === 'error') log(`console: ${m.text()}`); });
  page.on('pageerror', (e) => log(`pageerror: ${e.message}`));
  // CSP violations would show here too: the page must work under its policy.
  const violations = [];
  await page.exposeFunction('reportViolation', (v) => violations.push(v));
  await page.addInitScript(() => {
    localStorage.setItem('mixmeet.iceTransportPolicy', 'relay');
    document.addEventListener('securitypolicyviolation', (e) => window.reportViolation(`${e.violatedDirective} ${e.blockedURI}`));
  });

  emit({ step: 'join' });
  await page.goto(`${base}/${code}`);
  await page.locator('[data-testid="guest-name"]').fill('Relay Rita');
  await page.locator('[data-testid="join-now"]').click();
  await page.locator('[data-testid=meeting][data-status=connected]').waitFor({ timeout: 30000 });
  emit({ step: 'connected' });

  // The composite arrives over the relay: frames decoded, and the
  // selected pair's local candidate is a relay one.
  const probe = () => page.evaluate(async () => {
    const pc = window.__mixmeet && window.__mixmeet.session.pc;
    if (!pc) return false;
    const report = await pc.getStats();
    let frames = 0; let pairId = null;
    report.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') frames += s.framesDecoded || 0;
      if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
    });
    if (frames < 30 || !pairId) return false;
    const pair = report.get(pairId);
    const local = report.get(pair.localCandidateId);
    const remote = report.get(pair.remoteCandidateId);
    const conf = pc.getConfiguration();
    return {
      frames,
      local: { type: local.candidateType, protocol: local.protocol, relayProtocol: local.relayProtocol, address: local.address, url: local.url },
      remote: { type: remote.candidateType, address: remote.address, port: remote.port },
      policy: conf.iceTransportPolicy,
      servers: conf.iceServers.map((s) => ({ urls: s.urls, username: s.username })),
    };
  });
  let stats = false;
  for (const until = Date.now() + 40000; !stats && Date.now() < until;) {
    stats = await probe();
    if (!stats) await new Promise((r) => setTimeout(r, 500));
  }
  if (!stats) throw new Error('no video decoded over a selected candidate pair within 40 s');
  log(`media: ${JSON.stringify(stats)}`);
  result.frames_decoded = stats.frames;
  result.local_candidate_type = stats.local.type;
  result.relay_protocol = stats.local.relayProtocol;
  result.remote_candidate = stats.remote;
  result.ice_transport_policy = stats.policy;
  result.ice_servers = stats.servers;
  result.composite_width = await page.evaluate(() => document.querySelector('[data-testid=composite]').videoWidth);

  // coturn with other credentials.
  for (const [name, env] of [['wrong', 'TURN_WRONG'], ['expired', 'TURN_EXPIRED'], ['tls', 'TURN_TLS']]) {
    if (!process.env[env]) continue;
    emit({ step: `gather-${name}` });
    result[name] = await gatherIn(page, JSON.parse(process.env[env]));
    log(`${name}: ${JSON.stringify(result[name])}`);
  }
  result.csp_violations = violations;
  result.ok = true;
  await ctx.close();
} catch (e) {
  result.error = e && e.message ? e.message.split('\n')[0] : String(e);
  log(`failed: ${e && e.stack}`);
}
await browser.close();
emit(result);
process.exit(result.ok ? 0 : 1);
