/**
 * IPv4 and IPv6 fragment reassembly for a passive sensor.
 *
 * IPv4: RFC 791 §3.2 (reassembly), RFC 815 (hole tracking). IPv6: RFC 8200
 * §4.5 and RFC 5722 (overlapping fragments: discard the whole datagram),
 * RFC 6946 (atomic fragments are processed in isolation). Bounds and the
 * "dead queue" idea follow Linux net/ipv4/inet_fragment.c and ip_fragment.c
 * (a queue whose datagram was dropped keeps swallowing its fragments until it
 * times out) and Suricata's defrag.c (first-wins policy for IPv4 overlaps).
 *
 * The key is (version, proto, id, src, dst), hashed to a number; a Map from
 * hash to a short chain of pending datagrams avoids building strings.
 * Fragments are rare, so this path may allocate (each fragment is copied
 * because the capture buffer is reused).
 *
 * Received byte ranges are kept as a sorted list of disjoint intervals; the
 * datagram is complete when the last fragment (MF=0) fixed the total length
 * and one interval covers [0, total). Exact duplicate fragments (a mirror port
 * often shows every packet twice) are ignored and counted as
 * 'frag_duplicate', not treated as overlaps.
 *
 * Weirds: 'frag_overlap', 'frag_duplicate', 'frag_timeout', 'frag_table_full',
 * 'frag_too_large', 'frag_inconsistent' (two different total lengths, or data
 * beyond the end), 'frag_bad_range' (caller passed a range outside the buffer).
 */
import type { Defragmenter } from '../decode/context.js';
import type { WeirdCounters } from '../decode/weird.js';
import { murmurMix } from '../util/murmur3.js';

export interface IpDefragOptions {
  /** Datagrams under reassembly at once (default 1024). The oldest is dropped to make room. */
  maxDatagrams?: number;
  /** Largest reassembled datagram, in L4 bytes (default 65535). */
  maxDatagramBytes?: number;
  /** Bytes held in all pending fragments together (default 16 MiB). */
  maxTotalBytes?: number;
  /** Capture-time seconds from the first fragment until a datagram is given up (default 30, RFC 8200 §4.5 uses 60, Linux 30). */
  timeoutSec?: number;
}

class PendingDatagram {
  hash = 0;
  /** Next datagram with the same hash. */
  chain: PendingDatagram | null = null;
  /** Age list (creation order): older / newer neighbours. */
  older: PendingDatagram | null = null;
  newer: PendingDatagram | null = null;
  ipVersion = 0;
  proto = 0;
  id = 0;
  readonly src = new Uint32Array(4);
  readonly dst = new Uint32Array(4);
  firstTs = 0;
  /** Total L4 length, known once the last fragment (MF=0) arrived; -1 before. */
  totalLen = -1;
  /** Sorted disjoint received intervals: [start0, end0, start1, end1, ...]. */
  covered: number[] = [];
  /** Original fragment ranges, to recognise exact duplicates. */
  fragStarts: number[] = [];
  fragEnds: number[] = [];
  /** Stored bytes (never overlapping) and where each goes. */
  pieces: Buffer[] = [];
  pieceOffs: number[] = [];
  bytes = 0;
  /** The datagram was given up (overlap in IPv6, too large, inconsistent): swallow its fragments until timeout. */
  dead = false;
}

export class IpDefragmenter implements Defragmenter {
  /** Datagrams reassembled and returned. */
  reassembled = 0;
  readonly maxDatagrams: number;
  readonly maxDatagramBytes: number;
  readonly maxTotalBytes: number;
  readonly timeoutSec: number;

  private readonly buckets = new Map<number, PendingDatagram>();
  private oldest: PendingDatagram | null = null;
  private newest: PendingDatagram | null = null;
  private count = 0;
  private bytes = 0;

  constructor(
    private readonly weirds: WeirdCounters,
    opts: IpDefragOptions = {},
  ) {
    this.maxDatagrams = Math.max(1, opts.maxDatagrams ?? 1024);
    this.maxDatagramBytes = opts.maxDatagramBytes ?? 65535;
    this.maxTotalBytes = opts.maxTotalBytes ?? 16 * 1024 * 1024;
    this.timeoutSec = opts.timeoutSec ?? 30;
  }

  /** Datagrams currently pending (including dead ones waiting for their timeout). */
  get pending(): number {
    return this.count;
  }

  /** Fragment bytes currently held. */
  get bufferedBytes(): number {
    return this.bytes;
  }

