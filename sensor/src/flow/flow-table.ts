/**
 * Bidirectional flow table with numeric keys.
 *
 * Follows Suricata's flow engine in spirit (src/flow-hash.c: hash the tuple,
 * compare it field by field; src/flow-spare-pool.c: flows come from a spare
 * pool and go back to it on eviction; src/flow-manager.c: idle timeouts by
 * packet time, so a pcap replays the same as live traffic).
 *
 * Layout (why it looks like C):
 *  - The key of flow slot `i` lives in one 64-byte record of the Int32Array
 *    `recs` (hash, version/proto, ports, flags, 4+4 address words, LRU links,
 *    and the flow's lastTs as a double through a Float64Array view of the
 *    same memory), so a lookup compares numbers, never builds a string or an
 *    object, and touches one cache line of table memory besides the index.
 *    lastTs lives here rather than on the Flow because V8 keeps every double
 *    field of an object in a separate heap box: one more cache miss per packet.
 *  - `index` is an open-addressing hash (linear probing, power-of-two size,
 *    load <= 0.5) of (flow slot, full hash) pairs; flow slot -1 = empty. The
 *    hash beside the slot number means a probe that passes other flows'
 *    entries compares them without touching their records (no cache miss per
 *    collision), and deletion finds home slots without touching records either.
 *    Deletion uses backward-shift (Knuth 6.4 Algorithm R), so probe chains
 *    stay correct without tombstones or rebuilds.
 *  - The key is canonical: the "lower" endpoint (address words, then port) is
 *    stored first, so both directions hash to the same slot. A flag says which
 *    stored endpoint is side `a` (the first packet's source), which gives the
 *    direction of each packet with one comparison.
 *  - Two intrusive LRU lists (prev/next inside the records), one per idle
 *    timeout class (0: UDP/SCTP/other, 1: TCP). A packet moves its flow to the
 *    head in O(1), at most once per LRU tick (lruGranularitySec, default 1 s;
 *    the tick is derived from the stored lastTs, so it costs no extra field),
 *    so the list stays ordered by last activity to within a tick. `expire(now)`
 *    pops from the tails while they are idle: per-packet cost stays constant
 *    and expiry is amortised. When the table is full the least recently used
 *    flow (older of the two tails) is evicted.
 *
 * Memory per flow, measured by tests/flow/flow-table.bench.test.ts (100k IPv4
 * UDP flows, Node 20, --expose-gc): ~495 bytes of V8 heap (the Flow object:
 * fields, two Uint32Array(4) views, the streams array, cached endpoint text
 * slots; plus its slot in `flows`) and ~140 bytes of ArrayBuffer memory (64 B
 * record, 16-32 B index pairs, 4 B free stack, 32 B address slab; arrays grow
 * by doubling, so up to 2x right after a growth step). About 640 bytes per
 * flow in all, ~165 MB at the default maxFlows of 262144.
 *
 * Lookup cost (same benchmark, CPU time on a shared 2-core VM, where one
 * dependent cache miss over 16 MiB costs ~180-190 ns): ~58 ns for an existing
 * IPv4 UDP flow when the working set is in cache; ~710 ns when 100k flows are
 * hit in uniformly random order (was ~1090 ns with lastTs on the Flow object
 * and bare slot numbers in the index), i.e. ~3.7 dependent misses: index
 * pair, record (key + lastTs), flows[] slot, Flow object. Real traffic sits in
 * between (packets of a flow cluster).
 */
import type { PacketRecord } from '../decode/packet.js';
import { Flow } from './flow.js';
import { murmurFinal, murmurMix } from '../util/murmur3.js';

/** Signed, as the table's slot arithmetic expects. */
const fmixSigned = (h: number): number => murmurFinal(h) | 0;

export type FlowEvictReason = 'idle' | 'full' | 'end';

