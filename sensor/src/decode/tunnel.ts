/**
 * Entering an encapsulation: push the outer L3/L4 fields onto the record's
 * tunnel stack (PacketRecord.pushTunnel) and clear what pushTunnel leaves
 * behind, so that an inner packet which turns out not to be IP (an ARP frame
 * inside VXLAN, say) does not inherit the outer packet's TTL or payload.
 *
 * The tunnel stack is also the recursion bound of the decoder: every path that
 * re-enters the Ethernet or IP decoders from inside a payload goes through
 * here, and MAX_TUNNEL_DEPTH stops it ('tunnel_depth_exceeded').
 */
import type { DecodeContext } from './context.js';
import type { PacketRecord, TunnelKind } from './packet.js';

export function enterTunnel(rec: PacketRecord, ctx: DecodeContext, kind: TunnelKind, id: number): boolean {
  if (!rec.pushTunnel(kind, id)) {
    ctx.weirds.weird('tunnel_depth_exceeded');
    return false;
  }
  rec.ttl = 0;
  rec.ipId = 0;
  rec.ipChecksum = 0;
  rec.ipProto = 0;
  rec.ipLength = 0;
  rec.tcpSeq = 0;
  rec.tcpAck = 0;
  rec.tcpFlags = 0;
  rec.payloadLength = 0;
  return true;
}
