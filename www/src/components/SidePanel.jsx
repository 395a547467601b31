import React, { useEffect, useRef, useState } from 'react';
import {
  Avatar, Box, Button, Chip, Divider, Drawer, FormControl, FormControlLabel, IconButton, InputLabel, List, ListItem, ListItemAvatar, ListItemText,
  Menu, MenuItem, Paper, Select, Stack, Switch, TextField, Tooltip, Typography,
} from '@mui/material';
import CloseIcon from '@mui/icons-material/Close';
import SendIcon from '@mui/icons-material/Send';
import MicOffIcon from '@mui/icons-material/MicOff';
import MicIcon from '@mui/icons-material/Mic';
import PanToolIcon from '@mui/icons-material/PanTool';
import PresentToAllIcon from '@mui/icons-material/PresentToAll';
import MoreVertIcon from '@mui/icons-material/MoreVert';
import VideocamOffIcon from '@mui/icons-material/VideocamOff';
import * as api from '../api.js';
import { ThemeProvider } from '@mui/material/styles';
import { darkTheme, lightTheme } from '../theme.js';
import { avatarColor as colorOf, initials } from '../lib/code.js';
import { QUALITY_TEXT, TIERS } from '../lib/quality.js';

function timeOf (iso) {
  const d = new Date(iso);
  return isNaN(d) ? '' : d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
}

function Chat ({ state, session, onError }) {
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const end = useRef(null);
  useEffect(() => { if (end.current && end.current.scrollIntoView) end.current.scrollIntoView({ block: 'end' }); }, [state.chat.length]);
  const send = async (e) => {
    if (e) e.preventDefault();
    const t = text.trim();
    if (!t || !session) return;
    setBusy(true);
    try { await session.sendChat(text); setText(''); } catch (err) { onError(api.errorText(err)); } finally { setBusy(false); }
  };
  return (
    <Stack sx={{ flex: 1, minHeight: 0 }}>
      <Typography variant="body2" sx={{ mx: 2, my: 1, p: 1.5, bgcolor: 'action.hover', borderRadius: 1, color: 'text.secondary' }}>
        Messages can be seen by people in the call, and by people who join this meeting later.
      </Typography>
      <Box sx={{ flex: 1, overflowY: 'auto', px: 2 }} role="log" aria-label="Chat messages" data-testid="chat-log">
        {state.chat.length === 0 && <Typography color="text.secondary" sx={{ mt: 2 }}>No messages yet</Typography>}
        {state.chat.map((m) => (
          <Box key={m.id} sx={{ mb: 1.5 }} data-testid="chat-message">
            <Typography variant="body2" sx={{ fontWeight: 600 }} component="span">
              {m.participant_id === state.selfId ? 'You' : m.display_name}
            </Typography>
            <Typography variant="caption" color="text.secondary" component="span" sx={{ ml: 1 }}>{timeOf(m.sent_at)}</Typography>
            <Typography variant="body2" sx={{ whiteSpace: 'pre-wrap', wordBreak: 'break-word' }}>{m.text}</Typography>
          </Box>
        ))}
        <div ref={end} />
      </Box>
      <Box component="form" onSubmit={send} sx={{ p: 1.5, display: 'flex', gap: 1, alignItems: 'flex-end' }}>
        <TextField fullWidth size="small" multiline maxRows={4} placeholder="Send a message" value={text}
          onChange={(e) => setText(e.target.value)} slotProps={{ htmlInput: { maxLength: 2000, 'aria-label': 'Send a message to everyone', 'data-testid': 'chat-input' } }}
          onKeyDown={(e) => { if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); send(); } }}
          sx={{ '& .MuiOutlinedInput-root': { borderRadius: 5 } }} />
        <IconButton type="submit" aria-label="Send message" disabled={!text.trim() || busy} color="primary" data-testid="chat-send"><SendIcon /></IconButton>
      </Box>
    </Stack>
  );
}

// A lecture's host limits what the audience receives (`quality-cap`).
function ViewerCap ({ cap, onCap }) {
  const text = QUALITY_TEXT.viewerCap;
  return (
    <Box sx={{ pt: 2 }}>
      <FormControl size="small" fullWidth>
        <InputLabel id="viewer-cap-label">{text.label}</InputLabel>
        <Select labelId="viewer-cap-label" label={text.label} value={cap} onChange={(e) => onCap(e.target.value)}
          data-testid="viewer-cap" data-cap={cap} inputProps={{ 'aria-label': text.label }}>
          {TIERS.map((t) => <MenuItem key={t} value={t} data-testid={'viewer-cap-' + t}>{text.choices[t]}</MenuItem>)}
        </Select>
      </FormControl>
      <Typography variant="caption" color="text.secondary" component="div">{text.help}</Typography>
    </Box>
  );
}

