/**
 * SIP message parser (RFC 3261 §7 message format, §20 header fields, §18.3
 * Content-Length framing), with the compact header forms of RFC 3261 §7.3.3
 * and later RFCs (3265, 3515, 3892, 3841, 4028, 4474), multipart bodies
 * (RFC 2046 §5.1, used by SIPREC RFC 7866), and the liberal input handling that
 * the RFC 4475 torture tests expect (folded lines, odd whitespace, mixed-case
 * names, LF-only line ends). Shape follows Wireshark's packet-sip.c and Zeek's
 * SIP analyzer: bad input becomes a named weird and null, never an exception.
 *
 * SIP is low-rate, so this allocates strings and objects freely. The body is
 * referenced, not copied (see SipMessage.body).
 */
import type { WeirdCounters } from '../../decode/weird.js';
import type { SipBodyPart, SipMessage, SipParams, SipVia } from './sip-message.js';
import {
  newParams, parseContact, parseHostPort, parseNameAddr, parseParams, splitCommaList,
} from './sip-uri.js';

export { parseSipUri } from './sip-uri.js';

/** Compact form -> canonical long name (RFC 3261 §7.3.3 table and later registrations, IANA "SIP Parameters"). */
const COMPACT_NAMES: Readonly<Record<string, string>> = {
  i: 'call-id',
  f: 'from',
  t: 'to',
  v: 'via',
  m: 'contact',
  l: 'content-length',
  c: 'content-type',
  k: 'supported',
  s: 'subject',
  e: 'content-encoding',
  o: 'event',
  r: 'refer-to',
  b: 'referred-by',
  u: 'allow-events',
  x: 'session-expires',
  a: 'accept-contact',
  j: 'reject-contact',
  d: 'request-disposition',
  y: 'identity',
  n: 'identity-info',
};

/** Map a header name as seen on the wire to its canonical lower-case long form. */
export function canonicalHeaderName(name: string): string {
  const lower = name.toLowerCase();
  if (lower.length === 1) return COMPACT_NAMES[lower] ?? lower;
  return lower;
}

