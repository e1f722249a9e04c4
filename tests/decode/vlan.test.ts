import { describe, expect, it } from 'vitest';
import { cat, decodeBytes, eth, hex, ipv4, src, udp, vlanTag } from './frames.js';

const inner = () => ipv4(17, udp(5060, 5060, hex('00')), { src: '192.0.2.1' });

describe('802.1Q / 802.1ad VLAN tags', () => {
  it('decodes a single 802.1Q tag', () => {
    // PCP 1, VID 0x08e = 142, then IPv4
    const { rec, weirds } = decodeBytes(eth(0x8100, cat(hex('208e0800'), inner())));
    expect(weirds.total()).toBe(0);
    expect(rec.vlanCount).toBe(1);
    expect(rec.vlanId).toBe(142);
    expect(src(rec)).toBe('192.0.2.1');
  });

  it('decodes QinQ (0x88a8 over 0x8100) and keeps the innermost VLAN id', () => {
    // outer S-tag VID 3243 (0xcab) then C-tag VID 10
    const qinq = eth(0x88a8, cat(hex('0cab'), vlanTag(0x8100, 10, 0x0800), inner()));
    const { rec, weirds } = decodeBytes(qinq);
    expect(weirds.total()).toBe(0);
    expect(rec.vlanCount).toBe(2);
    expect(rec.vlanId).toBe(10);
    expect(rec.l4Proto).toBe(17);
  });

  it('accepts the pre-standard 0x9100 outer tag', () => {
    const { rec } = decodeBytes(eth(0x9100, cat(hex('00058100'), hex('00060800'), inner())));
    expect(rec.vlanCount).toBe(2);
    expect(rec.vlanId).toBe(6);
    expect(rec.ipVersion).toBe(4);
  });

  it('counts truncated_vlan', () => {
    const { rec, weirds } = decodeBytes(eth(0x8100, hex('0005')));
    expect(weirds.get('truncated_vlan')).toBe(1);
    expect(rec.ipVersion).toBe(0);
  });
});
