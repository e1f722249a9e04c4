import { describe, expect, it } from 'vitest';
import { TunnelKind } from '../../sensor/src/decode/packet.js';
import { cat, decodeBytes, dst, eth, hex, ipv4, ipv6, payload, SIP, src, tunnelSummary, udp } from './frames.js';

const outer = (gre: Buffer) => eth(0x0800, ipv4(47, gre, { src: '203.0.113.1', dst: '203.0.113.2' }));
const innerV4 = () => ipv4(17, udp(5060, 5060, SIP), { src: '10.1.1.1', dst: '10.2.2.2' });
const innerEth = () => eth(0x0800, innerV4());

describe('GRE (RFC 2784/2890)', () => {
  it('plain GRE with IPv4 inside: Gre, id 0', () => {
    const { rec, weirds } = decodeBytes(outer(cat(hex('00000800'), innerV4())));
    expect(weirds.total()).toBe(0);
    expect(tunnelSummary(rec)).toEqual([`${TunnelKind.Gre}:0:203.0.113.1>203.0.113.2:47`]);
    expect(src(rec)).toBe('10.1.1.1');
    expect(payload(rec).equals(SIP)).toBe(true);
  });

  it('C, K and S flags each add 4 bytes; the key is the tunnel id', () => {
    const gre = hex('b0000800' + '00000000' + 'deadbeef' + '00000007');
    const { rec, weirds } = decodeBytes(outer(cat(gre, innerV4())));
    expect(weirds.total()).toBe(0);
    expect(rec.tunnels[0]!.id).toBe(0xdeadbeef);
    expect(dst(rec)).toBe('10.2.2.2');
  });

  it('IPv6 inside GRE', () => {
    const { rec } = decodeBytes(outer(cat(hex('000086dd'), ipv6(17, udp(1, 2, hex('aa'))))));
    expect(rec.ipVersion).toBe(6);
    expect(rec.tunnels[0]!.kind).toBe(TunnelKind.Gre);
  });

  it('0x6558 transparent Ethernet bridging: GreTeb, ethOffset points at the inner Ethernet', () => {
    const frame = outer(cat(hex('20006558' + '00000064'), innerEth()));
    const { rec, weirds } = decodeBytes(frame);
    expect(weirds.total()).toBe(0);
    expect(rec.tunnels[0]!.kind).toBe(TunnelKind.GreTeb);
    expect(rec.tunnels[0]!.id).toBe(100);
    expect(rec.ethOffset).toBe(14 + 20 + 8);
    expect(src(rec)).toBe('10.1.1.1');
  });

  it('ERSPAN type II (S bit set, 8-byte header): session id is the tunnel id', () => {
    // ver 1, VLAN 5 | COS 0, En 3, T 0, session 0x2a5 | index 1
    const frame = outer(cat(hex('100088be' + '00000001'), hex('1005' + '1aa5' + '00000001'), innerEth()));
    const { rec, weirds } = decodeBytes(frame);
    expect(weirds.total()).toBe(0);
    expect(rec.tunnels[0]!.kind).toBe(TunnelKind.ErspanII);
    expect(rec.tunnels[0]!.id).toBe(0x2a5);
    expect(rec.dstPort).toBe(5060);
  });

  it('ERSPAN type I (no S bit): Ethernet follows GRE directly, recorded as ErspanII id 0', () => {
    const { rec, weirds } = decodeBytes(outer(cat(hex('000088be'), innerEth())));
    expect(weirds.total()).toBe(0);
    expect(rec.tunnels[0]!.kind).toBe(TunnelKind.ErspanII);
    expect(rec.tunnels[0]!.id).toBe(0);
    expect(src(rec)).toBe('10.1.1.1');
  });

  it('ERSPAN type III, with and without the 8-byte platform subheader (O bit)', () => {
    const hdr = (o: boolean) => hex('2005' + '0077' + '11223344' + '0000' + (o ? '0001' : '0000'));
    const a = decodeBytes(outer(cat(hex('100022eb' + '00000001'), hdr(false), innerEth())));
    expect(a.weirds.total()).toBe(0);
    expect(a.rec.tunnels[0]!.kind).toBe(TunnelKind.ErspanIII);
    expect(a.rec.tunnels[0]!.id).toBe(0x77);
    expect(a.rec.srcPort).toBe(5060);
    const b = decodeBytes(outer(cat(hex('100022eb' + '00000001'), hdr(true), Buffer.alloc(8, 0xee), innerEth())));
    expect(b.weirds.total()).toBe(0);
    expect(b.rec.srcPort).toBe(5060);
  });

  it('enhanced GRE (PPTP): key = length + call id, optional seq and ack, PPP with and without 0xFF03', () => {
    const ppp1 = cat(hex('ff030021'), innerV4());
    const seqAck = hex('3081880b' + ppp1.length.toString(16).padStart(4, '0') + '4321' + '00000001' + '00000002');
    const a = decodeBytes(outer(cat(seqAck, ppp1)));
    expect(a.weirds.total()).toBe(0);
    expect(a.rec.tunnels[0]!.kind).toBe(TunnelKind.Gre);
    expect(a.rec.tunnels[0]!.id).toBe(0x4321);
    expect(payload(a.rec).equals(SIP)).toBe(true);

    // no address/control, protocol-field-compressed (1-byte 0x21), no seq, no ack
    const ppp2 = cat(hex('21'), innerV4());
    const b = decodeBytes(outer(cat(hex('2001880b' + ppp2.length.toString(16).padStart(4, '0') + '0001'), ppp2)));
    expect(b.weirds.total()).toBe(0);
    expect(src(b.rec)).toBe('10.1.1.1');

    // IPv6 over PPP (0x0057)
    const ppp3 = cat(hex('ff030057'), ipv6(17, udp(1, 2, hex('aa'))));
    const c = decodeBytes(outer(cat(hex('2001880b' + ppp3.length.toString(16).padStart(4, '0') + '0001'), ppp3)));
    expect(c.rec.ipVersion).toBe(6);
  });

  it('an enhanced GRE acknowledgment without payload pushes nothing', () => {
    const { rec, weirds } = decodeBytes(outer(hex('2081880b' + '0000' + '0001' + '00000005')));
    expect(weirds.total()).toBe(0);
    expect(rec.tunnelDepth).toBe(0);
    expect(rec.ipProto).toBe(47);
  });

  it('counts truncation, routing, bad versions and bad enhanced GRE', () => {
    expect(decodeBytes(outer(hex('0000'))).weirds.get('truncated_gre')).toBe(1);
    expect(decodeBytes(outer(hex('b0000800' + '0000'))).weirds.get('truncated_gre')).toBe(1);
    expect(decodeBytes(outer(cat(hex('40000800' + '00000000'), innerV4()))).weirds.get('unsupported_gre_routing')).toBe(1);
    expect(decodeBytes(outer(cat(hex('00020800'), innerV4()))).weirds.get('unsupported_gre_version')).toBe(1);
    expect(decodeBytes(outer(cat(hex('00010800'), innerV4()))).weirds.get('bad_enhanced_gre')).toBe(1);
    expect(decodeBytes(outer(cat(hex('100088be00000001'), hex('1005')))).weirds.get('truncated_erspan')).toBe(1);
    expect(decodeBytes(outer(cat(hex('000022eb'), hex('2005007711223344000000')))).weirds.get('truncated_erspan')).toBe(1);
  });
});
