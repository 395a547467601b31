import React, { useEffect, useState } from 'react';
import { Box } from '@mui/material';
import PanToolIcon from '@mui/icons-material/PanTool';

// Where the composite is drawn inside its <video> (object-fit: contain).
export function fitRect (boxW, boxH, srcW, srcH) {
  if (!boxW || !boxH || !srcW || !srcH) return null;
  const scale = Math.min(boxW / srcW, boxH / srcH);
  const w = srcW * scale;
  const h = srcH * scale;
  return { x: (boxW - w) / 2, y: (boxH - h) / 2, scale };
}

// Marks on the server's composite: a ring around the active speaker's
// tile, a hand on the tiles of people with a raised hand.
export default function TileOverlay ({ videoRef, layout, participants, speakerId }) {
  const [box, setBox] = useState({ w: 0, h: 0 });
  useEffect(() => {
    const v = videoRef.current;
    if (!v || typeof ResizeObserver === 'undefined') return undefined;
    const ro = new ResizeObserver(() => setBox({ w: v.clientWidth, h: v.clientHeight }));
    ro.observe(v);
    return () => ro.disconnect();
  }, [videoRef]);
  const fit = fitRect(box.w, box.h, layout.width, layout.height);
  if (!fit) return null;
  const byId = new Map(participants.map((p) => [p.id, p]));
  return (
    <Box sx={{ position: 'absolute', inset: 0, pointerEvents: 'none' }} aria-hidden="true">
      {layout.tiles.filter((t) => t.participant_id && !t.screen).map((t) => {
        const p = byId.get(t.participant_id);
        const speaking = t.participant_id === speakerId && layout.tiles.length > 1;
        const hand = p && p.hand_raised;
        if (!speaking && !hand) return null;
        // The camera picture sits in its tile keeping its aspect ratio (16:9 assumed).
        const inner = fitRect(t.width, t.height, 16, 9) || { x: 0, y: 0, scale: t.width / 16 };
        return (
          <Box key={t.participant_id} data-testid={hand ? 'tile-hand' : 'tile-speaking'}
            sx={{
              position: 'absolute', left: fit.x + (t.x + inner.x) * fit.scale, top: fit.y + (t.y + inner.y) * fit.scale,
              width: 16 * inner.scale * fit.scale, height: 9 * inner.scale * fit.scale, boxSizing: 'border-box',
              border: speaking ? '3px solid #8ab4f8' : 'none', borderRadius: 1,
            }}>
            {hand && (
              <Box sx={{ position: 'absolute', top: 8, left: 8, width: 32, height: 32, borderRadius: '50%', bgcolor: '#8ab4f8', color: '#202124', display: 'flex', alignItems: 'center', justifyContent: 'center' }}>
                <PanToolIcon fontSize="small" />
              </Box>
            )}
          </Box>
        );
      })}
    </Box>
  );
}
