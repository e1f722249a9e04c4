/**
 * Compound RTCP walker (RFC 3550 §6 and Appendix A.2), with the packet types
 * a VoIP/WebRTC sensor meets: SR 200, RR 201, SDES 202, BYE 203, APP 204
 * (RFC 3550 §6.4-6.7), RTPFB 205 / PSFB 206 (RFC 4585 §6.1), XR 207
 * (RFC 3611 §2). Other types in 192..223 (old FIR/NACK 192/193, IJ 195,
 * AVB 208, RSI 209, ...) are skipped by their length field.
 * Compare Wireshark's epan/dissectors/packet-rtcp.c.
 *
 * Validity (RFC 3550 A.2), checked over the whole datagram BEFORE any visitor
 * callback, so a visitor never sees half of a packet that turns out bad:
 *   - every packet has version 2 and a type in 192..223;
 *   - the first packet is SR or RR; but a datagram that starts with another
 *     known type (202..207) is also accepted, because RFC 5506 reduced-size
 *     RTCP (WebRTC: lone RTPFB/PSFB/XR) does not start with a report;
 *   - only the last packet may have the P bit, and its count must fit;
 *   - the packet lengths sum exactly to the datagram.
 *
 * SRTCP (RFC 3711 §3.4) appends E|SRTCP index (4 bytes), an optional MKI and
 * the auth tag (mandatory for SRTCP; 10 bytes by default, 4 or 16 depending
 * on the suite, see srtp.ts). When E=1 only the first RTCP header and the
 * sender SSRC (8 bytes) are in clear, so walkSrtcp reads those and the
 * trailer, and walks the compound only when E=0 (unencrypted SRTCP).
 *
 * Callbacks receive numbers (and buffer offsets for CNAME), never strings or
 * objects, so the walk allocates nothing. The visitor object is allocated
 * once by the caller and reused.
 */
import type { WeirdCounters } from '../../decode/weird.js';

export const RTCP_SR = 200;
export const RTCP_RR = 201;
export const RTCP_SDES = 202;
export const RTCP_BYE = 203;
export const RTCP_APP = 204;
export const RTCP_RTPFB = 205;
export const RTCP_PSFB = 206;
export const RTCP_XR = 207;

/** SDES item types (RFC 3550 §6.5). */
const SDES_END = 0;
const SDES_CNAME = 1;

export interface RtcpVisitor {
  /** SR sender info (RFC 3550 §6.4.1). NTP seconds/fraction and counts are unsigned 32-bit. */
  onSenderReport?(ssrc: number, ntpSec: number, ntpFrac: number, rtpTs: number, packetCount: number, octetCount: number): void;
  onReceiverReport?(ssrc: number): void;
  /** One report block of an SR or RR. cumulativeLost is the signed 24-bit value. lsr/dlsr raw 32-bit (DLSR in 1/65536 s). */
  onReportBlock?(
    reporterSsrc: number,
    sourceSsrc: number,
    fractionLost: number,
    cumulativeLost: number,
    highestSeq: number,
    jitter: number,
    lsr: number,
    dlsr: number,
  ): void;
  /** CNAME item: text is buf[off .. off+len), UTF-8; decode only if you need it. */
  onSdesCname?(ssrc: number, buf: Uint8Array, off: number, len: number): void;
  onBye?(ssrc: number): void;
  /** APP: subtype (5 bits), SSRC/CSRC, 4-character name as a big-endian uint32. */
  onApp?(subtype: number, ssrc: number, name: number): void;
  /** RTPFB (205) / PSFB (206): FMT (5 bits), sender SSRC and media source SSRC (RFC 4585 §6.1). */
  onFeedback?(pt: number, fmt: number, ssrc: number, mediaSsrc: number): void;
  onXr?(ssrc: number): void;
}

function u32(buf: Uint8Array, i: number): number {
  return ((buf[i]! << 24) | (buf[i + 1]! << 16) | (buf[i + 2]! << 8) | buf[i + 3]!) >>> 0;
}

/** Minimum bytes of the packet body (after the 4-byte header and before padding) for known types. */
function minimumLength(pt: number, count: number): number {
  switch (pt) {
    case RTCP_SR:
      return 28 + 24 * count;
    case RTCP_RR:
      return 8 + 24 * count;
    case RTCP_BYE:
      return 4 + 4 * count;
    case RTCP_APP:
      return 12;
    case RTCP_RTPFB:
    case RTCP_PSFB:
      return 12;
    case RTCP_XR:
      return 8;
    default:
      return 4;
  }
}

/**
 * Validate a compound (or RFC 5506 reduced-size) RTCP datagram per RFC 3550
 * A.2 without calling anything. Returns the number of RTCP packets, or 0.
 */
