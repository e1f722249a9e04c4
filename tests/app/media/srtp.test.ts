import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { RtpHeader } from '../../../sensor/src/app/media/rtp.js';
import {
  decodeSrtp,
  entropyTestApplies,
  estimateSrtp,
  payloadEntropyBits,
  payloadLooksEncrypted,
  sdpProtoIsSecure,
  srtcpAuthTagLength,
  srtpAuthTagLength,
  SrtpEvidence,
  SrtpVerdict,
} from '../../../sensor/src/app/media/srtp.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** G.711 mu-law encoder (ITU-T G.711), test only. */
function mulaw(x: number): number {
  let s = Math.max(-32635, Math.min(32635, Math.round(x)));
  const sign = s < 0 ? 0x80 : 0;
  if (s < 0) s = -s;
  s += 0x84;
  let exp = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exp > 0; exp--, mask >>= 1);
  const mant = (s >> (exp + 3)) & 0x0f;
  return ~(sign | (exp << 4) | mant) & 0xff;
}
let seed = 1;
function gauss(): number {
  seed = (seed * 1103515245 + 12345) >>> 0;
  const u = (seed + 1) / 4294967297;
  seed = (seed * 1103515245 + 12345) >>> 0;
  const v = (seed + 1) / 4294967297;
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}
function g711(n: number, gen: (i: number) => number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = mulaw(gen(i));
  return b;
}

describe('SRTP tag lengths', () => {
  it('SDES suites and DTLS-SRTP profiles', () => {
    expect(srtpAuthTagLength('AES_CM_128_HMAC_SHA1_80')).toBe(10);
    expect(srtpAuthTagLength('AES_CM_128_HMAC_SHA1_32')).toBe(4);
    expect(srtpAuthTagLength('F8_128_HMAC_SHA1_80')).toBe(10);
    expect(srtpAuthTagLength('AES_256_CM_HMAC_SHA1_32')).toBe(4);
    expect(srtpAuthTagLength('AEAD_AES_128_GCM')).toBe(16);
    expect(srtpAuthTagLength('AEAD_AES_256_GCM')).toBe(16);
    expect(srtpAuthTagLength('SRTP_AES128_CM_HMAC_SHA1_80')).toBe(10);
    expect(srtpAuthTagLength('SRTP_AEAD_AES_256_GCM')).toBe(16);
    expect(srtpAuthTagLength('aes_cm_128_hmac_sha1_32')).toBe(4);
    expect(srtpAuthTagLength('ROT13')).toBe(-1);
    // SRTCP keeps the 80-bit tag under the _32 suites (RFC 4568 §6.2.2).
    expect(srtcpAuthTagLength('AES_CM_128_HMAC_SHA1_32')).toBe(10);
    expect(srtcpAuthTagLength('AEAD_AES_128_GCM')).toBe(16);
  });

  it('decodeSrtp: header in clear, payload without tag; P bit not read (padding is encrypted)', () => {
    // P bit set, last byte of the tag is 0xff: decodeRtp would reject, decodeSrtp must not.
    const pkt = Buffer.concat([hex('a0 00 0102 00000140 01020304'), Buffer.alloc(160, 0x5c), Buffer.alloc(10, 0xff)]);
    const h = new RtpHeader();
    expect(decodeSrtp(h, pkt, 0, pkt.length, 10)).toBe(true);
    expect(h.sequence).toBe(0x0102);
    expect(h.ssrc).toBe(0x01020304);
    expect(h.payloadLength).toBe(160);
    expect(h.paddingLength).toBe(0);
    expect(decodeSrtp(h, pkt, 0, pkt.length, 10, 4)).toBe(true);
    expect(h.payloadLength).toBe(156);
    expect(decodeSrtp(h, pkt, 0, 21, 10)).toBe(false);
  });

  it('SDP protos', () => {
    for (const p of ['RTP/SAVP', 'RTP/SAVPF', 'UDP/TLS/RTP/SAVP', 'UDP/TLS/RTP/SAVPF', 'TCP/TLS/RTP/SAVPF', 'rtp/savp']) expect(sdpProtoIsSecure(p), p).toBe(true);
    for (const p of ['RTP/AVP', 'RTP/AVPF', 'udptl', 'UDP/BFCP']) expect(sdpProtoIsSecure(p), p).toBe(false);
  });
});

describe('estimateSrtp', () => {
  it('signalling and key-exchange evidence wins', () => {
    expect(estimateSrtp(SrtpEvidence.SdpSecureProto, 0, 10)).toBe(SrtpVerdict.Encrypted);
    expect(estimateSrtp(SrtpEvidence.DtlsSeen, 0, 0)).toBe(SrtpVerdict.Encrypted);
    expect(estimateSrtp(SrtpEvidence.ZrtpSeen | SrtpEvidence.SdpPlainProto, 0, 0)).toBe(SrtpVerdict.Encrypted);
    expect(estimateSrtp(SrtpEvidence.SdpCrypto | SrtpEvidence.SdpPlainProto, 0, 0)).toBe(SrtpVerdict.Encrypted);
  });
  it('payload votes need 3 packets and a 3/4 majority', () => {
    expect(estimateSrtp(SrtpEvidence.None, 2, 0)).toBe(SrtpVerdict.Unknown);
    expect(estimateSrtp(SrtpEvidence.None, 3, 1)).toBe(SrtpVerdict.Encrypted);
    expect(estimateSrtp(SrtpEvidence.None, 1, 3)).toBe(SrtpVerdict.Clear);
    expect(estimateSrtp(SrtpEvidence.None, 2, 2)).toBe(SrtpVerdict.Unknown);
    // An RTP/AVP offer whose payload is ciphertext: encrypted (SDES over AVP, or an encrypted copy).
    expect(estimateSrtp(SrtpEvidence.SdpPlainProto, 5, 0)).toBe(SrtpVerdict.Encrypted);
    expect(estimateSrtp(SrtpEvidence.SdpPlainProto, 0, 0)).toBe(SrtpVerdict.Clear);
  });
  it('entropy test only for static G.711 / G.722 / L16', () => {
    expect([0, 8, 9, 10, 11].every(entropyTestApplies)).toBe(true);
    expect([3, 13, 18, 96, 111].some(entropyTestApplies)).toBe(false);
  });
});

