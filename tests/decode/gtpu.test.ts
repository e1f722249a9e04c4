import { describe, expect, it } from 'vitest';
import { TunnelKind } from '../../sensor/src/decode/packet.js';
import { cat, decodeBytes, eth, hex, ipv4, ipv6, src, udp } from './frames.js';

const inner = () => ipv4(17, udp(4444, 5555, hex('16fefd')), { src: '100.64.0.1' });
const gtp = (flags: string, teid: string, ext: string, pdu: Buffer, type = 'ff') => {
  const rest = cat(hex(ext), pdu);
  return eth(0x0800, ipv4(17, udp(2152, 2152, cat(hex(flags + type + rest.length.toString(16).padStart(4, '0') + teid), rest))));
};

describe('GTP-U', () => {
  it('G-PDU with the minimal header: TEID is the id, inner IPv4', () => {
    const { rec, weirds } = decodeBytes(gtp('30', 'a0b0c0d0', '', inner()));
    expect(weirds.total()).toBe(0);
    expect(rec.tunnels[0]!.kind).toBe(TunnelKind.GtpU);
    expect(rec.tunnels[0]!.id).toBe(0xa0b0c0d0);
    expect(src(rec)).toBe('100.64.0.1');
    expect(rec.dstPort).toBe(5555);
  });

  it('sequence number present (S), then an extension-header chain (E)', () => {
    expect(decodeBytes(gtp('32', '00000001', '00070000', inner())).rec.dstPort).toBe(5555);
    // E set: next type 0x85 (PDU session container), 1 unit = 4 bytes: len 01, 2 bytes content, next 00
    const { rec, weirds } = decodeBytes(gtp('34', '00000001', '0000' + '00' + '85' + '01' + '0001' + '00', inner()));
    expect(weirds.total()).toBe(0);
    expect(rec.dstPort).toBe(5555);
    expect(decodeBytes(gtp('30', '00000001', '', ipv6(17, udp(1, 2, hex('aa'))))).rec.ipVersion).toBe(6);
  });

  it('non-G-PDU messages stay UDP; bad extension and truncation are counted', () => {
    expect(decodeBytes(gtp('32', '00000000', '00010000', hex(''), '01')).rec.tunnelDepth).toBe(0);
    expect(decodeBytes(gtp('34', '00000001', '00000085' + '00', inner())).weirds.get('bad_gtpu_extension')).toBe(1);
    expect(decodeBytes(gtp('34', '00000001', '00000085' + 'ff', inner())).weirds.get('truncated_gtpu')).toBe(1);
    expect(decodeBytes(eth(0x0800, ipv4(17, udp(2152, 2152, hex('30ff0000'))))).weirds.get('truncated_gtpu')).toBe(1);
  });
});
