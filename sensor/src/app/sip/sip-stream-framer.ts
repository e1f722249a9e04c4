/**
 * Frames SIP messages out of one direction of a reassembled TCP (or TLS-decrypted)
 * stream (RFC 3261 §18.3: the header section ends at the blank line, and
 * Content-Length, mandatory on streams, gives the body size). Also:
 *  - skips CRLF keep-alives between messages (RFC 5626 §3.5.1 "\r\n\r\n" ping,
 *    "\r\n" pong; RFC 3261 §7.5),
 *  - resynchronises after garbage by looking for the next line that is a SIP
 *    start line (sip-probe.ts), counting one weird per garbage run,
 *  - follows an HTTP "GET ... Upgrade: websocket" request or a
 *    "HTTP/1.1 101 Switching Protocols" reply and then switches this direction
 *    to WebSocket framing (RFC 7118 §4: SIP over WebSocket starts as HTTP on the
 *    same connection; RFC 6455 §4), delivering each WebSocket message as one
 *    SIP message.
 * Follows Wireshark's tcp_dissect_pdus + packet-sip.c (dissect_sip_tcp_heur).
 *
 * One instance per direction. Chunks must be in order (the flow layer's job).
 * Complete messages inside a chunk are delivered straight from the caller's
 * buffer; only an incomplete tail is copied into a bounded buffer.
 * The (buf, off, len) handed to onMessage is valid only during the callback.
 */
import type { WeirdCounters } from '../../decode/weird.js';
import { looksLikeSip } from './sip-probe.js';
import { findHeaderEnd } from './sip-parser.js';
import { StreamBuffer } from './stream-buffer.js';
import { WebSocketFramer } from './websocket.js';

export type SipStreamMode = 'sip' | 'websocket';

export type SipMessageCallback = (buf: Buffer, off: number, len: number) => void;

/** Default bound on buffered bytes per direction. */
export const SIP_STREAM_DEFAULT_CAP = 256 * 1024;

/** Longest start line we wait for before calling the line garbage. */
const MAX_START_LINE = 4096;

const CR = 0x0d;
const LF = 0x0a;

/** Content-Length of a header block in buf[from, to), by bytes: -1 missing, -2 unparseable. */
export function scanContentLength(buf: Buffer, from: number, to: number): number {
  let lineStart = from;
  while (lineStart < to) {
    let lineEnd = buf.indexOf(LF, lineStart);
    if (lineEnd < 0 || lineEnd > to) lineEnd = to;
    const v = contentLengthOfLine(buf, lineStart, lineEnd);
    if (v !== -1) return v;
    lineStart = lineEnd + 1;
  }
  return -1;
}

/** "Content-Length: N" or "l: N" (case-insensitive, optional spaces before ':'); -1 other header, -2 bad value. */
function contentLengthOfLine(buf: Buffer, s: number, e: number): number {
  let i = s;
  const c0 = buf[i] | 0x20;
  if (c0 !== 0x63 && c0 !== 0x6c) return -1; // 'c' or 'l'
  if (c0 === 0x6c) {
    i++;
  } else {
    const name = 'content-length';
    if (e - s < name.length) return -1;
    for (let k = 0; k < name.length; k++) if ((buf[s + k] | 0x20) !== name.charCodeAt(k)) return -1;
    i = s + name.length;
  }
  while (i < e && (buf[i] === 0x20 || buf[i] === 0x09)) i++;
  if (i >= e || buf[i] !== 0x3a) return -1;
  i++;
  while (i < e && (buf[i] === 0x20 || buf[i] === 0x09)) i++;
  let n = 0;
  let digits = 0;
  while (i < e && buf[i] >= 0x30 && buf[i] <= 0x39 && digits < 10) {
    n = n * 10 + (buf[i] - 0x30);
    i++;
    digits++;
  }
  while (i < e && (buf[i] === 0x20 || buf[i] === 0x09 || buf[i] === CR)) i++;
  return digits === 0 || i !== e ? -2 : n;
}

/** First LF in buf[from, to), or -1 (bounded, unlike Buffer.indexOf which scans to the buffer's end). */
function indexOfLf(buf: Buffer, from: number, to: number): number {
  for (let i = from; i < to; i++) if (buf[i] === LF) return i;
  return -1;
}

