import React, { createContext, useCallback, useContext, useEffect, useMemo, useState } from 'react';
import * as api from './api.js';

const AuthContext = createContext(null);

export function AuthProvider ({ children }) {
  const [user, setUser] = useState(() => api.getStoredUser());

  // Check the stored token once: it may have expired or been logged out.
  useEffect(() => {
    if (!api.getToken()) return;
    api.me().then(setUser).catch((err) => {
      if (err.response && err.response.status === 401) { api.clearSession(); setUser(null); }
    });
  }, []);

  const signIn = useCallback(async (email, password) => setUser(await api.login(email, password)), []);
  const signUp = useCallback(async (name, email, password) => setUser(await api.register(name, email, password)), []);
  const signOut = useCallback(async () => { await api.logout(); setUser(null); }, []);
  const value = useMemo(() => ({ user, signIn, signUp, signOut }), [user, signIn, signUp, signOut]);
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth () {
  return useContext(AuthContext);
}
