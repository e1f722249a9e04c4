import { describe, expect, it } from 'vitest';
import type { Defragmenter } from '../../sensor/src/decode/context.js';
import { cat, decodeBytes, eth, hex, ipv4, newCtx, payload, udp } from './frames.js';

interface FragCall {
  ipVersion: number;
  proto: number;
  id: number;
  fragOffset: number;
  more: boolean;
  bytes: string;
}

/** A defragmenter that records its calls and completes the datagram on the fragment with MF clear. */
function fakeDefrag(whole: Buffer | null): { defrag: Defragmenter; calls: FragCall[] } {
  const calls: FragCall[] = [];
  const defrag: Defragmenter = {
    add(ipVersion, _src, _dst, proto, id, fragOffset, more, buf, off, len) {
      calls.push({ ipVersion, proto, id, fragOffset, more, bytes: buf.subarray(off, off + len).toString('hex') });
      return more ? null : whole;
    },
  };
  return { defrag, calls };
}

describe('IPv4', () => {
  it('records ttl, id, checksum, protocol and length', () => {
    const { rec } = decodeBytes(eth(0x0800, ipv4(17, udp(1, 2, hex('00')), { ttl: 7, id: 0xabcd, checksum: 0x1357 })));
    expect(rec.ttl).toBe(7);
    expect(rec.ipId).toBe(0xabcd);
    expect(rec.ipChecksum).toBe(0x1357);
    expect(rec.ipLength).toBe(29);
  });

  it('skips options (IHL > 5)', () => {
    const { rec, weirds } = decodeBytes(eth(0x0800, ipv4(17, udp(3, 4, hex('eeff')), { options: hex('94040000 01010101') })));
    expect(weirds.total()).toBe(0);
    expect(rec.srcPort).toBe(3);
    expect(rec.payloadOffset).toBe(14 + 28 + 8);
  });

  it('clamps a total length beyond the capture and counts it', () => {
    const { rec, weirds } = decodeBytes(eth(0x0800, ipv4(17, udp(3, 4, hex('eeff'), 10), { totalLength: 500 })));
    expect(weirds.get('ipv4_total_length_exceeds_capture')).toBe(1);
    expect(rec.payloadLength).toBe(2);
  });

  it('treats total length 0 (TSO) as the captured length', () => {
    const { rec, weirds } = decodeBytes(eth(0x0800, ipv4(17, udp(3, 4, hex('eeff')), { totalLength: 0 })));
    expect(weirds.total()).toBe(0);
    expect(rec.payloadLength).toBe(2);
  });

  it('counts bad header length, bad total length, bad version and truncation', () => {
    const good = ipv4(17, udp(3, 4, hex('ee')));
    const badIhl = Buffer.from(good);
    badIhl[0] = 0x44;
    expect(decodeBytes(eth(0x0800, badIhl)).weirds.get('bad_ipv4_header_length')).toBe(1);
    expect(decodeBytes(eth(0x0800, ipv4(17, udp(3, 4, hex('ee')), { totalLength: 19 }))).weirds.get('bad_ipv4_total_length')).toBe(1);
    const v5 = Buffer.from(good);
    v5[0] = 0x55;
    expect(decodeBytes(eth(0x0800, v5)).weirds.get('bad_ipv4_version')).toBe(1);
    expect(decodeBytes(eth(0x0800, good.subarray(0, 19))).weirds.get('truncated_ipv4')).toBe(1);
    const longIhl = Buffer.from(good.subarray(0, 24));
    longIhl[0] = 0x4f; // 60-byte header in 24 bytes
    expect(decodeBytes(eth(0x0800, longIhl)).weirds.get('truncated_ipv4')).toBe(1);
  });

  it('marks a fragment and stops when there is no defragmenter', () => {
    const { rec, weirds } = decodeBytes(eth(0x0800, ipv4(17, udp(3, 4, hex('ee')), { flagsFrag: 0x2000 })));
    expect(weirds.total()).toBe(0);
    expect(rec.isFragment).toBe(true);
    expect(rec.l4Proto).toBe(0);
    expect(rec.ipProto).toBe(17);
  });

  it('hands fragments to the defragmenter and decodes L4 from the reassembled buffer', () => {
    const datagram = udp(5060, 5080, Buffer.from('REGISTER sip:x SIP/2.0\r\n\r\n'));
    const first = datagram.subarray(0, 16);
    const second = datagram.subarray(16);
    const { defrag, calls } = fakeDefrag(datagram);
    const ctx = newCtx(defrag);
    const a = decodeBytes(eth(0x0800, ipv4(17, first, { flagsFrag: 0x2000, id: 77 })), 1, ctx);
    expect(a.rec.isFragment).toBe(true);
    expect(a.rec.reassembled).toBe(false);
    const b = decodeBytes(eth(0x0800, ipv4(17, second, { flagsFrag: 0x0002, id: 77 })), 1, ctx);
    expect(calls).toEqual([
      { ipVersion: 4, proto: 17, id: 77, fragOffset: 0, more: true, bytes: first.toString('hex') },
      { ipVersion: 4, proto: 17, id: 77, fragOffset: 16, more: false, bytes: second.toString('hex') },
    ]);
    expect(b.rec.isFragment).toBe(false);
    expect(b.rec.reassembled).toBe(true);
    expect(b.rec.dstPort).toBe(5080);
    expect(b.rec.payloadBuf).toBe(datagram);
    expect(payload(b.rec).toString()).toBe('REGISTER sip:x SIP/2.0\r\n\r\n');
    expect(b.rec.ipLength).toBe(20 + datagram.length);
  });

  it('excludes Ethernet padding from the fragment handed to the defragmenter', () => {
    const { defrag, calls } = fakeDefrag(null);
    decodeBytes(cat(eth(0x0800, ipv4(17, hex('0102030405060708'), { flagsFrag: 0x2000 })), Buffer.alloc(12)), 1, newCtx(defrag));
    expect(calls[0]!.bytes).toBe('0102030405060708');
  });
});
