/**
 * Buffered synchronous writes to a file descriptor (stdout). Event output is
 * batched into 64 KiB writes, and a full pipe blocks the pipeline instead of
 * growing memory without bound (backpressure, as a SPAN sensor needs: a slow
 * consumer shows up as kernel drops, which are counted, never as silent loss
 * inside the process). libuv may leave fd 1 non-blocking, so EAGAIN is
 * retried after a short sleep.
 */
import { writeSync } from 'node:fs';

const FLUSH_AT = 64 * 1024;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

export class FdWriter {
  private parts: string[] = [];
  private pending = 0;

  constructor(private readonly fd: number) {}

  write(s: string): void {
    this.parts.push(s);
    this.pending += s.length;
    if (this.pending >= FLUSH_AT) this.flush();
  }

  flush(): void {
    if (this.pending === 0) return;
    const data = Buffer.from(this.parts.join(''), 'utf8');
    this.parts = [];
    this.pending = 0;
    let off = 0;
    while (off < data.length) {
      try {
        off += writeSync(this.fd, data, off, data.length - off);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') {
          Atomics.wait(sleeper, 0, 0, 2);
          continue;
        }
        if (code === 'EPIPE') return; // reader went away (e.g. `| head`): stop writing, do not crash
        throw err;
      }
    }
  }
}
