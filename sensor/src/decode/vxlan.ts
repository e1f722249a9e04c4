/**
 * VXLAN (RFC 7348 §5; Wireshark packet-vxlan.c), UDP destination port 4789
 * by default:
 *
 *   0: flags (R R R R I R R R)   1-3: reserved   4-6: VNI (24)   7: reserved
 *   8: inner Ethernet frame
 *
 * The I flag must be set (RFC 7348: "MUST be set to 1 for a valid VXLAN
 * Network ID"); without it the datagram is left as plain UDP and counted.
 * Pushes TunnelKind.Vxlan with the VNI as id.
 */
import type { DecodeContext } from './context.js';
import { decodeEthernetFrame } from './link-dispatch.js';
import { TunnelKind, type PacketRecord } from './packet.js';
import { enterTunnel } from './tunnel.js';

export const VXLAN_HEADER_LENGTH = 8;

export function decodeVxlan(rec: PacketRecord, ctx: DecodeContext, buf: Buffer, off: number, end: number): boolean {
  if (off + VXLAN_HEADER_LENGTH > end) {
    ctx.weirds.weird('truncated_vxlan');
    return false;
  }
  if ((buf[off]! & 0x08) === 0) {
    ctx.weirds.weird('bad_vxlan_flags');
    return false;
  }
  const vni = (buf[off + 4]! << 16) | (buf[off + 5]! << 8) | buf[off + 6]!;
  if (!enterTunnel(rec, ctx, TunnelKind.Vxlan, vni)) return true;
  decodeEthernetFrame(rec, ctx, buf, off + VXLAN_HEADER_LENGTH, end);
  return true;
}
