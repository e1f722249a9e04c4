/**
 * ZRTP packet and Hello message decoder (RFC 6189 §5), and the a=zrtp-hash
 * value of a Hello (RFC 6189 §8.1). Compare Wireshark's
 * epan/dissectors/packet-zrtp.c.
 *
 * ZRTP packet (RFC 6189 §5, Figure 2):
 *   |0 0 0 1|Not Used (zero)|  Sequence Number  |   -> first byte 0x10 (RFC 7983: 16..19)
 *   |            Magic Cookie 'ZRTP' (0x5a525450)            |
 *   |                    Source Identifier                   |
 *   |   ZRTP Message (preamble 0x505a, length in words, type) |
 *   |                         CRC (CRC-32c)                   |
 * ZRTP message (Figure 3): preamble 0x505a (2), length in 32-bit words
 * including the preamble and excluding the CRC (2), message type block
 * (8 ASCII bytes, e.g. "Hello   "), then the type-specific fields.
 *
 * Hello (§5.2): version "1.10" (4), client identifier (16), H3 (32), ZID (12),
 * then the word 0|S|M|P|unused(8)|hc|cc|ac|kc|sc (S: signature capable,
 * M: the sender is a trusted MiTM PBX, P: passive), the algorithm lists
 * (4 bytes each), and the MAC (8).
 *
 * a=zrtp-hash (§8.1): the SHA-256 of the Hello message. "Message" is the
 * ZRTP message of Figure 3, i.e. from the 0x505a preamble through the end of
 * the Hello (its MAC), without the 12-byte ZRTP packet header and the CRC.
 * Linphone's bzrtp computes it exactly so (sha256 over packetString +
 * ZRTP_PACKET_HEADER_LENGTH, messageLength bytes). The SDP value is hex,
 * prefixed by the version ("a=zrtp-hash:1.10 <64 hex>"); compare
 * case-insensitively.
 *
 * A Hello with M=1 declares a trusted-MiTM PBX (§7.3): a declared
 * intermediary, not a covert one.
 */
import { createHash } from 'node:crypto';
import type { WeirdCounters } from '../../decode/weird.js';

export const ZRTP_MAGIC = 0x5a525450;
const ZRTP_PREAMBLE = 0x505a;
const ZRTP_PACKET_HEADER = 12;

/** Message types (RFC 6189 §5.1.1), numbered for cheap comparison. */
export const enum ZrtpMessageType {
  Unknown = 0,
  Hello = 1,
  HelloAck = 2,
  Commit = 3,
  DhPart1 = 4,
  DhPart2 = 5,
  Confirm1 = 6,
  Confirm2 = 7,
  Conf2Ack = 8,
  Error = 9,
  ErrorAck = 10,
  GoClear = 11,
  ClearAck = 12,
  SasRelay = 13,
  RelayAck = 14,
  Ping = 15,
  PingAck = 16,
}

/** The 8-byte type blocks in ZrtpMessageType order (index = code). */
const TYPE_BLOCKS: readonly string[] = [
  '',
  'Hello   ',
  'HelloACK',
  'Commit  ',
  'DHPart1 ',
  'DHPart2 ',
  'Confirm1',
  'Confirm2',
  'Conf2ACK',
  'Error   ',
  'ErrorACK',
  'GoClear ',
  'ClearACK',
  'SASrelay',
  'RelayACK',
  'Ping    ',
  'PingACK ',
];
/** Same blocks as two big-endian uint32 each, so matching needs no strings. */
const TYPE_WORDS = new Uint32Array(TYPE_BLOCKS.length * 2);
for (let i = 1; i < TYPE_BLOCKS.length; i++) {
  const b = Buffer.from(TYPE_BLOCKS[i]!, 'latin1');
  TYPE_WORDS[2 * i] = b.readUInt32BE(0);
  TYPE_WORDS[2 * i + 1] = b.readUInt32BE(4);
}

export function zrtpMessageTypeName(t: ZrtpMessageType): string {
  return (TYPE_BLOCKS[t] ?? '').trimEnd();
}

/** Reused ZRTP record. */
export class ZrtpRecord {
  sequence = 0;
  ssrc = 0;
  messageType: ZrtpMessageType = ZrtpMessageType.Unknown;
  /** Absolute offset and byte length of the ZRTP message (preamble .. end), as hashed for a=zrtp-hash. */
  messageOffset = 0;
  messageLength = 0;
  /** CRC-32c over header + message matches the trailer (RFC 6189 §5). */
  crcValid = false;
  // Hello fields (valid when messageType === Hello):
  /** Version as 4 ASCII bytes, big-endian ("1.10" = 0x312e3130); see zrtpVersionString. */
  version = 0;
  /** Absolute offset of the 16-byte client identifier. */
  clientIdOffset = 0;
  /** Absolute offset of the 12-byte ZID. */
  zidOffset = 0;
  signatureCapable = false;
  mitm = false;
  passive = false;
}

function u32(buf: Uint8Array, i: number): number {
  return ((buf[i]! << 24) | (buf[i + 1]! << 16) | (buf[i + 2]! << 8) | buf[i + 3]!) >>> 0;
}

