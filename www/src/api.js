// REST and signalling calls (Axios). The account token lives in localStorage.
import axios from 'axios';

const TOKEN_KEY = 'mixmeet.token';
const USER_KEY = 'mixmeet.user';
const NAME_KEY = 'mixmeet.guestName';

export const http = axios.create({ headers: { 'Content-Type': 'application/json' } });

export function getToken () { return localStorage.getItem(TOKEN_KEY); }
export function getStoredUser () {
  try { return JSON.parse(localStorage.getItem(USER_KEY) || 'null'); } catch { return null; }
}
export function getGuestName () { return localStorage.getItem(NAME_KEY) || ''; }
export function setGuestName (n) { localStorage.setItem(NAME_KEY, n); }

function storeSession (r) {
  localStorage.setItem(TOKEN_KEY, r.token);
  localStorage.setItem(USER_KEY, JSON.stringify(r.user));
  return r.user;
}

export function clearSession () {
  localStorage.removeItem(TOKEN_KEY);
  localStorage.removeItem(USER_KEY);
}

const bearer = (t) => (t ? { Authorization: 'Bearer ' + t } : {});
const auth = () => ({ headers: bearer(getToken()) });

// The server's error message, for people.
export function errorText (err) {
  const e = err && err.response && err.response.data && err.response.data.error;
  if (e && e.message) return e.message.charAt(0).toUpperCase() + e.message.slice(1);
  if (err && err.response) return `The server answered ${err.response.status}`;
  return 'Cannot reach the server. Check your connection.';
}
export function errorCode (err) {
  const e = err && err.response && err.response.data && err.response.data.error;
  return e ? e.code : null;
}

export async function register (name, email, password) {
  const r = await http.post('/api/v1/auth/register', { name, email, password });
  return storeSession(r.data);
}
export async function login (email, password) {
  const r = await http.post('/api/v1/auth/login', { email, password });
  return storeSession(r.data);
}
export async function logout () {
  try { await http.post('/api/v1/auth/logout', null, auth()); } catch { /* gone anyway */ }
  clearSession();
}
export async function me () {
  const r = await http.get('/api/v1/auth/me', auth());
  return r.data.user;
}
export async function createRoom ({ title, mode = 'meeting', lobby = false, allowGuests = true }) {
  const body = { title, mode, allow_guests: allowGuests };
  if (lobby) body.lobby = true;
  const r = await http.post('/api/v1/rooms', body, auth());
  return r.data.room;
}
export async function getRoom (code) {
  const r = await http.get('/api/v1/rooms/' + encodeURIComponent(code));
  return r.data.room;
}
export async function myMeetings (limit = 20) {
  const r = await http.get('/api/v1/me/meetings', { ...auth(), params: { limit } });
  return r.data.meetings;
}

// Participant calls, authorised by the participant's secret.
// quality: 'auto' | 'high' | 'data-saver' | 'audio-only' (the server's default is auto).
export function joinRoom (code, displayName, { quality } = {}) {
  const body = displayName ? { display_name: displayName } : {};
  if (quality) body.quality = quality;
  return http.post('/api/v1/rooms/' + encodeURIComponent(code) + '/join', body, auth()).then((r) => r.data);
}
export function pollEvents (url, secret, since, { signal, timeout } = {}) {
  return http.get(url, {
    headers: bearer(secret),
    params: timeout != null ? { since, timeout } : { since },
    signal,
    timeout: 60000,
  }).then((r) => r.data);
}
export function sendMessage (url, secret, body) {
  return http.post(url, body, { headers: bearer(secret), timeout: 15000 }).then((r) => r.data);
}
// Fresh TURN credentials for a participant: {ice_servers: [...]}.
export function getIceServers (url, secret) {
  return http.get(url, { headers: bearer(secret), timeout: 15000 }).then((r) => r.data);
}
export function leaveRoom (url, secret) {
  return http.post(url, null, { headers: bearer(secret), timeout: 5000 });
}
