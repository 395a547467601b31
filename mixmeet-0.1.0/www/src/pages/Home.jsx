import React, { useEffect, useState } from 'react';
import { useNavigate } from 'react-router-dom';
import {
  Alert, AppBar, Avatar, Box, Button, Card, CardActionArea, CardContent, Chip, Container, Dialog, DialogActions,
  DialogContent, DialogTitle, IconButton, InputAdornment, ListItemIcon, ListItemText, Menu, MenuItem, Stack,
  TextField, Toolbar, Tooltip, Typography,
} from '@mui/material';
import PlayCircleIcon from '@mui/icons-material/PlayCircle';
import VideoCallIcon from '@mui/icons-material/VideoCall';
import KeyboardIcon from '@mui/icons-material/Keyboard';
import AddIcon from '@mui/icons-material/Add';
import MeetingRoomIcon from '@mui/icons-material/MeetingRoom';
import SchoolIcon from '@mui/icons-material/School';
import LogoutIcon from '@mui/icons-material/Logout';
import HistoryIcon from '@mui/icons-material/History';
import { useAuth } from '../auth.jsx';
import * as api from '../api.js';
import { formatBytes, formatDuration, initials, isWatchLink, parseMeetingCode } from '../lib/code.js';
import SignInDialog from '../components/SignInDialog.jsx';
import Logo from '../components/Logo.jsx';

