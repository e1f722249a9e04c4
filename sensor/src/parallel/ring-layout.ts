/**
 * Layout of the shared-memory packet ring (issue 6): the contract between the
 * one producer (the native capture thread in sensor/native/tapcap.c, or the
 * JavaScript producer in ring-producer.ts for files and the `cap` backend)
 * and the N consumers (the worker_threads shards).
 *
 * One producer, N consumers, every consumer reads EVERY record (a broadcast
 * ring): each shard decodes each frame's headers cheaply, decides whether it
 * owns the packet (call-aware sharding, see shard-key.ts), and skips the rest.
 * The producer may only overwrite bytes that every consumer has passed.
 *
 * Two SharedArrayBuffers:
 *  - control: Int32Array of CONTROL_INT32S slots, each hot field on its own
 *    64-byte cache line so that the producer and consumers do not false-share;
 *  - data: a byte ring of `capacity` bytes (a power of two, at most 2^30).
 *
 * Positions (write and read cursors) are byte counts modulo 2^32, stored as
 * Int32 and read as `>>> 0`; because capacity divides 2^32, `pos & (capacity-1)`
 * is the offset in the data ring, and `(write - read) >>> 0` is the fill.
 *
 * A record starts at an 8-byte aligned offset and never straddles the end of
 * the data ring. Record header (little-endian, RECORD_HEADER_BYTES = 24):
 *   u32 recordBytes  total bytes of this record including header and padding
 *                    (a multiple of 8); WRAP_MARKER means "no record here:
 *                    continue at offset 0" and its bytes run to the ring end
 *   u32 capLen       captured bytes that follow the header
 *   u32 origLen      length on the wire
 *   u32 tsSec        capture time, seconds (Unix)
 *   u32 tsNsec       capture time, nanoseconds within the second
 *   u32 linkType     DLT of the frame (pcap LINKTYPE_*)
 * followed by capLen frame bytes, then padding to a multiple of 8.
 *
 * Publication: the producer writes records, then stores the new write cursor
 * with release semantics (Atomics.store / __atomic_store_n RELEASE). A
 * consumer loads the write cursor (acquire), reads every record up to it, and
 * then stores its read cursor. The producer computes the free space against
 * the SLOWEST active consumer; when a record does not fit it drops the packet
 * and increments RING_DROPS (drops are counted, never silent).
 *
 * Waiting: a native thread cannot wake V8's Atomics.wait, so consumers wait
 * with a short timeout (CONSUMER_WAIT_MS) on the write cursor; the producer
 * needs no wake-up from consumers (it drops instead of blocking: a capture
 * thread that blocks loses packets in the kernel instead, uncounted by us).
 */

/** Int32 slots in the control buffer. */
export const CONTROL_INT32S = 16 * (4 + 64);
/** Producer: write cursor (bytes modulo 2^32). Cache line 0. */
export const CTL_WRITE = 0;
/** Producer: packets written into the ring (modulo 2^32). Cache line 1. */
export const CTL_PACKETS = 16;
/** Producer: packets dropped because the ring was full (modulo 2^32). */
export const CTL_RING_DROPS = 17;
/** Producer: 1 when no more records will come (end of file, capture stopped). */
export const CTL_CLOSED = 18;
/** Number of consumers whose read cursors count (set before the producer starts). */
export const CTL_CONSUMERS = 19;
/** Producer: kernel packets received / dropped / interface drops (last pcap_stats, modulo 2^32). */
export const CTL_KERNEL_RECEIVED = 20;
export const CTL_KERNEL_DROPS = 21;
export const CTL_IF_DROPS = 22;
/** Producer: bytes of frames written (low 32 bits). */
export const CTL_BYTES_LO = 23;
/** Consumer i's read cursor lives at CTL_READ_BASE + 16 * i (one cache line each). */
export const CTL_READ_BASE = 64;
/** At most this many consumers (64 cache lines reserved). */
export const MAX_CONSUMERS = 64;

export const RECORD_HEADER_BYTES = 24;
export const WRAP_MARKER = 0xffffffff;
export const RECORD_ALIGN = 8;
export const DEFAULT_RING_BYTES = 32 * 1024 * 1024;
export const CONSUMER_WAIT_MS = 1;

export function readCursorSlot(consumer: number): number {
  return CTL_READ_BASE + 16 * consumer;
}

/** Bytes a record of capLen frame bytes occupies. */
export function recordBytes(capLen: number): number {
  return (RECORD_HEADER_BYTES + capLen + RECORD_ALIGN - 1) & ~(RECORD_ALIGN - 1);
}

export function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}
