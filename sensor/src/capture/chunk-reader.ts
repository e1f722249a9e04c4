/**
 * Large-chunk file reading for the pcap and pcapng readers.
 *
 * The readers parse records straight out of one reused Buffer (libpcap's
 * sf-pcap.c and Wireshark's wiretap read through a buffered FILE* the same
 * way). This class owns that buffer: it reads the file with readSync into
 * [end, length), and when a record straddles the end of the data it moves the
 * unread tail to the start of the buffer before reading more, so every record
 * the parser looks at is contiguous. A record larger than the buffer grows the
 * buffer (bounded by the bytes left in the file, so a corrupt length cannot
 * make us allocate gigabytes).
 *
 * Nothing here runs per packet: the parsers keep buf/pos/end in locals and
 * call fill() only when the next record is not complete in the buffer.
 */
import * as fs from 'node:fs';

/** Default read size: big enough that readSync costs nothing per packet, small enough to stay in L2/L3-friendly territory. */
export const DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024;

/** Knobs for the file readers; tests shrink the chunk to exercise records straddling chunk boundaries. */
export interface FileSourceOptions {
  /** Bytes per read (default 8 MiB). */
  chunkSize?: number;
  /** Yield to the event loop after this many records (default 4096). */
  yieldEvery?: number;
}

export const DEFAULT_YIELD_EVERY = 4096;

export class ChunkReader {
  /** Current buffer; replaced (grown) when a record does not fit. */
  buf: Buffer;
  /** Parse position in buf. */
  pos = 0;
  /** End of valid data in buf. */
  end = 0;
  /** File offset of the next byte to read from disk. */
  fileOffset: number;
  /** Set when a read failed; the readers turn it into a warning. */
  readError: string | null = null;

  constructor(
    private readonly fd: number,
    startOffset: number,
    chunkSize: number,
    readonly fileSize: number,
  ) {
    this.fileOffset = startOffset;
    this.buf = Buffer.allocUnsafe(Math.max(64, chunkSize | 0));
  }

  /** Bytes not yet consumed that are still on disk or in the buffer. */
  remaining(): number {
    return this.fileSize - this.fileOffset + (this.end - this.pos);
  }

  /**
   * Make at least `need` bytes available at buf[pos..]. Returns the number of
   * bytes available afterwards, which is less than `need` only at end of file
   * (or after a read error). Invalidates earlier frame references into buf.
   */
  fill(need: number): number {
    const avail = this.end - this.pos;
    if (avail >= need) return avail;
    // The file cannot hold the record: report what is there without allocating for a corrupt length.
    if (need > avail + (this.fileSize - this.fileOffset) && need > this.buf.length) return avail;
    if (need > this.buf.length) {
      // A record bigger than the chunk: grow, but never past what the file can still hold.
      const size = Math.max(need, Math.min(this.buf.length * 2, avail + (this.fileSize - this.fileOffset)));
      const bigger = Buffer.allocUnsafe(size);
      this.buf.copy(bigger, 0, this.pos, this.end);
      this.buf = bigger;
    } else if (this.pos > 0) {
      this.buf.copy(this.buf, 0, this.pos, this.end);
    }
    this.pos = 0;
    this.end = avail;
    // Fill the whole buffer (not just `need`) so the next refill is a full chunk later.
    while (this.end < this.buf.length) {
      let n = 0;
      try {
        n = fs.readSync(this.fd, this.buf, this.end, this.buf.length - this.end, this.fileOffset);
      } catch (err) {
        this.readError = (err as Error).message;
        break;
      }
      if (n <= 0) break;
      this.end += n;
      this.fileOffset += n;
    }
    return this.end - this.pos;
  }
}
