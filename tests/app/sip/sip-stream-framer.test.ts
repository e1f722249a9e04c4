import { describe, expect, it } from 'vitest';
import { WeirdCounters } from '../../../sensor/src/decode/weird.js';
import { SipStreamFramer, scanContentLength } from '../../../sensor/src/app/sip/sip-stream-framer.js';
import { parseSipMessage } from '../../../sensor/src/app/sip/sip-parser.js';
import { wsFrame } from './ws-frames.js';

const crlf = (...l: string[]): string => l.join('\r\n');

const msg = (cseq: number, body = '', compact = false): string =>
  crlf(
    `INVITE sip:bob@biloxi.example.com SIP/2.0`,
    'Via: SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK74b43',
    'From: <sip:alice@atlanta.example.com>;tag=9fxced76sl',
    'To: <sip:bob@biloxi.example.com>',
    `Call-ID: call-${cseq}`,
    `CSeq: ${cseq} INVITE`,
    `${compact ? 'l' : 'Content-Length'}: ${Buffer.byteLength(body)}`,
    '',
    body,
  );

const RESPONSE = crlf('SIP/2.0 180 Ringing', 'Call-ID: r', 'CSeq: 1 INVITE', 'Content-Length: 0', '', '');

/** Feed chunks; collect each delivered message as text (copied during the callback). */
function feed(chunks: Buffer[], framer = new SipStreamFramer(), w = new WeirdCounters()): string[] {
  const out: string[] = [];
  for (const c of chunks) framer.push(c, 0, c.length, (b, o, n) => out.push(b.toString('utf8', o, o + n)), w);
  return out;
}

const split = (s: string | Buffer, size: number): Buffer[] => {
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i += size) out.push(b.subarray(i, i + size));
  return out;
};

describe('SipStreamFramer (RFC 3261 §18.3)', () => {
  it('delivers many messages from one chunk, with bodies and compact l:', () => {
    const a = msg(1, 'v=0\r\ns=-\r\n');
    const b = msg(2, 'hello', true);
    const w = new WeirdCounters();
    const out = feed([Buffer.from(a + b + RESPONSE)], undefined, w);
    expect(out).toEqual([a, b, RESPONSE]);
    expect(w.total()).toBe(0);
    expect(parseSipMessage(Buffer.from(out[1]), 0, Buffer.byteLength(out[1]))!.body.len).toBe(5);
  });

  it('reassembles a message pushed byte by byte, and at every split point', () => {
    const a = msg(7, 'x'.repeat(300));
    expect(feed(split(a + RESPONSE, 1))).toEqual([a, RESPONSE]);
    const whole = Buffer.from(a + RESPONSE);
    for (let cut = 1; cut < whole.length; cut += 17) {
      expect(feed([whole.subarray(0, cut), whole.subarray(cut)]), `cut ${cut}`).toEqual([a, RESPONSE]);
    }
  });

  it('skips CRLF keep-alives (RFC 5626 ping and pong) between messages', () => {
    const a = msg(1);
    const w = new WeirdCounters();
    const out = feed([Buffer.from('\r\n\r\n'), Buffer.from(a + '\r\n\r\n\r\n'), Buffer.from('\r\n' + RESPONSE)], undefined, w);
    expect(out).toEqual([a, RESPONSE]);
    expect(w.total()).toBe(0);
  });

  it('resynchronises on the next start line after garbage, counting one weird per run', () => {
    const a = msg(1);
    const w = new WeirdCounters();
    const garbage = 'binary\x00junk\r\nmore junk line\r\nHTTP/1.1 200 OK\r\n';
    const out = feed([Buffer.from(garbage + a), Buffer.from('zzz\r\n' + RESPONSE)], undefined, w);
    expect(out).toEqual([a, RESPONSE]);
    expect(w.get('sip_stream_garbage')).toBe(2);
  });

  it('treats a missing Content-Length as 0 with a weird', () => {
    const noCl = crlf('BYE sip:a@b SIP/2.0', 'Call-ID: x', 'CSeq: 2 BYE', '', '');
    const w = new WeirdCounters();
    expect(feed([Buffer.from(noCl + RESPONSE)], undefined, w)).toEqual([noCl, RESPONSE]);
    expect(w.get('sip_tcp_missing_content_length')).toBe(1);
  });

  it('counts the missing Content-Length once even when the message arrives in pieces', () => {
    const noCl = crlf('BYE sip:a@b SIP/2.0', 'Call-ID: x', '', '');
    const w = new WeirdCounters();
    expect(feed(split(noCl, 3), undefined, w)).toEqual([noCl]);
    expect(w.get('sip_tcp_missing_content_length')).toBe(1);
  });

  it('skips a message larger than the cap and recovers', () => {
    const w = new WeirdCounters();
    const framer = new SipStreamFramer(2048);
    const big = msg(1, 'b'.repeat(5000));
    const after = msg(2, 'ok');
    expect(feed([...split(big + after, 700)], framer, w)).toEqual([after]);
    expect(w.get('sip_stream_message_too_large')).toBe(1);
  });

  it('drops endless headers beyond the cap and resyncs', () => {
    const w = new WeirdCounters();
    const framer = new SipStreamFramer(2048);
    const endless = 'OPTIONS sip:a@b SIP/2.0\r\n' + 'X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n'.repeat(100);
    const after = msg(3);
    expect(feed(split(endless + '\r\n' + after, 500), framer, w)).toEqual([after]);
    expect(w.get('sip_stream_message_too_large') + w.get('sip_stream_overflow')).toBeGreaterThan(0);
  });

  it('does not rescan a large header section arriving in small chunks (no quadratic work)', () => {
    const big = crlf('OPTIONS sip:a@b SIP/2.0', ...Array.from({ length: 1500 }, (_, i) => `X-Filler-${i}: ${'f'.repeat(60)}`), 'Content-Length: 2', '', 'ok');
    const start = Date.now();
    expect(feed(split(big, 5))).toEqual([big]);
    expect(Date.now() - start).toBeLessThan(3000); // ~100 KiB in 20k pushes; a full rescan per push would take far longer
  });

  it('scans Content-Length by bytes', () => {
    const t = (s: string) => scanContentLength(Buffer.from(s), 0, s.length);
    expect(t('A: b\r\nContent-Length: 42\r\n')).toBe(42);
    expect(t('CONTENT-LENGTH   :  7')).toBe(7);
    expect(t('l:3\r\n')).toBe(3);
    expect(t('Content-Type: x\r\nLocation: y\r\n')).toBe(-1);
    expect(t('Content-Length: 4x\r\n')).toBe(-2);
  });
});

