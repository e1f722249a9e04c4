/**
 * STUN (RFC 8489, formerly RFC 5389; classic RFC 3489), TURN (RFC 8656)
 * ChannelData and the TCP framings of TURN and of RTP (RFC 4571).
 * Compare Wireshark's epan/dissectors/packet-stun.c and packet-rtp.c (rfc4571).
 *
 * STUN header (RFC 8489 §5):
 *   |0 0|     STUN Message Type     |         Message Length        |
 *   |                         Magic Cookie 0x2112A442               |
 *   |                     Transaction ID (96 bits)                  |
 * The 14-bit type interleaves the method (12 bits) and the class (2 bits):
 *   M11..M7 C1 M6..M4 C0 M3..M0. Attributes are TLVs padded to 4 bytes.
 *
 * What a media sensor needs from STUN/TURN: the XOR-MAPPED / XOR-PEER /
 * XOR-RELAYED addresses (who talks to whom through a relay), the
 * CHANNEL-NUMBER bound to a peer, and the DATA attribute of Send/Data
 * indications, which carries the peer's RTP. USERNAME only as presence (ICE
 * ufrag pairs are identifiers we do not need to copy); SOFTWARE ignored.
 *
 * ChannelData (RFC 8656 §12.4): | channel (2) | length (2) | data |.
 * Channel numbers: RFC 8656 §12 allows 0x4000..0x4FFF and reserves
 * 0x5000..0xFFFF so that RFC 7983 can use first bytes 80..127 for other
 * protocols. RFC 5766 (and Wireshark's packet-stun.c) accept 0x4000..0x7FFF.
 * decodeChannelData uses the strict RFC 8656 range by default, because it is
 * also used to classify unknown datagrams, where first bytes 80..127 are not
 * TURN (RFC 7983 §7); pass acceptLegacyRange for a flow already known to be
 * TURN with an RFC 5766 client. Inside a TCP stream already known to be TURN
 * (turnTcpFrameLength) the legacy range is accepted: nothing else can start a
 * frame there, so leniency costs nothing.
 * Over UDP the length excludes padding and padding is optional; over TCP
 * every frame is padded to a multiple of 4 (RFC 8656 §12.5).
 */
import type { WeirdCounters } from '../../decode/weird.js';

export const STUN_MAGIC_COOKIE = 0x2112a442;
export const STUN_HEADER_LENGTH = 20;

/** STUN classes (RFC 8489 §5). */
export const enum StunClass {
  Request = 0,
  Indication = 1,
  SuccessResponse = 2,
  ErrorResponse = 3,
}

/** Methods we name (RFC 8489 §18.2, RFC 8656 §17). */
export const enum StunMethod {
  Binding = 0x001,
  SharedSecret = 0x002, // RFC 3489 only
  Allocate = 0x003,
  Refresh = 0x004,
  Send = 0x006,
  Data = 0x007,
  CreatePermission = 0x008,
  ChannelBind = 0x009,
}

const ATTR_MAPPED_ADDRESS = 0x0001;
const ATTR_USERNAME = 0x0006;
const ATTR_MESSAGE_INTEGRITY = 0x0008;
const ATTR_ERROR_CODE = 0x0009;
const ATTR_CHANNEL_NUMBER = 0x000c;
const ATTR_XOR_PEER_ADDRESS = 0x0012;
const ATTR_DATA = 0x0013;
const ATTR_XOR_RELAYED_ADDRESS = 0x0016;
const ATTR_XOR_MAPPED_ADDRESS = 0x0020;
/** Pre-RFC 5389 drafts (and some old stacks) used 0x8020 for XOR-MAPPED-ADDRESS. */
const ATTR_XOR_MAPPED_ADDRESS_OLD = 0x8020;
const ATTR_FINGERPRINT = 0x8028;

/** A transport address from a (XOR-)address attribute, already un-XORed. Reused. */
export class StunAddress {
  present = false;
  /** 4 or 6. */
  ipVersion = 0;
  /** Four 32-bit words as in PacketRecord: IPv4 uses word 0 only. */
  readonly addr = new Uint32Array(4);
  port = 0;
}

