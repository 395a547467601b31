// browser-latency.js — the page of bench/browser-latency.mjs, as a sender
// or a receiver, peer to peer or through a mixmeet room.
//
// Sender: a 640x360 canvas (captureStream(30)) that switches between red
// and cyan every PERIOD ms, and a 440 Hz tone (Web Audio oscillator into a
// MediaStreamDestination) that sounds only while cyan.  It keeps the time
// of each change.
// Receiver: plays what it receives; every presented video frame
// (requestVideoFrameCallback) is drawn into a small canvas and its middle
// classified as red or cyan; the remote audio (also played, muted, by an
// <audio> element: Chromium's Web Audio gets a remote track's samples only
// then) goes to an AnalyserNode that is read every few ms for tone on/off.
// It keeps the time of each change it sees or hears.
//
// All times are performance.timeOrigin + performance.now(), in ms: one
// clock for every page of the browser.
'use strict';

const clock = () => performance.timeOrigin + performance.now();
const at = (t) => performance.timeOrigin + t;   // a page's DOMHighResTimeStamp

const bench = {
  role: null, mode: null,
  pc: null,
  changes: [],        // sender: {t, on}
  video: [],          // receiver: {t, on, recv, frame}
  audio: [],          // receiver: {t, on}
  frames: 0, unknown: 0, errors: [],
};
window.bench = bench;

/* ---- sender ------------------------------------------------------------- */

function makeSource (period) {
  const canvas = document.getElementById('source');
  const g = canvas.getContext('2d');
  let on = false;
  const paint = () => {
    g.fillStyle = on ? '#00ffff' : '#ff0000';
    g.fillRect(0, 0, canvas.width, canvas.height);
  };
  paint();
  const stream = canvas.captureStream(30);

  const ctx = new AudioContext({ latencyHint: 'interactive', sampleRate: 48000 });
  const osc = ctx.createOscillator();
  osc.frequency.value = 440;
  const gain = ctx.createGain();
  gain.gain.value = 0;
  const dest = ctx.createMediaStreamDestination();
  osc.connect(gain).connect(dest);
  osc.start();
  ctx.resume();
  stream.addTrack(dest.stream.getAudioTracks()[0]);

  // Repaint at the frame rate (captureStream takes a frame when the canvas
  // changed), and switch every PERIOD ms.
  setInterval(paint, 1000 / 30);
  const start = clock();
  let n = 0;
  const flip = () => {
    on = !on;
    paint();
    gain.gain.setValueAtTime(on ? 0.3 : 0, ctx.currentTime);
    bench.changes.push({ t: clock(), on });
    n++;
    // On a schedule from the start, not from the last (late) timer.
    setTimeout(flip, Math.max(0, start + (n + 1) * period - clock()));
  };
  setTimeout(flip, period);
  bench.audioState = () => ctx.state;
  return stream;
}

/* ---- receiver ----------------------------------------------------------- */