describe('SipStreamFramer: SIP over WebSocket (RFC 7118)', () => {
  const MASK = [0xde, 0xad, 0xbe, 0xef];
  const upgradeReq = crlf(
    'GET / HTTP/1.1', 'Host: proxy.example.com', 'Upgrade: websocket', 'Connection: Upgrade',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Origin: http://www.example.com', 'Sec-WebSocket-Protocol: sip',
    'Sec-WebSocket-Version: 13', '', '');
  const upgradeResp = crlf(
    'HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade',
    'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=', 'Sec-WebSocket-Protocol: sip', '', '');

  it('client direction: GET upgrade, then masked frames carrying SIP', () => {
    const a = msg(1, 'v=0\r\n');
    const b = msg(2);
    const stream = Buffer.concat([Buffer.from(upgradeReq), wsFrame(1, a, { mask: MASK }), wsFrame(1, b.slice(0, 40), { mask: MASK, fin: false }), wsFrame(0, b.slice(40), { mask: MASK })]);
    const framer = new SipStreamFramer();
    expect(framer.mode).toBe('sip');
    const w = new WeirdCounters();
    expect(feed([stream], framer, w)).toEqual([a, b]);
    expect(framer.mode).toBe('websocket');
    expect(w.total()).toBe(0);
    // and again, split byte by byte
    const f2 = new SipStreamFramer();
    expect(feed(split(stream, 1), f2, w)).toEqual([a, b]);
    expect(f2.mode).toBe('websocket');
    expect(f2.messages).toBe(2);
  });

  it('server direction: 101 Switching Protocols, then unmasked frames', () => {
    const framer = new SipStreamFramer();
    const out = feed([Buffer.from(upgradeResp.slice(0, 20)), Buffer.concat([Buffer.from(upgradeResp.slice(20)), wsFrame(1, RESPONSE)])], framer);
    expect(out).toEqual([RESPONSE]);
    expect(framer.mode).toBe('websocket');
  });

  it('a plain HTTP exchange is not an upgrade', () => {
    const w = new WeirdCounters();
    const framer = new SipStreamFramer();
    const http = crlf('GET /index.html HTTP/1.1', 'Host: x', '', '');
    expect(feed([Buffer.from(http + RESPONSE)], framer, w)).toEqual([RESPONSE]);
    expect(framer.mode).toBe('sip');
    expect(w.get('sip_stream_garbage')).toBe(1);
  });

  it('setWebSocketMode() switches a direction explicitly', () => {
    const framer = new SipStreamFramer();
    framer.setWebSocketMode();
    expect(feed([wsFrame(2, RESPONSE, { mask: MASK })], framer)).toEqual([RESPONSE]);
  });
});