/** Case-insensitive ASCII prefix test (pattern given in lower case). */
function startsWithCI(buf: Buffer, pos: number, end: number, lower: string): boolean {
  if (end - pos < lower.length) return false;
  for (let k = 0; k < lower.length; k++) {
    const c = buf[pos + k];
    const l = c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
    if (l !== lower.charCodeAt(k)) return false;
  }
  return true;
}

/** An "Upgrade: websocket" header line inside buf[from, to). */
function hasUpgradeWebsocket(buf: Buffer, from: number, to: number): boolean {
  const text = buf.toString('latin1', from, to); // once per HTTP handshake: rare
  return /^upgrade[ \t]*:[ \t]*websocket[ \t]*\r?$/im.test(text);
}

export class SipStreamFramer {
  /** 'sip' until a WebSocket upgrade is seen in this direction (or set by the caller). */
  mode: SipStreamMode = 'sip';
  /** Complete SIP messages delivered so far. */
  messages = 0;

  private readonly pending: StreamBuffer;
  private readonly cap: number;
  private ws: WebSocketFramer | null = null;
  /** Inside a run of garbage (so the weird is counted once per run). */
  private inGarbage = false;
  /** Total length of the message at the head of `pending`, once its headers were parsed; -1 if unknown. */
  private headTotal = -1;
  /** Bytes still to discard of a message too large to buffer. */
  private skip = 0;
  /**
   * Bytes of the head message already searched for the blank line, so that a
   * header section arriving in many small chunks is not rescanned from the start
   * each time (that would be quadratic).
   */
  private headScanned = 0;

  constructor(cap = SIP_STREAM_DEFAULT_CAP) {
    this.cap = cap;
    this.pending = new StreamBuffer(cap);
  }

  /** Switch this direction to WebSocket framing (e.g. when the other direction saw the 101). */
  setWebSocketMode(): void {
    if (this.mode === 'websocket') return;
    this.mode = 'websocket';
    this.ws = new WebSocketFramer(this.cap);
  }

  /** Forget buffered bytes (after a gap in the stream); resynchronises on the next start line. */
  reset(): void {
    this.pending.clear();
    this.headTotal = -1;
    this.headScanned = 0;
    this.skip = 0;
    this.inGarbage = true;
    this.ws?.reset();
  }

  /** Feed in-order stream bytes data[off, off+len). */
  push(data: Buffer, off: number, len: number, onMessage: SipMessageCallback, weirds?: WeirdCounters): void {
    if (len <= 0) return;
    if (this.isWebSocket()) {
      this.pushWs(data, off, len, onMessage, weirds);
      return;
    }
    const end = off + len;
    const p = this.pending;
    if (p.length === 0) {
      // Fast path: frame directly from the caller's chunk. The tail left over is
      // always an incomplete message smaller than the cap, so it fits.
      const pos = this.frame(data, off, end, onMessage, weirds);
      if (this.isWebSocket()) this.pushWs(data, pos, end - pos, onMessage, weirds);
      else if (pos < end && !p.append(data, pos, end - pos)) this.overflow(weirds);
      return;
    }
    // Slow path: top up the pending bytes, at most to the cap at a time.
    let o = off;
    while (o < end) {
      const room = this.cap - p.length;
      if (room <= 0) {
        this.overflow(weirds);
        continue;
      }
      const n = Math.min(room, end - o);
      p.append(data, o, n);
      o += n;
      const pos = this.frame(p.buf, p.start, p.end, onMessage, weirds);
      if (this.isWebSocket()) {
        const buf = p.buf;
        const rest = p.end;
        p.clear();
        this.pushWs(buf, pos, rest - pos, onMessage, weirds);
        this.pushWs(data, o, end - o, onMessage, weirds);
        return;
      }
      p.consumeTo(pos);
    }
  }

  private isWebSocket(): boolean {
    return this.mode === 'websocket';
  }

  private overflow(weirds?: WeirdCounters): void {
    weirds?.weird('sip_stream_overflow');
    this.pending.clear();
    this.headTotal = -1;
    this.headScanned = 0;
    this.inGarbage = true; // what follows is probably mid-message: resync silently
  }