function watchVideo (video) {
  const canvas = document.createElement('canvas');
  canvas.width = 32;
  canvas.height = 18;
  const g = canvas.getContext('2d', { willReadFrequently: true });
  let last = null;
  const onFrame = (now, meta) => {
    bench.frames++;
    g.drawImage(video, 0, 0, 32, 18);
    // The middle half of the picture (the sender's tile fills the
    // composite when it is alone; its name card is at the bottom left).
    const px = g.getImageData(8, 4, 16, 9).data;
    let r = 0, gr = 0, b = 0;
    for (let i = 0; i < px.length; i += 4) {
      r += px[i]; gr += px[i + 1]; b += px[i + 2];
    }
    const k = px.length / 4;
    r /= k; gr /= k; b /= k;
    let on = null;
    if (r > 160 && gr < 96 && b < 96) on = false;
    else if (r < 96 && gr > 160 && b > 160) on = true;
    else bench.unknown++;
    if (on !== null && on !== last) {
      bench.video.push({ t: at(meta.presentationTime || now), on,
                         recv: meta.receiveTime ? at(meta.receiveTime) : null,
                         cb: at(now), rtp: meta.rtpTimestamp ?? null });
      last = on;
    }
    video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
}

function watchAudio (track) {
  const ctx = new AudioContext({ latencyHint: 'interactive', sampleRate: 48000 });
  const src = ctx.createMediaStreamSource(new MediaStream([track]));
  const an = ctx.createAnalyser();
  an.fftSize = 1024;
  src.connect(an);
  ctx.resume();
  const buf = new Float32Array(an.fftSize);
  let last = null;
  // The newest 256 samples (5.3 ms), every 4 ms.
  setInterval(() => {
    an.getFloatTimeDomainData(buf);
    let s = 0;
    for (let i = buf.length - 256; i < buf.length; i++) s += buf[i] * buf[i];
    const rms = Math.sqrt(s / 256);
    let on = last;
    if (rms > 0.05) on = true;
    else if (rms < 0.02) on = false;
    if (on !== null && on !== last) {
      bench.audio.push({ t: clock(), on });
      last = on;
    }
  }, 4);
  bench.audioState = () => ctx.state;
}

function onTrack (e) {
  if (bench.role !== 'recv') return;
  if (e.track.kind === 'video') {
    const v = document.getElementById('remote');
    v.srcObject = new MediaStream([e.track]);
    v.play().catch(() => {});
    watchVideo(v);
  } else {
    const a = document.getElementById('sound');
    a.srcObject = new MediaStream([e.track]);
    a.play().catch(() => {});
    watchAudio(e.track);
  }
}

/* ---- getStats: the receiver's inbound streams --------------------------- */

const FIELDS = ['jitterBufferDelay', 'jitterBufferEmittedCount', 'jitterBufferTargetDelay',
  'jitterBufferMinimumDelay', 'totalProcessingDelay', 'framesDecoded', 'framesReceived',
  'framesDropped', 'totalDecodeTime', 'totalSamplesReceived', 'concealedSamples',
  'insertedSamplesForDeceleration', 'removedSamplesForAcceleration', 'packetsReceived',
  'packetsLost', 'jitter', 'nackCount', 'pliCount', 'freezeCount', 'totalFreezesDuration',
  'frameWidth', 'frameHeight'];

bench.stats = async () => {
  const out = { t: clock() };
  if (!bench.pc) return out;
  const stats = await bench.pc.getStats();
  for (const s of stats.values()) {
    if (s.type !== 'inbound-rtp') continue;
    const o = {};
    for (const f of FIELDS) if (s[f] !== undefined) o[f] = s[f];
    out[s.kind] = o;
  }
  return out;
};

// The sender's side: its video encoder and pacer (totalPacketSendDelay:
// the time packets waited in the pacer), and its bandwidth estimate.
const OUT_FIELDS = ['framesEncoded', 'framesSent', 'packetsSent', 'bytesSent',
  'totalPacketSendDelay', 'totalEncodeTime', 'targetBitrate', 'qualityLimitationReason',
  'hugeFramesSent', 'frameWidth', 'frameHeight', 'framesPerSecond', 'nackCount', 'pliCount',
  'firCount', 'keyFramesEncoded', 'retransmittedPacketsSent'];

bench.sendStats = async () => {
  const out = { t: clock() };
  if (!bench.pc) return out;
  const stats = await bench.pc.getStats();
  for (const s of stats.values()) {
    if (s.type === 'outbound-rtp') {
      const o = {};
      for (const f of OUT_FIELDS) if (s[f] !== undefined) o[f] = s[f];
      out[s.kind] = o;
    } else if (s.type === 'candidate-pair' && s.nominated && s.availableOutgoingBitrate) {
      out.availableOutgoingBitrate = s.availableOutgoingBitrate;
    }
  }
  return out;
};

/* ---- peer to peer: signalling through the bench script ------------------ */

function gathered (pc) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') resolve();
    });
  });
}

