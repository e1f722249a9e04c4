/**
 * MPLS label stack (RFC 3032 §2.1; Wireshark packet-mpls.c; Zeek
 * packet_analysis/protocol/mpls).
 *
 *   label (20) | TC (3) | S bottom-of-stack (1) | TTL (8)      4 bytes each
 *
 * MPLS does not say what it carries. Like Wireshark's default heuristic we
 * look at the first nibble after the bottom of the stack: 4 is IPv4, 6 is
 * IPv6, 0 is the RFC 4385 pseudowire control word (4 bytes) followed by an
 * Ethernet frame (RFC 4448 Ethernet pseudowire). Labels are counted in
 * rec.mplsLabelCount; they are not a tunnel endpoint, so nothing is pushed on
 * the tunnel stack.
 */
import type { DecodeContext } from './context.js';
import { cursor, STOP } from './cursor.js';
import { ETH_IPV4, ETH_IPV6, ETH_TEB } from './ethertypes.js';
import type { PacketRecord } from './packet.js';

export function decodeMpls(rec: PacketRecord, ctx: DecodeContext, buf: Buffer, off: number, end: number): number {
  for (;;) {
    if (off + 4 > end) {
      ctx.weirds.weird('truncated_mpls');
      return STOP;
    }
    rec.mplsLabelCount++;
    const bottom = buf[off + 2]! & 0x01;
    off += 4;
    if (bottom !== 0) break;
  }
  if (off >= end) {
    ctx.weirds.weird('truncated_mpls');
    return STOP;
  }
  const nibble = buf[off]! >> 4;
  if (nibble === 4) {
    cursor.off = off;
    return ETH_IPV4;
  }
  if (nibble === 6) {
    cursor.off = off;
    return ETH_IPV6;
  }
  if (nibble === 0) {
    // RFC 4385 §3: the control word's first nibble is 0; an Ethernet frame follows it.
    if (off + 4 > end) {
      ctx.weirds.weird('truncated_mpls');
      return STOP;
    }
    cursor.off = off + 4;
    return ETH_TEB;
  }
  ctx.weirds.weird('unhandled_mpls_payload');
  return STOP;
}
