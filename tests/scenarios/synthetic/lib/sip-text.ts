/**
 * SIP (RFC 3261) and SDP (RFC 8866) text for the synthetic scenarios, more
 * general than tests/fixtures/gen/sip.ts: requests are records, so a proxy
 * can push its Via and Record-Route (RFC 3261 §16.6) and responses copy Via,
 * From, To, Call-ID and CSeq from the request they answer (§8.2.6.2). Bodies
 * may be SDP or multipart/mixed (RFC 2046 §5.1, as SIPREC uses, RFC 7866).
 * Content-Length counts octets (§20.14).
 */

const CRLF = '\r\n';

export interface MediaLine {
  media?: string;
  port: number;
  proto?: string;
  /** Payload types, or format tokens. */
  fmts: Array<number | string>;
  /** Media-level c= address (with /ttl for multicast). */
  conn?: string;
  /** a= lines without the "a=" prefix, in order. */
  attrs: string[];
}

export interface SdpSpec {
  user: string;
  sessId: number;
  version?: number;
  /** o= address. */
  origin: string;
  /** Session-level c= address (may carry /ttl); omit when every m= has its own. */
  conn?: string;
  sessionAttrs?: string[];
  media: MediaLine[];
}

export function sdp(s: SdpSpec): string {
  const lines = ['v=0', `o=${s.user} ${s.sessId} ${s.version ?? s.sessId} IN IP4 ${s.origin}`, 's=tapwatch synthetic scenario'];
  if (s.conn) lines.push(`c=IN IP4 ${s.conn}`);
  lines.push('t=0 0');
  for (const a of s.sessionAttrs ?? []) lines.push(`a=${a}`);
  for (const m of s.media) {
    lines.push(`m=${m.media ?? 'audio'} ${m.port} ${m.proto ?? 'RTP/AVP'} ${m.fmts.join(' ')}`);
    if (m.conn) lines.push(`c=IN IP4 ${m.conn}`);
    for (const a of m.attrs) lines.push(`a=${a}`);
  }
  return lines.join(CRLF) + CRLF;
}

/** rtpmap lines for the usual audio payload types. */
export const RTPMAP: Record<number, string> = {
  0: 'rtpmap:0 PCMU/8000',
  8: 'rtpmap:8 PCMA/8000',
  13: 'rtpmap:13 CN/8000',
  18: 'rtpmap:18 G729/8000',
  101: 'rtpmap:101 telephone-event/8000',
};

/** A plain audio m= line: rtpmaps for known types, ptime, direction. */
export function audio(port: number, pts: number[], extra: string[] = [], direction = 'sendrecv', proto = 'RTP/AVP'): MediaLine {
  const attrs = pts.filter((p) => RTPMAP[p]).map((p) => RTPMAP[p]!);
  if (pts.includes(101)) attrs.push('fmtp:101 0-16');
  attrs.push(...extra, 'ptime:20', direction);
  return { port, proto, fmts: pts, attrs };
}

export interface SipRequest {
  method: string;
  ruri: string;
  /** Top first. */
  vias: string[];
  maxForwards: number;
  from: string;
  to: string;
  callId: string;
  cseq: number;
  contact?: string;
  /** Other header lines in order (Record-Route, Require, Refer-To...). */
  extra: string[];
  body?: string;
  contentType?: string;
}

export function via(host: string, port: number, branch: string, transport = 'UDP'): string {
  return `SIP/2.0/${transport} ${host}:${port};branch=z9hG4bK${branch}`;
}

function message(startLine: string, headers: string[], body: string | undefined, contentType: string | undefined): string {
  const all = [...headers];
  if (body !== undefined && body.length > 0) all.push(`Content-Type: ${contentType ?? 'application/sdp'}`);
  all.push(`Content-Length: ${body ? Buffer.byteLength(body, 'utf8') : 0}`);
  return startLine + CRLF + all.join(CRLF) + CRLF + CRLF + (body ?? '');
}

export function requestText(r: SipRequest): string {
  const h = r.vias.map((v) => `Via: ${v}`);
  h.push(`Max-Forwards: ${r.maxForwards}`, `From: ${r.from}`, `To: ${r.to}`, `Call-ID: ${r.callId}`, `CSeq: ${r.cseq} ${r.method}`);
  if (r.contact) h.push(`Contact: ${r.contact}`);
  h.push(...r.extra);
  if (!r.extra.some((x) => /^User-Agent:/i.test(x))) h.push('User-Agent: tapwatch-synthetic');
  return message(`${r.method} ${r.ruri} SIP/2.0`, h, r.body, r.contentType);
}

export interface ResponseOptions {
  /** Added to To when the request's To has no tag yet. */
  toTag?: string;
  contact?: string;
  extra?: string[];
  body?: string;
  contentType?: string;
  /** Only the bottom N Vias (a proxy strips its own before forwarding upstream). */
  vias?: string[];
}

export function responseText(req: SipRequest, code: number, reason: string, o: ResponseOptions = {}): string {
  const vias = o.vias ?? req.vias;
  const to = o.toTag && !/;tag=/.test(req.to) ? `${req.to};tag=${o.toTag}` : req.to;
  const h = vias.map((v) => `Via: ${v}`);
  h.push(`From: ${req.from}`, `To: ${to}`, `Call-ID: ${req.callId}`, `CSeq: ${req.cseq} ${req.method}`);
  if (o.contact) h.push(`Contact: ${o.contact}`);
  h.push(...(o.extra ?? []));
  h.push('Server: tapwatch-synthetic');
  return message(`SIP/2.0 ${code} ${reason}`, h, o.body, o.contentType);
}

/** The request as a proxy forwards it (RFC 3261 §16.6): its Via on top, Max-Forwards - 1, optional new R-URI and headers. */
export function proxied(req: SipRequest, proxyVia: string, opts: { ruri?: string; extra?: string[] } = {}): SipRequest {
  return { ...req, vias: [proxyVia, ...req.vias], maxForwards: req.maxForwards - 1, ruri: opts.ruri ?? req.ruri, extra: [...(opts.extra ?? []), ...req.extra] };
}

export interface MultipartPart {
  contentType: string;
  disposition?: string;
  body: string;
}

/** multipart/mixed body (RFC 2046 §5.1.1) and its Content-Type value. */
export function multipart(boundary: string, parts: MultipartPart[]): { body: string; contentType: string } {
  let body = '';
  for (const p of parts) {
    body += `--${boundary}${CRLF}Content-Type: ${p.contentType}${CRLF}`;
    if (p.disposition) body += `Content-Disposition: ${p.disposition}${CRLF}`;
    body += CRLF + p.body;
    if (!p.body.endsWith(CRLF)) body += CRLF;
  }
  body += `--${boundary}--${CRLF}`;
  return { body, contentType: `multipart/mixed;boundary=${boundary}` };
}

/** A user agent: URI and tag. */
export interface Ua {
  user: string;
  ip: string;
  port: number;
  tag: string;
  display?: string;
}

export function uri(u: Ua): string {
  return `sip:${u.user}@${u.ip}:${u.port}`;
}

export function nameAddr(u: Ua, withTag = true): string {
  return `"${u.display ?? u.user}" <${uri(u)}>${withTag ? `;tag=${u.tag}` : ''}`;
}
