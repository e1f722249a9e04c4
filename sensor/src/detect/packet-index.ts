/**
 * A short-memory index of recent RTP packet sightings, keyed by the packet
 * digest (RTP header + payload, app/media/rtp-digest.ts), shared by the
 * duplicate-stream heuristics (dup-exact, dup-encapsulated).
 *
 * Why: a verbatim copy (NAT/DNAT/TEE/nft dup, or a tunnel such as VXLAN,
 * GRE/ERSPAN, Geneve, TZSP, HEP) is byte-identical from the RTP header on
 * (PROTOCOLS.md, "Where a copied packet hides"), so it shows up as a second
 * sighting of the same digest, with the same SSRC, sequence number and RTP
 * timestamp (RFC 3550 §5.1), a few microseconds to milliseconds after the
 * original. Everything else about the two sightings (flow, destination,
 * tunnel stack, next-hop MAC, TTL, IP ID) tells what kind of delivery each was.
 *
 * Layout: a ring of sightings in typed arrays (no object per packet) plus a
 * chained hash: `buckets[h]` holds the absolute insert number of the newest
 * sighting whose digest hashes to h, and `prev[i]` the one before it. An
 * absolute number n is still in the ring iff n > inserted - capacity, so
 * chains need no cleanup when the ring wraps. Memory is fixed at
 * construction (about 90 bytes per slot); the effective time window is
 * min(windowSec, capacity / packet rate).
 */
import type { MediaStream } from '../media/media-stream.js';
import type { RtpObservation } from './observations.js';

/** How many matches one packet can report (an original, its SPAN double and a couple of copies). */
export const MAX_MATCHES = 8;
/** Chain steps walked per lookup at most (only same-digest sightings are chained). */
const MAX_CHAIN_STEPS = 16;

/** One sighting = one 64-byte record (8 doubles): a whole insert touches one cache line. */
const STRIDE = 8;
const F_TS = 0;
/** Absolute number of the previous sighting with the same digest, or -1. */
const F_PREV = 1;
const F_DIGEST = 2;
const F_SSRC = 3;
const F_RTPTS = 4;
/** seq (16) | ttl (8) << 16 | tunnel depth (4) << 24 | ipId (16) << 28, exact in a double. */
const F_PACKED = 5;
const F_SRCMAC = 6;
const F_DSTMAC = 7;
const P_TTL = 0x10000;
const P_DEPTH = 0x1000000;
const P_IPID = 0x10000000;

export class PacketIndex {
  readonly capacity: number;
  private readonly mask: number;
  private readonly bucketMask: number;
  /** Sightings older than this (capture seconds) never match. */
  readonly windowSec: number;

  /** The sighting records (see F_*). */
  private readonly rec: Float64Array;
  /**
   * Direct-mapped digest table: per bucket [ring slot of the newest sighting
   * + 1 (0 = empty), its digest], 8 bytes, one bucket per ring slot (1 MiB at
   * the default size, so it stays in L2: a larger or wider table measured
   * 3-4x slower per packet, all of it in this one random access). A packet
   * whose digest was not seen costs one load; a colliding newer digest
   * simply takes the bucket (the older sighting then cannot be matched any
   * more: at 1M packets/s that happens to ~0.8% of packets per millisecond of
   * copy delay, and a copy needs only minMatches matches).
   */
  private readonly buckets: Int32Array;
  // ---- per-slot references and rarely-set fields (separate arrays: written sequentially) ----
  readonly stream: Array<MediaStream | null>;
  /** 0 for a plain packet; otherwise a number naming (depth, kind, outer destination) of the tunnel stack. */
  readonly tunnelSig: Int32Array;
  /** Outermost non-feed tunnel kind and "ip:port" (references to the observation's strings, no copy); valid only where tunnelSig != 0. */
  readonly tunnelKind: string[];
  readonly tunnelDst: string[];
  readonly tunnelDstIp: string[];
  /** Sightings inserted so far (absolute numbering). */
  inserted = 0;

  /** Result of the last observe(): ring slots of earlier sightings of the same packet. */
  readonly matches = new Int32Array(MAX_MATCHES);
  matchCount = 0;
  /** Ring slot of the packet just observed. */
  current = -1;

  // ---- memo: several detectors observe the same packet; index it once ----
  private lastTs = -1;
  private lastDigest = -1;
  private lastSeq = -1;
  private lastStream: MediaStream | null = null;

  // ---- tunnel signature interning (tunnelled packets only) ----
  private readonly kindIds = new Map<string, number>();
  private readonly dstIds = new Map<string, number>();

