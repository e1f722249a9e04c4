/**
 * The thin Kafka part of the collector (node-rdkafka, i.e. librdkafka):
 * a consumer in the collector's group subscribed to the findings, telemetry
 * and fingerprint topics with auto-commit off, a producer for the dead-letter
 * topic, and the ConsumerLoop that joins them to the pipeline. Offsets are
 * committed synchronously (commitSync) and only after the batch's database
 * commit and DLQ delivery (ingest/pipeline.ts, ingest/consumer-loop.ts).
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
  private readonly committed = new Map<string, number>();
  /** Set by the consumer's error events; cleared when a metadata request succeeds. */
  private lastError: string | null = null;

  constructor(private readonly opts: KafkaIngestOptions) {}

  async start(): Promise<void> {
    const Kafka = loadRdKafka();
    const { config } = this.opts;
    const producer = new Kafka.HighLevelProducer({
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
        'metadata.broker.list': config.kafkaBrokers,
        'group.id': config.groupId,
        'client.id': `tapwatch-collector`,
        'enable.auto.commit': false,
        'enable.auto.offset.store': false,
        'rebalance_cb': true,
        'socket.keepalive.enable': true,
        'session.timeout.ms': config.kafkaSessionTimeoutMs,
        ...this.opts.consumerOverrides,
      },
      { 'auto.offset.reset': 'earliest' },
    );
    consumer.on('event.error', (err) => {
      this.lastError = err.message;
      this.opts.log.warn({ err }, 'kafka consumer error');
    });
    await promisify<unknown>((cb) => consumer.connect({ timeout: 10_000 }, cb as never));
    consumer.setDefaultConsumeTimeout(config.batchWaitMs);
    consumer.subscribe([config.topics.findings, config.topics.telemetry, config.topics.fingerprints]);
    this.consumer = consumer;

    const source: BatchSource = {
      next: (max) =>
        promisify<RdKafka.Message[]>((cb) => consumer.consume(max, cb as never)).then((msgs) =>
          msgs.map(
            (m): InMessage => ({ topic: m.topic, partition: m.partition, offset: m.offset, key: m.key ?? null, value: m.value, timestamp: m.timestamp }),
          ),
        ),
      commit: async (offsets: CommitOffset[]) => {
        // Only partitions this member still owns: after a rebalance the new
        // owner re-reads from the last commit (and the store absorbs the replay).
        const owned = new Set(consumer.assignments().map((a) => `${a.topic}\0${a.partition}`));
        const mine = offsets.filter((o) => owned.has(`${o.topic}\0${o.partition}`));
        if (mine.length === 0) return;
        consumer.commitSync(mine.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset })));
      },
    };
    const dlq = new KafkaDeadLetterSink(producer, config.topics.dlq);
    this.loop = new ConsumerLoop(source, (msgs) => processBatch(msgs, { ...this.opts.pipeline, dlq }), {
      batchSize: config.batchSize,
      log: this.opts.log,
      onCommitted: (offsets) => {
        for (const o of offsets) this.committed.set(`${o.topic}\0${o.partition}`, o.offset);
      },
    });
    this.loop.start();
    this.lagTimer = setInterval(() => void this.updateLag(), LAG_INTERVAL_MS);
    this.lagTimer.unref();
    this.opts.log.info({ brokers: config.kafkaBrokers, group: config.groupId }, 'kafka consumer started');
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
