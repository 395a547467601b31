import React, { useCallback, useEffect, useRef, useState } from 'react';
import { Link as RouterLink } from 'react-router-dom';
import {
  Alert, Box, Button, Container, FormControl, IconButton, InputLabel, Link, MenuItem, Select, Stack, TextField, Tooltip, Typography,
} from '@mui/material';
import MicIcon from '@mui/icons-material/Mic';
import MicOffIcon from '@mui/icons-material/MicOff';
import VideocamIcon from '@mui/icons-material/Videocam';
import VideocamOffIcon from '@mui/icons-material/VideocamOff';
import VolumeUpIcon from '@mui/icons-material/VolumeUp';
import { useAuth } from '../auth.jsx';
import * as api from '../api.js';
import { acquireMedia, canPickSpeaker, listDevices, problemText, stopStream } from '../lib/media.js';
import MicLevel from '../components/MicLevel.jsx';
import Logo from '../components/Logo.jsx';
import { initials } from '../lib/code.js';
import { storedQuality, storeQuality } from '../lib/quality.js';
import QualityPicker from '../components/QualityPicker.jsx';

function DevicePicker ({ label, icon, devices, value, onChange, testid }) {
  if (!devices.length) return null;
  return (
    <FormControl size="small" sx={{ minWidth: 0, flex: 1 }}>
      <InputLabel id={testid + '-label'}>{label}</InputLabel>
      <Select labelId={testid + '-label'} label={label} value={devices.some((d) => d.deviceId === value) ? value : devices[0].deviceId}
        onChange={(e) => onChange(e.target.value)} startAdornment={icon} data-testid={testid}
        inputProps={{ 'aria-label': label }}>
        {devices.map((d, i) => <MenuItem key={d.deviceId || i} value={d.deviceId}>{d.label || `${label} ${i + 1}`}</MenuItem>)}
      </Select>
    </FormControl>
  );
}

