/**
 * TZSP, TaZmen Sniffer Protocol (MikroTik/Cisco sniffer streams; Wireshark
 * packet-tzsp.c), UDP 37008 by default:
 *
 *   0: version = 1   1: type (0 received packet, 1 packet for transmit, 3 config, 4 null, 5 port)
 *   2: encapsulation (16: 1 Ethernet, 7 raw IP, 18 IEEE 802.11 ...)
 *   4: tagged fields: tag 0 = padding (1 byte), tag 1 = end (1 byte),
 *      any other tag = type (1) | length (1) | value
 *   then the encapsulated frame.
 *
 * Only packet-carrying types (0, 1) with Ethernet or raw-IP encapsulation are
 * decoded; other types are ordinary TZSP housekeeping and stay plain UDP.
 * TZSP carries no stream identifier, so the tunnel id is 0.
 */
import type { DecodeContext } from './context.js';
import { decodeEthernetFrame, decodeRawIp } from './link-dispatch.js';
import { TunnelKind, type PacketRecord } from './packet.js';
import { enterTunnel } from './tunnel.js';

export const TZSP_ENCAP_ETHERNET = 1;
export const TZSP_ENCAP_RAW_IP = 7;
const TAG_PADDING = 0;
const TAG_END = 1;

export function decodeTzsp(rec: PacketRecord, ctx: DecodeContext, buf: Buffer, off: number, end: number): boolean {
  if (off + 4 > end) {
    ctx.weirds.weird('truncated_tzsp');
    return false;
  }
  if (buf[off] !== 1) return false;
  const type = buf[off + 1]!;
  if (type !== 0 && type !== 1) return false;
  const encapsulation = (buf[off + 2]! << 8) | buf[off + 3]!;
  let p = off + 4;
  for (;;) {
    if (p >= end) {
      ctx.weirds.weird('truncated_tzsp');
      return false;
    }
    const tag = buf[p]!;
    if (tag === TAG_END) {
      p += 1;
      break;
    }
    if (tag === TAG_PADDING) {
      p += 1;
      continue;
    }
    if (p + 2 > end) {
      ctx.weirds.weird('truncated_tzsp');
      return false;
    }
    p += 2 + buf[p + 1]!;
  }
  if (encapsulation !== TZSP_ENCAP_ETHERNET && encapsulation !== TZSP_ENCAP_RAW_IP) {
    ctx.weirds.weird('unhandled_tzsp_encapsulation');
    return false;
  }
  if (!enterTunnel(rec, ctx, TunnelKind.Tzsp, 0)) return true;
  if (encapsulation === TZSP_ENCAP_ETHERNET) decodeEthernetFrame(rec, ctx, buf, p, end);
  else decodeRawIp(rec, ctx, buf, p, end);
  return true;
}
