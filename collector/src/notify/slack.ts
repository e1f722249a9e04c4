/**
 * Direct Slack notification of new findings, for teams without Grafana
 * alerting (deploy/grafana does the same through Grafana's Alertmanager).
 *
 * The collector calls notify(findings) after each batch's database commit
 * with the findings stored for the first time (ingest/pipeline.ts onStored),
 * so redelivered Kafka messages never notify twice. notify() only queues:
 * sending runs off the ingest path, and a slow or failing Slack never delays
 * a batch or its offset commit.
 *
 * - one message per finding (slack-message.ts), at or above minSeverity;
 * - deduplicated by findingId (one finding per call, type and extra party,
 *   whichever sensor or collector of the group reports it) over the last
 *   `dedupeWindow` findings;
 * - rate-limited by a token bucket: findings that arrive while it is empty
 *   are sent as ONE "N more findings" message when the next token comes,
 *   never dropped silently (a queue overflow is counted into that summary);
 * - retried with exponential backoff and jitter on 5xx, 429 (honouring
 *   Retry-After) and timeouts/network errors; other 4xx are final
 *   (https://api.slack.com/messaging/webhooks#handling_errors);
 * - counted in Prometheus (names.ts: slackMessages, slackRetries, slackFindingsSkipped).
 *
 * Delivery is at most once per finding: a collector that dies between the
 * database commit and Slack's answer does not resend (its replacement sees
 * the events as already stored). The API and Grafana still show the finding.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { FindingEvent, Severity } from '../../../sensor/src/events/types.js';
import { METRICS } from '../names.js';
import { findingMessage, summaryMessage, type SlackLinks, type SlackPayload } from './slack-message.js';
import { TokenBucket } from './token-bucket.js';

export const SEVERITY_RANK: Record<Severity, number> = { info: 0, warning: 1, critical: 2 };

export interface SlackNotifierOptions extends SlackLinks {
  /** Slack incoming-webhook URL (a secret: never logged). */
  webhookUrl: string;
  /** Findings below this severity are not sent. */
  minSeverity: Severity;
  /** Sustained messages per minute (token refill rate). */
  ratePerMinute: number;
  /** Messages that may go out back to back (bucket size). */
  burst: number;
  /** Per-request timeout. */
  timeoutMs?: number;
  /** Retries after the first attempt, for 5xx, 429 and timeouts. */
  maxRetries?: number;
  /** First backoff; doubles per retry, with up to 50% jitter, capped at 30 s. */
  backoffMs?: number;
  /** How many recent findingIds are remembered for deduplication. */
  dedupeWindow?: number;
  /** Findings held in memory while rate-limited; beyond this they are only counted. */
  maxQueue?: number;
  /** Registry to count in (the collector's /metrics); none: not counted. */
  registry?: Registry;
  log?: { warn(obj: object, msg: string): void; debug?(obj: object, msg: string): void };
}

export type SlackStatus = 'sent' | 'failed' | 'rejected';

interface SlackMetrics {
  messages: Counter<'status' | 'kind'>;
  retries: Counter;
  skipped: Counter<'reason'>;
  queued: Gauge;
}

