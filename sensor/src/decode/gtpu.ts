/**
 * GTP-U (3GPP TS 29.281 §5.1-5.2; Wireshark packet-gtp.c), UDP 2152 by
 * default:
 *
 *   0: version (3) = 1 | PT (1) = 1 | spare | E | S | PN
 *   1: message type (255 = G-PDU: a user IP packet follows)
 *   2: length (bytes after the first 8)   4: TEID (32)
 *   8: when any of E, S, PN is set: sequence (16) | N-PDU number (8) | next extension type (8)
 *   extension headers while the next type is not 0:
 *       length (8, in 4-byte units, whole header) | content | next extension type (8)
 *
 * Other message types (echo, error indication, end marker) are signalling,
 * left as plain UDP. Pushes TunnelKind.GtpU with the TEID as id.
 */
import type { DecodeContext } from './context.js';
import { decodeRawIp } from './link-dispatch.js';
import { TunnelKind, type PacketRecord } from './packet.js';
import { enterTunnel } from './tunnel.js';

export const GTPU_HEADER_LENGTH = 8;
const GTP_MSG_G_PDU = 255;

export function decodeGtpu(rec: PacketRecord, ctx: DecodeContext, buf: Buffer, off: number, end: number): boolean {
  if (off + GTPU_HEADER_LENGTH > end) {
    ctx.weirds.weird('truncated_gtpu');
    return false;
  }
  const flags = buf[off]!;
  // version 1 and protocol type GTP (not GTP')
  if ((flags & 0xf0) !== 0x30) return false;
  if (buf[off + 1] !== GTP_MSG_G_PDU) return false;
  const length = (buf[off + 2]! << 8) | buf[off + 3]!;
  const teid = ((buf[off + 4]! << 24) | (buf[off + 5]! << 16) | (buf[off + 6]! << 8) | buf[off + 7]!) >>> 0;
  if (off + GTPU_HEADER_LENGTH + length < end) end = off + GTPU_HEADER_LENGTH + length;
  else if (off + GTPU_HEADER_LENGTH + length > end) ctx.weirds.weird('gtpu_length_exceeds_capture');
  let p = off + GTPU_HEADER_LENGTH;
  if ((flags & 0x07) !== 0) {
    if (p + 4 > end) {
      ctx.weirds.weird('truncated_gtpu');
      return false;
    }
    let nextType = buf[p + 3]!;
    p += 4;
    if ((flags & 0x04) !== 0) {
      while (nextType !== 0) {
        if (p >= end) {
          ctx.weirds.weird('truncated_gtpu');
          return false;
        }
        const units = buf[p]!;
        if (units === 0) {
          ctx.weirds.weird('bad_gtpu_extension');
          return false;
        }
        const extEnd = p + (units << 2);
        if (extEnd > end) {
          ctx.weirds.weird('truncated_gtpu');
          return false;
        }
        nextType = buf[extEnd - 1]!;
        p = extEnd;
      }
    }
  }
  if (!enterTunnel(rec, ctx, TunnelKind.GtpU, teid)) return true;
  if (p < end) decodeRawIp(rec, ctx, buf, p, end);
  return true;
}
