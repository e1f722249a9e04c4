/**
 * Per-direction TCP stream reassembly for passive monitoring (SIP over TCP,
 * RFC 4571 framed RTP, TURN over TCP, X2/X3).
 *
 * Sequence numbers follow RFC 9293 §3.4 (modulo 2^32; compare with
 * `(a - b) | 0`). The approach is that of Suricata's stream engine
 * (src/stream-tcp-reassemble.c) and Zeek's TCP_Reassembler, reduced to what a
 * mirror port needs:
 *  - A SYN sets the ISN; data starts at ISN+1. Without a SYN we pick the stream
 *    up at the first data segment (mid-stream pickup, Suricata's "midstream").
 *  - In-order data is handed to `deliver` as the caller's own buffer range:
 *    no copy, no allocation.
 *  - Out-of-order segments are copied into a small bounded buffer per
 *    direction. Retransmitted and overlapping bytes are trimmed so every byte
 *    is delivered exactly once (first copy wins, like Suricata's default
 *    "first" overlap policy for BSD-like hosts).
 *  - A mirror port loses packets the endpoints never lose, so a hole can
 *    persist forever. When the buffer exceeds its limits (or the hole is older
 *    than `holeTimeoutSec` of capture time, when the caller passes `ts`), the
 *    hole is skipped: deliver() is called once with len === 0 to say "bytes
 *    were lost here, drop any partial message", then the buffered data
 *    continues. SIP recovers at the next message.
 *
 * Weirds: 'tcp_retransmission' (segment entirely already seen),
 * 'tcp_reassembly_overflow' (buffer limit hit), 'tcp_gap' (a hole was skipped),
 * 'tcp_seq_jump' (sequence moved by more than the window: treated as a resync).
 */
import type { WeirdCounters } from '../decode/weird.js';

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;

/** Callback receiving stream bytes in order. len === 0 signals a gap (lost bytes before the next delivery). */
export type TcpDeliver = (dir: 0 | 1, data: Buffer, off: number, len: number) => void;

const EMPTY = Buffer.alloc(0);

export interface TcpReassemblyLimits {
  /** Bytes buffered out of order per direction (default 65536). */
  maxBytes?: number;
  /** Segments buffered out of order per direction (default 32). */
  maxSegments?: number;
  /** A hole older than this (capture seconds) is skipped when `ts` is passed to tcpPush (default 2). */
  holeTimeoutSec?: number;
  /**
   * A segment more than this many bytes ahead of or behind the expected
   * sequence number is taken as a resynchronisation (default 1 MiB).
   */
  maxSeqJump?: number;
}

export class TcpDirection {
  /** True once the ISN (SYN) or the first data segment fixed the sequence space. */
  synced = false;
  /** Sequence number of the next byte to deliver (uint32). */
  nextSeq = 0;
  /** A SYN fixed the ISN (as opposed to a mid-stream pickup). */
  sawSyn = false;
  /** Initial sequence number from the SYN. */
  isn = 0;
  /** FIN or RST seen. */
  closed = false;
  /** Bytes delivered so far. */
  delivered = 0;
  /** Holes skipped so far. */
  gaps = 0;
  /** Out-of-order segments, sorted by sequence number (relative to nextSeq). Allocated lazily. */
  segSeq: number[] | null = null;
  segData: Buffer[] | null = null;
  bufferedBytes = 0;
  /** Capture time when the oldest current hole was first seen (-1: none, or unknown). */
  holeSince = -1;

  reset(): void {
    this.synced = false;
    this.sawSyn = false;
    this.isn = 0;
    this.nextSeq = 0;
    this.closed = false;
    this.delivered = 0;
    this.gaps = 0;
    if (this.segSeq !== null) this.segSeq.length = 0;
    if (this.segData !== null) this.segData.length = 0;
    this.bufferedBytes = 0;
    this.holeSince = -1;
  }

  get bufferedSegments(): number {
    return this.segSeq === null ? 0 : this.segSeq.length;
  }
}

export class TcpFlowState {
  readonly dir: [TcpDirection, TcpDirection] = [new TcpDirection(), new TcpDirection()];
  readonly maxBytes: number;
  readonly maxSegments: number;
  readonly holeTimeoutSec: number;
  readonly maxSeqJump: number;

