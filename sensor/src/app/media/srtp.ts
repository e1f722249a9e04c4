/**
 * SRTP facts that need no keys (RFC 3711), and the "is this stream encrypted?"
 * estimate.
 *
 * RFC 3711 §3.1: the RTP header (PT, seq, timestamp, SSRC, CSRCs, header
 * extension) stays in clear; the payload, including any RTP padding, is
 * encrypted; then come an optional MKI and the authentication tag. So stream
 * statistics work on SRTP exactly as on RTP, only the payload is opaque.
 *
 * Tag lengths by suite:
 *   SDES (RFC 4568 §6.2, RFC 6188): AES_CM_128_HMAC_SHA1_80 10, _32 4,
 *     F8_128_HMAC_SHA1_80 10, AES_192/256_CM_HMAC_SHA1_80/_32 10/4,
 *     AEAD_AES_128_GCM / AEAD_AES_256_GCM 16 (RFC 7714 §14.2).
 *   DTLS-SRTP profiles (RFC 5764 §4.1.2, RFC 7714 §14.2):
 *     SRTP_AES128_CM_HMAC_SHA1_80 10, _32 4, SRTP_NULL_HMAC_SHA1_80/_32,
 *     SRTP_AEAD_AES_128_GCM / _256_GCM 16.
 * SRTCP always uses the 80-bit tag with the _32 suites (RFC 4568 §6.2.2; libsrtp
 * does the same for the DTLS profile), hence srtcpAuthTagLength.
 */
import type { WeirdCounters } from '../../decode/weird.js';
import { decodeRtpHeader, type RtpHeader } from './rtp.js';

/** SRTP auth tag length in bytes for an SDES crypto-suite or DTLS-SRTP profile name; -1 if unknown. */
export function srtpAuthTagLength(suite: string): number {
  const s = suite.toUpperCase();
  if (s.includes('GCM')) return 16; // AEAD: the GCM tag (RFC 7714 allows only 16 octets)
  if (s.endsWith('_80')) return 10;
  if (s.endsWith('_32')) return 4;
  return -1;
}

/** SRTCP auth tag length: 10 for all HMAC-SHA1 suites (including _32), 16 for AEAD; -1 if unknown. */
export function srtcpAuthTagLength(suite: string): number {
  const n = srtpAuthTagLength(suite);
  return n === 4 ? 10 : n;
}

/**
 * Decode the clear RTP header of an SRTP packet. payloadLength is the
 * encrypted payload (padding included, it is encrypted too) without the MKI
 * and the tag. False when the header does not fit.
 */
export function decodeSrtp(
  h: RtpHeader,
  buf: Uint8Array,
  off: number,
  len: number,
  tagLength: number,
  mkiLength = 0,
  weirds?: WeirdCounters,
): boolean {
  const inner = len - (tagLength > 0 ? tagLength : 0) - (mkiLength > 0 ? mkiLength : 0);
  if (inner < 12) {
    weirds?.weird('truncated_srtp');
    return false;
  }
  return decodeRtpHeader(h, buf, off, inner, false, weirds);
}

/**
 * SDP transport protocols that mean SRTP: RTP/SAVP, RTP/SAVPF (RFC 3711,
 * RFC 5124), UDP/TLS/RTP/SAVP(F) and TCP/TLS/RTP/SAVP(F) (DTLS-SRTP,
 * RFC 5764 §8, RFC 7850). Case-insensitive, as SDP tokens are.
 */
export function sdpProtoIsSecure(proto: string): boolean {
  const p = proto.toUpperCase();
  return p.endsWith('/SAVP') || p.endsWith('/SAVPF');
}

/** Kinds of evidence for estimateSrtp, OR-ed together by the caller. */
export const enum SrtpEvidence {
  None = 0,
  /** m= line proto is RTP/SAVP(F) or UDP/TLS/RTP/SAVP(F). */
  SdpSecureProto = 1,
  /** a=crypto present (SDES, RFC 4568), even under RTP/AVP ("best-effort" SRTP). */
  SdpCrypto = 2,
  /** DTLS records seen on the media 5-tuple. */
  DtlsSeen = 4,
  /** ZRTP packets seen on the media 5-tuple (ZRTP keeps RTP/AVP in SDP). */
  ZrtpSeen = 8,
  /** m= line proto is plain RTP/AVP(F). */
  SdpPlainProto = 16,
}

export const enum SrtpVerdict {
  Unknown = 0,
  Clear = 1,
  Encrypted = 2,
}

/**
 * Decide whether a stream is encrypted. Signalling or key-exchange evidence
 * wins; otherwise the payload votes of payloadLooksEncrypted over a few
 * packets decide (at least 3 votes, 3/4 majority); otherwise a plain RTP/AVP
 * offer means Clear. Votes must only come from payload types where the test
 * is meaningful (entropyTestApplies).
 */
export function estimateSrtp(evidence: number, encryptedVotes: number, clearVotes: number): SrtpVerdict {
  if ((evidence & (SrtpEvidence.SdpSecureProto | SrtpEvidence.SdpCrypto | SrtpEvidence.DtlsSeen | SrtpEvidence.ZrtpSeen)) !== 0) {
    return SrtpVerdict.Encrypted;
  }
  const total = encryptedVotes + clearVotes;
  if (total >= 3) {
    if (encryptedVotes * 4 >= total * 3) return SrtpVerdict.Encrypted;
    if (clearVotes * 4 >= total * 3) return SrtpVerdict.Clear;
  }
  if ((evidence & SrtpEvidence.SdpPlainProto) !== 0 && encryptedVotes * 2 <= total) return SrtpVerdict.Clear;
  return SrtpVerdict.Unknown;
}

