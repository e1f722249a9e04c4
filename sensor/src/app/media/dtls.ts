/**
 * DTLS record and handshake walker for DTLS-SRTP fingerprint checks
 * (RFC 6347 DTLS 1.2, RFC 9147 DTLS 1.3, RFC 5764 DTLS-SRTP, RFC 8122 §5
 * fingerprints). Compare Wireshark's epan/dissectors/packet-dtls.c.
 *
 * DTLSPlaintext record (RFC 6347 §4.1), 13 bytes:
 *   type(1) version(2: 0xFEFF 1.0, 0xFEFD 1.2, 0xFEFC 1.3) epoch(2) sequence(6) length(2)
 * DTLS 1.3 encrypted records use the unified header (RFC 9147 §4): first byte
 * 001CSLEE (C: connection id present, S: 16-bit sequence, L: length present,
 * EE: low epoch bits), hence first bytes 32..63 in RFC 7983.
 * Handshake header (RFC 6347 §4.2.2), 12 bytes:
 *   msg_type(1) length(3) message_seq(2) fragment_offset(3) fragment_length(3)
 *
 * Why: in DTLS 1.2 the Certificate message (type 11) is in clear, so its first
 * certificate can be hashed and compared with the a=fingerprint of the same
 * SDP leg; a mismatch means something on the path terminates DTLS. DTLS 1.3
 * encrypts the Certificate, which must be reported as "cannot verify"
 * (sawDtls13), never as "ok".
 *
 * The walker allocates nothing and never throws. Fragmented Certificate
 * messages are put together by DtlsCertificateAssembler, which allocates its
 * bounded buffers once.
 */
import { createHash, getHashes } from 'node:crypto';
import type { WeirdCounters } from '../../decode/weird.js';

export const DTLS_CONTENT_CHANGE_CIPHER_SPEC = 20;
export const DTLS_CONTENT_ALERT = 21;
export const DTLS_CONTENT_HANDSHAKE = 22;
export const DTLS_CONTENT_APPLICATION_DATA = 23;

export const DTLS_VERSION_1_0 = 0xfeff;
export const DTLS_VERSION_1_2 = 0xfefd;
export const DTLS_VERSION_1_3 = 0xfefc;

export const DTLS_HS_CLIENT_HELLO = 1;
export const DTLS_HS_SERVER_HELLO = 2;
export const DTLS_HS_HELLO_VERIFY_REQUEST = 3;
export const DTLS_HS_CERTIFICATE = 11;

const DTLS_RECORD_HEADER = 13;
const DTLS_HANDSHAKE_HEADER = 12;
const EXT_SUPPORTED_VERSIONS = 43;

export interface DtlsVisitor {
  /** Every DTLSPlaintext record. seqHi is the top 16 bits of the 48-bit sequence, seqLo the low 32. */
  onRecord?(contentType: number, version: number, epoch: number, seqHi: number, seqLo: number, fragmentOffset: number, fragmentLength: number): void;
  /** A DTLS 1.3 unified-header (encrypted) record. length is what remains of it in the datagram. */
  onCiphertextRecord?(firstByte: number, offset: number, length: number): void;
  /** Each handshake message (or fragment) of an epoch-0 handshake record; the body is buf[bodyOffset .. +fragmentLength). */
  onHandshake?(
    msgType: number,
    length: number,
    messageSeq: number,
    fragmentOffset: number,
    fragmentLength: number,
    buf: Uint8Array,
    bodyOffset: number,
  ): void;
  /** First certificate (DER) of an unfragmented Certificate message. */
  onCertificate?(buf: Uint8Array, derOffset: number, derLength: number): void;
  /** ServerHello seen: legacy version and the supported_versions selection (0 when absent). */
  onServerHello?(legacyVersion: number, selectedVersion: number): void;
}

function u16(buf: Uint8Array, i: number): number {
  return (buf[i]! << 8) | buf[i + 1]!;
}
function u24(buf: Uint8Array, i: number): number {
  return (buf[i]! << 16) | (buf[i + 1]! << 8) | buf[i + 2]!;
}

/**
 * Walk every DTLS record of a datagram buf[off .. off+len). Returns false
 * (having reported the records before the bad one) on a malformed record.
 */
