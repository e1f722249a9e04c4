/**
 * Rolling per-stream block digests: the sensor's half of the cross-sensor
 * duplicate join. The collector owns the message format and the matching
 * (collector/src/ingest/fingerprint.ts); this file computes the digests it
 * compares, one RTP packet at a time.
 *
 * Blocks follow the format's alignment: a packet with 16-bit sequence number
 * `seq` (RFC 3550 §5.1) belongs to the block starting at seq - seq % 32, so
 * two sensors that started observing at different packets cut the same
 * blocks, and the 65535 -> 0 wrap starts a new block at 0 (65536 is a
 * multiple of 32).
 *
 * Per block, two digests of 64 bits (two 32-bit lanes each):
 *  - header: over the (seq, RTP timestamp, marker, payload type, payload
 *    length) tuple of every packet. These fields survive re-encryption
 *    (SRTP, RFC 3711 §3.1, encrypts only the payload), so a re-encrypted copy
 *    still matches;
 *  - payload: over a hash of each payload (rtp-digest.ts: both ends and the
 *    length, sampled), so only a verbatim copy matches. No payload byte, and
 *    nothing from which one could be recovered, leaves the sensor.
 * Each packet's tuple is hashed on its own (murmur3's mixer, seq included)
 * and the block digest is the lane-wise SUM of those hashes: addition is
 * commutative, so packets that arrive out of order inside a block give the
 * same digest as in order, and summing the finished per-packet hashes keeps
 * the digest as strong as hashing the tuples in sequence order. A 32-bit
 * bitmap per block counts each sequence number once (duplicates are not
 * added twice), and its population count is the block's `n`.
 *
 * Cost (hot path, every RTP packet of a fingerprinted stream): two slot
 * compares, one bitmap test, four murmur mixing rounds, four finalisations
 * and four adds; no allocation. Every stream's state is one record of 104
 * words (416 bytes: an 8-word header and WINDOW_BLOCKS slots of 6 words) in
 * ONE Int32Array shared by all streams (a slab), found by the record number
 * the stream holds. A first version kept a small object and its own typed
 * array per stream: three dependent loads (object, typed array, off-heap
 * store) cost ~150 ns per packet on a busy sensor against ~35 ns for the
 * arithmetic; the slab touches one record, next to its neighbours.
 */
import { murmurFinal, murmurMix } from '../util/murmur3.js';

/** Packets per block. 32 keeps the distinct-packet set in one 32-bit word. */
export const FINGERPRINT_BLOCK_SIZE = 32;
/** Blocks kept (and published) per stream: 16 x 32 packets = 10.24 s of 20 ms audio. */
export const FINGERPRINT_WINDOW_BLOCKS = 16;

/** Words per block slot: [0x10000 | start (0 = empty), bitmap, header lane A, header lane B, payload lane A, payload lane B]. */
const SLOT_WORDS = 6;
const OCCUPIED = 0x10000;
const BLOCK_SHIFT = 5; // log2(FINGERPRINT_BLOCK_SIZE)
const SLOT_MASK = FINGERPRINT_WINDOW_BLOCKS - 1;
const WINDOW_SEQS = FINGERPRINT_WINDOW_BLOCKS * FINGERPRINT_BLOCK_SIZE;
const FULL = -1; // all 32 bits of the bitmap, as an Int32Array stores them

// Lane seeds: arbitrary odd constants, fixed forever (both sensors must agree).
const SEED_HEADER = 0x2545f491;
const SEED_PAYLOAD = 0x27d4eb2f;
/** XORed into the mixing state before the second lane's finalisation. */
const LANE_B = 0x9e3779b9 | 0;

/** Two hex digits per byte value, built once: formatting a digest is four lookups (toString(16) + padStart was 10% of a publishing sensor's CPU). */
const HEX_BYTE: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function hex8(x: number): string {
  return HEX_BYTE[x >>> 24]! + HEX_BYTE[(x >>> 16) & 0xff]! + HEX_BYTE[(x >>> 8) & 0xff]! + HEX_BYTE[x & 0xff]!;
}

function popcount32(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}

/** One block as the format publishes it (structurally the collector's FingerprintBlock). */
export interface DigestBlock {
  seq: number;
  n: number;
  header: string;
  payload: string | null;
}

