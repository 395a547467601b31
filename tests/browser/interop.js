// interop.js — the interop page's client (a file of its own: the server's
// Content-Security-Policy allows no inline script).
'use strict';
const params = new URLSearchParams(location.search);
const code = params.get('room');
const name = params.get('name') || 'chromium';
const t0 = performance.now();
const ms = () => Math.round(performance.now() - t0);
// Timings are milliseconds from the page's start.
window.result = { joined: false, media: false, offered: false, answered: false, connected: false, frames: 0,
                  answers: 0, width: 0, height: 0, error: null, t: {} };
let pc = null;
let offerTo = null;   // posts an offer to the server, once joined

// The composite as the browser's WebRTC stack sees it: frames received and
// decoded, whether or not the page paints them (headless Chromium on a
// loaded machine paints few).
window.videoStats = async () => {
  if (!pc) return null;
  const stats = await pc.getStats();
  for (const s of stats.values()) {
    if (s.type === 'inbound-rtp' && s.kind === 'video') {
      return { framesReceived: s.framesReceived || 0, framesDecoded: s.framesDecoded || 0,
               keyFramesDecoded: s.keyFramesDecoded || 0, framesDropped: s.framesDropped || 0,
               packetsReceived: s.packetsReceived || 0, packetsLost: s.packetsLost || 0,
               pliCount: s.pliCount || 0, nackCount: s.nackCount || 0,
               frameWidth: s.frameWidth || 0, frameHeight: s.frameHeight || 0 };
    }
  }
  return null;
};

// The ICE username fragment of a description's SDP (the BUNDLE transport's).
window.ufrags = () => {
  const ufrag = (d) => (d && (/a=ice-ufrag:(\S+)/.exec(d.sdp) || [])[1]) || null;
  return pc ? { local: ufrag(pc.localDescription), remote: ufrag(pc.remoteDescription) } : null;
};

// The transport's selected candidate pair: its remote candidate's address
// and port, and how often the selection changed.
window.selectedPair = async () => {
  if (!pc) return null;
  const stats = await pc.getStats();
  for (const t of stats.values()) {
    if (t.type !== 'transport' || !t.selectedCandidatePairId) continue;
    const pair = stats.get(t.selectedCandidatePairId);
    const remote = pair && stats.get(pair.remoteCandidateId);
    return { address: remote ? remote.address : null, port: remote ? remote.port : 0,
             changes: t.selectedCandidatePairChanges || 0, state: pair ? pair.state : null,
             responsesReceived: pair ? pair.responsesReceived : 0,
             localUfrag: t.iceLocalUsernameFragment || null };
  }
  return null;
};

// An ICE restart: new ICE credentials in a new offer on the same
// connection (the same certificate); the answer comes as any other.
window.restartIce = async () => {
  pc.restartIce();
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  await offerTo(pc.localDescription.sdp);
};

async function api (method, path, secret, body) {
  const headers = { 'Content-Type': 'application/json' };
  if (secret) headers.Authorization = 'Bearer ' + secret;
  const r = await fetch(path, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const text = await r.text();
  if (!r.ok) throw new Error(method + ' ' + path + ': ' + r.status + ' ' + text);
  return text ? JSON.parse(text) : null;
}

async function main () {
  // Camera and microphone first: opening them can take seconds on a busy
  // machine, longer than the presence timeout of someone who has joined
  // and does not poll yet.
  const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 360 }, audio: true });
  window.result.t.media = ms();
  const join = await api('POST', '/api/v1/rooms/' + code + '/join', null, { display_name: name });
  const sig = join.signalling;
  window.result.joined = true;
  window.result.t.joined = ms();
  window.result.participantId = join.participant.id;
  pc = new RTCPeerConnection({ iceServers: join.media.ice_servers, bundlePolicy: 'max-bundle' });
  window.result.media = true;
  for (const track of stream.getTracks()) pc.addTrack(track, stream);
  const video = document.getElementById('remote');
  pc.ontrack = (e) => {
    if (e.track.kind === 'video') video.srcObject = new MediaStream([e.track]);
  };
  pc.onconnectionstatechange = () => {
    if (pc.connectionState === 'connected') {
      window.result.connected = true;
      window.result.t.connected = ms();
    }
  };
  pc.onicecandidate = (e) => {
    api('POST', sig.messages, join.secret, e.candidate
      ? { type: 'ice', candidate: e.candidate.candidate, sdp_mline_index: e.candidate.sdpMLineIndex }
      : { type: 'ice', candidate: '', sdp_mline_index: 0 }).catch(() => {});
  };
  offerTo = (sdp) => api('POST', sig.messages, join.secret, { type: 'offer', sdp });
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  await offerTo(pc.localDescription.sdp);
  window.result.offered = true;

  const count = () => {
    if (window.result.frames++ === 0) window.result.t.painted = ms();
    video.requestVideoFrameCallback(count);
  };
  video.requestVideoFrameCallback(count);

  let since = 0;
  for (;;) {
    const r = await api('GET', sig.events + '?since=' + since, join.secret);
    for (const ev of r.events) {
      if (ev.type === 'answer') {
        await pc.setRemoteDescription({ type: 'answer', sdp: ev.sdp });
        window.result.answered = true;
        window.result.answers++;
        window.result.t.answered = ms();
      } else if (ev.type === 'ice' && ev.candidate) {
        await pc.addIceCandidate({ candidate: ev.candidate, sdpMLineIndex: ev.sdp_mline_index });
      }
    }
    since = r.last_seq;
  }
}
main().catch((e) => { window.result.error = String(e); });
