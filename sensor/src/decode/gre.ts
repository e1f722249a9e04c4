/**
 * GRE (RFC 2784 with the RFC 2890 key and sequence extensions; RFC 1701's
 * routing bit; RFC 2637 §4.1 enhanced GRE for PPTP; Wireshark packet-gre.c).
 *
 *   0: C | R | K | S | s | Recur (3)     1: A | flags (4) | Ver (3)
 *   2: protocol type (EtherType)
 *   4: checksum (16) | offset/reserved1 (16)     when C or R (RFC 1701: both fields present if either bit is)
 *   +  key (32)                                  when K  (enhanced GRE: payload length (16) | call id (16))
 *   +  sequence number (32)                      when S
 *   +  acknowledgment number (32)                when A (enhanced GRE only)
 *
 * What follows depends on the protocol type:
 *   0x0800 / 0x86DD / 0x8847 ...  inner packet     TunnelKind.Gre, id = key (0 without K)
 *   0x880B  PPP (PPTP)                              TunnelKind.Gre, id = PPTP call id
 *   0x6558  Ethernet (transparent bridging)         TunnelKind.GreTeb, id = key
 *   0x88BE  ERSPAN type II if S is set, else type I  TunnelKind.ErspanII, id = session id (0 for type I)
 *   0x22EB  ERSPAN type III                         TunnelKind.ErspanIII, id = session id
 * RFC 1701 source routing (R) is obsolete and not decoded.
 */
import type { DecodeContext } from './context.js';
import { cursor } from './cursor.js';
import { decodeErspanII, decodeErspanIII, erspanSessionId } from './erspan.js';
import { ETH_ERSPAN_II, ETH_ERSPAN_III, ETH_PPP, ETH_TEB } from './ethertypes.js';
import { decodeEtherType } from './link-dispatch.js';
import { TunnelKind, type PacketRecord } from './packet.js';
import { enterTunnel } from './tunnel.js';

export const GRE_BASE_HEADER_LENGTH = 4;
const GRE_C = 0x80;
const GRE_R = 0x40;
const GRE_K = 0x20;
const GRE_S = 0x10;
const GRE_A = 0x80; // in the second byte, enhanced GRE only

export function decodeGre(rec: PacketRecord, ctx: DecodeContext, buf: Buffer, off: number, end: number): void {
  if (off + GRE_BASE_HEADER_LENGTH > end) {
    ctx.weirds.weird('truncated_gre');
    return;
  }
  const flags = buf[off]!;
  const b1 = buf[off + 1]!;
  const version = b1 & 0x07;
  const protocol = (buf[off + 2]! << 8) | buf[off + 3]!;
  if (version > 1) {
    ctx.weirds.weird('unsupported_gre_version');
    return;
  }
  if ((flags & GRE_R) !== 0) {
    ctx.weirds.weird('unsupported_gre_routing');
    return;
  }
  let headerLength = GRE_BASE_HEADER_LENGTH;
  if ((flags & GRE_C) !== 0) headerLength += 4;
  const keyOffset = off + headerLength;
  if ((flags & GRE_K) !== 0) headerLength += 4;
  if ((flags & GRE_S) !== 0) headerLength += 4;
  if (version === 1) {
    // Enhanced GRE carries PPP and always has the key (length + call id).
    if ((flags & GRE_K) === 0 || protocol !== ETH_PPP) {
      ctx.weirds.weird('bad_enhanced_gre');
      return;
    }
    if ((b1 & GRE_A) !== 0) headerLength += 4;
  }
  if (off + headerLength > end) {
    ctx.weirds.weird('truncated_gre');
    return;
  }
  let id = 0;
  if ((flags & GRE_K) !== 0) {
    id =
      version === 1
        ? (buf[keyOffset + 2]! << 8) | buf[keyOffset + 3]!
        : (buf[keyOffset]! << 24) | (buf[keyOffset + 1]! << 16) | (buf[keyOffset + 2]! << 8) | buf[keyOffset + 3]!;
    // An enhanced GRE packet with payload length 0 is an acknowledgment only.
    if (version === 1 && ((buf[keyOffset]! << 8) | buf[keyOffset + 1]!) === 0) return;
  }
  let p = off + headerLength;
  let kind: TunnelKind = TunnelKind.Gre;
  let next = protocol;
  if (protocol === ETH_TEB) {
    kind = TunnelKind.GreTeb;
  } else if (protocol === ETH_ERSPAN_II) {
    kind = TunnelKind.ErspanII;
    if ((flags & GRE_S) !== 0) {
      next = decodeErspanII(ctx, buf, p, end);
      if (next < 0) return;
      id = erspanSessionId(buf, p);
      p = cursor.off;
    } else {
      next = ETH_TEB; // type I: the Ethernet frame follows the GRE header
      id = 0;
    }
  } else if (protocol === ETH_ERSPAN_III) {
    kind = TunnelKind.ErspanIII;
    next = decodeErspanIII(ctx, buf, p, end);
    if (next < 0) return;
    id = erspanSessionId(buf, p);
    p = cursor.off;
  }
  rec.l4Proto = 47; // the outer "L4" protocol, as recorded on the tunnel layer
  if (!enterTunnel(rec, ctx, kind, id)) return;
  decodeEtherType(rec, ctx, buf, p, end, next);
}