describe('payloadLooksEncrypted', () => {
  it('random bytes (ciphertext) look encrypted, nearly always', () => {
    let hits = 0;
    for (let i = 0; i < 500; i++) {
      const b = randomBytes(160);
      if (payloadLooksEncrypted(b, 0, b.length)) hits++;
    }
    expect(hits).toBeGreaterThanOrEqual(497); // each test has a ~1e-4 false-negative rate
    expect(payloadEntropyBits(randomBytes(160), 0, 160)).toBeGreaterThan(6.5);
  });

  it('G.711 silence, tones, speech-like noise and loud noise do not', () => {
    const frames = [
      Buffer.alloc(160, 0xff), // mu-law digital silence
      Buffer.alloc(160, 0xd5), // A-law silence (music-on-hold capture in the corpus)
      g711(160, (i) => 12000 * Math.sin((2 * Math.PI * 1000 * i) / 8000)),
      g711(160, (i) => 300 * Math.sin(i / 3) + 200 * gauss()),
      g711(160, () => 2000 * gauss()),
      g711(160, () => 12000 * gauss()), // very loud white noise: the worst case for G.711
    ];
    for (const [i, f] of frames.entries()) expect(payloadLooksEncrypted(f, 0, f.length), `frame ${i}`).toBe(false);
    expect(payloadEntropyBits(frames[0]!, 0, 160)).toBe(0);
  });

  it('short payloads give no verdict; the scratch histogram does not leak between calls', () => {
    expect(payloadLooksEncrypted(randomBytes(40), 0, 40)).toBe(false);
    const r = randomBytes(160);
    const first = payloadLooksEncrypted(r, 0, 160);
    payloadLooksEncrypted(Buffer.alloc(160, 7), 0, 160);
    expect(payloadLooksEncrypted(r, 0, 160)).toBe(first);
    expect(payloadEntropyBits(r, 0, 160)).toBeCloseTo(payloadEntropyBits(r, 0, 160), 12);
  });
});

// ---- corpus: clear PCMA vs SRTP PCMA (skipped without tshark or the corpus) ----
const here = path.dirname(fileURLToPath(import.meta.url));
const corpus = path.resolve(here, '../../../../shared/corpus');
function haveTshark(): boolean {
  try {
    execFileSync('tshark', ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
function payloads(file: string, max: number): Buffer[] {
  const out = execFileSync(
    'tshark',
    ['-r', path.join(corpus, file), '--enable-heuristic', 'rtp_udp', '-Y', 'rtp.p_type == 8 || rtp.p_type == 0', '-T', 'fields', '-e', 'rtp.payload', '-c', '3000'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 },
  );
  return out
    .split('\n')
    .filter((l) => l.length > 0)
    .slice(0, max)
    .map((l) => Buffer.from(l.split(',')[0]!.replace(/:/g, ''), 'hex'));
}

describe.skipIf(!(fs.existsSync(corpus) && haveTshark()))('payloadLooksEncrypted on corpus G.711 (via tshark)', () => {
  it('clear PCMA speech (sippscen_mario_choppy_speech) is not "encrypted"', () => {
    const ps = payloads('sippscen_mario_choppy_speech.pcap', 2000);
    expect(ps.length).toBeGreaterThan(1000);
    const enc = ps.filter((p) => payloadLooksEncrypted(p, 0, p.length)).length;
    expect(enc / ps.length).toBeLessThan(0.01);
  });
  it('clear PCMA of the relayed call (heplify_rtp_rtcp_sip_ipv4_udp) is not "encrypted"', () => {
    const ps = payloads('heplify_rtp_rtcp_sip_ipv4_udp.pcap', 3000);
    expect(ps.length).toBeGreaterThan(1000);
    const enc = ps.filter((p) => payloadLooksEncrypted(p, 0, p.length)).length;
    expect(enc / ps.length).toBeLessThan(0.01);
  });
  it('SRTP PCMA (srtpdec_WebRTC_PCMA_p2p_SDES_Call_1) is "encrypted"', () => {
    const ps = payloads('srtpdec_WebRTC_PCMA_p2p_SDES_Call_1.pcap', 2000);
    expect(ps.length).toBeGreaterThan(100);
    const enc = ps.filter((p) => payloadLooksEncrypted(p, 0, p.length)).length;
    expect(enc / ps.length).toBeGreaterThan(0.98);
  });
});
