/**
 * TCP header (RFC 9293 §3.1; Wireshark packet-tcp.c).
 *
 *   0: source port   2: destination port   4: sequence number   8: acknowledgment number
 *   12: data offset (4, in 32-bit words) | reserved (4)   13: flags (CWR ECE URG ACK PSH RST SYN FIN)
 *   14: window   16: checksum   18: urgent pointer   20: options ...
 *
 * The payload is whatever follows the options up to the end of the IP
 * packet; stream reassembly is the flow stage's job. A payload that starts
 * with the HEP3 magic (or any payload on a HEP port) is handed to the HEP
 * decoder, which only decodes it when the whole HEP message is in this
 * segment.
 */
import type { DecodeContext } from './context.js';
import { decodeHep, isHep3Magic } from './hep.js';
import type { PacketRecord } from './packet.js';
import { PORT_HEP, portClass } from './udp-ports.js';

export const TCP_MIN_HEADER_LENGTH = 20;

export function decodeTcp(rec: PacketRecord, ctx: DecodeContext, buf: Buffer, off: number, end: number): void {
  if (off + TCP_MIN_HEADER_LENGTH > end) {
    ctx.weirds.weird('truncated_tcp');
    return;
  }
  const headerLength = (buf[off + 12]! >> 4) << 2;
  if (headerLength < TCP_MIN_HEADER_LENGTH) {
    ctx.weirds.weird('bad_tcp_header_length');
    return;
  }
  if (off + headerLength > end) {
    ctx.weirds.weird('truncated_tcp');
    return;
  }
  const srcPort = (buf[off]! << 8) | buf[off + 1]!;
  const dstPort = (buf[off + 2]! << 8) | buf[off + 3]!;
  rec.l4Proto = 6;
  rec.srcPort = srcPort;
  rec.dstPort = dstPort;
  rec.tcpSeq = ((buf[off + 4]! << 24) | (buf[off + 5]! << 16) | (buf[off + 6]! << 8) | buf[off + 7]!) >>> 0;
  rec.tcpAck = ((buf[off + 8]! << 24) | (buf[off + 9]! << 16) | (buf[off + 10]! << 8) | buf[off + 11]!) >>> 0;
  rec.tcpFlags = buf[off + 13]!;
  const payloadOff = off + headerLength;
  rec.payloadBuf = buf;
  rec.payloadOffset = payloadOff;
  rec.payloadLength = end - payloadOff;
  if (end - payloadOff < 4) return;
  if (isHep3Magic(buf, payloadOff) || ((portClass[dstPort]! | portClass[srcPort]!) & PORT_HEP) !== 0) {
    decodeHep(rec, ctx, buf, payloadOff, end);
  }
}