  private pushWs(data: Buffer, off: number, len: number, onMessage: SipMessageCallback, weirds?: WeirdCounters): void {
    if (len <= 0) return;
    if (this.ws === null) this.ws = new WebSocketFramer(this.cap);
    this.ws.push(data, off, len, (payload) => {
      this.messages++;
      onMessage(payload, 0, payload.length);
    }, weirds);
  }

  private garbage(weirds?: WeirdCounters): void {
    if (!this.inGarbage) weirds?.weird('sip_stream_garbage');
    this.inGarbage = true;
  }

  /** Deliver whole messages in buf[pos, end); returns the first unconsumed index. */
  private frame(buf: Buffer, pos: number, end: number, onMessage: SipMessageCallback, weirds?: WeirdCounters): number {
    while (pos < end) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, end - pos);
        pos += n;
        this.skip -= n;
        continue;
      }
      if (this.headTotal >= 0) {
        // Headers of the head message were already parsed: just wait for its body.
        if (end - pos < this.headTotal) return pos;
        const total = this.headTotal;
        this.headTotal = -1;
        this.messages++;
        onMessage(buf, pos, total);
        pos += total;
        continue;
      }
      // CRLF keep-alives (and the blank line of a ping) between messages
      if (buf[pos] === CR || buf[pos] === LF) {
        pos++;
        continue;
      }
      const lf = indexOfLf(buf, pos, Math.min(end, pos + MAX_START_LINE));
      if (lf < 0) {
        if (end - pos < MAX_START_LINE) return pos; // wait for the whole first line
        this.garbage(weirds);
        return end; // an endless line: drop it
      }
      const lineLen = lf + 1 - pos;
      if (looksLikeSip(buf, pos, lineLen)) {
        const he = findHeaderEnd(buf, pos + this.headScanned, end);
        if (he === null) {
          if (end - pos >= this.cap) {
            weirds?.weird('sip_stream_message_too_large');
            this.garbage(weirds);
            this.headScanned = 0;
            pos = lf + 1;
            continue;
          }
          this.headScanned = Math.max(0, end - pos - 3); // a terminator may straddle the next chunk
          return pos; // headers incomplete
        }
        this.headScanned = 0;
        this.inGarbage = false;
        let cl = scanContentLength(buf, pos, he[0]);
        if (cl === -1) {
          weirds?.weird('sip_tcp_missing_content_length');
          cl = 0;
        } else if (cl === -2) {
          weirds?.weird('sip_tcp_bad_content_length');
          cl = 0;
        }
        const total = he[1] - pos + cl;
        if (total > this.cap) {
          weirds?.weird('sip_stream_message_too_large');
          const have = end - pos;
          this.skip = total - have;
          return end;
        }
        this.headTotal = total;
        continue;
      }
      if (this.isWebSocketHandshake(buf, pos, lf)) {
        const he = findHeaderEnd(buf, pos + this.headScanned, end);
        if (he === null) {
          if (end - pos >= this.cap) {
            this.garbage(weirds);
            this.headScanned = 0;
            pos = lf + 1;
            continue;
          }
          this.headScanned = Math.max(0, end - pos - 3);
          return pos;
        }
        this.headScanned = 0;
        if (hasUpgradeWebsocket(buf, pos, he[0])) {
          this.inGarbage = false;
          this.setWebSocketMode();
          return he[1]; // the rest of the stream is WebSocket frames
        }
        // Some other HTTP exchange on a SIP connection: not SIP.
        this.garbage(weirds);
        pos = he[1];
        continue;
      }
      this.garbage(weirds);
      pos = lf + 1;
    }
    return pos;
  }

  /** "GET <path> HTTP/1.x" request line or "HTTP/1.x 101" status line at buf[pos, lf]. */
  private isWebSocketHandshake(buf: Buffer, pos: number, lf: number): boolean {
    if (startsWithCI(buf, pos, lf, 'http/1.')) {
      return lf - pos >= 12 && buf[pos + 8] === 0x20 && buf[pos + 9] === 0x31 && buf[pos + 10] === 0x30 && buf[pos + 11] === 0x31;
    }
    if (!startsWithCI(buf, pos, lf, 'get ')) return false;
    let e = lf;
    if (e > pos && buf[e - 1] === CR) e--;
    return e - pos > 13 && startsWithCI(buf, e - 9, e, ' http/1.');
  }
}
