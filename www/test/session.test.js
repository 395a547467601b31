// MeetingSession against a fake server (the REST/long-poll API) and a fake
// RTCPeerConnection: what it sends, when, and how it recovers.
import { describe, expect, it } from 'vitest';
import { MeetingSession, iceServersExpiring, storedIceTransportPolicy } from '../src/lib/session.js';
import { parseMedia } from '../src/lib/sdp.js';

const track = (kind, height = 360) => ({
  kind, enabled: true, readyState: 'live', listeners: {},
  getSettings () { return kind === 'video' ? { width: height * 16 / 9, height } : {}; },
  addEventListener (n, fn) { this.listeners[n] = fn; },
  stop () { this.readyState = 'ended'; },
});

let pcs = [];
class FakePC {
  constructor (config) {
    this.config = config;
    this.transceivers = [];
    this.signalingState = 'stable';
    this.connectionState = 'new';
    this.remoteCandidates = [];
    this.closed = false;
    pcs.push(this);
  }
  addTransceiver (what, init) {
    const kind = typeof what === 'string' ? what : what.kind;
    const t = {
      kind, direction: init.direction, mid: null,
      sender: {
        track: typeof what === 'string' ? null : what,
        async replaceTrack (tr) { this.track = tr; },
        // As the browser: one encoding; setParameters takes what getParameters gave.
        params: { transactionId: 'x', encodings: [{ active: true }] },
        setCalls: [],
        getParameters () { return JSON.parse(JSON.stringify(this.params)); },
        async setParameters (p) { this.setCalls.push(p); this.params = p; },
      },
    };
    this.transceivers.push(t);
    return t;
  }
  getTransceivers () { return this.transceivers; }
  async createOffer () {
    const sdp = ['v=0', ...this.transceivers.flatMap((t, i) => [`m=${t.kind} 9 UDP/TLS/RTP/SAVPF 96`, `a=mid:${i}`, `a=${t.direction}`,
      `a=rtpmap:96 ${t.kind === 'video' ? 'VP8/90000' : 'opus/48000/2'}`])].join('\r\n');
    return { type: 'offer', sdp };
  }
  async setLocalDescription (d) {
    this.localDescription = d;
    this.signalingState = 'have-local-offer';
    this.transceivers.forEach((t, i) => { t.mid = String(i); });
    // Gather one candidate at once.
    queueMicrotask(() => this.onicecandidate && this.onicecandidate({ candidate: { candidate: `candidate:${pcs.indexOf(this)} 1 udp 1 127.0.0.1 9 typ host`, sdpMLineIndex: 0 } }));
  }
  async setRemoteDescription (d) { this.remoteDescription = d; this.signalingState = 'stable'; }
  async addIceCandidate (c) { this.remoteCandidates.push(c.candidate); }
  close () { this.closed = true; this.connectionState = 'closed'; }
  setConnection (st) { this.connectionState = st; this.onconnectionstatechange(); }
}

// The server: a queue of events per participant, answers to offers.
function fakeServer ({ admitted = true, iceServers = [{ urls: ['stun:x:1'] }] } = {}) {
  const s = {
    joins: 0, sent: [], polls: [], queue: [], seq: 0, waiter: null, failNext: [], joinOpts: [], refuse: null,
    push (ev) { s.queue.push({ seq: ++s.seq, at: 0, ...ev }); if (s.waiter) { s.waiter(); s.waiter = null; } },
    api: {
      async joinRoom (code, name, opts) {
        s.joins++;
        s.joinOpts.push(opts);
        const me = { id: 'p' + s.joins, display_name: name || 'Me', role: 'guest', audio_muted: false, hand_raised: false };
        s.seq = 0; s.queue = [];
        return {
          participant: me, secret: 's' + s.joins, admitted, room: { code }, participants: [me], chat: [], last_seq: 0,
          signalling: { events: '/ev/' + s.joins, messages: '/msg/' + s.joins, leave: '/leave/' + s.joins, ice_servers: '/ice/' + s.joins },
          media: { ice_servers: iceServers },
        };
      },
      async pollEvents (url, secret, since) {
        s.polls.push({ url, since });
        if (s.failNext.length) throw s.failNext.shift();
        for (;;) {
          const evs = s.queue.filter((e) => e.seq > since);
          if (evs.length) return { events: evs, last_seq: s.seq };
          await new Promise((res) => { s.waiter = res; setTimeout(res, 50); });
        }
      },
      async sendMessage (url, secret, body) {
        if (s.refuse === body.type) throw Object.assign(new Error('refused'), { response: { status: 400 } });
        s.sent.push({ url, ...body });
        if (body.type === 'quality') return { participant: { id: 'p' + s.joins, quality: body.quality } };
        if (body.type === 'offer') {
          setTimeout(() => {
            s.push({ type: 'answer', sdp: 'answer-sdp' });
            s.push({ type: 'ice', candidate: 'candidate:server', sdp_mline_index: 0 });
          }, 5);
          return { status: 'accepted' };
        }
        return {};
      },
      async leaveRoom () { s.left = true; },
      async getIceServers (url, secret) {
        s.iceFetches = (s.iceFetches || 0) + 1;
        const exp = Math.floor(Date.now() / 1000) + 3600;
        return { ice_servers: [{ urls: ['turn:t:3478'], username: exp + ':' + secret, credential: 'fresh' }] };
      },
      errorCode: () => null,
      errorText: (e) => String(e),
    },
  };
  return s;
}

