import { describe, expect, it } from 'vitest';
import { formatBytes, formatDuration, formatElapsed, initials, isMeetingCode, isWatchLink, meetingLink, parseMeetingCode } from '../src/lib/code.js';

describe('parseMeetingCode', () => {
  it('takes a code as typed', () => {
    expect(parseMeetingCode('abc-defg-hij')).toBe('abc-defg-hij');
    expect(parseMeetingCode('  ABC-DEFG-HIJ ')).toBe('abc-defg-hij');
    expect(parseMeetingCode('abcdefghij')).toBe('abc-defg-hij');
    expect(parseMeetingCode('abc defg hij')).toBe('abc-defg-hij');
  });
  it('takes a pasted link', () => {
    expect(parseMeetingCode('http://localhost:8080/abc-defg-hij')).toBe('abc-defg-hij');
    expect(parseMeetingCode('https://meet.example.org/watch/xyz-abcd-efg?hl=en#x')).toBe('xyz-abcd-efg');
    expect(parseMeetingCode('meet.example.org/abc-defg-hij/')).toBe('abc-defg-hij');
  });
  it('refuses what is not a code', () => {
    for (const bad of ['', '   ', null, undefined, 42, 'abc-defg-hi', 'abc-defg-hijk', 'abc-d3fg-hij',
      'http://host/', 'http://host/rooms', 'ab-cdefg-hij-x']) {
      expect(parseMeetingCode(bad)).toBeNull();
    }
  });
  it('knows a code', () => {
    expect(isMeetingCode('abc-defg-hij')).toBe(true);
    expect(isMeetingCode('ABC-DEFG-HIJ')).toBe(false);
  });
  it('tells viewer links', () => {
    expect(isWatchLink('http://h/watch/abc-defg-hij')).toBe(true);
    expect(isWatchLink('http://h/abc-defg-hij')).toBe(false);
  });
  it('builds links', () => {
    expect(meetingLink('http://h:1/', 'abc-defg-hij')).toBe('http://h:1/abc-defg-hij');
    expect(meetingLink('http://h:1', 'abc-defg-hij', true)).toBe('http://h:1/watch/abc-defg-hij');
  });
});

describe('formatting', () => {
  it('formats elapsed time like a clock', () => {
    expect(formatElapsed(0)).toBe('0:00');
    expect(formatElapsed(5400)).toBe('0:05');
    expect(formatElapsed(754000)).toBe('12:34');
    expect(formatElapsed(3723000)).toBe('1:02:03');
    expect(formatElapsed(-5)).toBe('0:00');
    expect(formatElapsed(NaN)).toBe('0:00');
  });
  it('formats durations', () => {
    expect(formatDuration(40)).toBe('40 s');
    expect(formatDuration(720)).toBe('12 min');
    expect(formatDuration(3900)).toBe('1 h 5 min');
  });
  it('makes initials', () => {
    expect(initials('Ada Lovelace')).toBe('AL');
    expect(initials('grace')).toBe('G');
    expect(initials('  ')).toBe('?');
    expect(initials('Émile du Châtelet')).toBe('ÉC');
  });
});

import { fitRect } from '../src/components/TileOverlay.jsx';
describe('fitRect', () => {
  it('letterboxes the composite like object-fit: contain', () => {
    expect(fitRect(1280, 720, 1280, 720)).toEqual({ x: 0, y: 0, scale: 1 });
    expect(fitRect(1000, 1000, 1280, 720)).toEqual({ x: 0, y: 218.75, scale: 0.78125 });
    expect(fitRect(360, 640, 1280, 720).y).toBeCloseTo(218.75);
    expect(fitRect(0, 100, 1280, 720)).toBeNull();
  });
});

describe('formatBytes', () => {
  it('uses powers of 1000 and at most three digits', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(999)).toBe('999 B');
    expect(formatBytes(1000)).toBe('1.0 kB');
    expect(formatBytes(12345)).toBe('12 kB');
    expect(formatBytes(4500000)).toBe('4.5 MB');
    expect(formatBytes(1.2e9)).toBe('1.2 GB');
    expect(formatBytes(-5)).toBe('0 B');
    expect(formatBytes('x')).toBe('0 B');
  });
});
