/**
 * Cheap "is this SIP?" probe (RFC 3261 §7.1 Request-Line, §7.2 Status-Line).
 *
 * Modelled on Wireshark's dissect_sip_heur (epan/dissectors/packet-sip.c): look
 * only at the first line, cheapest checks first, never throw. It runs on many
 * UDP/TCP payloads, so it reads bytes with buf[i] and allocates nothing: the
 * known method names are pre-encoded once at module load.
 *
 * Accepted:
 *   Status-Line   "SIP/2.0" SP 3DIGIT ...
 *   Request-Line  Method SP Request-URI SP "SIP/2.0" (CR|LF|end)
 *     where Method is one of the RFC 3261/3262/3265/3311/3428/3515/3903/6086
 *     methods, or any uppercase token whose Request-URI starts "sip:", "sips:"
 *     or "tel:".
 */

const KNOWN_METHODS: readonly Uint8Array[] = [
  'INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'REGISTER', 'PRACK', 'SUBSCRIBE', 'NOTIFY',
  'PUBLISH', 'INFO', 'REFER', 'MESSAGE', 'UPDATE',
].map((m) => Buffer.from(m, 'latin1'));

/** Longest first line we are willing to scan; real Request-Lines are far shorter. */
const MAX_START_LINE = 4096;

const CH_SP = 0x20;
const CH_CR = 0x0d;
const CH_LF = 0x0a;

/** RFC 3261 token characters, restricted to uppercase letters (methods are case-sensitive, §7.1). */
function isUpperTokenChar(c: number): boolean {
  return (
    (c >= 0x41 && c <= 0x5a) || // A-Z
    (c >= 0x30 && c <= 0x39) || // 0-9
    c === 0x2d || c === 0x2e || c === 0x21 || c === 0x25 || c === 0x2a || // - . ! % *
    c === 0x5f || c === 0x2b || c === 0x60 || c === 0x27 || c === 0x7e // _ + ` ' ~
  );
}

function isSipVersionAt(buf: Buffer, i: number, end: number): boolean {
  // "SIP/2.0" compared byte by byte (case-insensitive per RFC 3261 §7.1 "SIP-Version"
  // is case-insensitive; in practice always uppercase).
  return (
    i + 7 <= end &&
    (buf[i] | 0x20) === 0x73 && // s
    (buf[i + 1] | 0x20) === 0x69 && // i
    (buf[i + 2] | 0x20) === 0x70 && // p
    buf[i + 3] === 0x2f && // /
    buf[i + 4] === 0x32 && // 2
    buf[i + 5] === 0x2e && // .
    buf[i + 6] === 0x30 // 0
  );
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function methodIsKnown(buf: Buffer, off: number, len: number): boolean {
  for (let k = 0; k < KNOWN_METHODS.length; k++) {
    const m = KNOWN_METHODS[k];
    if (m.length !== len) continue;
    let same = true;
    for (let j = 0; j < len; j++) {
      if (buf[off + j] !== m[j]) {
        same = false;
        break;
      }
    }
    if (same) return true;
  }
  return false;
}

/** True when the URI at i starts with "sip:", "sips:" or "tel:" (scheme is case-insensitive). */
function uriSchemeIsSipOrTel(buf: Buffer, i: number, end: number): boolean {
  if (i + 4 > end) return false;
  const a = buf[i] | 0x20;
  const b = buf[i + 1] | 0x20;
  const c = buf[i + 2] | 0x20;
  const d = buf[i + 3];
  if (a === 0x73 && b === 0x69 && c === 0x70) {
    // sip: or sips:
    if (d === 0x3a) return true;
    return (d | 0x20) === 0x73 && i + 5 <= end && buf[i + 4] === 0x3a;
  }
  return a === 0x74 && b === 0x65 && c === 0x6c && d === 0x3a; // tel:
}

/**
 * Does the payload at buf[off, off+len) begin with a SIP start line?
 * No allocation; at most MAX_START_LINE bytes are examined.
 */
export function looksLikeSip(buf: Buffer, off: number, len: number): boolean {
  if (off < 0 || len < 12) return false; // "SIP/2.0 200 " or "ACK s SIP/2.0" are the shortest
  let end = off + len;
  if (end > buf.length) end = buf.length;
  if (end - off < 12) return false;

  // Status-Line: "SIP/2.0 " 3DIGIT
  if (isSipVersionAt(buf, off, end)) {
    return (
      buf[off + 7] === CH_SP && isDigit(buf[off + 8]) && isDigit(buf[off + 9]) && isDigit(buf[off + 10]) &&
      (buf[off + 11] === CH_SP || buf[off + 11] === CH_CR || buf[off + 11] === CH_LF)
    );
  }

  // Request-Line: Method SP
  const first = buf[off];
  if (first < 0x41 || first > 0x5a) return false;
  let i = off + 1;
  const methodLimit = Math.min(end, off + 32);
  while (i < methodLimit && isUpperTokenChar(buf[i])) i++;
  if (i >= end || buf[i] !== CH_SP) return false;
  const methodLen = i - off;
  const uriStart = i + 1;
  if (!methodIsKnown(buf, off, methodLen) && !uriSchemeIsSipOrTel(buf, uriStart, end)) return false;

  // Request-URI has no spaces; then SP "SIP/2.0" and the end of the line.
  const lineLimit = Math.min(end, off + MAX_START_LINE);
  let j = uriStart;
  while (j < lineLimit) {
    const c = buf[j];
    if (c === CH_SP || c === CH_CR || c === CH_LF) break;
    j++;
  }
  if (j === uriStart || j >= lineLimit || buf[j] !== CH_SP) return false;
  j++;
  if (!isSipVersionAt(buf, j, end)) return false;
  j += 7;
  return j === end || buf[j] === CH_CR || buf[j] === CH_LF;
}
