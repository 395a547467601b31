import React from 'react';
import { Route, Routes, useParams } from 'react-router-dom';
import Home from './pages/Home.jsx';
import RoomPage from './pages/RoomPage.jsx';
import NotFound from './pages/NotFound.jsx';
import { isMeetingCode, parseMeetingCode } from './lib/code.js';

function Room ({ viewer }) {
  const { code } = useParams();
  const c = isMeetingCode(code) ? code : parseMeetingCode(code);
  if (!c) return <NotFound text={`"${code}" is not a meeting code. Codes look like abc-defg-hij.`} />;
  return <RoomPage key={(viewer ? 'w:' : 'm:') + c} code={c} viewer={viewer} />;
}

export default function App () {
  return (
    <Routes>
      <Route path="/" element={<Home />} />
      <Route path="/watch/:code" element={<Room viewer />} />
      <Route path="/:code" element={<Room viewer={false} />} />
      <Route path="*" element={<NotFound text="This page does not exist." />} />
    </Routes>
  );
}
