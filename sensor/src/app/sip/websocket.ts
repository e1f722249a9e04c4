/**
 * WebSocket frame parsing for a reassembled TCP stream (RFC 6455 §5), as used by
 * SIP over WebSocket (RFC 7118): each complete text or binary message is one
 * SIP message (RFC 7118 §5). Follows Wireshark's packet-websocket.c.
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-------+-+-------------+-------------------------------+
 *  |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
 *  |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
 *  |N|V|V|V|       |S|             |   (if payload len==126/127)   |
 *  +-+-+-+-+-------+-+-------------+-------------------------------+
 *  |     Extended payload length continued, if payload len == 127  |
 *  +-------------------------------+-------------------------------+
 *  |                               | Masking-key, if MASK set to 1 |
 *  +-------------------------------+-------------------------------+
 *
 * Client-to-server frames are masked (§5.3): the payload is unmasked into a
 * fresh Buffer, which the callback may keep. Fragmented messages (§5.4) are
 * reassembled; control frames (close 8, ping 9, pong 10) are checked and
 * ignored. Buffers are bounded: frames or messages larger than `maxMessage`
 * are skipped without being buffered. Nothing throws.
 */
import type { WeirdCounters } from '../../decode/weird.js';
import { StreamBuffer } from './stream-buffer.js';

export const WS_OPCODE_CONTINUATION = 0;
export const WS_OPCODE_TEXT = 1;
export const WS_OPCODE_BINARY = 2;
export const WS_OPCODE_CLOSE = 8;
export const WS_OPCODE_PING = 9;
export const WS_OPCODE_PONG = 10;

/** Default bound on one reassembled message (and thus on buffered bytes). */
export const WS_DEFAULT_MAX_MESSAGE = 256 * 1024;

export class WebSocketFramer {
  /** Set once a Close frame was seen in this direction (informational). */
  closed = false;
  /** Complete text/binary messages delivered so far. */
  messages = 0;

  private readonly pending: StreamBuffer;
  private readonly maxMessage: number;
  /** Payload bytes still to be discarded from an oversized or unusable frame. */
  private skip = 0;
  /** Fragments of the message being reassembled (opcode 1/2 without FIN, then continuations). */
  private fragments: Buffer[] = [];
  private fragmentBytes = 0;
  private inMessage = false;
  /** The message in progress is being discarded (too large, or compressed). */
  private dropping = false;

  constructor(maxMessage = WS_DEFAULT_MAX_MESSAGE) {
    this.maxMessage = maxMessage;
    // a whole frame (payload + up to 14 header bytes) must fit
    this.pending = new StreamBuffer(maxMessage + 14);
  }

  /** Feed in-order stream bytes data[off, off+len). */
  push(data: Buffer, off: number, len: number, onMessage: (payload: Buffer) => void, weirds?: WeirdCounters): void {
    if (len <= 0) return;
    if (this.pending.length === 0) {
      // Fast path: parse straight from the caller's chunk and copy only the tail.
      const end = off + len;
      const pos = this.frame(data, off, end, onMessage, weirds);
      if (pos < end && !this.pending.append(data, pos, end - pos)) {
        weirds?.weird('websocket_buffer_overflow');
        this.resetMessage();
      }
      return;
    }
    if (!this.pending.append(data, off, len)) {
      // Cannot happen for well-formed streams: frame() never leaves more than one frame pending.
      weirds?.weird('websocket_buffer_overflow');
      this.pending.clear();
      this.resetMessage();
      return;
    }
    const pos = this.frame(this.pending.buf, this.pending.start, this.pending.end, onMessage, weirds);
    this.pending.consumeTo(pos);
  }

  /** Forget all buffered state (e.g. after a gap in the TCP stream). */
  reset(): void {
    this.pending.clear();
    this.skip = 0;
    this.resetMessage();
  }

  private resetMessage(): void {
    this.fragments = [];
    this.fragmentBytes = 0;
    this.inMessage = false;
    this.dropping = false;
  }

