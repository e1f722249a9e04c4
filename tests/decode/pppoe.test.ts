import { describe, expect, it } from 'vitest';
import { cat, decodeBytes, eth, hex, ipv4, ipv6, udp } from './frames.js';

function pppoe(pppProto: string, body: Buffer, extra = 0): Buffer {
  const len = body.length + pppProto.length / 2;
  return cat(hex('1100' + '0042' + len.toString(16).padStart(4, '0') + pppProto), body, Buffer.alloc(extra, 0x55));
}

describe('PPPoE session + PPP', () => {
  it('decodes IPv4 inside PPPoE and trims padding by the PPPoE length', () => {
    const body = ipv4(17, udp(1, 2, hex('dd')));
    const { rec, weirds } = decodeBytes(eth(0x8864, pppoe('0021', body, 10)));
    expect(weirds.total()).toBe(0);
    expect(rec.ipVersion).toBe(4);
    expect(rec.payloadLength).toBe(1);
  });

  it('decodes IPv6 inside PPPoE', () => {
    const { rec } = decodeBytes(eth(0x8864, pppoe('0057', ipv6(17, udp(1, 2, hex('dd'))))));
    expect(rec.ipVersion).toBe(6);
    expect(rec.l4Proto).toBe(17);
  });

  it('stops silently on LCP, counts a bad header and truncation', () => {
    expect(decodeBytes(eth(0x8864, pppoe('c021', hex('0101000400')))).weirds.total()).toBe(0);
    expect(decodeBytes(eth(0x8864, hex('2100000000020021'))).weirds.get('bad_pppoe_header')).toBe(1);
    expect(decodeBytes(eth(0x8864, hex('1100'))).weirds.get('truncated_pppoe')).toBe(1);
  });
});