export function validateRtcp(buf: Uint8Array, off: number, len: number, weirds?: WeirdCounters): number {
  if (off < 0 || len < 4 || off + len > buf.length) {
    weirds?.weird('truncated_rtcp');
    return 0;
  }
  const firstPt = buf[off + 1]!;
  if (firstPt < RTCP_SR || firstPt > RTCP_XR) {
    weirds?.weird('rtcp_bad_first_packet_type');
    return 0;
  }
  const end = off + len;
  let p = off;
  let n = 0;
  while (p < end) {
    if (p + 4 > end) {
      weirds?.weird('truncated_rtcp');
      return 0;
    }
    const b0 = buf[p]!;
    const pt = buf[p + 1]!;
    if (b0 >>> 6 !== 2) {
      weirds?.weird('rtcp_bad_version');
      return 0;
    }
    if (pt < 192 || pt > 223) {
      weirds?.weird('rtcp_bad_packet_type');
      return 0;
    }
    const plen = (((buf[p + 2]! << 8) | buf[p + 3]!) + 1) * 4;
    if (p + plen > end) {
      weirds?.weird('rtcp_length_overflow');
      return 0;
    }
    let content = plen;
    if ((b0 & 0x20) !== 0) {
      // RFC 3550 A.2: padding only on the last packet of the compound.
      if (p + plen !== end) {
        weirds?.weird('rtcp_padding_not_last');
        return 0;
      }
      const pad = buf[p + plen - 1]!;
      if (pad === 0 || pad > plen - 4) {
        weirds?.weird('rtcp_bad_padding');
        return 0;
      }
      content = plen - pad;
    }
    if (content < minimumLength(pt, b0 & 0x1f)) {
      weirds?.weird('rtcp_packet_too_short');
      return 0;
    }
    p += plen;
    n++;
  }
  return n;
}

/**
 * Walk all RTCP packets of buf[off .. off+len), calling the visitor. The
 * datagram is validated first (see validateRtcp); returns false, calling
 * nothing, when it is not valid RTCP.
 */
export function walkRtcp(buf: Uint8Array, off: number, len: number, visitor: RtcpVisitor, weirds?: WeirdCounters): boolean {
  if (validateRtcp(buf, off, len, weirds) === 0) return false;
  const end = off + len;
  let p = off;
  while (p < end) {
    const b0 = buf[p]!;
    const count = b0 & 0x1f;
    const pt = buf[p + 1]!;
    const plen = (((buf[p + 2]! << 8) | buf[p + 3]!) + 1) * 4;
    const contentEnd = (b0 & 0x20) !== 0 ? p + plen - buf[p + plen - 1]! : p + plen;
    switch (pt) {
      case RTCP_SR: {
        const ssrc = u32(buf, p + 4);
        visitor.onSenderReport?.(ssrc, u32(buf, p + 8), u32(buf, p + 12), u32(buf, p + 16), u32(buf, p + 20), u32(buf, p + 24));
        if (visitor.onReportBlock !== undefined) visitReportBlocks(buf, p + 28, count, ssrc, visitor);
        break;
      }
      case RTCP_RR: {
        const ssrc = u32(buf, p + 4);
        visitor.onReceiverReport?.(ssrc);
        if (visitor.onReportBlock !== undefined) visitReportBlocks(buf, p + 8, count, ssrc, visitor);
        break;
      }
      case RTCP_SDES:
        if (visitor.onSdesCname !== undefined) visitSdes(buf, p + 4, contentEnd, count, visitor, weirds);
        break;
      case RTCP_BYE:
        if (visitor.onBye !== undefined) for (let i = 0; i < count; i++) visitor.onBye(u32(buf, p + 4 + 4 * i));
        break;
      case RTCP_APP:
        visitor.onApp?.(count, u32(buf, p + 4), u32(buf, p + 8));
        break;
      case RTCP_RTPFB:
      case RTCP_PSFB:
        visitor.onFeedback?.(pt, count, u32(buf, p + 4), u32(buf, p + 8));
        break;
      case RTCP_XR:
        visitor.onXr?.(u32(buf, p + 4));
        break;
      default:
        break; // other 192..223 types: skipped by length
    }
    p += plen;
  }
  return true;
}

function visitReportBlocks(buf: Uint8Array, q: number, count: number, reporter: number, visitor: RtcpVisitor): void {
  for (let i = 0; i < count; i++, q += 24) {
    // Cumulative lost is a signed 24-bit integer (RFC 3550 §6.4.1): sign-extend.
    const cum = ((buf[q + 5]! << 24) | (buf[q + 6]! << 16) | (buf[q + 7]! << 8)) >> 8;
    visitor.onReportBlock!(reporter, u32(buf, q), buf[q + 4]!, cum, u32(buf, q + 8), u32(buf, q + 12), u32(buf, q + 16), u32(buf, q + 20));
  }
}

