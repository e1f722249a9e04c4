/**
 * A bounded, growable byte accumulator for one direction of a TCP stream.
 *
 * Used by SipStreamFramer and WebSocketFramer: bytes that do not yet form a
 * whole message are kept here until the next in-order chunk arrives. The
 * storage is allocated lazily (idle flows hold nothing), grows by doubling up
 * to `cap`, and is compacted (copyWithin to the front) instead of reallocated
 * once the consumed prefix makes room.
 */
const EMPTY = Buffer.alloc(0);

export class StreamBuffer {
  buf: Buffer = EMPTY;
  /** First unconsumed byte. */
  start = 0;
  /** One past the last valid byte. */
  end = 0;

  constructor(readonly cap: number) {}

  get length(): number {
    return this.end - this.start;
  }

  /** Append data[off, off+len). Returns false (and appends nothing) when the result would exceed `cap`. */
  append(data: Buffer, off: number, len: number): boolean {
    if (len <= 0) return true;
    const used = this.end - this.start;
    const need = used + len;
    if (need > this.cap) return false;
    if (this.end + len > this.buf.length) {
      if (need <= this.buf.length) {
        // enough room once the consumed prefix is dropped
        this.buf.copyWithin(0, this.start, this.end);
      } else {
        let size = this.buf.length === 0 ? 4096 : this.buf.length * 2;
        while (size < need) size *= 2;
        if (size > this.cap) size = this.cap;
        const grown = Buffer.allocUnsafe(size);
        this.buf.copy(grown, 0, this.start, this.end);
        this.buf = grown;
      }
      this.start = 0;
      this.end = used;
    }
    data.copy(this.buf, this.end, off, off + len);
    this.end += len;
    return true;
  }

  /** Mark everything before absolute index `pos` as consumed. */
  consumeTo(pos: number): void {
    this.start = pos;
    if (this.start >= this.end) {
      this.start = 0;
      this.end = 0;
    }
  }

  clear(): void {
    this.start = 0;
    this.end = 0;
  }
}
