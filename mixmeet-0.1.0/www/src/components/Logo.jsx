import React from 'react';
import { Box, Typography } from '@mui/material';
import { Link } from 'react-router-dom';

export default function Logo ({ dark = false }) {
  return (
    <Box component={Link} to="/" aria-label="mixmeet home" sx={{ display: 'flex', alignItems: 'center', gap: 1, textDecoration: 'none', color: dark ? '#e8eaed' : 'text.primary' }}>
      <img src="/favicon.svg" alt="" width="32" height="32" />
      <Typography variant="h6" component="span" sx={{ fontWeight: 500 }}>mixmeet</Typography>
    </Box>
  );
}
