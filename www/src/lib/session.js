// One participant's time in a room: join, the long-poll loop, the WebRTC
// connection with the server (offer/answer, trickle ICE, renegotiation for
// screen sharing and late cameras), and reconnection. No React in here:
// the UI listens with on(...).
import * as defaultApi from '../api.js';
import { backoffDelay, classifyPollError } from './backoff.js';
import { addInitialTransceivers, iceMessage, trackKey } from './sdp.js';
import { normalizeQuality, storedQuality, uplinkLimit, videoSizeLimit, cameraParameters } from './quality.js';

const POLL_RETRY_MAX_MS = 4000;   // between tries of a failed long poll

const DISCONNECTED_GRACE_MS = 5000;
const ANSWER_TIMEOUT_MS = 10000;
const CONNECT_TIMEOUT_MS = 10000;   // from the answer to "connected"

// 'relay' when localStorage 'mixmeet.iceTransportPolicy' is 'relay': all
// media through the TURN servers of the join answer (for tests and for
// troubleshooting a network; nothing in the UI sets it). 'all' otherwise.
export function storedIceTransportPolicy (storage = globalThis.localStorage) {
  try {
    return storage && storage.getItem('mixmeet.iceTransportPolicy') === 'relay' ? 'relay' : 'all';
  } catch {
    return 'all';
  }
}

// TURN credentials expire: their username is "EXPIRY:…" (seconds since
// the epoch). True when one of @servers has expired or will within
// @marginS seconds of @nowMs.
export function iceServersExpiring (servers, nowMs, marginS = 60) {
  return (servers || []).some((s) => {
    const m = typeof s.username === 'string' ? /^(\d+):/.exec(s.username) : null;
    return m !== null && Number(m[1]) - marginS < nowMs / 1000;
  });
}

export class MeetingSession {
  constructor ({
    code, displayName = null, viewer = false, stream = null,
    api = defaultApi, RTCPeerConnection = globalThis.RTCPeerConnection,
    getUserMedia = (c) => navigator.mediaDevices.getUserMedia(c),
    sleep = (ms) => new Promise((res) => setTimeout(res, ms)),
    disconnectedGraceMs = DISCONNECTED_GRACE_MS,
    iceTransportPolicy = storedIceTransportPolicy(),
    quality = storedQuality(),
  }) {
    // What we want to receive ('auto', 'high', 'data-saver', 'audio-only'):
    // in the join body, and a `quality` message when it changes.
    this.quality = normalizeQuality(quality);
    this.joinedQuality = null;   // the choice the server has (join body or message)
    // The limit the server asked our camera to keep ({max_bitrate,
    // max_height}) on this connection, or null.
    this.uplink = null;
    this.videoSize = null;   // our camera's tile: send no more than that
    this.uplinkChain = Promise.resolve();
    this.iceTransportPolicy = iceTransportPolicy;
    this.disconnectedGraceMs = disconnectedGraceMs;
    this.code = code;
    this.displayName = displayName;
    this.viewer = viewer;
    this.api = api;
    this.PC = RTCPeerConnection;
    this.getUserMedia = getUserMedia;
    this.sleep = sleep;
    this.localStream = stream || (typeof MediaStream !== 'undefined' ? new MediaStream() : null);
    this.audioTrack = stream ? stream.getAudioTracks()[0] || null : null;
    this.videoTrack = stream ? stream.getVideoTracks()[0] || null : null;
    this.screenTrack = null;
    this.listeners = {};
    this.join = null;
    this.since = 0;
    this.stopped = false;
    this.pc = null;
    this.pcGen = 0;
    this.tx = { audio: null, video: null, screen: null };
    this.extraSenders = { audio: null, video: null };
    this.pendingRemoteIce = [];
    this.pendingLocalIce = [];
    this.offerPosted = false;
    this.remoteApplied = false;
    this.negotiation = Promise.resolve();
    this.answerWaiter = null;
    this.mediaAttempts = 0;
    this.pollFailures = 0;
    this.reconnectingMedia = false;
    this.disconnectTimer = null;
    this.status = 'idle';
    this.problem = null;     // {kind: 'network'|'media', text} while something is wrong
    this.ended = null;
    this.self = null;
    this.remoteTracks = new Map();   // trackKey → MediaStreamTrack
  }

  on (name, fn) {
    (this.listeners[name] ||= new Set()).add(fn);
    return () => this.listeners[name].delete(fn);
  }