function newPc (config) {
  const pc = new RTCPeerConnection(config);
  pc.ontrack = onTrack;
  pc.onconnectionstatechange = () => { bench.connection = pc.connectionState; };
  bench.pc = pc;
  return pc;
}

bench.p2pOffer = async (period) => {
  bench.role = 'send'; bench.mode = 'p2p';
  const stream = makeSource(period);
  const pc = newPc({ bundlePolicy: 'max-bundle' });
  for (const t of stream.getTracks()) pc.addTrack(t, stream);
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc);
  return pc.localDescription.sdp;
};

bench.p2pAnswer = async (sdp) => {
  bench.role = 'recv'; bench.mode = 'p2p';
  const pc = newPc({ bundlePolicy: 'max-bundle' });
  await pc.setRemoteDescription({ type: 'offer', sdp });
  await pc.setLocalDescription(await pc.createAnswer());
  await gathered(pc);
  return pc.localDescription.sdp;
};

bench.p2pFinish = async (sdp) => {
  await bench.pc.setRemoteDescription({ type: 'answer', sdp });
};

/* ---- through a mixmeet room: REST join and long-poll signalling ---------- */

async function api (method, path, secret, body) {
  const headers = { 'Content-Type': 'application/json' };
  if (secret) headers.Authorization = 'Bearer ' + secret;
  const r = await fetch(path, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const text = await r.text();
  if (!r.ok) throw new Error(method + ' ' + path + ': ' + r.status + ' ' + text);
  return text ? JSON.parse(text) : null;
}

// With nosync, the video m-line's a=msid names a stream of its own, so
// that Chromium does not synchronise it with the audio (a diagnosis: what
// lip sync costs).
function splitStreams (sdp) {
  const parts = sdp.split(/(?=\r\nm=)/);
  return parts.map((p) => p.startsWith('\r\nm=video')
    ? p.replace(/(a=(?:ssrc:\d+ )?msid:)(\S+)/g, '$1$2-video') : p).join('');
}

bench.join = async (role, room, name, period, opts = {}) => {
  bench.role = role; bench.mode = 'mixmeet';
  const stream = role === 'send' ? makeSource(period) : null;
  const join = await api('POST', '/api/v1/rooms/' + room + '/join', null, { display_name: name });
  const sig = join.signalling;
  bench.participantId = join.participant.id;
  const pc = newPc({ iceServers: join.media.ice_servers, bundlePolicy: 'max-bundle' });
  if (stream) {
    for (const t of stream.getTracks()) pc.addTrack(t, stream);
  } else {
    pc.addTransceiver('audio', { direction: 'recvonly' });
    pc.addTransceiver('video', { direction: 'recvonly' });
  }
  pc.onicecandidate = (e) => {
    api('POST', sig.messages, join.secret, e.candidate
      ? { type: 'ice', candidate: e.candidate.candidate, sdp_mline_index: e.candidate.sdpMLineIndex }
      : { type: 'ice', candidate: '', sdp_mline_index: 0 }).catch(() => {});
  };
  await pc.setLocalDescription(await pc.createOffer());
  await api('POST', sig.messages, join.secret, { type: 'offer', sdp: pc.localDescription.sdp });
  (async () => {
    let since = 0;
    for (;;) {
      const r = await api('GET', sig.events + '?since=' + since, join.secret);
      for (const ev of r.events) {
        if (ev.type === 'answer') {
          bench.answer = ev.sdp;
          await pc.setRemoteDescription({ type: 'answer',
                                          sdp: opts.nosync ? splitStreams(ev.sdp) : ev.sdp });
        } else if (ev.type === 'ice' && ev.candidate) {
          await pc.addIceCandidate({ candidate: ev.candidate, sdpMLineIndex: ev.sdp_mline_index });
        }
      }
      since = r.last_seq;
    }
  })().catch((e) => bench.errors.push(String(e)));
  bench.leave = () => api('POST', sig.leave || sig.messages.replace(/messages$/, 'leave'),
                          join.secret).catch(() => {});
};