  constructor(limits: TcpReassemblyLimits = {}) {
    this.maxBytes = limits.maxBytes ?? 65536;
    this.maxSegments = limits.maxSegments ?? 32;
    this.holeTimeoutSec = limits.holeTimeoutSec ?? 2;
    this.maxSeqJump = limits.maxSeqJump ?? 1 << 20;
  }
}

/**
 * Feed one TCP segment of direction `dir`: `buf[off, off+len)` is its payload,
 * `seq` its sequence number, `flags` the TCP flags byte. New in-order bytes go
 * to `deliver` (possibly several calls: the segment, then buffered segments
 * it made contiguous). `ts` (capture seconds, optional) enables the hole timeout.
 */
export function tcpPush(
  state: TcpFlowState,
  dir: 0 | 1,
  seq: number,
  flags: number,
  buf: Buffer,
  off: number,
  len: number,
  deliver: TcpDeliver,
  weirds: WeirdCounters,
  ts = -1,
): void {
  const d = state.dir[dir];
  seq >>>= 0;
  if ((flags & TCP_SYN) !== 0) {
    const isn1 = (seq + 1) >>> 0;
    // A SYN with a new ISN (or the first SYN) starts the sequence space afresh;
    // a retransmitted SYN changes nothing.
    if (!d.sawSyn || d.isn !== seq) {
      resetDirection(d);
      d.synced = true;
      d.sawSyn = true;
      d.isn = seq;
      d.nextSeq = isn1;
    }
    seq = isn1; // SYN occupies one sequence number; TFO data follows it
  }
  if (len > 0) {
    if (!d.synced) {
      d.synced = true;
      d.nextSeq = seq;
    }
    pushData(state, d, dir, seq, buf, off, len, deliver, weirds, ts);
  } else if (ts >= 0 && d.holeSince >= 0 && ts - d.holeSince > state.holeTimeoutSec) {
    // Pure ACKs keep the hole timeout ticking.
    skipHoles(state, d, dir, deliver, weirds, ts, false);
  }
  if ((flags & (TCP_FIN | TCP_RST)) !== 0) d.closed = true;
}

/**
 * Deliver everything still buffered, skipping holes (each counted as a gap).
 * Call when the flow ends so that messages stuck behind a lost segment are not lost too.
 */
export function tcpFlush(state: TcpFlowState, deliver: TcpDeliver, weirds: WeirdCounters): void {
  for (let i = 0; i < 2; i++) {
    const dir = i as 0 | 1;
    const d = state.dir[dir];
    while (d.bufferedSegments > 0) skipGap(d, dir, deliver, weirds);
    d.holeSince = -1;
  }
}

function resetDirection(d: TcpDirection): void {
  d.synced = false;
  d.sawSyn = false;
  d.nextSeq = 0;
  d.closed = false;
  if (d.segSeq !== null) d.segSeq.length = 0;
  if (d.segData !== null) d.segData.length = 0;
  d.bufferedBytes = 0;
  d.holeSince = -1;
}

function pushData(
  state: TcpFlowState,
  d: TcpDirection,
  dir: 0 | 1,
  seq: number,
  buf: Buffer,
  off: number,
  len: number,
  deliver: TcpDeliver,
  weirds: WeirdCounters,
  ts: number,
): void {
  const rel = (seq - d.nextSeq) | 0;
  if (rel > state.maxSeqJump || rel + len < -state.maxSeqJump) {
    // Far outside any plausible window: we missed a lot (capture loss) or the
    // port pair was reused without a SYN we saw. Resynchronise on this segment.
    weirds.weird('tcp_seq_jump');
    if (d.bufferedSegments > 0) {
      // What was buffered belongs to the old sequence space: hand it over first.
      while (d.bufferedSegments > 0) skipGap(d, dir, deliver, weirds);
    }
    d.gaps++;
    deliver(dir, EMPTY, 0, 0);
    d.nextSeq = seq;
    d.holeSince = -1;
    deliverInOrder(d, dir, buf, off, len, deliver);
    return;
  }
  if (rel <= 0) {
    if (rel + len <= 0) {
      weirds.weird('tcp_retransmission');
      return;
    }
    // Trim the part already delivered (overlap), hand over the rest in place.
    deliverInOrder(d, dir, buf, off - rel, len + rel, deliver);
    if (d.segSeq !== null && d.segSeq.length > 0) {
      const before = d.segSeq.length;
      drain(d, dir, deliver);
      // A hole that was filled restarts the clock for the next one; a hole being filled keeps its age.
      if (d.segSeq.length === 0) d.holeSince = -1;
      else if (d.segSeq.length < before) d.holeSince = ts;
    }
    return;
  }
  // A hole precedes this segment: keep a copy until the hole fills.
  if (!insertSegment(d, seq, rel, buf, off, len)) {
    weirds.weird('tcp_retransmission');
    return;
  }
  if (d.holeSince < 0) d.holeSince = ts;
  if (d.bufferedBytes > state.maxBytes || d.segSeq!.length > state.maxSegments) {
    weirds.weird('tcp_reassembly_overflow');
    skipHoles(state, d, dir, deliver, weirds, ts, true);
  } else if (ts >= 0 && d.holeSince >= 0 && ts - d.holeSince > state.holeTimeoutSec) {
    skipHoles(state, d, dir, deliver, weirds, ts, false);
  }
}