function People ({ state, session, host, onError, lecture }) {
  const [menu, setMenu] = useState(null);   // {anchor, p}
  const msg = (body) => session && session.hostMessage(body).catch((err) => {
    const text = api.errorText(err);
    onError(/unknown message type/i.test(text) ? 'This server does not support that yet.' : text);
  });
  const waiting = state.lobby;
  return (
    <Box sx={{ flex: 1, overflowY: 'auto' }} data-testid="people-panel">
      {host && (
        <Box sx={{ px: 2, pt: 1 }}>
          <FormControlLabel control={<Switch checked={state.locked} onChange={(e) => msg({ type: 'lock', locked: e.target.checked })}
            slotProps={{ input: { 'aria-label': 'Lock the meeting', 'data-testid': 'lock-switch' } }} />}
          label="Lock the meeting" />
          <Typography variant="caption" color="text.secondary" component="div">Nobody else can join while it is locked.</Typography>
          {lecture && <ViewerCap cap={state.viewerCap} onCap={(tier) => msg({ type: 'quality-cap', tier })} />}
        </Box>
      )}
      {host && waiting.length > 0 && (
        <Box sx={{ px: 2, pt: 2 }} data-testid="lobby-list">
          <Stack direction="row" alignItems="center" justifyContent="space-between">
            <Typography variant="overline">Waiting to join ({waiting.length})</Typography>
            {waiting.length > 1 && <Button size="small" onClick={() => waiting.forEach((w) => msg({ type: 'admit', participant_id: w.participant_id }))}>Admit all</Button>}
          </Stack>
          <List dense>
            {waiting.map((w) => (
              <ListItem key={w.participant_id} disableGutters data-testid="lobby-entry"
                secondaryAction={(
                  <Stack direction="row" spacing={0.5}>
                    <Button size="small" onClick={() => msg({ type: 'deny', participant_id: w.participant_id })} aria-label={`Deny ${w.display_name}`} data-testid="deny">Deny</Button>
                    <Button size="small" variant="contained" onClick={() => msg({ type: 'admit', participant_id: w.participant_id })} aria-label={`Admit ${w.display_name}`} data-testid="admit">Admit</Button>
                  </Stack>
                )}>
                <ListItemAvatar><Avatar sx={{ bgcolor: colorOf(w.participant_id), width: 32, height: 32, fontSize: 14 }}>{initials(w.display_name)}</Avatar></ListItemAvatar>
                <ListItemText primary={w.display_name} />
              </ListItem>
            ))}
          </List>
          <Divider />
        </Box>
      )}
      <Typography variant="overline" sx={{ px: 2, pt: 2, display: 'block' }}>In the meeting ({state.participants.length})</Typography>
      <List dense>
        {state.participants.map((p) => {
          const self = p.id === state.selfId;
          const rx = host ? state.receivers[p.id] : null;
          return (
            <ListItem key={p.id} data-testid="participant" data-id={p.id} data-name={p.display_name}
              data-muted={p.audio_muted ? 'true' : 'false'} data-hand={p.hand_raised ? 'true' : 'false'}
              secondaryAction={(
                <Stack direction="row" spacing={0.5} alignItems="center">
                  {rx && (
                    <Tooltip title={QUALITY_TEXT.receiverTooltip(rx, p.quality || rx.quality)}>
                      <Chip size="small" variant="outlined" label={QUALITY_TEXT.receiverShort[rx.tier]} data-testid="receiver-tier" data-tier={rx.tier}
                        aria-label={QUALITY_TEXT.receiverTooltip(rx, p.quality || rx.quality)} sx={{ height: 20, fontSize: 11, '& .MuiChip-label': { px: 0.75 } }} />
                    </Tooltip>
                  )}
                  {p.hand_raised && <Tooltip title="Hand raised"><PanToolIcon fontSize="small" sx={{ color: '#8ab4f8' }} aria-label="Hand raised" /></Tooltip>}
                  {p.presenting && <Tooltip title="Presenting"><PresentToAllIcon fontSize="small" aria-label="Presenting" /></Tooltip>}
                  {p.video_muted && <Tooltip title="Camera off"><VideocamOffIcon fontSize="small" sx={{ color: '#9aa0a6' }} aria-label="Camera off" /></Tooltip>}
                  {p.audio_muted
                    ? <Tooltip title={p.muted_by_host ? 'Muted by the host' : 'Microphone off'}><MicOffIcon fontSize="small" sx={{ color: '#9aa0a6' }} aria-label={p.muted_by_host ? 'Muted by the host' : 'Microphone off'} /></Tooltip>
                    : <Tooltip title="Microphone on"><MicIcon fontSize="small" aria-label="Microphone on" /></Tooltip>}
                  {host && !self && (
                    <IconButton size="small" aria-label={`More actions for ${p.display_name}`} onClick={(e) => setMenu({ anchor: e.currentTarget, p })} data-testid="participant-actions">
                      <MoreVertIcon fontSize="small" />
                    </IconButton>
                  )}
                </Stack>
              )}>
              <ListItemAvatar><Avatar sx={{ bgcolor: colorOf(p.id), width: 32, height: 32, fontSize: 14 }}>{initials(p.display_name)}</Avatar></ListItemAvatar>
              <ListItemText primary={p.display_name + (self ? ' (You)' : '')}
                secondary={p.role === 'host' ? 'Meeting host' : p.presenter ? 'Presenter' : lecture ? 'Viewer' : p.role === 'guest' ? 'Guest' : null} sx={{ pr: host ? (rx ? 16 : 14) : 8 }} />
            </ListItem>
          );
        })}
      </List>
      <Menu anchorEl={menu && menu.anchor} open={!!menu} onClose={() => setMenu(null)}>
        <MenuItem disabled={menu && menu.p.audio_muted} data-testid="mute-participant"
          onClick={() => { msg({ type: 'mute', participant_id: menu.p.id }); setMenu(null); }}>
          Mute {menu && menu.p.display_name}
        </MenuItem>
        {lecture && menu && menu.p.role !== 'host' && (
          <MenuItem data-testid="toggle-presenter" onClick={() => { msg({ type: 'presenter', participant_id: menu.p.id, presenter: !menu.p.presenter }); setMenu(null); }}>
            {menu.p.presenter ? 'Make a viewer again' : 'Make a presenter'}
          </MenuItem>
        )}
        <MenuItem data-testid="remove-participant" onClick={() => { msg({ type: 'remove', participant_id: menu.p.id }); setMenu(null); }} sx={{ color: 'error.main' }}>
          Remove from the call
        </MenuItem>
      </Menu>
    </Box>
  );
}

