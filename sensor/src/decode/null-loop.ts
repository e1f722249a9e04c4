/**
 * BSD loopback link types (https://www.tcpdump.org/linktypes/LINKTYPE_NULL.html;
 * Wireshark packet-null.c): a 4-byte protocol family before the IP packet.
 *
 * LINKTYPE_NULL (0): the family is in the byte order of the machine that
 * captured, which a file reader cannot know, so both orders are tried (a
 * family value never looks like another valid one when byte-swapped).
 * LINKTYPE_LOOP (108, OpenBSD): network byte order.
 * Families: 2 = AF_INET; 24, 28, 30 = AF_INET6 on NetBSD/OpenBSD, FreeBSD and
 * Darwin respectively (the value differs per OS, hence all three).
 */
import type { DecodeContext } from './context.js';
import { ETH_IPV4, ETH_IPV6 } from './ethertypes.js';
import { decodeEtherType } from './link-dispatch.js';
import type { PacketRecord } from './packet.js';

export const NULL_HEADER_LENGTH = 4;

function familyToEtherType(family: number): number {
  if (family === 2) return ETH_IPV4;
  if (family === 24 || family === 28 || family === 30) return ETH_IPV6;
  return -1;
}

export function decodeNull(rec: PacketRecord, ctx: DecodeContext, buf: Buffer, off: number, end: number): void {
  if (off + NULL_HEADER_LENGTH > end) {
    ctx.weirds.weird('truncated_null');
    return;
  }
  const little = (buf[off]! | (buf[off + 1]! << 8) | (buf[off + 2]! << 16) | (buf[off + 3]! << 24)) >>> 0;
  const big = ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
  let etherType = familyToEtherType(little);
  if (etherType < 0) etherType = familyToEtherType(big);
  if (etherType < 0) {
    ctx.weirds.weird('unhandled_null_family');
    return;
  }
  decodeEtherType(rec, ctx, buf, off + NULL_HEADER_LENGTH, end, etherType);
}

export function decodeLoop(rec: PacketRecord, ctx: DecodeContext, buf: Buffer, off: number, end: number): void {
  if (off + NULL_HEADER_LENGTH > end) {
    ctx.weirds.weird('truncated_loop');
    return;
  }
  const family = ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
  const etherType = familyToEtherType(family);
  if (etherType < 0) {
    ctx.weirds.weird('unhandled_loop_family');
    return;
  }
  decodeEtherType(rec, ctx, buf, off + NULL_HEADER_LENGTH, end, etherType);
}
