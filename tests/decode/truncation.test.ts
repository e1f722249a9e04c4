/**
 * Every prefix of every sample frame: decodeFrame must not throw, must count
 * at least one weird (a frame cut anywhere is malformed at some layer), and
 * must decode exactly as it would from a buffer that really ends there
 * (reads beyond capLength would make the two differ).
 */
import { describe, expect, it } from 'vitest';
import { decodeFrame } from '../../sensor/src/decode/decode-frame.js';
import { PacketRecord } from '../../sensor/src/decode/packet.js';
import { newCtx, stateOf } from './frames.js';
import { SAMPLES } from './samples.js';

function decodeWith(frame: Buffer, offset: number, capLength: number, linkType: number) {
  const rec = new PacketRecord();
  const ctx = newCtx();
  rec.frame = frame;
  rec.frameOffset = offset;
  rec.capLength = capLength;
  rec.wireLength = capLength;
  rec.linkType = linkType;
  decodeFrame(rec, ctx);
  return { rec, ctx };
}

describe('truncation at every byte', () => {
  it.each(SAMPLES)('%s', (_name, linkType, frame) => {
    const whole = decodeWith(frame, 0, frame.length, linkType);
    expect(whole.ctx.weirds.total()).toBe(0);
    for (let n = 0; n < frame.length; n++) {
      // the same bytes, once followed by the rest of the real frame, once in an exact-size buffer
      const inPlace = decodeWith(frame, 0, n, linkType);
      const exact = decodeWith(Buffer.from(frame.subarray(0, n)), 0, n, linkType);
      expect(inPlace.ctx.weirds.total(), `prefix ${n} counts a weird`).toBeGreaterThan(0);
      expect(stateOf(inPlace.rec), `prefix ${n}`).toBe(stateOf(exact.rec));
      expect(inPlace.ctx.weirds.toJSON()).toEqual(exact.ctx.weirds.toJSON());
    }
  });
});
