import { describe, expect, it } from 'vitest';
import {
  QUALITY_KEY, audioOnlyView, formatKbps, normalizeCap, normalizeQuality, storeQuality, storedQuality, tierChip, tierReason,
  uplinkLimit, uplinkParameters, videoSizeLimit, cameraParameters,
} from '../src/lib/quality.js';

const memory = (init = {}) => {
  const m = new Map(Object.entries(init));
  return { getItem: (k) => (m.has(k) ? m.get(k) : null), setItem: (k, v) => m.set(k, String(v)), map: m };
};

describe('the quality choice', () => {
  it('is auto unless this browser remembers another', () => {
    expect(storedQuality(memory())).toBe('auto');
    expect(storedQuality(memory({ [QUALITY_KEY]: 'data-saver' }))).toBe('data-saver');
    expect(storedQuality(memory({ [QUALITY_KEY]: 'ultra' }))).toBe('auto');
    expect(storedQuality(null)).toBe('auto');
    expect(storedQuality({ getItem () { throw new Error('denied'); } })).toBe('auto');
    // Nothing remembered: what the caller had.
    expect(storedQuality(memory(), 'high')).toBe('high');
    expect(storedQuality({ getItem () { throw new Error('denied'); } }, 'data-saver')).toBe('data-saver');
    expect(storedQuality(memory({ [QUALITY_KEY]: 'auto' }), 'high')).toBe('auto');
  });

  it('is remembered, and only as one of the four', () => {
    const st = memory();
    storeQuality('audio-only', st);
    expect(st.map.get(QUALITY_KEY)).toBe('audio-only');
    expect(storedQuality(st)).toBe('audio-only');
    storeQuality('nonsense', st);
    expect(st.map.get(QUALITY_KEY)).toBe('auto');
    expect(() => storeQuality('high', { setItem () { throw new Error('quota'); } })).not.toThrow();
  });

  it('normalises', () => {
    for (const q of ['auto', 'high', 'data-saver', 'audio-only']) expect(normalizeQuality(q)).toBe(q);
    expect(normalizeQuality(undefined)).toBe('auto');
    expect(normalizeQuality('low')).toBe('auto');
    expect(normalizeCap(null)).toBe('high');
    expect(normalizeCap('low')).toBe('low');
    expect(normalizeCap('data-saver')).toBe('high');
  });
});

describe('the tier chip', () => {
  const tier = (t, kbps = 420, quality = 'auto') => ({ tier: t, estimate_kbps: kbps, quality });

  it('says nothing before the first tier, or at full quality on auto', () => {
    expect(tierChip(null, 'auto')).toBeNull();
    expect(tierChip(tier('high'), 'auto')).toBeNull();
    expect(tierChip(tier('bogus'), 'auto')).toBeNull();
  });

  it('names data saver when it was chosen, the tier otherwise', () => {
    expect(tierChip(tier('low'), 'data-saver').label).toBe('Data saver · 180p');
    expect(tierChip(tier('low'), 'auto').label).toBe('Low · 180p');
    expect(tierChip(tier('medium'), 'auto').label).toBe('Standard · 360p');
    expect(tierChip(tier('high'), 'high').label).toBe('HD · 720p');
    expect(tierChip(tier('audio-only'), 'audio-only').label).toBe('Audio only');
  });

  it('explains in its tooltip what comes, why, and the estimate', () => {
    const low = tierChip(tier('low', 420), 'data-saver').tooltip;
    expect(low).toContain('320×180 at 15 frames a second');
    expect(low).toContain('You chose this');
    expect(low).toContain('about 420 kbps');
    const slow = tierChip(tier('medium', 1500), 'auto').tooltip;
    expect(slow).toContain('640×360');
    expect(slow).toContain('connection is slow');
    expect(slow).toContain('1.5 Mbps');
    expect(tierChip(tier('audio-only', null), 'auto').tooltip).toContain('not known yet');
    expect(tierChip(tier('audio-only', null), 'auto').tooltip).toContain('sound only');
  });

  it('blames the host cap when it is what limits', () => {
    expect(tierReason('low', 'auto', 'low')).toMatch(/host limited/);
    expect(tierReason('low', 'auto', 'medium')).toMatch(/slow/);
    expect(tierReason('high', 'high', 'high')).toBeNull();
  });

  it('knows when to show the audio-only stage', () => {
    expect(audioOnlyView('audio-only', null)).toBe(true);
    expect(audioOnlyView('auto', tier('audio-only'))).toBe(true);
    expect(audioOnlyView('auto', tier('low'))).toBe(false);
    expect(audioOnlyView('data-saver', null)).toBe(false);
  });

  it('formats bandwidths', () => {
    expect(formatKbps(850)).toBe('850 kbps');
    expect(formatKbps(1234)).toBe('1.2 Mbps');
    expect(formatKbps(25000)).toBe('25 Mbps');
    expect(formatKbps(null)).toBe('');
  });
});