export interface FlowTableOptions {
  /** Maximum number of concurrent flows (default 262144). When full, the LRU flow is evicted. */
  maxFlows?: number;
  /** Idle timeout for UDP, SCTP and other non-TCP flows, capture-time seconds (default 60). */
  udpIdleTimeoutSec?: number;
  /** Idle timeout for TCP flows, capture-time seconds (default 300). */
  tcpIdleTimeoutSec?: number;
  /**
   * Called once per evicted flow. The flow is already out of the table but its
   * fields are intact; after the callback returns the object is recycled.
   */
  onEvict?: (flow: Flow, reason: FlowEvictReason) => void;
  /** Flow slots allocated up front (default min(maxFlows, 4096)); arrays double up to maxFlows. */
  initialCapacity?: number;
  /** Spare Flow objects kept for reuse (default 16384); extra ones are left to the GC. */
  maxSpare?: number;
  /**
   * Hash index size (rounded up to a power of two, at least flows + 1). Only for
   * tests that want long probe chains; the default keeps the load at <= 0.5.
   */
  indexSlots?: number;
  /**
   * LRU granularity in capture seconds (default 1). A flow is moved to the
   * head of the LRU list at most once per tick, which keeps busy flows cheap;
   * idle expiry and full eviction are then accurate to one tick. 0 = exact.
   */
  lruGranularitySec?: number;
}

const PROTO_TCP = 6;

function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

// Per-flow record layout in `recs` (Int32Array, one 64-byte cache line per flow,
// so a hit touches one line of table memory besides the index slot).
// Words 14-15 hold lastTs as a double (Float64Array `times`, element fi * 8 + 7).
const R_STRIDE = 16;
const R_HASH = 0;
/** (ipVersion << 8) | proto */
const R_META = 1;
/** (loPort << 16) | hiPort */
const R_PORTS = 2;
/** bit 0: side a is the stored "lo" endpoint; bit 1: TCP LRU class */
const R_FLAGS = 3;
const R_LO = 4; // 4 words
const R_HI = 8; // 4 words
const R_PREV = 12;
const R_NEXT = 13;
/** Index of lastTs in the Float64Array view: record fi's last 8 bytes. */
const T_STRIDE = R_STRIDE / 2;
const T_LAST = 7;

const F_A_IS_LO = 1;
const F_TCP = 2;

export class FlowTable {
  /** Flows currently in the table. */
  size = 0;
  /** Flows created since start. */
  created = 0;
  /** Evictions by reason ('end' covers flush() and explicit evict()). */
  readonly evictions = { idle: 0, full: 0, end: 0 };
  /** Direction of the packet of the last successful lookup: 0 = a->b, 1 = b->a. */
  lastDirection: 0 | 1 = 0;

  readonly maxFlows: number;
  readonly udpIdleTimeoutSec: number;
  readonly tcpIdleTimeoutSec: number;
  private readonly onEvict: ((flow: Flow, reason: FlowEvictReason) => void) | null;
  private readonly maxSpare: number;
  private readonly indexSlotsOpt: number;
  /** 1 / lruGranularitySec; 0 means exact LRU (relink on every packet). */
  private readonly ticksPerSec: number;
  private epoch = NaN;

  /** Flow slots currently allocated. */
  private cap = 0;
  /** Flow slots ever handed out (slots below this are used or on the free stack). */
  private hiWater = 0;
  private mask = 0;
  /** Pairs (flow slot, full hash) per hash slot; slot -1 = empty. */
  private index = new Int32Array(0);
  private recs = new Int32Array(0);
  /** Float64Array view of `recs` (lastTs of flow fi at fi * T_STRIDE + T_LAST). */
  private times = new Float64Array(0);
  private readonly lruHead = new Int32Array([-1, -1]);
  private readonly lruTail = new Int32Array([-1, -1]);
  private flows: (Flow | null)[] = [];
  private freeStack = new Int32Array(0);
  private freeTop = 0;
  private readonly spare: Flow[] = [];
  private nextId = 1;

