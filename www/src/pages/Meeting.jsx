import React, { useCallback, useEffect, useMemo, useReducer, useRef, useState } from 'react';
import {
  Alert, Badge, Box, Button, Chip, CircularProgress, IconButton, ListItemIcon, Menu, MenuItem, Snackbar, Stack,
  ThemeProvider, Tooltip, Typography, useMediaQuery, CssBaseline,
} from '@mui/material';
import MicIcon from '@mui/icons-material/Mic';
import MicOffIcon from '@mui/icons-material/MicOff';
import VideocamIcon from '@mui/icons-material/Videocam';
import VideocamOffIcon from '@mui/icons-material/VideocamOff';
import PresentToAllIcon from '@mui/icons-material/PresentToAll';
import CancelPresentationIcon from '@mui/icons-material/CancelPresentation';
import PanToolIcon from '@mui/icons-material/PanTool';
import ChatIcon from '@mui/icons-material/ChatOutlined';
import PeopleIcon from '@mui/icons-material/PeopleOutlined';
import CallEndIcon from '@mui/icons-material/CallEnd';
import ViewQuiltIcon from '@mui/icons-material/ViewQuiltOutlined';
import GridViewIcon from '@mui/icons-material/GridView';
import RecordVoiceOverIcon from '@mui/icons-material/RecordVoiceOver';
import SlideshowIcon from '@mui/icons-material/Slideshow';
import CheckIcon from '@mui/icons-material/Check';
import ContentCopyIcon from '@mui/icons-material/ContentCopy';
import GraphicEqIcon from '@mui/icons-material/GraphicEq';
import VolumeOffIcon from '@mui/icons-material/VolumeOff';
import MoreVertIcon from '@mui/icons-material/MoreVert';
import LockIcon from '@mui/icons-material/Lock';
import CloseIcon from '@mui/icons-material/Close';
import FiberManualRecordIcon from '@mui/icons-material/FiberManualRecord';
import * as api from '../api.js';
import { darkTheme } from '../theme.js';
import { MeetingSession } from '../lib/session.js';
import { initialMeetingState, isHost as hostOf, meetingReducer, raisedHands, selfParticipant, viewerCount } from '../lib/meetingState.js';
import { formatElapsed, meetingLink } from '../lib/code.js';
import { acquireMedia } from '../lib/media.js';
import SidePanel from '../components/SidePanel.jsx';
import TileOverlay from '../components/TileOverlay.jsx';
import SettingsDialog from '../components/SettingsDialog.jsx';
import SettingsIcon from '@mui/icons-material/SettingsOutlined';
import SignalCellularAltIcon from '@mui/icons-material/SignalCellularAlt';
import HeadphonesIcon from '@mui/icons-material/Headphones';
import UploadIcon from '@mui/icons-material/UploadOutlined';
import { QUALITY_TEXT, audioOnlyView, normalizeQuality, storeQuality, storedQuality, tierChip } from '../lib/quality.js';
import AudioOnlyStage from '../components/AudioOnlyStage.jsx';

function RoundButton ({ label, onClick, active = true, danger = false, children, testid, pressed, disabled, wide = false, small = false }) {
  const size = small ? 44 : 48;
  return (
    <Tooltip title={label}>
      <span>
        <IconButton aria-label={label} onClick={onClick} data-testid={testid} aria-pressed={pressed} disabled={disabled}
          sx={{
            width: wide ? size + 24 : size, height: size, borderRadius: wide ? size / 2 : '50%', color: '#fff',
            bgcolor: danger ? '#ea4335' : active ? '#3c4043' : '#ea4335',
            '&:hover': { bgcolor: danger ? '#d33426' : active ? '#4a4e51' : '#d33426' },
            '&.Mui-disabled': { bgcolor: '#3c4043', color: '#777' },
          }}>
          {children}
        </IconButton>
      </span>
    </Tooltip>
  );
}

function useElapsed (participants) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => { const t = setInterval(() => setNow(Date.now()), 1000); return () => clearInterval(t); }, []);
  const start = useMemo(() => {
    const times = participants.map((p) => Date.parse(p.joined_at)).filter((t) => !isNaN(t));
    return times.length ? Math.min(...times) : Date.now();
  }, [participants]);
  return formatElapsed(now - start);
}

