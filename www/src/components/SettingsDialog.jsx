import React, { useEffect, useState } from 'react';
import { Dialog, DialogActions, DialogContent, DialogTitle, Button, Divider, FormControl, InputLabel, MenuItem, Select, Stack } from '@mui/material';
import { canPickSpeaker, listDevices } from '../lib/media.js';
import QualityPicker from './QualityPicker.jsx';

// Devices during the meeting: microphone and camera (replaceTrack), speaker
// (setSinkId); and the receive quality (a `quality` message).
export default function SettingsDialog ({ open, onClose, current, onPick, quality, onQuality }) {
  const [devices, setDevices] = useState({ audioinput: [], videoinput: [], audiooutput: [] });
  useEffect(() => { if (open) listDevices().then(setDevices); }, [open]);
  const pick = (kind, label, list, value) => (list.length > 0 && (
    <FormControl fullWidth size="small">
      <InputLabel id={'set-' + kind}>{label}</InputLabel>
      <Select labelId={'set-' + kind} label={label} value={list.some((d) => d.deviceId === value) ? value : list[0].deviceId}
        onChange={(e) => onPick(kind, e.target.value)} data-testid={'settings-' + kind}>
        {list.map((d, i) => <MenuItem key={d.deviceId || i} value={d.deviceId}>{d.label || `${label} ${i + 1}`}</MenuItem>)}
      </Select>
    </FormControl>
  ));
  return (
    <Dialog open={open} onClose={onClose} fullWidth maxWidth="xs" aria-labelledby="settings-title">
      <DialogTitle id="settings-title">Settings</DialogTitle>
      <DialogContent>
        <Stack spacing={2} sx={{ pt: 1 }}>
          {pick('audio', 'Microphone', devices.audioinput, current.audio)}
          {pick('video', 'Camera', devices.videoinput, current.video)}
          {canPickSpeaker() && pick('speaker', 'Speaker', devices.audiooutput, current.speaker)}
          {onQuality && (
            <>
              <Divider />
              <QualityPicker value={quality} onChange={onQuality} />
            </>
          )}
        </Stack>
      </DialogContent>
      <DialogActions><Button onClick={onClose}>Done</Button></DialogActions>
    </Dialog>
  );
}
