/**
 * IEEE 802.1Q / 802.1ad VLAN tag (Zeek packet_analysis/protocol/vlan;
 * Wireshark packet-vlan.c). The tag follows the EtherType 0x8100, 0x88a8 or
 * 0x9100 (QinQ stacks them):
 *
 *   PCP (3) | DEI (1) | VID (12) | inner EtherType (2)
 *
 * Counts the tags and keeps the innermost VLAN id (the last one seen, as
 * the decoder walks outside-in).
 */
import type { DecodeContext } from './context.js';
import { cursor, STOP } from './cursor.js';
import type { PacketRecord } from './packet.js';

export function decodeVlan(rec: PacketRecord, ctx: DecodeContext, buf: Buffer, off: number, end: number): number {
  if (off + 4 > end) {
    ctx.weirds.weird('truncated_vlan');
    return STOP;
  }
  rec.vlanCount++;
  rec.vlanId = ((buf[off]! & 0x0f) << 8) | buf[off + 1]!;
  cursor.off = off + 4;
  return (buf[off + 2]! << 8) | buf[off + 3]!;
}
