import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeFrame } from '../../sensor/src/decode/decode-frame.js';
import { getLastHepProtoType, lastHepProtoType } from '../../sensor/src/decode/hep.js';
import { TunnelKind } from '../../sensor/src/decode/packet.js';
import { cat, decodeBytes, dst, eth, ETH_IPV4_UDP_RTP, hex, ipv4, payload, SIP, src, tcp, udp, V6_DST, V6_SRC } from './frames.js';

function chunk(type: number, value: Buffer, vendor = 0): Buffer {
  const h = Buffer.alloc(6);
  h.writeUInt16BE(vendor, 0);
  h.writeUInt16BE(type, 2);
  h.writeUInt16BE(value.length + 6, 4);
  return cat(h, value);
}
const u8 = (n: number) => Buffer.from([n]);
const u16 = (n: number) => hex(n.toString(16).padStart(4, '0'));
const u32 = (n: number) => hex(n.toString(16).padStart(8, '0'));

function hep3(chunks: Buffer[]): Buffer {
  const body = cat(...chunks);
  return cat(Buffer.from('HEP3'), u16(body.length + 6), body);
}

const v4Chunks = (payloadChunk: Buffer) => [
  chunk(1, u8(2)),
  chunk(2, u8(17)),
  chunk(3, hex('c0a80101')),
  chunk(4, hex('c0a80102')),
  chunk(7, u16(5060)),
  chunk(8, u16(5062)),
  chunk(9, u32(0x584d365c)),
  chunk(10, u32(100)),
  chunk(11, u8(1)),
  chunk(12, u32(2001)),
  chunk(0x0e, Buffer.from('myHep')),
  payloadChunk,
];

describe('HEP v3', () => {
  it('decodes the chunks into the inner L3/L4 fields and the payload (any UDP port)', () => {
    const frame = eth(0x0800, ipv4(17, udp(51160, 9999, hep3(v4Chunks(chunk(15, SIP)))), { src: '127.0.0.1', dst: '127.0.0.1' }));
    const { rec, weirds } = decodeBytes(frame);
    expect(weirds.total()).toBe(0);
    expect(rec.tunnels[0]!.kind).toBe(TunnelKind.Hep3);
    expect(rec.tunnels[0]!.id).toBe(2001);
    expect(rec.tunnels[0]!.dstPort).toBe(9999);
    expect([rec.ipVersion, src(rec), dst(rec), rec.l4Proto, rec.srcPort, rec.dstPort]).toEqual([4, '192.168.1.1', '192.168.1.2', 17, 5060, 5062]);
    expect(payload(rec).equals(SIP)).toBe(true);
    expect(rec.payloadBuf).toBe(frame);
    expect(lastHepProtoType).toBe(1);
    expect(getLastHepProtoType()).toBe(1);
  });

  it('IPv6 chunks, chunks in any order, vendor chunks ignored', () => {
    const chunks = [
      chunk(15, SIP),
      chunk(6, hex(V6_DST)),
      chunk(5, hex(V6_SRC)),
      chunk(1, u8(10)),
      chunk(2, u8(6)),
      chunk(11, u8(5), 0x0003),
    ];
    const { rec, weirds } = decodeBytes(eth(0x0800, ipv4(17, udp(1, 9060, hep3(chunks)))));
    expect(weirds.total()).toBe(0);
    expect([rec.ipVersion, src(rec), dst(rec), rec.l4Proto]).toEqual([6, '2001:db8::1', '2001:db8::2', 6]);
    expect(lastHepProtoType).toBe(0);
  });

  it('inflates a zlib-compressed payload (chunk 16) into a fresh buffer', () => {
    const frame = eth(0x0800, ipv4(17, udp(1, 9060, hep3(v4Chunks(chunk(16, deflateSync(SIP)))))));
    const { rec, weirds } = decodeBytes(frame);
    expect(weirds.total()).toBe(0);
    expect(rec.payloadBuf).not.toBe(frame);
    expect(payload(rec).equals(SIP)).toBe(true);
  });

  it('counts hep_zlib_error for corrupt or oversized compressed payloads', () => {
    const bad = decodeBytes(eth(0x0800, ipv4(17, udp(1, 9060, hep3(v4Chunks(chunk(16, hex('789c0102030405'))))))));
    expect(bad.weirds.get('hep_zlib_error')).toBe(1);
    expect(bad.rec.payloadLength).toBe(0);
    const bomb = deflateSync(Buffer.alloc(200000, 0x41));
    const big = decodeBytes(eth(0x0800, ipv4(17, udp(1, 9060, hep3(v4Chunks(chunk(16, bomb)))))));
    expect(big.weirds.get('hep_zlib_error')).toBe(1);
  });

  it('is recognised in a TCP segment when the whole message is there', () => {
    const { rec } = decodeBytes(eth(0x0800, ipv4(6, tcp(40000, 9061, hep3(v4Chunks(chunk(15, SIP)))))));
    expect(rec.tunnels[0]!.kind).toBe(TunnelKind.Hep3);
    expect(rec.tunnels[0]!.l4Proto).toBe(6);
    expect(payload(rec).equals(SIP)).toBe(true);
  });

  it('leaves a HEP message cut short (or with a broken chunk) as plain UDP and counts it', () => {
    const msg = hep3(v4Chunks(chunk(15, SIP)));
    const cut = decodeBytes(eth(0x0800, ipv4(17, udp(1, 9060, msg.subarray(0, 40)))));
    expect(cut.weirds.get('truncated_hep3')).toBe(1);
    expect(cut.rec.tunnelDepth).toBe(0);
    const broken = Buffer.from(msg);
    broken.writeUInt16BE(3, 6 + 4); // first chunk length 3 < 6
    expect(decodeBytes(eth(0x0800, ipv4(17, udp(1, 9060, broken)))).weirds.get('bad_hep3_chunk')).toBe(1);
    const short = Buffer.from(msg);
    short.writeUInt16BE(4, 4);
    expect(decodeBytes(eth(0x0800, ipv4(17, udp(1, 9060, short)))).weirds.get('bad_hep3_length')).toBe(1);
  });

  it('resets lastHepProtoType on the next frame', () => {
    const { rec, ctx } = decodeBytes(eth(0x0800, ipv4(17, udp(1, 9060, hep3(v4Chunks(chunk(15, SIP)))))));
    expect(lastHepProtoType).toBe(1);
    rec.frame = ETH_IPV4_UDP_RTP();
    rec.capLength = rec.frame.length;
    decodeFrame(rec, ctx);
    expect(lastHepProtoType).toBe(0);
  });
});