const until = async (cond, ms = 2000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting for ' + cond);
    await new Promise((r) => setTimeout(r, 5));
  }
};
const offers = (srv) => srv.sent.filter((m) => m.type === 'offer');

function start (srv, opts = {}) {
  pcs = [];
  const audio = 'audio' in opts ? opts.audio : track('audio');
  const video = 'video' in opts ? opts.video : track('video');
  const stream = { getAudioTracks: () => (audio ? [audio] : []), getVideoTracks: () => (video ? [video] : []), getTracks: () => [audio, video].filter(Boolean), addTrack () {} };
  const session = new MeetingSession({
    code: 'abc-defg-hij', displayName: 'Me', stream: opts.viewer ? null : stream, viewer: !!opts.viewer,
    api: srv.api, RTCPeerConnection: FakePC, sleep: () => new Promise((r) => setTimeout(r, 1)),
    disconnectedGraceMs: opts.grace || 5000,
    ...(opts.quality ? { quality: opts.quality } : {}),
  });
  return { session, audio, video };
}

describe('MeetingSession', () => {
  it('offers sendrecv, trickles ICE after the offer, applies the answer and the server candidates', async () => {
    const srv = fakeServer();
    const { session } = start(srv);
    await session.start();
    await until(() => pcs[0] && pcs[0].remoteDescription);
    const m = parseMedia(offers(srv)[0].sdp);
    expect(m.map((x) => [x.kind, x.direction])).toEqual([['audio', 'sendrecv'], ['video', 'sendrecv']]);
    expect(pcs[0].config).toMatchObject({ bundlePolicy: 'max-bundle', iceTransportPolicy: 'all', iceServers: [{ urls: ['stun:x:1'] }] });
    await until(() => srv.sent.some((x) => x.type === 'ice'));
    const iOffer = srv.sent.findIndex((x) => x.type === 'offer');
    const iIce = srv.sent.findIndex((x) => x.type === 'ice');
    expect(iIce).toBeGreaterThan(iOffer);
    expect(srv.sent[iIce]).toMatchObject({ candidate: 'candidate:0 1 udp 1 127.0.0.1 9 typ host', sdp_mline_index: 0 });
    await until(() => pcs[0].remoteCandidates.length === 1);
    expect(pcs[0].remoteCandidates).toEqual(['candidate:server']);
    session.end('left');
  });

  it('offers recvonly for what it lacks, and for a viewer', async () => {
    let srv = fakeServer();
    let { session } = start(srv, { video: null });
    await session.start();
    await until(() => offers(srv).length === 1);
    expect(parseMedia(offers(srv)[0].sdp).map((x) => x.direction)).toEqual(['sendrecv', 'recvonly']);
    session.end('left');
    srv = fakeServer();
    ({ session } = start(srv, { viewer: true }));
    await session.start();
    await until(() => offers(srv).length === 1);
    expect(parseMedia(offers(srv)[0].sdp).map((x) => x.direction)).toEqual(['recvonly', 'recvonly']);
    session.end('left');
  });

  it('shares the screen on a new send-only transceiver, then only replaces its track', async () => {
    const srv = fakeServer();
    const { session } = start(srv);
    await session.start();
    await until(() => pcs[0].remoteDescription);
    const screen = track('video');
    await session.startPresenting(screen);
    expect(offers(srv)).toHaveLength(2);
    const m = parseMedia(offers(srv)[1].sdp);
    expect(m.map((x) => [x.kind, x.direction])).toEqual([['audio', 'sendrecv'], ['video', 'sendrecv'], ['video', 'sendonly']]);
    expect(srv.sent.at(-1)).toMatchObject({ type: 'state', presenting: true });
    await session.stopPresenting();
    expect(pcs[0].transceivers[2].sender.track).toBeNull();
    expect(screen.readyState).toBe('ended');
    expect(srv.sent.at(-1)).toMatchObject({ type: 'state', presenting: false });
    const again = track('video');
    await session.startPresenting(again);
    expect(pcs[0].transceivers[2].sender.track).toBe(again);
    expect(pcs[0].transceivers).toHaveLength(3);
    expect(offers(srv)).toHaveLength(2);
    // The browser's own "stop sharing" ends the track.
    again.listeners.ended();
    await until(() => srv.sent.at(-1).presenting === false);
    expect(pcs).toHaveLength(1);
    session.end('left');
  });

  it('mutes by disabling the track, and adds a send-only transceiver for a camera it did not have', async () => {
    const srv = fakeServer();
    const cam = track('video');
    const { session, audio } = start(srv, { video: null });
    session.getUserMedia = async () => ({ getVideoTracks: () => [cam], getAudioTracks: () => [] });
    await session.start();
    await until(() => pcs[0].remoteDescription);
    await session.setMuted('audio', true);
    expect(audio.enabled).toBe(false);
    expect(srv.sent.at(-1)).toMatchObject({ type: 'state', audio_muted: true });
    expect(offers(srv)).toHaveLength(1);
    await session.setMuted('video', false);
    await until(() => offers(srv).length === 2);
    const dirs = parseMedia(offers(srv)[1].sdp).map((x) => [x.kind, x.direction]);
    expect(dirs).toEqual([['audio', 'sendrecv'], ['video', 'recvonly'], ['video', 'sendonly']]);
    session.end('left');
  });

  it('follows a host mute of its own audio', async () => {
    const srv = fakeServer();
    const { session, audio } = start(srv);
    await session.start();
    srv.push({ type: 'participant-state', participant: { id: 'p1', audio_muted: true, muted_by_host: true } });
    await until(() => audio.enabled === false);
    session.end('left');
  });

  it('keeps its microphone on when the echo of its own earlier mute comes late', async () => {
    const srv = fakeServer();
    const { session, audio } = start(srv);
    await session.start();
    await session.setMuted('audio', true);
    await session.setMuted('audio', false);
    expect(audio.enabled).toBe(true);
    // The server's answer to the first change arrives after the second.
    srv.push({ type: 'participant-state', participant: { id: 'p1', audio_muted: true, muted_by_host: false } });
    srv.push({ type: 'participant-state', participant: { id: 'p1', audio_muted: false, muted_by_host: false } });
    await until(() => session.self && session.self.audio_muted === false);
    expect(audio.enabled).toBe(true);
    session.end('left');
  });

  it('retries a failing long poll with the same cursor, and says so meanwhile', async () => {
    const srv = fakeServer();
    const { session } = start(srv);
    const problems = [];
    session.on('problem', (p) => problems.push(p && p.kind));
    await session.start();
    await until(() => pcs[0] && pcs[0].remoteDescription);
    srv.failNext.push(new Error('Network Error'), new Error('Network Error'));
    srv.push({ type: 'chat', message: { id: 1 } });      // the waiting poll gets this
    await until(() => srv.failNext.length === 0);
    const since = session.since;
    srv.push({ type: 'chat', message: { id: 2 } });
    await until(() => session.since > since);
    // Two failed polls and the one that worked, all from the same cursor.
    expect(srv.polls.filter((p) => p.since === since).length).toBe(3);
    expect(problems).toContain('network');
    expect(problems.at(-1)).toBeNull();
    expect(srv.joins).toBe(1);
    session.end('left');
  });

  it('joins again when its participant is gone (404), on a new connection', async () => {
    const srv = fakeServer();
    const { session } = start(srv);
    await session.start();
    await until(() => pcs[0] && pcs[0].remoteDescription);
    srv.failNext.push({ response: { status: 404 } });
    srv.push({ type: 'chat', message: { id: 1 } });
    await until(() => srv.joins === 2 && pcs.length === 2 && pcs[1].remoteDescription);
    expect(pcs[0].closed).toBe(true);
    expect(offers(srv).at(-1).url).toBe('/msg/2');
    session.end('left');
  });

  it('offers on a new connection when the media fails', async () => {
    const srv = fakeServer();
    const { session } = start(srv);
    await session.start();
    await until(() => pcs[0] && pcs[0].remoteDescription);
    pcs[0].setConnection('connected');
    expect(session.status).toBe('connected');
    srv.push({ type: 'media-failed', reason: 'ice' });
    await until(() => pcs.length === 2 && pcs[1].remoteDescription);
    expect(pcs[0].closed).toBe(true);
    expect(offers(srv)).toHaveLength(2);
    pcs[1].setConnection('failed');
    await until(() => pcs.length === 3 && pcs[2].remoteDescription);
    session.end('left');
  });

  it('takes fresh TURN credentials for a new connection once the old ones expired', async () => {
    const past = Math.floor(Date.now() / 1000) - 10;
    const srv = fakeServer({ iceServers: [{ urls: ['turn:t:3478'], username: past + ':p1', credential: 'old' }] });
    const { session } = start(srv);
    await session.start();
    await until(() => pcs[0] && pcs[0].remoteDescription);
    // The first connection uses what the join answer gave.
    expect(pcs[0].config.iceServers[0].credential).toBe('old');
    expect(srv.iceFetches || 0).toBe(0);
    srv.push({ type: 'media-failed', reason: 'ice' });
    await until(() => pcs.length === 2 && pcs[1].remoteDescription);
    expect(srv.iceFetches).toBe(1);
    expect(pcs[1].config.iceServers[0].credential).toBe('fresh');
    session.end('left');
  });

  it('keeps credentials that are still valid when it reconnects', async () => {
    const later = Math.floor(Date.now() / 1000) + 3600;
    const srv = fakeServer({ iceServers: [{ urls: ['turn:t:3478'], username: later + ':p1', credential: 'good' }] });
    const { session } = start(srv);
    await session.start();
    await until(() => pcs[0] && pcs[0].remoteDescription);
    srv.push({ type: 'media-failed', reason: 'ice' });
    await until(() => pcs.length === 2 && pcs[1].remoteDescription);
    expect(srv.iceFetches || 0).toBe(0);
    expect(pcs[1].config.iceServers[0].credential).toBe('good');
    session.end('left');
  });

  it('waits in the lobby without media until admitted', async () => {
    const srv = fakeServer({ admitted: false });
    const { session } = start(srv);
    await session.start();
    expect(session.status).toBe('lobby');
    await new Promise((r) => setTimeout(r, 30));
    expect(pcs).toHaveLength(0);
    expect(await session.sendState({ hand_raised: true })).toBeNull();
    expect(srv.sent).toHaveLength(0);
    srv.push({ type: 'admitted', participants: [], chat: [] });
    await until(() => pcs.length === 1 && pcs[0].remoteDescription);
    session.end('left');
  });

  it('ends when removed, and stops polling', async () => {
    const srv = fakeServer();
    const { session } = start(srv);
    const ended = [];
    session.on('ended', (e) => ended.push(e));
    await session.start();
    srv.push({ type: 'removed', by: 'Ada' });
    await until(() => ended.length === 1);
    expect(ended[0]).toEqual({ reason: 'removed', by: 'Ada' });
    const n = srv.polls.length;
    await new Promise((r) => setTimeout(r, 80));
    expect(srv.polls.length).toBe(n);
    expect(pcs[0].closed).toBe(true);
  });

  it('leaves through the leave URL', async () => {
    const srv = fakeServer();
    const { session } = start(srv);
    await session.start();
    await session.leave();
    expect(srv.left).toBe(true);
    expect(session.ended).toEqual({ reason: 'left', by: undefined });
  });
});