export function walkDtlsRecords(buf: Uint8Array, off: number, len: number, visitor: DtlsVisitor, weirds?: WeirdCounters): boolean {
  if (off < 0 || len < 1 || off + len > buf.length) {
    weirds?.weird('truncated_dtls');
    return false;
  }
  const end = off + len;
  let p = off;
  while (p < end) {
    const type = buf[p]!;
    if (type >= 32 && type <= 63) {
      // RFC 9147 §4 unified header: 001CSLEE.
      const hasCid = (type & 0x10) !== 0;
      const seqLen = (type & 0x08) !== 0 ? 2 : 1;
      const hasLen = (type & 0x04) !== 0;
      if (hasCid || !hasLen) {
        // CID length is only known from the handshake; without L the record runs to the end.
        visitor.onCiphertextRecord?.(type, p, end - p);
        return true;
      }
      const hdr = 1 + seqLen + 2;
      if (p + hdr > end) {
        weirds?.weird('truncated_dtls');
        return false;
      }
      const rlen = u16(buf, p + 1 + seqLen);
      if (p + hdr + rlen > end) {
        weirds?.weird('dtls_record_overflow');
        return false;
      }
      visitor.onCiphertextRecord?.(type, p, hdr + rlen);
      p += hdr + rlen;
      continue;
    }
    if (type < 20 || type > 63) {
      weirds?.weird('dtls_bad_content_type');
      return false;
    }
    if (p + DTLS_RECORD_HEADER > end) {
      weirds?.weird('truncated_dtls');
      return false;
    }
    const version = u16(buf, p + 1);
    if (buf[p + 1]! !== 0xfe && version !== 0x0100) {
      // 0x0100 is OpenSSL's pre-RFC DTLS1_BAD_VER; everything else is 0xFExx.
      weirds?.weird('dtls_bad_version');
      return false;
    }
    const epoch = u16(buf, p + 3);
    const rlen = u16(buf, p + 11);
    const body = p + DTLS_RECORD_HEADER;
    if (body + rlen > end) {
      weirds?.weird('dtls_record_overflow');
      return false;
    }
    visitor.onRecord?.(type, version, epoch, u16(buf, p + 5), ((buf[p + 7]! << 24) | u24(buf, p + 8)) >>> 0, body, rlen);
    if (type === DTLS_CONTENT_HANDSHAKE && epoch === 0) walkHandshake(buf, body, body + rlen, visitor, weirds);
    p = body + rlen;
  }
  return true;
}

/** Handshake messages in one epoch-0 record (several may share a record). */
function walkHandshake(buf: Uint8Array, p: number, end: number, visitor: DtlsVisitor, weirds?: WeirdCounters): void {
  while (p < end) {
    if (p + DTLS_HANDSHAKE_HEADER > end) {
      weirds?.weird('dtls_handshake_truncated');
      return;
    }
    const msgType = buf[p]!;
    const length = u24(buf, p + 1);
    const messageSeq = u16(buf, p + 4);
    const fragOffset = u24(buf, p + 6);
    const fragLength = u24(buf, p + 9);
    const bodyOff = p + DTLS_HANDSHAKE_HEADER;
    if (bodyOff + fragLength > end || fragOffset + fragLength > length) {
      weirds?.weird('dtls_handshake_bad_length');
      return;
    }
    visitor.onHandshake?.(msgType, length, messageSeq, fragOffset, fragLength, buf, bodyOff);
    const whole = fragOffset === 0 && fragLength === length;
    if (whole) {
      if (msgType === DTLS_HS_CERTIFICATE && visitor.onCertificate !== undefined) {
        const c = firstCertificateIn(buf, bodyOff, length);
        if (c >= 0) visitor.onCertificate(buf, bodyOff + 6, c);
        else weirds?.weird('dtls_certificate_bad_length');
      } else if (msgType === DTLS_HS_SERVER_HELLO && visitor.onServerHello !== undefined) {
        readServerHello(buf, bodyOff, bodyOff + length, visitor);
      }
    }
    p = bodyOff + fragLength;
  }
}

/**
 * Certificate body (RFC 5246 §7.4.2): certificate_list<0..2^24-1> of
 * ASN.1Cert<1..2^24-1>. Returns the length of the first certificate, whose
 * DER starts 6 bytes into the body, or -1.
 */