describe('HEP v1 / v2 (only on hepPorts)', () => {
  const v2 = cat(hex('02' + '10' + '02' + '11' + '13c4' + '13c6' + '0a000001' + '0a000002'), hex('5c364d58' + '64000000' + 'd107' + '0000'), SIP);
  const v1 = cat(hex('01' + '10' + '02' + '11' + '13c4' + '13c6' + '0a000001' + '0a000002'), SIP);

  it('HEP v2 over IPv4: payload at 28, capture id (little-endian) is the id', () => {
    const { rec, weirds } = decodeBytes(eth(0x0800, ipv4(17, udp(40000, 9060, v2))));
    expect(weirds.total()).toBe(0);
    expect(rec.tunnels[0]!.kind).toBe(TunnelKind.Hep2);
    expect(rec.tunnels[0]!.id).toBe(2001);
    expect([src(rec), dst(rec), rec.srcPort, rec.dstPort, rec.l4Proto]).toEqual(['10.0.0.1', '10.0.0.2', 5060, 5062, 17]);
    expect(rec.payloadOffset).toBe(14 + 20 + 8 + 28);
    expect(payload(rec).equals(SIP)).toBe(true);
  });

  it('HEP v1 over IPv4: payload at 16', () => {
    const { rec } = decodeBytes(eth(0x0800, ipv4(17, udp(40000, 9060, v1))));
    expect(rec.tunnels[0]!.kind).toBe(TunnelKind.Hep2);
    expect(rec.tunnels[0]!.id).toBe(0);
    expect(payload(rec).equals(SIP)).toBe(true);
  });

  it('HEP v2 over IPv6: 40-byte header then 12', () => {
    const v6 = cat(hex('02' + '28' + '0a' + '11' + '13c4' + '13c6' + V6_SRC + V6_DST), hex('000000000000000001000000'), SIP);
    const { rec } = decodeBytes(eth(0x0800, ipv4(17, udp(40000, 9060, v6))));
    expect([rec.ipVersion, src(rec), rec.tunnels[0]!.id]).toEqual([6, '2001:db8::1', 1]);
    expect(payload(rec).equals(SIP)).toBe(true);
  });

  it('is not guessed on other ports, nor when the header does not fit', () => {
    expect(decodeBytes(eth(0x0800, ipv4(17, udp(40000, 5060, v2)))).rec.tunnelDepth).toBe(0);
    const odd = Buffer.from(v2);
    odd[1] = 0x11;
    expect(decodeBytes(eth(0x0800, ipv4(17, udp(40000, 9060, odd)))).rec.tunnelDepth).toBe(0);
  });
});