/** Reused STUN message record. */
export class StunRecord {
  messageType = 0;
  method = 0;
  cls = 0;
  /** Message Length field: bytes of attributes after the 20-byte header. */
  length = 0;
  /** 20 + length: the bytes this message occupies. */
  totalLength = 0;
  /** false for RFC 3489 classic STUN. */
  hasCookie = false;
  /** Transaction ID: 96 bits after the cookie (classic STUN: the last 96 of its 128 bits). */
  tid0 = 0;
  tid1 = 0;
  tid2 = 0;
  /** First word of a classic 128-bit transaction id (where the cookie sits in RFC 8489). */
  classicTidHead = 0;
  readonly xorMapped = new StunAddress();
  readonly xorPeer = new StunAddress();
  readonly xorRelayed = new StunAddress();
  /** MAPPED-ADDRESS (classic STUN and RFC 8489 backwards compatibility). */
  readonly mapped = new StunAddress();
  /** CHANNEL-NUMBER, -1 when absent. */
  channelNumber = -1;
  /** DATA attribute (Send/Data indications): absolute offset and length; dataOffset -1 when absent. */
  dataOffset = -1;
  dataLength = 0;
  hasUsername = false;
  hasMessageIntegrity = false;
  hasFingerprint = false;
  /** ERROR-CODE as class*100+number (e.g. 401, 438), 0 when absent. */
  errorCode = 0;
}

function u16(buf: Uint8Array, i: number): number {
  return (buf[i]! << 8) | buf[i + 1]!;
}
function u32(buf: Uint8Array, i: number): number {
  return ((buf[i]! << 24) | (buf[i + 1]! << 16) | (buf[i + 2]! << 8) | buf[i + 3]!) >>> 0;
}

/** Method bits out of the interleaved 14-bit type (RFC 8489 §5). */
export function stunMethodOf(type: number): number {
  return (type & 0x000f) | ((type & 0x00e0) >>> 1) | ((type & 0x3e00) >>> 2);
}
/** Class bits (C1 at bit 8, C0 at bit 4) out of the message type. */
export function stunClassOf(type: number): number {
  return ((type >>> 4) & 1) | ((type >>> 7) & 2);
}

/**
 * Decode one STUN message at buf[off ..), of which len bytes are available.
 * The message may be shorter than len (TCP framing: see totalLength).
 * RFC 3489 classic STUN (no magic cookie) is accepted only for the methods it
 * had (Binding, Shared Secret), non-indication classes, and when the message
 * exactly fills len; XOR attributes are ignored without a cookie.
 */