/** RFC 3261 §25.1 token characters (header names and methods): [A-Za-z0-9-.!%*_+`'~]. */
const TOKEN_CHARS = new Uint8Array(128);
for (const ch of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.!%*_+`'~") TOKEN_CHARS[ch.charCodeAt(0)] = 1;

/** Is s a non-empty token? A table walk instead of a regex: it runs for every header line. */
function isToken(s: string): boolean {
  const n = s.length;
  if (n === 0) return false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || TOKEN_CHARS[c] === 0) return false;
  }
  return true;
}

/** Maximum nesting of multipart/* inside multipart/* that we follow. */
const MAX_MULTIPART_DEPTH = 3;

/**
 * Where the header section ends. Returns [headerEnd, bodyStart] (absolute), or
 * null when there is no blank line. Accepts CRLFCRLF, LFLF and LF CR LF.
 */
export function findHeaderEnd(buf: Buffer, from: number, end: number): [number, number] | null {
  for (let p = from; p < end; p++) {
    if (buf[p] !== 0x0a) continue;
    if (p + 1 < end && buf[p + 1] === 0x0a) return [p, p + 2];
    if (p + 2 < end && buf[p + 1] === 0x0d && buf[p + 2] === 0x0a) return [p, p + 3];
    if (p + 2 === end && buf[p + 1] === 0x0d) return null; // half a terminator at the end
  }
  return null;
}

/** Split header text into logical lines, joining LWS continuation lines (RFC 3261 §7.3.1). */
function unfoldLines(text: string): string[] {
  const out: string[] = [];
  // Same as text.split(/\r?\n/), by indexOf (no regex): LF ends a line, a CR right before it goes too.
  let from = 0;
  for (;;) {
    const lf = text.indexOf('\n', from);
    const stop = lf < 0 ? text.length : lf;
    const line = text.slice(from, stop > from && text.charCodeAt(stop - 1) === 0x0d && lf >= 0 ? stop - 1 : stop);
    const c = line.charCodeAt(0);
    if ((c === 0x20 || c === 0x09) && out.length > 0) {
      out[out.length - 1] = out[out.length - 1].trimEnd() + ' ' + line.trim();
    } else {
      out.push(line);
    }
    if (lf < 0) break;
    from = lf + 1;
  }
  return out;
}

function parseVia(value: string): SipVia | null {
  // sent-protocol = name SLASH version SLASH transport, with LWS allowed around the slashes (RFC 4475 §3.1.1.1)
  const m = /^\s*([^\s/]+)\s*\/\s*([^\s/]+)\s*\/\s*([^\s;]+)\s+([^;]+)(.*)$/s.exec(value);
  if (m === null) return null;
  const hp = parseHostPort(m[4]);
  if (hp === null) return null;
  const params = parseParams(m[5]);
  const rportRaw = params['rport'];
  let rport: number | undefined;
  if (rportRaw !== undefined) {
    rport = /^\d{1,5}$/.test(rportRaw) ? Number(rportRaw) : 0;
  }
  return {
    protocol: (m[1] + '/' + m[2]).toUpperCase(),
    transport: m[3].toUpperCase(),
    host: hp.host,
    port: hp.port,
    branch: params['branch'],
    received: params['received'],
    rport,
    params,
  };
}

function parseTokenList(value: string, into: string[]): void {
  for (const item of splitCommaList(value)) into.push(item.toLowerCase());
}

function parseContentType(value: string): { type: string; params: SipParams } {
  const semi = value.indexOf(';');
  const type = (semi >= 0 ? value.slice(0, semi) : value).trim().toLowerCase();
  return { type, params: semi >= 0 ? parseParams(value.slice(semi)) : newParams() };
}

function dispositionType(value: string): string {
  const semi = value.indexOf(';');
  return (semi >= 0 ? value.slice(0, semi) : value).trim().toLowerCase();
}

/**
 * Parse one SIP message occupying buf[off, off+len). On UDP the datagram is the
 * message; on TCP pass exactly what SipStreamFramer delivered. Returns null
 * (and counts a weird) when the message cannot be used.
 */
export function parseSipMessage(buf: Buffer, off: number, len: number, weirds?: WeirdCounters): SipMessage | null {
  if (off < 0 || len <= 0 || off + len > buf.length) {
    weirds?.weird('sip_bad_bounds');
    return null;
  }
  const end = off + len;
  // RFC 3261 §7.5: ignore CRLFs before the start line.
  let start = off;
  while (start < end && (buf[start] === 0x0d || buf[start] === 0x0a)) start++;
  if (start === end) {
    weirds?.weird('sip_empty_message');
    return null;
  }

  let headerEnd: number;
  let bodyStart: number;
  const he = findHeaderEnd(buf, start, end);
  if (he !== null) {
    headerEnd = he[0];
    bodyStart = he[1];
  } else {
    // No blank line: either truncated or a sloppy sender without body. Parse what is there.
    weirds?.weird('sip_missing_blank_line');
    headerEnd = end;
    bodyStart = end;
  }

  const lines = unfoldLines(buf.toString('utf8', start, headerEnd));
  const startLine = lines[0].trim();

  const msg: SipMessage = {
    kind: 'request',
    method: '',
    requestUri: '',
    statusCode: 0,
    reason: '',
    version: 'SIP/2.0',
    callId: undefined,
    from: undefined,
    to: undefined,
    cseq: undefined,
    vias: [],
    contacts: [],
    recordRoutes: [],
    routes: [],
    require: [],
    supported: [],
    contentType: '',
    contentTypeParams: newParams(),
    contentLength: undefined,
    headers: [],
    body: { buf, off: bodyStart, len: 0 },
    bodyParts: [],
  };

  const status = /^(SIP\/2\.0)[ \t]+(\d{3})(?:[ \t]+(.*))?$/i.exec(startLine);
  if (status !== null) {
    msg.kind = 'response';
    msg.version = status[1].toUpperCase();
    msg.statusCode = Number(status[2]);
    msg.reason = status[3] ?? '';
  } else {
    const parts = startLine.split(/[ \t]+/);
    if (parts.length !== 3 || !isToken(parts[0]) || !/^SIP\/2\.0$/i.test(parts[2]) || parts[1].indexOf(':') < 0) {
      weirds?.weird('sip_malformed_start_line');
      return null;
    }
    msg.method = parts[0];
    msg.requestUri = parts[1];
    msg.version = parts[2].toUpperCase();
  }

  let malformedCounted = false;
  const malformed = (): void => {
    // One count per message keeps a single broken header from dominating the stats.
    if (!malformedCounted) weirds?.weird('sip_malformed_header');
    malformedCounted = true;
  };

  for (let li = 1; li < lines.length; li++) {
    const line = lines[li];
    if (line.length === 0) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) {
      malformed();
      continue;
    }
    const rawName = line.slice(0, colon).trim();
    if (!isToken(rawName)) {
      malformed();
      continue;
    }
    const name = canonicalHeaderName(rawName);
    const value = line.slice(colon + 1).trim();
    msg.headers.push([name, value]);

    switch (name) {
      case 'call-id':
        if (msg.callId === undefined) msg.callId = value;
        break;
      case 'from':
      case 'to': {
        const key = name === 'from' ? 'from' : 'to';
        if (msg[key] !== undefined) break;
        const na = parseNameAddr(value);
        if (na === null) malformed();
        else msg[key] = na;
        break;
      }
      case 'cseq': {
        const m = /^(\d{1,10})\s+(\S+)$/.exec(value);
        if (m === null) malformed();
        else if (msg.cseq === undefined) msg.cseq = { seq: Number(m[1]), method: m[2] };
        break;
      }
      case 'via':
        for (const item of splitCommaList(value)) {
          const via = parseVia(item);
          if (via === null) malformed();
          else msg.vias.push(via);
        }
        break;
      case 'contact':
        for (const item of splitCommaList(value)) {
          const c = parseContact(item);
          if (c === null) malformed();
          else msg.contacts.push(c);
        }
        break;
      case 'record-route':
      case 'route': {
        const list = name === 'route' ? msg.routes : msg.recordRoutes;
        for (const item of splitCommaList(value)) {
          const na = parseNameAddr(item);
          if (na === null) malformed();
          else list.push(na.uri);
        }
        break;
      }
      case 'require':
        parseTokenList(value, msg.require);
        break;
      case 'supported':
        parseTokenList(value, msg.supported);
        break;
      case 'content-type': {
        const ct = parseContentType(value);
        msg.contentType = ct.type;
        msg.contentTypeParams = ct.params;
        break;
      }
      case 'content-length':
        if (/^\d{1,9}$/.test(value)) msg.contentLength = Number(value);
        else weirds?.weird('sip_bad_content_length');
        break;
      default:
        break;
    }
  }

  if (msg.callId === undefined || msg.from === undefined || msg.to === undefined || msg.cseq === undefined) {
    weirds?.weird('sip_missing_mandatory_header');
  }

  // Body: Content-Length when present (RFC 3261 §18.3), else the rest of the datagram.
  // A UA would reject a datagram shorter than its Content-Length with 400, but
  // a passive sensor cannot know the receiver was as strict: it keeps the
  // message (and whatever SDP it carries) with the bytes that are there, and
  // counts the anomaly. tshark likewise still counts such messages.
  const available = end - bodyStart;
  if (msg.contentLength !== undefined) {
    if (msg.contentLength > available) {
      weirds?.weird('sip_truncated_body');
      msg.body.len = available;
    } else {
      msg.body.len = msg.contentLength;
    }
  } else {
    msg.body.len = available;
  }

  if (msg.body.len > 0) {
    if (msg.contentType.startsWith('multipart/')) {
      const boundary = msg.contentTypeParams['boundary'];
      if (boundary === undefined || boundary.length === 0) {
        weirds?.weird('sip_multipart_without_boundary');
        msg.bodyParts.push({ contentType: msg.contentType, contentDisposition: '', off: msg.body.off, len: msg.body.len });
      } else if (!parseMultipart(buf, msg.body.off, msg.body.off + msg.body.len, boundary, msg.bodyParts, 1)) {
        weirds?.weird('sip_malformed_multipart');
      }
    } else {
      let disposition = '';
      for (const h of msg.headers) if (h[0] === 'content-disposition') disposition = dispositionType(h[1]);
      msg.bodyParts.push({ contentType: msg.contentType, contentDisposition: disposition, off: msg.body.off, len: msg.body.len });
    }
  }
  return msg;
}

/** Index of `delim` in buf[from, end) that starts a line (at `lineStartOk` or after LF); -1 if none. */
function findDelimiter(buf: Buffer, delim: Buffer, from: number, end: number, bodyStart: number): number {
  let p = from;
  while (p < end) {
    const i = buf.indexOf(delim, p);
    if (i < 0 || i + delim.length > end) return -1;
    if (i === bodyStart || buf[i - 1] === 0x0a) return i;
    p = i + 1;
  }
  return -1;
}

/**
 * RFC 2046 §5.1.1 multipart body: "--boundary" lines separate parts, "--boundary--"
 * closes. Each part has MIME headers, a blank line, then content; the CRLF before
 * a delimiter belongs to the delimiter. Leaf parts are appended to `out`;
 * nested multipart parts are flattened (up to MAX_MULTIPART_DEPTH).
 * Returns false if no part could be found.
 */
function parseMultipart(buf: Buffer, bodyOff: number, bodyEnd: number, boundary: string, out: SipBodyPart[], depth: number): boolean {
  const delim = Buffer.from('--' + boundary, 'utf8');
  let d = findDelimiter(buf, delim, bodyOff, bodyEnd, bodyOff);
  if (d < 0) return false;
  let found = false;
  for (let guard = 0; guard < 1000; guard++) {
    let p = d + delim.length;
    if (p + 2 <= bodyEnd && buf[p] === 0x2d && buf[p + 1] === 0x2d) break; // close-delimiter
    // transport-padding and the CRLF ending the delimiter line
    while (p < bodyEnd && buf[p] !== 0x0a) p++;
    const partStart = p + 1;
    if (partStart >= bodyEnd) break;
    const next = findDelimiter(buf, delim, partStart, bodyEnd, bodyOff);
    let partEnd = next < 0 ? bodyEnd : next;
    if (next >= 0) {
      // the line break before the delimiter belongs to the delimiter
      if (partEnd > partStart && buf[partEnd - 1] === 0x0a) partEnd--;
      if (partEnd > partStart && buf[partEnd - 1] === 0x0d) partEnd--;
    }
    addPart(buf, partStart, partEnd, out, depth);
    found = true;
    if (next < 0) break; // missing close delimiter: take the rest as the last part
    d = next;
  }
  return found;
}

function addPart(buf: Buffer, partStart: number, partEnd: number, out: SipBodyPart[], depth: number): void {
  let contentType = '';
  let ctParams: SipParams = newParams();
  let disposition = '';
  let contentStart: number;
  if (partStart < partEnd && (buf[partStart] === 0x0a || (buf[partStart] === 0x0d && buf[partStart + 1] === 0x0a))) {
    // no part headers: defaults to text/plain (RFC 2046 §5.1); the blank line is the first line
    contentStart = partStart + (buf[partStart] === 0x0a ? 1 : 2);
  } else {
    const he = findHeaderEnd(buf, partStart, partEnd);
    contentStart = he === null ? partEnd : he[1];
    const headerEnd = he === null ? partEnd : he[0];
    for (const line of unfoldLines(buf.toString('utf8', partStart, headerEnd))) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = canonicalHeaderName(line.slice(0, colon).trim());
      const value = line.slice(colon + 1).trim();
      if (name === 'content-type') {
        const ct = parseContentType(value);
        contentType = ct.type;
        ctParams = ct.params;
      } else if (name === 'content-disposition') disposition = dispositionType(value);
    }
  }
  if (depth < MAX_MULTIPART_DEPTH && contentType.startsWith('multipart/') && ctParams['boundary']) {
    if (parseMultipart(buf, contentStart, partEnd, ctParams['boundary'], out, depth + 1)) return;
  }
  out.push({ contentType, contentDisposition: disposition, off: contentStart, len: Math.max(0, partEnd - contentStart) });
}

/**
 * The SDP texts carried by a message: every application/sdp part (also inside
 * multipart bodies), or the whole body when it has no Content-Type but starts
 * with "v=". Returned strings are copies, safe to keep.
 */
export function getSdpBodies(msg: SipMessage): string[] {
  const out: string[] = [];
  const buf = msg.body.buf;
  for (const part of msg.bodyParts) {
    if (part.contentType === 'application/sdp') out.push(buf.toString('utf8', part.off, part.off + part.len));
  }
  if (out.length === 0 && msg.contentType === '' && msg.body.len >= 2) {
    const o = msg.body.off;
    if (buf[o] === 0x76 && buf[o + 1] === 0x3d) out.push(buf.toString('utf8', o, o + msg.body.len));
  }
  return out;
}

/** First value of a header by canonical lower-case long name (e.g. 'p-dcs-laes'), or undefined. */
export function getHeader(msg: SipMessage, name: string): string | undefined {
  const want = canonicalHeaderName(name);
  for (const h of msg.headers) if (h[0] === want) return h[1];
  return undefined;
}

/** All values of a header by name, in wire order. */
export function getHeaders(msg: SipMessage, name: string): string[] {
  const want = canonicalHeaderName(name);
  const out: string[] = [];
  for (const h of msg.headers) if (h[0] === want) out.push(h[1]);
  return out;
}
