import { describe, expect, it } from 'vitest';
import { WeirdCounters } from '../../../sensor/src/decode/weird.js';
import { looksLikeRtcp, type RtcpVisitor, SrtcpInfo, validateRtcp, walkRtcp, walkSrtcp } from '../../../sensor/src/app/media/rtcp.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// SR with one report block (RC=1, 13+1 words), SDES CNAME "alice", BYE.
const SR = hex(`
  81 c8 000c 11111111
  83aa7e80 40000000 00000a00 00000064 00003e80
  22222222 40 fffffe 00010005 00000010 12345678 00010000`);
const SDES = hex('81 ca 0003 11111111 01 05 616c696365 00');
const BYE = hex('81 cb 0001 11111111');
const COMPOUND = Buffer.concat([SR, SDES, BYE]);
// RR with two report blocks.
const RR = hex(`
  82 c9 000d 33333333
  44444444 00 000000 0000ffff 00000020 00000000 00000000
  55555555 ff 7fffff 0001ffff 00000021 aabbccdd 00000001`);
// RFC 5506 reduced-size: a lone PSFB PLI, and NACK + XR.
const PLI = hex('81 ce 0002 66666666 77777777');
const NACK_XR = hex('81 cd 0003 66666666 77777777 00050000  80 cf 0001 66666666');

/** A visitor that records calls as strings (test only). */
function recorder(): { v: RtcpVisitor; log: string[] } {
  const log: string[] = [];
  const v: RtcpVisitor = {
    onSenderReport: (ssrc, s, f, ts, pc, oc) => log.push(`SR ${ssrc.toString(16)} ${s.toString(16)}.${f.toString(16)} ts=${ts} pc=${pc} oc=${oc}`),
    onReceiverReport: (ssrc) => log.push(`RR ${ssrc.toString(16)}`),
    onReportBlock: (r, src, fl, cl, hs, j, lsr, dlsr) =>
      log.push(`RB ${r.toString(16)}>${src.toString(16)} fl=${fl} cl=${cl} hs=${hs} j=${j} lsr=${lsr.toString(16)} dlsr=${dlsr}`),
    onSdesCname: (ssrc, buf, off, len) => log.push(`CNAME ${ssrc.toString(16)} ${Buffer.from(buf.subarray(off, off + len)).toString()}`),
    onBye: (ssrc) => log.push(`BYE ${ssrc.toString(16)}`),
    onApp: (st, ssrc, name) => log.push(`APP ${st} ${ssrc.toString(16)} ${name.toString(16)}`),
    onFeedback: (pt, fmt, ssrc, media) => log.push(`FB ${pt}/${fmt} ${ssrc.toString(16)}>${media.toString(16)}`),
    onXr: (ssrc) => log.push(`XR ${ssrc.toString(16)}`),
  };
  return { v, log };
}

describe('walkRtcp', () => {
  it('compound SR + SDES + BYE', () => {
    const { v, log } = recorder();
    expect(walkRtcp(COMPOUND, 0, COMPOUND.length, v)).toBe(true);
    expect(log).toEqual([
      'SR 11111111 83aa7e80.40000000 ts=2560 pc=100 oc=16000',
      'RB 11111111>22222222 fl=64 cl=-2 hs=65541 j=16 lsr=12345678 dlsr=65536',
      'CNAME 11111111 alice',
      'BYE 11111111',
    ]);
    expect(looksLikeRtcp(COMPOUND, 0, COMPOUND.length)).toBe(true);
  });

  it('RR with report blocks (signed cumulative loss)', () => {
    const { v, log } = recorder();
    expect(walkRtcp(RR, 0, RR.length, v)).toBe(true);
    expect(log).toEqual([
      'RR 33333333',
      'RB 33333333>44444444 fl=0 cl=0 hs=65535 j=32 lsr=0 dlsr=0',
      'RB 33333333>55555555 fl=255 cl=8388607 hs=131071 j=33 lsr=aabbccdd dlsr=1',
    ]);
  });

  it('reduced-size feedback and XR (RFC 5506) are accepted', () => {
    const a = recorder();
    expect(walkRtcp(PLI, 0, PLI.length, a.v)).toBe(true);
    expect(a.log).toEqual(['FB 206/1 66666666>77777777']);
    const b = recorder();
    expect(walkRtcp(NACK_XR, 0, NACK_XR.length, b.v)).toBe(true);
    expect(b.log).toEqual(['FB 205/1 66666666>77777777', 'XR 66666666']);
    expect(looksLikeRtcp(PLI, 0, PLI.length)).toBe(true);
  });

  it('visitor with no methods is fine; a partial visitor gets only what it asks', () => {
    expect(walkRtcp(COMPOUND, 0, COMPOUND.length, {})).toBe(true);
    const byes: number[] = [];
    expect(walkRtcp(COMPOUND, 0, COMPOUND.length, { onBye: (s) => byes.push(s) })).toBe(true);
    expect(byes).toEqual([0x11111111]);
  });

  it('padding on the last packet only (RFC 3550 A.2)', () => {
    // BYE padded: P=1, length 2 words -> 12 bytes, last byte 4 = pad count.
    const padded = Buffer.concat([SR, hex('a1 cb 0002 11111111 00000004')]);
    expect(validateRtcp(padded, 0, padded.length)).toBe(2);
    const w = new WeirdCounters();
    const padFirst = Buffer.from(COMPOUND);
    padFirst[0]! |= 0x20;
    expect(walkRtcp(padFirst, 0, padFirst.length, {}, w)).toBe(false);
    expect(w.get('rtcp_padding_not_last')).toBe(1);
  });

  it('rejects lengths that do not sum, wrong version, bad first type, RTP', () => {
    const w = new WeirdCounters();
    const { v, log } = recorder();
    expect(walkRtcp(COMPOUND, 0, COMPOUND.length - 4, v, w)).toBe(false);
    expect(walkRtcp(Buffer.concat([COMPOUND, hex('00000000')]), 0, COMPOUND.length + 4, v, w)).toBe(false);
    const v1 = Buffer.from(COMPOUND);
    v1[SR.length] = 0x41; // SDES with version 1
    expect(walkRtcp(v1, 0, v1.length, v, w)).toBe(false);
    expect(w.get('rtcp_bad_version')).toBe(2); // the trailing zero word above, and this SDES
    expect(walkRtcp(hex('80 c0 0001 11111111'), 0, 8, v, w)).toBe(false); // first PT 192
    expect(w.get('rtcp_bad_first_packet_type')).toBe(1);
    const rtp = hex('80 08 1234 000000a0 deadbeef d5d5d5d5');
    expect(walkRtcp(rtp, 0, rtp.length, v, w)).toBe(false);
    expect(w.get('rtcp_bad_first_packet_type')).toBe(2); // RTP's second byte is not an RTCP type
    expect(looksLikeRtcp(rtp, 0, rtp.length)).toBe(false);
    expect(walkRtcp(hex('80 c8 0001 11111111'), 0, 8, v, w)).toBe(false); // SR too short for sender info
    expect(w.get('rtcp_packet_too_short')).toBe(1);
    expect(log).toEqual([]); // nothing was reported for any invalid datagram
  });

  it('every truncation fails (except at packet boundaries) without calling the visitor or throwing', () => {
    for (let len = 0; len < COMPOUND.length; len++) {
      const { v, log } = recorder();
      // Cut exactly after SR or after SDES, what remains is itself a valid compound.
      const boundary = len === SR.length || len === SR.length + SDES.length;
      expect(walkRtcp(COMPOUND, 0, len, v), `len ${len}`).toBe(boundary);
      expect(looksLikeRtcp(COMPOUND, 0, len)).toBe(boundary);
      if (!boundary) expect(log).toEqual([]);
    }
  });

  it('random bytes never throw', () => {
    let seed = 99;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    const { v } = recorder();
    for (let i = 0; i < 3000; i++) {
      const b = Buffer.alloc(4 + (i % 80));
      for (let j = 0; j < b.length; j++) b[j] = rnd();
      b[0] = 0x80 | (b[0]! & 0x3f);
      b[1] = 200 + (i % 8);
      walkRtcp(b, 0, b.length, v);
      looksLikeRtcp(b, 0, b.length);
    }
  });
});

