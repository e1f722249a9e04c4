/**
 * Representative valid frames (one per layer and tunnel) shared by the
 * truncation and fuzz tests. Each is [name, link type, bytes].
 */
import { deflateSync } from 'node:zlib';
import { cat, eth, ETH_IPV4_UDP_RTP, hex, ipv4, ipv6, RTP, SIP, tcp, udp, vlanTag } from './frames.js';

function hepChunk(type: number, value: Buffer): Buffer {
  const h = Buffer.alloc(6);
  h.writeUInt16BE(type, 2);
  h.writeUInt16BE(value.length + 6, 4);
  return cat(h, value);
}
function hep3(payloadChunk: Buffer): Buffer {
  const body = cat(
    hepChunk(1, hex('02')),
    hepChunk(2, hex('11')),
    hepChunk(3, hex('c0a80101')),
    hepChunk(4, hex('c0a80102')),
    hepChunk(7, hex('13c4')),
    hepChunk(8, hex('13c4')),
    hepChunk(11, hex('01')),
    hepChunk(12, hex('000007d1')),
    payloadChunk,
  );
  const len = Buffer.alloc(2);
  len.writeUInt16BE(body.length + 6);
  return cat(Buffer.from('HEP3'), len, body);
}

const innerV4 = () => ipv4(17, udp(5060, 5060, SIP), { src: '10.1.1.1', dst: '10.2.2.2' });
const innerEth = () => eth(0x0800, innerV4());

export const SAMPLES: [string, number, Buffer][] = [
  ['eth/ipv4/udp/rtp', 1, ETH_IPV4_UDP_RTP()],
  ['qinq/ipv4/tcp', 1, eth(0x88a8, cat(hex('0cab'), vlanTag(0x8100, 10, 0x0800), ipv4(6, tcp(5060, 40000, SIP, { options: hex('01010101') }))))],
  ['eth/ipv6 ext/udp', 1, eth(0x86dd, ipv6(0, cat(hex('3c00010400000000'), hex('2c00000000000000'), hex('1100000000000001'), udp(1, 2, RTP))))],
  ['eth/ipv6 frag', 1, eth(0x86dd, ipv6(44, cat(hex('1100000100000009'), udp(1, 2, RTP))))],
  ['eth/ipv4 frag', 1, eth(0x0800, ipv4(17, udp(1, 2, RTP), { flagsFrag: 0x2000 }))],
  ['vlan/gre-pptp/ppp/ipv4/udp/sip', 1, eth(0x8100, cat(hex('008e0800'), ipv4(47, (() => { const ppp = cat(hex('ff030021'), innerV4()); return cat(hex('3081880b' + ppp.length.toString(16).padStart(4, '0') + '4321' + '00000001' + '00000002'), ppp); })())))],
  ['gre-teb', 1, eth(0x0800, ipv4(47, cat(hex('20006558' + '00000064'), innerEth())))],
  ['erspan2', 1, eth(0x0800, ipv4(47, cat(hex('100088be00000001'), hex('10051aa500000001'), innerEth())))],
  ['erspan3+O', 1, eth(0x0800, ipv4(47, cat(hex('100022eb00000001'), hex('2005007711223344' + '00000001'), Buffer.alloc(8, 0xee), innerEth())))],
  ['vxlan', 1, eth(0x0800, ipv4(17, udp(51000, 4789, cat(hex('0800000000045700'), innerEth()))))],
  ['geneve', 1, eth(0x0800, ipv4(17, udp(51000, 6081, cat(hex('02006558' + '0a0b0c00' + '0101010100000000'), innerEth()))))],
  ['tzsp', 1, eth(0x0800, ipv4(17, udp(40001, 37008, cat(hex('01000001' + '00' + '0a017f' + '01'), innerEth()))))],
  ['gtpu+ext', 1, eth(0x0800, ipv4(17, udp(2152, 2152, (() => { const rest = cat(hex('00000085' + '01000100'), innerV4()); return cat(hex('34ff' + rest.length.toString(16).padStart(4, '0') + '00000001'), rest); })())))],
  ['hep3', 1, eth(0x0800, ipv4(17, udp(40000, 9060, hep3(hepChunk(15, SIP)))))],
  ['hep3 zlib', 1, eth(0x0800, ipv4(17, udp(40000, 9060, hep3(hepChunk(16, deflateSync(SIP))))))],
  ['hep2', 1, eth(0x0800, ipv4(17, udp(40000, 9060, cat(hex('02100211' + '13c413c6' + '0a000001' + '0a000002'), hex('5c364d5864000000d1070000'), SIP))))],
  ['esp-udp', 1, eth(0x0800, ipv4(17, udp(4500, 4500, hex('00d400160000000111223344556677889900'))))],
  ['ipip 6in4', 1, eth(0x0800, ipv4(41, ipv6(17, udp(1, 2, RTP))))],
  ['mpls pw', 1, eth(0x8847, cat(hex('00064040'), hex('00065140'), hex('00000000'), innerEth()))],
  ['pppoe', 1, eth(0x8864, (() => { const ip = innerV4(); return cat(hex('11000042' + (ip.length + 2).toString(16).padStart(4, '0') + '0021'), ip); })())],
  ['sll/ipv4/sctp', 113, cat(hex('00000001000600112233445500000800'), ipv4(132, cat(hex('13c413c50000000100000000'), hex('0003000d00000001000000004f'))))],
  ['sll2/ipv6/udp', 276, cat(hex('86dd00000000000200010006001122334455 0000'), ipv6(17, udp(1, 2, RTP)))],
  ['null/ipv4', 0, cat(hex('02000000'), innerV4())],
  ['raw/ipv4', 101, innerV4()],
];