describe('the uplink limit', () => {
  it('is read from the uplink event', () => {
    expect(uplinkLimit({ type: 'uplink', max_bitrate: 300000, max_height: 180 })).toEqual({ max_bitrate: 300000, max_height: 180 });
    expect(uplinkLimit({ type: 'uplink', max_bitrate: 250000 })).toEqual({ max_bitrate: 250000, max_height: null });
    expect(uplinkLimit({ type: 'uplink', max_bitrate: null })).toBeNull();
    expect(uplinkLimit({ type: 'uplink', max_bitrate: 0 })).toBeNull();
    expect(uplinkLimit(null)).toBeNull();
  });

  const params = () => ({ transactionId: 't1', degradationPreference: 'balanced', encodings: [{ active: true, priority: 'low' }], codecs: [] });

  it('sets maxBitrate and a scale that keeps the height at most max_height', () => {
    const p = uplinkParameters(params(), { max_bitrate: 300000, max_height: 180 }, 360);
    expect(p.transactionId).toBe('t1');
    expect(p.degradationPreference).toBe('balanced');
    expect(p.encodings).toEqual([{ active: true, priority: 'low', maxBitrate: 300000, scaleResolutionDownBy: 2 }]);
    expect(uplinkParameters(params(), { max_bitrate: 300000, max_height: 240 }, 720).encodings[0].scaleResolutionDownBy).toBe(3);
    expect(uplinkParameters(params(), { max_bitrate: 1, max_height: 270 }, 360).encodings[0].scaleResolutionDownBy).toBeCloseTo(4 / 3);
  });

  it('never scales up, nor without a known height', () => {
    expect(uplinkParameters(params(), { max_bitrate: 500000, max_height: 720 }, 360).encodings[0].scaleResolutionDownBy).toBe(1);
    expect(uplinkParameters(params(), { max_bitrate: 500000, max_height: 180 }, 0).encodings[0].scaleResolutionDownBy).toBe(1);
    expect(uplinkParameters(params(), { max_bitrate: 500000, max_height: null }, 360).encodings[0].scaleResolutionDownBy).toBe(1);
  });

  it('removes the limits when it recovered', () => {
    const limited = uplinkParameters(params(), { max_bitrate: 300000, max_height: 180 }, 360);
    const p = uplinkParameters(limited, null, 360);
    expect(p.encodings).toEqual([{ active: true, priority: 'low', scaleResolutionDownBy: 1 }]);
    expect('maxBitrate' in p.encodings[0]).toBe(false);
  });

  it('leaves other encodings alone, and does nothing without encodings', () => {
    const p = uplinkParameters({ encodings: [{ rid: 'a' }, { rid: 'b', maxBitrate: 9 }] }, { max_bitrate: 1000, max_height: 90 }, 180);
    expect(p.encodings[1]).toEqual({ rid: 'b', maxBitrate: 9 });
    expect(p.encodings[0]).toEqual({ rid: 'a', maxBitrate: 1000, scaleResolutionDownBy: 2 });
    expect(uplinkParameters({ encodings: [] }, null, 360)).toBeNull();
    expect(uplinkParameters(null, null, 360)).toBeNull();
  });
});

describe('the size of our tile', () => {
  const params = () => ({ transactionId: 't2', encodings: [{ active: true }] });

  it('is read from the video-size event', () => {
    expect(videoSizeLimit({ type: 'video-size', max_width: 426, max_height: 360 })).toEqual({ max_width: 426, max_height: 360 });
    expect(videoSizeLimit({ max_width: 0, max_height: 0 })).toBeNull();
    expect(videoSizeLimit({ max_width: 'x' })).toBeNull();
    expect(videoSizeLimit(null)).toBeNull();
  });

  it('scales a camera down to fit the tile, its shape kept, never up', () => {
    // 1280x720 into a 426x360 cell: the width decides.
    expect(cameraParameters(params(), null, { max_width: 426, max_height: 360 }, 1280, 720).encodings[0].scaleResolutionDownBy).toBeCloseTo(1280 / 426);
    // 640x360 into 1280x720: as it is.
    expect(cameraParameters(params(), null, { max_width: 1280, max_height: 720 }, 640, 360).encodings[0].scaleResolutionDownBy).toBe(1);
    expect('maxBitrate' in cameraParameters(params(), null, { max_width: 320, max_height: 180 }, 640, 360).encodings[0]).toBe(false);
  });

  it('keeps the stricter of the tile and the uplink limit', () => {
    const p = cameraParameters(params(), { max_bitrate: 300000, max_height: 180 }, { max_width: 640, max_height: 360 }, 1280, 720);
    expect(p.encodings[0].scaleResolutionDownBy).toBe(4);
    expect(p.encodings[0].maxBitrate).toBe(300000);
    expect(cameraParameters(params(), { max_bitrate: 300000, max_height: 720 }, { max_width: 320, max_height: 180 }, 1280, 720).encodings[0].scaleResolutionDownBy).toBe(4);
  });
});
