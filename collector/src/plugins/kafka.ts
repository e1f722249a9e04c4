/**
 * The thin Kafka part of the collector (node-rdkafka, i.e. librdkafka):
 * a consumer in the collector's group subscribed to the findings, telemetry
 * and fingerprint topics with auto-commit off, a producer for the dead-letter
 * topic, and the ConsumerLoop that joins them to the pipeline. Offsets are
 * committed only after the batch's database commit and DLQ delivery
 * (ingest/pipeline.ts, ingest/consumer-loop.ts).
 *
 * Throughput and latency (docs/pipeline.md):
 *  - a batch is what librdkafka already holds, taken without waiting; only
 *    an empty queue is waited on (batchWaitMs), for its first message. A
 *    batch never waits to fill: node-rdkafka's consume(n) applies its timeout
 *    to EACH message, so with a timeout a steady trickle of events (gaps
 *    shorter than the timeout) kept one batch open until it had n messages.
 *    The loop takes the next batch while the database stores the current one
 *    (ingest/consumer-loop.ts);
 *  - offsets are committed asynchronously (librdkafka's commitAsync, result
 *    in the offset_commit_cb): commitSync blocked the event loop for a broker
 *    round trip per batch. A commit lost to a crash or a rebalance means a
 *    redelivery, absorbed by the idempotent store; stop() commits the last
 *    offsets synchronously before leaving the group.
 *
 * node-rdkafka is loaded lazily, so the HTTP API and every test that does not
 * touch Kafka run without the native module.
 */
import { createRequire } from 'node:module';
import type * as RdKafka from 'node-rdkafka';
import type { CollectorConfig } from '../config.js';
import type { CollectorMetrics } from './metrics.js';
import { ConsumerLoop, type BatchSource, type LoopLog } from '../ingest/consumer-loop.js';
import { deadLetterHeaders, type DeadLetter, type DeadLetterSink, type InMessage } from '../ingest/message.js';
import { processBatch, type CommitOffset, type PipelineDeps } from '../ingest/pipeline.js';

const require = createRequire(import.meta.url);
function loadRdKafka(): typeof RdKafka {
  return require('node-rdkafka') as typeof RdKafka;
}

const LAG_INTERVAL_MS = 5000;
/** librdkafka's RD_KAFKA_RESP_ERR__NO_OFFSET: a commit with nothing new in it. */
const ERR_NO_OFFSET = -168;

function promisify<T>(fn: (cb: (err: RdKafka.LibrdKafkaError | null | undefined, v: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v))));
}

/** Dead letters through a HighLevelProducer: resolves when every letter is acknowledged. */
export class KafkaDeadLetterSink implements DeadLetterSink {
  constructor(
    private readonly producer: RdKafka.HighLevelProducer,
    private readonly topic: string,
  ) {}

  send(letters: DeadLetter[]): Promise<void> {
    return Promise.all(
      letters.map(
        (d) =>
          new Promise<void>((resolve, reject) => {
            const headers = Object.entries(deadLetterHeaders(d)).map(([k, v]) => ({ [k]: v }));
            this.producer.produce(this.topic, null, d.message.value ?? Buffer.alloc(0), d.message.key ?? null, Date.now(), headers, (err: unknown) =>
              err ? reject(err) : resolve(),
            );
          }),
      ),
    ).then(() => undefined);
  }
}

export interface KafkaIngestOptions {
  config: CollectorConfig;
  pipeline: Omit<PipelineDeps, 'dlq'>;
  metrics: CollectorMetrics;
  log: LoopLog & { info(obj: object, msg: string): void };
  /** Extra librdkafka settings (tests: short session timeouts). */
  consumerOverrides?: Record<string, string | number | boolean>;
}

export class KafkaIngest {
  private consumer: RdKafka.KafkaConsumer | null = null;
  private producer: RdKafka.HighLevelProducer | null = null;
  private loop: ConsumerLoop | null = null;
  private lagTimer: NodeJS.Timeout | null = null;
  /** Offsets the broker acknowledged (offset_commit_cb), for the lag gauge. */
  private readonly committed = new Map<string, number>();
  /** The latest offsets asked to be committed, per partition: committed again, synchronously, at stop. */
  private readonly requested = new Map<string, CommitOffset>();
  /** Partitions assigned to this member ("topic\0partition"); null until read again after a rebalance. */
  private assigned: Set<string> | null = null;
  /** Set by the consumer's error events; cleared when a metadata request succeeds. */
  private lastError: string | null = null;

