/**
 * A bounded byte queue for framing messages out of a reassembled TCP stream
 * (TURN over TCP, RFC 8656 §12.5; RTP over TCP, RFC 4571). Bytes are copied
 * in once; frames are read in place and consumed by moving `start`.
 */
export class TcpByteQueue {
  buffer: Buffer;
  start = 0;
  end = 0;

  constructor(private readonly limit: number) {
    this.buffer = Buffer.allocUnsafe(4096);
  }

  get length(): number {
    return this.end - this.start;
  }

  append(src: Buffer, off: number, len: number): void {
    if (this.end + len > this.buffer.length) {
      const live = this.end - this.start;
      if (live + len > this.limit) {
        // A frame larger than the limit cannot be real media: drop what we hold.
        this.clear();
        if (len > this.limit) return;
      }
      if (this.start > 0) {
        this.buffer.copy(this.buffer, 0, this.start, this.end);
        this.end -= this.start;
        this.start = 0;
      }
      if (this.end + len > this.buffer.length) {
        let size = this.buffer.length;
        while (size < this.end + len) size *= 2;
        const next = Buffer.allocUnsafe(Math.min(size, this.limit));
        this.buffer.copy(next, 0, 0, this.end);
        this.buffer = next;
      }
    }
    src.copy(this.buffer, this.end, off, off + len);
    this.end += len;
  }

  consume(n: number): void {
    this.start += n;
    if (this.start >= this.end) this.start = this.end = 0;
  }

  clear(): void {
    this.start = this.end = 0;
  }
}
