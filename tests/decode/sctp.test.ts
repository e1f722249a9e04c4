import { describe, expect, it } from 'vitest';
import { decodeBytes, eth, hex, ipv4 } from './frames.js';

describe('SCTP', () => {
  it('records protocol 132 and the ports; the payload is the chunk list', () => {
    const common = hex('13c4' + '13c5' + '00000001' + '00000000');
    const chunk = hex('0003000d00000001000000004f');
    const { rec, weirds } = decodeBytes(eth(0x0800, ipv4(132, Buffer.concat([common, chunk]))));
    expect(weirds.total()).toBe(0);
    expect([rec.l4Proto, rec.srcPort, rec.dstPort]).toEqual([132, 5060, 5061]);
    expect(rec.payloadLength).toBe(chunk.length);
  });

  it('counts truncated_sctp', () => {
    expect(decodeBytes(eth(0x0800, ipv4(132, hex('13c413c5')))).weirds.get('truncated_sctp')).toBe(1);
  });
});
