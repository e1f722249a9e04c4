/**
 * Per-stream RTP fingerprint ring for the `dup-correlated` heuristic: the last
 * N packets of one stream as header facts only (arrival time, RFC 3550 §5.1
 * sequence number, timestamp, marker, payload type, payload length, a digest
 * of the payload). Never payload bytes.
 *
 * These are the signals PROTOCOLS.md ("Correlating copies whose bytes
 * differ") names: header tuples (Δseq, Δts, marker, length), talk-spurt
 * boundaries and inter-arrival times. Wang et al. (CCS 2005) showed that a few
 * milliseconds of timing make a VoIP flow unique; a ring of ~10 s is enough to
 * compare.
 *
 * Struct of arrays, preallocated once per ring and recycled through a pool:
 * push() is a handful of typed-array stores, no allocation.
 */

/** Packets kept per stream: 10.24 s at 50 packets/s (20 ms ptime), 5 s at 10 ms. Power of two. */
export const RING_CAPACITY = 512;
const MASK = RING_CAPACITY - 1;

export class FingerprintRing {
  /** Capture time of each packet, seconds. */
  readonly t = new Float64Array(RING_CAPACITY);
  readonly seq = new Uint16Array(RING_CAPACITY);
  readonly rtpTs = new Uint32Array(RING_CAPACITY);
  /** Payload type in the low 7 bits, marker in bit 7. */
  readonly ptm = new Uint8Array(RING_CAPACITY);
  readonly len = new Uint16Array(RING_CAPACITY);
  /** Payload digest: equal digests on matched packets mean the payload was NOT re-encrypted. */
  readonly pd = new Int32Array(RING_CAPACITY);
  /** Packets pushed since reset (monotone); packet k lives in slot k & MASK while k >= count - capacity. */
  count = 0;

  reset(): void {
    this.count = 0;
  }

  push(ts: number, seq: number, rtpTs: number, payloadType: number, marker: boolean, payloadLength: number, payloadDigest: number): void {
    const i = this.count & MASK;
    this.t[i] = ts;
    this.seq[i] = seq;
    this.rtpTs[i] = rtpTs;
    this.ptm[i] = (payloadType & 0x7f) | (marker ? 0x80 : 0);
    this.len[i] = payloadLength > 0xffff ? 0xffff : payloadLength;
    this.pd[i] = payloadDigest;
    this.count++;
  }

  /** Index (in push order) of the oldest packet still retained. */
  get oldest(): number {
    return this.count > RING_CAPACITY ? this.count - RING_CAPACITY : 0;
  }

  /** Slot of packet k (k in [oldest, count)). */
  static slot(k: number): number {
    return k & MASK;
  }

  /** Time of the newest packet, or -Infinity when empty. */
  get lastTs(): number {
    return this.count === 0 ? -Infinity : this.t[(this.count - 1) & MASK]!;
  }
}

/** A bounded pool of rings: memory is capped at `max` rings (~11 KB each). */
export class RingPool {
  private readonly free: FingerprintRing[] = [];
  private inUse = 0;
  /** Requests refused because the pool was exhausted. */
  refused = 0;

  constructor(readonly max: number) {}

  get used(): number {
    return this.inUse;
  }

  acquire(): FingerprintRing | null {
    if (this.inUse >= this.max) {
      this.refused++;
      return null;
    }
    this.inUse++;
    const r = this.free.pop() ?? new FingerprintRing();
    r.reset();
    return r;
  }

  release(r: FingerprintRing): void {
    this.inUse--;
    this.free.push(r);
  }
}