export function decodeStun(rec: StunRecord, buf: Uint8Array, off: number, len: number, weirds?: WeirdCounters): boolean {
  if (off < 0 || len < STUN_HEADER_LENGTH || off + len > buf.length) {
    weirds?.weird('truncated_stun');
    return false;
  }
  const type = u16(buf, off);
  if ((type & 0xc000) !== 0) {
    weirds?.weird('stun_bad_type');
    return false;
  }
  const length = u16(buf, off + 2);
  if ((length & 3) !== 0) {
    weirds?.weird('stun_bad_length');
    return false;
  }
  if (STUN_HEADER_LENGTH + length > len) {
    weirds?.weird('truncated_stun');
    return false;
  }
  const method = stunMethodOf(type);
  const cls = stunClassOf(type);
  const hasCookie = u32(buf, off + 4) === STUN_MAGIC_COOKIE;
  if (!hasCookie) {
    const classicOk =
      (method === StunMethod.Binding || method === StunMethod.SharedSecret) &&
      cls !== StunClass.Indication &&
      STUN_HEADER_LENGTH + length === len;
    if (!classicOk) {
      weirds?.weird('stun_bad_classic');
      return false;
    }
  }
  rec.messageType = type;
  rec.method = method;
  rec.cls = cls;
  rec.length = length;
  rec.totalLength = STUN_HEADER_LENGTH + length;
  rec.hasCookie = hasCookie;
  rec.classicTidHead = hasCookie ? 0 : u32(buf, off + 4);
  rec.tid0 = u32(buf, off + 8);
  rec.tid1 = u32(buf, off + 12);
  rec.tid2 = u32(buf, off + 16);
  rec.xorMapped.present = false;
  rec.xorPeer.present = false;
  rec.xorRelayed.present = false;
  rec.mapped.present = false;
  rec.channelNumber = -1;
  rec.dataOffset = -1;
  rec.dataLength = 0;
  rec.hasUsername = false;
  rec.hasMessageIntegrity = false;
  rec.hasFingerprint = false;
  rec.errorCode = 0;

  const end = off + STUN_HEADER_LENGTH + length;
  let p = off + STUN_HEADER_LENGTH;
  while (p + 4 <= end) {
    const at = u16(buf, p);
    const alen = u16(buf, p + 2);
    const v = p + 4;
    if (v + alen > end) {
      weirds?.weird('stun_attribute_overflow');
      return false;
    }
    switch (at) {
      case ATTR_XOR_MAPPED_ADDRESS:
      case ATTR_XOR_MAPPED_ADDRESS_OLD:
        if (hasCookie && !rec.xorMapped.present) readAddress(rec.xorMapped, buf, v, alen, rec, weirds);
        break;
      case ATTR_XOR_PEER_ADDRESS:
        if (hasCookie && !rec.xorPeer.present) readAddress(rec.xorPeer, buf, v, alen, rec, weirds);
        break;
      case ATTR_XOR_RELAYED_ADDRESS:
        if (hasCookie && !rec.xorRelayed.present) readAddress(rec.xorRelayed, buf, v, alen, rec, weirds);
        break;
      case ATTR_MAPPED_ADDRESS:
        if (!rec.mapped.present) readAddress(rec.mapped, buf, v, alen, null, weirds);
        break;
      case ATTR_CHANNEL_NUMBER:
        if (alen >= 2) rec.channelNumber = u16(buf, v);
        break;
      case ATTR_DATA:
        if (rec.dataOffset < 0) {
          rec.dataOffset = v;
          rec.dataLength = alen;
        }
        break;
      case ATTR_USERNAME:
        rec.hasUsername = true;
        break;
      case ATTR_MESSAGE_INTEGRITY:
        rec.hasMessageIntegrity = true;
        break;
      case ATTR_FINGERPRINT:
        rec.hasFingerprint = true;
        break;
      case ATTR_ERROR_CODE:
        if (alen >= 4) rec.errorCode = (buf[v + 2]! & 7) * 100 + buf[v + 3]!;
        break;
      default:
        break; // SOFTWARE and everything else: skipped
    }
    p = v + ((alen + 3) & ~3);
  }
  if (p !== end) {
    weirds?.weird('stun_attribute_overflow');
    return false;
  }
  return true;
}

/**
 * (XOR-)address value (RFC 8489 §14.1/14.2): 0, family (1 IPv4, 2 IPv6),
 * port, address. With xorRec, the port is XORed with the top 16 bits of the
 * cookie, IPv4 with the cookie, IPv6 with cookie || transaction id.
 */
function readAddress(a: StunAddress, buf: Uint8Array, v: number, alen: number, xorRec: StunRecord | null, weirds?: WeirdCounters): void {
  if (alen < 4) {
    weirds?.weird('stun_bad_address');
    return;
  }
  const family = buf[v + 1]!;
  let port = u16(buf, v + 2);
  if (xorRec !== null) port ^= STUN_MAGIC_COOKIE >>> 16;
  if (family === 1 && alen >= 8) {
    a.ipVersion = 4;
    a.addr[0] = xorRec !== null ? (u32(buf, v + 4) ^ STUN_MAGIC_COOKIE) >>> 0 : u32(buf, v + 4);
    a.addr[1] = 0;
    a.addr[2] = 0;
    a.addr[3] = 0;
  } else if (family === 2 && alen >= 20) {
    a.ipVersion = 6;
    if (xorRec !== null) {
      a.addr[0] = (u32(buf, v + 4) ^ STUN_MAGIC_COOKIE) >>> 0;
      a.addr[1] = (u32(buf, v + 8) ^ xorRec.tid0) >>> 0;
      a.addr[2] = (u32(buf, v + 12) ^ xorRec.tid1) >>> 0;
      a.addr[3] = (u32(buf, v + 16) ^ xorRec.tid2) >>> 0;
    } else {
      a.addr[0] = u32(buf, v + 4);
      a.addr[1] = u32(buf, v + 8);
      a.addr[2] = u32(buf, v + 12);
      a.addr[3] = u32(buf, v + 16);
    }
  } else {
    weirds?.weird('stun_bad_address');
    return;
  }
  a.port = port;
  a.present = true;
}

