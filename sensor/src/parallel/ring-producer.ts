/**
 * The JavaScript producer of the broadcast packet ring (layout and memory
 * ordering: ring-layout.ts). Used when the capture thread is JavaScript: file
 * replays (`--read` with --workers), the `cap` live backend, and tests. The
 * native capture thread (sensor/native/tapcap.c) writes the same records.
 *
 * Records are written with plain stores and published in batches with one
 * Atomics.store of the write cursor (release): consumers load it (acquire)
 * and may then read every byte before it. Publishing per batch rather than
 * per packet saves an Atomics.store + Atomics.notify per packet; a batch is
 * also published whenever the producer has to wait for space, so consumers
 * can always drain what blocks it.
 *
 * When a record does not fit the space the SLOWEST consumer has freed, the
 * producer either drops it and counts CTL_RING_DROPS (live capture: blocking
 * would only move the loss into the kernel, where we could not count it) or
 * waits (file replay: a file can wait, and a replay must be complete).
 */
import {
  CONTROL_INT32S,
  CTL_BYTES_LO,
  CTL_CLOSED,
  CTL_CONSUMERS,
  CTL_PACKETS,
  CTL_RING_DROPS,
  CTL_WRITE,
  DEFAULT_RING_BYTES,
  MAX_CONSUMERS,
  RECORD_HEADER_BYTES,
  WRAP_MARKER,
  isPowerOfTwo,
  readCursorSlot,
  recordBytes,
} from './ring-layout.js';

/** The two shared buffers of one ring, as handed to workers (structured-cloneable). */
export interface RingBuffers {
  control: SharedArrayBuffer;
  data: SharedArrayBuffer;
}

/** Allocate a ring for `consumers` readers; every read cursor starts at 0. */
export function createRing(consumers: number, capacity = DEFAULT_RING_BYTES): RingBuffers {
  if (!isPowerOfTwo(capacity) || capacity < 1024 || capacity > 2 ** 30) {
    throw new RangeError(`ring capacity must be a power of two between 1 KiB and 1 GiB, not ${capacity}`);
  }
  if (!Number.isInteger(consumers) || consumers < 1 || consumers > MAX_CONSUMERS) {
    throw new RangeError(`a ring has 1..${MAX_CONSUMERS} consumers, not ${consumers}`);
  }
  const control = new SharedArrayBuffer(CONTROL_INT32S * 4);
  const ctl = new Int32Array(control);
  Atomics.store(ctl, CTL_CONSUMERS, consumers);
  return { control, data: new SharedArrayBuffer(capacity) };
}

export type WhenFull = 'drop' | 'wait';

export interface RingProducerOptions {
  /** 'drop' (live capture, default) counts CTL_RING_DROPS; 'wait' blocks until the slowest consumer frees space. */
  whenFull?: WhenFull;
  /** Publish the write cursor after this many records (default 64). */
  publishEvery?: number;
  /** 'wait' mode: a slowest consumer that frees nothing for this long is taken for dead (default 10 s). */
  stallMs?: number;
}

/** Longest a waiting producer sleeps before it looks at the read cursors again (ms). */
const PRODUCER_WAIT_MS = 1;
/** A consumer that frees nothing for this long is taken for dead (ms). */
const DEFAULT_STALL_MS = 10_000;

export class RingProducer {
  readonly ctl: Int32Array;
  private readonly bytes: Buffer;
  private readonly words: Uint32Array;
  readonly capacity: number;
  private readonly mask: number;
  private readonly consumers: number;
  private whenFull: WhenFull;
  private readonly publishEvery: number;
  private readonly stallMs: number;
  /** Local write cursor (bytes modulo 2^32); published to CTL_WRITE in batches. */
  private write: number;
  /** Free bytes known without reloading the read cursors (only ever an underestimate). */
  private knownFree = 0;
  private unpublished = 0;
  /** Exact totals (the control slots wrap at 2^32). */
  packets = 0;
  bytesWritten = 0;
  drops = 0;
  /** Times a 'wait' producer had to sleep for space. */
  waits = 0;
  /**
   * A 'wait' producer whose slowest consumer made no progress for
   * stallMs (a shard died: its cursor will never move, and the main thread
   * cannot hear about it while it blocks here) turns into a 'drop' producer.
   */
  stalled = false;