describe('MeetingSession in a lecture', () => {
  it('receives only until the host makes it a presenter, then sends on new send-only transceivers', async () => {
    const srv = fakeServer();
    const join = srv.api.joinRoom;
    srv.api.joinRoom = async (...a) => { const j = await join(...a); j.participant.can_publish = false; return j; };
    const { session, audio, video } = start(srv);
    await session.start();
    await until(() => pcs[0] && pcs[0].remoteDescription);
    expect(parseMedia(offers(srv)[0].sdp).map((x) => x.direction)).toEqual(['recvonly', 'recvonly']);
    await session.setMuted('audio', false);
    expect(offers(srv)).toHaveLength(1);
    srv.push({ type: 'participant-state', participant: { id: 'p1', presenter: true, can_publish: true, audio_muted: false } });
    await until(() => offers(srv).length === 3 && pcs[0].signalingState === 'stable');
    const dirs = parseMedia(offers(srv)[2].sdp).map((x) => [x.kind, x.direction]);
    expect(dirs).toEqual([['audio', 'recvonly'], ['video', 'recvonly'], ['audio', 'sendonly'], ['video', 'sendonly']]);
    expect(pcs[0].transceivers[2].sender.track).toBe(audio);
    expect(pcs[0].transceivers[3].sender.track).toBe(video);
    srv.push({ type: 'participant-state', participant: { id: 'p1', presenter: false, can_publish: false, audio_muted: false } });
    await until(() => pcs[0].transceivers[2].sender.track === null && pcs[0].transceivers[3].sender.track === null);
    expect(offers(srv)).toHaveLength(3);
    session.end('left');
  });
});

