// Camera and microphone: get what the browser gives, say what it refused.

export const VIDEO_CONSTRAINTS = { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 24 } };

function why (err) {
  if (!err) return null;
  if (err.name === 'NotAllowedError' || err.name === 'SecurityError') return 'blocked';
  if (err.name === 'NotFoundError' || err.name === 'OverconstrainedError') return 'missing';
  if (err.name === 'NotReadableError') return 'busy';
  return 'failed';
}

export function problemText (kind, reason) {
  const what = kind === 'audio' ? 'microphone' : 'camera';
  switch (reason) {
    case 'blocked': return `Your browser blocked the ${what}. Allow it in the site settings (the icon left of the address), or join without it.`;
    case 'missing': return `No ${what} was found.`;
    case 'busy': return `Your ${what} is in use by another app.`;
    case 'failed': return `The ${what} could not be started.`;
    default: return null;
  }
}

// → {stream, problems: {audio: reason|null, video: reason|null}}
export async function acquireMedia ({ audioId = null, videoId = null, audio = true, video = true } = {}) {
  const md = navigator.mediaDevices;
  const problems = { audio: null, video: null };
  const a = audio ? (audioId ? { deviceId: { exact: audioId } } : true) : false;
  const v = video ? { ...VIDEO_CONSTRAINTS, ...(videoId ? { deviceId: { exact: videoId } } : {}) } : false;
  if (!md || !md.getUserMedia) {
    return { stream: new MediaStream(), problems: { audio: audio ? 'failed' : null, video: video ? 'failed' : null } };
  }
  if (a && v) {
    try {
      return { stream: await md.getUserMedia({ audio: a, video: v }), problems };
    } catch { /* try each on its own below */ }
  }
  const stream = new MediaStream();
  if (a) {
    try { (await md.getUserMedia({ audio: a })).getTracks().forEach((t) => stream.addTrack(t)); } catch (e) { problems.audio = why(e); }
  }
  if (v) {
    try { (await md.getUserMedia({ video: v })).getTracks().forEach((t) => stream.addTrack(t)); } catch (e) { problems.video = why(e); }
  }
  return { stream, problems };
}

export async function listDevices () {
  try {
    const all = await navigator.mediaDevices.enumerateDevices();
    return {
      audioinput: all.filter((d) => d.kind === 'audioinput'),
      videoinput: all.filter((d) => d.kind === 'videoinput'),
      audiooutput: all.filter((d) => d.kind === 'audiooutput'),
    };
  } catch {
    return { audioinput: [], videoinput: [], audiooutput: [] };
  }
}

export const canPickSpeaker = () => typeof HTMLMediaElement !== 'undefined' && 'setSinkId' in HTMLMediaElement.prototype;

export function stopStream (stream) {
  if (stream) stream.getTracks().forEach((t) => t.stop());
}
