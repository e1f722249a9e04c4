/**
 * Call-aware sharding keys (docs/parallel.md). Every shard reads every packet
 * of the broadcast ring and computes, from the same input in the same order,
 * the same owner for each packet; the owner processes it, the others skip it.
 *
 * Media is decided per flow (both directions of the innermost 5-tuple) when
 * its first packet arrives, then pinned (OwnershipIndex below):
 *   1. RTP/RTCP whose SSRC already lives on a shard -> that shard (a copy
 *      sent elsewhere, NAT-ed or re-addressed, keeps the original's SSRC:
 *      RFC 3550 §8 makes it the stream's identity);
 *   2. a flow whose source or destination ip:port an SDP announced
 *      (Wireshark's SDP-registered conversation) -> hash(Call-ID);
 *   3. other RTP/RTCP -> hash(SSRC);
 *   4. anything else -> hash of the direction-free 5-tuple.
 * Only cheap header peeks feed the decision, and the only state it keeps
 * (the endpoint index, the SSRC map and the pins) changes with signalling,
 * packet headers and capture time alone, never with wall time or with what
 * one shard happened to own.
 */
import { parseAddr } from '../decode/address.js';
import type { PacketRecord } from '../decode/packet.js';
import type { Call } from '../calls/call.js';
import type { Expectation, ExpectationTable } from '../calls/expectations.js';
import { murmurFinal } from '../util/murmur3.js';

/** murmur3's 32-bit finaliser: spreads SSRCs and address words over the shards. */
export const mix32 = murmurFinal;

/** FNV-1a over the UTF-16 code units of a string (Call-IDs are ASCII per RFC 3261 §25.1). */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function shardOfCallId(callId: string, shards: number): number {
  return hashString(callId) % shards;
}

export function shardOfSsrc(ssrc: number, shards: number): number {
  return mix32(ssrc ^ 0x5bd1e995) % shards;
}

function endpointHash(w: ArrayLike<number>, port: number): number {
  let h = mix32(w[0]! ^ port);
  h = mix32(h ^ w[1]!);
  h = mix32(h ^ w[2]!);
  return mix32(h ^ w[3]!);
}

/** Same shard for both directions of a 5-tuple (the sum of the two endpoint hashes is symmetric). */
export function shardOfTuple(rec: PacketRecord, shards: number): number {
  const h = (endpointHash(rec.srcAddr, rec.srcPort) + endpointHash(rec.dstAddr, rec.dstPort)) >>> 0;
  return mix32(h ^ rec.l4Proto) % shards;
}

const V6_BASE = 2 ** 48;

/**
 * An endpoint as one exact number: IPv4 address * 65536 + port (< 2^48), or
 * for IPv6 2^48 + a 32-bit address hash * 65536 + port (collisions only
 * merge two endpoints' routing, identically on every shard).
 */
export function endpointNumber(version: number, w: ArrayLike<number>, port: number): number {
  if (version === 4) return w[0]! * 65536 + port;
  return V6_BASE + endpointHash(w, 0) * 65536 + port;
}

const scratch = new Uint32Array(4);

