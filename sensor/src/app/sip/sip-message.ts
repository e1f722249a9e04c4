/**
 * Parsed SIP message (RFC 3261 §7, §20) as produced by sip-parser.ts.
 *
 * SIP is low-rate next to RTP, so a parsed message is an ordinary object with
 * strings. The body is NOT copied: `body.buf` is the caller's buffer (often the
 * capture buffer, or a stream framer's buffer), valid only until the caller
 * reuses it. Copy what you keep (getSdpBodies() returns strings, i.e. copies).
 *
 * Parameter maps are created with a null prototype so that hostile names such
 * as "__proto__" are stored as plain keys.
 */

/** name=value parameters; names lower-cased, a flag parameter has value ''. */
export type SipParams = Record<string, string>;

/** From / To / Route style name-addr (RFC 3261 §20.10, §20.20, §20.39). */
export interface SipNameAddr {
  /** Unquoted, unescaped display name; '' when absent. */
  displayName: string;
  /** URI without the enclosing <>. */
  uri: string;
  /** The `tag` header parameter (From/To), undefined when absent. */
  tag: string | undefined;
  /** Header parameters (after the > or, without <>, after the first ';'). */
  params: SipParams;
}

/** One Contact value (RFC 3261 §20.10); `star` for "Contact: *" in REGISTER. */
export interface SipContact {
  displayName: string;
  uri: string;
  /** Header parameters, e.g. expires, q, +sip.src (RFC 7866), +sip.instance. */
  params: SipParams;
  star: boolean;
}

/** One Via value (RFC 3261 §20.42, RFC 3581 rport). */
export interface SipVia {
  /** e.g. "SIP/2.0" */
  protocol: string;
  /** Upper-cased transport: UDP, TCP, TLS, SCTP, WS, WSS... */
  transport: string;
  /** Host without brackets for IPv6 references (lower-cased). */
  host: string;
  /** Port, or undefined when the Via gives none. */
  port: number | undefined;
  branch: string | undefined;
  received: string | undefined;
  /** RFC 3581: undefined when absent, 0 when present without a value, else the port. */
  rport: number | undefined;
  params: SipParams;
}

export interface SipCSeq {
  seq: number;
  method: string;
}

/** A byte range inside the buffer that was parsed (not copied). */
export interface SipBodyRef {
  buf: Buffer;
  off: number;
  len: number;
}

/** One MIME body part (RFC 2046 §5.1); `off` is an absolute offset into `body.buf`. */
export interface SipBodyPart {
  /** Lower-cased media type without parameters, '' when unknown. */
  contentType: string;
  /** Lower-cased disposition type (e.g. "session", "recording-session", "render"), '' when absent. */
  contentDisposition: string;
  off: number;
  len: number;
}

/**
 * A SIP request or response. The shape is flat (one hidden class for both):
 * requests have statusCode 0 and reason ''; responses have method '' and requestUri ''.
 */
export interface SipMessage {
  kind: 'request' | 'response';
  method: string;
  requestUri: string;
  statusCode: number;
  reason: string;
  /** "SIP/2.0" */
  version: string;

  callId: string | undefined;
  from: SipNameAddr | undefined;
  to: SipNameAddr | undefined;
  cseq: SipCSeq | undefined;
  /** Topmost first, across all Via header lines in order. */
  vias: SipVia[];
  contacts: SipContact[];
  /** URIs (without <>), in header order. */
  recordRoutes: string[];
  routes: string[];
  /** Option tags, lower-cased. */
  require: string[];
  supported: string[];
  /** Lower-cased media type without parameters ('' when there is no Content-Type). */
  contentType: string;
  /** Content-Type parameters (e.g. boundary, charset). */
  contentTypeParams: SipParams;
  /** The declared Content-Length, undefined when absent or unparseable. */
  contentLength: number | undefined;
  /**
   * Every header in wire order as [canonical lower-case long name, value].
   * Compact names are expanded ("i" -> "call-id"); folded lines are joined with
   * one space; a header line carrying several comma-separated values stays one entry.
   */
  headers: Array<[string, string]>;
  body: SipBodyRef;
  /** multipart/* bodies: one entry per leaf part; otherwise one entry for the whole body (none if empty). */
  bodyParts: SipBodyPart[];
}

/** Parsed SIP/SIPS/TEL URI (RFC 3261 §19.1, RFC 3966). */
export interface SipUri {
  /** Lower-cased: sip, sips, tel, ... */
  scheme: string;
  /** User part ('' when absent); for tel: the number. */
  user: string;
  /** Lower-cased host without IPv6 brackets ('' for tel:). */
  host: string;
  port: number | undefined;
  /** URI parameters (;transport=tcp, ;lr, ;x-nearend...), names lower-cased. */
  params: SipParams;
  /** URI headers after '?' (raw, unescaped not applied), names as given. */
  headers: SipParams;
}
