// The meeting's shared state (participants, chat, lobby, layout, speaker,
// notices, receive tiers) as a pure reducer of the join answer and of
// signalling events.
import { QUALITY_TEXT, TIERS, normalizeCap } from './quality.js';

export const initialMeetingState = {
  selfId: null,
  role: null,
  admitted: true,
  participants: [],       // in join order
  chat: [],               // oldest first, unique by id
  lobby: [],              // [{participant_id, display_name}] (host only)
  layout: { layout: 'grid', tiles: [], width: 0, height: 0 },
  activeSpeaker: null,    // {participant_id, display_name}
  locked: false,
  notices: [],            // [{id, kind, text, participant_id?}] — toasts to show
  noticeSeq: 0,
  ended: null,            // {reason: 'left'|'removed'|'denied'|'gone', by?}
  unreadChat: 0,
  recording: false,
  tier: null,             // our receive tier: {tier, estimate_kbps, quality} (the last `tier` event)
  receivers: {},          // participant_id → {tier, quality, estimate_kbps, loss_percent, rtt_ms} (host only)
  viewerCap: 'high',      // the lecture's cap on its viewers ('high': none)
};

function upsert (list, p) {
  const i = list.findIndex((x) => x.id === p.id);
  if (i < 0) return [...list, p];
  const copy = list.slice();
  copy[i] = { ...list[i], ...p };
  return copy;
}

function mergeChat (chat, messages) {
  const seen = new Set(chat.map((m) => m.id));
  const out = chat.slice();
  for (const m of messages || []) {
    if (m && !seen.has(m.id)) { seen.add(m.id); out.push(m); }
  }
  out.sort((a, b) => a.id - b.id);
  return out;
}

// A `receiver` event, or an entry of a host's join answer `receivers`.
function receiverEntry (r) {
  return { tier: r.tier, quality: r.quality ?? null, estimate_kbps: r.estimate_kbps ?? null, loss_percent: r.loss_percent ?? null, rtt_ms: r.rtt_ms ?? null };
}

function receiversOf (list) {
  const out = {};
  for (const r of Array.isArray(list) ? list : []) {
    if (r && r.participant_id && TIERS.includes(r.tier)) out[r.participant_id] = receiverEntry(r);
  }
  return out;
}

function notice (state, kind, text, extra = {}) {
  const id = state.noticeSeq + 1;
  return { ...state, noticeSeq: id, notices: [...state.notices, { id, kind, text, ...extra }].slice(-20) };
}

export function meetingReducer (state, action) {
  switch (action.type) {
    case 'join': {
      const j = action.join;
      return {
        ...state,
        selfId: j.participant.id,
        role: j.participant.role,
        admitted: j.admitted !== false,
        participants: j.participants && j.participants.length ? j.participants : [j.participant],
        chat: mergeChat(state.chat, j.chat),
        locked: !!(j.room && j.room.locked),
        recording: !!(j.room && j.room.recording),
        viewerCap: normalizeCap(j.room && j.room.viewer_cap),
        receivers: receiversOf(j.receivers),
        ended: null,
      };
    }
    case 'chat-open':
      return { ...state, unreadChat: 0 };
    case 'dismiss':
      return { ...state, notices: state.notices.filter((n) => n.id !== action.id) };
    case 'ended':
      return { ...state, ended: { reason: action.reason, by: action.by } };
    case 'event':
      return applyEvent(state, action.event, action.chatOpen);
    default:
      return state;
  }
}

