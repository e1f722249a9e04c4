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
/** Chain steps walked per lookup at most (bounds the worst case under hash floods). */
const MAX_CHAIN_STEPS = 48;

export class PacketIndex {
  readonly capacity: number;
  private readonly mask: number;
  private readonly bucketMask: number;
  /** Sightings older than this (capture seconds) never match. */
  readonly windowSec: number;

  // ---- one entry per sighting (ring slot) ----
  readonly ts: Float64Array;
  readonly digest: Int32Array;
  readonly ssrc: Int32Array;
  readonly seq: Uint16Array;
  readonly rtpTs: Int32Array;
  readonly ipId: Int32Array;
  readonly ttl: Uint8Array;
  readonly srcMac: Float64Array;
  readonly dstMac: Float64Array;
  /** 0 for a plain packet; otherwise a number naming (depth, kind, outer destination) of the tunnel stack. */
  readonly tunnelSig: Int32Array;
  readonly tunnelDepth: Uint8Array;
  readonly stream: Array<MediaStream | null>;
  /** Outermost non-feed tunnel kind and "ip:port" (references to the observation's strings, no copy). */
  readonly tunnelKind: string[];
  readonly tunnelDst: string[];
  readonly tunnelDstIp: string[];
  private readonly prev: Float64Array;
  private readonly absNo: Float64Array;
  private readonly buckets: Float64Array;
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
    this.bucketMask = cap * 2 - 1;
    this.windowSec = windowSec;
    this.ts = new Float64Array(cap);
    this.digest = new Int32Array(cap);
    this.ssrc = new Int32Array(cap);
    this.seq = new Uint16Array(cap);
    this.rtpTs = new Int32Array(cap);
    this.ipId = new Int32Array(cap);
    this.ttl = new Uint8Array(cap);
    this.srcMac = new Float64Array(cap);
    this.dstMac = new Float64Array(cap);
    this.tunnelSig = new Int32Array(cap);
    this.tunnelDepth = new Uint8Array(cap);
    this.stream = new Array<MediaStream | null>(cap).fill(null);
    this.tunnelKind = new Array<string>(cap).fill('');
    this.tunnelDst = new Array<string>(cap).fill('');
    this.tunnelDstIp = new Array<string>(cap).fill('');
    this.prev = new Float64Array(cap);
    this.absNo = new Float64Array(cap).fill(-1);
    this.buckets = new Float64Array(cap * 2).fill(-1);
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

    const digest = o.digest | 0;
    const ssrc = s.ssrc | 0;
    const rtpTs = o.rtpTs | 0;
    this.matchCount = this.collect(digest, ssrc, o.seq, rtpTs, o.ts, this.matches);

    // Insert into the ring.
    const n = this.inserted++;
    const i = n & this.mask;
    const h = hashDigest(digest) & this.bucketMask;
    this.prev[i] = this.buckets[h]!;
    this.buckets[h] = n;
    this.absNo[i] = n;
    this.ts[i] = o.ts;
    this.digest[i] = digest;
    this.ssrc[i] = ssrc;
    this.seq[i] = o.seq;
    this.rtpTs[i] = rtpTs;
    this.ipId[i] = o.ipId;
    this.ttl[i] = o.ttl;
    this.srcMac[i] = o.srcMac;
    this.dstMac[i] = o.dstMac;
    this.stream[i] = s;
    const depth = o.tunnelDepth;
    this.tunnelDepth[i] = depth;
    if (depth === 0) {
      this.tunnelSig[i] = 0;
      this.tunnelKind[i] = '';
      this.tunnelDst[i] = '';
      this.tunnelDstIp[i] = '';
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
   * the window before `now`. Used to confirm an embedded copy byte for byte.
   */
  find(digest: number, ssrc: number, seq: number, rtpTs: number, now: number, out: Int32Array): number {
    return this.collect(digest | 0, ssrc | 0, seq & 0xffff, rtpTs | 0, now, out);
  }

  private collect(digest: number, ssrc: number, seq: number, rtpTs: number, now: number, out: Int32Array): number {
    const oldest = this.inserted - this.capacity;
    const minTs = now - this.windowSec;
    const maxTs = now + this.windowSec;
    let n = this.buckets[hashDigest(digest) & this.bucketMask]!;
    let count = 0;
    for (let steps = 0; n >= 0 && n >= oldest && steps < MAX_CHAIN_STEPS; steps++) {
      const i = n & this.mask;
      if (this.absNo[i] !== n) break;
      const t = this.ts[i]!;
      if (
        this.digest[i] === digest &&
        this.ssrc[i] === ssrc &&
        this.seq[i] === seq &&
        this.rtpTs[i] === rtpTs &&
        t >= minTs &&
        t <= maxTs
      ) {
        out[count++] = i;
        if (count === out.length) break;
      }
      n = this.prev[i]!;
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