describe('walkSrtcp (RFC 3711 §3.4)', () => {
  const tag10 = hex('0102030405060708090a');
  it('encrypted: reads only the clear header, SSRC and trailer', () => {
    // The "encrypted" part is garbage on purpose: it must not be parsed.
    const body = Buffer.from(SR);
    for (let i = 8; i < body.length; i++) body[i] = 0xee;
    const pkt = Buffer.concat([body, hex('80000005'), tag10]);
    const rec = new SrtcpInfo();
    const { v, log } = recorder();
    expect(walkSrtcp(rec, pkt, 0, pkt.length, 10, v)).toBe(true);
    expect(rec.encrypted).toBe(true);
    expect(rec.index).toBe(5);
    expect(rec.ssrc).toBe(0x11111111);
    expect(rec.packetType).toBe(200);
    expect(rec.compoundLength).toBe(SR.length);
    expect(log).toEqual([]);
    // Plain RTCP validation fails on it (the length does not sum), as it should.
    expect(walkRtcp(pkt, 0, pkt.length, {})).toBe(false);
  });

  it('E=0: the clear compound is walked', () => {
    const pkt = Buffer.concat([COMPOUND, hex('0000002a'), hex('aabbccdd')]);
    const rec = new SrtcpInfo();
    const { v, log } = recorder();
    expect(walkSrtcp(rec, pkt, 0, pkt.length, 4, v)).toBe(true);
    expect(rec.encrypted).toBe(false);
    expect(rec.index).toBe(42);
    expect(log.length).toBe(4);
  });

  it('AEAD (16-byte tag before E|index, RFC 7714 §9)', () => {
    const pkt = Buffer.concat([SR, Buffer.alloc(16, 0x77), hex('80000007')]);
    const rec = new SrtcpInfo();
    expect(walkSrtcp(rec, pkt, 0, pkt.length, 16)).toBe(true);
    expect(rec.encrypted).toBe(true);
    expect(rec.index).toBe(7);
    expect(rec.compoundLength).toBe(SR.length);
  });

  it('rejects a wrong tag length, truncation and a first length past the compound', () => {
    const pkt = Buffer.concat([SR, hex('80000005'), tag10]);
    const rec = new SrtcpInfo();
    expect(walkSrtcp(rec, pkt, 0, pkt.length, 4)).toBe(false); // compound not a multiple of 4
    for (let len = 0; len < pkt.length; len++) expect(walkSrtcp(rec, pkt, 0, len, 10)).toBe(false);
    const w = new WeirdCounters();
    const short = Buffer.concat([SR.subarray(0, 24), hex('80000005'), tag10]); // SR claims 56 bytes
    expect(walkSrtcp(rec, short, 0, short.length, 10, undefined, 0, w)).toBe(false);
    expect(w.get('srtcp_length_overflow')).toBe(1);
  });
});
