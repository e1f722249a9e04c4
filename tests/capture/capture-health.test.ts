/** The sensor's per-interval verdict on its capture (sensor/src/capture/capture-health.ts). */
import { describe, expect, it } from 'vitest';
import { CaptureHealth, OVERLOAD_SHARE } from '../../sensor/src/capture/capture-health.js';
import type { CaptureStats } from '../../sensor/src/capture/packet-source.js';

const cs = (packets: number, kernelDrops = 0, ringDrops?: number, ifDrops = 0): CaptureStats => ({
  packets, bytes: packets * 200, kernelReceived: packets + kernelDrops, kernelDrops, ifDrops, dropsUnavailable: false,
  ...(ringDrops !== undefined ? { ringDrops } : {}),
});

describe('CaptureHealth', () => {
  it('judges each interval from the deltas, not the totals', () => {
    const h = new CaptureHealth();
    expect(h.assess(true, cs(0))).toBe('blind');
    expect(h.assess(true, cs(1000))).toBe('ok');
    // Old drops do not keep the sensor in a bad state: only new ones count.
    expect(h.assess(true, cs(2000, 5))).toBe('dropping');
    expect(h.assess(true, cs(3000, 5))).toBe('ok');
    // More than OVERLOAD_SHARE of the interval lost, here in the ring.
    expect(h.assess(true, cs(4000, 5, Math.ceil(1000 * OVERLOAD_SHARE * 2)))).toBe('overloaded');
    expect(h.assess(true, cs(4000, 5, 20))).toBe('blind');
  });

  it('counts interface drops, and counts a counter that went back (reset, wrap) from zero', () => {
    const h = new CaptureHealth();
    h.assess(true, cs(1000, 0, 0, 0));
    expect(h.assess(true, cs(2000, 0, 0, 3))).toBe('dropping');
    expect(h.assess(true, cs(10, 0, 0, 0))).toBe('ok');
  });

  it('is always ok for files', () => {
    const h = new CaptureHealth();
    expect(h.assess(false, cs(0))).toBe('ok');
    expect(h.assess(false, cs(0, 10))).toBe('ok');
  });
});
