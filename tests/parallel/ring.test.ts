/** The broadcast packet ring (sensor/src/parallel/ring-layout.ts): byte layout, wrap, drops, slowest consumer, close. */
import { describe, expect, it } from 'vitest';
import { PacketRecord } from '../../sensor/src/decode/packet.js';
import { RingProducer, createRing } from '../../sensor/src/parallel/ring-producer.js';
import { RingConsumer } from '../../sensor/src/parallel/ring-consumer.js';
import { CTL_CLOSED, CTL_PACKETS, CTL_RING_DROPS, CTL_WRITE, WRAP_MARKER, readCursorSlot } from '../../sensor/src/parallel/ring-layout.js';

const FRAME = Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x42]);

/** Every record the consumer delivers, as plain data (the record itself is reused). */
function drain(c: RingConsumer): Array<{ capLength: number; wireLength: number; tsSec: number; tsNsec: number; linkType: number; bytes: number[] }> {
  const out: ReturnType<typeof drain> = [];
  const rec = new PacketRecord();
  while (
    c.poll(rec, (r) => {
      out.push({
        capLength: r.capLength,
        wireLength: r.wireLength,
        tsSec: r.tsSec,
        tsNsec: r.tsNsec,
        linkType: r.linkType,
        bytes: [...r.frame.subarray(r.frameOffset, r.frameOffset + r.capLength)],
      });
    }) > 0
  );
  return out;
}

