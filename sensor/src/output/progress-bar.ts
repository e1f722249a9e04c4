/** A progress bar on stderr while a large file is read (only on a terminal). */
import type { PacketSource } from '../capture/packet-source.js';

export class ProgressBar {
  private timer: NodeJS.Timeout | null = null;
  private readonly started = Date.now();

  constructor(
    private readonly source: PacketSource,
    private readonly tty: NodeJS.WriteStream,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.draw(), 200);
    this.timer.unref();
  }

  private draw(): void {
    const { bytesRead, bytesTotal } = this.source.progress();
    const pkts = this.source.stats().packets;
    const secs = (Date.now() - this.started) / 1000;
    const width = 30;
    const frac = bytesTotal > 0 ? Math.min(1, bytesRead / bytesTotal) : 0;
    const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.');
    const rate = secs > 0 ? Math.round(pkts / secs) : 0;
    this.tty.write(`\r[${bar}] ${(frac * 100).toFixed(0).padStart(3)}%  ${pkts} pkts  ${rate} pkt/s `);
  }

  stop(): void {
    if (this.timer) {
      clearInterval(this.timer);
      this.timer = null;
      this.tty.write('\r' + ' '.repeat(80) + '\r');
    }
  }
}
