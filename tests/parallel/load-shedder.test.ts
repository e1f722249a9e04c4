/** Load shedding order and hysteresis (sensor/src/parallel/load-shedder.ts). */
import { describe, expect, it } from 'vitest';
import { LoadShedder, ShedDecision } from '../../sensor/src/parallel/load-shedder.js';
import type { MediaStream } from '../../sensor/src/media/media-stream.js';
import type { TapwatchEvent } from '../../sensor/src/events/types.js';

const stream = (ssrc: number, callId: string | null): MediaStream => ({ ssrc, call: callId === null ? null : { callId } }) as unknown as MediaStream;

describe('load shedder', () => {
  it('climbs levels at 50/75/90% backlog and leaves them 10 points lower', () => {
    const s = new LoadShedder();
    expect(s.update(0.3)).toBe(0);
    expect(s.everShed).toBe(false);
    expect(s.update(0.55)).toBe(1);
    expect(s.update(0.8)).toBe(2);
    expect(s.update(0.95)).toBe(3);
    expect(s.update(0.85)).toBe(3); // not yet 10 points below 90%
    expect(s.update(0.79)).toBe(2);
    expect(s.update(0.7)).toBe(2); // not yet below 75% - 10 = 65%
    expect(s.update(0.6)).toBe(1);
    expect(s.update(0.3)).toBe(0);
    expect(s.everShed).toBe(true);
  });

  it('sheds digests, then correlation (sampled by RTP sequence), then detection, counting each', () => {
    const s = new LoadShedder();
    const plain = stream(1, 'calm@x');
    s.update(0.6);
    expect(s.decide(plain, 1)).toBe(ShedDecision.NoDigests);
    s.update(0.8);
    expect(s.decide(plain, 8)).toBe(ShedDecision.NoDigests); // 1 in 8 by sequence number still detected
    expect(s.decide(plain, 9)).toBe(ShedDecision.Count);
    s.update(0.95);
    expect(s.decide(plain, 16)).toBe(ShedDecision.Count);
    expect(s.counts).toEqual({ digests: 2, correlation: 1, detection: 1 });
  });

  it('never sheds streams of suspicious calls or SSRCs', () => {
    const s = new LoadShedder();
    s.observe({ type: 'duplicate_stream', findingId: 'f', callId: 'hot@x', ssrc: 77 } as unknown as TapwatchEvent);
    s.update(0.99);
    expect(s.decide(stream(5, 'hot@x'), 3)).toBe(ShedDecision.Full);
    expect(s.decide(stream(77, null), 3)).toBe(ShedDecision.Full);
    expect(s.decide(stream(6, 'calm@x'), 3)).toBe(ShedDecision.Count);
  });
});
