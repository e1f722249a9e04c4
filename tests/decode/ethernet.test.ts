import { describe, expect, it } from 'vitest';
import { cat, decodeBytes, dst, eth, ETH_IPV4_UDP_RTP, hex, ipv4, payload, RTP, src, udp } from './frames.js';

describe('Ethernet II', () => {
  it('decodes Ethernet/IPv4/UDP down to the RTP payload', () => {
    const frame = ETH_IPV4_UDP_RTP();
    const { rec, weirds } = decodeBytes(frame);
    expect(weirds.total()).toBe(0);
    expect(rec.ethOffset).toBe(0);
    expect(rec.ipVersion).toBe(4);
    expect(src(rec)).toBe('10.0.0.1');
    expect(dst(rec)).toBe('10.0.0.2');
    expect(rec.ipProto).toBe(17);
    expect(rec.l4Proto).toBe(17);
    expect(rec.srcPort).toBe(40000);
    expect(rec.dstPort).toBe(50000);
    expect(rec.payloadOffset).toBe(14 + 20 + 8);
    expect(payload(rec).equals(RTP)).toBe(true);
    expect(rec.tunnelDepth).toBe(0);
    expect(rec.vlanCount).toBe(0);
    expect(rec.vlanId).toBe(-1);
  });

  it('cuts Ethernet padding off using the IP total length', () => {
    const frame = cat(eth(0x0800, ipv4(17, udp(1, 2, hex('aabb')))), Buffer.alloc(20, 0x77));
    const { rec, weirds } = decodeBytes(frame);
    expect(weirds.total()).toBe(0);
    expect(payload(rec).toString('hex')).toBe('aabb');
  });

  it('counts truncated_ethernet for a 13-byte frame', () => {
    const { rec, weirds } = decodeBytes(hex('02000000000102000000000208'));
    expect(weirds.get('truncated_ethernet')).toBe(1);
    expect(rec.ipVersion).toBe(0);
  });

  it('ignores 802.3 length frames and ARP without a weird', () => {
    const llc = eth(0x0026, hex('424203000000000000'));
    const arp = eth(0x0806, Buffer.alloc(28));
    expect(decodeBytes(llc).weirds.total()).toBe(0);
    expect(decodeBytes(arp).weirds.total()).toBe(0);
  });

  it('counts unknown EtherTypes as unhandled_ethertype, not as errors of another layer', () => {
    const { rec, weirds } = decodeBytes(eth(0x88cc, Buffer.alloc(30)));
    expect(weirds.get('unhandled_ethertype')).toBe(1);
    expect(weirds.total()).toBe(1);
    expect(rec.ipVersion).toBe(0);
  });

  it('resets the record between frames (IPv6 words do not leak into IPv4)', () => {
    const first = decodeBytes(ETH_IPV4_UDP_RTP());
    first.rec.srcAddr[1] = 99;
    decodeBytes(ETH_IPV4_UDP_RTP(), 1, first.ctx, first.rec);
    expect(first.rec.srcAddr[1]).toBe(0);
  });
});