  emit (name, ...args) {
    for (const fn of this.listeners[name] || []) {
      try { fn(...args); } catch (e) { console.error(e); }
    }
  }

  setStatus (status) {
    if (this.status !== status) { this.status = status; this.emit('status', status); }
  }

  setProblem (problem) {
    this.problem = problem;
    this.emit('problem', problem);
  }

  get participantId () { return this.join ? this.join.participant.id : null; }

  // ---- joining -----------------------------------------------------------

  async start () {
    this.setStatus('joining');
    await this.doJoin();
    this.pollLoop();
  }

  async doJoin () {
    const quality = this.quality;
    const join = await this.api.joinRoom(this.code, this.displayName, { quality });
    this.join = join;
    this.joinedQuality = quality;
    this.since = join.last_seq || 0;
    this.self = join.participant;
    // In a lecture only the host and presenters send (the server refuses other offers).
    this.canPublish = join.participant.can_publish !== false;
    this.emit('join', join);
    if (join.admitted === false) {
      this.setStatus('lobby');
    } else {
      this.startMedia();
    }
  }

  async rejoin () {
    this.setProblem({ kind: 'network', text: 'Reconnecting to the meeting…' });
    this.closePeer();
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        await this.doJoin();   // the view carries our mute state over ('join')
        this.setProblem(null);
        return;
      } catch (err) {
        const code = this.api.errorCode ? this.api.errorCode(err) : null;
        const status = err && err.response ? err.response.status : 0;
        if (status === 403 || status === 404) {
          this.end(code === 'room_locked' ? 'locked' : 'gone');
          return;
        }
        await this.sleep(backoffDelay(attempt));
      }
    }
  }

  // ---- the long poll -----------------------------------------------------

  async pollLoop () {
    while (!this.stopped) {
      const join = this.join;
      this.pollAbort = typeof AbortController !== 'undefined' ? new AbortController() : null;
      try {
        // After a failure, ask for an answer at once (timeout=0) to know the way is clear.
        const r = await this.api.pollEvents(join.signalling.events, join.secret, this.since,
          { signal: this.pollAbort && this.pollAbort.signal, timeout: this.pollFailures > 0 ? 0 : undefined });
        if (this.stopped || join !== this.join) continue;
        if (this.pollFailures > 0) {
          this.pollFailures = 0;
          if (this.problem && this.problem.kind === 'network') this.setProblem(null);
        }
        for (const ev of r.events || []) {
          await this.handleEvent(ev);
          if (this.stopped) return;
        }
        this.since = r.last_seq;
      } catch (err) {
        if (this.stopped) return;
        if (join !== this.join) continue;
        const what = classifyPollError(err);
        if (what === 'rejoin') {
          await this.rejoin();
        } else if (what === 'fatal') {
          this.end('gone');
        } else {
          this.pollFailures++;
          this.setProblem({ kind: 'network', text: 'You lost your network connection. Trying to reconnect…' });
          // At most 4 s between tries: the banner goes soon after the
          // network is back, and well inside the server's presence timeout.
          await this.sleep(backoffDelay(this.pollFailures - 1, { max: POLL_RETRY_MAX_MS }));
        }
      }
    }
  }

  async handleEvent (ev) {
    switch (ev.type) {
      case 'answer':
        await this.applyAnswer(ev.sdp);
        break;
      case 'ice':
        if (!ev.candidate) break;
        if (this.pc && this.remoteApplied) this.addRemoteIce(ev);
        else if (this.pc && this.offerPosted) this.pendingRemoteIce.push(ev);
        break;
      case 'media-failed':
        this.reconnectMedia('The server closed the media connection');
        break;
      case 'admitted':
        this.join = { ...this.join, admitted: true, participants: ev.participants, chat: ev.chat,
          media: ev.media || this.join.media };
        this.startMedia();
        // Changed while waiting in the lobby: the server has the join body's.
        if (this.quality !== this.joinedQuality) this.setQuality(this.quality).catch(() => {});
        break;
      case 'denied':
        this.end('denied');
        break;
      case 'removed':
        this.end('removed', ev.by);
        break;
      case 'participant-state':
        if (ev.participant.id === this.participantId) this.applySelfState(ev.participant);
        break;
      case 'uplink':
        this.applyUplink(uplinkLimit(ev));
        break;
      case 'video-size':
        this.videoSize = videoSizeLimit(ev);
        this.limitCamera();
        break;
      case 'resync':
        // The API: replace the participant list and go on from last_seq.
        // Missed media events cannot be replayed: without a connection, offer anew.
        if (this.pc && !['connected', 'connecting'].includes(this.pc.connectionState)) {
          this.reconnectMedia('Resynchronising');
        }
        break;
      default:
        break;
    }
    this.emit('event', ev);
  }

  applySelfState (p) {
    this.self = p;
    // The host muted us: the local track goes quiet too.
    // (Not the echo of our own mute, which may come after an unmute.)
    if (p.audio_muted && p.muted_by_host && this.audioTrack && this.audioTrack.enabled) {
      this.audioTrack.enabled = false;
    }
    const could = this.canPublish;
    if (p.can_publish !== undefined) this.canPublish = p.can_publish !== false;
    if (!could && this.canPublish && this.pc) {
      // Made a presenter: what we hold goes out (new send-only transceivers).
      if (this.audioTrack) this.publishTrack('audio', this.audioTrack);
      if (this.videoTrack) this.publishTrack('video', this.videoTrack);
    } else if (could && !this.canPublish) {
      // Back to a viewer: stop sending (no renegotiation).
      for (const snd of [this.extraSenders.audio, this.extraSenders.video]) if (snd) snd.replaceTrack(null).catch(() => {});
      for (const kind of ['audio', 'video']) {
        const t = this.tx[kind];
        if (t && t.sender.track) t.sender.replaceTrack(null).catch(() => {});
      }
      if (this.screenTrack) this.stopPresenting();
    }
    this.emit('self', p);
  }

  // Send a track on a new send-only transceiver (renegotiated), or again on
  // the sender it had.
  publishTrack (kind, track) {
    if (!this.pc) return;
    const snd = this.extraSenders[kind];
    if (snd) { snd.replaceTrack(track).catch(() => {}); return; }
    const main = this.tx[kind];
    if (main && main.direction === 'sendrecv') { main.sender.replaceTrack(track).catch(() => {}); return; }
    const t = this.pc.addTransceiver(track, { direction: 'sendonly', streams: this.localStream ? [this.localStream] : [] });
    this.extraSenders[kind] = t.sender;
    this.negotiate(false);
  }

  // ---- media -------------------------------------------------------------

  startMedia () {
    this.setStatus('connecting');
    this.createPeer();
  }

  closePeer () {
    clearTimeout(this.disconnectTimer);
    this.disconnectTimer = null;
    if (this.answerWaiter) { this.answerWaiter.resolve(false); this.answerWaiter = null; }
    if (this.pc) {
      this.pcGen++;
      try { this.pc.close(); } catch { /* closed */ }
    }
    this.pc = null;
    this.tx = { audio: null, video: null, screen: null };
    this.extraSenders = { audio: null, video: null };
    this.remoteTracks.clear();
  }

  createPeer () {
    this.closePeer();
    const gen = ++this.pcGen;
    // The server measures a new connection afresh: no limit carried over.
    if (this.uplink) { this.uplink = null; this.emit('uplink', null); }
    this.videoSize = null;   // asked again for the new connection's tile
    // The join answer's ice_servers: STUN, and TURN with credentials of our own.
    const pc = new this.PC({
      iceServers: (this.join.media && this.join.media.ice_servers) || [],
      iceTransportPolicy: this.iceTransportPolicy,
      bundlePolicy: 'max-bundle',
    });
    this.pc = pc;
    this.offerPosted = false;
    this.remoteApplied = false;
    this.pendingLocalIce = [];
    this.pendingRemoteIce = [];
    const screen = this.screenTrack && this.screenTrack.readyState === 'live' ? this.screenTrack : null;
    this.tx = addInitialTransceivers(pc, {
      audio: this.audioTrack, video: this.videoTrack, screen: this.canPublish ? screen : null,
      stream: this.localStream, viewer: !this.canPublish,
    });
    pc.ontrack = (e) => {
      if (gen !== this.pcGen) return;
      const key = trackKey(e.transceiver);
      this.remoteTracks.set(key || e.track.id, e.track);
      this.emitRemote();
    };
    pc.onicecandidate = (e) => {
      if (gen !== this.pcGen) return;
      const msg = iceMessage(e.candidate);
      if (!msg.candidate) return;   // end of candidates: nothing the server needs
      if (this.offerPosted) this.post(msg);
      else this.pendingLocalIce.push(msg);
    };
    pc.onconnectionstatechange = () => {
      if (gen !== this.pcGen) return;
      const st = pc.connectionState;
      this.emit('connection', st);
      if (st === 'connected') {
        clearTimeout(this.disconnectTimer);
        this.disconnectTimer = null;
        this.mediaAttempts = 0;
        this.setStatus('connected');
        if (this.problem && this.problem.kind === 'media') this.setProblem(null);
      } else if (st === 'failed') {
        this.reconnectMedia('The media connection failed');
      } else if (st === 'disconnected') {
        clearTimeout(this.disconnectTimer);
        this.disconnectTimer = setTimeout(() => {
          if (gen === this.pcGen && pc.connectionState === 'disconnected') this.reconnectMedia('The media connection was lost');
        }, this.disconnectedGraceMs);
      }
    };
    this.negotiate(true);
  }

  emitRemote () {
    const tracks = [];
    // The composite comes on the first video transceiver, the mix on the first audio one.
    const v = this.tx.video && this.remoteTracks.get(trackKey(this.tx.video));
    const a = this.tx.audio && this.remoteTracks.get(trackKey(this.tx.audio));
    if (v) tracks.push(v);
    if (a) tracks.push(a);
    if (!tracks.length) for (const t of this.remoteTracks.values()) tracks.push(t);
    this.emit('remote', typeof MediaStream !== 'undefined' ? new MediaStream(tracks) : tracks);
  }

  // Offers are serialised: one at a time, each waits for its answer.
  negotiate (fresh = false) {
    const gen = this.pcGen;
    this.negotiation = this.negotiation.then(() => this.doNegotiate(gen, fresh)).catch((e) => {
      console.error('negotiation', e);
    });
    return this.negotiation;
  }

  async doNegotiate (gen, fresh) {
    const pc = this.pc;
    if (!pc || gen !== this.pcGen || this.stopped) return false;
    const offer = await pc.createOffer();
    this.offers = (this.offers || 0) + 1;
    await pc.setLocalDescription(offer);
    let resolve;
    const answered = new Promise((res) => { resolve = res; });
    this.answerWaiter = { resolve };
    try {
      await this.api.sendMessage(this.join.signalling.messages, this.join.secret,
        { type: 'offer', sdp: pc.localDescription.sdp });
    } catch (err) {
      this.answerWaiter = null;
      if (gen !== this.pcGen) return false;
      this.emit('error', 'The server refused the media offer: ' + (this.api.errorText ? this.api.errorText(err) : String(err)));
      const status = err && err.response ? err.response.status : 0;
      if (status !== 400 && status !== 403) this.reconnectMedia('The offer failed');
      return false;
    }
    if (gen !== this.pcGen) return false;
    this.offerPosted = true;
    for (const m of this.pendingLocalIce.splice(0)) this.post(m);
    const timer = new Promise((res) => setTimeout(() => res('timeout'), ANSWER_TIMEOUT_MS));
    const r = await Promise.race([answered, timer]);
    if (r === 'timeout' && gen === this.pcGen && !this.stopped) {
      this.answerWaiter = null;
      this.reconnectMedia(fresh ? 'No answer from the server' : 'No answer to the renegotiation');
      return false;
    }
    // Answered, but ICE may stay "connecting" for long before the browser
    // calls it failed: as the bot does, start again if no connection comes.
    if (r === true && fresh) {
      setTimeout(() => {
        if (gen === this.pcGen && !this.stopped && pc.connectionState !== 'connected') {
          this.reconnectMedia('No media connection');
        }
      }, CONNECT_TIMEOUT_MS);
    }
    return r === true;
  }

  async applyAnswer (sdp) {
    const pc = this.pc;
    if (!pc || pc.signalingState !== 'have-local-offer') return;
    try {
      await pc.setRemoteDescription({ type: 'answer', sdp });
      this.remoteApplied = true;
      for (const ev of this.pendingRemoteIce.splice(0)) this.addRemoteIce(ev);
      if (this.answerWaiter) { this.answerWaiter.resolve(true); this.answerWaiter = null; }
      this.emitRemote();
      // A camera sender added since (a late camera, a new presenter) keeps the limit too.
      if (this.uplink || this.videoSize) this.limitCamera();
    } catch (e) {
      this.emit('error', 'Could not use the server\'s answer: ' + e.message);
      this.reconnectMedia('Bad answer');
    }
  }

  addRemoteIce (ev) {
    this.pc.addIceCandidate({ candidate: ev.candidate, sdpMLineIndex: ev.sdp_mline_index }).catch(() => {});
  }

  async reconnectMedia (reason) {
    if (this.stopped || this.reconnectingMedia || !this.join || this.join.admitted === false) return;
    this.reconnectingMedia = true;
    this.setStatus('reconnecting');
    this.setProblem({ kind: 'media', text: reason + '. Reconnecting…' });
    this.closePeer();
    await this.sleep(backoffDelay(this.mediaAttempts++));
    await this.refreshIceServers();
    this.reconnectingMedia = false;
    if (!this.stopped) this.createPeer();
  }

  // A connection that outlived its TURN credentials (the join answer's)
  // gets fresh ones before it starts again.
  async refreshIceServers () {
    const media = this.join && this.join.media;
    const url = this.join && this.join.signalling && this.join.signalling.ice_servers;
    if (!media || !url || !this.api.getIceServers || !iceServersExpiring(media.ice_servers, Date.now())) return;
    try {
      const r = await this.api.getIceServers(url, this.join.secret);
      if (r && Array.isArray(r.ice_servers)) this.join = { ...this.join, media: { ...media, ice_servers: r.ice_servers } };
    } catch {
      // Keep the old ones: without a relay the connection may still work.
    }
  }

  post (body) {
    return this.api.sendMessage(this.join.signalling.messages, this.join.secret, body).catch(() => null);
  }

  // ---- what the user does --------------------------------------------------

  sendState (fields) {
    if (!this.join || this.join.admitted === false) return Promise.resolve(null);
    return this.api.sendMessage(this.join.signalling.messages, this.join.secret, { type: 'state', ...fields })
      .catch(() => null);
  }

  sendChat (text) {
    return this.api.sendMessage(this.join.signalling.messages, this.join.secret, { type: 'chat', text });
  }

  // Host controls: mute, admit, deny, remove, lock, layout.
  hostMessage (body) {
    return this.api.sendMessage(this.join.signalling.messages, this.join.secret, body);
  }

  // Mic and camera: the track is disabled, the server told; never renegotiated.
  // Without a track (no permission at first, or a viewer) a new send-only
  // transceiver is added and the connection renegotiated.
  async setMuted (kind, muted) {
    let track = kind === 'audio' ? this.audioTrack : this.videoTrack;
    if (!muted && !track) {
      const s = await this.getUserMedia(kind === 'audio' ? { audio: true } : { video: { width: 640, height: 360 } });
      track = kind === 'audio' ? s.getAudioTracks()[0] : s.getVideoTracks()[0];
      if (kind === 'audio') this.audioTrack = track; else this.videoTrack = track;
      if (this.localStream) this.localStream.addTrack(track);
      this.emit('local', this.localStream);
      if (this.canPublish) this.publishTrack(kind, track);
    }
    if (track) track.enabled = !muted;
    return this.sendState(kind === 'audio' ? { audio_muted: muted } : { video_muted: muted });
  }

  // Another microphone or camera: replaceTrack on whichever sender carries
  // it (no renegotiation); the new track keeps the old one's mute.
  async switchDevice (kind, deviceId) {
    const old = kind === 'audio' ? this.audioTrack : this.videoTrack;
    const c = kind === 'audio' ? { audio: { deviceId: { exact: deviceId } } }
      : { video: { width: { ideal: 640 }, height: { ideal: 360 }, deviceId: { exact: deviceId } } };
    const s = await this.getUserMedia(c);
    const track = kind === 'audio' ? s.getAudioTracks()[0] : s.getVideoTracks()[0];
    if (old) track.enabled = old.enabled;
    if (this.pc) {
      for (const t of this.pc.getTransceivers()) {
        if (old && t.sender.track === old) await t.sender.replaceTrack(track);
      }
    }
    if (this.localStream) {
      if (old) this.localStream.removeTrack(old);
      this.localStream.addTrack(track);
    }
    if (kind === 'audio') this.audioTrack = track; else this.videoTrack = track;
    if (old) old.stop();
    // Another camera may be another height: the scale follows.
    if (kind === 'video' && (this.uplink || this.videoSize)) await this.limitCamera();
    this.emit('local', this.localStream);
    return track;
  }

  // Receive quality: 'auto', 'high', 'data-saver' or 'audio-only'. Told
  // to the server at once (a `quality` message; → the participant it
  // answers), or on admission when waiting in the lobby, and in every
  // later join body. A refused change is undone (and thrown).
  async setQuality (quality) {
    const q = normalizeQuality(quality);
    const before = this.quality;
    this.quality = q;
    if (!this.join || this.join.admitted === false || this.stopped) return null;
    try {
      const r = await this.api.sendMessage(this.join.signalling.messages, this.join.secret, { type: 'quality', quality: q });
      this.joinedQuality = q;
      return r && r.participant ? r.participant : null;
    } catch (err) {
      if (this.quality === q) this.quality = before;
      throw err;
    }
  }

  // ---- the uplink limit ----------------------------------------------------

  // The sender of our camera: the first video transceiver when it sends,
  // else the send-only one added for a late camera (or a new presenter).
  cameraSender () {
    if (this.extraSenders.video) return this.extraSenders.video;
    const t = this.tx.video;
    return t && t.direction === 'sendrecv' ? t.sender : null;
  }

  // An `uplink` event: keep to the limit (null: no limit any more).
  applyUplink (limit) {
    this.uplink = limit;
    this.emit('uplink', limit);
    return this.limitCamera();
  }

  // setParameters on the camera sender after the limits (uplink, tile size),
  // or without any.
  // One at a time: each needs the parameters the one before left.
  // → true when applied.
  limitCamera () {
    const gen = this.pcGen;
    this.uplinkChain = this.uplinkChain.then(async () => {
      const sender = gen === this.pcGen ? this.cameraSender() : null;
      if (!sender || typeof sender.getParameters !== 'function' || typeof sender.setParameters !== 'function') return false;
      const track = sender.track || this.videoTrack;
      const settings = track && typeof track.getSettings === 'function' ? track.getSettings() : {};
      const params = cameraParameters(sender.getParameters(), this.uplink, this.videoSize,
        settings.width || 0, settings.height || 0);
      if (!params) return false;
      try {
        await sender.setParameters(params);
        return true;
      } catch (e) {
        console.warn('uplink limit', e);
        return false;
      }
    });
    return this.uplinkChain;
  }

  setHand (raised) {
    return this.sendState({ hand_raised: raised });
  }

  // Screen sharing: a new send-only video transceiver the first time
  // (renegotiated), replaceTrack on it afterwards (never renegotiated).
  async startPresenting (track) {
    if (!this.canPublish) { track.stop(); throw new Error('Only the host and presenters can present in a lecture'); }
    if (this.screenTrack && this.screenTrack !== track) this.screenTrack.stop();
    this.screenTrack = track;
    track.addEventListener('ended', () => { if (this.screenTrack === track) this.stopPresenting(); });
    if (this.pc) {
      if (this.tx.screen) {
        await this.tx.screen.sender.replaceTrack(track);
      } else {
        this.tx.screen = this.pc.addTransceiver(track, { direction: 'sendonly' });
        await this.negotiate(false);
      }
    }
    this.emit('presenting', true);
    return this.sendState({ presenting: true });
  }

  async stopPresenting () {
    const track = this.screenTrack;
    this.screenTrack = null;
    if (this.tx.screen) { try { await this.tx.screen.sender.replaceTrack(null); } catch { /* closed */ } }
    if (track) track.stop();
    this.emit('presenting', false);
    return this.sendState({ presenting: false });
  }

  async setSpeaker () { /* output device is the view's business (setSinkId) */ }

  // ---- the end -------------------------------------------------------------

  end (reason, by) {
    if (this.ended) return;
    this.ended = { reason, by };
    this.stopped = true;
    if (this.pollAbort) this.pollAbort.abort();
    this.closePeer();
    if (this.screenTrack) { this.screenTrack.stop(); this.screenTrack = null; }
    this.setStatus('ended');
    this.emit('ended', this.ended);
  }

  async leave () {
    const join = this.join;
    const wasStopped = this.stopped;
    this.end('left');
    if (join && !wasStopped) {
      try { await this.api.leaveRoom(join.signalling.leave, join.secret); } catch { /* gone anyway */ }
    }
  }
}