  add(
    ipVersion: number,
    src: Uint32Array,
    dst: Uint32Array,
    proto: number,
    id: number,
    fragOffset: number,
    moreFragments: boolean,
    buf: Buffer,
    off: number,
    len: number,
    ts: number,
  ): Buffer | null {
    if (!(off >= 0 && len >= 0 && off + len <= buf.length && fragOffset >= 0)) {
      this.weirds.weird('frag_bad_range');
      return null;
    }
    this.expire(ts);

    // RFC 6946: an "atomic fragment" (offset 0, no more fragments) stands alone.
    if (fragOffset === 0 && !moreFragments) {
      const whole = Buffer.allocUnsafe(len);
      buf.copy(whole, 0, off, off + len);
      this.reassembled++;
      return whole;
    }
    if (len === 0 && moreFragments) return null; // carries nothing and no length information

    const v4 = ipVersion === 4;
    id >>>= 0;
    let h = murmurMix((ipVersion << 8) | (proto & 255), id);
    h = murmurMix(h, src[0]!);
    h = murmurMix(h, dst[0]!);
    if (!v4) {
      for (let i = 1; i < 4; i++) {
        h = murmurMix(h, src[i]!);
        h = murmurMix(h, dst[i]!);
      }
    }

    let dg = this.find(h, ipVersion, proto, id, src, dst, v4);
    const end = fragOffset + len;
    if (end > this.maxDatagramBytes) {
      this.weirds.weird('frag_too_large');
      if (dg === null) dg = this.create(h, ipVersion, proto, id, src, dst, v4, ts);
      this.kill(dg);
      return null;
    }
    if (dg === null) dg = this.create(h, ipVersion, proto, id, src, dst, v4, ts);
    if (dg.dead) return null;

    // Length consistency: one total length, and nothing beyond it.
    if (!moreFragments) {
      const coveredEnd = dg.covered.length > 0 ? dg.covered[dg.covered.length - 1]! : 0;
      if ((dg.totalLen >= 0 && dg.totalLen !== end) || coveredEnd > end) {
        this.weirds.weird('frag_inconsistent');
        this.kill(dg);
        return null;
      }
      dg.totalLen = end;
    } else if (dg.totalLen >= 0 && end > dg.totalLen) {
      this.weirds.weird('frag_inconsistent');
      this.kill(dg);
      return null;
    }

    for (let i = 0; i < dg.fragStarts.length; i++) {
      if (dg.fragStarts[i] === fragOffset && dg.fragEnds[i] === end) {
        this.weirds.weird('frag_duplicate');
        return null;
      }
    }

    const covered = dg.covered;
    let overlaps = false;
    for (let i = 0; i < covered.length; i += 2) {
      if (covered[i]! < end && covered[i + 1]! > fragOffset) {
        overlaps = true;
        break;
      }
    }
    let newBytes = len;
    if (overlaps) {
      this.weirds.weird('frag_overlap');
      if (!v4) {
        // RFC 5722 §4: discard the datagram and every fragment received for it.
        this.kill(dg);
        return null;
      }
      newBytes = uncoveredBytes(covered, fragOffset, end);
    }

    // Global memory bound: make room by dropping other, older datagrams.
    while (this.bytes + newBytes > this.maxTotalBytes) {
      const victim = this.oldest === dg ? dg.newer : this.oldest;
      if (victim === null) break;
      this.weirds.weird('frag_table_full');
      this.remove(victim);
    }
    if (this.bytes + newBytes > this.maxTotalBytes) {
      this.weirds.weird('frag_table_full');
      return null;
    }

    dg.fragStarts.push(fragOffset);
    dg.fragEnds.push(end);
    if (!overlaps) {
      storePiece(dg, buf, off, fragOffset, len);
    } else {
      // IPv4 first-wins: keep what we had, take only the bytes not yet received.
      let cur = fragOffset;
      for (let i = 0; i < covered.length && cur < end; i += 2) {
        const cs = covered[i]!;
        const ce = covered[i + 1]!;
        if (ce <= cur) continue;
        if (cs >= end) break;
        if (cs > cur) storePiece(dg, buf, off + (cur - fragOffset), cur, cs - cur);
        cur = Math.max(cur, ce);
      }
      if (cur < end) storePiece(dg, buf, off + (cur - fragOffset), cur, end - cur);
    }
    dg.bytes += newBytes;
    this.bytes += newBytes;
    addInterval(covered, fragOffset, end);

    if (dg.totalLen >= 0 && covered.length === 2 && covered[0] === 0 && covered[1] === dg.totalLen) {
      const out = Buffer.allocUnsafe(dg.totalLen);
      for (let i = 0; i < dg.pieces.length; i++) dg.pieces[i]!.copy(out, dg.pieceOffs[i]!);
      this.remove(dg);
      this.reassembled++;
      return out;
    }
    return null;
  }

  /**
   * Drop datagrams whose first fragment is older than the timeout at capture
   * time `now`. Returns how many were dropped. Cheap when none are due.
   */
  expire(now: number): number {
    let n = 0;
    for (;;) {
      const dg = this.oldest;
      if (dg === null || now - dg.firstTs <= this.timeoutSec) break;
      if (!dg.dead) this.weirds.weird('frag_timeout');
      this.remove(dg);
      n++;
    }
    return n;
  }