  constructor(private readonly opts: KafkaIngestOptions) {}

  async start(): Promise<void> {
    const Kafka = loadRdKafka();
    const { config } = this.opts;
    const producer = new Kafka.HighLevelProducer({
      // TLS/SASL and other librdkafka settings from the config (config.ts: kafka), first so ours win.
      ...config.kafka,
      'metadata.broker.list': config.kafkaBrokers,
      'client.id': `tapwatch-collector-dlq`,
      'enable.idempotence': true,
      'linger.ms': 5,
      dr_cb: true,
    });
    producer.setPollInterval(50);
    producer.on('event.error', (err) => this.opts.log.warn({ err }, 'kafka producer error'));
    await promisify<unknown>((cb) => producer.connect({ timeout: 10_000 }, cb as never));
    this.producer = producer;

    const consumer = new Kafka.KafkaConsumer(
      {
        ...config.kafka,
        'metadata.broker.list': config.kafkaBrokers,
        'group.id': config.groupId,
        'client.id': `tapwatch-collector`,
        'enable.auto.commit': false,
        'enable.auto.offset.store': false,
        'rebalance_cb': true,
        'socket.keepalive.enable': true,
        'session.timeout.ms': config.kafkaSessionTimeoutMs,
        // Reports the result of every asynchronous commit ('offset.commit').
        offset_commit_cb: true,
        // The broker answers a fetch once it has 64 KiB for it, or after 25 ms
        // (librdkafka CONFIGURATION.md: fetch.min.bytes, fetch.wait.max.ms).
        // The default (1 byte, 500 ms) answered as soon as any message was
        // there: at 10,000 events/s that was a fetch per produce request and
        // ~25 us of broker CPU per event; with these, ~14 us. An event alone
        // waits at most 25 ms more (docs/pipeline.md).
        'fetch.min.bytes': 65_536,
        'fetch.wait.max.ms': 25,
        ...this.opts.consumerOverrides,
      },
      { 'auto.offset.reset': 'earliest' },
    );
    consumer.on('event.error', (err) => {
      this.lastError = err.message;
      this.opts.log.warn({ err }, 'kafka consumer error');
    });
    // Emitted before node-rdkafka applies the new assignment: read it lazily, at the next commit.
    consumer.on('rebalance', () => {
      this.assigned = null;
    });
    consumer.on('offset.commit', (err: RdKafka.LibrdKafkaError | null, offsets: RdKafka.TopicPartitionOffset[]) => {
      // ERR__NO_OFFSET: nothing new to commit, not a failure.
      if (err && err.code !== ERR_NO_OFFSET) {
        this.opts.log.warn({ err }, 'offset commit failed; those messages will be redelivered and deduplicated');
        return;
      }
      for (const o of offsets ?? []) if (o.offset >= 0) this.committed.set(`${o.topic}\0${o.partition}`, o.offset);
    });
    await promisify<unknown>((cb) => consumer.connect({ timeout: 10_000 }, cb as never));
    consumer.subscribe([config.topics.findings, config.topics.telemetry, config.topics.fingerprints]);
    this.consumer = consumer;

    // node-rdkafka reads the default timeout when consume() is called, so
    // setting it right before a call sets it for that call only.
    const consumeUpTo = (max: number, timeoutMs: number): Promise<RdKafka.Message[]> => {
      consumer.setDefaultConsumeTimeout(timeoutMs);
      return promisify<RdKafka.Message[]>((cb) => consumer.consume(max, cb as never));
    };
    const source: BatchSource = {
      next: async (max, wait = true) => {
        // What librdkafka has fetched already, without waiting (timeout 0 ends
        // the call at the first empty poll).
        let msgs = await consumeUpTo(max, 0);
        if (msgs.length === 0 && wait) {
          // Idle: wait for ONE message, then take whatever came with it.
          msgs = await consumeUpTo(1, config.batchWaitMs);
          if (msgs.length === 1 && max > 1) msgs = msgs.concat(await consumeUpTo(max - 1, 0));
        }
        return msgs.map(
          (m): InMessage => ({ topic: m.topic, partition: m.partition, offset: m.offset, key: m.key ?? null, value: m.value, timestamp: m.timestamp }),
        );
      },
      commit: async (offsets: CommitOffset[]) => {
        const mine = this.owned(consumer, offsets);
        if (mine.length === 0) return;
        for (const o of mine) this.requested.set(`${o.topic}\0${o.partition}`, o);
        consumer.commit(mine.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset })));
      },
    };
    const dlq = new KafkaDeadLetterSink(producer, config.topics.dlq);
    this.loop = new ConsumerLoop(source, (msgs) => processBatch(msgs, { ...this.opts.pipeline, dlq }), {
      batchSize: config.batchSize,
      log: this.opts.log,
    });
    this.loop.start();
    this.lagTimer = setInterval(() => void this.updateLag(), LAG_INTERVAL_MS);
    this.lagTimer.unref();
    this.opts.log.info({ brokers: config.kafkaBrokers, group: config.groupId }, 'kafka consumer started');
  }

  /**
   * Only partitions this member still owns: after a rebalance the new owner
   * re-reads from the last commit (and the store absorbs the replay). The
   * assignment is read once per rebalance, not per batch (assignments()
   * builds a fresh array of objects in C++ on every call).
   */
  private owned(consumer: RdKafka.KafkaConsumer, offsets: Iterable<CommitOffset>): CommitOffset[] {
    this.assigned ??= new Set(consumer.assignments().map((a) => `${a.topic}\0${a.partition}`));
    const owned = this.assigned;
    return [...offsets].filter((o) => owned.has(`${o.topic}\0${o.partition}`));
  }

  /** Consumer lag per assigned partition: high watermark minus our committed offset. */
  async updateLag(): Promise<void> {
    const consumer = this.consumer;
    if (!consumer || !consumer.isConnected()) return;
    const gauge = this.opts.metrics.consumerLag;
    let assigned: RdKafka.Assignment[];
    try {
      assigned = consumer.assignments();
    } catch {
      return;
    }
    const positions = new Map<string, number>();
    try {
      for (const p of consumer.position(assigned)) if (p.offset >= 0) positions.set(`${p.topic}\0${p.partition}`, p.offset);
    } catch {
      /* position unknown before the first fetch */
    }
    gauge.reset();
    await Promise.all(
      assigned.map(async (a) => {
        try {
          const wm = await promisify<RdKafka.WatermarkOffsets>((cb) => consumer.queryWatermarkOffsets(a.topic, a.partition, 2000, cb as never));
          const k = `${a.topic}\0${a.partition}`;
          const done = this.committed.get(k) ?? positions.get(k) ?? wm.lowOffset;
          gauge.set({ topic: a.topic, partition: String(a.partition) }, Math.max(0, wm.highOffset - done));
        } catch {
          /* broker unreachable: leave the partition out for this round */
        }
      }),
    );
  }

  /** True when the consumer is connected and the broker answers a metadata request. */
  async healthy(timeoutMs = 2000): Promise<boolean> {
    const consumer = this.consumer;
    if (!consumer || !consumer.isConnected() || !this.loop?.isRunning) return false;
    try {
      await promisify<RdKafka.Metadata>((cb) => consumer.getMetadata({ topic: this.opts.config.topics.telemetry, timeout: timeoutMs }, cb as never));
      this.lastError = null;
      return true;
    } catch {
      return false;
    }
  }

  get lastErrorText(): string | null {
    return this.lastError;
  }

  async stop(): Promise<void> {
    if (this.lagTimer) clearInterval(this.lagTimer);
    this.lagTimer = null;
    await this.loop?.stop();
    this.loop = null;
    const consumer = this.consumer;
    if (consumer) {
      // The asynchronous commits may still be in flight: make the last ones durable before leaving the group.
      try {
        const last = this.owned(consumer, this.requested.values());
        if (last.length) consumer.commitSync(last.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset })));
      } catch (err) {
        this.opts.log.warn({ err }, 'final offset commit failed; the last batch will be redelivered and deduplicated');
      }
    }
    this.requested.clear();
    const producer = this.producer;
    this.consumer = null;
    this.producer = null;
    if (consumer) await promisify<unknown>((cb) => consumer.disconnect(cb as never)).catch(() => undefined);
    if (producer) {
      await promisify<unknown>((cb) => producer.flush(5000, cb as never)).catch(() => undefined);
      await promisify<unknown>((cb) => producer.disconnect(cb as never)).catch(() => undefined);
    }
  }
}