/** Record header words. */
const H_NEWEST = 0; // start of the newest block seen, or -1
const H_PACKETS = 1; // distinct packets added
const H_TOO_LATE = 2; // packets older than the whole window: dropped
const H_COMPLETED = 3; // blocks completed since the last publication
const H_SEQ_FIRST = 4; // -1 until the first packet
const H_SEQ_LAST = 5;
const H_RTPTS_FIRST = 6; // int32 bits of the uint32 RTP timestamp
const H_RTPTS_LAST = 7;
const HEADER_WORDS = 8;
/** Words per stream record. */
export const RECORD_WORDS = HEADER_WORDS + FINGERPRINT_WINDOW_BLOCKS * SLOT_WORDS;

/** What a publication needs of one record besides its blocks. */
export interface DigestSummary {
  packets: number;
  tooLate: number;
  seqFirst: number;
  seqLast: number;
  rtpTsFirst: number;
  rtpTsLast: number;
  outerDst: string | null;
}

/**
 * The rolling digests of every fingerprinted stream, one record each.
 * `add` is the per-packet entry point; `blocks()` (allocating, publication
 * only) lists a record's window. Records are recycled through a free list;
 * the slab doubles when full (a copy, as rare as the stream table's peaks).
 */
export class DigestSlab {
  private data: Int32Array;
  /** Capture time of each record's last publication (0 = never). */
  private published: Float64Array;
  private readonly outer: Array<string | null> = [];
  private readonly freeList: number[] = [];
  private used = 0;

  constructor(initialRecords = 256) {
    const n = Math.max(1, initialRecords);
    this.data = new Int32Array(n * RECORD_WORDS);
    this.published = new Float64Array(n);
  }

  /** Records in use. */
  get size(): number {
    return this.used - this.freeList.length;
  }

  /** Records the slab can hold before it grows. */
  get capacity(): number {
    return this.published.length;
  }

  /** A fresh record. `outerDst`: where the packets really go when they arrive in a (non-sensor) tunnel, else null. */
  alloc(outerDst: string | null): number {
    let rec = this.freeList.pop();
    if (rec === undefined) {
      if (this.used === this.published.length) this.grow();
      rec = this.used++;
    }
    const base = rec * RECORD_WORDS;
    this.data.fill(0, base, base + RECORD_WORDS);
    this.data[base + H_NEWEST] = -1;
    this.data[base + H_SEQ_FIRST] = -1;
    this.published[rec] = 0;
    this.outer[rec] = outerDst;
    return rec;
  }

  release(rec: number): void {
    this.outer[rec] = null;
    this.freeList.push(rec);
  }

  private grow(): void {
    const data = new Int32Array(this.data.length * 2);
    data.set(this.data);
    this.data = data;
    const published = new Float64Array(this.published.length * 2);
    published.set(this.published);
    this.published = published;
  }

  /**
   * Account one RTP packet of record `rec`. `rtpTs` and `payloadHash` may be
   * given as int32 or uint32 (same bits, same digest); `payloadHash` is a
   * 32-bit hash of the payload, never the payload. Never throws, allocates nothing.
   */
  add(rec: number, seq: number, rtpTs: number, marker: boolean, payloadType: number, payloadLength: number, payloadHash: number): void {
    const s = this.data;
    const base = rec * RECORD_WORDS;
    seq &= 0xffff;
    const start = seq & 0xffe0; // seq - seq % 32
    const slot = base + HEADER_WORDS + ((seq >>> BLOCK_SHIFT) & SLOT_MASK) * SLOT_WORDS;
    const tag = OCCUPIED | start;
    if (s[slot] !== tag) {
      // A block this slot does not hold yet. Either it is new (at most
      // WINDOW_BLOCKS - 1 blocks behind the newest, or ahead of it), and
      // takes the slot from the block 16 blocks older; or it is older than
      // the whole window and the packet is dropped. Distances are modulo 2^16
      // (RFC 3550 §A.1).
      const newest = s[base + H_NEWEST]!;
      const behind = (newest - start) & 0xffff;
      if (newest < 0 || behind >= 0x8000) s[base + H_NEWEST] = start;
      else if (behind >= WINDOW_SEQS) {
        s[base + H_TOO_LATE]!++;
        return;
      }
      s[slot] = tag;
      s[slot + 1] = 0;
      s[slot + 2] = 0;
      s[slot + 3] = 0;
      s[slot + 4] = 0;
      s[slot + 5] = 0;
    }
    const bit = 1 << (seq & (FINGERPRINT_BLOCK_SIZE - 1));
    const seen = s[slot + 1]!;
    if ((seen & bit) !== 0) return; // a duplicate (RFC 3550 §A.1 counts it, the digest must not)
    const bitmap = seen | bit;
    s[slot + 1] = bitmap;
    if (bitmap === FULL) s[base + H_COMPLETED]!++;

    // Header tuple: seq (16 bits) | payload type (7) | marker (1) in one word,
    // then timestamp and length: three murmur rounds give one 32-bit state;
    // its two lanes are two finalisations of it (each lane alone is a
    // full-avalanche hash of the tuple).
    const w1 = seq | ((payloadType & 0x7f) << 16) | (marker ? 0x800000 : 0);
    const h = murmurMix(murmurMix(murmurMix(SEED_HEADER, w1), rtpTs), payloadLength);
    s[slot + 2] = (s[slot + 2]! + murmurFinal(h)) | 0;
    s[slot + 3] = (s[slot + 3]! + murmurFinal(h ^ LANE_B)) | 0;
    // Payload: the payload's hash keyed by its sequence number, so equal
    // payloads (silence) at different positions do not look alike.
    const p = murmurMix(SEED_PAYLOAD ^ seq, payloadHash);
    s[slot + 4] = (s[slot + 4]! + murmurFinal(p)) | 0;
    s[slot + 5] = (s[slot + 5]! + murmurFinal(p ^ LANE_B)) | 0;

    const packets = s[base + H_PACKETS]! + 1;
    s[base + H_PACKETS] = packets;
    if (packets === 1) {
      s[base + H_SEQ_FIRST] = seq;
      s[base + H_RTPTS_FIRST] = rtpTs;
    }
    // Newest packet by sequence (a late packet does not move the end back).
    if (packets === 1 || ((seq - s[base + H_SEQ_LAST]!) & 0xffff) < 0x8000) {
      s[base + H_SEQ_LAST] = seq;
      s[base + H_RTPTS_LAST] = rtpTs;
    }
  }

