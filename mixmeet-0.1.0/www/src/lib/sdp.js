// SDP and transceiver helpers (pure, or working on any object shaped like
// RTCPeerConnection so that they can be tested without a browser).

// The m-lines of an SDP text: [{kind, mid, direction, codecs: ['VP8', ...]}].
export function parseMedia (sdp) {
  const out = [];
  let cur = null;
  for (const raw of String(sdp || '').split(/\r?\n/)) {
    const line = raw.trim();
    if (line.startsWith('m=')) {
      const kind = line.slice(2).split(' ')[0];
      cur = { kind, mid: null, direction: 'sendrecv', codecs: [], port: Number(line.split(' ')[1]) };
      out.push(cur);
    } else if (cur) {
      if (line.startsWith('a=mid:')) cur.mid = line.slice(6);
      else if (/^a=(sendrecv|sendonly|recvonly|inactive)$/.test(line)) cur.direction = line.slice(2);
      else if (line.startsWith('a=rtpmap:')) {
        const enc = line.split(' ')[1] || '';
        cur.codecs.push(enc.split('/')[0].toUpperCase());
      }
    }
  }
  return out;
}

// The directions of the first offer: send what we have, receive the
// composite and the mix always; a viewer only receives.
export function initialDirections ({ audio = false, video = false, viewer = false } = {}) {
  return {
    audio: !viewer && audio ? 'sendrecv' : 'recvonly',
    video: !viewer && video ? 'sendrecv' : 'recvonly',
  };
}

// Whether an offer is one the server can use: VP8 video or Opus audio.
export function offerUsable (sdp) {
  return parseMedia(sdp).some((m) => (m.kind === 'video' && m.codecs.includes('VP8')) ||
                                     (m.kind === 'audio' && m.codecs.includes('OPUS')));
}

// Compare two offers of one connection: every m-line of the first keeps its
// direction in the second (the server cannot change an m-line's direction).
export function directionsKept (before, after) {
  const a = parseMedia(before);
  const b = parseMedia(after);
  if (b.length < a.length) return false;
  return a.every((m, i) => b[i].kind === m.kind && b[i].direction === m.direction);
}

// The transceivers of the first offer on a new connection.
//   tracks: {audio, video, screen} (MediaStreamTrack or null)
// Returns {audio, video, screen} transceivers (screen null if none).
export function addInitialTransceivers (pc, { audio = null, video = null, screen = null, stream = null, viewer = false } = {}) {
  const dirs = initialDirections({ audio: !!audio, video: !!video, viewer });
  const opts = (direction) => (stream ? { direction, streams: [stream] } : { direction });
  const tx = {
    audio: dirs.audio === 'sendrecv' ? pc.addTransceiver(audio, opts('sendrecv')) : pc.addTransceiver('audio', { direction: 'recvonly' }),
    video: dirs.video === 'sendrecv' ? pc.addTransceiver(video, opts('sendrecv')) : pc.addTransceiver('video', { direction: 'recvonly' }),
    screen: null,
  };
  if (screen) tx.screen = pc.addTransceiver(screen, { direction: 'sendonly' });
  return tx;
}

// How a remote track is told apart: by its transceiver's mid (never by
// stream id: the server's streams are its own business).
export function trackKey (transceiver) {
  return transceiver && transceiver.mid != null ? 'mid:' + transceiver.mid : null;
}

// An RTCIceCandidate (or its init dict) → the message the server takes.
export function iceMessage (candidate) {
  if (!candidate || !candidate.candidate) return { type: 'ice', candidate: '', sdp_mline_index: 0 };
  return { type: 'ice', candidate: candidate.candidate, sdp_mline_index: candidate.sdpMLineIndex ?? 0 };
}