function when (iso) {
  const d = new Date(iso);
  return isNaN(d) ? '' : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

function recordingLabel (r) {
  if (r.status === 'recording') return 'Recording now';
  const parts = [`Recording ${when(r.started_at)}`, formatDuration(Math.round((r.duration_ms || 0) / 1000)), formatBytes(r.bytes)];
  if (r.status === 'interrupted') parts.push('cut off');
  return parts.join(' · ');
}

// A recording plays in a dialog; the server's signed link needs no token,
// serves byte ranges and so lets the player seek.
function RecordingDialog ({ recording, onClose }) {
  return (
    <Dialog open={!!recording} onClose={onClose} maxWidth="md" fullWidth data-testid="recording-dialog">
      {recording && (<>
        <DialogTitle>{recordingLabel(recording)}</DialogTitle>
        <DialogContent>
          <Box component="video" controls autoPlay src={recording.url} data-testid="recording-video"
            sx={{ width: '100%', aspectRatio: '16 / 9', bgcolor: 'black', borderRadius: 1 }} />
        </DialogContent>
        <DialogActions>
          <Button href={recording.url} download={recording.file}>Download</Button>
          <Button onClick={onClose} data-testid="close-recording">Close</Button>
        </DialogActions>
      </>)}
    </Dialog>
  );
}

export default function Home () {
  const { user, signOut } = useAuth();
  const navigate = useNavigate();
  const [joinText, setJoinText] = useState('');
  const [menu, setMenu] = useState(null);
  const [userMenu, setUserMenu] = useState(null);
  const [signIn, setSignIn] = useState({ open: false, tab: 0, then: null });
  const [error, setError] = useState(null);
  const [meetings, setMeetings] = useState(null);
  const [playing, setPlaying] = useState(null);
  const code = parseMeetingCode(joinText);

  useEffect(() => {
    if (!user) { setMeetings(null); return; }
    api.myMeetings(20).then(setMeetings).catch(() => setMeetings([]));
  }, [user]);

  const create = async (kind) => {
    setMenu(null);
    setError(null);
    try {
      const room = await api.createRoom({
        title: kind === 'lecture' ? `${user.name}'s lecture` : `${user.name}'s meeting`,
        mode: kind === 'lecture' ? 'lecture' : 'meeting',
        lobby: kind === 'lobby',
      });
      navigate('/' + room.code);
    } catch (err) {
      setError(errorMsg(err));
    }
  };
  const errorMsg = (err) => (api.errorCode(err) === 'invalid_input' && /lobby/.test(api.errorText(err))
    ? 'This server does not support lobbies yet.' : api.errorText(err));

  const onNew = (e) => {
    if (!user) setSignIn({ open: true, tab: 0, then: 'new' });
    else setMenu(e.currentTarget);
  };
  const join = (e) => {
    e.preventDefault();
    if (code) navigate((isWatchLink(joinText) ? '/watch/' : '/') + code);
  };

  return (
    <Box sx={{ minHeight: '100vh', display: 'flex', flexDirection: 'column' }}>
      <AppBar position="static" color="transparent" elevation={0} sx={{ borderBottom: 1, borderColor: 'divider' }}>
        <Toolbar>
          <Logo />
          <Box sx={{ flex: 1 }} />
          {user ? (
            <>
              <Tooltip title={`${user.name} (${user.email})`}>
                <IconButton onClick={(e) => setUserMenu(e.currentTarget)} aria-label={`Account: ${user.name}`} data-testid="account-button">
                  <Avatar sx={{ bgcolor: 'primary.main', width: 36, height: 36 }}>{initials(user.name)}</Avatar>
                </IconButton>
              </Tooltip>
              <Menu anchorEl={userMenu} open={!!userMenu} onClose={() => setUserMenu(null)}>
                <MenuItem disabled><ListItemText primary={user.name} secondary={user.email} /></MenuItem>
                <MenuItem onClick={() => { setUserMenu(null); signOut(); }}>
                  <ListItemIcon><LogoutIcon fontSize="small" /></ListItemIcon>Sign out
                </MenuItem>
              </Menu>
            </>
          ) : (
            <Stack direction="row" spacing={1}>
              <Button onClick={() => setSignIn({ open: true, tab: 0 })} data-testid="signin-button">Sign in</Button>
              <Button variant="outlined" onClick={() => setSignIn({ open: true, tab: 1 })} data-testid="signup-button"
                sx={{ display: { xs: 'none', sm: 'inline-flex' } }}>Sign up</Button>
            </Stack>
          )}
        </Toolbar>
      </AppBar>

      <Container maxWidth="md" sx={{ flex: 1, py: { xs: 4, md: 10 } }}>
        <Typography variant="h3" component="h1" sx={{ fontSize: { xs: 30, md: 44 }, fontWeight: 400, mb: 2 }}>
          Video calls and meetings for everyone
        </Typography>
        <Typography variant="h6" color="text.secondary" sx={{ fontWeight: 400, mb: 5, fontSize: { xs: 16, md: 20 } }}>
          Connect, collaborate and teach from anywhere with mixmeet: one stream up, one stream down, however big the meeting.
        </Typography>
        {error && <Alert severity="error" sx={{ mb: 2 }} onClose={() => setError(null)}>{error}</Alert>}
        <Stack direction={{ xs: 'column', sm: 'row' }} spacing={2} alignItems={{ xs: 'stretch', sm: 'center' }} component="form" onSubmit={join}>
          <Button variant="contained" size="large" startIcon={<VideoCallIcon />} onClick={onNew} data-testid="new-meeting"
            aria-haspopup="menu" sx={{ py: 1.5, whiteSpace: 'nowrap' }}>
            New meeting
          </Button>
          <TextField placeholder="Enter a code or link" value={joinText} onChange={(e) => setJoinText(e.target.value)}
            sx={{ flex: 1, maxWidth: { sm: 320 } }}
            slotProps={{ htmlInput: { 'aria-label': 'Meeting code or link', 'data-testid': 'join-code' }, input: { startAdornment: <InputAdornment position="start"><KeyboardIcon /></InputAdornment> } }}
            error={!!joinText.trim() && !code} helperText={joinText.trim() && !code ? 'Codes look like abc-defg-hij' : undefined} />
          <Button type="submit" disabled={!code} data-testid="join-button" size="large">Join</Button>
        </Stack>
        <Menu anchorEl={menu} open={!!menu} onClose={() => setMenu(null)}>
          <MenuItem onClick={() => create('instant')} data-testid="new-instant">
            <ListItemIcon><AddIcon /></ListItemIcon>Start an instant meeting
          </MenuItem>
          <MenuItem onClick={() => create('lobby')} data-testid="new-lobby">
            <ListItemIcon><MeetingRoomIcon /></ListItemIcon>Start a meeting with a lobby
          </MenuItem>
          <MenuItem onClick={() => create('lecture')} data-testid="new-lecture">
            <ListItemIcon><SchoolIcon /></ListItemIcon>Start a lecture
          </MenuItem>
        </Menu>

        {user && (
          <Box sx={{ mt: 8 }}>
            <Typography variant="h6" sx={{ display: 'flex', alignItems: 'center', gap: 1, mb: 2 }}>
              <HistoryIcon /> Your recent meetings
            </Typography>
            {meetings && meetings.length === 0 && <Typography color="text.secondary">No meetings yet. Start one!</Typography>}
            <Stack spacing={1} data-testid="recent-meetings">
              {(meetings || []).map((m) => (
                <Card key={m.id} variant="outlined">
                  <CardActionArea onClick={() => navigate('/' + m.room.code)}>
                    <CardContent sx={{ display: 'flex', gap: 2, alignItems: 'center', py: 1.5 }}>
                      <Avatar sx={{ bgcolor: m.ended_at ? 'grey.400' : 'success.main' }}>
                        {m.room.mode === 'lecture' ? <SchoolIcon /> : <VideoCallIcon />}
                      </Avatar>
                      <Box sx={{ flex: 1, minWidth: 0 }}>
                        <Typography noWrap>{m.room.title}</Typography>
                        <Typography variant="body2" color="text.secondary" noWrap>
                          {m.room.code} · {when(m.started_at)} · {m.ended_at ? formatDuration(m.duration_s) : 'going on now'} · {m.participant_count} {m.participant_count === 1 ? 'person' : 'people'}
                        </Typography>
                      </Box>
                    </CardContent>
                  </CardActionArea>
                  {m.recordings && m.recordings.length > 0 && (
                    <Stack direction="row" spacing={1} sx={{ px: 2, pb: 1.5, flexWrap: 'wrap', gap: 1 }}>
                      {m.recordings.map((r) => (
                        <Chip key={r.id} icon={<PlayCircleIcon />} label={recordingLabel(r)} variant="outlined"
                          disabled={!r.url} onClick={r.url ? () => setPlaying(r) : undefined}
                          data-testid="recording" data-status={r.status} />
                      ))}
                    </Stack>
                  )}
                </Card>
              ))}
            </Stack>
          </Box>
        )}
      </Container>
      <RecordingDialog recording={playing} onClose={() => setPlaying(null)} />
      <SignInDialog open={signIn.open} initialTab={signIn.tab}
        onClose={(ok) => { const then = signIn.then; setSignIn({ open: false, tab: signIn.tab }); if (ok && then === 'new') setTimeout(() => setMenu(document.querySelector('[data-testid=new-meeting]')), 0); }} />
    </Box>
  );
}
