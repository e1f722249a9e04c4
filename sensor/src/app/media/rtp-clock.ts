/**
 * Static RTP payload types (RFC 3551 §6, Tables 4 and 5; IANA "RTP Payload
 * Types") with the short names tshark prints in `-z rtp,streams`
 * (rtp_payload_type_short_vals in epan/dissectors/packet-rtp.c) and the
 * timestamp clock rates tshark's RTP analysis uses (clock_map in
 * ui/tap-rtp-analysis.c). Dynamic types 96..127 print as "RTPType-<n>" there.
 *
 * Note G.722: its RTP timestamp clock is 8000 Hz although it samples at
 * 16 kHz (RFC 3551 §4.5.2, a historical error kept for compatibility).
 * Note L16 10/11: 44100 Hz. MPA and the video types: 90000 Hz.
 * 1 (FS-1016), 2 (G.721) and 19 (old CN) are no longer in RFC 3551's table
 * but tshark still names them and so do we.
 */

interface StaticPt {
  pt: number;
  name: string;
  rate: number;
}

const STATIC: readonly StaticPt[] = [
  { pt: 0, name: 'g711U', rate: 8000 },
  { pt: 1, name: 'fs-1016', rate: 8000 },
  { pt: 2, name: 'g721', rate: 8000 },
  { pt: 3, name: 'GSM', rate: 8000 },
  { pt: 4, name: 'g723', rate: 8000 },
  { pt: 5, name: 'DVI4 8k', rate: 8000 },
  { pt: 6, name: 'DVI4 16k', rate: 16000 },
  { pt: 7, name: 'Exp. from Xerox PARC', rate: 8000 },
  { pt: 8, name: 'g711A', rate: 8000 },
  { pt: 9, name: 'g722', rate: 8000 },
  { pt: 10, name: '16-bit audio, stereo', rate: 44100 },
  { pt: 11, name: '16-bit audio, monaural', rate: 44100 },
  { pt: 12, name: 'Qualcomm', rate: 8000 },
  { pt: 13, name: 'CN', rate: 8000 },
  { pt: 14, name: 'MPEG-I/II Audio', rate: 90000 },
  { pt: 15, name: 'g728', rate: 8000 },
  { pt: 16, name: 'DVI4 11k', rate: 11025 },
  { pt: 17, name: 'DVI4 22k', rate: 22050 },
  { pt: 18, name: 'g729', rate: 8000 },
  { pt: 19, name: 'CN(old)', rate: 8000 },
  { pt: 25, name: 'CellB', rate: 90000 },
  { pt: 26, name: 'JPEG', rate: 90000 },
  { pt: 28, name: 'NV', rate: 90000 },
  { pt: 31, name: 'h261', rate: 90000 },
  { pt: 32, name: 'MPEG-I/II Video', rate: 90000 },
  { pt: 33, name: 'MPEG-II streams', rate: 90000 },
  { pt: 34, name: 'h263', rate: 90000 },
];

/** Built once: index = payload type 0..127. */
const RATES = new Uint32Array(128);
const NAMES: string[] = [];
for (let pt = 0; pt < 128; pt++) NAMES.push(pt >= 96 ? `RTPType-${pt}` : 'Unassigned');
for (const s of STATIC) {
  RATES[s.pt] = s.rate;
  NAMES[s.pt] = s.name;
}

/** Comfort noise (RFC 3389) and the old CN type: not speech, excluded from tshark's delta/jitter maxima. */
export const PT_CN = 13;
export const PT_CN_OLD = 19;

/** RTP clock rate of a static payload type, 0 when unknown or dynamic. */
export function clockRateOf(pt: number): number {
  return pt >= 0 && pt < 128 ? RATES[pt]! : 0;
}
/** Same as clockRateOf (name kept for readability where "static" matters). */
export const staticClockRate = clockRateOf;

/** tshark's short payload name ("g711A", "RTPType-111", ...). No allocation: names are prebuilt. */
export function payloadTypeName(pt: number): string {
  return pt >= 0 && pt < 128 ? NAMES[pt]! : 'Unassigned';
}

/**
 * Clock rate to use for jitter. For dynamic types the caller passes the SDP
 * rtpmap encoding name and rate. telephone-event (RFC 4733) returns 0: its
 * timestamp stays fixed for the whole event (RFC 4733 §2.3), so tshark skips
 * jitter for it and so do we. Unknown dynamic types return 0 (no jitter).
 */
export function clockRateFor(pt: number, encodingName?: string, rtpmapRate?: number): number {
  if (pt < 96) return clockRateOf(pt);
  if (encodingName !== undefined && encodingName.toLowerCase() === 'telephone-event') return 0;
  return rtpmapRate !== undefined && rtpmapRate > 0 ? rtpmapRate : 0;
}
