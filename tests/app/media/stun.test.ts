import { createHmac } from 'node:crypto';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { formatAddr } from '../../../sensor/src/decode/address.js';
import { WeirdCounters } from '../../../sensor/src/decode/weird.js';
import {
  ChannelDataRecord,
  decodeChannelData,
  decodeStun,
  rfc4571FrameLength,
  StunClass,
  StunMethod,
  StunRecord,
  turnTcpFrameLength,
} from '../../../sensor/src/app/media/stun.js';
import { decodeRtp, RtpHeader } from '../../../sensor/src/app/media/rtp.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// RFC 5769 §2.1 Sample Request (password "VOkJxbRl1RmTxUk/WvJxBt").
const REQ = hex(`
  00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
  80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74
  00 24 00 04 6e 00 01 ff
  80 29 00 08 93 2f f9 b1 51 26 3b 36
  00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20
  00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2
  80 28 00 04 e5 7a 3b cf`);
// RFC 5769 §2.2 Sample IPv4 Response: 192.0.2.1 port 32853.
const RESP4 = hex(`
  01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
  80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
  00 20 00 08 00 01 a1 47 e1 12 a6 43
  00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7
  80 28 00 04 c0 7d 4c 96`);
// RFC 5769 §2.3 Sample IPv6 Response: 2001:db8:1234:5678:11:2233:4455:6677 port 32853.
const RESP6 = hex(`
  01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
  80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
  00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9
  00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41
  80 28 00 04 c8 fb 0b 4c`);

/** RFC 8489 §14.7: FINGERPRINT = CRC-32 of the message before it, XOR 0x5354554e. */
function fingerprintOk(m: Buffer): boolean {
  const at = m.length - 8;
  return ((zlib.crc32(m.subarray(0, at)) ^ 0x5354554e) >>> 0) === m.readUInt32BE(at + 4);
}

const RTP14 = hex('80 08 0001 00000160 cafebabe d5d5'); // 14-byte RTP packet

/** TURN Data (0x0017) or Send (0x0016) indication with XOR-PEER-ADDRESS 198.51.100.7:49170 and DATA. */
function indication(type: number): Buffer {
  const tid = hex('0102030405060708090a0b0c');
  const peer = hex(`0012 0008 0001 ${(49170 ^ 0x2112).toString(16).padStart(4, '0')} ${((0xc6336407 ^ 0x2112a442) >>> 0).toString(16).padStart(8, '0')}`);
  const data = Buffer.concat([hex('0013 000e'), RTP14, hex('0000')]);
  const attrs = Buffer.concat([peer, data]);
  const h = Buffer.alloc(20);
  h.writeUInt16BE(type, 0);
  h.writeUInt16BE(attrs.length, 2);
  h.writeUInt32BE(0x2112a442, 4);
  tid.copy(h, 8);
  return Buffer.concat([h, attrs]);
}

describe('RFC 5769 test vectors', () => {
  it('the vectors are reproduced byte-exactly (FINGERPRINT and MESSAGE-INTEGRITY verify)', () => {
    for (const m of [REQ, RESP4, RESP6]) expect(fingerprintOk(m)).toBe(true);
    // MESSAGE-INTEGRITY of the request: HMAC-SHA1 with the short-term password,
    // over the message up to MI with the length field covering MI (RFC 8489 §14.5).
    const miAt = REQ.length - 8 - 24;
    const head = Buffer.from(REQ.subarray(0, miAt));
    head.writeUInt16BE(miAt + 24 - 20, 2);
    const mac = createHmac('sha1', 'VOkJxbRl1RmTxUk/WvJxBt').update(head).digest();
    expect(mac.equals(REQ.subarray(miAt + 4, miAt + 24))).toBe(true);
  });

  it('sample request: Binding request with USERNAME, MI, FINGERPRINT', () => {
    const r = new StunRecord();
    expect(decodeStun(r, REQ, 0, REQ.length)).toBe(true);
    expect(r.method).toBe(StunMethod.Binding);
    expect(r.cls).toBe(StunClass.Request);
    expect(r.hasCookie).toBe(true);
    expect(r.length).toBe(0x58);
    expect(r.totalLength).toBe(REQ.length);
    expect(r.tid0).toBe(0xb7e7a701);
    expect(r.tid2).toBe(0xfa87dfae);
    expect(r.hasUsername && r.hasMessageIntegrity && r.hasFingerprint).toBe(true);
    expect(r.xorMapped.present).toBe(false);
  });

  it('IPv4 response: XOR-MAPPED-ADDRESS 192.0.2.1:32853', () => {
    const r = new StunRecord();
    expect(decodeStun(r, RESP4, 0, RESP4.length)).toBe(true);
    expect(r.cls).toBe(StunClass.SuccessResponse);
    expect(r.xorMapped.present).toBe(true);
    expect(r.xorMapped.ipVersion).toBe(4);
    expect(formatAddr(4, r.xorMapped.addr)).toBe('192.0.2.1');
    expect(r.xorMapped.port).toBe(32853);
  });

  it('IPv6 response: XOR with cookie and transaction id', () => {
    const r = new StunRecord();
    expect(decodeStun(r, RESP6, 0, RESP6.length)).toBe(true);
    expect(r.xorMapped.ipVersion).toBe(6);
    expect(formatAddr(6, r.xorMapped.addr)).toBe('2001:db8:1234:5678:11:2233:4455:6677');
    expect(r.xorMapped.port).toBe(32853);
  });

  it('every truncation is rejected, never throws', () => {
    const r = new StunRecord();
    for (const m of [REQ, RESP4, RESP6]) for (let len = 0; len < m.length; len++) expect(decodeStun(r, m, 0, len)).toBe(false);
  });

  it('a record is fully reset between messages', () => {
    const r = new StunRecord();
    decodeStun(r, RESP4, 0, RESP4.length);
    expect(decodeStun(r, REQ, 0, REQ.length)).toBe(true);
    expect(r.xorMapped.present).toBe(false);
  });
});

