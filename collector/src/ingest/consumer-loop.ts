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
  /** Up to max messages; may return none after a wait. */
  next(max: number): Promise<InMessage[]>;
  /** Commits synchronously; resolves once the broker acknowledged. */
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
    const fetch = async (): Promise<InMessage[]> => {
      try {
        return await this.source.next(this.opts.batchSize);
      } catch (err) {
        this.opts.log.warn({ err }, 'kafka consume failed; retrying');
        await sleep(min);
        return [];
      }
    };
    // The next batch is fetched while the current one is stored (the fetch
    // runs in librdkafka's thread): the broker round trip overlaps the
    // database transaction. Commits stay in batch order, each after its own
    // batch was stored; a prefetched batch dropped at stop is redelivered.
    let pending: Promise<InMessage[]> = fetch();
    while (!this.stopping) {
      const messages = await pending;
      if (this.stopping) return;
      if (messages.length === 0) {
        pending = fetch();
        continue;
      }
      pending = fetch();
      let outcome: BatchOutcome | null = null;
      let delay = min;
      while (!outcome) {
        try {
          outcome = await this.process(messages);
          this.failures = 0;
        } catch (err) {
          this.failures++;
          this.opts.log.error({ err, messages: messages.length, attempt: this.failures }, 'batch not stored; retrying the same batch');
          if (this.stopping) {
            await pending.catch(() => undefined);
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
    }
    await pending.catch(() => undefined);
  }
}
