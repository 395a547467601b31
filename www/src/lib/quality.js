// Receive quality (issue #8, low-bandwidth clients): the choice a person
// makes (auto, high, data saver, audio only), the tier the server sends them
// (high 1280x720, medium 640x360, low 320x180 at 15 fps, audio only), the
// host's cap on a lecture's viewers, and the limits the server asks a
// publisher with a poor uplink to keep. Pure: no React, no browser objects
// beyond what is passed in.

export const QUALITY_KEY = 'mixmeet.quality';
export const QUALITIES = ['auto', 'high', 'data-saver', 'audio-only'];
export const TIERS = ['high', 'medium', 'low', 'audio-only'];

// What each tier is: the composite's size and rate (null: no video).
export const TIER_VIDEO = {
  high: { width: 1280, height: 720, fps: 30 },
  medium: { width: 640, height: 360, fps: 30 },
  low: { width: 320, height: 180, fps: 15 },
  'audio-only': null,
};

// Every string these choices show, in one place.
export const QUALITY_TEXT = {
  label: 'Video quality',
  choices: {
    auto: { label: 'Auto', help: 'Adjusts to your connection (recommended)' },
    high: { label: 'High', help: 'Always 720p, even on a slow connection' },
    'data-saver': { label: 'Data saver', help: '180p at 15 frames a second' },
    'audio-only': { label: 'Audio only', help: 'No video: shows who is speaking' },
  },
  tiers: {
    high: 'HD · 720p',
    medium: 'Standard · 360p',
    low: 'Low · 180p',
    'audio-only': 'Audio only',
  },
  dataSaverTier: 'Data saver · 180p',
  estimate: (kbps) => (kbps == null ? 'Your connection speed is not known yet' : `Your connection: about ${formatKbps(kbps)}`),
  receiving: (v) => `Receiving ${v.width}×${v.height} at ${v.fps} frames a second`,
  noVideo: 'Receiving sound only',
  becauseChosen: 'You chose this in Settings',
  becauseSlow: 'Lowered because your connection is slow',
  becauseCap: 'The host limited the quality for viewers',
  unsupported: 'This server cannot change the video quality yet.',
  viewerCap: {
    label: 'Quality for viewers',
    help: 'Limit what the audience receives (saves bandwidth)',
    choices: { high: 'No limit (720p)', medium: 'Standard (360p)', low: 'Low (180p)', 'audio-only': 'Audio only' },
    notice: (tier) => (tier === 'high' ? 'The host lifted the limit on video quality for viewers'
      : `The host limited viewers to ${tier === 'audio-only' ? 'audio only' : QUALITY_TEXT.viewerCap.choices[tier].toLowerCase()}`),
  },
  receiver: (r) => [
    r.tier ? QUALITY_TEXT.tiers[r.tier] || r.tier : null,
    r.estimate_kbps != null ? `about ${formatKbps(r.estimate_kbps)}` : null,
    r.loss_percent != null ? `${Math.round(r.loss_percent * 10) / 10}% loss` : null,
    r.rtt_ms != null ? `${r.rtt_ms} ms round trip` : null,
  ].filter(Boolean).join(', '),
  receiverShort: { high: '720p', medium: '360p', low: '180p', 'audio-only': 'Audio' },
  receiverTooltip: (r, chosen) => QUALITY_TEXT.receiver(r) +
    (chosen && chosen !== 'auto' && QUALITY_TEXT.choices[chosen] ? ` (chose ${QUALITY_TEXT.choices[chosen].label.toLowerCase()})` : ''),
  uplink: (u) => `Your upload is slow: your camera is sent at up to ${u.max_height ? u.max_height + 'p, ' : ''}${formatKbps(Math.round(u.max_bitrate / 1000))}`,
  uplinkShort: 'Slow upload',
  audioOnly: {
    title: 'Audio only',
    speaking: (name) => `${name} is speaking`,
    nobody: 'Whoever speaks is named here',
    slow: 'Your connection is too slow for video right now.',
    chosen: 'Video is off to save data.',
    cap: 'The host turned video off for viewers.',
    turnOn: 'Turn video back on',
  },
};

export function formatKbps (kbps) {
  if (kbps == null || !isFinite(kbps)) return '';
  return kbps >= 1000 ? `${(kbps / 1000).toFixed(kbps >= 10000 ? 0 : 1)} Mbps` : `${Math.round(kbps)} kbps`;
}

export function normalizeQuality (q) {
  return QUALITIES.includes(q) ? q : 'auto';
}

// The choice this browser remembers (@fallback when none, or unreadable).
export function storedQuality (storage = globalThis.localStorage, fallback = 'auto') {
  try {
    const q = storage ? storage.getItem(QUALITY_KEY) : null;
    return QUALITIES.includes(q) ? q : normalizeQuality(fallback);
  } catch {
    return normalizeQuality(fallback);
  }
}