/** The numeric key of an "ip:port" expectation key (formatEndpoint's text), or -1. */
export function endpointNumberOfKey(key: string): number {
  const colon = key.lastIndexOf(':');
  if (colon <= 0) return -1;
  const port = Number(key.slice(colon + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) return -1;
  const v = parseAddr(key.slice(0, colon), scratch);
  if (v === 0) return -1;
  return endpointNumber(v, scratch, port);
}

/** RTP or RTCP (RFC 3550 §5.1/§6.4; demultiplexed as RFC 5761 §4 does): its SSRC, else -1. */
export function peekSsrc(buf: Uint8Array, off: number, len: number): number {
  if (len < 8) return -1;
  const b0 = buf[off]!;
  if ((b0 & 0xc0) !== 0x80) return -1;
  const pt = buf[off + 1]!;
  if (pt >= 192 && pt <= 223) {
    // RTCP: the sender's SSRC follows the 4-byte common header.
    return ((buf[off + 4]! << 24) | (buf[off + 5]! << 16) | (buf[off + 6]! << 8) | buf[off + 7]!) >>> 0;
  }
  if (len < 12) return -1;
  return ((buf[off + 8]! << 24) | (buf[off + 9]! << 16) | (buf[off + 10]! << 8) | buf[off + 11]!) >>> 0;
}

/** What an endpoint of the index points at: the call and its (precomputed) owner. */
interface Owned {
  call: Call;
  shard: number;
}

/** A media flow (direction-free 5-tuple) pinned to the shard that processes all of it. */
class FlowPin {
  constructor(
    readonly shard: number,
    /** The call whose SDP named the flow, kept alive by its media on every shard alike. */
    readonly call: Call | null,
    public lastTs: number,
    public lastSsrc: number,
  ) {}
}

/** Signalled SSRCs remembered for copy routing (oldest forgotten first). */
export const DEFAULT_MAX_SSRCS = 1 << 16;
/** Media flows pinned at once (oldest forgotten first; a forgotten live flow is decided again, identically). */
export const DEFAULT_MAX_FLOWS = 1 << 18;
/** A pin idle this long (capture time) is decided afresh: the 5-tuple may now be another call's (UDP flow idle timeout). */
export const PIN_IDLE_SEC = 120;

export type RouteReason = 'pinned' | 'ssrc-map' | 'sdp' | 'ssrc' | 'tuple';

/**
 * The numeric mirror of the call table's expectations, the SSRC map and the
 * flow pins: everything a shard needs to route a media packet without
 * building a string. Decisions are made per media FLOW (both directions of
 * a 5-tuple), when its first packet arrives, and pinned, so a shard always
 * holds whole flows (flow-level facts such as "this flow carries a confirmed
 * stream", DTLS or ZRTP stay together, as Wireshark pins a recognised
 * conversation). A new flow goes:
 *   1. where its SSRC already lives (a copy of a stream: exact, NAT-ed,
 *      re-addressed, or a declared recorder's re-sent media);
 *   2. to the owner of the call whose SDP named its source or destination;
 *   3. to hash(SSRC) for other RTP/RTCP, else hash(5-tuple).
 */
export class OwnershipIndex {
  private readonly byEndpoint = new Map<number, Owned>();
  /** SSRC (as int32: a Smi key, see tupleHash) -> the shard of the flow it was first seen on. */
  private readonly bySsrc = new Map<number, number>();
  private readonly byFlow = new Map<number, FlowPin>();
  /** What the last route() call decided by (for tests and counters). */
  lastReason: RouteReason = 'tuple';

  constructor(
    readonly shards: number,
    private readonly maxSsrcs = DEFAULT_MAX_SSRCS,
    private readonly maxFlows = DEFAULT_MAX_FLOWS,
  ) {}

  get endpoints(): number {
    return this.byEndpoint.size;
  }

  get ssrcs(): number {
    return this.bySsrc.size;
  }

  get flows(): number {
    return this.byFlow.size;
  }

  /** Mirror this expectation table from now on (it must start empty). */
  attach(table: ExpectationTable): void {
    table.observer = {
      added: (key, e) => this.added(key, e),
      removed: (key, e) => this.removed(key, e),
    };
  }

  added(key: string, e: Expectation): void {
    const n = endpointNumberOfKey(key);
    if (n < 0) return;
    this.byEndpoint.set(n, { call: e.call, shard: shardOfCallId(e.call.callId, this.shards) });
  }

  removed(key: string, e: Expectation): void {
    const n = endpointNumberOfKey(key);
    if (n < 0) return;
    const cur = this.byEndpoint.get(n);
    if (cur !== undefined && cur.call === e.call) this.byEndpoint.delete(n);
  }

  /** The owning shard of a decoded UDP media packet (innermost addresses). */
  route(rec: PacketRecord): number {
    const ssrc = peekSsrc(rec.payloadBuf, rec.payloadOffset, rec.payloadLength);
    const flowKey = tupleHash(rec);
    const ts = rec.ts;
    const pin = this.byFlow.get(flowKey);
    if (pin !== undefined && ts - pin.lastTs < PIN_IDLE_SEC) {
      pin.lastTs = ts;
      // Call expiry must not depend on which shard owns the media: every shard marks it.
      const c = pin.call;
      if (c !== null && ts > c.lastMediaTs) c.lastMediaTs = ts;
      if (ssrc >= 0 && ssrc !== pin.lastSsrc) {
        pin.lastSsrc = ssrc;
        if (!this.bySsrc.has(ssrc | 0)) this.rememberSsrc(ssrc, pin.shard);
      }
      this.lastReason = 'pinned';
      return pin.shard;
    }
    const v = rec.ipVersion;
    let o = this.byEndpoint.get(endpointNumber(v, rec.dstAddr, rec.dstPort));
    if (o === undefined) o = this.byEndpoint.get(endpointNumber(v, rec.srcAddr, rec.srcPort));
    let shard: number;
    const known = ssrc >= 0 ? this.bySsrc.get(ssrc | 0) : undefined;
    if (known !== undefined) {
      shard = known;
      this.lastReason = 'ssrc-map';
    } else if (o !== undefined) {
      shard = o.shard;
      this.lastReason = 'sdp';
    } else if (ssrc >= 0) {
      shard = shardOfSsrc(ssrc, this.shards);
      this.lastReason = 'ssrc';
    } else {
      shard = mix32(flowKey) % this.shards;
      this.lastReason = 'tuple';
    }
    if (ssrc >= 0 && known === undefined) this.rememberSsrc(ssrc, shard);
    const call = o !== undefined ? o.call : null;
    if (call !== null && ts > call.lastMediaTs) call.lastMediaTs = ts;
    this.pin(flowKey, new FlowPin(shard, call, ts, ssrc));
    return shard;
  }

  private pin(key: number, p: FlowPin): void {
    this.byFlow.delete(key);
    if (this.byFlow.size >= this.maxFlows) {
      const oldest = this.byFlow.keys().next();
      if (!oldest.done) this.byFlow.delete(oldest.value);
    }
    this.byFlow.set(key, p);
  }

  private rememberSsrc(ssrc: number, shard: number): void {
    const key = ssrc | 0;
    this.bySsrc.delete(key);
    if (this.bySsrc.size >= this.maxSsrcs) {
      const oldest = this.bySsrc.keys().next();
      if (!oldest.done) this.bySsrc.delete(oldest.value);
    }
    this.bySsrc.set(key, shard);
  }
}

/**
 * Direction-free hash of the innermost 5-tuple, 30 bits: a small integer
 * (Smi) as a Map key is hashed and compared without boxing a heap number per
 * lookup (a full 32-bit value above 2^30 would be one); a collision only
 * merges two flows' routing, identically on every shard.
 */
function tupleHash(rec: PacketRecord): number {
  return mix32((endpointHash(rec.srcAddr, rec.srcPort) + endpointHash(rec.dstAddr, rec.dstPort) + rec.l4Proto) >>> 0) & 0x3fffffff;
}