export default function Meeting ({ room, viewer, settings, onEnded }) {
  const phone = useMediaQuery('(max-width:700px)');
  const [state, dispatch] = useReducer(meetingReducer, initialMeetingState);
  const [status, setStatus] = useState('joining');
  const [problem, setProblem] = useState(null);
  const [joinError, setJoinError] = useState(null);
  const [remote, setRemote] = useState(null);
  const [local, setLocal] = useState(settings.stream);
  const [micOn, setMicOn] = useState(!!settings.micOn);
  const [camOn, setCamOn] = useState(!!settings.camOn);
  const [presenting, setPresenting] = useState(false);
  const [panel, setPanel] = useState(null);   // 'chat' | 'people' | null
  const [layoutMenu, setLayoutMenu] = useState(null);
  const [moreMenu, setMoreMenu] = useState(null);
  const [toast, setToast] = useState(null);
  const [soundBlocked, setSoundBlocked] = useState(false);
  const [flash, setFlash] = useState(null);
  // What we receive (Auto, High, Data saver, Audio only), and the limit the
  // server asked our camera to keep while our upload is poor.
  // (What this browser remembers: changed in an earlier try of this meeting, after the pre-join page.)
  const [quality, setQuality] = useState(() => storedQuality(undefined, normalizeQuality(settings.quality)));
  const [uplink, setUplink] = useState(null);
  const sessionRef = useRef(null);
  const panelRef = useRef(panel);
  panelRef.current = panel;
  const remoteRef = useRef(null);
  const selfRef = useRef(null);
  const host = hostOf(state);
  const me = selfParticipant(state);
  const hand = !!(me && me.hand_raised);
  const elapsed = useElapsed(state.participants);
  // Lectures are shared as their viewer page.
  const link = meetingLink(window.location.origin, room.code, viewer || room.mode === 'lecture');

  // ---- the session -------------------------------------------------------
  useEffect(() => {
    let cancelled = false;
    let session = null;
    (async () => {
      let stream = settings.stream;
      // Back from the end screen: the tracks were stopped; take them again.
      if (!viewer && stream && stream.getTracks().some((t) => t.readyState === 'ended')) {
        stream = (await acquireMedia({ audio: settings.micOn, video: settings.camOn })).stream;
        if (cancelled) { stream.getTracks().forEach((t) => t.stop()); return; }
        setLocal(stream);
      }
      if (stream) {
        stream.getAudioTracks().forEach((t) => { t.enabled = !!settings.micOn; });
        stream.getVideoTracks().forEach((t) => { t.enabled = !!settings.camOn; });
      }
      session = new MeetingSession({ code: room.code, displayName: settings.displayName, viewer, stream: viewer ? null : stream, quality });
      sessionRef.current = session;
      window.__mixmeet = { session };
      const sendInitialState = () => {
        const st = {};
        if (session.audioTrack && !session.audioTrack.enabled) st.audio_muted = true;
        if (session.videoTrack && !session.videoTrack.enabled) st.video_muted = true;
        if (Object.keys(st).length) session.sendState(st);
      };
      session.on('join', (join) => {
        dispatch({ type: 'join', join });
        if (join.participant.can_publish === false) {
          setMicOn(false);
          setCamOn(false);
          if (session.audioTrack) session.audioTrack.enabled = false;
          if (session.videoTrack) session.videoTrack.enabled = false;
        }
        // Tell the others what we start with (again after a rejoin).
        if (join.admitted !== false) sendInitialState();
      });
      session.on('event', (ev) => {
        dispatch({ type: 'event', event: ev, chatOpen: panelRef.current === 'chat' });
        if (ev.type === 'admitted') sendInitialState();
      });
      session.on('status', setStatus);
      session.on('problem', setProblem);
      session.on('remote', setRemote);
      session.on('local', (s) => setLocal(new MediaStream(s.getTracks())));
      session.on('presenting', setPresenting);
      session.on('uplink', setUplink);
      // Only the host's mute turns the mic off here: the echo of our own
      // mute may arrive after we turned it on again (Ctrl+D twice).
      session.on('self', (p) => { if (p.audio_muted && p.muted_by_host) setMicOn(false); });
      session.on('error', (text) => setFlash(text));
      session.on('ended', (e) => {
        if (cancelled) return;   // unmounting: the page has moved on already
        if (session.localStream) session.localStream.getTracks().forEach((t) => t.stop());
        onEnded(e);
      });
      try {
        await session.start();
      } catch (err) {
        if (cancelled) return;
        const code = api.errorCode(err);
        if (code === 'room_locked') onEnded({ reason: 'locked' });
        else setJoinError(api.errorText(err));
      }
    })();
    const onHide = () => {
      const s = sessionRef.current;
      if (s && s.join && !s.stopped) {
        fetch(s.join.signalling.leave, { method: 'POST', keepalive: true, headers: { Authorization: 'Bearer ' + s.join.secret } });
      }
    };
    window.addEventListener('pagehide', onHide);
    return () => {
      cancelled = true;
      window.removeEventListener('pagehide', onHide);
      if (session && !session.stopped) session.leave();
      if (session && session.localStream) session.localStream.getTracks().forEach((t) => t.stop());
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  useEffect(() => {
    const before = document.title;
    document.title = `${room.title} · ${room.code} · mixmeet`;
    return () => { document.title = before; };
  }, [room.title, room.code]);

  const [readyCard, setReadyCard] = useState(true);
  const [settingsOpen, setSettingsOpen] = useState(false);
  const [speakerId, setSpeakerId] = useState(settings.speakerId || '');
  const currentDevices = {
    audio: local && local.getAudioTracks()[0] ? local.getAudioTracks()[0].getSettings().deviceId : '',
    video: local && local.getVideoTracks()[0] ? local.getVideoTracks()[0].getSettings().deviceId : '',
    speaker: speakerId,
  };
  const pickDevice = async (kind, id) => {
    if (kind === 'speaker') {
      setSpeakerId(id);
      const v = remoteRef.current;
      if (v && v.setSinkId) v.setSinkId(id).catch(() => setFlash('This speaker cannot be used.'));
      return;
    }
    const s = sessionRef.current;
    try {
      if (s && (kind === 'audio' ? s.audioTrack : s.videoTrack)) await s.switchDevice(kind, id);
    } catch {
      setFlash(`That ${kind === 'audio' ? 'microphone' : 'camera'} could not be started.`);
    }
  };

  // ---- media elements ------------------------------------------------------
  useEffect(() => {
    const v = remoteRef.current;
    if (!v) return;
    v.srcObject = remote;
    if (remote) {
      v.muted = false;
      v.play().then(() => setSoundBlocked(false)).catch(() => {
        // Autoplay with sound refused: play muted, offer a button.
        v.muted = true;
        setSoundBlocked(true);
        v.play().catch(() => {});
      });
      if (speakerId && v.setSinkId) v.setSinkId(speakerId).catch(() => {});
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [remote]);

  useEffect(() => {
    if (selfRef.current) selfRef.current.srcObject = local && local.getVideoTracks().length ? local : null;
  }, [local, camOn]);

  // Toasts, one at a time.
  useEffect(() => {
    if (!toast && state.notices.length) {
      const n = state.notices[0];
      setToast(n);
      dispatch({ type: 'dismiss', id: n.id });
    }
  }, [state.notices, toast]);

  // ---- controls ------------------------------------------------------------
  const cannotSend = () => {
    const s = sessionRef.current;
    if (s && s.canPublish === false) { setFlash('In a lecture only the host and presenters send. Raise your hand to ask.'); return true; }
    return false;
  };
  const toggleMic = useCallback(async () => {
    const s = sessionRef.current;
    if (!s || !s.join) return;
    if (!micOn && cannotSend()) return;
    const next = !micOn;
    setMicOn(next);
    try { await s.setMuted('audio', !next); } catch { setMicOn(false); setFlash('The microphone could not be started.'); }
  }, [micOn]);
  const toggleCam = useCallback(async () => {
    const s = sessionRef.current;
    if (!s || !s.join) return;
    if (!camOn && cannotSend()) return;
    const next = !camOn;
    setCamOn(next);
    try { await s.setMuted('video', !next); } catch { setCamOn(false); setFlash('The camera could not be started.'); }
  }, [camOn]);

  // Ctrl+D / Ctrl+E act on the state now on screen: the listener stays the
  // same and reads the latest toggles from a ref set while rendering (an
  // effect would swap them only after the paint, so a quick second press
  // could still see the old state and do nothing).
  const shortcuts = useRef(null);
  shortcuts.current = { toggleMic, toggleCam };
  useEffect(() => {
    const onKey = (e) => {
      if (!(e.ctrlKey || e.metaKey) || e.altKey || e.shiftKey) return;
      const k = e.key.toLowerCase();
      if (k === 'd') { e.preventDefault(); shortcuts.current.toggleMic(); }
      else if (k === 'e') { e.preventDefault(); shortcuts.current.toggleCam(); }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  const togglePresent = async () => {
    const s = sessionRef.current;
    if (!s) return;
    if (presenting) { s.stopPresenting(); return; }
    if (cannotSend()) return;
    let stream;
    try {
      stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: 15 }, audio: false });
    } catch (err) {
      if (err && err.name !== 'NotAllowedError') setFlash('Screen sharing is not available here.');
      return;
    }
    await s.startPresenting(stream.getVideoTracks()[0]);
  };

  const setLayout = (layout) => {
    setLayoutMenu(null);
    setMoreMenu(null);
    sessionRef.current.hostMessage({ type: 'layout', layout }).catch((err) => setFlash(api.errorText(err)));
  };

  const copyLink = async () => {
    try {
      await navigator.clipboard.writeText(link);
      setFlash('Meeting link copied');
    } catch {
      window.prompt('Copy the meeting link', link);
    }
  };

  // Another receive quality: remembered here, told to the server; undone if it refuses.
  const changeQuality = async (q) => {
    const before = quality;
    if (q === before) return;
    setQuality(q);
    storeQuality(q);
    const s = sessionRef.current;
    if (!s) return;
    try {
      await s.setQuality(q);
    } catch (err) {
      const text = api.errorText(err);
      setFlash(/unknown message type/i.test(text) ? QUALITY_TEXT.unsupported : text);
      setQuality(before);
      storeQuality(before);
    }
  };

  const leave = () => { const s = sessionRef.current; if (s) s.leave(); else onEnded({ reason: 'left' }); };
  const openPanel = (p) => {
    setPanel((cur) => (cur === p ? null : p));
    if (p === 'chat') dispatch({ type: 'chat-open' });
  };

  // ---- view ------------------------------------------------------------------
  const speaker = state.activeSpeaker && state.participants.some((p) => p.id === state.activeSpeaker.participant_id) ? state.activeSpeaker : null;
  const hands = raisedHands(state);
  const hasVideo = local && local.getVideoTracks().length > 0;
  const peopleCount = state.participants.length;
  const viewers = viewerCount(state);
  const layoutName = state.layout.layout;
  // Audio only (chosen, or no video from the server): who speaks instead of the picture.
  const audioOnly = audioOnlyView(quality, state.tier);
  const capForMe = room.mode === 'lecture' && me && me.can_publish === false ? state.viewerCap : null;
  const tier = tierChip(state.tier, quality, capForMe);

  if (joinError) {
    return (
      <ThemeProvider theme={darkTheme}><CssBaseline />
        <Box sx={{ minHeight: '100vh', display: 'flex', alignItems: 'center', justifyContent: 'center', p: 3 }}>
          <Stack spacing={2} alignItems="center" textAlign="center">
            <Typography variant="h5">Could not join the meeting</Typography>
            <Typography color="text.secondary" data-testid="join-error">{joinError}</Typography>
            <Button variant="contained" href="/">Return to home screen</Button>
          </Stack>
        </Box>
      </ThemeProvider>
    );
  }

  const lobbyWait = status === 'lobby' || (state.selfId && !state.admitted);

  const controls = (
    <Stack direction="row" spacing={{ xs: 1, sm: 1.5 }} justifyContent="center" alignItems="center" role="toolbar" aria-label="Meeting controls">
      <RoundButton label={micOn ? 'Turn off microphone (Ctrl+D)' : 'Turn on microphone (Ctrl+D)'} active={micOn} onClick={toggleMic}
        testid="toggle-mic" pressed={!micOn} small={phone} disabled={lobbyWait}>
        {micOn ? <MicIcon /> : <MicOffIcon />}
      </RoundButton>
      <RoundButton label={camOn ? 'Turn off camera (Ctrl+E)' : 'Turn on camera (Ctrl+E)'} active={camOn} onClick={toggleCam}
        testid="toggle-cam" pressed={!camOn} small={phone} disabled={lobbyWait}>
        {camOn ? <VideocamIcon /> : <VideocamOffIcon />}
      </RoundButton>
      {!phone && (
        <RoundButton label={presenting ? 'Stop presenting' : 'Present now'} onClick={togglePresent} testid="toggle-present"
          pressed={presenting} disabled={lobbyWait || !navigator.mediaDevices || !navigator.mediaDevices.getDisplayMedia}>
          {presenting ? <CancelPresentationIcon sx={{ color: '#8ab4f8' }} /> : <PresentToAllIcon />}
        </RoundButton>
      )}
      <RoundButton label={hand ? 'Lower hand' : 'Raise hand'} onClick={() => sessionRef.current.setHand(!hand)} testid="toggle-hand"
        pressed={hand} small={phone} disabled={lobbyWait}>
        <PanToolIcon sx={{ color: hand ? '#8ab4f8' : undefined }} />
      </RoundButton>
      {!phone && (
        <RoundButton label={host ? 'Change layout' : 'Layout (the host chooses)'} onClick={(e) => setLayoutMenu(e.currentTarget)} testid="layout-button" disabled={lobbyWait}>
          <ViewQuiltIcon />
        </RoundButton>
      )}
      <RoundButton label="More options" onClick={(e) => setMoreMenu(e.currentTarget)} testid="more-button" small={phone}>
        <MoreVertIcon />
      </RoundButton>
      <RoundButton label="Leave call" danger wide onClick={leave} testid="leave" small={phone}>
        <CallEndIcon />
      </RoundButton>
    </Stack>
  );

  const sideButtons = (
    <Stack direction="row" spacing={0.5}>
      <Tooltip title="Chat with everyone">
        <IconButton aria-label="Chat with everyone" onClick={() => openPanel('chat')} data-testid="open-chat" aria-pressed={panel === 'chat'}
          sx={{ color: panel === 'chat' ? '#8ab4f8' : '#e8eaed' }} disabled={lobbyWait}>
          <Badge color="primary" badgeContent={state.unreadChat} max={99}><ChatIcon /></Badge>
        </IconButton>
      </Tooltip>
      <Tooltip title="Show everyone">
        <IconButton aria-label={`Show everyone (${peopleCount})`} onClick={() => openPanel('people')} data-testid="open-people" aria-pressed={panel === 'people'}
          sx={{ color: panel === 'people' ? '#8ab4f8' : '#e8eaed' }} disabled={lobbyWait}>
          <Badge color={state.lobby.length ? 'error' : 'default'} badgeContent={state.lobby.length || peopleCount}
            sx={{ '& .MuiBadge-badge': { bgcolor: state.lobby.length ? undefined : '#5f6368', color: '#fff' } }}><PeopleIcon /></Badge>
        </IconButton>
      </Tooltip>
    </Stack>
  );

  const info = (
    <Stack direction="row" spacing={1} alignItems="center" sx={{ color: '#e8eaed', minWidth: 0 }}>
      <Typography variant="body1" data-testid="elapsed" aria-label="Elapsed time">{elapsed}</Typography>
      <Typography sx={{ color: '#9aa0a6' }}>|</Typography>
      <Typography variant="body1" noWrap data-testid="meeting-code">{room.code}</Typography>
      {state.locked && <Tooltip title="The meeting is locked"><LockIcon fontSize="small" aria-label="Locked" /></Tooltip>}
      {host && room.mode === 'lecture' && (
        <Typography variant="body1" noWrap data-testid="viewer-count" data-count={viewers}
          aria-label={`${viewers} watching`} sx={{ color: '#9aa0a6' }}>· {viewers} watching</Typography>
      )}
      <Tooltip title="Copy joining link">
        <IconButton size="small" onClick={copyLink} aria-label="Copy joining link" data-testid="copy-link" sx={{ color: '#e8eaed' }}>
          <ContentCopyIcon fontSize="small" />
        </IconButton>
      </Tooltip>
    </Stack>
  );

  return (
    <ThemeProvider theme={darkTheme}>
      <CssBaseline />
      <Box sx={{ height: '100dvh', display: 'flex', flexDirection: 'column', bgcolor: '#202124', overflow: 'hidden' }} data-testid="meeting" data-status={status}>
        {phone && (
          <Stack direction="row" alignItems="center" sx={{ px: 1.5, pt: 1, justifyContent: 'space-between' }}>
            {info}
            {sideButtons}
          </Stack>
        )}
        {problem && (
          <Alert severity="warning" variant="filled" role="status" data-testid="problem-banner" sx={{ borderRadius: 0 }}
            icon={<CircularProgress size={18} color="inherit" />}>
            {problem.text}
          </Alert>
        )}
        <Box sx={{ flex: 1, display: 'flex', minHeight: 0, p: { xs: 1, sm: 2 }, pb: 0, gap: 2 }}>
          <Box sx={{ flex: 1, position: 'relative', minWidth: 0, borderRadius: 2, overflow: 'hidden', bgcolor: '#000' }} data-testid="stage"
            data-layout={layoutName} data-tiles={state.layout.tiles.filter((t) => t.participant_id).length} data-screen-tile={state.layout.tiles.some((t) => t.screen) ? 'true' : 'false'}>
            <video ref={remoteRef} autoPlay playsInline data-testid="composite" aria-label="The meeting" aria-hidden={audioOnly ? 'true' : undefined}
              style={{ width: '100%', height: '100%', objectFit: 'contain', display: 'block', visibility: audioOnly ? 'hidden' : 'visible' }} />
            {audioOnly && !lobbyWait && (
              <AudioOnlyStage speaker={speaker} onVideoOn={() => changeQuality('auto')}
                reason={quality === 'audio-only' ? 'chosen' : capForMe === 'audio-only' ? 'cap' : 'slow'} />
            )}
            {remote && !audioOnly && <TileOverlay videoRef={remoteRef} layout={state.layout} participants={state.participants}
              speakerId={speaker ? speaker.participant_id : null} />}
            {(!remote || status === 'connecting' || status === 'joining') && !lobbyWait && (
              <Stack sx={{ position: 'absolute', inset: 0, alignItems: 'center', justifyContent: 'center', color: '#e8eaed', gap: 2 }}>
                <CircularProgress color="inherit" aria-label="Connecting" />
                <Typography>{status === 'joining' ? 'Joining…' : 'Connecting…'}</Typography>
              </Stack>
            )}
            {lobbyWait && (
              <Stack sx={{ position: 'absolute', inset: 0, alignItems: 'center', justifyContent: 'center', color: '#e8eaed', gap: 2, textAlign: 'center', p: 2 }} data-testid="lobby-wait">
                <CircularProgress color="inherit" />
                <Typography variant="h6">Asking to join…</Typography>
                <Typography color="#9aa0a6">You'll join the call when someone lets you in</Typography>
              </Stack>
            )}
            <Stack direction="row" spacing={1} sx={{ position: 'absolute', top: 12, left: 12, right: 12, flexWrap: 'wrap', gap: 1 }}>
              {state.recording && (
                <Chip icon={<FiberManualRecordIcon sx={{ color: '#ea4335 !important' }} />} label="Recording" data-testid="recording-chip"
                  sx={{ bgcolor: 'rgba(32,33,36,.8)', color: '#fff' }} aria-live="polite" />
              )}
              {tier && (
                <Tooltip title={tier.tooltip}>
                  <Chip icon={state.tier.tier === 'audio-only' ? <HeadphonesIcon /> : <SignalCellularAltIcon />} label={tier.label}
                    data-testid="tier-chip" data-tier={state.tier.tier} tabIndex={0} aria-label={`${tier.label}. ${tier.tooltip}`}
                    sx={{ bgcolor: 'rgba(32,33,36,.8)', color: '#fff', '& .MuiChip-icon': { color: '#8ab4f8' } }} />
                </Tooltip>
              )}
              {speaker && !audioOnly && (
                <Chip icon={<GraphicEqIcon />} label={`${speaker.display_name} is speaking`} data-testid="active-speaker"
                  sx={{ bgcolor: 'rgba(32,33,36,.8)', color: '#fff' }} />
              )}
              {hands.length > 0 && (
                <Chip icon={<PanToolIcon />} onClick={() => openPanel('people')} data-testid="hands-chip"
                  label={hands.length === 1 ? `${hands[0].display_name} raised a hand` : `${hands.length} raised hands`}
                  sx={{ bgcolor: '#8ab4f8', color: '#202124', '& .MuiChip-icon': { color: '#202124' } }} />
              )}
              {layoutName === 'presentation' && !presenting && (
                <Chip icon={<SlideshowIcon />} label="Presentation" sx={{ bgcolor: 'rgba(32,33,36,.8)', color: '#fff' }} />
              )}
            </Stack>
            {presenting && (
              <Stack direction="row" spacing={1} alignItems="center" data-testid="presenting-bar"
                sx={{ position: 'absolute', top: 56, left: '50%', transform: 'translateX(-50%)', bgcolor: '#2d2e31', color: '#e8eaed', borderRadius: 2, px: 2, py: 0.5 }}>
                <PresentToAllIcon fontSize="small" />
                <Typography variant="body2">You are presenting</Typography>
                <Button size="small" onClick={togglePresent}>Stop presenting</Button>
              </Stack>
            )}
            {readyCard && host && state.participants.length <= 1 && status === 'connected' && (
              <Box role="dialog" aria-label="Your meeting's ready" data-testid="ready-card"
                sx={{ position: 'absolute', left: 16, bottom: 16, width: 320, maxWidth: 'calc(100% - 32px)', bgcolor: '#fff', color: '#202124', borderRadius: 2, p: 2, boxShadow: 6 }}>
                <Stack direction="row" alignItems="center">
                  <Typography variant="subtitle1" sx={{ flex: 1 }}>Your meeting's ready</Typography>
                  <IconButton size="small" aria-label="Close" onClick={() => setReadyCard(false)} sx={{ color: '#5f6368' }}><CloseIcon fontSize="small" /></IconButton>
                </Stack>
                <Typography variant="body2" sx={{ color: '#5f6368', mb: 1 }}>Share this joining info with people you want in the meeting</Typography>
                <Stack direction="row" alignItems="center" sx={{ bgcolor: '#f1f3f4', borderRadius: 1, pl: 1.5 }}>
                  <Typography variant="body2" noWrap sx={{ flex: 1 }}>{link.replace(/^https?:\/\//, '')}</Typography>
                  <IconButton aria-label="Copy joining info" onClick={copyLink} sx={{ color: '#5f6368' }}><ContentCopyIcon fontSize="small" /></IconButton>
                </Stack>
              </Box>
            )}
            {soundBlocked && (
              <Button variant="contained" startIcon={<VolumeOffIcon />} data-testid="enable-sound"
                sx={{ position: 'absolute', bottom: 16, left: 16 }}
                onClick={() => { const v = remoteRef.current; v.muted = false; v.play().then(() => setSoundBlocked(false)).catch(() => {}); }}>
                Turn on sound
              </Button>
            )}
            {!viewer || hasVideo ? (
              <Box sx={{ position: 'absolute', right: 12, bottom: 12, width: { xs: 96, sm: 200 }, aspectRatio: '16 / 9', borderRadius: 1.5, overflow: 'hidden', bgcolor: '#3c4043', boxShadow: 4 }} data-testid="self-view">
                {hasVideo && camOn ? (
                  <video ref={selfRef} autoPlay playsInline muted aria-label="Your camera" style={{ width: '100%', height: '100%', objectFit: 'cover', transform: 'scaleX(-1)' }} />
                ) : (
                  <Stack sx={{ height: '100%', alignItems: 'center', justifyContent: 'center', color: '#e8eaed' }}>
                    <Typography variant="caption">{hasVideo ? 'Camera off' : 'No camera'}</Typography>
                  </Stack>
                )}
                <Typography variant="caption" sx={{ position: 'absolute', left: 6, bottom: 2, color: '#fff', textShadow: '0 1px 2px #000' }}>You</Typography>
                {uplink && (
                  <Tooltip title={QUALITY_TEXT.uplink(uplink)}>
                    <UploadIcon data-testid="uplink-limited" aria-label={QUALITY_TEXT.uplink(uplink)}
                      sx={{ position: 'absolute', left: 4, top: 4, fontSize: 18, color: '#202124', bgcolor: '#fdd663', borderRadius: '50%', p: '2px' }} />
                  </Tooltip>
                )}
                {!micOn && <MicOffIcon sx={{ position: 'absolute', right: 4, top: 4, fontSize: 16, color: '#fff', bgcolor: '#ea4335', borderRadius: '50%', p: '2px' }} aria-label="Your microphone is off" />}
              </Box>
            ) : null}
          </Box>
          <SidePanel open={panel} phone={phone} onClose={() => setPanel(null)} state={state} session={sessionRef.current}
            host={host} onError={setFlash} lecture={room.mode === 'lecture'} />
        </Box>
        <Box sx={{ display: 'flex', alignItems: 'center', px: 2, py: { xs: 1, sm: 1.5 }, gap: 2 }}>
          {!phone && <Box sx={{ flex: 1, minWidth: 0 }}>{info}</Box>}
          <Box sx={{ flex: phone ? 1 : 'none' }}>{controls}</Box>
          {!phone && <Box sx={{ flex: 1, display: 'flex', justifyContent: 'flex-end' }}>{sideButtons}</Box>}
        </Box>

        <Menu anchorEl={layoutMenu} open={!!layoutMenu} onClose={() => setLayoutMenu(null)}>
          {!host && <MenuItem disabled>Only the host chooses the layout</MenuItem>}
          {[['grid', 'Tiled', <GridViewIcon key="g" />], ['speaker', 'Spotlight the speaker', <RecordVoiceOverIcon key="s" />],
            ['presentation', 'Presentation', <SlideshowIcon key="p" />]].map(([id, label, icon]) => (
            <MenuItem key={id} disabled={!host} selected={layoutName === id} onClick={() => setLayout(id)} data-testid={'layout-' + id}>
              <ListItemIcon>{icon}</ListItemIcon>{label}{layoutName === id && <CheckIcon fontSize="small" sx={{ ml: 2 }} />}
            </MenuItem>
          ))}
        </Menu>
        <Menu anchorEl={moreMenu} open={!!moreMenu} onClose={() => setMoreMenu(null)}>
          {host && (
            <MenuItem data-testid="toggle-record" onClick={() => {
              setMoreMenu(null);
              sessionRef.current.hostMessage({ type: 'record', on: !state.recording }).catch((err) => {
                const text = api.errorText(err);
                setFlash(/unknown message type/i.test(text) ? 'This server cannot record yet.' : text);
              });
            }}>
              <ListItemIcon><FiberManualRecordIcon sx={{ color: '#ea4335' }} /></ListItemIcon>
              {state.recording ? 'Stop recording' : 'Record the meeting'}
            </MenuItem>
          )}
          <MenuItem onClick={() => { setMoreMenu(null); setSettingsOpen(true); }} data-testid="open-settings">
            <ListItemIcon><SettingsIcon /></ListItemIcon>Settings
          </MenuItem>
          {phone && host && ['grid', 'speaker', 'presentation'].map((id) => (
            <MenuItem key={id} selected={layoutName === id} onClick={() => setLayout(id)}>
              <ListItemIcon>{id === 'grid' ? <GridViewIcon /> : id === 'speaker' ? <RecordVoiceOverIcon /> : <SlideshowIcon />}</ListItemIcon>
              Layout: {id}
            </MenuItem>
          ))}
          <MenuItem onClick={() => { setMoreMenu(null); copyLink(); }}><ListItemIcon><ContentCopyIcon /></ListItemIcon>Copy joining link</MenuItem>
        </Menu>

        <SettingsDialog open={settingsOpen} onClose={() => setSettingsOpen(false)} current={currentDevices} onPick={pickDevice}
          quality={quality} onQuality={changeQuality} />
        <Snackbar open={!!toast} autoHideDuration={toast && toast.kind === 'knock' ? 10000 : 4000} onClose={(_, why) => { if (why !== 'clickaway') setToast(null); }}
          anchorOrigin={{ vertical: 'bottom', horizontal: 'left' }} sx={{ bottom: { xs: 80, sm: 90 } }}
          message={<span data-testid="toast" data-kind={toast ? toast.kind : ''}>{toast ? toast.text : ''}</span>}
          action={toast && toast.kind === 'knock' && host ? (
            <>
              <Button size="small" onClick={() => { sessionRef.current.hostMessage({ type: 'admit', participant_id: toast.participant_id }).catch((e) => setFlash(api.errorText(e))); setToast(null); }} data-testid="toast-admit">Admit</Button>
              <Button size="small" onClick={() => { setToast(null); setPanel('people'); }}>View</Button>
            </>
          ) : undefined} />
        <Snackbar open={!!flash} autoHideDuration={3500} onClose={() => setFlash(null)} message={flash}
          anchorOrigin={{ vertical: 'top', horizontal: 'center' }} />
      </Box>
    </ThemeProvider>
  );
}
