/**
 * SIP header value helpers: SIP/SIPS/TEL URIs (RFC 3261 §19.1, §25.1; RFC 3966),
 * name-addr / addr-spec (RFC 3261 §20.10, §25.1 "name-addr"), generic
 * parameters, host:port with IPv6 references (RFC 3261 §25.1 "IPv6reference",
 * RFC 5118), and comma-separated header lists (RFC 3261 §7.3.1).
 *
 * Low-rate code: it works on strings and may allocate. It never throws.
 */
import type { SipContact, SipNameAddr, SipParams, SipUri } from './sip-message.js';

/** A params map whose prototype cannot be polluted by hostile names. */
export function newParams(): SipParams {
  return Object.create(null) as SipParams;
}

/**
 * Split a header value at commas that are outside quoted strings and outside
 * <...> (RFC 3261 §7.3.1: "Contact: <sip:a,b@x>, \"Doe, J\" <sip:j@x>" is two values).
 * Empty elements are dropped.
 */
export function splitCommaList(value: string): string[] {
  const out: string[] = [];
  let inQuote = false;
  let angle = 0;
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (inQuote) {
      if (c === 0x5c) i++; // backslash escapes the next char (quoted-pair)
      else if (c === 0x22) inQuote = false;
    } else if (c === 0x22) inQuote = true;
    else if (c === 0x3c) angle++;
    else if (c === 0x3e) {
      if (angle > 0) angle--;
    } else if (c === 0x2c && angle === 0) {
      const part = value.slice(start, i).trim();
      if (part.length > 0) out.push(part);
      start = i + 1;
    }
  }
  const last = value.slice(start).trim();
  if (last.length > 0) out.push(last);
  return out;
}

/** Remove surrounding double quotes and resolve quoted-pairs (RFC 3261 §25.1). */
export function unquote(s: string): string {
  if (s.length < 2 || s.charCodeAt(0) !== 0x22 || s.charCodeAt(s.length - 1) !== 0x22) return s;
  let out = '';
  for (let i = 1; i < s.length - 1; i++) {
    const ch = s[i];
    if (ch === '\\' && i + 1 < s.length - 1) {
      out += s[i + 1];
      i++;
    } else out += ch;
  }
  return out;
}

/**
 * Parse ";a=b;c;d=\"q;v\"" into params (names lower-cased, values unquoted,
 * flags ''). Leading text before the first ';' is ignored.
 */
export function parseParams(s: string, into: SipParams = newParams(), separator = 0x3b): SipParams {
  let inQuote = false;
  let start = -1;
  const flush = (from: number, to: number): void => {
    const item = s.slice(from, to).trim();
    if (item.length === 0) return;
    const eq = item.indexOf('=');
    if (eq < 0) into[item.toLowerCase()] = '';
    else {
      const name = item.slice(0, eq).trim().toLowerCase();
      if (name.length > 0) into[name] = unquote(item.slice(eq + 1).trim());
    }
  };
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (inQuote) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inQuote = false;
    } else if (c === 0x22) inQuote = true;
    else if (c === separator) {
      if (start >= 0) flush(start, i);
      start = i + 1;
    }
  }
  if (start >= 0) flush(start, s.length);
  return into;
}

function parsePort(s: string): number | undefined {
  if (!/^\d{1,5}$/.test(s)) return undefined;
  const n = Number(s);
  return n <= 65535 ? n : undefined;
}

/**
 * "host", "host:port", "[v6]", "[v6]:port", and (liberally) a bare IPv6 address.
 * Host is lower-cased and returned without brackets; null when malformed.
 */
export function parseHostPort(s: string): { host: string; port: number | undefined } | null {
  const t = s.trim();
  if (t.length === 0) return null;
  if (t.charCodeAt(0) === 0x5b) {
    const close = t.indexOf(']');
    if (close < 0) return null;
    const host = t.slice(1, close).toLowerCase();
    const rest = t.slice(close + 1);
    if (rest.length === 0) return { host, port: undefined };
    if (rest.charCodeAt(0) !== 0x3a) return null;
    const port = parsePort(rest.slice(1));
    return port === undefined ? null : { host, port };
  }
  const first = t.indexOf(':');
  if (first < 0) return { host: t.toLowerCase(), port: undefined };
  if (t.indexOf(':', first + 1) >= 0) return { host: t.toLowerCase(), port: undefined }; // bare IPv6
  const port = parsePort(t.slice(first + 1));
  if (port === undefined) return null;
  return { host: t.slice(0, first).toLowerCase(), port };
}

