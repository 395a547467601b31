import React from 'react';
import { Box, Button, Typography } from '@mui/material';
import { Link } from 'react-router-dom';

export default function NotFound ({ text }) {
  return (
    <Box sx={{ minHeight: '100vh', display: 'flex', flexDirection: 'column', alignItems: 'center', justifyContent: 'center', gap: 2, p: 3, textAlign: 'center' }}>
      <Typography variant="h5">Nothing here</Typography>
      <Typography color="text.secondary">{text}</Typography>
      <Button component={Link} to="/" variant="contained">Return to home</Button>
    </Box>
  );
}