  constructor(opts: FlowTableOptions = {}) {
    this.maxFlows = Math.max(1, Math.floor(opts.maxFlows ?? 262144));
    this.udpIdleTimeoutSec = opts.udpIdleTimeoutSec ?? 60;
    this.tcpIdleTimeoutSec = opts.tcpIdleTimeoutSec ?? 300;
    this.onEvict = opts.onEvict ?? null;
    this.maxSpare = Math.max(0, opts.maxSpare ?? 16384);
    this.indexSlotsOpt = opts.indexSlots ?? 0;
    const g = opts.lruGranularitySec ?? 1;
    this.ticksPerSec = g > 0 ? 1 / g : 0;
    const initial = Math.min(this.maxFlows, Math.max(1, Math.floor(opts.initialCapacity ?? 4096)));
    this.resize(initial);
  }

  /** Spare Flow objects waiting for reuse (for tests and stats). */
  get spareCount(): number {
    return this.spare.length;
  }

  /**
   * Find or create the flow of a decoded packet, account the packet to its
   * direction (packets, L4 payload bytes, TTL, lastTs) and refresh its LRU
   * position. Sets `lastDirection`. Returns null when the record has no
   * transport tuple (no IP, unreassembled fragment, l4Proto 0).
   */
  lookup(rec: PacketRecord): Flow | null {
    const ver = rec.ipVersion;
    if ((ver !== 4 && ver !== 6) || rec.l4Proto === 0 || rec.isFragment) return null;
    const flow = this.find(ver, rec.l4Proto, rec.srcAddr, rec.srcPort, rec.dstAddr, rec.dstPort, rec.ts, true);
    if (flow === null) return null;
    if (this.lastDirection === 0) {
      flow.pktsAB++;
      flow.bytesAB += rec.payloadLength;
      flow.ttlAB = rec.ttl;
    } else {
      flow.pktsBA++;
      flow.bytesBA += rec.payloadLength;
      flow.ttlBA = rec.ttl;
    }
    return flow;
  }

  /**
   * Find (and with `create`, create) the flow of a tuple the caller holds
   * without a record (TURN-relayed or HEP-carried inner packets). Updates
   * lastTs and the LRU position and sets `lastDirection`, but does not count
   * packets or bytes: the caller adds to pktsAB/bytesAB etc. itself.
   * IPv4 addresses use word 0 only.
   */
  lookupTuple(
    ipVersion: number,
    proto: number,
    srcAddr: Uint32Array,
    srcPort: number,
    dstAddr: Uint32Array,
    dstPort: number,
    ts: number,
    create: boolean,
  ): Flow | null {
    if (ipVersion !== 4 && ipVersion !== 6) return null;
    return this.find(ipVersion, proto, srcAddr, srcPort, dstAddr, dstPort, ts, create);
  }

  /**
   * Evict flows idle for at least their timeout, by capture time `now`
   * (float seconds). Returns how many were evicted. Cheap when nothing is
   * due: it looks at the two LRU tails. Flows are ordered by the LRU tick of
   * their last packet, so a flow may outlive its timeout by up to
   * lruGranularitySec.
   */
  expire(now: number): number {
    let n = 0;
    for (let cls = 0; cls < 2; cls++) {
      const timeout = cls === 1 ? this.tcpIdleTimeoutSec : this.udpIdleTimeoutSec;
      for (;;) {
        const fi = this.lruTail[cls]!;
        if (fi < 0) break;
        if (this.times[fi * T_STRIDE + T_LAST]! + timeout > now) break;
        this.evictions.idle++;
        this.release(fi, 'idle');
        n++;
      }
    }
    return n;
  }

  /** Evict every flow with reason 'end' (end of capture / shutdown). */
  flush(): number {
    let n = 0;
    for (let cls = 0; cls < 2; cls++) {
      for (;;) {
        const fi = this.lruTail[cls]!;
        if (fi < 0) break;
        this.evictions.end++;
        this.release(fi, 'end');
        n++;
      }
    }
    return n;
  }

  /** Evict one flow now (e.g. after a TCP RST), with reason 'end'. Returns false when it is not in the table. */
  evict(flow: Flow): boolean {
    const fi = flow.tableIndex;
    if (fi < 0 || fi >= this.hiWater || this.flows[fi] !== flow) return false;
    this.evictions.end++;
    this.release(fi, 'end');
    return true;
  }

