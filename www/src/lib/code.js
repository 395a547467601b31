// Meeting codes (abc-defg-hij), links and time formatting: pure helpers.

const CODE_RE = /^[a-z]{3}-[a-z]{4}-[a-z]{3}$/;

export function isMeetingCode (s) {
  return typeof s === 'string' && CODE_RE.test(s);
}

// A code typed by hand or a pasted link → the canonical code, or null.
// Accepts "abc-defg-hij", "ABC-DEFG-HIJ", "abcdefghij", " abc defg hij ",
// "https://host/abc-defg-hij", "host/watch/abc-defg-hij?x=1#y".
export function parseMeetingCode (input) {
  if (typeof input !== 'string') return null;
  let s = input.trim();
  if (!s) return null;
  // A link: take the path's last non-empty segment.
  if (/[/?#]/.test(s) || /^[a-z][a-z0-9+.-]*:/i.test(s)) {
    const noQuery = s.replace(/[?#].*$/, '');
    const segs = noQuery.split('/').filter(Boolean);
    if (!segs.length) return null;
    s = segs[segs.length - 1];
    try { s = decodeURIComponent(s); } catch { return null; }
  }
  const letters = s.toLowerCase().replace(/[\s-]/g, '');
  if (!/^[a-z]{10}$/.test(letters)) return null;
  const code = letters.slice(0, 3) + '-' + letters.slice(3, 7) + '-' + letters.slice(7);
  return isMeetingCode(code) ? code : null;
}

// Whether a pasted link points at the viewer page.
export function isWatchLink (input) {
  return typeof input === 'string' && /(^|\/)watch\/[A-Za-z-]+\/?([?#]|$)/.test(input.trim());
}

export function meetingLink (origin, code, watch = false) {
  return origin.replace(/\/+$/, '') + (watch ? '/watch/' : '/') + code;
}

// Elapsed time as Meet shows it: "0:05", "12:34", "1:02:03".
export function formatElapsed (ms) {
  const total = Math.max(0, Math.floor((Number(ms) || 0) / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

// "1 h 5 min", "12 min", "40 s" for the meeting history.
export function formatDuration (seconds) {
  const s = Math.max(0, Math.floor(Number(seconds) || 0));
  if (s < 60) return `${s} s`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h} h ${m} min` : `${m} min`;
}

// A file size for people: 950 B, 12.3 kB, 4.5 MB, 1.2 GB (powers of 1000).
export function formatBytes (bytes) {
  const b = Math.max(0, Number(bytes) || 0);
  if (b < 1000) return `${Math.round(b)} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = b / 1000;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

// Initials for avatars: "Ada Lovelace" → "AL", "grace" → "G".
export function initials (name) {
  const parts = String(name || '?').trim().split(/\s+/).filter(Boolean);
  if (!parts.length) return '?';
  const first = [...parts[0]][0] || '?';
  const last = parts.length > 1 ? [...parts[parts.length - 1]][0] : '';
  return (first + last).toUpperCase();
}

// A participant's avatar colour, the same on every page for one id.
const AVATAR_COLORS = ['#1a73e8', '#e8710a', '#188038', '#a142f4', '#d93025', '#12b5cb', '#f538a0', '#5f6368'];
export function avatarColor (id) {
  return AVATAR_COLORS[[...String(id)].reduce((a, c) => a + c.charCodeAt(0), 0) % AVATAR_COLORS.length];
}
