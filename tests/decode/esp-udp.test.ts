import { describe, expect, it } from 'vitest';
import { classifyUdpEncap, espSpi, UDPENCAP_ESP, UDPENCAP_IKE, UDPENCAP_KEEPALIVE } from '../../sensor/src/decode/esp-udp.js';
import { decodeBytes, eth, hex, ipv4, payload, udp } from './frames.js';

const nat = (body: string) => eth(0x0800, ipv4(17, udp(4500, 4500, hex(body)), { src: '198.51.100.1' }));

describe('UDP-encapsulated ESP (RFC 3948)', () => {
  it('ESP: the outer UDP stays the innermost packet, payload starts at the SPI, nothing pushed', () => {
    const { rec, weirds } = decodeBytes(nat('00d40016' + '00000001' + 'aabbccddeeff0011'));
    expect(weirds.total()).toBe(0);
    expect(rec.tunnelDepth).toBe(0);
    expect([rec.l4Proto, rec.srcPort, rec.dstPort]).toEqual([17, 4500, 4500]);
    expect(classifyUdpEncap(rec.payloadBuf, rec.payloadOffset, rec.payloadLength)).toBe(UDPENCAP_ESP);
    expect(espSpi(rec.payloadBuf, rec.payloadOffset)).toBe(0x00d40016);
  });

  it('NAT keepalive and the IKE non-ESP marker are recognised and leave the packet alone', () => {
    const ka = decodeBytes(nat('ff'));
    expect(ka.weirds.total()).toBe(0);
    expect(classifyUdpEncap(ka.rec.payloadBuf, ka.rec.payloadOffset, ka.rec.payloadLength)).toBe(UDPENCAP_KEEPALIVE);
    const ike = decodeBytes(nat('00000000' + '1122334455667788'));
    expect(ike.weirds.total()).toBe(0);
    expect(payload(ike.rec).length).toBe(12);
    expect(classifyUdpEncap(ike.rec.payloadBuf, ike.rec.payloadOffset, ike.rec.payloadLength)).toBe(UDPENCAP_IKE);
  });

  it('counts an ESP packet too short for SPI and sequence number', () => {
    expect(decodeBytes(nat('0102')).weirds.get('truncated_esp')).toBe(1);
  });
});
