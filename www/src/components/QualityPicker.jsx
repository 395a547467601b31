import React from 'react';
import {
  Box, FormControl, FormControlLabel, FormLabel, InputLabel, ListItemText, MenuItem, Radio, RadioGroup, Select, Typography,
} from '@mui/material';
import { QUALITIES, QUALITY_TEXT } from '../lib/quality.js';

// The receive quality: Auto, High, Data saver, Audio only. A compact
// select on the pre-join page (variant "select"), radio buttons with a line
// of help each in the settings dialog (variant "radio"). Strings: QUALITY_TEXT.
export default function QualityPicker ({ value, onChange, variant = 'radio', disabled = false }) {
  const text = QUALITY_TEXT;
  if (variant === 'select') {
    return (
      <FormControl size="small" fullWidth disabled={disabled}>
        <InputLabel id="pick-quality-label">{text.label}</InputLabel>
        <Select labelId="pick-quality-label" label={text.label} value={value} data-testid="pick-quality"
          onChange={(e) => onChange(e.target.value)} renderValue={(v) => text.choices[v].label}
          inputProps={{ 'aria-label': text.label }}>
          {QUALITIES.map((q) => (
            <MenuItem key={q} value={q} data-testid={'pick-quality-' + q}>
              <ListItemText primary={text.choices[q].label} secondary={text.choices[q].help} />
            </MenuItem>
          ))}
        </Select>
      </FormControl>
    );
  }
  return (
    <FormControl disabled={disabled}>
      <FormLabel id="quality-choice-label">{text.label}</FormLabel>
      <RadioGroup aria-labelledby="quality-choice-label" value={value} onChange={(e) => onChange(e.target.value)} data-testid="quality-choice">
        {QUALITIES.map((q) => (
          <FormControlLabel key={q} value={q} sx={{ alignItems: 'flex-start', mt: 0.5 }}
            control={<Radio size="small" sx={{ pt: 0.25 }} slotProps={{ input: { 'data-testid': 'quality-' + q } }} />}
            label={(
              <Box>
                <Typography variant="body2">{text.choices[q].label}</Typography>
                <Typography variant="caption" color="text.secondary">{text.choices[q].help}</Typography>
              </Box>
            )} />
        ))}
      </RadioGroup>
    </FormControl>
  );
}