export default function PreJoin ({ room, viewer, onJoin }) {
  const { user } = useAuth();
  const isHost = !!user && room.host && room.host.id === user.id;
  const [name, setName] = useState(() => (user ? user.name : api.getGuestName()));
  const [stream, setStream] = useState(null);
  const [problems, setProblems] = useState({ audio: null, video: null });
  const [micOn, setMicOn] = useState(true);
  const [camOn, setCamOn] = useState(true);
  const [devices, setDevices] = useState({ audioinput: [], videoinput: [], audiooutput: [] });
  const [sel, setSel] = useState({ audio: '', video: '', speaker: '' });
  const [without, setWithout] = useState(false);
  // What to receive; remembered in this browser for the next meetings.
  const [quality, setQuality] = useState(() => storedQuality());
  const pickQuality = (q) => { setQuality(q); storeQuality(q); };
  const videoRef = useRef(null);
  const streamRef = useRef(null);
  const handedOver = useRef(false);

  const open = useCallback(async (ids = {}) => {
    const { stream: s, problems: p } = await acquireMedia({ audioId: ids.audio || null, videoId: ids.video || null });
    stopStream(streamRef.current);
    streamRef.current = s;
    setStream(s);
    setProblems(p);
    const a = s.getAudioTracks()[0];
    const v = s.getVideoTracks()[0];
    setSel((old) => ({
      ...old,
      audio: a ? a.getSettings().deviceId || old.audio : old.audio,
      video: v ? v.getSettings().deviceId || old.video : old.video,
    }));
    setDevices(await listDevices());
  }, []);

  useEffect(() => {
    if (viewer) return undefined;
    open();
    return () => { if (!handedOver.current) stopStream(streamRef.current); };
  }, [viewer, open]);

  useEffect(() => {
    if (videoRef.current) videoRef.current.srcObject = stream && stream.getVideoTracks().length ? stream : null;
  }, [stream]);

  const audioTrack = stream ? stream.getAudioTracks()[0] : null;
  const videoTrack = stream ? stream.getVideoTracks()[0] : null;
  useEffect(() => { if (audioTrack) audioTrack.enabled = micOn; }, [audioTrack, micOn]);
  useEffect(() => { if (videoTrack) videoTrack.enabled = camOn; }, [videoTrack, camOn]);

  const needName = !user;
  const nameOk = !needName || (name.trim().length > 0 && name.length <= 64);
  const blocked = !viewer && (problems.audio || problems.video);
  const canJoin = nameOk && (viewer || stream) && (!blocked || without || (audioTrack && videoTrack));
  const lobby = !!room.lobby && !isHost;

  const join = (e) => {
    e.preventDefault();
    if (!canJoin) return;
    if (needName) api.setGuestName(name);
    handedOver.current = true;
    onJoin({
      stream: viewer ? new MediaStream() : stream,
      displayName: needName ? name : null,
      micOn: !!audioTrack && micOn,
      camOn: !!videoTrack && camOn,
      speakerId: sel.speaker,
      quality,
    });
  };

  const problemLines = [problemText('video', problems.video), problemText('audio', problems.audio)].filter(Boolean);

  return (
    <Box sx={{ minHeight: '100vh', display: 'flex', flexDirection: 'column' }}>
      <Box sx={{ p: 2 }}><Logo /></Box>
      <Container maxWidth="lg" sx={{ flex: 1, display: 'flex', alignItems: 'center', pb: 4 }}>
        <Stack direction={{ xs: 'column', md: 'row' }} spacing={{ xs: 3, md: 6 }} alignItems="center" sx={{ width: '100%' }}>
          {!viewer && (
            <Box sx={{ flex: 1.4, width: '100%', maxWidth: 740 }}>
              <Box sx={{ position: 'relative', width: '100%', aspectRatio: '16 / 9', bgcolor: '#202124', borderRadius: 2, overflow: 'hidden', boxShadow: 2 }}>
                <video ref={videoRef} autoPlay playsInline muted data-testid="preview"
                  style={{ width: '100%', height: '100%', objectFit: 'cover', transform: 'scaleX(-1)', display: videoTrack && camOn ? 'block' : 'none' }} />
                {!(videoTrack && camOn) && (
                  <Box sx={{ position: 'absolute', inset: 0, display: 'flex', alignItems: 'center', justifyContent: 'center', color: '#e8eaed', textAlign: 'center', p: 2 }}>
                    <Typography>{videoTrack ? 'Camera is off' : problems.video ? 'Camera not available' : 'Starting camera…'}</Typography>
                  </Box>
                )}
                <Typography sx={{ position: 'absolute', top: 12, left: 16, color: '#fff', textShadow: '0 1px 2px #000' }}>{name}</Typography>
                {audioTrack && micOn && <Box sx={{ position: 'absolute', bottom: 18, left: 16 }}><MicLevel track={audioTrack} /></Box>}
                <Stack direction="row" spacing={2} sx={{ position: 'absolute', bottom: 12, left: 0, right: 0, justifyContent: 'center' }}>
                  <Tooltip title={micOn ? 'Turn off microphone' : 'Turn on microphone'}>
                    <span>
                      <IconButton onClick={() => setMicOn((v) => !v)} disabled={!audioTrack} data-testid="prejoin-mic"
                        aria-label={micOn && audioTrack ? 'Turn off microphone' : 'Turn on microphone'} aria-pressed={!micOn}
                        sx={{ width: 56, height: 56, border: micOn ? '1px solid #fff' : 'none', color: '#fff', bgcolor: micOn && audioTrack ? 'transparent' : '#ea4335', '&:hover': { bgcolor: micOn ? 'rgba(255,255,255,.15)' : '#d33426' } }}>
                        {micOn && audioTrack ? <MicIcon /> : <MicOffIcon />}
                      </IconButton>
                    </span>
                  </Tooltip>
                  <Tooltip title={camOn ? 'Turn off camera' : 'Turn on camera'}>
                    <span>
                      <IconButton onClick={() => setCamOn((v) => !v)} disabled={!videoTrack} data-testid="prejoin-cam"
                        aria-label={camOn && videoTrack ? 'Turn off camera' : 'Turn on camera'} aria-pressed={!camOn}
                        sx={{ width: 56, height: 56, border: camOn ? '1px solid #fff' : 'none', color: '#fff', bgcolor: camOn && videoTrack ? 'transparent' : '#ea4335', '&:hover': { bgcolor: camOn ? 'rgba(255,255,255,.15)' : '#d33426' } }}>
                        {camOn && videoTrack ? <VideocamIcon /> : <VideocamOffIcon />}
                      </IconButton>
                    </span>
                  </Tooltip>
                </Stack>
              </Box>
              <Stack direction={{ xs: 'column', sm: 'row' }} spacing={1.5} sx={{ mt: 2 }}>
                <DevicePicker label="Microphone" icon={<MicIcon fontSize="small" sx={{ mr: 1 }} />} devices={devices.audioinput} value={sel.audio} testid="pick-mic"
                  onChange={(id) => { setSel((s) => ({ ...s, audio: id })); open({ audio: id, video: sel.video }); }} />
                <DevicePicker label="Camera" icon={<VideocamIcon fontSize="small" sx={{ mr: 1 }} />} devices={devices.videoinput} value={sel.video} testid="pick-cam"
                  onChange={(id) => { setSel((s) => ({ ...s, video: id })); open({ audio: sel.audio, video: id }); }} />
                {canPickSpeaker() && (
                  <DevicePicker label="Speaker" icon={<VolumeUpIcon fontSize="small" sx={{ mr: 1 }} />} devices={devices.audiooutput} value={sel.speaker} testid="pick-speaker"
                    onChange={(id) => setSel((s) => ({ ...s, speaker: id }))} />
                )}
              </Stack>
            </Box>
          )}

          <Box component="form" onSubmit={join} sx={{ flex: 1, width: '100%', maxWidth: 420, textAlign: 'center', mx: 'auto' }}>
            <Typography variant="h5" component="h1" sx={{ mb: 1 }}>{viewer ? 'Ready to watch?' : lobby ? 'Ask to join?' : 'Ready to join?'}</Typography>
            <Typography color="text.secondary" sx={{ mb: 0.5 }} data-testid="room-title">{room.title}</Typography>
            <Typography variant="body2" color="text.secondary" sx={{ mb: 3 }}>
              {isHost ? 'You are the host' : `Hosted by ${room.host ? room.host.name : 'someone'}`} · {room.code}
            </Typography>
            {room.locked && !isHost && <Alert severity="warning" sx={{ mb: 2, textAlign: 'left' }}>The host has locked this meeting. Nobody else can join right now.</Alert>}
            {problemLines.length > 0 && (
              <Alert severity="warning" sx={{ mb: 2, textAlign: 'left' }} data-testid="media-problem">
                {problemLines.map((l) => <div key={l}>{l}</div>)}
                {!without && (
                  <Button size="small" sx={{ mt: 1, px: 1 }} onClick={() => setWithout(true)} data-testid="continue-without">
                    {audioTrack || videoTrack ? `Continue without ${problems.video ? 'camera' : 'microphone'}` : 'Continue without camera and microphone'}
                  </Button>
                )}
              </Alert>
            )}
            {needName && (
              <TextField fullWidth label="Your name" value={name} onChange={(e) => setName(e.target.value)} sx={{ mb: 2 }}
                slotProps={{ htmlInput: { maxLength: 64, 'data-testid': 'guest-name' } }} autoComplete="name" required
                helperText={room.allow_guests ? ' ' : 'This meeting is for signed-in people only. Sign in on the home page.'} error={!room.allow_guests} />
            )}
            <Box sx={{ maxWidth: 280, mx: 'auto', mb: 2, textAlign: 'left' }}>
              <QualityPicker variant="select" value={quality} onChange={pickQuality} />
            </Box>
            <Stack direction="row" spacing={2} justifyContent="center">
              <Button type="submit" variant="contained" size="large" disabled={!canJoin} data-testid="join-now">
                {viewer ? 'Join as a viewer' : lobby ? 'Ask to join' : 'Join now'}
              </Button>
            </Stack>
            {!viewer && room.mode === 'lecture' && !isHost && (
              <Typography variant="body2" sx={{ mt: 2 }}>
                This is a lecture. <Link component={RouterLink} to={'/watch/' + room.code}>Just watch</Link> without camera or microphone.
              </Typography>
            )}
            {user && (
              <Typography variant="body2" color="text.secondary" sx={{ mt: 3, display: 'flex', alignItems: 'center', justifyContent: 'center', gap: 1 }}>
                <Box component="span" sx={{ width: 24, height: 24, borderRadius: '50%', bgcolor: 'primary.main', color: '#fff', fontSize: 11, display: 'inline-flex', alignItems: 'center', justifyContent: 'center' }}>{initials(user.name)}</Box>
                Joining as {user.name}
              </Typography>
            )}
          </Box>
        </Stack>
      </Container>
    </Box>
  );
}