  /** Visit every flow (diagnostics, stats; not for the hot path). Do not add or evict flows inside. */
  forEach(cb: (flow: Flow) => void): void {
    for (let cls = 0; cls < 2; cls++) {
      for (let fi = this.lruHead[cls]!; fi >= 0; fi = this.recs[fi * R_STRIDE + R_NEXT]!) cb(this.flows[fi]!);
    }
  }

  // ---------------------------------------------------------------- internals

  private find(
    ver: number,
    proto: number,
    s: Uint32Array,
    sp: number,
    d: Uint32Array,
    dp: number,
    ts: number,
    create: boolean,
  ): Flow | null {
    // Canonical order: compare the endpoints (address words, then port).
    const s0 = s[0]!;
    const d0 = d[0]!;
    let srcIsLo: boolean;
    if (s0 !== d0) srcIsLo = s0 < d0;
    else if (ver === 6 && s[1] !== d[1]) srcIsLo = s[1]! < d[1]!;
    else if (ver === 6 && s[2] !== d[2]) srcIsLo = s[2]! < d[2]!;
    else if (ver === 6 && s[3] !== d[3]) srcIsLo = s[3]! < d[3]!;
    else srcIsLo = sp <= dp;
    const L = srcIsLo ? s : d;
    const H = srcIsLo ? d : s;
    const meta = (ver << 8) | (proto & 255);
    const ports = srcIsLo ? ((sp & 0xffff) << 16) | (dp & 0xffff) : ((dp & 0xffff) << 16) | (sp & 0xffff);
    // Words as int32 so that they compare with the Int32Array record without conversions.
    const l0 = L[0]! | 0;
    const h0 = H[0]! | 0;

    let h = murmurMix(meta, l0);
    h = murmurMix(h, h0);
    if (ver === 6) {
      h = murmurMix(h, L[1]!);
      h = murmurMix(h, L[2]!);
      h = murmurMix(h, L[3]!);
      h = murmurMix(h, H[1]!);
      h = murmurMix(h, H[2]!);
      h = murmurMix(h, H[3]!);
    }
    h = fmixSigned(murmurMix(h, ports));

    const index = this.index;
    const mask = this.mask;
    let slot = h & mask;
    for (;;) {
      const fi = index[2 * slot]!;
      if (fi < 0) break;
      // The hash beside the slot number rejects other flows without touching their records.
      if (index[2 * slot + 1] === h) {
        const recs = this.recs;
        const b = fi * R_STRIDE;
        if (
          recs[b + R_PORTS] === ports &&
          recs[b + R_META] === meta &&
          recs[b + R_LO] === l0 &&
          recs[b + R_HI] === h0 &&
          (ver === 4 ||
            (recs[b + R_LO + 1] === (L[1]! | 0) &&
              recs[b + R_LO + 2] === (L[2]! | 0) &&
              recs[b + R_LO + 3] === (L[3]! | 0) &&
              recs[b + R_HI + 1] === (H[1]! | 0) &&
              recs[b + R_HI + 2] === (H[2]! | 0) &&
              recs[b + R_HI + 3] === (H[3]! | 0)))
        ) {
          const flags = recs[b + R_FLAGS]!;
          this.lastDirection = srcIsLo === ((flags & F_A_IS_LO) !== 0) ? 0 : 1;
          // lastTs sits in the same record (same cache line as the key just compared).
          const times = this.times;
          const t = fi * T_STRIDE + T_LAST;
          const prevTs = times[t]!;
          times[t] = ts;
          // Relink only when the LRU tick changed: a flow sending 50 packets/s
          // moves in the list once per tick instead of 50 times (3 cache misses
          // saved per packet). The tick of the previous packet is derived from
          // its lastTs, which is exactly the tick of the last relink.
          const tpt = this.ticksPerSec;
          if (tpt === 0) this.touch(fi, flags >> 1);
          else if ((((ts - this.epoch) * tpt) | 0) !== (((prevTs - this.epoch) * tpt) | 0)) this.touch(fi, flags >> 1);
          return this.flows[fi]!;
        }
      }
      slot = (slot + 1) & mask;
    }
    if (!create) return null;
    return this.create(ver, proto, s, sp, d, dp, ts, srcIsLo, h, meta, ports);
  }