function firstCertificateIn(buf: Uint8Array, body: number, length: number): number {
  if (length < 6) return -1;
  const listLen = u24(buf, body);
  if (listLen + 3 > length) return -1;
  const certLen = u24(buf, body + 3);
  if (certLen === 0 || certLen + 3 > listLen) return -1;
  return certLen;
}

/** ServerHello (RFC 6347 §4.2 / RFC 9147 §5.3): look for supported_versions (RFC 8446 §4.2.1). */
function readServerHello(buf: Uint8Array, p: number, end: number, visitor: DtlsVisitor): void {
  if (p + 2 + 32 + 1 > end) return;
  const legacy = u16(buf, p);
  p += 2 + 32;
  p += 1 + buf[p]!; // session id
  p += 2 + 1; // cipher suite, compression
  let selected = 0;
  if (p + 2 <= end) {
    const extEnd = p + 2 + u16(buf, p);
    p += 2;
    if (extEnd <= end) {
      while (p + 4 <= extEnd) {
        const et = u16(buf, p);
        const el = u16(buf, p + 2);
        if (p + 4 + el > extEnd) break;
        if (et === EXT_SUPPORTED_VERSIONS && el === 2) selected = u16(buf, p + 4);
        p += 4 + el;
      }
    }
  }
  visitor.onServerHello!(legacy, selected);
}

/**
 * A ready-made visitor that keeps the facts a DTLS-SRTP check needs. Reuse
 * one per flow direction; call reset() when a new handshake starts.
 * Fragmented Certificate messages go through its assembler.
 */
export class DtlsFacts implements DtlsVisitor {
  sawClientHello = false;
  sawServerHello = false;
  /** DTLS 1.3 in use (supported_versions or unified-header records): the certificate is encrypted, report "cannot verify". */
  sawDtls13 = false;
  sawApplicationData = false;
  /** Set when a first certificate is available in `certificate` (a copy that outlives the packet). */
  certificate: Buffer | null = null;
  readonly assembler: DtlsCertificateAssembler;

  constructor(maxCertificateMessage = 16384) {
    this.assembler = new DtlsCertificateAssembler(maxCertificateMessage);
  }

  reset(): void {
    this.sawClientHello = false;
    this.sawServerHello = false;
    this.sawDtls13 = false;
    this.sawApplicationData = false;
    this.certificate = null;
    this.assembler.reset();
  }

  onRecord(contentType: number, version: number): void {
    if (contentType === DTLS_CONTENT_APPLICATION_DATA) this.sawApplicationData = true;
    if (version === DTLS_VERSION_1_3) this.sawDtls13 = true;
  }

  onCiphertextRecord(): void {
    this.sawDtls13 = true;
  }

  onHandshake(msgType: number, length: number, messageSeq: number, fragOffset: number, fragLength: number, buf: Uint8Array, bodyOffset: number): void {
    if (msgType === DTLS_HS_CLIENT_HELLO) this.sawClientHello = true;
    else if (msgType === DTLS_HS_SERVER_HELLO) this.sawServerHello = true;
    else if (msgType === DTLS_HS_CERTIFICATE && this.certificate === null && !(fragOffset === 0 && fragLength === length)) {
      if (this.assembler.add(messageSeq, length, fragOffset, fragLength, buf, bodyOffset) && this.assembler.firstCertificate()) {
        this.certificate = this.assembler.copyFirstCertificate();
      }
    }
  }

  onCertificate(buf: Uint8Array, derOffset: number, derLength: number): void {
    // Copy: the capture buffer is reused for the next packet. Once per handshake.
    if (this.certificate === null) this.certificate = Buffer.from(buf.subarray(derOffset, derOffset + derLength));
  }

  onServerHello(legacyVersion: number, selectedVersion: number): void {
    this.sawServerHello = true;
    if (selectedVersion === DTLS_VERSION_1_3 || legacyVersion === DTLS_VERSION_1_3) this.sawDtls13 = true;
  }
}

