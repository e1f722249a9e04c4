import { describe, expect, it } from 'vitest';
import { decodeBytes, eth, hex, ipv4, payload, udp } from './frames.js';
import { PacketRecord } from '../../sensor/src/decode/packet.js';
import { decodeFrame } from '../../sensor/src/decode/decode-frame.js';
import { newCtx } from './frames.js';

describe('UDP', () => {
  it('decodes ports and payload', () => {
    const { rec, weirds } = decodeBytes(eth(0x0800, ipv4(17, udp(1234, 5678, hex('00112233')))));
    expect(weirds.total()).toBe(0);
    expect([rec.l4Proto, rec.srcPort, rec.dstPort]).toEqual([17, 1234, 5678]);
    expect(payload(rec).toString('hex')).toBe('00112233');
  });

  it('uses a UDP length shorter than the IP payload, and counts the mismatch', () => {
    const { rec, weirds } = decodeBytes(eth(0x0800, ipv4(17, udp(1, 2, hex('00112233'), 10))));
    expect(weirds.get('udp_length_mismatch')).toBe(1);
    expect(payload(rec).toString('hex')).toBe('0011');
  });

  it('clamps a UDP length longer than the IP payload, and counts it', () => {
    const { rec, weirds } = decodeBytes(eth(0x0800, ipv4(17, udp(1, 2, hex('00112233'), 100))));
    expect(weirds.get('udp_length_mismatch')).toBe(1);
    expect(rec.payloadLength).toBe(4);
  });

  it('does not blame UDP for a frame cut by snaplen (IP already counted it)', () => {
    const full = eth(0x0800, ipv4(17, udp(1, 2, Buffer.alloc(100))));
    const rec = new PacketRecord();
    const ctx = newCtx();
    rec.frame = full;
    rec.capLength = 60;
    rec.wireLength = full.length;
    rec.linkType = 1;
    decodeFrame(rec, ctx);
    expect(ctx.weirds.get('udp_length_mismatch')).toBe(0);
    expect(ctx.weirds.get('ipv4_total_length_exceeds_capture')).toBe(1);
    expect(rec.payloadLength).toBe(60 - 14 - 20 - 8);
  });

  it('counts a length below 8 and truncation', () => {
    expect(decodeBytes(eth(0x0800, ipv4(17, udp(1, 2, hex('00'), 4)))).weirds.get('udp_length_mismatch')).toBe(1);
    expect(decodeBytes(eth(0x0800, ipv4(17, hex('0001000200')))).weirds.get('truncated_udp')).toBe(1);
  });
});