export default function SidePanel ({ open, phone, onClose, state, session, host, onError, lecture }) {
  const title = open === 'chat' ? 'In-call messages' : 'People';
  const body = (
    <Stack sx={{ height: '100%', minHeight: 0, bgcolor: phone ? '#202124' : '#fff', color: phone ? '#e8eaed' : '#202124' }}
      role="complementary" aria-label={title} data-testid={'panel-' + open}>
      <Stack direction="row" alignItems="center" sx={{ px: 2, py: 1.5 }}>
        <Typography variant="h6" sx={{ flex: 1, fontWeight: 400 }}>{title}</Typography>
        <IconButton onClick={onClose} aria-label={`Close ${title.toLowerCase()}`} data-testid="close-panel" sx={{ color: 'inherit' }}><CloseIcon /></IconButton>
      </Stack>
      {open === 'chat' && <Chat state={state} session={session} onError={onError} />}
      {open === 'people' && <People state={state} session={session} host={host} onError={onError} lecture={lecture} />}
    </Stack>
  );
  if (phone) {
    return (
      <ThemeProvider theme={darkTheme}>
        <Drawer anchor="right" open={!!open} onClose={onClose} slotProps={{ paper: { sx: { width: '100%', bgcolor: '#202124' } } }}>
          {open && body}
        </Drawer>
      </ThemeProvider>
    );
  }
  if (!open) return null;
  return (
    <ThemeProvider theme={lightTheme}>
      <Paper sx={{ width: 360, flexShrink: 0, borderRadius: 2, overflow: 'hidden', display: 'flex', flexDirection: 'column', bgcolor: '#fff' }} elevation={0}>
        {body}
      </Paper>
    </ThemeProvider>
  );
}
