import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { WeirdCounters } from '../../../sensor/src/decode/weird.js';
import { classifyFirstByte, MediaKind } from '../../../sensor/src/app/media/demux.js';
import {
  crc32c,
  decodeZrtp,
  ZrtpMessageType,
  ZrtpRecord,
  zrtpClientId,
  zrtpHelloHash,
  zrtpMessageTypeName,
  zrtpVersionString,
} from '../../../sensor/src/app/media/zrtp.js';

const ascii = (s: string) => Buffer.from(s, 'latin1');

/** Build a ZRTP Hello packet (RFC 6189 §5.2) with one algorithm of each kind. */
function hello(flags: number): Buffer {
  const algos = ascii('S256AES1HS32DH3kB32 '); // hc=cc=ac=kc=sc=1
  const body = Buffer.concat([
    ascii('Hello   '),
    ascii('1.10'),
    ascii('tapwatch test   '), // 16-byte client id
    Buffer.alloc(32, 0x33), // H3
    Buffer.alloc(12, 0x5a), // ZID
    Buffer.from([flags, 0x01, 0x11, 0x11]), // 0|S|M|P|0000, 0000|hc, cc|ac, kc|sc
    algos,
    Buffer.alloc(8, 0x4d), // MAC
  ]);
  const words = (4 + body.length) / 4;
  const msg = Buffer.concat([Buffer.from([0x50, 0x5a, words >> 8, words & 255]), body]);
  const head = Buffer.concat([Buffer.from([0x10, 0x00, 0x00, 0x07]), ascii('ZRTP'), Buffer.from([0xde, 0xad, 0xbe, 0xef])]);
  const pkt = Buffer.concat([head, msg, Buffer.alloc(4)]);
  pkt.writeUInt32BE(crc32c(pkt, 0, pkt.length - 4), pkt.length - 4);
  return pkt;
}

describe('ZRTP (RFC 6189)', () => {
  it('CRC-32c matches the standard check value', () => {
    expect(crc32c(ascii('123456789'), 0, 9)).toBe(0xe3069283);
  });

  it('decodes a Hello with the M (trusted MiTM) flag', () => {
    const pkt = hello(0x20);
    expect(classifyFirstByte(pkt[0]!)).toBe(MediaKind.Zrtp);
    const rec = new ZrtpRecord();
    expect(decodeZrtp(rec, pkt, 0, pkt.length)).toBe(true);
    expect(rec.messageType).toBe(ZrtpMessageType.Hello);
    expect(zrtpMessageTypeName(rec.messageType)).toBe('Hello');
    expect(rec.sequence).toBe(7);
    expect(rec.ssrc).toBe(0xdeadbeef);
    expect(rec.crcValid).toBe(true);
    expect(zrtpVersionString(rec.version)).toBe('1.10');
    expect(zrtpClientId(rec, pkt)).toBe('tapwatch test');
    expect(rec.mitm).toBe(true);
    expect(rec.signatureCapable).toBe(false);
    expect(rec.passive).toBe(false);
    expect(rec.messageOffset).toBe(12);
    expect(rec.messageLength).toBe(pkt.length - 16);
    expect(pkt.subarray(rec.zidOffset, rec.zidOffset + 12).equals(Buffer.alloc(12, 0x5a))).toBe(true);
  });

  it('S and P flags, bad CRC flagged but not rejected', () => {
    const pkt = hello(0x50);
    pkt[pkt.length - 1]! ^= 1;
    const rec = new ZrtpRecord();
    expect(decodeZrtp(rec, pkt, 0, pkt.length)).toBe(true);
    expect(rec.signatureCapable && rec.passive && !rec.mitm).toBe(true);
    expect(rec.crcValid).toBe(false);
  });

  it('a=zrtp-hash: SHA-256 of the message from the preamble through the MAC, not header or CRC', () => {
    const pkt = hello(0);
    const expected = createHash('sha256').update(pkt.subarray(12, pkt.length - 4)).digest('hex');
    expect(zrtpHelloHash(pkt, 0, pkt.length)).toBe(expected);
    // Header and CRC are outside the hash: a different sequence number gives the same value.
    const other = Buffer.from(pkt);
    other[3] = 99;
    expect(zrtpHelloHash(other, 0, other.length)).toBe(expected);
    // The whole-packet hash would differ.
    expect(createHash('sha256').update(pkt).digest('hex')).not.toBe(expected);
  });

  it('other message types decode, and are not hashed', () => {
    const pkt = hello(0);
    pkt.write('HelloACK', 16, 'latin1');
    pkt.writeUInt16BE(3, 14); // HelloACK is 3 words
    const short = Buffer.concat([pkt.subarray(0, 24), Buffer.alloc(4)]);
    short.writeUInt32BE(crc32c(short, 0, 24), 24);
    const rec = new ZrtpRecord();
    expect(decodeZrtp(rec, short, 0, short.length)).toBe(true);
    expect(rec.messageType).toBe(ZrtpMessageType.HelloAck);
    expect(rec.crcValid).toBe(true);
    expect(zrtpHelloHash(short, 0, short.length)).toBe('');
  });

  it('rejects bad magic, preamble, length and truncation; never throws', () => {
    const w = new WeirdCounters();
    const rec = new ZrtpRecord();
    const pkt = hello(0);
    for (let len = 0; len < pkt.length; len++) expect(decodeZrtp(rec, pkt, 0, len), `len ${len}`).toBe(false);
    const noMagic = Buffer.from(pkt);
    noMagic[4] = 0x41;
    expect(decodeZrtp(rec, noMagic, 0, noMagic.length, w)).toBe(false);
    const rtp = Buffer.from(pkt);
    rtp[0] = 0x80;
    expect(decodeZrtp(rec, rtp, 0, rtp.length, w)).toBe(false);
    expect(w.get('zrtp_bad_header')).toBe(2);
    const noPre = Buffer.from(pkt);
    noPre[12] = 0;
    expect(decodeZrtp(rec, noPre, 0, noPre.length, w)).toBe(false);
    expect(w.get('zrtp_bad_preamble')).toBe(1);
    let seed = 5;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    for (let i = 0; i < 2000; i++) {
      const b = Buffer.from(pkt);
      for (let j = 0; j < 6; j++) b[12 + (rnd() % (b.length - 12))] = rnd();
      decodeZrtp(rec, b, 0, b.length - (i % 40));
      zrtpHelloHash(b, 0, b.length - (i % 40));
    }
  });
});