describe('MeetingSession and resync', () => {
  it('keeps its connection on a resync while connected, offers anew when it has none working', async () => {
    const srv = fakeServer();
    const { session } = start(srv);
    const seen = [];
    session.on('event', (ev) => seen.push(ev.type));
    await session.start();
    await until(() => pcs[0] && pcs[0].remoteDescription);
    pcs[0].setConnection('connected');
    srv.push({ type: 'resync', reason: 'backlog_exceeded', participants: [] });
    await until(() => seen.includes('resync'));
    expect(pcs).toHaveLength(1);
    expect(srv.joins).toBe(1);
    pcs[0].connectionState = 'new';
    srv.push({ type: 'resync', reason: 'cursor_ahead', participants: [] });
    await until(() => pcs.length === 2 && pcs[1].remoteDescription);
    expect(srv.joins).toBe(1);
    session.end('left');
  });
});

describe('MeetingSession and a disconnected connection', () => {
  it('waits out a short disconnection, offers anew after the grace period', async () => {
    const srv = fakeServer();
    const { session } = start(srv, { grace: 60 });
    await session.start();
    await until(() => pcs[0] && pcs[0].remoteDescription);
    pcs[0].setConnection('connected');
    pcs[0].setConnection('disconnected');
    await new Promise((r) => setTimeout(r, 20));
    pcs[0].setConnection('connected');
    await new Promise((r) => setTimeout(r, 100));
    expect(pcs).toHaveLength(1);
    pcs[0].setConnection('disconnected');
    await until(() => pcs.length === 2 && pcs[1].remoteDescription);
    expect(session.problem).toMatchObject({ kind: 'media' });
    pcs[1].setConnection('connected');
    expect(session.problem).toBeNull();
    session.end('left');
  });
});

