/**
 * SCTP common header (RFC 9260 §3.1; Wireshark packet-sctp.c).
 *
 *   0: source port   2: destination port   4: verification tag   8: checksum   12: chunks ...
 *
 * Only the ports are decoded: the payload handed on is the chunk list
 * (starting at 12). SIP over SCTP (RFC 4168) would need DATA-chunk parsing
 * and stream reassembly; that is out of scope for now.
 */
import type { DecodeContext } from './context.js';
import type { PacketRecord } from './packet.js';

export const SCTP_COMMON_HEADER_LENGTH = 12;

export function decodeSctp(rec: PacketRecord, ctx: DecodeContext, buf: Buffer, off: number, end: number): void {
  if (off + SCTP_COMMON_HEADER_LENGTH > end) {
    ctx.weirds.weird('truncated_sctp');
    return;
  }
  rec.l4Proto = 132;
  rec.srcPort = (buf[off]! << 8) | buf[off + 1]!;
  rec.dstPort = (buf[off + 2]! << 8) | buf[off + 3]!;
  rec.payloadBuf = buf;
  rec.payloadOffset = off + SCTP_COMMON_HEADER_LENGTH;
  rec.payloadLength = end - off - SCTP_COMMON_HEADER_LENGTH;
}