  constructor(capacityLog2 = 17, windowSec = 2) {
    const cap = 1 << Math.max(8, Math.min(24, capacityLog2 | 0));
    this.capacity = cap;
    this.mask = cap - 1;
    this.bucketMask = cap - 1;
    this.windowSec = windowSec;
    this.rec = new Float64Array(cap * STRIDE);
    this.buckets = new Int32Array(cap * 2);
    this.stream = new Array<MediaStream | null>(cap).fill(null);
    this.tunnelSig = new Int32Array(cap);
    this.tunnelKind = new Array<string>(cap).fill('');
    this.tunnelDst = new Array<string>(cap).fill('');
    this.tunnelDstIp = new Array<string>(cap).fill('');
  }

  // ---- field accessors for ring slot i ----
  tsAt(i: number): number {
    return this.rec[i * STRIDE + F_TS]!;
  }
  digestAt(i: number): number {
    return this.rec[i * STRIDE + F_DIGEST]! >>> 0;
  }
  seqAt(i: number): number {
    return this.rec[i * STRIDE + F_PACKED]! % P_TTL;
  }
  ttlAt(i: number): number {
    return Math.floor(this.rec[i * STRIDE + F_PACKED]! / P_TTL) & 0xff;
  }
  depthAt(i: number): number {
    return Math.floor(this.rec[i * STRIDE + F_PACKED]! / P_DEPTH) & 0x0f;
  }
  ipIdAt(i: number): number {
    return Math.floor(this.rec[i * STRIDE + F_PACKED]! / P_IPID);
  }
  srcMacAt(i: number): number {
    return this.rec[i * STRIDE + F_SRCMAC]!;
  }
  dstMacAt(i: number): number {
    return this.rec[i * STRIDE + F_DSTMAC]!;
  }

  /** Interned number for a tunnel stack: equal numbers mean the same (depth, kind, outer destination). */
  tunnelSignature(depth: number, kind: string, dst: string): number {
    if (depth === 0) return 0;
    let k = this.kindIds.get(kind);
    if (k === undefined) {
      if (this.kindIds.size >= 60) this.kindIds.clear();
      k = this.kindIds.size + 1;
      this.kindIds.set(kind, k);
    }
    let d = this.dstIds.get(dst);
    if (d === undefined) {
      // Bounded: a flood of tunnel destinations only resets the numbering.
      if (this.dstIds.size >= 1 << 20) this.dstIds.clear();
      d = this.dstIds.size + 1;
      this.dstIds.set(dst, d);
    }
    return ((d * 64 + k) * 16 + (depth & 15)) | 0;
  }

  /**
   * Index one RTP sighting and collect the earlier sightings of the same
   * packet (same digest, SSRC, sequence number and RTP timestamp, within the
   * window) into `matches`. Idempotent for the packet being processed, so
   * every duplicate heuristic may call it from its onRtp.
   */
  observe(o: RtpObservation): number {
    const s = o.stream;
    if (o.ts === this.lastTs && o.digest === this.lastDigest && o.seq === this.lastSeq && s === this.lastStream) return this.matchCount;
    this.lastTs = o.ts;
    this.lastDigest = o.digest;
    this.lastSeq = o.seq;
    this.lastStream = s;

    const digest = o.digest >>> 0;
    const ssrc = s.ssrc >>> 0;
    const rtpTs = o.rtpTs >>> 0;
    const seq = o.seq & 0xffff;
    const b = 2 * (hashDigest(digest) & this.bucketMask);
    const buckets = this.buckets;
    // The bucket's newest sighting continues this digest's chain only if it has this digest.
    const head = buckets[b + 1] === (digest | 0) ? this.absoluteOf(buckets[b]! - 1) : -1;
    this.matchCount = head < 0 ? 0 : this.walk(head, digest, ssrc, seq, rtpTs, o.ts, this.matches);

    const n = this.inserted++;
    const i = n & this.mask;
    const r = i * STRIDE;
    const rec = this.rec;
    rec[r + F_TS] = o.ts;
    rec[r + F_PREV] = head;
    rec[r + F_DIGEST] = digest;
    rec[r + F_SSRC] = ssrc;
    rec[r + F_RTPTS] = rtpTs;
    const depth = o.tunnelDepth & 0x0f;
    rec[r + F_PACKED] = seq + (o.ttl & 0xff) * P_TTL + depth * P_DEPTH + (o.ipId & 0xffff) * P_IPID;
    rec[r + F_SRCMAC] = o.srcMac;
    rec[r + F_DSTMAC] = o.dstMac;
    buckets[b] = i + 1;
    buckets[b + 1] = digest | 0;
    this.stream[i] = s;
    if (depth === 0) {
      // The tunnel strings are only read for tunnelled slots: leave stale references (no write barriers).
      this.tunnelSig[i] = 0;
    } else {
      this.tunnelSig[i] = this.tunnelSignature(depth, o.tunnelKind, o.tunnelDst);
      this.tunnelKind[i] = o.tunnelKind;
      this.tunnelDst[i] = o.tunnelDst;
      this.tunnelDstIp[i] = o.tunnelDstIp;
    }
    this.current = i;
    return this.matchCount;
  }

