import { describe, expect, it } from 'vitest';
import { TunnelKind } from '../../sensor/src/decode/packet.js';
import { cat, decodeBytes, eth, ETH_IPV4_UDP_RTP, hex, ipv4, newCtx, udp } from './frames.js';

const tzsp = (hdr: string, inner: Buffer, port = 37008) => eth(0x0800, ipv4(17, udp(40001, port, cat(hex(hdr), inner))));

describe('TZSP', () => {
  it('received packet, Ethernet encapsulation, padding and a tagged field before END', () => {
    // version 1, type 0, encap 1; tags: padding, padding, tag 10 (len 1, value 0x7f), end
    const { rec, weirds } = decodeBytes(tzsp('01000001' + '00' + '00' + '0a017f' + '01', ETH_IPV4_UDP_RTP()));
    expect(weirds.total()).toBe(0);
    expect(rec.tunnels[0]!.kind).toBe(TunnelKind.Tzsp);
    expect(rec.dstPort).toBe(50000);
  });

  it('raw IP encapsulation (7)', () => {
    const { rec } = decodeBytes(tzsp('01010007' + '01', ipv4(17, udp(1, 2, hex('aa')))));
    expect(rec.dstPort).toBe(2);
    expect(rec.tunnelDepth).toBe(1);
  });

  it('uses configurable ports (31337 as in the corpus sample)', () => {
    const frame = tzsp('01000001' + '01', ETH_IPV4_UDP_RTP(), 31337);
    expect(decodeBytes(frame).rec.tunnelDepth).toBe(0);
    const ctx = newCtx();
    ctx.tzspPorts = [37008, 31337];
    expect(decodeBytes(frame, 1, ctx).rec.tunnelDepth).toBe(1);
  });

  it('leaves non-packet types and other versions as UDP; counts bad encapsulation and truncation', () => {
    expect(decodeBytes(tzsp('01040001' + '01', ETH_IPV4_UDP_RTP())).rec.tunnelDepth).toBe(0);
    expect(decodeBytes(tzsp('02000001' + '01', ETH_IPV4_UDP_RTP())).rec.tunnelDepth).toBe(0);
    expect(decodeBytes(tzsp('01000012' + '01', ETH_IPV4_UDP_RTP())).weirds.get('unhandled_tzsp_encapsulation')).toBe(1);
    expect(decodeBytes(tzsp('01000001' + '0a05', hex(''))).weirds.get('truncated_tzsp')).toBe(1);
    expect(decodeBytes(tzsp('010000', hex(''))).weirds.get('truncated_tzsp')).toBe(1);
  });
});