/** CRC-32c (Castagnoli, reflected polynomial 0x82F63B78; RFC 3309), table built once. */
const CRC32C = new Uint32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  CRC32C[n] = c >>> 0;
}
export function crc32c(buf: Uint8Array, off: number, len: number): number {
  let c = 0xffffffff;
  for (let i = 0; i < len; i++) c = CRC32C[(c ^ buf[off + i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * Decode a ZRTP packet buf[off .. off+len). False when it is not ZRTP:
 * too short, first nibble not 0001, no "ZRTP" magic at 4, no 0x505a preamble,
 * or a message length that does not fit before the CRC. A bad CRC does not
 * reject the packet (crcValid tells).
 */
export function decodeZrtp(rec: ZrtpRecord, buf: Uint8Array, off: number, len: number, weirds?: WeirdCounters): boolean {
  // Header 12 + preamble/length 4 + type 8 + CRC 4.
  if (off < 0 || len < 28 || off + len > buf.length) {
    weirds?.weird('truncated_zrtp');
    return false;
  }
  if (buf[off]! >>> 4 !== 1 || u32(buf, off + 4) !== ZRTP_MAGIC) {
    weirds?.weird('zrtp_bad_header');
    return false;
  }
  const m = off + ZRTP_PACKET_HEADER;
  if (((buf[m]! << 8) | buf[m + 1]!) !== ZRTP_PREAMBLE) {
    weirds?.weird('zrtp_bad_preamble');
    return false;
  }
  const mlen = ((buf[m + 2]! << 8) | buf[m + 3]!) * 4;
  if (mlen < 12 || ZRTP_PACKET_HEADER + mlen + 4 > len) {
    weirds?.weird('zrtp_bad_length');
    return false;
  }
  const w0 = u32(buf, m + 4);
  const w1 = u32(buf, m + 8);
  let type = ZrtpMessageType.Unknown;
  for (let i = 1; i < TYPE_BLOCKS.length; i++) {
    if (TYPE_WORDS[2 * i] === w0 && TYPE_WORDS[2 * i + 1] === w1) {
      type = i as ZrtpMessageType;
      break;
    }
  }
  rec.sequence = (buf[off + 2]! << 8) | buf[off + 3]!;
  rec.ssrc = u32(buf, off + 8);
  rec.messageType = type;
  rec.messageOffset = m;
  rec.messageLength = mlen;
  const crcAt = m + mlen;
  // Wireshark (packet-zrtp.c) reads the CRC big-endian; GNU ZRTP's zrtpEndCksum
  // comments on a byte swap. Accept either order: this is a sanity flag, not security.
  const crc = crc32c(buf, off, ZRTP_PACKET_HEADER + mlen);
  const sent = u32(buf, crcAt);
  const swapped = ((sent & 0xff) << 24) | ((sent & 0xff00) << 8) | ((sent >>> 8) & 0xff00) | (sent >>> 24);
  rec.crcValid = crc === sent || crc === swapped >>> 0;
  rec.version = 0;
  rec.clientIdOffset = 0;
  rec.zidOffset = 0;
  rec.signatureCapable = false;
  rec.mitm = false;
  rec.passive = false;
  if (type === ZrtpMessageType.Hello) {
    // Fixed Hello part: 12 (preamble/len/type) + 4 + 16 + 32 + 12 + 4 + MAC 8 = 88 bytes.
    if (mlen < 88) {
      weirds?.weird('zrtp_hello_too_short');
      return false;
    }
    rec.version = u32(buf, m + 12);
    rec.clientIdOffset = m + 16;
    rec.zidOffset = m + 64;
    const flags = buf[m + 76]!;
    rec.signatureCapable = (flags & 0x40) !== 0;
    rec.mitm = (flags & 0x20) !== 0;
    rec.passive = (flags & 0x10) !== 0;
  }
  return true;
}

/** "1.10" from ZrtpRecord.version (off the hot path: allocates a string). */
export function zrtpVersionString(version: number): string {
  return String.fromCharCode(version >>> 24, (version >>> 16) & 0xff, (version >>> 8) & 0xff, version & 0xff);
}

/** The client identifier as trimmed ASCII (off the hot path). */
export function zrtpClientId(rec: ZrtpRecord, buf: Uint8Array): string {
  if (rec.messageType !== ZrtpMessageType.Hello) return '';
  return Buffer.from(buf.buffer, buf.byteOffset + rec.clientIdOffset, 16).toString('latin1').replace(/\0+$/, '').trimEnd();
}

/**
 * a=zrtp-hash value (lowercase hex SHA-256) of the ZRTP Hello packet in
 * buf[off .. off+len): hashed over the Hello message from the preamble through
 * its MAC, without packet header and CRC (RFC 6189 §8.1, see the file
 * comment). '' when the bytes are not a ZRTP Hello.
 */
export function zrtpHelloHash(buf: Uint8Array, off: number, len: number): string {
  const rec = scratch;
  if (!decodeZrtp(rec, buf, off, len) || rec.messageType !== ZrtpMessageType.Hello) return '';
  return createHash('sha256').update(buf.subarray(rec.messageOffset, rec.messageOffset + rec.messageLength)).digest('hex');
}
const scratch = new ZrtpRecord();
