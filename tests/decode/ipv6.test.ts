import { describe, expect, it } from 'vitest';
import type { Defragmenter } from '../../sensor/src/decode/context.js';
import { cat, decodeBytes, eth, hex, ipv6, newCtx, payload, src, udp } from './frames.js';

const body = () => udp(5060, 5060, hex('cafe'));

describe('IPv6', () => {
  it('decodes addresses, hop limit and length', () => {
    const { rec, weirds } = decodeBytes(eth(0x86dd, ipv6(17, body(), { hopLimit: 9 })));
    expect(weirds.total()).toBe(0);
    expect(src(rec)).toBe('2001:db8::1');
    expect(rec.ttl).toBe(9);
    expect(rec.ipLength).toBe(40 + 10);
    expect(rec.ipChecksum).toBe(0);
    expect(payload(rec).toString('hex')).toBe('cafe');
  });

  it('walks hop-by-hop, routing, destination options, mobility and AH', () => {
    const hbh = hex('2b00' + '010400000000'); // next routing (43), 8 bytes
    const routing = hex('3c02' + '0000' + '00000000' + '00'.repeat(16)); // next dest opts (60), (2+1)*8 = 24 bytes
    const dstopts = hex('8700' + '010400000000'); // next mobility (135), 8 bytes
    const mobility = hex('3300' + '000000000000'); // next AH (51), 8 bytes
    const ah = hex('1104' + '0000' + '00000001' + '00000001' + '00'.repeat(12)); // next UDP, (4+2)*4 = 24 bytes
    const pl = cat(hbh, routing, dstopts, mobility, ah, body());
    const { rec, weirds } = decodeBytes(eth(0x86dd, ipv6(0, pl)));
    expect(weirds.total()).toBe(0);
    expect(rec.ipProto).toBe(17);
    expect(rec.l4Proto).toBe(17);
    expect(payload(rec).toString('hex')).toBe('cafe');
  });

  it('stops at no-next-header (59)', () => {
    const { rec, weirds } = decodeBytes(eth(0x86dd, ipv6(59, Buffer.alloc(0))));
    expect(weirds.total()).toBe(0);
    expect(rec.ipProto).toBe(59);
    expect(rec.l4Proto).toBe(0);
  });

  it('counts a truncated extension header and an oversized one', () => {
    expect(decodeBytes(eth(0x86dd, ipv6(0, hex('1100')))).weirds.get('truncated_ipv6_extension')).toBe(1);
    expect(decodeBytes(eth(0x86dd, ipv6(0, hex('1109000000000000')))).weirds.get('truncated_ipv6_extension')).toBe(1);
  });

  it('treats an atomic fragment as a whole packet', () => {
    const { rec } = decodeBytes(eth(0x86dd, ipv6(44, cat(hex('1100' + '0000' + '00000005'), body()))));
    expect(rec.isFragment).toBe(false);
    expect(rec.ipId).toBe(5);
    expect(rec.dstPort).toBe(5060);
  });

  it('sends fragments to the defragmenter with the 32-bit id', () => {
    const calls: unknown[] = [];
    const whole = body();
    const defrag: Defragmenter = {
      add(v, _s, _d, proto, id, fragOffset, more, buf, off, len) {
        calls.push([v, proto, id, fragOffset, more, buf.subarray(off, off + len).toString('hex')]);
        return more ? null : whole;
      },
    };
    const ctx = newCtx(defrag);
    const a = decodeBytes(eth(0x86dd, ipv6(44, cat(hex('1100' + '0001' + 'f0000001'), whole.subarray(0, 8)))), 1, ctx);
    expect(a.rec.isFragment).toBe(true);
    expect(a.rec.ipId).toBe(0xf0000001);
    const b = decodeBytes(eth(0x86dd, ipv6(44, cat(hex('1100' + '0008' + 'f0000001'), whole.subarray(8)))), 1, ctx);
    expect(calls).toEqual([
      [6, 17, 0xf0000001, 0, true, whole.subarray(0, 8).toString('hex')],
      [6, 17, 0xf0000001, 8, false, 'cafe'],
    ]);
    expect(b.rec.reassembled).toBe(true);
    expect(payload(b.rec).toString('hex')).toBe('cafe');
  });

  it('counts truncation and a payload length beyond the capture', () => {
    expect(decodeBytes(eth(0x86dd, Buffer.alloc(39, 0x60))).weirds.get('truncated_ipv6')).toBe(1);
    const { rec, weirds } = decodeBytes(eth(0x86dd, ipv6(17, body(), { payloadLength: 400 })));
    expect(weirds.get('ipv6_payload_length_exceeds_capture')).toBe(1);
    expect(rec.dstPort).toBe(5060);
  });
});
