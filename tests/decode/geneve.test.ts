import { describe, expect, it } from 'vitest';
import { TunnelKind } from '../../sensor/src/decode/packet.js';
import { cat, decodeBytes, eth, ETH_IPV4_UDP_RTP, hex, ipv4, ipv6, udp } from './frames.js';

const geneve = (hdr: string, inner: Buffer) => eth(0x0800, ipv4(17, udp(12345, 6081, cat(hex(hdr), inner))));

describe('Geneve', () => {
  it('Ethernet payload (0x6558), options skipped, VNI as id', () => {
    // ver 0, opt len 2 (8 bytes), protocol 0x6558, VNI 0x0a0b0c; one 8-byte option
    const { rec, weirds } = decodeBytes(geneve('0200' + '6558' + '0a0b0c00' + '0101' + '0101' + '00000000', ETH_IPV4_UDP_RTP()));
    expect(weirds.total()).toBe(0);
    expect(rec.tunnels[0]!.kind).toBe(TunnelKind.Geneve);
    expect(rec.tunnels[0]!.id).toBe(0x0a0b0c);
    expect(rec.dstPort).toBe(50000);
  });

  it('IPv4 and IPv6 payloads', () => {
    expect(decodeBytes(geneve('00000800' + '00000100', ipv4(17, udp(1, 2, hex('aa'))))).rec.dstPort).toBe(2);
    expect(decodeBytes(geneve('000086dd' + '00000100', ipv6(17, udp(1, 2, hex('aa'))))).rec.ipVersion).toBe(6);
  });

  it('counts a bad version and truncated options', () => {
    const v1 = decodeBytes(geneve('40006558' + '00000100', ETH_IPV4_UDP_RTP()));
    expect(v1.weirds.get('bad_geneve_version')).toBe(1);
    expect(v1.rec.tunnelDepth).toBe(0);
    expect(decodeBytes(geneve('3f006558' + '00000100', hex('00'))).weirds.get('truncated_geneve')).toBe(1);
  });
});