function createSlackMetrics(registry: Registry): SlackMetrics {
  const registers = [registry];
  // A second collector instance on the same registry (tests) reuses the counters.
  const existing = <T>(name: string): T | undefined => registry.getSingleMetric(name) as T | undefined;
  return {
    messages:
      existing(METRICS.slackMessages) ??
      new Counter({ name: METRICS.slackMessages, help: 'Slack webhook messages, by outcome (sent | failed | rejected) and kind (finding | summary).', labelNames: ['status', 'kind'], registers }),
    retries: existing(METRICS.slackRetries) ?? new Counter({ name: METRICS.slackRetries, help: 'Slack webhook requests retried after a 5xx, 429 or timeout.', registers }),
    skipped:
      existing(METRICS.slackFindingsSkipped) ??
      new Counter({ name: METRICS.slackFindingsSkipped, help: 'New findings not sent to Slack on their own, by reason (severity | duplicate | summarized).', labelNames: ['reason'], registers }),
    queued: existing(METRICS.slackQueue) ?? new Gauge({ name: METRICS.slackQueue, help: 'Findings waiting for the Slack rate limit.', registers }),
  };
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

/** A bounded set that forgets its oldest entries (insertion order of a Set). */
class RecentSet {
  private readonly items = new Set<string>();
  constructor(private readonly max: number) {}
  /** True if newly added, false if already present. */
  add(k: string): boolean {
    if (this.items.has(k)) return false;
    this.items.add(k);
    if (this.items.size > this.max) this.items.delete(this.items.values().next().value as string);
    return true;
  }
}

export class SlackNotifier {
  private readonly opts: Required<Omit<SlackNotifierOptions, 'registry' | 'log'>> & Pick<SlackNotifierOptions, 'log'>;
  private readonly bucket: TokenBucket;
  private readonly seen: RecentSet;
  private readonly metrics: SlackMetrics | null;
  private queue: FindingEvent[] = [];
  /** Findings that did not fit in the queue: only counted, reported in the next summary. */
  private overflow = 0;
  private pumping: Promise<void> | null = null;
  private readonly stopping = new AbortController();

  constructor(options: SlackNotifierOptions) {
    this.opts = {
      timeoutMs: 5000, maxRetries: 4, backoffMs: 500, dedupeWindow: 10_000, maxQueue: 1000,
      ...options,
    };
    this.bucket = new TokenBucket(this.opts.burst, this.opts.ratePerMinute / 60);
    this.seen = new RecentSet(this.opts.dedupeWindow);
    this.metrics = options.registry ? createSlackMetrics(options.registry) : null;
  }

  /** Queues the new findings worth a message; returns at once (never awaits Slack). */
  notify(findings: readonly FindingEvent[]): void {
    if (this.stopping.signal.aborted) return;
    const min = SEVERITY_RANK[this.opts.minSeverity];
    for (const f of findings) {
      if (SEVERITY_RANK[f.severity] < min) {
        this.metrics?.skipped.inc({ reason: 'severity' });
        continue;
      }
      if (!this.seen.add(f.findingId)) {
        this.metrics?.skipped.inc({ reason: 'duplicate' });
        continue;
      }
      if (this.queue.length < this.opts.maxQueue) this.queue.push(f);
      else this.overflow++;
    }
    this.metrics?.queued.set(this.queue.length + this.overflow);
    if (!this.pumping && (this.queue.length > 0 || this.overflow > 0)) {
      this.pumping = this.pump()
        .catch((err: unknown) => this.opts.log?.warn({ err }, 'slack notifier stopped unexpectedly'))
        .finally(() => {
          this.pumping = null;
          // Findings queued after the pump's last look start a new one.
          if (!this.stopping.signal.aborted && (this.queue.length > 0 || this.overflow > 0)) this.notify([]);
        });
    }
  }

  /** Resolves when everything queued so far has been sent (or given up on). */
  async idle(): Promise<void> {
    while (this.pumping) await this.pumping;
  }

  /**
   * Stops sending. Waits up to `graceMs` for the queue to drain first (a
   * shutting-down collector should not lose the last findings' messages).
   */
  async close(graceMs = 2000): Promise<void> {
    if (this.pumping) await Promise.race([this.idle(), new Promise((r) => setTimeout(r, graceMs).unref())]);
    this.stopping.abort();
    await this.pumping?.catch(() => undefined);
  }

  private async pump(): Promise<void> {
    const signal = this.stopping.signal;
    while (!signal.aborted && (this.queue.length > 0 || this.overflow > 0)) {
      if (this.bucket.tryTake()) {
        const f = this.queue.shift();
        if (f) await this.send(findingMessage(f, this.opts), 'finding');
        else await this.sendSummary();
      } else {
        // Out of tokens: whatever piles up until the next token is one summary.
        await sleep(this.bucket.msUntilToken(), signal);
        if (signal.aborted || !this.bucket.tryTake()) continue;
        if (this.queue.length + this.overflow > 1) await this.sendSummary();
        else await this.send(findingMessage(this.queue.shift()!, this.opts), 'finding');
      }
      this.metrics?.queued.set(this.queue.length + this.overflow);
    }
  }

  private async sendSummary(): Promise<void> {
    const held = this.queue;
    const unlisted = this.overflow;
    this.queue = [];
    this.overflow = 0;
    this.metrics?.skipped.inc({ reason: 'summarized' }, held.length + unlisted);
    await this.send(summaryMessage(held, unlisted, this.opts), 'summary');
  }

  /** POSTs one payload with retries; never throws. */
  async send(payload: SlackPayload, kind: 'finding' | 'summary'): Promise<SlackStatus> {
    const signal = this.stopping.signal;
    const body = JSON.stringify(payload);
    for (let attempt = 0; ; attempt++) {
      let retryAfterMs = 0;
      let why: string;
      try {
        const res = await fetch(this.opts.webhookUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          signal: AbortSignal.any([AbortSignal.timeout(this.opts.timeoutMs), signal]),
        });
        // Drain the body so the connection returns to the pool.
        const text = await res.text().catch(() => '');
        if (res.ok) {
          this.metrics?.messages.inc({ status: 'sent', kind });
          return 'sent';
        }
        if (res.status !== 429 && res.status < 500) {
          // Slack's answer (e.g. invalid_payload, no_service) says what to fix; the URL stays out of the log.
          this.opts.log?.warn({ status: res.status, answer: text.slice(0, 200) }, 'slack refused the message; not retrying');
          this.metrics?.messages.inc({ status: 'rejected', kind });
          return 'rejected';
        }
        const ra = Number(res.headers.get('retry-after'));
        if (Number.isFinite(ra) && ra > 0) retryAfterMs = Math.min(ra * 1000, 60_000);
        why = `HTTP ${res.status}`;
      } catch (err) {
        why = (err as Error).name === 'TimeoutError' ? 'timeout' : (err as Error).message;
      }
      if (signal.aborted || attempt >= this.opts.maxRetries) {
        this.opts.log?.warn({ why, attempts: attempt + 1 }, 'slack message failed');
        this.metrics?.messages.inc({ status: 'failed', kind });
        return 'failed';
      }
      this.metrics?.retries.inc();
      const backoff = Math.min(30_000, this.opts.backoffMs * 2 ** attempt) * (1 + Math.random() * 0.5);
      await sleep(Math.max(backoff, retryAfterMs), signal);
    }
  }
}

/**
 * The collector's notifier from its config, or null when no webhook is set.
 * The Slack metrics are registered either way, so /metrics always lists them.
 */
export function createSlackNotifier(
  cfg: Pick<SlackNotifierOptions, 'webhookUrl' | 'minSeverity' | 'ratePerMinute' | 'burst' | 'dashboardUrl' | 'apiBaseUrl'>,
  registry: Registry,
  log?: SlackNotifierOptions['log'],
): SlackNotifier | null {
  createSlackMetrics(registry);
  if (!cfg.webhookUrl) return null;
  return new SlackNotifier({ ...cfg, registry, log });
}
