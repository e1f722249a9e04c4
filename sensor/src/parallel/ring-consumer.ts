/**
 * One consumer of the broadcast packet ring (layout: ring-layout.ts). It
 * points the sensor's one reused PacketRecord at each record in place, as the
 * file readers point it at their chunk buffer: nothing is copied or allocated
 * per packet. The frame bytes are valid only during the callback, because the
 * read cursor is published after the batch and the producer may then reuse
 * the space (same contract as `cap`'s single buffer, see STYLE.md).
 *
 * The read cursor is published once per batch, not per packet: one
 * Atomics.store per few hundred packets instead of one per packet, at the
 * price of the producer seeing the space freed a batch later.
 */
import type { PacketRecord } from '../decode/packet.js';
import type { RingBuffers } from './ring-producer.js';
import {
  CONSUMER_WAIT_MS,
  CTL_CLOSED,
  CTL_CONSUMERS,
  CTL_IF_DROPS,
  CTL_KERNEL_DROPS,
  CTL_RING_DROPS,
  CTL_WRITE,
  RECORD_HEADER_BYTES,
  RECORD_ALIGN,
  WRAP_MARKER,
  readCursorSlot,
} from './ring-layout.js';

/** Records handled before the read cursor is published (and the caller gets control back). */
export const DEFAULT_BATCH = 512;

export class RingConsumer {
  private readonly ctl: Int32Array;
  private readonly bytes: Buffer;
  private readonly words: Uint32Array;
  readonly capacity: number;
  private readonly mask: number;
  private readonly slot: number;
  private read: number;
  /** Write cursor seen at the last poll (what Atomics.wait waits to change). */
  private seenWrite: number;
  /** Records delivered. */
  packets = 0;
  /** Records whose header made no sense (cannot happen with a correct producer); reading stops at one. */
  corrupt = 0;

  constructor(
    ring: RingBuffers,
    readonly index: number,
  ) {
    this.ctl = new Int32Array(ring.control);
    const consumers = Atomics.load(this.ctl, CTL_CONSUMERS);
    if (index < 0 || index >= consumers) throw new RangeError(`consumer ${index} of a ring set up for ${consumers}`);
    this.bytes = Buffer.from(ring.data);
    this.words = new Uint32Array(ring.data);
    this.capacity = ring.data.byteLength;
    this.mask = this.capacity - 1;
    this.slot = readCursorSlot(index);
    this.read = Atomics.load(this.ctl, this.slot) >>> 0;
    this.seenWrite = this.read;
  }

  /** Bytes published but not yet read by this consumer: its backlog. */
  backlog(): number {
    return ((Atomics.load(this.ctl, CTL_WRITE) >>> 0) - this.read) >>> 0;
  }

  /** Backlog as a share of the ring (0..1), the load shedder's input. */
  fill(): number {
    return this.backlog() / this.capacity;
  }

  /** True once the producer closed the ring and this consumer has read everything. */
  done(): boolean {
    return Atomics.load(this.ctl, CTL_CLOSED) === 1 && this.backlog() === 0;
  }

  /**
   * Deliver up to `max` published records to onPacket, then publish the read
   * cursor. Returns the number delivered (0 when the ring was empty).
   */
  poll(rec: PacketRecord, onPacket: (rec: PacketRecord) => void, max = DEFAULT_BATCH): number {
    const write = Atomics.load(this.ctl, CTL_WRITE) >>> 0;
    this.seenWrite = write;
    let r = this.read;
    let n = 0;
    const words = this.words;
    const mask = this.mask;
    while (r !== write && n < max) {
      const off = r & mask;
      const h = off >>> 2;
      const len = words[h]!;
      if (len === WRAP_MARKER) {
        r = (r + (this.capacity - off)) >>> 0;
        continue;
      }
      const capLen = words[h + 1]!;
      if (len < RECORD_HEADER_BYTES || (len & (RECORD_ALIGN - 1)) !== 0 || RECORD_HEADER_BYTES + capLen > len || off + len > this.capacity) {
        // A broken record would desynchronise every later one: skip to what is published.
        this.corrupt++;
        r = write;
        break;
      }
      const tsSec = words[h + 3]!;
      const tsNsec = words[h + 4]!;
      rec.tsSec = tsSec;
      rec.tsNsec = tsNsec;
      rec.ts = tsSec + tsNsec / 1e9;
      rec.capLength = capLen;
      rec.wireLength = words[h + 2]!;
      rec.interfaceId = 0;
      rec.linkType = words[h + 5]!;
      rec.frameNumber = ++this.packets;
      rec.frame = this.bytes;
      rec.frameOffset = off + RECORD_HEADER_BYTES;
      r = (r + len) >>> 0;
      n++;
      onPacket(rec);
    }
    if (r !== this.read) {
      this.read = r;
      Atomics.store(this.ctl, this.slot, r | 0);
    }
    return n;
  }

  /** Sleep until the producer publishes more (or CONSUMER_WAIT_MS passes: a native producer cannot wake us). */
  wait(timeoutMs = CONSUMER_WAIT_MS): void {
    Atomics.wait(this.ctl, CTL_WRITE, this.seenWrite | 0, timeoutMs);
  }

  /** Capture-side losses every shard must know of (findings then say evidence may be incomplete). */
  dropsSeen(): boolean {
    return Atomics.load(this.ctl, CTL_RING_DROPS) !== 0 || Atomics.load(this.ctl, CTL_KERNEL_DROPS) !== 0 || Atomics.load(this.ctl, CTL_IF_DROPS) !== 0;
  }
}
