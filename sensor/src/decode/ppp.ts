/**
 * PPP framing as carried by PPPoE (RFC 2516) and by PPTP's enhanced GRE
 * (RFC 2637 §4.1): RFC 1661 §2 with the RFC 1662 HDLC-like address/control
 * bytes 0xFF 0x03 optional (they may be omitted when Address-and-Control-Field
 * compression was negotiated), and a 1- or 2-byte protocol field (Protocol-
 * Field-Compression, RFC 1661 §6.5: protocol numbers are odd in their last
 * byte and even in their first, so an odd first byte means a 1-byte field).
 * Wireshark: packet-ppp.c (dissect_ppp_hdlc_common / dissect_ppp_common).
 *
 * Returns the EtherType equivalent of the PPP protocol (IPv4 0x0021, IPv6
 * 0x0057, MPLS 0x0281) so the link dispatch can continue; control protocols
 * (LCP, IPCP, CCP ...) and compressed data are normal traffic we do not
 * decode, so they stop without a weird.
 */
import type { DecodeContext } from './context.js';
import { cursor, STOP } from './cursor.js';
import { ETH_IPV4, ETH_IPV6, ETH_MPLS_UNICAST } from './ethertypes.js';
import type { PacketRecord } from './packet.js';

export const PPP_IPV4 = 0x0021;
export const PPP_IPV6 = 0x0057;
export const PPP_MPLS_UNICAST = 0x0281;

export function decodePpp(_rec: PacketRecord, ctx: DecodeContext, buf: Buffer, off: number, end: number): number {
  if (off + 2 <= end && buf[off] === 0xff && buf[off + 1] === 0x03) off += 2;
  if (off >= end) {
    ctx.weirds.weird('truncated_ppp');
    return STOP;
  }
  let proto: number;
  if ((buf[off]! & 0x01) !== 0) {
    proto = buf[off]!;
    off += 1;
  } else {
    if (off + 2 > end) {
      ctx.weirds.weird('truncated_ppp');
      return STOP;
    }
    proto = (buf[off]! << 8) | buf[off + 1]!;
    off += 2;
  }
  cursor.off = off;
  switch (proto) {
    case PPP_IPV4:
      return ETH_IPV4;
    case PPP_IPV6:
      return ETH_IPV6;
    case PPP_MPLS_UNICAST:
      return ETH_MPLS_UNICAST;
    default:
      return STOP;
  }
}