export function storeQuality (q, storage = globalThis.localStorage) {
  try {
    if (storage) storage.setItem(QUALITY_KEY, normalizeQuality(q));
  } catch { /* private mode: remembered for this page only */ }
}

// The chip for the tier one receives: {label, tooltip} or null (nothing
// worth showing: full quality on auto, or no tier known yet).
//   tier: the last `tier` event ({tier, estimate_kbps, quality}) or null
//   quality: the choice on screen (it may be newer than the event's)
//   cap: the lecture's viewer cap when it applies to us, else null
export function tierChip (tier, quality, cap = null) {
  if (!tier || !TIERS.includes(tier.tier)) return null;
  const t = tier.tier;
  if (t === 'high' && quality === 'auto') return null;
  const label = t === 'low' && quality === 'data-saver' ? QUALITY_TEXT.dataSaverTier : QUALITY_TEXT.tiers[t];
  const v = TIER_VIDEO[t];
  const why = tierReason(t, quality, cap);
  const lines = [v ? QUALITY_TEXT.receiving(v) : QUALITY_TEXT.noVideo, why, QUALITY_TEXT.estimate(tier.estimate_kbps)];
  return { label, tooltip: lines.filter(Boolean).join('. ') + '.' };
}

const TIER_RANK = { high: 3, medium: 2, low: 1, 'audio-only': 0 };

// Why the tier is what it is (null: nothing to explain).
export function tierReason (tier, quality, cap = null) {
  if ((quality === 'data-saver' && tier === 'low') || (quality === 'audio-only' && tier === 'audio-only')) return QUALITY_TEXT.becauseChosen;
  if (cap && cap !== 'high' && TIER_RANK[tier] === TIER_RANK[cap]) return QUALITY_TEXT.becauseCap;
  if (tier !== 'high') return QUALITY_TEXT.becauseSlow;
  return null;
}

// Whether the stage shows the audio-only view instead of the video: chosen,
// or the server sends no video (too slow, or the host's cap).
export function audioOnlyView (quality, tier) {
  return quality === 'audio-only' || (!!tier && tier.tier === 'audio-only');
}

// The cap a host set on a lecture's viewers: one of TIERS; 'high' (no
// limit) when unset.
export function normalizeCap (cap) {
  return TIERS.includes(cap) ? cap : 'high';
}

// ---- the publisher's uplink ----------------------------------------------

// An `uplink` event → the limit to keep: {max_bitrate, max_height} or null
// (no limit: the server saw the uplink recover).
export function uplinkLimit (ev) {
  if (!ev || ev.max_bitrate == null || !(Number(ev.max_bitrate) > 0)) return null;
  const h = Number(ev.max_height);
  return { max_bitrate: Math.round(Number(ev.max_bitrate)), max_height: h > 0 ? Math.round(h) : null };
}

// A `video-size` event (the size of our camera's tile in the composite) →
// the size to keep within: {max_width, max_height} or null.
export function videoSizeLimit (ev) {
  if (!ev) return null;
  const w = Number(ev.max_width);
  const h = Number(ev.max_height);
  if (!(w > 0) && !(h > 0)) return null;
  return { max_width: w > 0 ? Math.round(w) : null, max_height: h > 0 ? Math.round(h) : null };
}

// RTCRtpSender parameters (as getParameters() gave them) with the first
// encoding kept to @uplink (an `uplink` limit: maxBitrate, and at most
// max_height) and to @tile (a `video-size`: at most its width and height)
// for a camera track of @trackWidth x @trackHeight: scaleResolutionDownBy
// is the largest of the scales they ask for, and 1 without any.
// Returns null when there is no encoding to change (not negotiated yet).
export function cameraParameters (params, uplink, tile, trackWidth, trackHeight) {
  if (!params || !Array.isArray(params.encodings) || params.encodings.length === 0) return null;
  const [first, ...rest] = params.encodings;
  // eslint-disable-next-line no-unused-vars
  const { maxBitrate, scaleResolutionDownBy, ...plain } = first;
  let scale = 1;
  if (uplink && uplink.max_height && trackHeight > uplink.max_height) scale = Math.max(scale, trackHeight / uplink.max_height);
  if (tile && tile.max_height && trackHeight > tile.max_height) scale = Math.max(scale, trackHeight / tile.max_height);
  if (tile && tile.max_width && trackWidth > tile.max_width) scale = Math.max(scale, trackWidth / tile.max_width);
  const enc = { ...plain, scaleResolutionDownBy: scale };
  if (uplink && uplink.max_bitrate) enc.maxBitrate = uplink.max_bitrate;
  return { ...params, encodings: [enc, ...rest] };
}

// cameraParameters with an uplink limit only (@limit null: no limit).
export function uplinkParameters (params, limit, trackHeight) {
  return cameraParameters(params, limit, null, 0, trackHeight);
}