describe('packet ring', () => {
  it('writes the documented record layout, little-endian, and publishes the write cursor', () => {
    const ring = createRing(1, 1024);
    const p = new RingProducer(ring, { publishEvery: 1000 });
    expect(p.push(FRAME, 0, 5, 60, 1700000000, 123456789, 1)).toBe(true);
    const ctl = new Int32Array(ring.control);
    // Not visible before publish (batched publication).
    expect(Atomics.load(ctl, CTL_WRITE)).toBe(0);
    p.publish();
    const data = Buffer.from(ring.data);
    // 24-byte header + 5 bytes, padded to 8: 32 bytes.
    expect([...data.subarray(0, 32)]).toEqual([
      32, 0, 0, 0, // recordBytes
      5, 0, 0, 0, // capLen
      60, 0, 0, 0, // origLen
      0x00, 0xf1, 0x53, 0x65, // tsSec 1700000000 = 0x6553f100
      0x15, 0xcd, 0x5b, 0x07, // tsNsec 123456789 = 0x075bcd15
      1, 0, 0, 0, // linkType (Ethernet)
      0xde, 0xad, 0xbe, 0xef, 0x42, 0, 0, 0, // frame + padding
    ]);
    expect(Atomics.load(ctl, CTL_WRITE)).toBe(32);
    expect(Atomics.load(ctl, CTL_PACKETS)).toBe(1);
    const c = new RingConsumer(ring, 0);
    const got = drain(c);
    expect(got).toEqual([{ capLength: 5, wireLength: 60, tsSec: 1700000000, tsNsec: 123456789, linkType: 1, bytes: [0xde, 0xad, 0xbe, 0xef, 0x42] }]);
    // The read cursor is published after the batch.
    expect(Atomics.load(ctl, readCursorSlot(0))).toBe(32);
  });

  it('fills the PacketRecord in place: the frame is the ring itself (zero copy)', () => {
    const ring = createRing(1, 1024);
    const p = new RingProducer(ring);
    p.push(FRAME, 0, 5, 5, 1, 500_000_000, 113);
    p.publish();
    const c = new RingConsumer(ring, 0);
    const rec = new PacketRecord();
    let seen: Buffer | null = null;
    c.poll(rec, (r) => {
      seen = r.frame;
      expect(r.ts).toBeCloseTo(1.5, 9);
      expect(r.frameOffset).toBe(24);
      expect(r.frameNumber).toBe(1);
    });
    expect(seen).not.toBeNull();
    expect(seen!.buffer).toBe(ring.data);
  });

  it('skips the ring tail with a wrap marker when a record would straddle the end', () => {
    const ring = createRing(1, 1024);
    const p = new RingProducer(ring, { publishEvery: 1 });
    const c = new RingConsumer(ring, 0);
    const big = Buffer.alloc(400, 0x11);
    // 424 + 424 = 848 bytes used; 176 bytes left at the tail.
    expect(p.push(big, 0, 400, 400, 1, 0, 1)).toBe(true);
    expect(p.push(big, 0, 400, 400, 2, 0, 1)).toBe(true);
    expect(drain(c)).toHaveLength(2);
    // 200 + 24 = 224 > 176: marker at 848, record at 0.
    const mid = Buffer.alloc(200, 0x22);
    expect(p.push(mid, 0, 200, 200, 3, 0, 1)).toBe(true);
    const words = new Uint32Array(ring.data);
    expect(words[848 / 4]).toBe(WRAP_MARKER);
    expect(words[0]).toBe(224);
    expect(words[1]).toBe(200);
    const ctl = new Int32Array(ring.control);
    expect(Atomics.load(ctl, CTL_WRITE) >>> 0).toBe(1024 + 224);
    const got = drain(c);
    expect(got).toHaveLength(1);
    expect(got[0]!.tsSec).toBe(3);
    expect(got[0]!.bytes.every((b) => b === 0x22)).toBe(true);
  });

  it('drops and counts in CTL_RING_DROPS when the slowest consumer has not freed space', () => {
    const ring = createRing(2, 1024);
    const p = new RingProducer(ring, { publishEvery: 1, whenFull: 'drop' });
    const fast = new RingConsumer(ring, 0);
    const slow = new RingConsumer(ring, 1);
    const frame = Buffer.alloc(100, 0x33); // 128 bytes per record: 8 fit
    let written = 0;
    for (let i = 0; i < 8; i++) if (p.push(frame, 0, 100, 100, i, 0, 1)) written++;
    expect(written).toBe(8);
    // The fast consumer reads everything: space is still held by the slow one.
    expect(drain(fast)).toHaveLength(8);
    expect(p.push(frame, 0, 100, 100, 8, 0, 1)).toBe(false);
    expect(p.push(frame, 0, 100, 100, 9, 0, 1)).toBe(false);
    const ctl = new Int32Array(ring.control);
    expect(Atomics.load(ctl, CTL_RING_DROPS)).toBe(2);
    expect(p.drops).toBe(2);
    expect(p.maxFill()).toBe(1024);
    // Once the slow consumer has read, the producer writes again.
    expect(drain(slow)).toHaveLength(8);
    expect(p.push(frame, 0, 100, 100, 10, 0, 1)).toBe(true);
    expect(drain(slow).map((r) => r.tsSec)).toEqual([10]);
    expect(drain(fast).map((r) => r.tsSec)).toEqual([10]);
    expect(p.ringDrops()).toBe(2);
  });

  it("'wait' mode waits for the slowest consumer, and turns into 'drop' when it is stalled (a dead shard)", () => {
    const ring = createRing(1, 1024);
    const p = new RingProducer(ring, { whenFull: 'wait', publishEvery: 1, stallMs: 50 });
    const frame = Buffer.alloc(100);
    for (let i = 0; i < 8; i++) expect(p.push(frame, 0, 100, 100, i, 0, 1)).toBe(true);
    const t0 = Date.now();
    expect(p.push(frame, 0, 100, 100, 8, 0, 1)).toBe(false);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(45);
    expect(p.stalled).toBe(true);
    expect(p.waits).toBeGreaterThan(0);
    // From now on it drops at once instead of blocking the capture thread again.
    const t1 = Date.now();
    expect(p.push(frame, 0, 100, 100, 9, 0, 1)).toBe(false);
    expect(Date.now() - t1).toBeLessThan(45);
    expect(p.ringDrops()).toBe(2);
  });

  it('refuses a frame larger than half the ring (it could never fit reliably) and counts it', () => {
    const ring = createRing(1, 1024);
    const p = new RingProducer(ring);
    expect(p.push(Buffer.alloc(600), 0, 600, 600, 0, 0, 1)).toBe(false);
    expect(p.ringDrops()).toBe(1);
  });

  it('close: the consumer is done only after it has read everything', () => {
    const ring = createRing(1, 1024);
    const p = new RingProducer(ring);
    const c = new RingConsumer(ring, 0);
    p.push(FRAME, 0, 5, 5, 0, 0, 1);
    expect(c.done()).toBe(false);
    p.close();
    expect(Atomics.load(new Int32Array(ring.control), CTL_CLOSED)).toBe(1);
    expect(c.done()).toBe(false);
    expect(drain(c)).toHaveLength(1);
    expect(c.done()).toBe(true);
    // An empty, closed ring does not make wait() hang: it times out.
    const t0 = Date.now();
    c.wait(5);
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('backlog and fill follow the published write cursor', () => {
    const ring = createRing(1, 1024);
    const p = new RingProducer(ring, { publishEvery: 1 });
    const c = new RingConsumer(ring, 0);
    p.push(Buffer.alloc(232), 0, 232, 232, 0, 0, 1); // 256 bytes
    expect(c.backlog()).toBe(256);
    expect(c.fill()).toBe(0.25);
    drain(c);
    expect(c.fill()).toBe(0);
  });

  it('rejects bad geometry', () => {
    expect(() => createRing(1, 1000)).toThrow(/power of two/);
    expect(() => createRing(0, 1024)).toThrow(/consumers/);
    expect(() => new RingConsumer(createRing(2, 1024), 2)).toThrow(RangeError);
  });
});
