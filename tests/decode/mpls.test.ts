import { describe, expect, it } from 'vitest';
import { cat, decodeBytes, dst, eth, hex, ipv4, ipv6, src, udp } from './frames.js';

const label = (value: number, bottom: boolean) =>
  hex(((value << 12) | (bottom ? 0x100 : 0) | 64).toString(16).padStart(8, '0'));

describe('MPLS', () => {
  it('walks a two-label stack to IPv4', () => {
    const { rec, weirds } = decodeBytes(eth(0x8847, cat(label(100, false), label(200, true), ipv4(17, udp(1, 2, hex('ab'))))));
    expect(weirds.total()).toBe(0);
    expect(rec.mplsLabelCount).toBe(2);
    expect(rec.ipVersion).toBe(4);
    expect(rec.dstPort).toBe(2);
    expect(rec.tunnelDepth).toBe(0);
  });

  it('recognises IPv6 after the bottom of stack (multicast EtherType too)', () => {
    const { rec } = decodeBytes(eth(0x8848, cat(label(7, true), ipv6(17, udp(1, 2, hex('ab'))))));
    expect(rec.ipVersion).toBe(6);
    expect(src(rec)).toBe('2001:db8::1');
  });

  it('follows a pseudowire control word into an Ethernet frame', () => {
    const inner = eth(0x0800, ipv4(17, udp(7, 8, hex('cc')), { dst: '198.51.100.9' }));
    const { rec, weirds } = decodeBytes(eth(0x8847, cat(label(16, true), hex('00000000'), inner)));
    expect(weirds.total()).toBe(0);
    expect(dst(rec)).toBe('198.51.100.9');
    expect(rec.ethOffset).toBe(14 + 4 + 4);
  });

  it('counts truncated_mpls and unhandled_mpls_payload', () => {
    expect(decodeBytes(eth(0x8847, label(1, false))).weirds.get('truncated_mpls')).toBe(1);
    expect(decodeBytes(eth(0x8847, cat(label(1, true), hex('50')))).weirds.get('unhandled_mpls_payload')).toBe(1);
  });
});