function applyEvent (state, ev, chatOpen) {
  switch (ev.type) {
    case 'participant-joined': {
      const p = ev.participant;
      if (state.participants.some((x) => x.id === p.id)) return { ...state, participants: upsert(state.participants, p) };
      const s = { ...state, participants: upsert(state.participants, p) };
      return p.id === state.selfId ? s : notice(s, 'join', `${p.display_name} joined`, { participant_id: p.id });
    }
    case 'participant-left': {
      const receivers = { ...state.receivers };
      delete receivers[ev.participant_id];
      const s = {
        ...state,
        participants: state.participants.filter((x) => x.id !== ev.participant_id),
        lobby: state.lobby.filter((x) => x.participant_id !== ev.participant_id),
        receivers,
      };
      const why = ev.reason === 'removed' ? 'was removed' : ev.reason === 'timeout' ? 'lost connection' : 'left';
      return notice(s, 'leave', `${ev.display_name} ${why}`, { participant_id: ev.participant_id });
    }
    case 'participant-state': {
      const p = ev.participant;
      const before = state.participants.find((x) => x.id === p.id);
      let s = { ...state, participants: upsert(state.participants, p) };
      if (p.hand_raised && !(before && before.hand_raised)) {
        s = notice(s, 'hand', p.id === state.selfId ? 'You raised your hand' : `${p.display_name} raised a hand`,
          { participant_id: p.id });
      }
      if (p.id === state.selfId && before && p.presenter !== undefined && !!p.presenter !== !!before.presenter) {
        s = notice(s, 'presenter', p.presenter ? 'The host made you a presenter: you can turn on your camera and microphone'
          : 'You are a viewer again', { participant_id: p.id });
      }
      if (p.id === state.selfId && p.muted_by_host && p.audio_muted && !(before && before.muted_by_host && before.audio_muted)) {
        s = notice(s, 'muted', 'The host muted your microphone', { participant_id: p.id });
      }
      return s;
    }
    case 'chat': {
      const s = { ...state, chat: mergeChat(state.chat, [ev.message]) };
      const mine = ev.message.participant_id === state.selfId;
      if (chatOpen || mine || s.chat.length === state.chat.length) return s;
      return notice({ ...s, unreadChat: state.unreadChat + 1 }, 'chat', `${ev.message.display_name}: ${ev.message.text}`);
    }
    case 'resync':
      return { ...state, participants: ev.participants || [] };
    case 'layout':
      return { ...state, layout: { layout: ev.layout, tiles: ev.tiles || [], width: ev.width, height: ev.height } };
    case 'active-speaker':
      return { ...state, activeSpeaker: { participant_id: ev.participant_id, display_name: ev.display_name } };
    case 'knock': {
      const lobby = state.lobby.some((x) => x.participant_id === ev.participant_id)
        ? state.lobby : [...state.lobby, { participant_id: ev.participant_id, display_name: ev.display_name }];
      return notice({ ...state, lobby }, 'knock', `${ev.display_name} wants to join`, { participant_id: ev.participant_id });
    }
    case 'lobby':
      return { ...state, lobby: ev.waiting || [] };
    case 'admitted':
      return {
        ...state,
        admitted: true,
        participants: ev.participants && ev.participants.length ? ev.participants : state.participants,
        chat: mergeChat(state.chat, ev.chat),
      };
    case 'denied':
      return { ...state, ended: { reason: 'denied' } };
    case 'removed':
      return { ...state, ended: { reason: 'removed', by: ev.by } };
    case 'recording': {
      const on = !!ev.on;
      if (on === state.recording) return state;
      return notice({ ...state, recording: on }, 'recording',
        on ? `${ev.by ? ev.by + ' started' : 'Started'} recording the meeting` : 'The recording has stopped');
    }
    case 'room': {
      // Only what changed is told: the event carries the whole room (the lock, the viewer cap).
      let s = state;
      if ('locked' in ev && !!ev.locked !== state.locked) {
        s = notice({ ...s, locked: !!ev.locked }, 'room', ev.locked ? 'The meeting is locked' : 'The meeting is unlocked');
      }
      if ('viewer_cap' in ev) {
        const cap = normalizeCap(ev.viewer_cap);
        if (cap !== state.viewerCap) s = notice({ ...s, viewerCap: cap }, 'viewer-cap', QUALITY_TEXT.viewerCap.notice(cap));
      }
      return s;
    }
    case 'tier':
      if (!TIERS.includes(ev.tier)) return state;
      return { ...state, tier: { tier: ev.tier, estimate_kbps: ev.estimate_kbps ?? null, quality: ev.quality ?? null } };
    case 'receiver':
      if (!ev.participant_id || !TIERS.includes(ev.tier)) return state;
      return {
        ...state,
        receivers: {
          ...state.receivers,
          [ev.participant_id]: receiverEntry(ev),
        },
      };
    default:
      return state;
  }
}

// Helpers for views.
export function selfParticipant (state) {
  return state.participants.find((p) => p.id === state.selfId) || null;
}

export function raisedHands (state) {
  return state.participants.filter((p) => p.hand_raised);
}

// A lecture's audience: everyone who only receives (not the host, not a
// presenter).
export function viewerCount (state) {
  return state.participants.filter((p) => p.role !== 'host' && !p.presenter && p.can_publish === false).length;
}

// The receive tier the host last heard for @id, or null.
export function receiverOf (state, id) {
  return state.receivers[id] || null;
}

export function isHost (state) {
  return state.role === 'host';
}
