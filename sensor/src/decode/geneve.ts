/**
 * Geneve (RFC 8926 §3.4; Wireshark packet-geneve.c), UDP destination port
 * 6081 by default:
 *
 *   0: Ver (2) = 0 | Opt Len (6, 4-byte units)   1: O | C | reserved (6)
 *   2: Protocol Type (EtherType: 0x6558 Ethernet, 0x0800 IPv4, 0x86DD IPv6)
 *   4-6: VNI (24)   7: reserved   8: options (Opt Len * 4 bytes), then the inner packet
 *
 * A version other than 0 is not Geneve as we know it: left as plain UDP and
 * counted. Pushes TunnelKind.Geneve with the VNI as id; the inner payload
 * goes through the EtherType dispatch.
 */
import type { DecodeContext } from './context.js';
import { decodeEtherType } from './link-dispatch.js';
import { TunnelKind, type PacketRecord } from './packet.js';
import { enterTunnel } from './tunnel.js';

export const GENEVE_HEADER_LENGTH = 8;

export function decodeGeneve(rec: PacketRecord, ctx: DecodeContext, buf: Buffer, off: number, end: number): boolean {
  if (off + GENEVE_HEADER_LENGTH > end) {
    ctx.weirds.weird('truncated_geneve');
    return false;
  }
  const b0 = buf[off]!;
  if (b0 >> 6 !== 0) {
    ctx.weirds.weird('bad_geneve_version');
    return false;
  }
  const headerLength = GENEVE_HEADER_LENGTH + ((b0 & 0x3f) << 2);
  if (off + headerLength > end) {
    ctx.weirds.weird('truncated_geneve');
    return false;
  }
  const protocol = (buf[off + 2]! << 8) | buf[off + 3]!;
  const vni = (buf[off + 4]! << 16) | (buf[off + 5]! << 8) | buf[off + 6]!;
  if (!enterTunnel(rec, ctx, TunnelKind.Geneve, vni)) return true;
  decodeEtherType(rec, ctx, buf, off + headerLength, end, protocol);
  return true;
}