describe('STUN edge cases', () => {
  it('classic RFC 3489 Binding request (no cookie) is accepted when it fills the datagram', () => {
    const classic = hex('0001 0000 0123456789abcdef0123456789abcdef');
    const r = new StunRecord();
    expect(decodeStun(r, classic, 0, classic.length)).toBe(true);
    expect(r.hasCookie).toBe(false);
    expect(r.classicTidHead).toBe(0x01234567);
    const w = new WeirdCounters();
    expect(decodeStun(r, Buffer.concat([classic, hex('00')]), 0, classic.length + 1, w)).toBe(false);
    // A cookie-less "indication" or unknown method is not classic STUN.
    expect(decodeStun(r, hex('0011 0000 0123456789abcdef0123456789abcdef'), 0, 20, w)).toBe(false);
    expect(decodeStun(r, hex('0003 0000 0123456789abcdef0123456789abcdef'), 0, 20, w)).toBe(false);
    expect(w.get('stun_bad_classic')).toBe(3);
  });

  it('rejects top bits, odd length, attribute overflow', () => {
    const r = new StunRecord();
    const w = new WeirdCounters();
    expect(decodeStun(r, hex('8001 0000 2112a442 000000000000000000000000'), 0, 20, w)).toBe(false);
    expect(decodeStun(r, hex('0001 0002 2112a442 000000000000000000000000 0000'), 0, 22, w)).toBe(false);
    expect(decodeStun(r, hex('0001 0004 2112a442 000000000000000000000000 0006 0010'), 0, 24, w)).toBe(false);
    expect(w.get('stun_bad_type')).toBe(1);
    expect(w.get('stun_bad_length')).toBe(1);
    expect(w.get('stun_attribute_overflow')).toBe(1);
  });

  it('random bytes never throw', () => {
    const r = new StunRecord();
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    for (let i = 0; i < 3000; i++) {
      const b = Buffer.alloc(20 + (i % 64));
      for (let j = 0; j < b.length; j++) b[j] = rnd();
      b[0]! &= 0x3f;
      b.writeUInt16BE((b.length - 20) & ~3, 2);
      if (i % 2 === 0) b.writeUInt32BE(0x2112a442, 4);
      decodeStun(r, b, 0, b.length);
    }
  });
});

