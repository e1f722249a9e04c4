/**
 * Fuzz: random and bit-flipped mutations of valid frames. decodeFrame must
 * never throw, must leave the payload inside the captured bytes, and must
 * never look outside frame[frameOffset, frameOffset + capLength): each
 * mutated frame is decoded twice, surrounded once by 0x00 and once by 0xFF
 * bytes, and the two decodes must agree exactly.
 * Seeded, so a failure is reproducible; FUZZ_ITERATIONS overrides the count.
 */
import { describe, expect, it } from 'vitest';
import type { Defragmenter } from '../../sensor/src/decode/context.js';
import { decodeFrame } from '../../sensor/src/decode/decode-frame.js';
import { PacketRecord } from '../../sensor/src/decode/packet.js';
import { newCtx, stateOf } from './frames.js';
import { SAMPLES } from './samples.js';

const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 200_000);
const LINK_TYPES = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276];

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Completes a "datagram" from any last fragment, so the reassembled path is exercised too. */
const copyingDefrag: Defragmenter = {
  add(_v, _s, _d, _p, _id, _off, more, buf, off, len) {
    return more ? null : Buffer.from(buf.subarray(off, off + len));
  },
};

describe('fuzz', () => {
  it(`survives ${ITERATIONS} mutated frames without throwing or reading outside capLength`, () => {
    const rnd = mulberry32(0x7a9d3c1);
    const int = (n: number) => Math.floor(rnd() * n);
    const recA = new PacketRecord();
    const recB = new PacketRecord();
    const ctxA = newCtx(copyingDefrag);
    const ctxB = newCtx(copyingDefrag);
    let decodedSomething = 0;
    for (let iter = 0; iter < ITERATIONS; iter++) {
      const [, sampleLink, sample] = SAMPLES[int(SAMPLES.length)]!;
      let m = Buffer.from(sample);
      const ops = 1 + int(4);
      for (let k = 0; k < ops; k++) {
        const r = rnd();
        if (m.length === 0) break;
        if (r < 0.45) m[int(m.length)]! ^= 1 << int(8);
        else if (r < 0.8) m[int(m.length)] = int(256);
        else if (r < 0.92) m = m.subarray(0, int(m.length + 1));
        else m = Buffer.concat([m, Buffer.from([int(256), int(256)])]);
      }
      const linkType = rnd() < 0.05 ? LINK_TYPES[int(LINK_TYPES.length)]! : sampleLink;
      const pre = int(8);
      const a = Buffer.alloc(pre + m.length + 32, 0x00);
      const b = Buffer.alloc(pre + m.length + 32, 0xff);
      m.copy(a, pre);
      m.copy(b, pre);
      for (const [rec, ctx, frame] of [
        [recA, ctxA, a],
        [recB, ctxB, b],
      ] as const) {
        rec.frame = frame;
        rec.frameOffset = pre;
        rec.capLength = m.length;
        rec.wireLength = m.length;
        rec.linkType = linkType;
        decodeFrame(rec, ctx);
        if (rec.payloadBuf === rec.frame) {
          if (rec.payloadOffset < pre || rec.payloadOffset + rec.payloadLength > pre + m.length || rec.payloadLength < 0) {
            throw new Error(`payload outside the capture at iteration ${iter}: ${m.toString('hex')}`);
          }
        }
        if (rec.ethOffset !== -1 && (rec.ethOffset < pre || rec.ethOffset + 14 > pre + m.length)) {
          throw new Error(`ethOffset outside the capture at iteration ${iter}`);
        }
      }
      const sa = stateOf(recA);
      const sb = stateOf(recB);
      if (sa !== sb || ctxA.weirds.total() !== ctxB.weirds.total()) {
        throw new Error(`decode depends on bytes outside capLength at iteration ${iter} (link ${linkType}): ${m.toString('hex')}\n${sa}\n${sb}`);
      }
      if (recA.l4Proto !== 0) decodedSomething++;
    }
    // the mutations must not be so destructive that nothing decodes
    expect(decodedSomething).toBeGreaterThan(ITERATIONS / 4);
    expect(ctxA.weirds.total()).toBeGreaterThan(0);
  }, 300_000);
});