  private create(
    ver: number,
    proto: number,
    s: Uint32Array,
    sp: number,
    d: Uint32Array,
    dp: number,
    ts: number,
    srcIsLo: boolean,
    h: number,
    meta: number,
    ports: number,
  ): Flow {
    // Make room: grow the arrays while below maxFlows, else evict the LRU flow.
    while (this.size >= this.cap) {
      if (this.cap < this.maxFlows) this.resize(Math.min(this.maxFlows, this.cap * 2));
      else this.evictLru();
    }
    if (this.epoch !== this.epoch) this.epoch = Math.floor(ts); // first flow fixes the tick origin
    // The index may have changed (resize or backward shift): find the empty slot now.
    const index = this.index;
    const mask = this.mask;
    let slot = h & mask;
    while (index[2 * slot]! >= 0) slot = (slot + 1) & mask;

    const fi = this.freeTop > 0 ? this.freeStack[--this.freeTop]! : this.hiWater++;
    index[2 * slot] = fi;
    index[2 * slot + 1] = h;
    const recs = this.recs;
    const b = fi * R_STRIDE;
    const L = srcIsLo ? s : d;
    const H = srcIsLo ? d : s;
    const cls = proto === PROTO_TCP ? 1 : 0;
    recs[b + R_HASH] = h;
    recs[b + R_META] = meta;
    recs[b + R_PORTS] = ports;
    recs[b + R_FLAGS] = (srcIsLo ? F_A_IS_LO : 0) | (cls === 1 ? F_TCP : 0);
    const flow = this.spare.length > 0 ? this.spare.pop()! : new Flow();
    const words = ver === 6 ? 4 : 1; // IPv4 uses word 0 only; stale words 1..3 are ignored
    for (let i = 0; i < 4; i++) {
      recs[b + R_LO + i] = i < words ? L[i]! | 0 : 0;
      recs[b + R_HI + i] = i < words ? H[i]! | 0 : 0;
      flow.aAddr[i] = i < words ? s[i]! : 0;
      flow.bAddr[i] = i < words ? d[i]! : 0;
    }
    this.flows[fi] = flow;
    flow.id = this.nextId++;
    flow.ipVersion = ver;
    flow.proto = proto;
    flow.aPort = sp;
    flow.bPort = dp;
    flow.firstTs = ts;
    flow.tableIndex = fi;
    flow.recTimes = this.times;
    flow.lastTs = ts;
    this.linkHead(fi, cls);
    this.size++;
    this.created++;
    this.lastDirection = 0;
    return flow;
  }

  /** Move flow slot `fi` to the head of LRU list `cls`. */
  private touch(fi: number, cls: number): void {
    const head = this.lruHead[cls]!;
    if (head === fi) return; // bursts hit the same flow: skip the relinking
    const recs = this.recs;
    const b = fi * R_STRIDE;
    const prev = recs[b + R_PREV]!;
    const next = recs[b + R_NEXT]!;
    // fi is not the head, so prev >= 0.
    recs[prev * R_STRIDE + R_NEXT] = next;
    if (next >= 0) recs[next * R_STRIDE + R_PREV] = prev;
    else this.lruTail[cls] = prev;
    recs[b + R_PREV] = -1;
    recs[b + R_NEXT] = head;
    recs[head * R_STRIDE + R_PREV] = fi;
    this.lruHead[cls] = fi;
  }

  private linkHead(fi: number, cls: number): void {
    const recs = this.recs;
    const head = this.lruHead[cls]!;
    recs[fi * R_STRIDE + R_PREV] = -1;
    recs[fi * R_STRIDE + R_NEXT] = head;
    if (head >= 0) recs[head * R_STRIDE + R_PREV] = fi;
    else this.lruTail[cls] = fi;
    this.lruHead[cls] = fi;
  }