  constructor(ring: RingBuffers, opts: RingProducerOptions = {}) {
    this.ctl = new Int32Array(ring.control);
    this.bytes = Buffer.from(ring.data);
    // Header fields are 4-byte aligned (records start 8-aligned), so one
    // typed-array store each; host order is little-endian on every platform
    // Node supports for this sensor (x86-64, arm64), which the layout requires.
    this.words = new Uint32Array(ring.data);
    this.capacity = ring.data.byteLength;
    this.mask = this.capacity - 1;
    this.consumers = Atomics.load(this.ctl, CTL_CONSUMERS);
    this.whenFull = opts.whenFull ?? 'drop';
    this.publishEvery = Math.max(1, opts.publishEvery ?? 64);
    this.stallMs = opts.stallMs ?? DEFAULT_STALL_MS;
    this.write = Atomics.load(this.ctl, CTL_WRITE) >>> 0;
  }

  /** Fill of the slowest consumer, in bytes. */
  maxFill(): number {
    let max = 0;
    const w = this.write;
    for (let i = 0; i < this.consumers; i++) {
      const fill = (w - (Atomics.load(this.ctl, readCursorSlot(i)) >>> 0)) >>> 0;
      if (fill > max) max = fill;
    }
    return max;
  }

  /**
   * Append one frame. Returns false when it was dropped (ring full in 'drop'
   * mode, or a frame larger than half the ring, which could never fit
   * reliably); the drop is counted in CTL_RING_DROPS.
   */
  push(frame: Uint8Array, offset: number, capLen: number, origLen: number, tsSec: number, tsNsec: number, linkType: number): boolean {
    const need = recordBytes(capLen);
    const off = this.write & this.mask;
    const tail = this.capacity - off;
    // A record never straddles the ring end: skip the tail with a wrap marker.
    const total = need <= tail ? need : tail + need;
    if (total > this.knownFree && !this.makeRoom(total, need)) {
      this.drops++;
      Atomics.add(this.ctl, CTL_RING_DROPS, 1);
      return false;
    }
    let at = off;
    if (need > tail) {
      this.words[at >>> 2] = WRAP_MARKER;
      this.write = (this.write + tail) >>> 0;
      at = 0;
    }
    const w = this.words;
    const h = at >>> 2;
    w[h] = need;
    w[h + 1] = capLen;
    w[h + 2] = origLen;
    w[h + 3] = tsSec;
    w[h + 4] = tsNsec;
    w[h + 5] = linkType;
    // Buffer#copy is a memcpy with no per-packet view object (subarray() would allocate one).
    if (frame instanceof Buffer) frame.copy(this.bytes, at + RECORD_HEADER_BYTES, offset, offset + capLen);
    else this.bytes.set(frame.subarray(offset, offset + capLen), at + RECORD_HEADER_BYTES);
    this.write = (this.write + need) >>> 0;
    this.knownFree -= total;
    this.packets++;
    this.bytesWritten += capLen;
    if (++this.unpublished >= this.publishEvery) this.publish();
    return true;
  }

  /** Reload the read cursors; in 'wait' mode sleep until `total` bytes are free. */
  private makeRoom(total: number, need: number): boolean {
    if (need > this.capacity >>> 1) return false;
    let since = 0;
    let lastFree = -1;
    for (;;) {
      this.knownFree = this.capacity - this.maxFill();
      if (total <= this.knownFree) return true;
      if (this.whenFull === 'drop') return false;
      if (this.knownFree !== lastFree) {
        lastFree = this.knownFree;
        since = Date.now();
      } else if (Date.now() - since >= this.stallMs) {
        this.stalled = true;
        this.whenFull = 'drop';
        return false;
      }
      // Consumers can only free what they have been shown.
      this.publish();
      this.waits++;
      // A plain timed sleep: consumers do not notify the producer (the native
      // producer cannot be woken by V8 either), and with a ring of megabytes
      // the sleeps are rare.
      Atomics.wait(this.ctl, CTL_CLOSED, Atomics.load(this.ctl, CTL_CLOSED), PRODUCER_WAIT_MS);
    }
  }

  /** Make every record written so far visible to the consumers and wake them. */
  publish(): void {
    this.unpublished = 0;
    Atomics.store(this.ctl, CTL_PACKETS, this.packets | 0);
    Atomics.store(this.ctl, CTL_BYTES_LO, this.bytesWritten | 0);
    Atomics.store(this.ctl, CTL_WRITE, this.write | 0);
    Atomics.notify(this.ctl, CTL_WRITE);
  }

  /** No more records: publish the rest and tell the consumers. */
  close(): void {
    this.publish();
    Atomics.store(this.ctl, CTL_CLOSED, 1);
    Atomics.notify(this.ctl, CTL_WRITE);
  }

  /** Drops counted in the control block (the native producer's, too). */
  ringDrops(): number {
    return Atomics.load(this.ctl, CTL_RING_DROPS) >>> 0;
  }
}
