import React from 'react';
import { Box, Button, Stack, Typography } from '@mui/material';
import { useNavigate } from 'react-router-dom';

const TEXT = {
  left: 'You left the meeting',
  removed: 'You have been removed from the meeting',
  denied: 'Someone in the call denied your request to join',
  locked: 'The host has locked this meeting',
  gone: 'The meeting has ended',
};

export default function EndScreen ({ ended, room, onRejoin }) {
  const navigate = useNavigate();
  const reason = (ended && ended.reason) || 'left';
  return (
    <Box sx={{ minHeight: '100vh', display: 'flex', alignItems: 'center', justifyContent: 'center', p: 3 }} data-testid="end-screen" data-reason={reason}>
      <Stack spacing={3} alignItems="center" textAlign="center">
        <Typography variant="h4" component="h1" sx={{ fontWeight: 400 }}>{TEXT[reason] || TEXT.gone}</Typography>
        {reason === 'removed' && ended.by && <Typography color="text.secondary">Removed by {ended.by}</Typography>}
        <Typography color="text.secondary">{room.title} · {room.code}</Typography>
        <Stack direction="row" spacing={2}>
          {reason !== 'locked' && <Button variant="outlined" onClick={onRejoin} data-testid="rejoin">Rejoin</Button>}
          <Button variant="contained" onClick={() => navigate('/')} data-testid="home">Return to home screen</Button>
        </Stack>
      </Stack>
    </Box>
  );
}
