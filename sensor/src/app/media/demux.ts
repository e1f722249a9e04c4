/**
 * First-byte demultiplexing of a media port (RFC 7983 §7, updating RFC 5764 §5.1.2).
 *
 * One UDP 5-tuple of a WebRTC or SBC leg can carry STUN, ZRTP, DTLS, TURN
 * ChannelData and RTP/RTCP at the same time. RFC 7983 gives each protocol a
 * disjoint range of the first byte, so one comparison chain tells them apart
 * before any parser runs:
 *
 *   0..3      STUN (the two top bits of the message type are zero, RFC 8489 §5)
 *   16..19    ZRTP (RFC 6189 §5: 0001 then reserved bits)
 *   20..63    DTLS (content types 20..63; 32..63 also cover the DTLS 1.3 unified header 001xxxxx)
 *   64..79    TURN ChannelData (channel numbers 0x4000..0x4FFF, RFC 8656 §12)
 *   128..191  RTP or RTCP (version bits 10)
 *
 * Everything else (4..15, 80..127, 192..255) is "drop" in RFC 7983.
 *
 * RTP and RTCP on one port (RFC 5761 §4) are told apart by the second byte:
 * RTCP packet types 192..223 occupy the byte where RTP has M|PT, so an RTP
 * packet with PT 64..95 and the marker set would collide. RFC 5761 §4 forbids
 * those RTP payload types on a muxed port; 72..76 (masked: 200..204 = SR, RR,
 * SDES, BYE, APP) are reserved by RFC 3551 §6 for exactly this reason.
 */

export const enum MediaKind {
  Unknown = 0,
  Stun = 1,
  Zrtp = 2,
  Dtls = 3,
  TurnChannel = 4,
  RtpOrRtcp = 5,
}

export const MEDIA_KIND_NAMES: readonly string[] = ['unknown', 'stun', 'zrtp', 'dtls', 'turn-channel', 'rtp-rtcp'];

/** RFC 7983 §7 classification of the first byte of a UDP payload. */
export function classifyFirstByte(b: number): MediaKind {
  // Ordered by expected frequency on a media port: RTP first.
  if (b >= 128 && b <= 191) return MediaKind.RtpOrRtcp;
  if (b <= 3) return b >= 0 ? MediaKind.Stun : MediaKind.Unknown;
  if (b >= 20 && b <= 63) return MediaKind.Dtls;
  if (b >= 64 && b <= 79) return MediaKind.TurnChannel;
  if (b >= 16 && b <= 19) return MediaKind.Zrtp;
  return MediaKind.Unknown;
}

/**
 * RFC 5761 §4: with RTP and RTCP on one port, a second byte in 192..223 means
 * RTCP (packet types 192..223). The RTP equivalent would be marker=1 with
 * PT 64..95, which RFC 5761 says must not be used when muxing.
 */
export function isRtcpPayloadType(byte1: number): boolean {
  return byte1 >= 192 && byte1 <= 223;
}
