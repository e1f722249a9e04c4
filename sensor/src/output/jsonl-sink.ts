/** One JSON event per line (JSON Lines), the machine-readable output of `--format jsonl`. */
import type { EventSink, TapwatchEvent } from '../events/types.js';
import { FdWriter } from './fd-writer.js';

export class JsonlSink implements EventSink {
  private readonly out: FdWriter;

  constructor(fd = 1) {
    this.out = new FdWriter(fd);
  }

  write(event: TapwatchEvent): void {
    this.out.write(JSON.stringify(event) + '\n');
  }

  async flush(): Promise<void> {
    this.out.flush();
  }
}
