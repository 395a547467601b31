import React, { useEffect, useRef, useState } from 'react';
import { Box } from '@mui/material';

// The microphone's level (WebAudio AnalyserNode), as three bars like Meet's.
export function useMicLevel (track) {
  const [level, setLevel] = useState(0);
  const raf = useRef(0);
  useEffect(() => {
    if (!track || typeof AudioContext === 'undefined') { setLevel(0); return undefined; }
    const ctx = new AudioContext();
    // Browsers start an AudioContext suspended until the page is used.
    const resume = () => { if (ctx.state === 'suspended') ctx.resume().catch(() => {}); };
    resume();
    document.addEventListener('pointerdown', resume, true);
    document.addEventListener('keydown', resume, true);
    const src = ctx.createMediaStreamSource(new MediaStream([track]));
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 512;
    src.connect(analyser);
    const buf = new Float32Array(analyser.fftSize);
    let last = 0;
    const tick = (t) => {
      if (t - last > 80) {
        last = t;
        analyser.getFloatTimeDomainData(buf);
        let sum = 0;
        for (let i = 0; i < buf.length; i++) sum += buf[i] * buf[i];
        const rms = Math.sqrt(sum / buf.length);
        const db = 20 * Math.log10(rms + 1e-9);
        setLevel(track.enabled ? Math.max(0, Math.min(1, (db + 60) / 50)) : 0);
      }
      raf.current = requestAnimationFrame(tick);
    };
    raf.current = requestAnimationFrame(tick);
    return () => {
      cancelAnimationFrame(raf.current);
      document.removeEventListener('pointerdown', resume, true);
      document.removeEventListener('keydown', resume, true);
      src.disconnect();
      ctx.close();
    };
  }, [track]);
  return level;
}

export default function MicLevel ({ track, size = 28 }) {
  const level = useMicLevel(track);
  const bars = [0.6, 1, 0.6];
  return (
    <Box role="meter" aria-label="Microphone level" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(level * 100)}
      data-testid="mic-level" data-level={level.toFixed(2)}
      sx={{ width: size, height: size, borderRadius: '50%', bgcolor: '#1a73e8', display: 'flex', alignItems: 'center', justifyContent: 'center', gap: '2px' }}>
      {bars.map((k, i) => (
        <Box key={i} sx={{ width: 4, borderRadius: 2, bgcolor: '#fff', height: Math.max(4, size * 0.6 * Math.min(1, level * k * 1.6)), transition: 'height 80ms' }} />
      ))}
    </Box>
  );
}