/**
 * Payload types whose clear payload is far from random bytes, so that the
 * entropy test means something: G.711 PCMU 0 / PCMA 8 (log-PCM samples
 * cluster around the zero-amplitude codes; silence is one or two byte values),
 * G.722 9 (sub-band ADPCM: codes cluster near small steps; weaker, see below)
 * and L16 10/11 (big-endian PCM: the high bytes of quiet audio are 0x00/0xFF).
 *
 * NOT for Opus, AMR, G.729, iLBC, video and other compressed codecs: their
 * payloads already look random, so every packet would vote "encrypted".
 * Also risky: G.722 of loud music, and white-noise-like comfort tones; use
 * several packets and a majority (estimateSrtp does).
 */
export function entropyTestApplies(payloadType: number): boolean {
  return payloadType === 0 || payloadType === 8 || payloadType === 9 || payloadType === 10 || payloadType === 11;
}

/** Bytes looked at per packet (one 20 ms G.711 frame). */
const SAMPLE_MAX = 160;
/** Fewer bytes than this cannot separate random from clear audio reliably. */
const SAMPLE_MIN = 64;
/** Reused histogram: no allocation per call. Always left zeroed. */
const counts = new Uint16Array(256);

/**
 * Shannon entropy in bits per byte of up to the first 160 payload bytes.
 * Note that n samples can show at most log2(n) bits (7.32 for 160), and
 * uniformly random bytes give about 6.8 at n = 160, not 8.
 */
export function payloadEntropyBits(buf: Uint8Array, off: number, len: number): number {
  const n = len < SAMPLE_MAX ? len : SAMPLE_MAX;
  if (n <= 0 || off < 0 || off + n > buf.length) return 0;
  for (let i = 0; i < n; i++) counts[buf[off + i]!]!++;
  let h = 0;
  for (let i = 0; i < n; i++) {
    const c = counts[buf[off + i]!]!;
    if (c === 0) continue; // already counted this byte value
    const p = c / n;
    h -= p * Math.log2(p);
    counts[buf[off + i]!] = 0;
  }
  return h;
}

/** Reused 8-bin histogram of bits 6..4 (the G.711 segment, up to a fixed permutation). */
const segments = new Uint16Array(8);
/** Chi-square (7 degrees of freedom) above which the segment bins are not uniform: P(random > 30) ~ 1e-4. */
const SEGMENT_CHI2_MAX = 30;

/**
 * Does this payload look like ciphertext? Two tests on at most 160 bytes,
 * both from reused histograms, both must say "random":
 *
 * 1. Equal-byte pairs from the 256-bin histogram (the collision count, i.e.
 *    Renyi order-2 entropy) rather than Shannon entropy: with only 160
 *    samples the Shannon entropy of random data is ~6.8 bits, too close to
 *    G.711 speech, whereas the pair count of random bytes has a known
 *    distribution (mean n(n-1)/512, about 50 at n = 160, roughly Poisson).
 *    Random iff pairs <= 2 * mean + 6. Catches silence, tones, quiet speech.
 * 2. Uniformity of bits 6..4, which in G.711 (A-law and mu-law alike, up to
 *    a fixed permutation of the bins) is the 3-bit segment, i.e. the octave
 *    of the sample's amplitude: within 20 ms real audio stays within a few
 *    octaves, ciphertext fills all 8 bins evenly. Random iff chi-square over
 *    the 8 bins <= 30. Catches loud speech and loud noise, which pass test 1
 *    (19% of the loud PCMA frames of sippscen_mario_choppy_speech did).
 *
 * Measured on the corpus (tests/app/media/srtp.test.ts): clear PCMA speech
 * 0% and 0.4% of packets flagged (mario_choppy_speech, heplify
 * rtp_rtcp_sip), SRTP PCMA 100%, random 160-byte payloads 99.99%. So use a
 * majority over several packets (estimateSrtp), never one packet.
 *
 * Returns false for payloads shorter than 64 bytes (not enough evidence).
 * Only meaningful for entropyTestApplies(payloadType): compressed codecs
 * (Opus, AMR, G.729, ...) look random in clear too.
 */
export function payloadLooksEncrypted(buf: Uint8Array, off: number, len: number): boolean {
  const n = len < SAMPLE_MAX ? len : SAMPLE_MAX;
  if (n < SAMPLE_MIN || off < 0 || off + n > buf.length) return false;
  let pairs = 0;
  for (let i = 0; i < n; i++) {
    const b = buf[off + i]!;
    // Each byte forms a pair with every earlier byte of the same value.
    pairs += counts[b]!++;
    segments[(b >>> 4) & 7]!++;
  }
  for (let i = 0; i < n; i++) counts[buf[off + i]!] = 0;
  const e = n / 8;
  let chi2 = 0;
  for (let k = 0; k < 8; k++) {
    const d = segments[k]! - e;
    chi2 += (d * d) / e;
    segments[k] = 0;
  }
  const expectedPairs = (n * (n - 1)) / 512;
  return pairs <= 2 * expectedPairs + 6 && chi2 <= SEGMENT_CHI2_MAX;
}
