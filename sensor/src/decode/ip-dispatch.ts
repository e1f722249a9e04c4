/**
 * IP protocol dispatch: hands the payload of an IPv4 or IPv6 packet to the
 * decoder registered for its protocol number (IANA "Assigned Internet
 * Protocol Numbers"; Zeek registers these in
 * scripts/base/packet-protocols/ip/main.zeek). A `switch` on the number: no
 * per-packet lookup structure. Protocols without a decoder here (ICMP, ESP,
 * OSPF ...) are normal traffic: the record keeps ipProto and l4Proto stays 0.
 *
 * IP-in-IP (RFC 2003 IPv4-in-IPv4, protocol 4; RFC 4213 6in4 / RFC 2473
 * IPv6-in-IPv6, protocol 41) is decoded here: the outer header goes on the
 * tunnel stack (TunnelKind.IpInIp, id 0: IP-in-IP has no identifier) and the
 * inner packet is decoded afresh.
 */
import type { DecodeContext } from './context.js';
import { decodeGre } from './gre.js';
import { decodeIpv4 } from './ipv4.js';
import { decodeIpv6 } from './ipv6.js';
import { TunnelKind, type PacketRecord } from './packet.js';
import { decodeSctp } from './sctp.js';
import { decodeTcp } from './tcp.js';
import { enterTunnel } from './tunnel.js';
import { decodeUdp } from './udp.js';

export const IPPROTO_IPIP = 4;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_IPV6 = 41;
export const IPPROTO_GRE = 47;
export const IPPROTO_SCTP = 132;

export function decodeIpPayload(
  rec: PacketRecord,
  ctx: DecodeContext,
  buf: Buffer,
  off: number,
  end: number,
  proto: number,
): void {
  switch (proto) {
    case IPPROTO_UDP:
      decodeUdp(rec, ctx, buf, off, end);
      return;
    case IPPROTO_TCP:
      decodeTcp(rec, ctx, buf, off, end);
      return;
    case IPPROTO_SCTP:
      decodeSctp(rec, ctx, buf, off, end);
      return;
    case IPPROTO_GRE:
      decodeGre(rec, ctx, buf, off, end);
      return;
    case IPPROTO_IPIP:
      rec.l4Proto = IPPROTO_IPIP; // recorded on the tunnel layer as the outer "L4" protocol
      if (!enterTunnel(rec, ctx, TunnelKind.IpInIp, 0)) return;
      decodeIpv4(rec, ctx, buf, off, end);
      return;
    case IPPROTO_IPV6:
      rec.l4Proto = IPPROTO_IPV6;
      if (!enterTunnel(rec, ctx, TunnelKind.IpInIp, 0)) return;
      decodeIpv6(rec, ctx, buf, off, end);
      return;
    default:
      return;
  }
}
