/**
 * PPPoE session stage (RFC 2516 §4, EtherType 0x8864; Wireshark
 * packet-pppoe.c):
 *
 *   VER (4) = 1 | TYPE (4) = 1 | CODE (8) = 0 | SESSION_ID (16) | LENGTH (16) | PPP payload
 *
 * LENGTH counts the PPP payload (protocol field included); Ethernet padding
 * after it is cut off. The PPP protocol field is never compressed here
 * (RFC 2516 §7 forbids ACFC and says PFC is not recommended; we accept both
 * through decodePpp anyway, minus the 0xFF03 which PPPoE never sends).
 */
import type { DecodeContext } from './context.js';
import { cursor, STOP } from './cursor.js';
import type { PacketRecord } from './packet.js';
import { decodePpp } from './ppp.js';

export const PPPOE_HEADER_LENGTH = 6;

export function decodePppoeSession(rec: PacketRecord, ctx: DecodeContext, buf: Buffer, off: number, end: number): number {
  if (off + PPPOE_HEADER_LENGTH > end) {
    ctx.weirds.weird('truncated_pppoe');
    return STOP;
  }
  if (buf[off] !== 0x11 || buf[off + 1] !== 0x00) {
    ctx.weirds.weird('bad_pppoe_header');
    return STOP;
  }
  const length = (buf[off + 4]! << 8) | buf[off + 5]!;
  off += PPPOE_HEADER_LENGTH;
  if (off + length < end) {
    end = off + length; // trim Ethernet padding
    cursor.end = end;
  }
  else if (off + length > end) ctx.weirds.weird('pppoe_length_exceeds_capture');
  return decodePpp(rec, ctx, buf, off, end);
}
