import { describe, expect, it } from 'vitest';
import { backoffDelay, classifyPollError } from '../src/lib/backoff.js';

const mid = () => 0.5;   // no jitter

describe('backoffDelay', () => {
  it('doubles from 0.5 s', () => {
    expect([0, 1, 2, 3, 4].map((n) => backoffDelay(n, { random: mid }))).toEqual([500, 1000, 2000, 4000, 8000]);
  });
  it('is capped', () => {
    expect(backoffDelay(10, { random: mid })).toBe(15000);
    expect(backoffDelay(1000, { random: mid })).toBe(15000);
    expect(backoffDelay(3, { random: mid, max: 3000 })).toBe(3000);
  });
  it('jitters within 20 %', () => {
    expect(backoffDelay(2, { random: () => 0 })).toBe(1600);
    expect(backoffDelay(2, { random: () => 0.999999 })).toBe(2400);
    expect(backoffDelay(10, { random: () => 0.999999 })).toBe(15000);
  });
  it('treats bad attempts as the first', () => {
    expect(backoffDelay(-3, { random: mid })).toBe(500);
  });
});

describe('classifyPollError', () => {
  const e = (status) => ({ response: { status } });
  it('rejoins when the participant is gone', () => {
    expect(classifyPollError(e(404))).toBe('rejoin');
    expect(classifyPollError(e(410))).toBe('rejoin');
  });
  it('gives up on a secret that is not ours', () => {
    expect(classifyPollError(e(401))).toBe('fatal');
    expect(classifyPollError(e(403))).toBe('fatal');
  });
  it('retries network errors and server trouble', () => {
    expect(classifyPollError(new Error('Network Error'))).toBe('retry');
    expect(classifyPollError(e(503))).toBe('retry');
    expect(classifyPollError(e(502))).toBe('retry');
  });
});
