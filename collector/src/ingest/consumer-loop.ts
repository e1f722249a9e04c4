/**
 * The consumer's control loop, independent of the Kafka client: take a
 * batch, process it (pipeline.ts), and commit its offsets only after the
 * processing resolved. A batch that fails (database down) is retried as it
 * is, with backoff, and nothing after it is read until it succeeds: the
 * committed offset can never pass a message that was not stored. Stopping
 * waits for the batch in hand; a batch interrupted by stop is not committed
 * and is redelivered to whoever owns the partition next.
 */
import type { InMessage } from './message.js';
import type { BatchOutcome, CommitOffset } from './pipeline.js';

export interface BatchSource {
  /**
   * Up to max messages, without waiting for more than the first; may return
   * none after a wait. With wait false, only what is at hand (no waiting).
   */
  next(max: number, wait?: boolean): Promise<InMessage[]>;
  /**
   * Commits the offsets of a stored batch. It may resolve once the commit is
   * sent rather than acknowledged: a lost commit only means a redelivery,
   * which the idempotent store absorbs.
   */
  commit(offsets: CommitOffset[]): Promise<void>;
}

export interface LoopLog {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface LoopOptions {
  batchSize: number;
  retryMinMs?: number;
  retryMaxMs?: number;
  log: LoopLog;
  /** After each commit (tests, lag metric). */
  onCommitted?: (offsets: CommitOffset[]) => void;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class ConsumerLoop {
  private stopping = false;
  private running: Promise<void> | null = null;
  /** Batches processed and committed. */
  batches = 0;
  /** Consecutive failures of the batch in hand (0 when healthy). */
  failures = 0;

  constructor(
    private readonly source: BatchSource,
    private readonly process: (messages: InMessage[]) => Promise<BatchOutcome>,
    private readonly opts: LoopOptions,
  ) {}

  start(): void {
    if (this.running) return;
    this.stopping = false;
    this.running = this.run();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.running;
    this.running = null;
  }

  get isRunning(): boolean {
    return this.running !== null && !this.stopping;
  }

  private async run(): Promise<void> {
    const min = this.opts.retryMinMs ?? 100;
    const max = this.opts.retryMaxMs ?? 10_000;
    const fetch = async (wait: boolean): Promise<InMessage[]> => {
      try {
        return await this.source.next(this.opts.batchSize, wait);
      } catch (err) {
        this.opts.log.warn({ err }, 'kafka consume failed; retrying');
        await sleep(min);
        return [];
      }
    };
    // A batch is what the client holds when the loop asks, taken without
    // waiting for more (only an empty queue is waited on, for its first
    // message): the batch size follows the load, one event when idle and
    // batchSize under pressure, and no event waits for a batch to fill.
    // While the database stores a batch, the messages that arrived meanwhile
    // are taken (again without waiting), so that their conversion to JS
    // objects runs while this process would otherwise wait; they are stored
    // only after this batch's offsets were committed, so commits stay in
    // batch order. A taken batch dropped at stop is redelivered.
    let carried: InMessage[] | null = null;
    while (!this.stopping) {
      const messages = carried ?? (await fetch(true));
      carried = null;
      if (this.stopping) return; // not processed, not committed: redelivered
      if (messages.length === 0) continue;
      let outcome: BatchOutcome | null = null;
      let delay = min;
      let next: Promise<InMessage[]> | null = null;
      while (!outcome) {
        try {
          const storing = this.process(messages);
          next ??= fetch(false);
          outcome = await storing;
          this.failures = 0;
        } catch (err) {
          this.failures++;
          this.opts.log.error({ err, messages: messages.length, attempt: this.failures }, 'batch not stored; retrying the same batch');
          if (this.stopping) {
            await next?.catch(() => undefined);
            return; // not committed: redelivered after restart or rebalance
          }
          await sleep(delay);
          delay = Math.min(delay * 2, max);
        }
      }
      try {
        await this.source.commit(outcome.commits);
        this.batches++;
        this.opts.onCommitted?.(outcome.commits);
      } catch (err) {
        // Usually a rebalance took the partition away: its next owner re-reads
        // from the last commit, and the idempotent store absorbs the replay.
        this.opts.log.warn({ err }, 'offset commit failed; the batch will be redelivered and deduplicated');
      }
      carried = await next;
    }
  }
}
