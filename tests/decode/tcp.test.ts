import { describe, expect, it } from 'vitest';
import { decodeBytes, eth, hex, ipv4, ipv6, payload, tcp } from './frames.js';

describe('TCP', () => {
  it('decodes ports, seq, ack, flags and the payload after options', () => {
    const seg = tcp(5060, 40000, Buffer.from('SIP/2.0 200 OK\r\n'), {
      seq: 0xfffffff0,
      ack: 0x80000001,
      flags: 0x12,
      options: hex('020405b4 01010402'),
    });
    const { rec, weirds } = decodeBytes(eth(0x0800, ipv4(6, seg)));
    expect(weirds.total()).toBe(0);
    expect([rec.l4Proto, rec.srcPort, rec.dstPort]).toEqual([6, 5060, 40000]);
    expect(rec.tcpSeq).toBe(0xfffffff0);
    expect(rec.tcpAck).toBe(0x80000001);
    expect(rec.tcpFlags).toBe(0x12);
    expect(payload(rec).toString()).toBe('SIP/2.0 200 OK\r\n');
    expect(rec.payloadOffset).toBe(14 + 20 + 28);
  });

  it('works over IPv6', () => {
    expect(decodeBytes(eth(0x86dd, ipv6(6, tcp(1, 2, hex('aa'))))).rec.l4Proto).toBe(6);
  });

  it('counts a bad data offset and truncation', () => {
    const bad = tcp(1, 2, hex('aa'));
    bad[12] = 0x40;
    expect(decodeBytes(eth(0x0800, ipv4(6, bad))).weirds.get('bad_tcp_header_length')).toBe(1);
    expect(decodeBytes(eth(0x0800, ipv4(6, tcp(1, 2, hex('')).subarray(0, 19)))).weirds.get('truncated_tcp')).toBe(1);
    const longOpts = tcp(1, 2, hex(''));
    longOpts[12] = 0xf0; // 60-byte header in 20 bytes
    expect(decodeBytes(eth(0x0800, ipv4(6, longOpts))).weirds.get('truncated_tcp')).toBe(1);
  });
});
