import React, { useEffect, useState } from 'react';
import { Alert, Box, Button, Dialog, DialogActions, DialogContent, DialogTitle, Tab, Tabs, TextField, useMediaQuery } from '@mui/material';
import { useAuth } from '../auth.jsx';
import { errorText } from '../api.js';

export default function SignInDialog ({ open, onClose, initialTab = 0 }) {
  const { signIn, signUp } = useAuth();
  const [tab, setTab] = useState(initialTab);
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const phone = useMediaQuery('(max-width:600px)');

  useEffect(() => { if (open) { setTab(initialTab); setError(null); } }, [open, initialTab]);

  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (tab === 0) await signIn(email, password);
      else await signUp(name, email, password);
      onClose(true);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Dialog open={open} onClose={() => onClose(false)} fullScreen={phone} maxWidth="xs" fullWidth aria-labelledby="signin-title">
      <form onSubmit={submit} noValidate>
        <DialogTitle id="signin-title">{tab === 0 ? 'Sign in' : 'Create your account'}</DialogTitle>
        <Tabs value={tab} onChange={(_, v) => { setTab(v); setError(null); }} variant="fullWidth" aria-label="Sign in or sign up">
          <Tab label="Sign in" id="tab-signin" />
          <Tab label="Sign up" id="tab-signup" />
        </Tabs>
        <DialogContent>
          <Box sx={{ display: 'flex', flexDirection: 'column', gap: 2, pt: 1 }}>
            {error && <Alert severity="error" role="alert">{error}</Alert>}
            {tab === 1 && (
              <TextField label="Your name" value={name} onChange={(e) => setName(e.target.value)} required autoFocus
                slotProps={{ htmlInput: { maxLength: 100, 'data-testid': 'signup-name' } }} autoComplete="name" />
            )}
            <TextField label="E-mail" type="email" value={email} onChange={(e) => setEmail(e.target.value)} required
              autoFocus={tab === 0} slotProps={{ htmlInput: { 'data-testid': 'auth-email' } }} autoComplete="email" />
            <TextField label="Password" type="password" value={password} onChange={(e) => setPassword(e.target.value)} required
              helperText={tab === 1 ? '8 to 72 characters' : ' '} slotProps={{ htmlInput: { 'data-testid': 'auth-password' } }}
              autoComplete={tab === 0 ? 'current-password' : 'new-password'} />
          </Box>
        </DialogContent>
        <DialogActions sx={{ px: 3, pb: 2 }}>
          <Button onClick={() => onClose(false)}>Cancel</Button>
          <Button type="submit" variant="contained" disabled={busy} data-testid="auth-submit">
            {tab === 0 ? 'Sign in' : 'Create account'}
          </Button>
        </DialogActions>
      </form>
    </Dialog>
  );
}