describe('MeetingSession switching devices', () => {
  it('replaces the track on its sender, keeps its mute, never renegotiates', async () => {
    const srv = fakeServer();
    const { session, audio } = start(srv);
    const mic2 = track('audio');
    session.localStream = { removeTrack () {}, addTrack () {}, getTracks: () => [] };
    session.getUserMedia = async (c) => {
      expect(c.audio.deviceId).toEqual({ exact: 'mic-2' });
      return { getAudioTracks: () => [mic2], getVideoTracks: () => [] };
    };
    await session.start();
    await until(() => pcs[0] && pcs[0].remoteDescription);
    audio.enabled = false;
    await session.switchDevice('audio', 'mic-2');
    expect(pcs[0].transceivers[0].sender.track).toBe(mic2);
    expect(mic2.enabled).toBe(false);
    expect(audio.readyState).toBe('ended');
    expect(session.audioTrack).toBe(mic2);
    expect(offers(srv)).toHaveLength(1);
    session.end('left');
  });
});

describe('storedIceTransportPolicy', () => {
  const storage = (v) => ({ getItem: (k) => (k === 'mixmeet.iceTransportPolicy' ? v : null) });
  it('is relay only when asked for, all otherwise', () => {
    expect(storedIceTransportPolicy(storage('relay'))).toBe('relay');
    expect(storedIceTransportPolicy(storage('all'))).toBe('all');
    expect(storedIceTransportPolicy(storage('nonsense'))).toBe('all');
    expect(storedIceTransportPolicy(storage(null))).toBe('all');
    expect(storedIceTransportPolicy(undefined)).toBe('all');
    expect(storedIceTransportPolicy({ getItem () { throw new Error('denied'); } })).toBe('all');
  });
});