function deliverInOrder(d: TcpDirection, dir: 0 | 1, buf: Buffer, off: number, len: number, deliver: TcpDeliver): void {
  d.nextSeq = (d.nextSeq + len) >>> 0;
  d.delivered += len;
  deliver(dir, buf, off, len);
}

/** Copy the segment into the sorted out-of-order list. Returns false for an exact duplicate. */
function insertSegment(d: TcpDirection, seq: number, rel: number, buf: Buffer, off: number, len: number): boolean {
  if (d.segSeq === null) {
    d.segSeq = [];
    d.segData = [];
  }
  const seqs = d.segSeq;
  const datas = d.segData!;
  const base = d.nextSeq;
  let i = seqs.length;
  // Usually segments arrive in increasing order: search from the end.
  while (i > 0) {
    const r = (seqs[i - 1]! - base) | 0;
    if (r < rel) break;
    if (r === rel && datas[i - 1]!.length >= len) return false;
    i--;
  }
  // Fully covered by the previous buffered segment: nothing new.
  if (i > 0) {
    const r = (seqs[i - 1]! - base) | 0;
    if (r + datas[i - 1]!.length >= rel + len) return false;
  }
  const copy = Buffer.allocUnsafe(len);
  buf.copy(copy, 0, off, off + len);
  seqs.splice(i, 0, seq);
  datas.splice(i, 0, copy);
  d.bufferedBytes += len;
  return true;
}

/** Deliver buffered segments that are now contiguous with nextSeq (trimming overlaps). */
function drain(d: TcpDirection, dir: 0 | 1, deliver: TcpDeliver): void {
  const seqs = d.segSeq!;
  const datas = d.segData!;
  let n = 0;
  while (n < seqs.length) {
    const r = (seqs[n]! - d.nextSeq) | 0;
    if (r > 0) break;
    const data = datas[n]!;
    d.bufferedBytes -= data.length;
    n++;
    if (r + data.length > 0) deliverInOrder(d, dir, data, -r, data.length + r, deliver);
  }
  if (n > 0) {
    seqs.splice(0, n);
    datas.splice(0, n);
  }
}

/** Skip the hole before the first buffered segment and deliver what becomes contiguous. */
function skipGap(d: TcpDirection, dir: 0 | 1, deliver: TcpDeliver, weirds: WeirdCounters): void {
  weirds.weird('tcp_gap');
  d.gaps++;
  deliver(dir, EMPTY, 0, 0);
  d.nextSeq = d.segSeq![0]! >>> 0;
  drain(d, dir, deliver);
}

/**
 * Skip holes: on overflow until the buffer is within its limits, on timeout
 * just the oldest hole. The hole clock restarts at `ts` if data stays buffered.
 */
function skipHoles(
  state: TcpFlowState,
  d: TcpDirection,
  dir: 0 | 1,
  deliver: TcpDeliver,
  weirds: WeirdCounters,
  ts: number,
  overflow: boolean,
): void {
  if (overflow) {
    while (d.bufferedSegments > 0 && (d.bufferedBytes > state.maxBytes || d.segSeq!.length > state.maxSegments)) {
      skipGap(d, dir, deliver, weirds);
    }
  } else if (d.bufferedSegments > 0) {
    skipGap(d, dir, deliver, weirds);
  }
  d.holeSince = d.bufferedSegments > 0 ? ts : -1;
}