/** Reused ChannelData record. */
export class ChannelDataRecord {
  channel = 0;
  /** Absolute offset and length of the application data (normally RTP/RTCP/DTLS). */
  dataOffset = 0;
  dataLength = 0;
  /** Bytes the frame occupies: 4 + length (UDP) or 4 + length rounded up to 4 (TCP). */
  frameLength = 0;
}

/**
 * Decode a TURN ChannelData message (RFC 8656 §12.4) at buf[off ..), len bytes
 * available. Over UDP the datagram must hold 4 + length bytes plus at most 3
 * bytes of optional padding; over TCP the frame is 4 + length padded to 4 and
 * may be followed by more frames.
 */
export function decodeChannelData(
  rec: ChannelDataRecord,
  buf: Uint8Array,
  off: number,
  len: number,
  overTcp: boolean,
  acceptLegacyRange = false,
  weirds?: WeirdCounters,
): boolean {
  if (off < 0 || len < 4 || off + len > buf.length) {
    weirds?.weird('truncated_turn_channel');
    return false;
  }
  const channel = u16(buf, off);
  if (channel < 0x4000 || channel > (acceptLegacyRange ? 0x7fff : 0x4fff)) {
    weirds?.weird('turn_bad_channel');
    return false;
  }
  const dlen = u16(buf, off + 2);
  const frame = overTcp ? 4 + ((dlen + 3) & ~3) : 4 + dlen;
  if (frame > len || (!overTcp && len - frame > 3)) {
    weirds?.weird('turn_channel_bad_length');
    return false;
  }
  rec.channel = channel;
  rec.dataOffset = off + 4;
  rec.dataLength = dlen;
  rec.frameLength = frame;
  return true;
}

/**
 * Framing of a TURN-over-TCP byte stream (RFC 8656 §12.5), where STUN
 * messages and ChannelData frames alternate with no other delimiter.
 * Returns the length of the next complete frame at buf[off ..) given avail
 * bytes: STUN 20 + length (cookie required: TURN is RFC 5389+), ChannelData
 * 4 + length rounded up to 4 (channels 0x4000..0x7FFF, see above); 0 when
 * more bytes are needed to decide or to complete the frame; -1 when the bytes
 * are neither (the stream lost sync or is not TURN).
 */
export function turnTcpFrameLength(buf: Uint8Array, off: number, avail: number): number {
  if (off < 0 || avail < 0 || off + avail > buf.length) return -1;
  if (avail < 1) return 0;
  const b0 = buf[off]!;
  // RFC 7983: STUN starts with 0..3 (the 14-bit type leaves room for 0..63,
  // but no method that high exists, and 20..63 is DTLS).
  if (b0 <= 3) {
    if (avail < 8) return 0;
    const length = u16(buf, off + 2);
    if ((length & 3) !== 0 || u32(buf, off + 4) !== STUN_MAGIC_COOKIE) return -1;
    const frame = STUN_HEADER_LENGTH + length;
    return frame <= avail ? frame : 0;
  }
  if (b0 >= 0x40 && b0 <= 0x7f) {
    if (avail < 4) return 0;
    const frame = 4 + ((u16(buf, off + 2) + 3) & ~3);
    return frame <= avail ? frame : 0;
  }
  return -1;
}

/**
 * RFC 4571 framing of RTP/RTCP over TCP: a 16-bit length, then the packet.
 * Returns 2 + length when the frame is complete, 0 when more bytes are
 * needed, -1 when it cannot be RTP/RTCP: a length below 8 (the smallest RTCP
 * packet, an empty RR; RTP needs 12) or, once visible, a first packet byte
 * without version 2.
 */
export function rfc4571FrameLength(buf: Uint8Array, off: number, avail: number): number {
  if (off < 0 || avail < 0 || off + avail > buf.length) return -1;
  if (avail < 2) return 0;
  const length = u16(buf, off);
  if (length < 8) return -1;
  if (avail >= 3 && buf[off + 2]! >>> 6 !== 2) return -1;
  return 2 + length <= avail ? 2 + length : 0;
}
