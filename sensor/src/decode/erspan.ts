/**
 * Cisco ERSPAN headers carried in GRE (draft-foschiano-erspan-03 §4;
 * Wireshark packet-erspan.c).
 *
 * Type I (GRE protocol 0x88BE, GRE header without sequence number): no
 * ERSPAN header at all, the mirrored Ethernet frame follows GRE directly.
 *
 * Type II (GRE 0x88BE, GRE S bit set), 8 bytes:
 *   0: Ver (4) = 1 | VLAN (12)   2: COS (3) | En (2) | T (1) | Session ID (10)
 *   4: Reserved (12) | Index (20)                    then the Ethernet frame
 *
 * Type III (GRE 0x22EB), 12 bytes (+8 when O is set):
 *   0: Ver (4) = 2 | VLAN (12)   2: COS (3) | BSO (2) | T (1) | Session ID (10)
 *   4: Timestamp (32)   8: SGT (16)   10: P (1) | FT (5) | Hw ID (6) | D (1) | Gra (2) | O (1)
 *   12: optional platform-specific subheader (8 bytes)
 *   FT (frame type) 0 = Ethernet, 2 = IP packet.
 *
 * These functions check the header and return the EtherType of what follows
 * (Ethernet as ETH_TEB, or IPv4/IPv6 for a type III IP frame) with its
 * offset in `cursor.off`; GRE does the tunnel push (it needs the session id
 * first, from erspanSessionId).
 */
import type { DecodeContext } from './context.js';
import { cursor, STOP } from './cursor.js';
import { ETH_IPV4, ETH_IPV6, ETH_TEB } from './ethertypes.js';

export const ERSPAN_II_HEADER_LENGTH = 8;
export const ERSPAN_III_HEADER_LENGTH = 12;
export const ERSPAN_III_PLATFORM_SUBHEADER_LENGTH = 8;

/** The 10-bit session id, at the same place in type II and III headers. */
export function erspanSessionId(buf: Buffer, off: number): number {
  return ((buf[off + 2]! & 0x03) << 8) | buf[off + 3]!;
}

export function decodeErspanII(ctx: DecodeContext, buf: Buffer, off: number, end: number): number {
  if (off + ERSPAN_II_HEADER_LENGTH > end) {
    ctx.weirds.weird('truncated_erspan');
    return STOP;
  }
  if (buf[off]! >> 4 !== 1) ctx.weirds.weird('bad_erspan_version'); // decoded anyway, as Wireshark does
  cursor.off = off + ERSPAN_II_HEADER_LENGTH;
  return ETH_TEB;
}

export function decodeErspanIII(ctx: DecodeContext, buf: Buffer, off: number, end: number): number {
  if (off + ERSPAN_III_HEADER_LENGTH > end) {
    ctx.weirds.weird('truncated_erspan');
    return STOP;
  }
  if (buf[off]! >> 4 !== 2) ctx.weirds.weird('bad_erspan_version');
  let p = off + ERSPAN_III_HEADER_LENGTH;
  if ((buf[off + 11]! & 0x01) !== 0) {
    p += ERSPAN_III_PLATFORM_SUBHEADER_LENGTH;
    if (p > end) {
      ctx.weirds.weird('truncated_erspan');
      return STOP;
    }
  }
  cursor.off = p;
  const frameType = (buf[off + 10]! >> 2) & 0x1f;
  if (frameType === 0) return ETH_TEB;
  if (frameType === 2) {
    if (p >= end) {
      ctx.weirds.weird('truncated_erspan');
      return STOP;
    }
    const version = buf[p]! >> 4;
    if (version === 4) return ETH_IPV4;
    if (version === 6) return ETH_IPV6;
  }
  ctx.weirds.weird('unhandled_erspan_frame_type');
  return STOP;
}
