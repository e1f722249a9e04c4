import { describe, expect, it } from 'vitest';
import { WeirdCounters } from '../../../sensor/src/decode/weird.js';
import { classifyFirstByte, isRtcpPayloadType, MediaKind } from '../../../sensor/src/app/media/demux.js';
import { decodeRtp, looksLikeRtp, RtpHeader } from '../../../sensor/src/app/media/rtp.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// V=2, PT 8 (PCMA), seq 0x1234, ts 0x000000a0, SSRC 0xdeadbeef, 4 payload bytes.
const BASIC = hex('80 08 1234 000000a0 deadbeef d5d5d5d5');
// V=2 P X CC=1, M=1 PT=111, seq 1, ts 2, ssrc 3, CSRC 0x11223344,
// extension 0xBEDE len 1 word (4 bytes), payload 3 bytes, padding 3 (last byte 03).
const FULL = hex('b1 ef 0001 00000002 00000003 11223344 bede0001 10ff0000 aabbcc 000003');

describe('RFC 7983 demux', () => {
  it('classifies each range and its edges', () => {
    const cases: Array<[number, MediaKind]> = [
      [0, MediaKind.Stun], [3, MediaKind.Stun], [4, MediaKind.Unknown], [15, MediaKind.Unknown],
      [16, MediaKind.Zrtp], [19, MediaKind.Zrtp], [20, MediaKind.Dtls], [63, MediaKind.Dtls],
      [64, MediaKind.TurnChannel], [79, MediaKind.TurnChannel], [80, MediaKind.Unknown], [127, MediaKind.Unknown],
      [128, MediaKind.RtpOrRtcp], [191, MediaKind.RtpOrRtcp], [192, MediaKind.Unknown], [255, MediaKind.Unknown],
    ];
    for (const [b, k] of cases) expect(classifyFirstByte(b), String(b)).toBe(k);
  });
  it('RFC 5761 RTP/RTCP split on the second byte', () => {
    expect(isRtcpPayloadType(200)).toBe(true); // SR
    expect(isRtcpPayloadType(206)).toBe(true); // PSFB
    expect(isRtcpPayloadType(192)).toBe(true);
    expect(isRtcpPayloadType(223)).toBe(true);
    expect(isRtcpPayloadType(224)).toBe(false);
    expect(isRtcpPayloadType(0x80 | 8)).toBe(false); // PCMA with marker = 136
    expect(isRtcpPayloadType(111)).toBe(false);
  });
});

describe('decodeRtp', () => {
  it('decodes a plain header', () => {
    const h = new RtpHeader();
    expect(decodeRtp(h, BASIC, 0, BASIC.length)).toBe(true);
    expect(h.version).toBe(2);
    expect(h.payloadType).toBe(8);
    expect(h.marker).toBe(false);
    expect(h.sequence).toBe(0x1234);
    expect(h.timestamp).toBe(0xa0);
    expect(h.ssrc).toBe(0xdeadbeef);
    expect(h.headerLength).toBe(12);
    expect(h.payloadOffset).toBe(12);
    expect(h.payloadLength).toBe(4);
    expect(h.csrc0).toBe(0);
  });

  it('decodes CSRC, extension, marker and padding, at an offset', () => {
    const buf = Buffer.concat([hex('ffffff'), FULL]);
    const h = new RtpHeader();
    expect(decodeRtp(h, buf, 3, FULL.length)).toBe(true);
    expect(h.padding && h.extension && h.marker).toBe(true);
    expect(h.csrcCount).toBe(1);
    expect(h.csrc0).toBe(0x11223344);
    expect(h.payloadType).toBe(111);
    expect(h.extensionProfile).toBe(0xbede);
    expect(h.extensionOffset).toBe(3 + 20);
    expect(h.extensionLength).toBe(4);
    expect(h.headerLength).toBe(24);
    expect(h.payloadOffset).toBe(3 + 24);
    expect(h.paddingLength).toBe(3);
    expect(h.payloadLength).toBe(3);
    expect(buf[h.payloadOffset]).toBe(0xaa);
  });

  it('rejects bad version, padding and overflow with named weirds', () => {
    const w = new WeirdCounters();
    const h = new RtpHeader();
    expect(decodeRtp(h, hex('40 08 1234 000000a0 deadbeef d5d5'), 0, 14, w)).toBe(false);
    expect(w.get('rtp_bad_version')).toBe(1);
    expect(decodeRtp(h, hex('a0 08 1234 000000a0 deadbeef d5d5 00'), 0, 15, w)).toBe(false); // pad 0
    expect(decodeRtp(h, hex('a0 08 1234 000000a0 deadbeef d5d5 09'), 0, 15, w)).toBe(false); // pad > payload
    expect(w.get('rtp_bad_padding')).toBe(2);
    expect(decodeRtp(h, hex('8f 08 1234 000000a0 deadbeef 00000000'), 0, 16, w)).toBe(false); // CC=15
    expect(w.get('rtp_csrc_overflow')).toBe(1);
    expect(decodeRtp(h, hex('90 08 1234 000000a0 deadbeef bede0009 00000000'), 0, 20, w)).toBe(false);
    expect(w.get('rtp_extension_overflow')).toBe(1);
    expect(decodeRtp(h, BASIC, 0, BASIC.length + 1, w)).toBe(false); // len past the buffer
  });

  it('every truncation of FULL fails or shrinks the payload, never throws', () => {
    const h = new RtpHeader();
    for (let len = 0; len < FULL.length; len++) {
      const ok = decodeRtp(h, FULL, 0, len);
      if (len < 24) expect(ok, `len ${len}`).toBe(false);
      expect(looksLikeRtp(FULL, 0, len), `heuristic agrees at len ${len}`).toBe(ok);
    }
  });

  it('survives random bytes', () => {
    const h = new RtpHeader();
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    for (let i = 0; i < 3000; i++) {
      const b = Buffer.alloc(1 + (i % 60));
      for (let j = 0; j < b.length; j++) b[j] = rnd();
      const ok = decodeRtp(h, b, 0, b.length);
      // The heuristic is the decoder's checks plus the PT 72..76 exclusion.
      const pt = b.length > 1 ? b[1]! & 0x7f : 0;
      expect(looksLikeRtp(b, 0, b.length)).toBe(ok && !(pt >= 72 && pt <= 76));
      if (ok) {
        expect(h.payloadOffset + h.payloadLength + h.paddingLength).toBe(b.length);
      }
    }
  });
});

describe('looksLikeRtp (Wireshark dissect_rtp_heur order)', () => {
  it('accepts RTP, rejects RTCP-conflicting PTs and bad bounds', () => {
    expect(looksLikeRtp(BASIC, 0, BASIC.length)).toBe(true);
    expect(looksLikeRtp(FULL, 0, FULL.length)).toBe(true);
    for (let pt = 72; pt <= 76; pt++) {
      const b = Buffer.from(BASIC);
      b[1] = 0x80 | pt; // = RTCP 200..204
      expect(looksLikeRtp(b, 0, b.length), `pt ${pt}`).toBe(false);
    }
    const pt77 = Buffer.from(BASIC);
    pt77[1] = 77;
    expect(looksLikeRtp(pt77, 0, pt77.length)).toBe(true); // only 72..76 are excluded, as in Wireshark
    expect(looksLikeRtp(hex('00 01 0000 2112a442 000000000000000000000000'), 0, 20)).toBe(false); // STUN
    expect(looksLikeRtp(BASIC, 0, 11)).toBe(false);
    expect(looksLikeRtp(hex('a0 08 1234 000000a0 deadbeef d5d5 00'), 0, 15)).toBe(false);
  });
});
