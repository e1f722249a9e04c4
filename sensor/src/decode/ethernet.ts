/**
 * Ethernet II header (IEEE 802.3 clause 3.2.6; Zeek
 * src/packet_analysis/protocol/ethernet/Ethernet.cc; Wireshark packet-eth.c).
 *
 *   dst MAC (6) | src MAC (6) | EtherType or 802.3 length (2)
 *
 * Returns the EtherType and leaves the payload offset in `cursor.off`. A
 * type/length value below 0x0600 is an 802.3 length (LLC/SNAP follows: STP,
 * CDP, ...), which carries nothing we decode, so the caller simply stops.
 */
import type { DecodeContext } from './context.js';
import { cursor, STOP } from './cursor.js';
import type { PacketRecord } from './packet.js';

export const ETHERNET_HEADER_LENGTH = 14;

export function decodeEthernet(rec: PacketRecord, ctx: DecodeContext, buf: Buffer, off: number, end: number): number {
  if (off + ETHERNET_HEADER_LENGTH > end) {
    ctx.weirds.weird('truncated_ethernet');
    return STOP;
  }
  // Only an offset into the frame is meaningful to readers of ethOffset (MAC
  // comparison of SPAN doubles); an inner Ethernet header inside a reassembled
  // datagram lives in another buffer, so the outer one is kept then.
  if (buf === rec.frame) rec.ethOffset = off;
  cursor.off = off + ETHERNET_HEADER_LENGTH;
  return (buf[off + 12]! << 8) | buf[off + 13]!;
}
