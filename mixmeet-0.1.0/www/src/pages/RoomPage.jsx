import React, { useEffect, useRef, useState } from 'react';
import { Box, CircularProgress } from '@mui/material';
import * as api from '../api.js';
import { stopStream } from '../lib/media.js';
import PreJoin from './PreJoin.jsx';
import Meeting from './Meeting.jsx';
import EndScreen from './EndScreen.jsx';
import NotFound from './NotFound.jsx';

// One room: pre-join, the meeting, the end screen (and back for "Rejoin").
export default function RoomPage ({ code, viewer }) {
  const [room, setRoom] = useState(null);
  const [roomError, setRoomError] = useState(null);
  const [stage, setStage] = useState('prejoin');
  const [settings, setSettings] = useState(null);
  const [ended, setEnded] = useState(null);
  const [attempt, setAttempt] = useState(0);
  const streamRef = useRef(null);

  useEffect(() => {
    api.getRoom(code).then(setRoom).catch((err) => setRoomError(err));
  }, [code]);
  useEffect(() => () => stopStream(streamRef.current), []);

  if (roomError) {
    const status = roomError.response ? roomError.response.status : 0;
    return <NotFound text={status === 404 ? `There is no meeting with the code ${code}. Check the code or the link.` : api.errorText(roomError)} />;
  }
  if (!room) {
    return <Box sx={{ minHeight: '100vh', display: 'flex', alignItems: 'center', justifyContent: 'center' }}><CircularProgress aria-label="Loading" /></Box>;
  }
  if (stage === 'prejoin') {
    return (
      <PreJoin room={room} viewer={viewer} onJoin={(s) => {
        streamRef.current = s.stream;
        setSettings(s);
        setStage('meeting');
      }} />
    );
  }
  if (stage === 'meeting') {
    return (
      <Meeting key={attempt} room={room} viewer={viewer} settings={settings}
        onEnded={(e) => { setEnded(e); setStage('ended'); }} />
    );
  }
  return (
    <EndScreen ended={ended} room={room}
      onRejoin={() => {
        // The meeting takes the camera and microphone again if their tracks were stopped.
        setAttempt((n) => n + 1);
        setStage('meeting');
      }} />
  );
}