describe('TURN (RFC 8656)', () => {
  it('Data indication: XOR-PEER-ADDRESS and DATA carrying RTP', () => {
    const m = indication(0x0017);
    const r = new StunRecord();
    expect(decodeStun(r, m, 0, m.length)).toBe(true);
    expect(r.method).toBe(StunMethod.Data);
    expect(r.cls).toBe(StunClass.Indication);
    expect(formatAddr(4, r.xorPeer.addr)).toBe('198.51.100.7');
    expect(r.xorPeer.port).toBe(49170);
    expect(r.dataLength).toBe(14);
    const h = new RtpHeader();
    expect(decodeRtp(h, m, r.dataOffset, r.dataLength)).toBe(true);
    expect(h.ssrc).toBe(0xcafebabe);
  });

  it('Send indication', () => {
    const m = indication(0x0016);
    const r = new StunRecord();
    expect(decodeStun(r, m, 0, m.length)).toBe(true);
    expect(r.method).toBe(StunMethod.Send);
    expect(r.cls).toBe(StunClass.Indication);
    expect(r.dataOffset).toBe(20 + 12 + 4);
  });

  it('ChannelBind request with CHANNEL-NUMBER', () => {
    const m = hex('0009 0008 2112a442 0102030405060708090a0b0c 000c 0004 4001 0000');
    const r = new StunRecord();
    expect(decodeStun(r, m, 0, m.length)).toBe(true);
    expect(r.method).toBe(StunMethod.ChannelBind);
    expect(r.channelNumber).toBe(0x4001);
  });

  it('ChannelData over UDP: length excludes optional padding', () => {
    const rec = new ChannelDataRecord();
    const udp = Buffer.concat([hex('4000 000e'), RTP14]);
    expect(decodeChannelData(rec, udp, 0, udp.length, false)).toBe(true);
    expect(rec.channel).toBe(0x4000);
    expect(rec.dataOffset).toBe(4);
    expect(rec.dataLength).toBe(14);
    const padded = Buffer.concat([udp, hex('0000')]);
    expect(decodeChannelData(rec, padded, 0, padded.length, false)).toBe(true);
    expect(rec.dataLength).toBe(14);
    const w = new WeirdCounters();
    expect(decodeChannelData(rec, udp, 0, udp.length - 1, false, false, w)).toBe(false);
    expect(decodeChannelData(rec, Buffer.concat([padded, hex('000000')]), 0, padded.length + 3, false, false, w)).toBe(false);
    expect(w.get('turn_channel_bad_length')).toBe(2);
  });

  it('ChannelData over TCP: frame padded to 4', () => {
    const rec = new ChannelDataRecord();
    const tcp = Buffer.concat([hex('4abc 000e'), RTP14, hex('0000'), hex('4abc')]);
    expect(decodeChannelData(rec, tcp, 0, tcp.length, true)).toBe(true);
    expect(rec.frameLength).toBe(20);
    expect(decodeChannelData(rec, tcp, 0, 18, true)).toBe(false); // padding missing
  });

  it('channel range: strict 0x4000-0x4FFF, legacy 0x7FFF on request', () => {
    const rec = new ChannelDataRecord();
    const legacy = Buffer.concat([hex('5001 000e'), RTP14]);
    expect(decodeChannelData(rec, legacy, 0, legacy.length, false)).toBe(false);
    expect(decodeChannelData(rec, legacy, 0, legacy.length, false, true)).toBe(true);
    const low = Buffer.concat([hex('3fff 000e'), RTP14]);
    expect(decodeChannelData(rec, low, 0, low.length, false, true)).toBe(false);
  });

  it('TCP stream framing of interleaved STUN and ChannelData', () => {
    const cd = Buffer.concat([hex('4000 000e'), RTP14, hex('0000')]);
    const stream = Buffer.concat([REQ, cd, RESP4, hex('4000 00')]);
    const lens: number[] = [];
    let off = 0;
    for (;;) {
      const n = turnTcpFrameLength(stream, off, stream.length - off);
      if (n <= 0) {
        lens.push(n);
        break;
      }
      lens.push(n);
      off += n;
    }
    expect(lens).toEqual([REQ.length, 20, RESP4.length, 0]); // last: need more bytes
    // Partial STUN header -> need more; garbage -> -1.
    expect(turnTcpFrameLength(REQ, 0, 7)).toBe(0);
    expect(turnTcpFrameLength(REQ, 0, 50)).toBe(0);
    expect(turnTcpFrameLength(hex('16fefd00'), 0, 4)).toBe(-1);
    expect(turnTcpFrameLength(hex('0001 0058 deadbeef'), 0, 8)).toBe(-1); // no cookie
  });

  it('RFC 4571 framing', () => {
    const f = Buffer.concat([hex('000e'), RTP14, hex('000e 80')]);
    expect(rfc4571FrameLength(f, 0, f.length)).toBe(16);
    expect(rfc4571FrameLength(f, 16, 3)).toBe(0);
    expect(rfc4571FrameLength(f, 0, 1)).toBe(0);
    expect(rfc4571FrameLength(hex('0004 80000000'), 0, 6)).toBe(-1);
    expect(rfc4571FrameLength(hex('000e 00'), 0, 3)).toBe(-1); // not version 2
  });
});
