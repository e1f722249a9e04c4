/**
 * RTP fixed header decoder (RFC 3550 §5.1) and the per-packet RTP heuristic.
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |V=2|P|X|  CC   |M|     PT      |       sequence number         |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                           timestamp                           |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |           synchronization source (SSRC) identifier            |
 *   +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 *   |            contributing source (CSRC) identifiers             |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |      defined by profile       |           length              |   (X=1, RFC 3550 §5.3.1)
 *   |                        header extension                       |
 *
 * SRTP (RFC 3711 §3.1) leaves this header in clear, so the same decoder serves
 * SRTP; the auth tag then sits inside what this file calls the payload.
 *
 * Everything works on (buf, off, len) where len is the length of the RTP
 * packet starting at off, and writes into a caller-owned RtpHeader. Nothing
 * is allocated per packet and nothing throws; malformed input returns false
 * and, when a WeirdCounters is passed, counts a named weird.
 */
import type { WeirdCounters } from '../../decode/weird.js';

/** Reused RTP header record: one per decoder, overwritten per packet. */
export class RtpHeader {
  version = 0;
  padding = false;
  extension = false;
  csrcCount = 0;
  marker = false;
  payloadType = 0;
  sequence = 0;
  timestamp = 0;
  ssrc = 0;
  /** 12 + 4*CC + (X ? 4 + 4*extension words : 0). */
  headerLength = 0;
  /** Absolute offset of the payload in the buffer. */
  payloadOffset = 0;
  /** Payload bytes after removing the padding (when P is set). */
  payloadLength = 0;
  /** Padding bytes removed from the end (0 when P is clear). */
  paddingLength = 0;
  /** "defined by profile" field: 0xBEDE = RFC 8285 one-byte, 0x100x = two-byte. 0 when X is clear. */
  extensionProfile = 0;
  /** Absolute offset and byte length of the extension data (after its 4-byte header). */
  extensionOffset = 0;
  extensionLength = 0;
  /** First CSRC (mixers, RFC 3550 §7.1), 0 when CC = 0. */
  csrc0 = 0;
}

/**
 * Decode the RTP header of buf[off .. off+len). Returns false (and counts a
 * weird) when the bytes cannot be an RTP packet:
 * len < 12, version != 2, the CSRC list or header extension runs past the end,
 * or P is set with a padding count of 0 or larger than the payload.
 */
export function decodeRtp(h: RtpHeader, buf: Uint8Array, off: number, len: number, weirds?: WeirdCounters): boolean {
  return decodeRtpHeader(h, buf, off, len, true, weirds);
}

/**
 * The decoder behind decodeRtp. readPadding=false is for SRTP (see srtp.ts):
 * there the padding lies inside the encrypted payload (RFC 3711 §3.1), so the
 * last byte is not a pad count; payloadLength then includes any padding.
 */
