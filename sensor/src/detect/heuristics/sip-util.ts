/**
 * Small helpers shared by the SIP-side heuristics (signaling copy, key
 * exposure, declared recording): endpoint text handling, the hosts a SIP
 * message names as dialog hops (RFC 3261 §16 / §20: Via, Record-Route,
 * Route, Contact, request-URI), and marker-header lookups.
 *
 * SIP is low-rate next to RTP, so these allocate freely.
 */
import type { SipMessage } from '../../app/sip/sip-message.js';
import type { TunnelSummary } from '../../events/types.js';

/** "ip:port" (IPv6 written without brackets, as formatEndpoint does) -> "ip". */
export function endpointIp(endpoint: string): string {
  if (endpoint.startsWith('[')) {
    const close = endpoint.indexOf(']');
    return close > 0 ? endpoint.slice(1, close) : endpoint;
  }
  const colon = endpoint.lastIndexOf(':');
  if (colon < 0) return endpoint;
  // "1.2.3.4" has no colon; "2001:db8::1:5060" keeps everything before the last colon.
  return endpoint.slice(0, colon);
}

/** The port of "ip:port", or null. */
export function endpointPort(endpoint: string): number | null {
  const colon = endpoint.lastIndexOf(':');
  if (colon < 0) return null;
  const p = Number(endpoint.slice(colon + 1));
  return Number.isInteger(p) && p >= 0 && p <= 65535 ? p : null;
}

/** 127.0.0.0/8, ::1 and IPv4-mapped loopback: a delivery that never leaves the host. */
export function isLoopback(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1' || ip.startsWith('::ffff:127.');
}

/**
 * The host part of a SIP URI or name-addr, lower-cased, without brackets:
 * "sip:bob@10.0.0.2:5060;transport=tcp" -> "10.0.0.2". '' when none.
 */
export function uriHost(uri: string): string {
  let s = uri.trim();
  const lt = s.indexOf('<');
  if (lt >= 0) {
    const gt = s.indexOf('>', lt + 1);
    s = s.slice(lt + 1, gt > lt ? gt : undefined);
  }
  const at = s.lastIndexOf('@');
  let rest = at >= 0 ? s.slice(at + 1) : s.replace(/^[a-z][a-z0-9+.-]*:/i, '');
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    return close > 0 ? rest.slice(1, close).toLowerCase() : '';
  }
  const cut = rest.search(/[;?>:]/);
  if (cut >= 0) rest = rest.slice(0, cut);
  return rest.toLowerCase();
}

/**
 * Hosts this message names as signalling hops of its dialog: every Via
 * (sent-by and received=), Contact, Record-Route and Route entry, and the
 * request-URI. A copy's target is named by none of them.
 */
export function namedHosts(msg: SipMessage, into: Set<string>): void {
  for (const v of msg.vias) {
    if (v.host) into.add(v.host.toLowerCase());
    if (v.received) into.add(v.received.toLowerCase());
  }
  for (const c of msg.contacts) if (!c.star) addHost(into, uriHost(c.uri));
  for (const r of msg.recordRoutes) addHost(into, uriHost(r));
  for (const r of msg.routes) addHost(into, uriHost(r));
  if (msg.kind === 'request') addHost(into, uriHost(msg.requestUri));
}

function addHost(into: Set<string>, host: string): void {
  if (host) into.add(host);
}

/** Header names (lower-case) of the message that start with `prefix`. */
export function headerNamesWithPrefix(msg: SipMessage, prefix: string): string[] {
  const out: string[] = [];
  for (const [name] of msg.headers) if (name.startsWith(prefix) && !out.includes(name)) out.push(name);
  return out;
}

/** First value of a header (lower-case canonical name), or undefined. */
export function headerValue(msg: SipMessage, name: string): string | undefined {
  for (const [n, v] of msg.headers) if (n === name) return v;
  return undefined;
}

/** Kamailio siptrace's duplicated messages carry X-Siptrace-* headers (siptrace module, xheaders_write). */
export function hasSiptraceHeaders(msg: SipMessage): boolean {
  for (const [name] of msg.headers) if (name.startsWith('x-siptrace-')) return true;
  return false;
}

/** Does the message carry an SDP body (alone or as a multipart part)? */
export function carriesSdp(msg: SipMessage): boolean {
  if (msg.contentType === 'application/sdp') return true;
  for (const p of msg.bodyParts) if (p.contentType === 'application/sdp') return true;
  return false;
}

/** A short label of the message for evidence: the method, or the status code. */
export function messageLabel(msg: SipMessage): string {
  return msg.kind === 'request' ? msg.method : `${msg.statusCode}${msg.cseq ? ` ${msg.cseq.method}` : ''}`;
}

/** Parse "host[:port]" / "[v6]:port" text as SIP hostport (RFC 3261 §25.1). */
export function parseHostPort(text: string): { host: string; port: number | null } | null {
  const s = text.trim();
  if (!s) return null;
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close < 0) return null;
    const host = s.slice(1, close).toLowerCase();
    const port = s[close + 1] === ':' ? Number(s.slice(close + 2)) : null;
    return { host, port: port !== null && Number.isInteger(port) ? port : null };
  }
  const colons = s.split(':').length - 1;
  if (colons === 1) {
    const [h, p] = s.split(':');
    const port = Number(p);
    return { host: h!.toLowerCase(), port: Number.isInteger(port) ? port : null };
  }
  return { host: s.toLowerCase(), port: null };
}

/** "ip:port" of a parsed hostport, with port 0 when absent. */
export function hostPortText(hp: { host: string; port: number | null }): string {
  return `${hp.host}:${hp.port ?? 0}`;
}

/** A compact copy of a tunnel stack for evidence (bounded). */
export function boundedTunnels(t: TunnelSummary[], max = 8): TunnelSummary[] {
  return t.length <= max ? t.map((x) => ({ ...x })) : t.slice(0, max).map((x) => ({ ...x }));
}

/** Push into a bounded string list when absent. */
export function pushBounded(list: string[], value: string, max: number): void {
  if (list.length < max && !list.includes(value)) list.push(value);
}