/** SDES chunks (RFC 3550 §6.5): SSRC, items (type, length, text), END, pad to 32 bits. */
function visitSdes(buf: Uint8Array, q: number, end: number, chunks: number, visitor: RtcpVisitor, weirds?: WeirdCounters): void {
  const base = q - 4; // packet start, for 32-bit alignment of chunks
  for (let c = 0; c < chunks; c++) {
    if (q + 4 > end) {
      weirds?.weird('rtcp_sdes_truncated');
      return;
    }
    const ssrc = u32(buf, q);
    q += 4;
    for (;;) {
      if (q >= end) {
        weirds?.weird('rtcp_sdes_truncated');
        return;
      }
      const type = buf[q]!;
      if (type === SDES_END) {
        q++;
        q += (4 - ((q - base) & 3)) & 3; // chunk ends on a 32-bit boundary
        break;
      }
      if (q + 2 > end) {
        weirds?.weird('rtcp_sdes_truncated');
        return;
      }
      const ilen = buf[q + 1]!;
      if (q + 2 + ilen > end) {
        weirds?.weird('rtcp_sdes_truncated');
        return;
      }
      if (type === SDES_CNAME) visitor.onSdesCname!(ssrc, buf, q + 2, ilen);
      q += 2 + ilen;
    }
  }
}

/**
 * Cheap RTCP test for a datagram nobody announced, in the spirit of
 * Wireshark's rtcp_udp heuristic (dissect_rtcp_heur: version 2, first type
 * SR/RR/BYE/APP/PSFB, total length a multiple of 4), but stricter: the first
 * type must be 200..207 and the length fields of all packets must chain to
 * exactly the datagram length. Unlike Wireshark we do not look at port parity
 * (RFC 5761 mux puts RTCP on the even RTP port).
 */
export function looksLikeRtcp(buf: Uint8Array, off: number, len: number): boolean {
  if (off < 0 || len < 8 || (len & 3) !== 0 || off + len > buf.length) return false;
  if (buf[off]! >>> 6 !== 2) return false;
  const pt0 = buf[off + 1]!;
  if (pt0 < RTCP_SR || pt0 > RTCP_XR) return false;
  const end = off + len;
  let p = off;
  while (p < end) {
    if (p + 4 > end) return false;
    if (buf[p]! >>> 6 !== 2) return false;
    const pt = buf[p + 1]!;
    if (pt < 192 || pt > 223) return false;
    p += (((buf[p + 2]! << 8) | buf[p + 3]!) + 1) * 4;
  }
  return p === end;
}

/** What can be read from an SRTCP packet without keys. Reused. */
export class SrtcpInfo {
  /** E flag: the compound after the first 8 bytes is encrypted. */
  encrypted = false;
  /** 31-bit SRTCP index (RFC 3711 §3.4), a per-SSRC packet counter: gaps and repeats are visible. */
  index = 0;
  /** Type of the first packet (normally SR or RR) and the sender SSRC, both in clear. */
  packetType = 0;
  ssrc = 0;
  /** Bytes of the (possibly encrypted) compound RTCP before the trailer. */
  compoundLength = 0;
}

/**
 * Read an SRTCP packet without keys.
 *   RFC 3711 §3.4 (AES-CM / F8 with HMAC-SHA1):
 *     [ header+SSRC (clear, 8) | rest of compound (encrypted if E) | E|index (4) | MKI? | auth tag ]
 *   RFC 7714 §9 (AEAD AES-GCM, 16-byte tag): the tag ends the encrypted part
 *   and the E|index word comes after it:
 *     [ header+SSRC (clear, 8) | rest of compound | cipher tag (16) | E|index (4) | MKI? ]
 * tagLength selects the layout: 16 means AEAD; otherwise 10 (the default,
 * also the SRTCP tag of the _32 suites, RFC 4568 §6.2) or 4. When E=0 and a
 * visitor is given, the clear compound is walked with walkRtcp.
 */
export function walkSrtcp(
  rec: SrtcpInfo,
  buf: Uint8Array,
  off: number,
  len: number,
  tagLength = 10,
  visitor?: RtcpVisitor,
  mkiLength = 0,
  weirds?: WeirdCounters,
): boolean {
  // RFC 7714 AEAD is the only SRTCP transform with a 16-byte tag.
  const aead = tagLength === 16;
  const compound = len - 4 - mkiLength - tagLength;
  if (off < 0 || tagLength < 0 || mkiLength < 0 || compound < 8 || off + len > buf.length) {
    weirds?.weird('truncated_srtcp');
    return false;
  }
  if ((compound & 3) !== 0) {
    weirds?.weird('srtcp_bad_length');
    return false;
  }
  const b0 = buf[off]!;
  const pt = buf[off + 1]!;
  if (b0 >>> 6 !== 2 || pt < RTCP_SR || pt > RTCP_XR) {
    weirds?.weird('srtcp_bad_header');
    return false;
  }
  // The first packet's length is in clear: it must fit in the compound.
  const plen = (((buf[off + 2]! << 8) | buf[off + 3]!) + 1) * 4;
  if (plen > compound) {
    weirds?.weird('srtcp_length_overflow');
    return false;
  }
  const word = u32(buf, aead ? off + len - mkiLength - 4 : off + compound);
  const encrypted = word >>> 31 === 1;
  if (!encrypted && visitor !== undefined) {
    if (!walkRtcp(buf, off, compound, visitor, weirds)) return false;
  }
  rec.encrypted = encrypted;
  rec.index = word & 0x7fffffff;
  rec.packetType = pt;
  rec.ssrc = u32(buf, off + 4);
  rec.compoundLength = compound;
  return true;
}
