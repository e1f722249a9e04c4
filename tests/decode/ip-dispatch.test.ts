import { describe, expect, it } from 'vitest';
import { MAX_TUNNEL_DEPTH, TunnelKind } from '../../sensor/src/decode/packet.js';
import { decodeBytes, dst, eth, hex, ipv4, ipv6, src, tcp, tunnelSummary, udp } from './frames.js';

describe('IP-in-IP and IP protocol dispatch', () => {
  it('IPv4 in IPv4 (protocol 4)', () => {
    const inner = ipv4(6, tcp(5060, 5061, hex('aa')), { src: '10.9.9.9', dst: '10.8.8.8', ttl: 3 });
    const { rec, weirds } = decodeBytes(eth(0x0800, ipv4(4, inner, { src: '1.1.1.1', dst: '2.2.2.2', ttl: 60 })));
    expect(weirds.total()).toBe(0);
    expect(tunnelSummary(rec)).toEqual([`${TunnelKind.IpInIp}:0:1.1.1.1>2.2.2.2:4`]);
    expect(rec.tunnels[0]!.ttl).toBe(60);
    expect([src(rec), dst(rec), rec.ttl, rec.l4Proto]).toEqual(['10.9.9.9', '10.8.8.8', 3, 6]);
  });

  it('IPv6 in IPv4 (6in4, protocol 41), IPv4 in IPv6 and IPv6 in IPv6', () => {
    const v6in4 = decodeBytes(eth(0x0800, ipv4(41, ipv6(17, udp(1, 2, hex('aa'))))));
    expect(v6in4.rec.ipVersion).toBe(6);
    expect(v6in4.rec.tunnels[0]!.l4Proto).toBe(41);
    const v4in6 = decodeBytes(eth(0x86dd, ipv6(4, ipv4(17, udp(1, 2, hex('aa'))))));
    expect(v4in6.rec.ipVersion).toBe(4);
    expect(v4in6.rec.tunnels[0]!.ipVersion).toBe(6);
    const v6in6 = decodeBytes(eth(0x86dd, ipv6(41, ipv6(17, udp(1, 2, hex('aa'))))));
    expect(v6in6.rec.tunnelDepth).toBe(1);
    expect(v6in6.rec.dstPort).toBe(2);
  });

  it('stops at MAX_TUNNEL_DEPTH and counts tunnel_depth_exceeded', () => {
    let pkt = ipv4(17, udp(1, 2, hex('aa')));
    for (let i = 0; i < MAX_TUNNEL_DEPTH + 2; i++) pkt = ipv4(4, pkt);
    const { rec, weirds } = decodeBytes(eth(0x0800, pkt));
    expect(weirds.get('tunnel_depth_exceeded')).toBe(1);
    expect(rec.tunnelDepth).toBe(MAX_TUNNEL_DEPTH);
  });

  it('leaves other protocols (ICMP) with ipProto set and no transport', () => {
    const { rec, weirds } = decodeBytes(eth(0x0800, ipv4(1, hex('0800f7ff00000000'))));
    expect(weirds.total()).toBe(0);
    expect(rec.ipProto).toBe(1);
    expect(rec.l4Proto).toBe(0);
  });
});
