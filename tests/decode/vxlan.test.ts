import { describe, expect, it } from 'vitest';
import { TunnelKind } from '../../sensor/src/decode/packet.js';
import { refreshPortTable } from '../../sensor/src/decode/udp-ports.js';
import { cat, decodeBytes, eth, ETH_IPV4_UDP_RTP, hex, ipv4, payload, RTP, src, udp } from './frames.js';

const vxlan = (flags: string, inner: Buffer, dport = 4789, sport = 51000) =>
  eth(0x0800, ipv4(17, udp(sport, dport, cat(hex(flags + '000000' + '000457' + '00'), inner)), { src: '192.0.2.10' }));

describe('VXLAN', () => {
  it('decodes the inner Ethernet frame; VNI is the tunnel id', () => {
    const { rec, weirds } = decodeBytes(vxlan('08', ETH_IPV4_UDP_RTP()));
    expect(weirds.total()).toBe(0);
    expect(rec.tunnels[0]!.kind).toBe(TunnelKind.Vxlan);
    expect(rec.tunnels[0]!.id).toBe(1111);
    expect(rec.tunnels[0]!.dstPort).toBe(4789);
    expect(rec.tunnels[0]!.l4Proto).toBe(17);
    expect(src(rec)).toBe('10.0.0.1');
    expect(payload(rec).equals(RTP)).toBe(true);
    expect(rec.ethOffset).toBe(14 + 20 + 8 + 8);
  });

  it('without the I flag the datagram stays plain UDP and is counted', () => {
    const { rec, weirds } = decodeBytes(vxlan('00', ETH_IPV4_UDP_RTP()));
    expect(weirds.get('bad_vxlan_flags')).toBe(1);
    expect(rec.tunnelDepth).toBe(0);
    expect(rec.dstPort).toBe(4789);
  });

  it('is matched on the destination port only', () => {
    const { rec } = decodeBytes(vxlan('08', ETH_IPV4_UDP_RTP(), 40000, 4789));
    expect(rec.tunnelDepth).toBe(0);
  });

  it('honours configured ports and counts truncation', () => {
    const ctxFrame = eth(0x0800, ipv4(17, udp(1, 8472, cat(hex('0800000000045700'), ETH_IPV4_UDP_RTP()))));
    const plain = decodeBytes(ctxFrame);
    expect(plain.rec.tunnelDepth).toBe(0);
    const c = plain.ctx;
    c.vxlanPorts.push(8472);
    refreshPortTable(c); // the port table is cached per context object
    const tunneled = decodeBytes(ctxFrame, 1, c);
    expect(tunneled.rec.tunnelDepth).toBe(1);
    expect(decodeBytes(eth(0x0800, ipv4(17, udp(1, 4789, hex('0800'))))).weirds.get('truncated_vxlan')).toBe(1);
  });
});
