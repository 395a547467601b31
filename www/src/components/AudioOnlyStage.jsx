import React from 'react';
import { Avatar, Box, Button, Stack, Typography } from '@mui/material';
import GraphicEqIcon from '@mui/icons-material/GraphicEq';
import { avatarColor, initials } from '../lib/code.js';
import { QUALITY_TEXT } from '../lib/quality.js';

const TEXT = QUALITY_TEXT.audioOnly;

// The stage without video (audio only, chosen or because the connection is
// too slow): who is speaking, from the active-speaker events, as a large
// avatar with their initials. The composite's <video> stays (it plays the
// sound) but is hidden by the meeting page.
//   speaker: {participant_id, display_name} or null
//   reason: 'chosen' (the person chose audio only: a button turns video
//     back on), 'cap' (the host's cap on a lecture's viewers) or 'slow'
export default function AudioOnlyStage ({ speaker, reason, onVideoOn }) {
  const chosen = reason === 'chosen';
  return (
    <Stack data-testid="audio-only-stage" data-speaker={speaker ? speaker.participant_id : ''}
      sx={{ position: 'absolute', inset: 0, alignItems: 'center', justifyContent: 'center', gap: 2, color: '#e8eaed', textAlign: 'center', p: 2, bgcolor: '#202124' }}>
      <Box sx={{ position: 'relative' }}>
        <Avatar aria-hidden="true"
          sx={{
            width: { xs: 96, sm: 144 }, height: { xs: 96, sm: 144 }, fontSize: { xs: 40, sm: 56 },
            bgcolor: speaker ? avatarColor(speaker.participant_id) : '#3c4043',
            boxShadow: speaker ? '0 0 0 6px rgba(138,180,248,.5)' : 'none',
          }}>
          {speaker ? initials(speaker.display_name) : <GraphicEqIcon sx={{ fontSize: 56, color: '#9aa0a6' }} />}
        </Avatar>
      </Box>
      <Typography variant="h6" aria-live="polite" data-testid="audio-only-speaker">
        {speaker ? TEXT.speaking(speaker.display_name) : TEXT.nobody}
      </Typography>
      <Typography variant="body2" sx={{ color: '#9aa0a6' }}>
        {TEXT.title} · {chosen ? TEXT.chosen : reason === 'cap' ? TEXT.cap : TEXT.slow}
      </Typography>
      {chosen && onVideoOn && (
        <Button variant="outlined" onClick={onVideoOn} data-testid="audio-only-video-on">{TEXT.turnOn}</Button>
      )}
    </Stack>
  );
}
