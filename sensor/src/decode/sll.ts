/**
 * Linux "cooked" capture headers, written by `tcpdump -i any`
 * (https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL.html and
 * LINKTYPE_LINUX_SLL2.html; Wireshark packet-sll.c).
 *
 * SLL (LINKTYPE 113), 16 bytes:
 *   0: packet type   2: ARPHRD type   4: address length   6: address (8)   14: protocol
 * SLL2 (LINKTYPE 276), 20 bytes:
 *   0: protocol   2: reserved   4: interface index   8: ARPHRD type   10: packet type
 *   11: address length   12: address (8)
 *
 * The protocol field is an EtherType for ordinary devices; values below
 * 0x0600 are Linux pseudo-protocols (802.2 LLC, CAN ...) which the EtherType
 * dispatch ignores. For ARPHRD_IPGRE devices it is the GRE protocol type,
 * which the same dispatch understands (0x6558 = Ethernet). There is no
 * Ethernet header, so rec.ethOffset stays -1.
 */
import type { DecodeContext } from './context.js';
import { decodeEtherType } from './link-dispatch.js';
import type { PacketRecord } from './packet.js';

export const SLL_HEADER_LENGTH = 16;
export const SLL2_HEADER_LENGTH = 20;

export function decodeSll(rec: PacketRecord, ctx: DecodeContext, buf: Buffer, off: number, end: number): void {
  if (off + SLL_HEADER_LENGTH > end) {
    ctx.weirds.weird('truncated_sll');
    return;
  }
  const protocol = (buf[off + 14]! << 8) | buf[off + 15]!;
  decodeEtherType(rec, ctx, buf, off + SLL_HEADER_LENGTH, end, protocol);
}

export function decodeSll2(rec: PacketRecord, ctx: DecodeContext, buf: Buffer, off: number, end: number): void {
  if (off + SLL2_HEADER_LENGTH > end) {
    ctx.weirds.weird('truncated_sll2');
    return;
  }
  const protocol = (buf[off]! << 8) | buf[off + 1]!;
  decodeEtherType(rec, ctx, buf, off + SLL2_HEADER_LENGTH, end, protocol);
}