  /** Drop everything pending (end of capture). Incomplete datagrams count as 'frag_timeout'. */
  flush(): void {
    while (this.oldest !== null) {
      if (!this.oldest.dead) this.weirds.weird('frag_timeout');
      this.remove(this.oldest);
    }
  }

  // ---------------------------------------------------------------- internals

  private find(
    h: number,
    ver: number,
    proto: number,
    id: number,
    src: Uint32Array,
    dst: Uint32Array,
    v4: boolean,
  ): PendingDatagram | null {
    for (let dg = this.buckets.get(h) ?? null; dg !== null; dg = dg.chain) {
      if (dg.ipVersion !== ver || dg.proto !== proto || dg.id !== id) continue;
      if (dg.src[0] !== src[0] || dg.dst[0] !== dst[0]) continue;
      if (!v4 && (dg.src[1] !== src[1] || dg.src[2] !== src[2] || dg.src[3] !== src[3])) continue;
      if (!v4 && (dg.dst[1] !== dst[1] || dg.dst[2] !== dst[2] || dg.dst[3] !== dst[3])) continue;
      return dg;
    }
    return null;
  }

  private create(
    h: number,
    ver: number,
    proto: number,
    id: number,
    src: Uint32Array,
    dst: Uint32Array,
    v4: boolean,
    ts: number,
  ): PendingDatagram {
    if (this.count >= this.maxDatagrams && this.oldest !== null) {
      this.weirds.weird('frag_table_full');
      this.remove(this.oldest);
    }
    const dg = new PendingDatagram();
    dg.hash = h;
    dg.ipVersion = ver;
    dg.proto = proto;
    dg.id = id;
    if (v4) {
      dg.src[0] = src[0]!;
      dg.dst[0] = dst[0]!;
    } else {
      dg.src.set(src.subarray(0, 4));
      dg.dst.set(dst.subarray(0, 4));
    }
    dg.firstTs = ts;
    dg.chain = this.buckets.get(h) ?? null;
    this.buckets.set(h, dg);
    dg.older = this.newest;
    if (this.newest !== null) this.newest.newer = dg;
    else this.oldest = dg;
    this.newest = dg;
    this.count++;
    return dg;
  }

  /** Give the datagram up but keep its entry, so that its remaining fragments are swallowed until timeout. */
  private kill(dg: PendingDatagram): void {
    dg.dead = true;
    this.bytes -= dg.bytes;
    dg.bytes = 0;
    dg.pieces = [];
    dg.pieceOffs = [];
    dg.covered = [];
  }

  private remove(dg: PendingDatagram): void {
    // Unchain from its hash bucket.
    const head = this.buckets.get(dg.hash) ?? null;
    if (head === dg) {
      if (dg.chain === null) this.buckets.delete(dg.hash);
      else this.buckets.set(dg.hash, dg.chain);
    } else {
      for (let p = head; p !== null; p = p.chain) {
        if (p.chain === dg) {
          p.chain = dg.chain;
          break;
        }
      }
    }
    // Unlink from the age list.
    if (dg.older !== null) dg.older.newer = dg.newer;
    else this.oldest = dg.newer;
    if (dg.newer !== null) dg.newer.older = dg.older;
    else this.newest = dg.older;
    dg.older = dg.newer = dg.chain = null;
    this.bytes -= dg.bytes;
    dg.bytes = 0;
    this.count--;
  }
}

function storePiece(dg: PendingDatagram, buf: Buffer, off: number, at: number, len: number): void {
  if (len <= 0) return;
  const copy = Buffer.allocUnsafe(len);
  buf.copy(copy, 0, off, off + len);
  dg.pieces.push(copy);
  dg.pieceOffs.push(at);
}

/** Bytes of [s, e) not inside any interval of `covered`. */
function uncoveredBytes(covered: number[], s: number, e: number): number {
  let n = 0;
  let cur = s;
  for (let i = 0; i < covered.length && cur < e; i += 2) {
    const cs = covered[i]!;
    const ce = covered[i + 1]!;
    if (ce <= cur) continue;
    if (cs >= e) break;
    if (cs > cur) n += cs - cur;
    cur = Math.max(cur, ce);
  }
  if (cur < e) n += e - cur;
  return n;
}

/** Insert [s, e) into the sorted disjoint interval list, merging neighbours that touch or overlap. */
function addInterval(covered: number[], s: number, e: number): void {
  let i = 0;
  while (i < covered.length && covered[i + 1]! < s) i += 2;
  let j = i;
  let ns = s;
  let ne = e;
  while (j < covered.length && covered[j]! <= e) {
    ns = Math.min(ns, covered[j]!);
    ne = Math.max(ne, covered[j + 1]!);
    j += 2;
  }
  covered.splice(i, j - i, ns, ne);
}
