// Reconnection back-off: 0.5 s, 1 s, 2 s, 4 s ... capped, with +-20 % jitter.

export function backoffDelay (attempt, { base = 500, max = 15000, jitter = 0.2, random = Math.random } = {}) {
  const n = Math.max(0, Math.floor(attempt));
  const raw = Math.min(max, base * 2 ** Math.min(n, 30));
  const j = raw * jitter * (random() * 2 - 1);
  return Math.max(0, Math.round(Math.min(max, raw + j)));
}

// An HTTP error (axios-style: err.response.status) → what to do about it.
//   'rejoin'  the participant is gone (404/410): join again
//   'fatal'   no point retrying (401/403: a secret not ours; 400)
//   'retry'   network trouble, 5xx, 429, 409: same request again after a back-off
export function classifyPollError (err) {
  const status = err && err.response ? err.response.status : 0;
  if (status === 404 || status === 410) return 'rejoin';
  if (status === 400 || status === 401 || status === 403) return 'fatal';
  return 'retry';
}
