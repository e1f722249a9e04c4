/**
 * IPv4 header (RFC 791 §3.1; Wireshark packet-ip.c; Zeek
 * packet_analysis/protocol/ip/IP.cc).
 *
 *   0: version (4) | IHL (4)     1: DSCP/ECN     2: total length (16)
 *   4: identification (16)       6: flags (3: R, DF, MF) | fragment offset (13, 8-byte units)
 *   8: TTL   9: protocol   10: header checksum   12: source   16: destination   20: options ...
 *
 * The total length is trusted only up to what was captured: Ethernet padding
 * after it is cut off, and a length beyond the capture (snaplen, or a lie) is
 * clamped and counted. A total length of 0 is what TCP segmentation offload
 * leaves in locally captured packets; like Wireshark we then use the captured
 * length. Fragments go to ctx.defrag; when it completes a datagram we decode
 * the L4 header from the reassembled buffer.
 */
import type { DecodeContext } from './context.js';
import { decodeIpPayload } from './ip-dispatch.js';
import type { PacketRecord } from './packet.js';

export const IPV4_MIN_HEADER_LENGTH = 20;

export function decodeIpv4(rec: PacketRecord, ctx: DecodeContext, buf: Buffer, off: number, end: number): void {
  if (off + IPV4_MIN_HEADER_LENGTH > end) {
    ctx.weirds.weird('truncated_ipv4');
    return;
  }
  const b0 = buf[off]!;
  if (b0 >> 4 !== 4) {
    ctx.weirds.weird('bad_ipv4_version');
    return;
  }
  const headerLength = (b0 & 0x0f) << 2;
  if (headerLength < IPV4_MIN_HEADER_LENGTH) {
    ctx.weirds.weird('bad_ipv4_header_length');
    return;
  }
  if (off + headerLength > end) {
    ctx.weirds.weird('truncated_ipv4');
    return;
  }
  let totalLength = (buf[off + 2]! << 8) | buf[off + 3]!;
  const available = end - off;
  if (totalLength === 0) {
    totalLength = available; // TSO artefact (see above)
  } else if (totalLength < headerLength) {
    ctx.weirds.weird('bad_ipv4_total_length');
    return;
  } else if (totalLength > available) {
    ctx.weirds.weird('ipv4_total_length_exceeds_capture');
    totalLength = available;
  }
  const ipEnd = off + totalLength;

  rec.ipVersion = 4;
  const src = rec.srcAddr;
  const dst = rec.dstAddr;
  src[0] = (buf[off + 12]! << 24) | (buf[off + 13]! << 16) | (buf[off + 14]! << 8) | buf[off + 15]!;
  src[1] = 0;
  src[2] = 0;
  src[3] = 0;
  dst[0] = (buf[off + 16]! << 24) | (buf[off + 17]! << 16) | (buf[off + 18]! << 8) | buf[off + 19]!;
  dst[1] = 0;
  dst[2] = 0;
  dst[3] = 0;
  rec.ttl = buf[off + 8]!;
  rec.ipId = (buf[off + 4]! << 8) | buf[off + 5]!;
  rec.ipChecksum = (buf[off + 10]! << 8) | buf[off + 11]!;
  const proto = buf[off + 9]!;
  rec.ipProto = proto;
  rec.ipLength = totalLength;

  const flagsHi = buf[off + 6]!;
  const moreFragments = (flagsHi & 0x20) !== 0;
  const fragOffset = (((flagsHi & 0x1f) << 8) | buf[off + 7]!) << 3;
  const payloadOff = off + headerLength;
  if (moreFragments || fragOffset !== 0) {
    rec.isFragment = true;
    const defrag = ctx.defrag;
    if (defrag === null) return;
    const whole = defrag.add(4, src, dst, proto, rec.ipId, fragOffset, moreFragments, buf, payloadOff, ipEnd - payloadOff, rec.ts);
    if (whole === null) return;
    rec.isFragment = false;
    rec.reassembled = true;
    rec.ipLength = headerLength + whole.length;
    decodeIpPayload(rec, ctx, whole, 0, whole.length, proto);
    return;
  }
  decodeIpPayload(rec, ctx, buf, payloadOff, ipEnd, proto);
}
