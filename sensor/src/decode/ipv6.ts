/**
 * IPv6 header and extension-header chain (RFC 8200 §3-4; Wireshark
 * packet-ipv6.c; Zeek packet_analysis/protocol/ip/IPv6.cc).
 *
 *   0: version (4) | traffic class (8) | flow label (20)
 *   4: payload length (16)   6: next header   7: hop limit   8: source (16)   24: destination (16)
 *
 * Extension headers walked to reach the upper layer:
 *   0 hop-by-hop, 43 routing, 60 destination options, 135 mobility:
 *       next header (1) | length in 8-byte units not counting the first 8 (1) | ...
 *   44 fragment (8 bytes): next header | reserved | offset (13) res (2) M (1) | identification (32)
 *   51 AH (RFC 4302 §2.2): length in 4-byte units minus 2
 *   59 no next header: nothing follows.
 * A payload length of 0 means a jumbogram (RFC 2675) or a TSO artefact; either
 * way the captured length is used.
 */
import type { DecodeContext } from './context.js';
import { decodeIpPayload } from './ip-dispatch.js';
import type { PacketRecord } from './packet.js';

export const IPV6_HEADER_LENGTH = 40;

const EXT_HOP_BY_HOP = 0;
const EXT_ROUTING = 43;
const EXT_FRAGMENT = 44;
const EXT_AH = 51;
const EXT_NO_NEXT = 59;
const EXT_DEST_OPTS = 60;
const EXT_MOBILITY = 135;

function readWord(buf: Buffer, o: number): number {
  return (buf[o]! << 24) | (buf[o + 1]! << 16) | (buf[o + 2]! << 8) | buf[o + 3]!;
}

export function decodeIpv6(rec: PacketRecord, ctx: DecodeContext, buf: Buffer, off: number, end: number): void {
  if (off + IPV6_HEADER_LENGTH > end) {
    ctx.weirds.weird('truncated_ipv6');
    return;
  }
  if (buf[off]! >> 4 !== 6) {
    ctx.weirds.weird('bad_ipv6_version');
    return;
  }
  const payloadLength = (buf[off + 4]! << 8) | buf[off + 5]!;
  let ipEnd = end;
  if (payloadLength !== 0) {
    if (off + IPV6_HEADER_LENGTH + payloadLength > end) {
      ctx.weirds.weird('ipv6_payload_length_exceeds_capture');
    } else {
      ipEnd = off + IPV6_HEADER_LENGTH + payloadLength;
    }
  }
  rec.ipVersion = 6;
  const src = rec.srcAddr;
  const dst = rec.dstAddr;
  src[0] = readWord(buf, off + 8);
  src[1] = readWord(buf, off + 12);
  src[2] = readWord(buf, off + 16);
  src[3] = readWord(buf, off + 20);
  dst[0] = readWord(buf, off + 24);
  dst[1] = readWord(buf, off + 28);
  dst[2] = readWord(buf, off + 32);
  dst[3] = readWord(buf, off + 36);
  rec.ttl = buf[off + 7]!;
  rec.ipId = 0;
  rec.ipChecksum = 0;
  rec.ipLength = ipEnd - off;

  let next = buf[off + 6]!;
  let p = off + IPV6_HEADER_LENGTH;
  for (;;) {
    switch (next) {
      case EXT_HOP_BY_HOP:
      case EXT_ROUTING:
      case EXT_DEST_OPTS:
      case EXT_MOBILITY: {
        if (p + 8 > ipEnd) {
          ctx.weirds.weird('truncated_ipv6_extension');
          rec.ipProto = next;
          return;
        }
        next = buf[p]!;
        p += (buf[p + 1]! + 1) << 3;
        continue;
      }
      case EXT_AH: {
        if (p + 8 > ipEnd) {
          ctx.weirds.weird('truncated_ipv6_extension');
          rec.ipProto = next;
          return;
        }
        next = buf[p]!;
        p += (buf[p + 1]! + 2) << 2;
        continue;
      }
      case EXT_FRAGMENT: {
        if (p + 8 > ipEnd) {
          ctx.weirds.weird('truncated_ipv6_extension');
          rec.ipProto = next;
          return;
        }
        const inner = buf[p]!;
        const fragOffset = ((buf[p + 2]! << 8) | buf[p + 3]!) & 0xfff8;
        const moreFragments = (buf[p + 3]! & 0x01) !== 0;
        const id = readWord(buf, p + 4) >>> 0;
        rec.ipId = id;
        p += 8;
        next = inner;
        // An "atomic fragment" (offset 0, M clear; RFC 6946) is a whole packet.
        if (fragOffset === 0 && !moreFragments) continue;
        rec.ipProto = inner;
        rec.isFragment = true;
        const defrag = ctx.defrag;
        if (defrag === null) return;
        const whole = defrag.add(6, src, dst, inner, id, fragOffset, moreFragments, buf, p, ipEnd - p, rec.ts);
        if (whole === null) return;
        rec.isFragment = false;
        rec.reassembled = true;
        rec.ipLength = p - off + whole.length;
        decodeIpPayload(rec, ctx, whole, 0, whole.length, inner);
        return;
      }
      case EXT_NO_NEXT:
        rec.ipProto = EXT_NO_NEXT;
        return;
      default:
        break;
    }
    break;
  }
  if (p > ipEnd) {
    // An extension header claimed more bytes than the packet has.
    ctx.weirds.weird('truncated_ipv6_extension');
    rec.ipProto = next;
    return;
  }
  rec.ipProto = next;
  decodeIpPayload(rec, ctx, buf, p, ipEnd, next);
}
