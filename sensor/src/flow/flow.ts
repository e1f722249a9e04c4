/**
 * One bidirectional transport conversation (a "flow"), as Suricata's Flow
 * (src/flow.h) and Zeek's Connection (src/Conn.h) model it: the 5-tuple plus
 * per-direction counters and the slots that later stages hang their state on.
 *
 * Side `a` is the source of the first packet seen, `b` its destination
 * (tshark's conversation order). Direction 0 means a->b, 1 means b->a.
 *
 * Flow objects are recycled through the flow table's spare pool (Suricata
 * src/flow-spare-pool.c): after `onEvict` returns, the same object may be
 * handed out again for a different conversation. Anything that keeps a flow
 * reference beyond eviction must also keep `id` and compare it (ids are
 * monotone and never reused).
 */
import { formatAddr, formatEndpoint } from '../decode/address.js';
import type { TcpFlowState } from './tcp-reassembly.js';

/** Address words for 1024 flows per slab (32 KiB). */
const SLAB_WORDS = 8 * 1024;
let slab: ArrayBuffer | null = null;
let slabUsed = SLAB_WORDS;

export class Flow {
  // Field order matters: V8 lays fields out in declaration order, so the ones
  // every media packet touches (app, streams, s0/s1, counters) come first and
  // share the object's first cache lines.

  /** Application classification; 0 = unclassified. The app layer defines the other values. */
  app = 0;
  /** Per-SSRC media streams, owned by the media layer. The array itself is reused across recycles. */
  readonly streams: unknown[] = [];
  /**
   * The media layer's most recent stream per direction (a one-entry cache in
   * front of `streams`, so a media packet does not walk the array). Owned and
   * validated by the media layer; reset to null on recycle.
   */
  s0: unknown = null;
  s1: unknown = null;
  pktsAB = 0;
  pktsBA = 0;
  /** L4 payload bytes per direction (what the media layer cares about; headers are not counted). */
  bytesAB = 0;
  bytesBA = 0;
  /** Last seen IPv4 TTL / IPv6 hop limit per direction (0 until seen). */
  ttlAB = 0;
  ttlBA = 0;
  /** Flow-table slot index (internal to FlowTable; -1 when the flow is spare). */
  tableIndex = -1;
  /**
   * While the flow is in a table: that table's record memory viewed as
   * doubles, where the table keeps lastTs (see FlowTable). A double field on
   * the object would be a separate heap box (V8 boxes double fields), i.e.
   * one more cache miss per packet. Internal to FlowTable.
   */
  recTimes: Float64Array | null = null;
  /** Monotone identifier, unique for the lifetime of the process (never reused). */
  id = 0;
  /** 4 or 6. */
  ipVersion = 0;
  aPort = 0;
  bPort = 0;
  /** IP protocol: 17 UDP, 6 TCP, 132 SCTP (any other number when the caller keys on it). */
  proto = 0;
  /** Whatever the app layer keeps for this flow (parser state). */
  appState: unknown = null;
  /** TCP reassembly state, created lazily by the TCP path (null for other protocols). */
  tcp: TcpFlowState | null = null;
  /** Capture time (float seconds) of the first packet. */
  firstTs = 0;
  /** lastTs while the flow is outside a table (spare, or being evicted). */
  private detachedLastTs = 0;
  /** Source address of the first packet (copy, 4 words; IPv4 uses word 0). */
  readonly aAddr: Uint32Array;
  /** Destination address of the first packet. */
  readonly bAddr: Uint32Array;
  /** Formatted endpoints, cached on first use (events and SIP context format them per message). */
  private aText: string | null = null;
  private bText: string | null = null;
  private aIpText: string | null = null;
  private bIpText: string | null = null;

  /** Capture time (float seconds) of the latest packet processed. */
  get lastTs(): number {
    const t = this.recTimes;
    return t !== null ? t[this.tableIndex * 8 + 7]! : this.detachedLastTs;
  }

  set lastTs(ts: number) {
    const t = this.recTimes;
    if (t !== null) t[this.tableIndex * 8 + 7] = ts;
    else this.detachedLastTs = ts;
  }

  /** Leave the table: keep lastTs readable on the object (the eviction callback reads it). Internal to FlowTable. */
  detach(): void {
    this.detachedLastTs = this.lastTs;
    this.recTimes = null;
  }

  constructor() {
    // Views into a shared slab: a standalone Uint32Array(4) costs ~217 heap bytes
    // (typed array + its own ArrayBuffer), a view ~110; flows are long-lived and pooled.
    if (slabUsed + 8 > SLAB_WORDS) {
      slab = new ArrayBuffer(SLAB_WORDS * 4);
      slabUsed = 0;
    }
    this.aAddr = new Uint32Array(slab!, slabUsed * 4, 4);
    this.bAddr = new Uint32Array(slab!, slabUsed * 4 + 16, 4);
    slabUsed += 8;
  }

  /** Address of side a as text (formatAddr), cached. */
  aIp(): string {
    return (this.aIpText ??= formatAddr(this.ipVersion, this.aAddr));
  }

  /** Address of side b as text, cached. */
  bIp(): string {
    return (this.bIpText ??= formatAddr(this.ipVersion, this.bAddr));
  }

  /** "ip:port" of side a, formatted like tshark prints it (IPv6 without brackets). Cached: SIP formats it per message. */
  aEndpoint(): string {
    return (this.aText ??= formatEndpoint(this.ipVersion, this.aAddr, this.aPort));
  }

  /** "ip:port" of side b. */
  bEndpoint(): string {
    return (this.bText ??= formatEndpoint(this.ipVersion, this.bAddr, this.bPort));
  }

  /** Return every field to its spare-pool state (keeps the typed arrays and the streams array). */
  reset(): void {
    this.app = 0;
    this.streams.length = 0;
    this.s0 = null;
    this.s1 = null;
    this.pktsAB = 0;
    this.pktsBA = 0;
    this.bytesAB = 0;
    this.bytesBA = 0;
    this.ttlAB = 0;
    this.ttlBA = 0;
    this.tableIndex = -1;
    this.recTimes = null;
    this.id = 0;
    this.ipVersion = 0;
    this.aPort = 0;
    this.bPort = 0;
    this.proto = 0;
    this.appState = null;
    this.tcp = null;
    this.firstTs = 0;
    this.detachedLastTs = 0;
    this.aAddr.fill(0);
    this.bAddr.fill(0);
    this.aText = null;
    this.bText = null;
    this.aIpText = null;
    this.bIpText = null;
  }
}