  /**
   * Lookup only: ring slots of sightings of (digest, ssrc, seq, rtpTs) within
   * the window around `now`. Used to confirm an embedded copy byte for byte.
   */
  find(digest: number, ssrc: number, seq: number, rtpTs: number, now: number, out: Int32Array): number {
    const d = digest >>> 0;
    const b = 2 * (hashDigest(d) & this.bucketMask);
    if (this.buckets[b + 1] !== (d | 0)) return 0;
    const head = this.absoluteOf(this.buckets[b]! - 1);
    return head < 0 ? 0 : this.walk(head, d, ssrc >>> 0, seq & 0xffff, rtpTs >>> 0, now, out);
  }

  /** The absolute number of the sighting now in ring slot i (the newest one written there), or -1. */
  private absoluteOf(i: number): number {
    if (i < 0) return -1;
    const last = this.inserted - 1;
    const n = last - ((last - i) & this.mask);
    return n >= 0 ? n : -1;
  }

  /** Walk one digest's chain from absolute number `n`, newest first. */
  private walk(n: number, digest: number, ssrc: number, seq: number, rtpTs: number, now: number, out: Int32Array): number {
    // Slot n & mask still holds sighting n exactly while n >= oldest (the ring overwrites in order).
    const oldest = this.inserted - this.capacity;
    const minTs = now - this.windowSec;
    const maxTs = now + this.windowSec;
    const rec = this.rec;
    let count = 0;
    for (let steps = 0; n >= 0 && n >= oldest && steps < MAX_CHAIN_STEPS; steps++) {
      const i = n & this.mask;
      const r = i * STRIDE;
      // A slot overwritten by another digest ends the chain (the bucket kept pointing at it).
      if (rec[r + F_DIGEST] !== digest) break;
      const t = rec[r + F_TS]!;
      if (t < minTs) break;
      if (rec[r + F_SSRC] === ssrc && rec[r + F_RTPTS] === rtpTs && rec[r + F_PACKED]! % P_TTL === seq && t <= maxTs) {
        out[count++] = i;
        if (count === out.length) break;
      }
      n = rec[r + F_PREV]!;
    }
    return count;
  }
}

function hashDigest(d: number): number {
  // The digest is already a murmur3 finalised value; one multiply spreads the low bits used for the bucket.
  return Math.imul(d ^ (d >>> 15), 0x2c1b3c6d) >>> 0;
}

/** One index per detection context, shared by the duplicate heuristics that run in it. */
const shared = new WeakMap<object, PacketIndex>();

export function sharedPacketIndex(ctx: object, capacityLog2 = 17, windowSec = 2): PacketIndex {
  let idx = shared.get(ctx);
  if (!idx) {
    idx = new PacketIndex(capacityLog2, windowSec);
    shared.set(ctx, idx);
  }
  return idx;
}

/** "02:00:00:00:03:02" from a 48-bit MAC number (off the hot path). */
export function formatMac(mac: number): string {
  if (mac < 0) return '';
  const hex = mac.toString(16).padStart(12, '0');
  return hex.replace(/(..)(?!$)/g, '$1:');
}

/** Host part of an "ip:port" endpoint (IPv6 printed without brackets, so split at the last colon). */
export function hostOf(endpoint: string): string {
  const c = endpoint.lastIndexOf(':');
  return c < 0 ? endpoint : endpoint.slice(0, c);
}

/** Port of an "ip:port" endpoint, or null. */
export function portOf(endpoint: string): number | null {
  const c = endpoint.lastIndexOf(':');
  if (c < 0) return null;
  const p = Number(endpoint.slice(c + 1));
  return Number.isInteger(p) ? p : null;
}

/** IPv4 224.0.0.0/4 or IPv6 ff00::/8. */
export function isMulticastIp(ip: string): boolean {
  if (ip.includes(':')) return ip.slice(0, 2).toLowerCase() === 'ff';
  const first = Number(ip.slice(0, ip.indexOf('.')));
  return first >= 224 && first <= 239;
}

/** 32-bit digest as 8 hex digits for evidence. */
export function hex32(d: number): string {
  return (d >>> 0).toString(16).padStart(8, '0');
}