  private unlink(fi: number, cls: number): void {
    const recs = this.recs;
    const prev = recs[fi * R_STRIDE + R_PREV]!;
    const next = recs[fi * R_STRIDE + R_NEXT]!;
    if (prev >= 0) recs[prev * R_STRIDE + R_NEXT] = next;
    else this.lruHead[cls] = next;
    if (next >= 0) recs[next * R_STRIDE + R_PREV] = prev;
    else this.lruTail[cls] = prev;
    recs[fi * R_STRIDE + R_PREV] = -1;
    recs[fi * R_STRIDE + R_NEXT] = -1;
  }

  /** Evict the least recently used flow of either class (the older of the two tails). */
  private evictLru(): void {
    const t0 = this.lruTail[0]!;
    const t1 = this.lruTail[1]!;
    let fi: number;
    if (t0 < 0) fi = t1;
    else if (t1 < 0) fi = t0;
    else fi = this.times[t1 * T_STRIDE + T_LAST]! < this.times[t0 * T_STRIDE + T_LAST]! ? t1 : t0;
    if (fi < 0) return; // cannot happen while size >= cap >= 1
    this.evictions.full++;
    this.release(fi, 'full');
  }

  /** Take flow slot `fi` out of the index and the LRU, tell the owner, recycle the Flow. */
  private release(fi: number, reason: FlowEvictReason): void {
    const flow = this.flows[fi]!;
    this.removeFromIndex(fi);
    this.unlink(fi, this.recs[fi * R_STRIDE + R_FLAGS]! >> 1);
    this.flows[fi] = null;
    this.freeStack[this.freeTop++] = fi;
    this.size--;
    flow.detach();
    flow.tableIndex = -1;
    if (this.onEvict !== null) this.onEvict(flow, reason);
    flow.reset();
    if (this.spare.length < this.maxSpare) this.spare.push(flow);
  }

  /** Backward-shift deletion: pull later members of the probe run into the hole. */
  private removeFromIndex(fi: number): void {
    const index = this.index;
    const mask = this.mask;
    let hole = this.recs[fi * R_STRIDE + R_HASH]! & mask;
    while (index[2 * hole] !== fi) hole = (hole + 1) & mask;
    let j = hole;
    for (;;) {
      j = (j + 1) & mask;
      const fj = index[2 * j]!;
      if (fj < 0) break;
      const hj = index[2 * j + 1]!;
      const home = hj & mask;
      // fj may move into the hole when its home slot is not cyclically inside (hole, j].
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        index[2 * hole] = fj;
        index[2 * hole + 1] = hj;
        hole = j;
      }
    }
    index[2 * hole] = -1;
  }

  /** (Re)allocate the per-slot arrays for `cap` flows and rebuild the hash index. */
  private resize(cap: number): void {
    const old = this.cap;
    const recs = new Int32Array(cap * R_STRIDE);
    recs.set(this.recs);
    this.recs = recs;
    const times = new Float64Array(recs.buffer);
    this.times = times;
    const free = new Int32Array(cap);
    free.set(this.freeStack);
    this.freeStack = free;
    for (let i = old; i < cap; i++) this.flows.push(null);
    this.cap = cap;

    let slots = nextPow2(Math.max(16, cap * 2));
    if (this.indexSlotsOpt > 0) slots = nextPow2(Math.max(this.indexSlotsOpt, cap + 1));
    const index = new Int32Array(2 * slots).fill(-1);
    const mask = slots - 1;
    for (let fi = 0; fi < this.hiWater; fi++) {
      const flow = this.flows[fi];
      if (flow === null || flow === undefined) continue;
      flow.recTimes = times; // the records moved
      const h = recs[fi * R_STRIDE + R_HASH]!;
      let slot = h & mask;
      while (index[2 * slot]! >= 0) slot = (slot + 1) & mask;
      index[2 * slot] = fi;
      index[2 * slot + 1] = h;
    }
    this.index = index;
    this.mask = mask;
  }
}