describe('iceServersExpiring', () => {
  const now = 1_800_000_000_000;
  it('looks at the expiry in TURN usernames only', () => {
    expect(iceServersExpiring([{ urls: ['stun:x:1'] }], now)).toBe(false);
    expect(iceServersExpiring([{ urls: ['turn:x'], username: '1800003600:p', credential: 'c' }], now)).toBe(false);
    expect(iceServersExpiring([{ urls: ['turn:x'], username: '1800000030:p', credential: 'c' }], now)).toBe(true);
    expect(iceServersExpiring([{ urls: ['turn:x'], username: '1799999000:p', credential: 'c' }], now)).toBe(true);
    expect(iceServersExpiring([{ urls: ['turn:x'], username: 'static-user', credential: 'c' }], now)).toBe(false);
    expect(iceServersExpiring(undefined, now)).toBe(false);
  });
});

describe('MeetingSession and the receive quality', () => {
  const qualityMessages = (srv) => srv.sent.filter((m) => m.type === 'quality').map((m) => m.quality);

  it('joins with auto unless told otherwise', async () => {
    const srv = fakeServer();
    const { session } = start(srv);
    await session.start();
    expect(srv.joinOpts[0]).toEqual({ quality: 'auto' });
    session.end('left');
  });

  it('sends its choice in the join body, a quality message when it changes, and the latest in a new join', async () => {
    const srv = fakeServer();
    const { session } = start(srv, { quality: 'data-saver' });
    await session.start();
    expect(srv.joinOpts[0]).toEqual({ quality: 'data-saver' });
    expect(qualityMessages(srv)).toEqual([]);
    const p = await session.setQuality('audio-only');
    expect(p).toMatchObject({ quality: 'audio-only' });
    expect(qualityMessages(srv)).toEqual(['audio-only']);
    expect(session.quality).toBe('audio-only');
    // Forgotten by the server: the new join carries the choice.
    srv.failNext.push({ response: { status: 404 } });
    srv.push({ type: 'chat', message: { id: 1 } });
    await until(() => srv.joins === 2);
    expect(srv.joinOpts[1]).toEqual({ quality: 'audio-only' });
    session.end('left');
  });

  it('undoes a change the server refuses', async () => {
    const srv = fakeServer();
    const { session } = start(srv, { quality: 'high' });
    await session.start();
    srv.refuse = 'quality';
    await expect(session.setQuality('data-saver')).rejects.toThrow('refused');
    expect(session.quality).toBe('high');
    session.end('left');
  });

  it('takes nonsense as auto', async () => {
    const srv = fakeServer();
    const { session } = start(srv, { quality: 'ultra-hd' });
    await session.start();
    expect(srv.joinOpts[0]).toEqual({ quality: 'auto' });
    await session.setQuality('8k');
    expect(qualityMessages(srv)).toEqual(['auto']);
    session.end('left');
  });

  it('keeps a change made in the lobby for the admission', async () => {
    const srv = fakeServer({ admitted: false });
    const { session } = start(srv);
    await session.start();
    expect(await session.setQuality('data-saver')).toBeNull();
    expect(qualityMessages(srv)).toEqual([]);
    srv.push({ type: 'admitted', participants: [], chat: [] });
    await until(() => qualityMessages(srv).length === 1);
    expect(qualityMessages(srv)).toEqual(['data-saver']);
    session.end('left');
  });

  it('sends nothing on admission when the join body had it right', async () => {
    const srv = fakeServer({ admitted: false });
    const { session } = start(srv, { quality: 'data-saver' });
    await session.start();
    srv.push({ type: 'admitted', participants: [], chat: [] });
    await until(() => pcs.length === 1 && pcs[0].remoteDescription);
    expect(qualityMessages(srv)).toEqual([]);
    session.end('left');
  });
});

