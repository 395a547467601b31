import { describe, expect, it } from 'vitest';
import { initialMeetingState, isHost, meetingReducer, raisedHands, receiverOf, selfParticipant, viewerCount } from '../src/lib/meetingState.js';

const P = (id, name, extra = {}) => ({ id, display_name: name, role: 'guest', hand_raised: false, audio_muted: false,
  video_muted: false, muted_by_host: false, joined_at: '2026-12-01T10:00:00.000Z', ...extra });
const ada = P('a', 'Ada', { role: 'host' });
const grace = P('g', 'Grace');
const join = {
  participant: ada, room: { code: 'abc-defg-hij', locked: false },
  participants: [ada], chat: [{ id: 3, participant_id: null, display_name: 'Old', text: 'earlier', sent_at: 'x' }],
  last_seq: 0,
};
const ev = (type, fields) => ({ type: 'event', event: { seq: 1, at: 0, type, ...fields } });
const run = (...actions) => actions.reduce(meetingReducer, initialMeetingState);

describe('meetingReducer', () => {
  it('starts from the join answer', () => {
    const s = run({ type: 'join', join });
    expect(s.selfId).toBe('a');
    expect(isHost(s)).toBe(true);
    expect(s.participants).toHaveLength(1);
    expect(s.chat.map((m) => m.text)).toEqual(['earlier']);
    expect(selfParticipant(s).display_name).toBe('Ada');
  });

  it('tracks joins and leaves with notices', () => {
    let s = run({ type: 'join', join }, ev('participant-joined', { participant: grace }));
    expect(s.participants.map((p) => p.id)).toEqual(['a', 'g']);
    expect(s.notices.at(-1)).toMatchObject({ kind: 'join', text: 'Grace joined' });
    s = meetingReducer(s, ev('participant-joined', { participant: grace }));
    expect(s.participants).toHaveLength(2);
    s = meetingReducer(s, ev('participant-left', { participant_id: 'g', display_name: 'Grace', reason: 'removed' }));
    expect(s.participants.map((p) => p.id)).toEqual(['a']);
    expect(s.notices.at(-1).text).toBe('Grace was removed');
  });

  it('shows raised hands once', () => {
    let s = run({ type: 'join', join }, ev('participant-joined', { participant: grace }));
    s = meetingReducer(s, ev('participant-state', { participant: { ...grace, hand_raised: true } }));
    expect(raisedHands(s).map((p) => p.id)).toEqual(['g']);
    expect(s.notices.at(-1)).toMatchObject({ kind: 'hand', text: 'Grace raised a hand' });
    const n = s.notices.length;
    s = meetingReducer(s, ev('participant-state', { participant: { ...grace, hand_raised: true, audio_muted: true } }));
    expect(s.notices).toHaveLength(n);
    s = meetingReducer(s, ev('participant-state', { participant: { ...grace, hand_raised: false } }));
    expect(raisedHands(s)).toEqual([]);
  });

  it('tells me when the host muted me', () => {
    const gjoin = { ...join, participant: grace, participants: [ada, grace] };
    const s = run({ type: 'join', join: gjoin },
      ev('participant-state', { participant: { ...grace, audio_muted: true, muted_by_host: true } }));
    expect(s.notices.at(-1)).toMatchObject({ kind: 'muted' });
    expect(selfParticipant(s).audio_muted).toBe(true);
  });

  it('merges chat by id and counts unread', () => {
    const m = (id, text, pid = 'g') => ({ id, participant_id: pid, display_name: 'Grace', text, sent_at: 'x' });
    let s = run({ type: 'join', join }, ev('chat', { message: m(5, 'hi') }), ev('chat', { message: m(4, 'first') }),
      ev('chat', { message: m(5, 'hi') }));
    expect(s.chat.map((x) => x.id)).toEqual([3, 4, 5]);
    expect(s.unreadChat).toBe(2);
    s = meetingReducer(s, { type: 'chat-open' });
    expect(s.unreadChat).toBe(0);
    s = meetingReducer(s, { type: 'event', event: { type: 'chat', message: m(6, 'seen') }, chatOpen: true });
    expect(s.unreadChat).toBe(0);
    s = meetingReducer(s, ev('chat', { message: m(7, 'mine', 'a') }));
    expect(s.unreadChat).toBe(0);
  });

  it('replaces participants on resync', () => {
    const s = run({ type: 'join', join }, ev('participant-joined', { participant: grace }),
      ev('resync', { reason: 'backlog_exceeded', participants: [grace] }));
    expect(s.participants.map((p) => p.id)).toEqual(['g']);
  });

  it('follows the lobby, admission and the lock', () => {
    let s = run({ type: 'join', join }, ev('knock', { participant_id: 'k', display_name: 'Kim' }));
    expect(s.lobby).toEqual([{ participant_id: 'k', display_name: 'Kim' }]);
    expect(s.notices.at(-1)).toMatchObject({ kind: 'knock', participant_id: 'k' });
    s = meetingReducer(s, ev('knock', { participant_id: 'k', display_name: 'Kim' }));
    expect(s.lobby).toHaveLength(1);
    s = meetingReducer(s, ev('lobby', { waiting: [] }));
    expect(s.lobby).toEqual([]);
    s = meetingReducer(s, ev('room', { locked: true }));
    expect(s.locked).toBe(true);
  });

  it('waits in the lobby until admitted', () => {
    const wjoin = { ...join, participant: grace, participants: [], chat: [], admitted: false };
    let s = run({ type: 'join', join: wjoin });
    expect(s.admitted).toBe(false);
    expect(s.participants.map((p) => p.id)).toEqual(['g']);
    s = meetingReducer(s, ev('admitted', { participants: [ada, grace], chat: [{ id: 9, text: 'hello' }] }));
    expect(s.admitted).toBe(true);
    expect(s.participants).toHaveLength(2);
    expect(s.chat.map((m) => m.id)).toEqual([9]);
  });

  it('ends on denied and removed', () => {
    expect(run({ type: 'join', join }, ev('denied', {})).ended).toEqual({ reason: 'denied' });
    expect(run({ type: 'join', join }, ev('removed', { by: 'Ada' })).ended).toEqual({ reason: 'removed', by: 'Ada' });
  });

  it('keeps the layout and the active speaker', () => {
    const s = run({ type: 'join', join },
      ev('layout', { layout: 'presentation', width: 1280, height: 720, tiles: [{ x: 0, y: 0, width: 1280, height: 720, participant_id: 'a', screen: true }] }),
      ev('active-speaker', { participant_id: 'g', display_name: 'Grace' }));
    expect(s.layout.layout).toBe('presentation');
    expect(s.layout.tiles[0].screen).toBe(true);
    expect(s.activeSpeaker.display_name).toBe('Grace');
  });

  it('knows from the join answer that the meeting is being recorded', () => {
    expect(run({ type: 'join', join: { ...join, room: { ...join.room, recording: true } } }).recording).toBe(true);
    expect(run({ type: 'join', join }).recording).toBe(false);
  });

  it('follows the recording', () => {
    let s = run({ type: 'join', join }, ev('recording', { on: true, by: 'Ada', file: 'x.webm' }));
    expect(s.recording).toBe(true);
    expect(s.notices.at(-1)).toMatchObject({ kind: 'recording', text: 'Ada started recording the meeting' });
    s = meetingReducer(s, ev('recording', { on: false, size: 10, duration: 2 }));
    expect(s.recording).toBe(false);
    expect(s.notices.at(-1).text).toBe('The recording has stopped');
  });

  it('keeps our receive tier from tier events', () => {
    let s = run({ type: 'join', join });
    expect(s.tier).toBeNull();
    s = meetingReducer(s, ev('tier', { tier: 'low', estimate_kbps: 310, quality: 'data-saver' }));
    expect(s.tier).toEqual({ tier: 'low', estimate_kbps: 310, quality: 'data-saver' });
    s = meetingReducer(s, ev('tier', { tier: 'audio-only', estimate_kbps: null, quality: 'auto' }));
    expect(s.tier).toEqual({ tier: 'audio-only', estimate_kbps: null, quality: 'auto' });
    s = meetingReducer(s, ev('tier', { tier: 'high' }));
    expect(s.tier).toEqual({ tier: 'high', estimate_kbps: null, quality: null });
    // An unknown tier changes nothing.
    expect(meetingReducer(s, ev('tier', { tier: 'ultra' }))).toBe(s);
  });

  it('keeps each receiver\'s tier for the host, and forgets those who left', () => {
    let s = run({ type: 'join', join }, ev('participant-joined', { participant: grace }),
      ev('receiver', { participant_id: 'g', display_name: 'Grace', tier: 'medium', quality: 'auto', estimate_kbps: 900, loss_percent: 2.5, rtt_ms: 48 }));
    expect(receiverOf(s, 'g')).toEqual({ tier: 'medium', quality: 'auto', estimate_kbps: 900, loss_percent: 2.5, rtt_ms: 48 });
    expect(receiverOf(s, 'a')).toBeNull();
    s = meetingReducer(s, ev('receiver', { participant_id: 'g', tier: 'low', estimate_kbps: 280, loss_percent: 8 }));
    expect(receiverOf(s, 'g').tier).toBe('low');
    expect(meetingReducer(s, ev('receiver', { tier: 'low' }))).toBe(s);
    s = meetingReducer(s, ev('participant-left', { participant_id: 'g', display_name: 'Grace', reason: 'left' }));
    expect(receiverOf(s, 'g')).toBeNull();
  });

  it('starts from the receivers of a host\'s join answer', () => {
    const s = run({ type: 'join', join: { ...join, receivers: [
      { participant_id: 'g', display_name: 'Grace', tier: 'low', quality: 'data-saver', estimate_kbps: null, loss_percent: 0 },
      { participant_id: 'x', tier: 'bogus' },
    ] } });
    expect(s.receivers).toEqual({ g: { tier: 'low', quality: 'data-saver', estimate_kbps: null, loss_percent: 0, rtt_ms: null } });
    expect(run({ type: 'join', join }).receivers).toEqual({});
  });

  it('follows the viewer cap, telling only what changed', () => {
    let s = run({ type: 'join', join: { ...join, room: { ...join.room, viewer_cap: 'medium' } } });
    expect(s.viewerCap).toBe('medium');
    expect(run({ type: 'join', join }).viewerCap).toBe('high');
    const n = s.notices.length;
    s = meetingReducer(s, ev('room', { locked: false, viewer_cap: 'low' }));
    expect(s.viewerCap).toBe('low');
    expect(s.notices).toHaveLength(n + 1);
    expect(s.notices.at(-1)).toMatchObject({ kind: 'viewer-cap' });
    expect(s.notices.at(-1).text).toMatch(/low/i);
    // The same room again: nothing to tell (no "unlocked" either).
    s = meetingReducer(s, ev('room', { locked: false, viewer_cap: 'low' }));
    expect(s.notices).toHaveLength(n + 1);
    s = meetingReducer(s, ev('room', { locked: true, viewer_cap: 'low' }));
    expect(s.locked).toBe(true);
    expect(s.notices.at(-1)).toMatchObject({ kind: 'room', text: 'The meeting is locked' });
    s = meetingReducer(s, ev('room', { locked: true, viewer_cap: null }));
    expect(s.viewerCap).toBe('high');
    expect(s.notices.at(-1).text).toMatch(/lifted/);
    // The server's event for a new cap carries only the cap: the lock stays, unannounced.
    const m = s.notices.length;
    s = meetingReducer(s, ev('room', { viewer_cap: 'audio-only' }));
    expect(s.locked).toBe(true);
    expect(s.notices).toHaveLength(m + 1);
    expect(s.notices.at(-1)).toMatchObject({ kind: 'viewer-cap', text: 'The host limited viewers to audio only' });
  });

  it('dismisses notices and ignores unknown events', () => {
    let s = run({ type: 'join', join }, ev('participant-joined', { participant: grace }));
    const id = s.notices[0].id;
    s = meetingReducer(s, { type: 'dismiss', id });
    expect(s.notices).toEqual([]);
    expect(meetingReducer(s, ev('something-new', {}))).toBe(s);
  });
});

describe('viewerCount', () => {
  it('counts those who only receive', () => {
    const state = {
      participants: [
        { id: 'h', role: 'host', presenter: false, can_publish: true },
        { id: 'p', role: 'guest', presenter: true, can_publish: true },
        { id: 'v1', role: 'guest', presenter: false, can_publish: false },
        { id: 'v2', role: 'participant', presenter: false, can_publish: false },
      ],
    };
    expect(viewerCount(state)).toBe(2);
    expect(viewerCount({ participants: [] })).toBe(0);
  });
});