export function decodeRtpHeader(
  h: RtpHeader,
  buf: Uint8Array,
  off: number,
  len: number,
  readPadding: boolean,
  weirds?: WeirdCounters,
): boolean {
  if (off < 0 || len < 12 || off + len > buf.length) {
    weirds?.weird('truncated_rtp');
    return false;
  }
  const b0 = buf[off]!;
  const b1 = buf[off + 1]!;
  const version = b0 >>> 6;
  if (version !== 2) {
    weirds?.weird('rtp_bad_version');
    return false;
  }
  const cc = b0 & 0x0f;
  let hdr = 12 + 4 * cc;
  if (hdr > len) {
    weirds?.weird('rtp_csrc_overflow');
    return false;
  }
  let extProfile = 0;
  let extOffset = 0;
  let extLength = 0;
  const hasExt = (b0 & 0x10) !== 0;
  if (hasExt) {
    if (hdr + 4 > len) {
      weirds?.weird('rtp_extension_overflow');
      return false;
    }
    const e = off + hdr;
    extProfile = (buf[e]! << 8) | buf[e + 1]!;
    extLength = ((buf[e + 2]! << 8) | buf[e + 3]!) * 4;
    extOffset = e + 4;
    hdr += 4 + extLength;
    if (hdr > len) {
      weirds?.weird('rtp_extension_overflow');
      return false;
    }
  }
  let padLen = 0;
  const hasPad = (b0 & 0x20) !== 0;
  if (hasPad && readPadding) {
    // RFC 3550 §5.1: the last octet counts the padding octets, itself included.
    padLen = buf[off + len - 1]!;
    if (padLen === 0 || padLen > len - hdr) {
      weirds?.weird('rtp_bad_padding');
      return false;
    }
  }
  h.version = version;
  h.padding = hasPad;
  h.extension = hasExt;
  h.csrcCount = cc;
  h.marker = (b1 & 0x80) !== 0;
  h.payloadType = b1 & 0x7f;
  h.sequence = (buf[off + 2]! << 8) | buf[off + 3]!;
  h.timestamp = ((buf[off + 4]! << 24) | (buf[off + 5]! << 16) | (buf[off + 6]! << 8) | buf[off + 7]!) >>> 0;
  h.ssrc = ((buf[off + 8]! << 24) | (buf[off + 9]! << 16) | (buf[off + 10]! << 8) | buf[off + 11]!) >>> 0;
  h.csrc0 = cc > 0 ? ((buf[off + 12]! << 24) | (buf[off + 13]! << 16) | (buf[off + 14]! << 8) | buf[off + 15]!) >>> 0 : 0;
  h.headerLength = hdr;
  h.payloadOffset = off + hdr;
  h.payloadLength = len - hdr - padLen;
  h.paddingLength = padLen;
  h.extensionProfile = extProfile;
  h.extensionOffset = extOffset;
  h.extensionLength = extLength;
  return true;
}

/**
 * The per-packet RTP heuristic, in the order of Wireshark's dissect_rtp_heur
 * (epan/dissectors/packet-rtp.c; see doc/README.heuristic): cheapest checks
 * first, never throws.
 *
 *   1. at least 12 bytes (Wireshark only checks 2 up front, then the header
 *      bounds against the reported length; we need the fixed header anyway),
 *   2. version 2,
 *   3. payload type (7 bits) not in 72..76, the values that collide with RTCP
 *      SR/RR/SDES/BYE/APP when the marker is set (RFC 3551 §6, RFC 5761 §4),
 *   4. the CSRC list and the header extension fit in the packet,
 *   5. when P is set, the padding count is non-zero and fits after the header.
 *
 * This is exactly the test tshark's rtp_udp heuristic applies to each UDP
 * datagram: it has no memory, so any datagram whose first byte is 0x80..0xBF
 * and passes these bounds is "RTP" (tshark shows such false positives, e.g.
 * the SSRC 0 "streams" in ndpi_stun_google_meet). The sensor adds per-flow
 * confirmation on top (several packets with one SSRC and consecutive
 * sequence numbers, or an SDP expectation), which lives in the flow/media
 * layer, not here.
 */
export function looksLikeRtp(buf: Uint8Array, off: number, len: number): boolean {
  if (off < 0 || len < 12 || off + len > buf.length) return false;
  const b0 = buf[off]!;
  if (b0 >>> 6 !== 2) return false;
  const pt = buf[off + 1]! & 0x7f;
  if (pt >= 72 && pt <= 76) return false;
  let hdr = 12 + 4 * (b0 & 0x0f);
  if ((b0 & 0x10) !== 0) {
    if (hdr + 4 > len) return false;
    hdr += 4 + 4 * ((buf[off + hdr + 2]! << 8) | buf[off + hdr + 3]!);
  }
  if (hdr > len) return false;
  if ((b0 & 0x20) !== 0) {
    const pad = buf[off + len - 1]!;
    if (pad === 0 || pad > len - hdr) return false;
  }
  return true;
}
