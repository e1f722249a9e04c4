import { describe, expect, it } from 'vitest';
import { looksLikeSip } from '../../../sensor/src/app/sip/sip-probe.js';

const probe = (s: string, pad = 0): boolean => {
  const b = Buffer.alloc(pad + Buffer.byteLength(s), 0xee);
  b.write(s, pad, 'latin1');
  return looksLikeSip(b, pad, b.length - pad);
};

describe('looksLikeSip', () => {
  it('accepts the RFC 3261 methods', () => {
    for (const m of ['INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'REGISTER', 'PRACK', 'SUBSCRIBE', 'NOTIFY', 'PUBLISH', 'INFO', 'REFER', 'MESSAGE', 'UPDATE']) {
      expect(probe(`${m} sip:bob@example.com SIP/2.0\r\nVia: x\r\n`), m).toBe(true);
    }
  });

  it('accepts a known method with a non-SIP URI, and unknown tokens only with sip:/sips:/tel:', () => {
    expect(probe('INVITE urn:service:sos SIP/2.0\r\n')).toBe(true);
    expect(probe('NEWMETHOD sip:bob@example.com SIP/2.0\r\n')).toBe(true);
    expect(probe('NEWMETHOD sips:bob@example.com SIP/2.0\r\n')).toBe(true);
    expect(probe('NEWMETHOD tel:+15551234 SIP/2.0\r\n')).toBe(true);
    expect(probe('NEWMETHOD http://x SIP/2.0\r\n')).toBe(false);
    expect(probe('invite sip:bob@example.com SIP/2.0\r\n')).toBe(false);
  });

  it('accepts status lines and honours the offset', () => {
    expect(probe('SIP/2.0 200 OK\r\n')).toBe(true);
    expect(probe('SIP/2.0 180 Ringing\r\n', 7)).toBe(true);
    expect(probe('SIP/2.0 20 OK\r\nxxxxx')).toBe(false);
    expect(probe('SIP/2.1 200 OK\r\n')).toBe(false);
  });

  it('rejects HTTP, RTP-like bytes and truncated lines', () => {
    expect(probe('GET / HTTP/1.1\r\nHost: x\r\n')).toBe(false);
    expect(probe('HTTP/1.1 200 OK\r\n')).toBe(false);
    expect(looksLikeSip(Buffer.from('80000001000000a000000001aabbccdd', 'hex'), 0, 16)).toBe(false);
    expect(probe('INVITE sip:bob@example.com SIP/2.')).toBe(false);
    expect(probe('INVITE sip:bob@example.com HTTP/2.0\r\n')).toBe(false);
    expect(probe('INVITE  SIP/2.0\r\n')).toBe(false);
  });

  it('does not read past len even when the buffer continues', () => {
    const b = Buffer.from('REGISTER sip:example.com SIP/2.0\r\n', 'latin1');
    expect(looksLikeSip(b, 0, b.length - 2)).toBe(true); // ends exactly after SIP/2.0
    expect(looksLikeSip(b, 0, b.length - 4)).toBe(false); // "SIP/2." only
    expect(looksLikeSip(b, 0, 5)).toBe(false);
  });
});
