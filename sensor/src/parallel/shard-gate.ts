/**
 * The per-packet question a shard asks before flow and app processing: is
 * this packet mine? (docs/parallel.md, "Ownership")
 *
 * Signalling is everybody's: every shard processes every SIP message (UDP,
 * TCP, WebSocket, SCTP, HEP), so every shard holds the complete call table
 * and SDP expectations and routes media identically; only the owner of a
 * call reports it (event-gate.ts). Media belongs to one shard, chosen by
 * OwnershipIndex.route().
 */
import { TunnelKind, type PacketRecord } from '../decode/packet.js';
import { looksLikeSip } from '../app/sip/sip-probe.js';
import type { ExpectationTable } from '../calls/expectations.js';
import { OwnershipIndex, shardOfTuple } from './shard-key.js';

export interface ShardSpec {
  /** This shard's number, 0..count-1. */
  index: number;
  count: number;
}

export class ShardGate {
  readonly ownership: OwnershipIndex;
  /** Packets this shard processed as owner, and as signalling every shard processes. */
  readonly counts = { owned: 0, shared: 0, skipped: 0 };
  /**
   * Set when admit() said no to a packet that the owner will file as
   * "other": every shard still searches such payloads for embedded copies
   * of the streams IT holds (jmirror, PacketCable, X3...: app/embedded-rtp.ts),
   * because the copy's wrapper flow and the original stream may live on
   * different shards, and only the original's shard can recognise it.
   */
  scanOnly = false;

  constructor(
    readonly spec: ShardSpec,
    expectations: ExpectationTable,
  ) {
    if (!Number.isInteger(spec.count) || spec.count < 1 || spec.index < 0 || spec.index >= spec.count) {
      throw new RangeError(`shard ${spec.index} of ${spec.count}`);
    }
    this.ownership = new OwnershipIndex(spec.count);
    this.ownership.attach(expectations);
  }

  /** A decoded, unfragmented UDP/TCP/SCTP packet: process it here? */
  admit(rec: PacketRecord): boolean {
    if (rec.l4Proto !== 17) {
      // TCP and SCTP carry SIP that must reach every shard; a TCP flow the
      // app layer has classified as something else is gated by ownsTuple().
      this.counts.shared++;
      return true;
    }
    if (rec.tunnelDepth > 0) {
      const k = rec.tunnels[rec.tunnelDepth - 1]!.kind;
      if (k === TunnelKind.Hep2 || k === TunnelKind.Hep3) {
        this.counts.shared++;
        return true;
      }
    }
    const len = rec.payloadLength;
    if (len >= 12) {
      const b0 = rec.payloadBuf[rec.payloadOffset]!;
      // Uppercase first byte first: keeps the SIP probe off nearly every media packet.
      if (b0 >= 0x41 && b0 <= 0x5a && looksLikeSip(rec.payloadBuf, rec.payloadOffset, len)) {
        this.counts.shared++;
        return true;
      }
    }
    if (this.ownership.route(rec) === this.spec.index) {
      this.counts.owned++;
      return true;
    }
    this.counts.skipped++;
    // What the app layer would search too (AppLayer.otherMediaPayload and the "other" flows): not
    // RTP/RTCP, ZRTP, DTLS or TURN ChannelData by the RFC 7983 §7 first byte, and not STUN (RFC 5389
    // magic cookie: TURN Send/Data indications carry relayed RTP that the owner decodes as media, and
    // another shard holding the relayed leg must not mistake it for a hidden copy). Other first
    // bytes 0-3 stay in: an intercept header with a small ID starts so.
    const buf = rec.payloadBuf;
    const off = rec.payloadOffset;
    const b0 = len > 0 ? buf[off]! : 0;
    this.scanOnly =
      len >= 16 &&
      !((b0 >= 16 && b0 <= 79) || (b0 >= 128 && b0 <= 191)) &&
      !(b0 <= 3 && buf[off + 4] === 0x21 && buf[off + 5] === 0x12 && buf[off + 6] === 0xa4 && buf[off + 7] === 0x42);
    return false;
  }

  /** A TCP media packet (TURN, RFC 4571) of a flow that is not signalling: the 5-tuple's owner takes it. */
  ownsTuple(rec: PacketRecord): boolean {
    if (shardOfTuple(rec, this.spec.count) === this.spec.index) return true;
    this.counts.skipped++;
    return false;
  }
}
