import { describe, expect, it } from 'vitest';
import { addInitialTransceivers, directionsKept, iceMessage, initialDirections, offerUsable, parseMedia, trackKey } from '../src/lib/sdp.js';

const offer = (dirs) => ['v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0 1',
  ...dirs.flatMap(([kind, dir, codec], i) => [
    `m=${kind} 9 UDP/TLS/RTP/SAVPF ${96 + i}`, `a=mid:${i}`, `a=${dir}`, `a=rtpmap:${96 + i} ${codec}/90000`]),
  ''].join('\r\n');

describe('sdp helpers', () => {
  it('parses m-lines', () => {
    const m = parseMedia(offer([['audio', 'sendrecv', 'opus'], ['video', 'recvonly', 'VP8']]));
    expect(m).toEqual([
      { kind: 'audio', mid: '0', direction: 'sendrecv', codecs: ['OPUS'], port: 9 },
      { kind: 'video', mid: '1', direction: 'recvonly', codecs: ['VP8'], port: 9 },
    ]);
  });
  it('chooses the first directions', () => {
    expect(initialDirections({ audio: true, video: true })).toEqual({ audio: 'sendrecv', video: 'sendrecv' });
    expect(initialDirections({ audio: true, video: false })).toEqual({ audio: 'sendrecv', video: 'recvonly' });
    expect(initialDirections({ audio: true, video: true, viewer: true })).toEqual({ audio: 'recvonly', video: 'recvonly' });
  });
  it('knows a usable offer', () => {
    expect(offerUsable(offer([['video', 'sendrecv', 'VP8']]))).toBe(true);
    expect(offerUsable(offer([['video', 'sendrecv', 'H264']]))).toBe(false);
  });
  it('checks that renegotiation keeps directions', () => {
    const first = offer([['audio', 'sendrecv', 'opus'], ['video', 'sendrecv', 'VP8']]);
    const withScreen = offer([['audio', 'sendrecv', 'opus'], ['video', 'sendrecv', 'VP8'], ['video', 'sendonly', 'VP8']]);
    const changed = offer([['audio', 'sendrecv', 'opus'], ['video', 'sendonly', 'VP8']]);
    expect(directionsKept(first, withScreen)).toBe(true);
    expect(directionsKept(first, changed)).toBe(false);
    expect(directionsKept(withScreen, first)).toBe(false);
  });
  it('adds the first transceivers', () => {
    const calls = [];
    const pc = { addTransceiver: (what, init) => { calls.push([typeof what === 'string' ? what : what.kind, init.direction]); return { what }; } };
    const a = { kind: 'audio' };
    const v = { kind: 'video' };
    const s = { kind: 'video', label: 'screen' };
    let tx = addInitialTransceivers(pc, { audio: a, video: null });
    expect(calls).toEqual([['audio', 'sendrecv'], ['video', 'recvonly']]);
    expect(tx.screen).toBeNull();
    calls.length = 0;
    tx = addInitialTransceivers(pc, { audio: a, video: v, screen: s });
    expect(calls).toEqual([['audio', 'sendrecv'], ['video', 'sendrecv'], ['video', 'sendonly']]);
    expect(tx.screen.what).toBe(s);
    calls.length = 0;
    addInitialTransceivers(pc, { audio: a, video: v, viewer: true });
    expect(calls).toEqual([['audio', 'recvonly'], ['video', 'recvonly']]);
  });
  it('keys tracks by mid and builds ice messages', () => {
    expect(trackKey({ mid: '1' })).toBe('mid:1');
    expect(trackKey({ mid: null })).toBeNull();
    expect(iceMessage({ candidate: 'candidate:1 1 udp 1 127.0.0.1 5 typ host', sdpMLineIndex: 0 }))
      .toEqual({ type: 'ice', candidate: 'candidate:1 1 udp 1 127.0.0.1 5 typ host', sdp_mline_index: 0 });
    expect(iceMessage(null)).toEqual({ type: 'ice', candidate: '', sdp_mline_index: 0 });
  });
});