  /**
   * The window's blocks of record `rec`, oldest first. Allocates
   * (publication only). `withPayload` false publishes payload digests as null.
   */
  blocks(rec: number, withPayload = true): DigestBlock[] {
    const s = this.data;
    const base = rec * RECORD_WORDS;
    const newest = s[base + H_NEWEST]!;
    const out: Array<DigestBlock & { age: number }> = [];
    for (let i = 0; i < FINGERPRINT_WINDOW_BLOCKS; i++) {
      const o = base + HEADER_WORDS + i * SLOT_WORDS;
      const w0 = s[o]!;
      if (w0 === 0) continue;
      const start = w0 & 0xffff;
      const age = (newest - start) & 0xffff;
      if (age >= WINDOW_SEQS) continue; // left behind by a sequence jump
      const n = popcount32(s[o + 1]!);
      // Finalising with the block start and count makes digests of blocks
      // with equal sums but different positions or sizes differ.
      const header = hex8(murmurFinal(s[o + 2]! ^ start)) + hex8(murmurFinal((s[o + 3]! + n) | 0));
      const payload = withPayload ? hex8(murmurFinal(s[o + 4]! ^ start)) + hex8(murmurFinal((s[o + 5]! + n) | 0)) : null;
      out.push({ seq: start, n, header, payload, age });
    }
    out.sort((a, b) => b.age - a.age);
    return out.map(({ seq, n, header, payload }) => ({ seq, n, header, payload }));
  }

  /** Complete blocks (every packet seen) currently in the window. */
  completeBlocks(rec: number): number {
    return this.blocks(rec, false).reduce((c, b) => c + (b.n === FINGERPRINT_BLOCK_SIZE ? 1 : 0), 0);
  }

  /** Blocks completed since the last `markPublished`. */
  completedSincePublish(rec: number): number {
    return this.data[rec * RECORD_WORDS + H_COMPLETED]!;
  }

  lastPublishedTs(rec: number): number {
    return this.published[rec]!;
  }

  markPublished(rec: number, ts: number): void {
    this.data[rec * RECORD_WORDS + H_COMPLETED] = 0;
    this.published[rec] = ts;
  }

  summary(rec: number): DigestSummary {
    const s = this.data;
    const base = rec * RECORD_WORDS;
    const seqFirst = s[base + H_SEQ_FIRST]!;
    return {
      packets: s[base + H_PACKETS]!,
      tooLate: s[base + H_TOO_LATE]!,
      seqFirst: seqFirst < 0 ? 0 : seqFirst,
      seqLast: s[base + H_SEQ_LAST]!,
      rtpTsFirst: s[base + H_RTPTS_FIRST]! >>> 0,
      rtpTsLast: s[base + H_RTPTS_LAST]! >>> 0,
      outerDst: this.outer[rec] ?? null,
    };
  }
}