/**
 * Reassembles one fragmented Certificate handshake message (RFC 6347 §4.2.3:
 * fragments carry offset and length; they may overlap, repeat on
 * retransmission, and arrive out of order). Buffers are allocated once, up to
 * maxLength; a bigger message is refused (oversize) rather than grown.
 */
export class DtlsCertificateAssembler {
  readonly maxLength: number;
  private readonly data: Uint8Array;
  private readonly have: Uint8Array;
  messageSeq = -1;
  length = 0;
  /** Distinct bytes received so far. */
  filled = 0;
  complete = false;
  oversize = false;
  /** After firstCertificate(): offset/length of the first DER certificate inside message(). */
  certOffset = 0;
  certLength = 0;

  constructor(maxLength = 16384) {
    this.maxLength = maxLength;
    this.data = new Uint8Array(maxLength);
    this.have = new Uint8Array(maxLength);
  }

  reset(): void {
    if (this.messageSeq >= 0) this.have.fill(0, 0, Math.min(this.length, this.maxLength));
    this.messageSeq = -1;
    this.length = 0;
    this.filled = 0;
    this.complete = false;
    this.oversize = false;
    this.certOffset = 0;
    this.certLength = 0;
  }

  /**
   * Add one fragment (the body bytes buf[bodyOffset .. +fragmentLength)).
   * A new message_seq restarts assembly. Returns true exactly when this call
   * completed the message.
   */
  add(messageSeq: number, length: number, fragmentOffset: number, fragmentLength: number, buf: Uint8Array, bodyOffset: number): boolean {
    if (messageSeq !== this.messageSeq || length !== this.length) {
      this.reset();
      this.messageSeq = messageSeq;
      this.length = length;
      if (length > this.maxLength || length === 0) {
        this.oversize = length > this.maxLength;
        return false;
      }
    }
    if (this.complete || this.oversize || this.length === 0) return false;
    if (fragmentOffset + fragmentLength > length || bodyOffset < 0 || bodyOffset + fragmentLength > buf.length) return false;
    for (let i = 0; i < fragmentLength; i++) {
      const at = fragmentOffset + i;
      if (this.have[at] === 0) {
        this.have[at] = 1;
        this.filled++;
      }
      this.data[at] = buf[bodyOffset + i]!;
    }
    if (this.filled === length) {
      this.complete = true;
      return true;
    }
    return false;
  }

  /** The complete Certificate message body (a view into the assembler's buffer; valid until reset). */
  message(): Uint8Array {
    return this.data.subarray(0, this.complete ? this.length : 0);
  }

  /** Locate the first certificate in the completed message; false if incomplete or malformed. */
  firstCertificate(): boolean {
    if (!this.complete) return false;
    const n = firstCertificateIn(this.data, 0, this.length);
    if (n < 0) return false;
    this.certOffset = 6;
    this.certLength = n;
    return true;
  }

  /** A copy of the first certificate's DER (call after firstCertificate() returned true). */
  copyFirstCertificate(): Buffer {
    return Buffer.from(this.data.subarray(this.certOffset, this.certOffset + this.certLength));
  }
}

/** SDP hash-func names (RFC 8122 §5, IANA "Hash Function Textual Names") to node:crypto names. */
const HASH_NAMES: Readonly<Record<string, string>> = {
  'sha-1': 'sha1',
  'sha-224': 'sha224',
  'sha-256': 'sha256',
  'sha-384': 'sha384',
  'sha-512': 'sha512',
  md5: 'md5',
  md2: 'md2',
};
let available: Set<string> | null = null;

/**
 * The SDP a=fingerprint value of a DER certificate (RFC 8122 §5): the hash
 * as uppercase hex byte pairs joined by ':'. hashFunc is the SDP token
 * ("sha-256", case-insensitive). Returns '' for a hash node cannot compute.
 */
export function certificateFingerprint(der: Uint8Array, hashFunc: string): string {
  const name = HASH_NAMES[hashFunc.toLowerCase()];
  if (name === undefined) return '';
  if (available === null) available = new Set(getHashes());
  if (!available.has(name)) return '';
  const hex = createHash(name).update(der).digest('hex').toUpperCase();
  let out = '';
  for (let i = 0; i < hex.length; i += 2) out += (i === 0 ? '' : ':') + hex.slice(i, i + 2);
  return out;
}