  /** Parse whole frames in buf[pos, end); returns the first unconsumed index. */
  private frame(buf: Buffer, pos: number, end: number, onMessage: (payload: Buffer) => void, weirds?: WeirdCounters): number {
    for (;;) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, end - pos);
        pos += n;
        this.skip -= n;
        if (this.skip > 0) return pos;
      }
      if (end - pos < 2) return pos;
      const b0 = buf[pos];
      const b1 = buf[pos + 1];
      const fin = (b0 & 0x80) !== 0;
      const rsv = b0 & 0x70;
      const opcode = b0 & 0x0f;
      const masked = (b1 & 0x80) !== 0;
      let payloadLen = b1 & 0x7f;
      let hdr = 2;
      if (payloadLen === 126) {
        if (end - pos < 4) return pos;
        payloadLen = buf.readUInt16BE(pos + 2);
        hdr = 4;
      } else if (payloadLen === 127) {
        if (end - pos < 10) return pos;
        // most significant bit must be 0 (§5.2); anything near 2^53 is nonsense anyway
        payloadLen = (buf.readUInt32BE(pos + 2) & 0x7fffffff) * 0x100000000 + buf.readUInt32BE(pos + 6);
        hdr = 10;
      }
      const keyAt = pos + hdr;
      if (masked) hdr += 4;
      if (end - pos < hdr) return pos;

      const isControl = (opcode & 0x08) !== 0;
      let usable = true;
      if (opcode !== WS_OPCODE_CONTINUATION && opcode !== WS_OPCODE_TEXT && opcode !== WS_OPCODE_BINARY &&
          opcode !== WS_OPCODE_CLOSE && opcode !== WS_OPCODE_PING && opcode !== WS_OPCODE_PONG) {
        weirds?.weird('websocket_unknown_opcode');
        usable = false;
      } else if (isControl) {
        if (!fin || payloadLen > 125) weirds?.weird('websocket_bad_control_frame');
        if (opcode === WS_OPCODE_CLOSE) this.closed = true;
        usable = false; // control frames carry no SIP
      } else if (rsv !== 0) {
        // RSV1 = permessage-deflate (RFC 7692), not decoded here
        weirds?.weird('websocket_reserved_bits');
        this.dropMessage(opcode, fin);
        usable = false;
      } else if ((opcode === WS_OPCODE_CONTINUATION ? this.fragmentBytes : 0) + payloadLen > this.maxMessage) {
        weirds?.weird('websocket_message_too_large');
        this.dropMessage(opcode, fin);
        usable = false;
      }
      if (!usable) {
        pos += hdr;
        this.skip = payloadLen;
        continue;
      }
      if (end - pos < hdr + payloadLen) return pos; // wait for the rest of the frame

      const p = pos + hdr;
      const payload = Buffer.allocUnsafe(payloadLen);
      if (masked) {
        const k0 = buf[keyAt], k1 = buf[keyAt + 1], k2 = buf[keyAt + 2], k3 = buf[keyAt + 3];
        let i = 0;
        for (; i + 4 <= payloadLen; i += 4) {
          payload[i] = buf[p + i] ^ k0;
          payload[i + 1] = buf[p + i + 1] ^ k1;
          payload[i + 2] = buf[p + i + 2] ^ k2;
          payload[i + 3] = buf[p + i + 3] ^ k3;
        }
        for (; i < payloadLen; i++) payload[i] = buf[p + i] ^ buf[keyAt + (i & 3)];
      } else {
        buf.copy(payload, 0, p, p + payloadLen);
      }
      pos = p + payloadLen;

      if (opcode === WS_OPCODE_CONTINUATION) {
        if (!this.inMessage) {
          weirds?.weird('websocket_orphan_continuation');
          continue;
        }
        if (this.dropping) {
          if (fin) this.resetMessage();
          continue;
        }
        this.fragments.push(payload);
        this.fragmentBytes += payloadLen;
        if (fin) {
          const whole = Buffer.concat(this.fragments, this.fragmentBytes);
          this.resetMessage();
          this.messages++;
          onMessage(whole);
        }
        continue;
      }
      // TEXT or BINARY: a new message
      if (this.inMessage) {
        weirds?.weird('websocket_unfinished_fragmented_message');
        this.resetMessage();
      }
      if (fin) {
        this.messages++;
        onMessage(payload);
      } else {
        this.inMessage = true;
        this.fragments.push(payload);
        this.fragmentBytes = payloadLen;
      }
    }
  }

  /** Discard the current (or starting) data message up to its final fragment. */
  private dropMessage(opcode: number, fin: boolean): void {
    if (opcode !== WS_OPCODE_CONTINUATION && this.inMessage) this.resetMessage();
    this.fragments = [];
    this.fragmentBytes = 0;
    if (fin) {
      this.inMessage = false;
      this.dropping = false;
    } else {
      this.inMessage = true;
      this.dropping = true;
    }
  }
}