describe('MeetingSession and a poor uplink', () => {
  const calls = (t) => t.sender.setCalls.map((p) => p.encodings[0]);

  it('limits its camera sender on uplink, and lifts the limit when told', async () => {
    const srv = fakeServer();
    const { session } = start(srv);
    const seen = [];
    session.on('uplink', (u) => seen.push(u));
    await session.start();
    await until(() => pcs[0] && pcs[0].remoteDescription);
    srv.push({ type: 'uplink', max_bitrate: 300000, max_height: 180 });
    await until(() => pcs[0].transceivers[1].sender.setCalls.length === 1);
    expect(calls(pcs[0].transceivers[1])).toEqual([{ active: true, maxBitrate: 300000, scaleResolutionDownBy: 2 }]);
    expect(pcs[0].transceivers[1].sender.setCalls[0].transactionId).toBe('x');
    // Not the microphone.
    expect(pcs[0].transceivers[0].sender.setCalls).toEqual([]);
    expect(seen).toEqual([{ max_bitrate: 300000, max_height: 180 }]);
    srv.push({ type: 'uplink', max_bitrate: null });
    await until(() => pcs[0].transceivers[1].sender.setCalls.length === 2);
    expect(calls(pcs[0].transceivers[1])[1]).toEqual({ active: true, scaleResolutionDownBy: 1 });
    expect(seen.at(-1)).toBeNull();
    expect(session.uplink).toBeNull();
    // No renegotiation for any of it.
    expect(offers(srv)).toHaveLength(1);
    session.end('left');
  });

  it('scales after the camera\'s own height, again for another camera', async () => {
    const srv = fakeServer();
    const { session } = start(srv, { video: track('video', 720) });
    const cam2 = track('video', 360);
    session.localStream = { removeTrack () {}, addTrack () {}, getTracks: () => [] };
    session.getUserMedia = async () => ({ getAudioTracks: () => [], getVideoTracks: () => [cam2] });
    await session.start();
    await until(() => pcs[0] && pcs[0].remoteDescription);
    srv.push({ type: 'uplink', max_bitrate: 500000, max_height: 360 });
    await until(() => pcs[0].transceivers[1].sender.setCalls.length === 1);
    expect(calls(pcs[0].transceivers[1])[0].scaleResolutionDownBy).toBe(2);
    await session.switchDevice('video', 'cam-2');
    expect(pcs[0].transceivers[1].sender.setCalls).toHaveLength(2);
    expect(calls(pcs[0].transceivers[1])[1]).toMatchObject({ maxBitrate: 500000, scaleResolutionDownBy: 1 });
    session.end('left');
  });

  it('has nothing to limit without a camera, and limits a camera turned on later', async () => {
    const srv = fakeServer();
    const cam = track('video', 360);
    const { session } = start(srv, { video: null });
    session.getUserMedia = async () => ({ getVideoTracks: () => [cam], getAudioTracks: () => [] });
    await session.start();
    await until(() => pcs[0] && pcs[0].remoteDescription);
    srv.push({ type: 'uplink', max_bitrate: 200000, max_height: 90 });
    await until(() => session.uplink !== null);
    await session.uplinkChain;
    expect(pcs[0].transceivers.flatMap((t) => t.sender.setCalls)).toEqual([]);
    await session.setMuted('video', false);
    await until(() => offers(srv).length === 2 && pcs[0].transceivers[2].sender.setCalls.length === 1);
    expect(calls(pcs[0].transceivers[2])[0]).toEqual({ active: true, maxBitrate: 200000, scaleResolutionDownBy: 4 });
    expect(pcs[0].transceivers[1].sender.setCalls).toEqual([]);
    session.end('left');
  });

  it('starts a new connection without the old limit', async () => {
    const srv = fakeServer();
    const { session } = start(srv);
    const seen = [];
    session.on('uplink', (u) => seen.push(u));
    await session.start();
    await until(() => pcs[0] && pcs[0].remoteDescription);
    srv.push({ type: 'uplink', max_bitrate: 300000, max_height: 180 });
    await until(() => pcs[0].transceivers[1].sender.setCalls.length === 1);
    srv.push({ type: 'media-failed', reason: 'ice' });
    await until(() => pcs.length === 2 && pcs[1].remoteDescription);
    expect(session.uplink).toBeNull();
    expect(seen.at(-1)).toBeNull();
    expect(pcs[1].transceivers[1].sender.setCalls).toEqual([]);
    session.end('left');
  });
});