/**
 * Parse a SIP, SIPS or TEL URI: scheme ":" [user[":"password] "@"] host [":" port]
 * *(";" param) ["?" headers]. A password is dropped (never kept). Returns null
 * when there is no scheme or the host part is malformed.
 */
export function parseSipUri(uri: string): SipUri | null {
  const s = uri.trim();
  const colon = s.indexOf(':');
  if (colon <= 0 || !/^[A-Za-z][A-Za-z0-9+.-]*$/.test(s.slice(0, colon))) return null;
  const scheme = s.slice(0, colon).toLowerCase();
  let rest = s.slice(colon + 1);
  const headers = newParams();
  const q = rest.indexOf('?');
  if (q >= 0) {
    parseParams('&' + rest.slice(q + 1), headers, 0x26);
    // header names are case-sensitive-ish in practice; parseParams lower-cases them, which is fine for lookups
    rest = rest.slice(0, q);
  }
  if (scheme === 'tel') {
    // RFC 3966: tel:+1-201-555-0123;phone-context=... — the number is the "user".
    const semi = rest.indexOf(';');
    const user = semi >= 0 ? rest.slice(0, semi) : rest;
    const params = semi >= 0 ? parseParams(rest.slice(semi)) : newParams();
    return { scheme, user, host: '', port: undefined, params, headers };
  }
  let user = '';
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    user = rest.slice(0, at);
    const pw = user.indexOf(':');
    if (pw >= 0) user = user.slice(0, pw); // never keep a password
    rest = rest.slice(at + 1);
  }
  const semi = rest.indexOf(';');
  const hostPart = semi >= 0 ? rest.slice(0, semi) : rest;
  const params = semi >= 0 ? parseParams(rest.slice(semi)) : newParams();
  const hp = parseHostPort(hostPart);
  if (hp === null) return null;
  return { scheme, user, host: hp.host, port: hp.port, params, headers };
}

/**
 * Parse name-addr or addr-spec with header parameters:
 *   ["display name" | token...] "<" uri ">" *(";" param)
 *   uri *(";" param)          (no <>: parameters belong to the header, §20.10)
 * Returns null when a quote or "<" is not closed.
 */
export function parseNameAddr(value: string): SipNameAddr | null {
  const s = value.trim();
  let displayName = '';
  let i = 0;
  if (s.charCodeAt(0) === 0x22) {
    let j = 1;
    let closed = -1;
    for (; j < s.length; j++) {
      const c = s.charCodeAt(j);
      if (c === 0x5c) j++;
      else if (c === 0x22) {
        closed = j;
        break;
      }
    }
    if (closed < 0) return null;
    displayName = unquote(s.slice(0, closed + 1));
    i = closed + 1;
  }
  const lt = s.indexOf('<', i);
  let uri: string;
  let paramText: string;
  if (lt >= 0) {
    if (displayName === '') displayName = s.slice(i, lt).trim();
    const gt = s.indexOf('>', lt + 1);
    if (gt < 0) return null;
    uri = s.slice(lt + 1, gt).trim();
    paramText = s.slice(gt + 1);
  } else {
    if (i > 0) return null; // quoted display name must be followed by <uri>
    const semi = s.indexOf(';');
    uri = (semi >= 0 ? s.slice(0, semi) : s).trim();
    paramText = semi >= 0 ? s.slice(semi) : '';
  }
  if (uri.length === 0) return null;
  const params = parseParams(paramText);
  const tag = params['tag'];
  return { displayName, uri, tag, params };
}

/** One Contact value, including the "*" wildcard of REGISTER. */
export function parseContact(value: string): SipContact | null {
  if (value.trim() === '*') return { displayName: '', uri: '*', params: newParams(), star: true };
  const na = parseNameAddr(value);
  if (na === null) return null;
  return { displayName: na.displayName, uri: na.uri, params: na.params, star: false };
}
