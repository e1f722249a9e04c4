/**
 * Produces every event to Apache Kafka with node-rdkafka (librdkafka), losing
 * nothing across broker outages.
 *
 * Producer settings follow librdkafka's CONFIGURATION.md and INTRODUCTION.md
 * ("Idempotent Producer", "Message reliability"):
 *  - enable.idempotence=true (implies acks=all and unlimited retries with
 *    in-order, duplicate-free delivery per partition);
 *  - message.timeout.ms=0: librdkafka never gives up on a message, however
 *    long the broker is away;
 *  - compression (lz4 by default) and a short linger to batch;
 *  - murmur2_random partitioner: the Java client's, so a key maps to the same
 *    partition whichever client produced it.
 * The key is the call (topics.ts): every event of a call lands in one
 * partition, in order. Settings given by the user (TLS, SASL, tuning) are
 * passed through to librdkafka and override these.
 *
 * Loss-free path, oldest first:
 *   librdkafka's queue (bounded by queue.buffering.max.*)
 *     <- an in-memory buffer (bounded by memoryLimitEvents/Bytes)
 *     <- the disk spool (spool.ts), when a spool folder is set
 *     <- new events.
 * A new event goes behind the last non-empty stage, so order holds. When
 * librdkafka's queue is full (the broker has been away long enough to fill
 * it) events wait in memory, then on disk, and are replayed in order as
 * delivery reports free room. Every event handed to librdkafka is kept until
 * its delivery report, so close() can spool what was never acknowledged.
 * With memory full and no spool, findings are still kept (the memory bound
 * yields to them); other events are dropped and counted (`dropped`).
 */
import Kafka from 'node-rdkafka';
import type { LibrdKafkaError, DeliveryReport, ProducerGlobalConfig } from 'node-rdkafka';
import type { EventSink, OutputStats, TapwatchEvent } from '../events/types.js';
import { DEFAULT_TOPICS, FINGERPRINTS_TOPIC, isFindingEvent, keyFor, topicFor, type TopicNames } from './topics.js';
import { FINGERPRINT_TYPE, fingerprintKey, type StreamFingerprint } from '../../../collector/src/ingest/fingerprint.js';
import { Spool, type SpoolSegment } from './spool.js';

export interface KafkaSinkOptions {
  /** Comma-separated bootstrap brokers, host:port. */
  brokers: string;
  topics?: Partial<TopicNames>;
  /**
   * Topic of the per-stream media fingerprints, or null/absent for none: the
   * sensor then computes none. The CLI sets FINGERPRINTS_TOPIC
   * (tapwatch.fingerprints) unless --no-fingerprints.
   */
  fingerprintsTopic?: string | null;
  /** Extra librdkafka properties (security.protocol, ssl.*, sasl.*, tuning); they override the defaults. */
  librdkafka?: Record<string, string | number | boolean>;
  clientId?: string;
  /** librdkafka's queue: queue.buffering.max.messages (default 100000). */
  queueMaxMessages?: number;
  /** librdkafka's queue: queue.buffering.max.kbytes (default 65536 = 64 MiB). */
  queueMaxKbytes?: number;
  /** In-memory buffer behind librdkafka's queue (default 100000 events, 64 MiB). */
  memoryLimitEvents?: number;
  memoryLimitBytes?: number;
  /** Spool folder: events that fit in no memory go here, and close() spools what is undelivered. */
  spoolDir?: string;
  spoolMaxBytes?: number;
  /** How long flush() waits for delivery (default 30 s). */
  flushTimeoutMs?: number;
  /** Warnings (broker down/up, delivery failures), rate-limited by state changes. */
  onWarning?: (message: string) => void;
}

/** What the sink has done so far: sensor_stats.output and the Prometheus metrics. */
export interface KafkaSinkStats extends OutputStats {
  /** The last delivery report succeeded and no all-brokers-down error came since. */
  brokerUp: boolean;
  /** Events replayed from the spool. */
  replayed: number;
  /** Producers restarted after a fatal (idempotence) error. */
  producerRestarts: number;
  /** Deliveries that failed with a retriable error and were sent again. */
  retried: number;
  lastError: string | null;
}

/** One event on its way: the serialized line, where it goes, and the spool segment it came from. */
interface Pending {
  line: string;
  topic: string;
  key: string;
  type: string;
  finding: boolean;
  seq: number;
  segment: SpoolSegment | null;
}

const ERR_QUEUE_FULL = Kafka.CODES.ERRORS.ERR__QUEUE_FULL;
const ERR_ALL_BROKERS_DOWN = Kafka.CODES.ERRORS.ERR__ALL_BROKERS_DOWN;
const ERR_TRANSPORT = Kafka.CODES.ERRORS.ERR__TRANSPORT;
const ERR_MSG_TIMED_OUT = Kafka.CODES.ERRORS.ERR__MSG_TIMED_OUT;
const ERR_FATAL = Kafka.CODES.ERRORS.ERR__FATAL;
const E = Kafka.CODES.ERRORS as Record<string, number>;
/**
 * Delivery errors that no retry can fix: the event itself or the topic is
 * refused. Everything else is retried (see onDelivery).
 */
const PERMANENT_ERRORS = new Set<number>(
  ['ERR_MSG_SIZE_TOO_LARGE', 'ERR__MSG_SIZE_TOO_LARGE', 'ERR_INVALID_MSG', 'ERR_INVALID_MSG_SIZE', 'ERR_TOPIC_AUTHORIZATION_FAILED', 'ERR_CLUSTER_AUTHORIZATION_FAILED', 'ERR__INVALID_ARG', 'ERR_RECORD_LIST_TOO_LARGE', 'ERR_INVALID_RECORD']
    .map((n) => E[n])
    .filter((c): c is number => typeof c === 'number'),
);

/** A flush() in progress: resolves after `remaining` settlements or at its deadline. */
interface FlushWaiter {
  remaining: number;
  deadline: number;
  timer: NodeJS.Timeout;
  resolve: () => void;
}

/** Longest flush wait while the broker is known to be away. */
const FLUSH_WAIT_BROKER_DOWN_MS = 5000;

/** A FIFO with O(1) shift: an array and a head index, compacted now and then. */
class Fifo<T> {
  private items: T[] = [];
  private head = 0;
  get length(): number {
    return this.items.length - this.head;
  }
  push(x: T): void {
    this.items.push(x);
  }
  peek(): T | undefined {
    return this.items[this.head];
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const x = this.items[this.head]!;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return x;
  }
  unshiftAll(xs: T[]): void {
    this.items = [...xs, ...this.items.slice(this.head)];
    this.head = 0;
  }
  drain(): T[] {
    const out = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    return out;
  }
}

export class KafkaSink implements EventSink {
  readonly topics: TopicNames;
  readonly fingerprintsTopic: string | null;
  /**
   * Present only when fingerprints are on, so that the emitter sees no
   * fingerprint sink otherwise. Fingerprints take the events' path (memory,
   * spool, retries), keyed by fingerprintKey(ssrc) so that all of one SSRC
   * meet in one partition, i.e. at one collector.
   */
  readonly fingerprint?: (fp: StreamFingerprint) => void;
  private readonly opts: Required<Omit<KafkaSinkOptions, 'spoolDir' | 'topics' | 'fingerprintsTopic' | 'librdkafka' | 'clientId' | 'onWarning'>> & KafkaSinkOptions;
  private producer: Kafka.Producer | null = null;
  private ready = false;
  private connecting = false;
  private closed = false;
  private readonly spool: Spool | null;
  private readonly memory = new Fifo<Pending>();
  private memoryBytes = 0;
  /** Handed to librdkafka, awaiting a delivery report; by seq. */
  private readonly inflight = new Map<number, Pending>();
  private seq = 0;
  private drainTimer: NodeJS.Timeout | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private reconnectDelayMs = 500;
  private drainScheduled = false;
  private readonly waiters: FlushWaiter[] = [];
  private warnedDrop = false;
  private readonly counters = { accepted: 0, delivered: 0, failed: 0, dropped: 0, replayed: 0, retried: 0, restarts: 0 };
  /** Null until the first delivery or connection failure tells. */
  private brokerUp: boolean | null = null;
  private lastError: string | null = null;

  constructor(opts: KafkaSinkOptions) {
    this.opts = {
      queueMaxMessages: 100_000,
      queueMaxKbytes: 65_536,
      memoryLimitEvents: 100_000,
      memoryLimitBytes: 64 << 20,
      spoolMaxBytes: 1 << 30,
      flushTimeoutMs: 30_000,
      ...opts,
    };
    this.topics = { ...DEFAULT_TOPICS, ...opts.topics };
    this.fingerprintsTopic = opts.fingerprintsTopic ?? null;
    if (this.fingerprintsTopic !== null) {
      const topic = this.fingerprintsTopic;
      this.fingerprint = (fp) => {
        this.counters.accepted++;
        this.enqueue({ line: JSON.stringify(fp), topic, key: fingerprintKey(fp.ssrc), type: fp.type, finding: false, seq: ++this.seq, segment: null });
      };
    }
    this.spool = opts.spoolDir ? new Spool(opts.spoolDir, { maxBytes: this.opts.spoolMaxBytes }) : null;
    this.connect();
    // Replays the backlog while librdkafka has room; delivery reports also trigger it.
    this.drainTimer = setInterval(() => this.drain(), 200);
    this.drainTimer.unref();
  }

  /** The librdkafka configuration this sink uses (user settings last). */
  producerConfig(): ProducerGlobalConfig {
    return {
      'metadata.broker.list': this.opts.brokers,
      'client.id': this.opts.clientId ?? 'tapwatch-sensor',
      'enable.idempotence': true,
      acks: -1,
      'compression.type': 'lz4',
      'linger.ms': 20,
      'message.timeout.ms': 0,
      'queue.buffering.max.messages': this.opts.queueMaxMessages,
      'queue.buffering.max.kbytes': this.opts.queueMaxKbytes,
      partitioner: 'murmur2_random',
      'reconnect.backoff.ms': 100,
      'reconnect.backoff.max.ms': 2000,
      'socket.keepalive.enable': true,
      dr_cb: true,
      ...(this.opts.librdkafka as ProducerGlobalConfig | undefined),
    } as ProducerGlobalConfig;
  }

  private connect(): void {
    if (this.closed || this.connecting || this.ready) return;
    this.connecting = true;
    const p = new Kafka.Producer(this.producerConfig());
    this.producer = p;
    // Reports from a producer that was replaced (fatal error) or closed concern events already requeued or spooled.
    p.on('delivery-report', (err: LibrdKafkaError | null, report: DeliveryReport) => {
      if (this.producer === p) this.onDelivery(p, err, report);
    });
    p.on('event.error', (err: LibrdKafkaError) => this.onError(p, err));
    p.connect({ timeout: 5000 }, (err) => {
      this.connecting = false;
      if (this.producer !== p) return;
      if (err) {
        this.noteError(err);
        this.setBrokerUp(false, `cannot reach Kafka at ${this.opts.brokers} (${err.message}); buffering`);
        this.producer = null;
        if (!this.closed) {
          this.reconnectTimer = setTimeout(() => {
            this.reconnectTimer = null;
            this.connect();
          }, this.reconnectDelayMs);
          this.reconnectTimer.unref();
          this.reconnectDelayMs = Math.min(this.reconnectDelayMs * 2, 5000);
        }
        return;
      }
      this.reconnectDelayMs = 500;
      this.ready = true;
      p.setPollInterval(50);
      this.drain();
    });
  }

  write(event: TapwatchEvent): void {
    this.counters.accepted++;
    const item: Pending = {
      line: JSON.stringify(event),
      topic: topicFor(event, this.topics),
      key: keyFor(event),
      type: event.type,
      finding: isFindingEvent(event.type),
      seq: ++this.seq,
      segment: null,
    };
    this.enqueue(item);
  }

  /** A new item goes behind the last non-empty stage (spool, memory, librdkafka), so order holds. */
  private enqueue(item: Pending): void {
    if (this.spool !== null && this.spool.pending > 0) this.toSpool(item);
    else if (this.memory.length > 0 || !this.tryProduce(item)) this.toBuffer(item);
  }

  /** Where a spooled line goes again: fingerprints to their topic and key, events by topics.ts. */
  private routeOf(line: string): Pick<Pending, 'topic' | 'key' | 'type' | 'finding'> {
    const ev = JSON.parse(line) as TapwatchEvent | StreamFingerprint;
    if (ev.type === FINGERPRINT_TYPE) {
      const fp = ev as StreamFingerprint;
      // Spooled while fingerprints were on; a later run with them off still delivers what it owes.
      return { topic: this.fingerprintsTopic ?? FINGERPRINTS_TOPIC, key: fingerprintKey(fp.ssrc), type: fp.type, finding: false };
    }
    const e = ev as TapwatchEvent;
    return { topic: topicFor(e, this.topics), key: keyFor(e), type: e.type, finding: isFindingEvent(e.type) };
  }

  /** Hand one event to librdkafka; false when it has no room (or is not connected yet). */
  private tryProduce(item: Pending): boolean {
    if (!this.ready || this.producer === null) return false;
    try {
      this.producer.produce(item.topic, null, Buffer.from(item.line), item.key, null, item.seq, [{ type: item.type }]);
    } catch (err) {
      const e = err as LibrdKafkaError;
      if (e.code === ERR_QUEUE_FULL) return false;
      // Not retriable (message too large, unknown partition...): record and move on.
      this.noteError(e);
      this.counters.failed++;
      this.warn(`event ${item.type} not produced: ${e.message}`);
      if (item.segment) this.spool?.ack(item.segment);
      this.settled(1);
      return true;
    }
    this.inflight.set(item.seq, item);
    return true;
  }

  /** Behind librdkafka's queue: memory while it has room, then the spool, then (findings only) memory anyway. */
  private toBuffer(item: Pending): void {
    const bytes = item.line.length;
    if (this.memory.length < this.opts.memoryLimitEvents && this.memoryBytes + bytes <= this.opts.memoryLimitBytes) {
      this.pushMemory(item);
    } else if (this.spool !== null && item.segment === null && this.spool.append(item.line, item.finding)) {
      /* on disk */
    } else if (item.finding || item.segment !== null) {
      // Findings are never dropped, nor events whose spool segment is still on disk.
      this.pushMemory(item);
    } else {
      this.counters.dropped++;
      if (!this.warnedDrop) {
        this.warnedDrop = true;
        this.warn('output buffer full: dropping telemetry events (findings are kept); set --spool-dir to keep everything');
      }
      this.settled(1);
    }
  }

  private toSpool(item: Pending): void {
    if (this.spool!.append(item.line, item.finding)) return;
    this.toBuffer(item);
  }

  private pushMemory(item: Pending): void {
    this.memory.push(item);
    this.memoryBytes += item.line.length;
  }

  /** Move the backlog (memory, then spool) into librdkafka while it has room. */
  private drain(): void {
    this.drainScheduled = false;
    if (!this.ready) {
      if (!this.connecting && this.producer === null && this.reconnectTimer === null) this.connect();
      return;
    }
    for (;;) {
      const item = this.memory.peek();
      if (item === undefined) {
        if (this.spool === null || this.spool.pending === 0) return;
        // Read back no more than the memory buffer may hold.
        const batch = this.spool.read(Math.max(1, Math.min(1000, this.opts.memoryLimitEvents)));
        if (batch === null) return;
        for (const line of batch.lines) {
          this.counters.replayed++;
          this.pushMemory({ line, ...this.routeOf(line), seq: ++this.seq, segment: batch.segment });
        }
        continue;
      }
      if (!this.tryProduce(item)) return;
      this.memory.shift();
      this.memoryBytes -= item.line.length;
    }
  }

  private scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    setImmediate(() => this.drain());
  }

  private onDelivery(p: Kafka.Producer, err: LibrdKafkaError | null, report: DeliveryReport): void {
    const item = this.inflight.get(report.opaque as number);
    if (item === undefined) return;
    if (err && (err.code === ERR_FATAL || (err as { isFatal?: boolean }).isFatal === true)) {
      // The idempotent producer hit a fatal error (e.g. a sequence gap after a broker
      // restart) and fails everything it holds: none of it is lost, a new producer sends it.
      this.restartProducer(p, err);
      return;
    }
    this.inflight.delete(item.seq);
    if (err) {
      this.noteError(err);
      if (!PERMANENT_ERRORS.has(err.code)) {
        // Timeouts (only with a user-set message.timeout.ms), transport and
        // broker-side errors around an outage: never lose the event — try again,
        // behind the backlog. A resend may duplicate an event the broker did
        // store; it keeps its id, and the collector inserts idempotently by id.
        this.counters.retried++;
        this.toBuffer(item);
      } else {
        this.counters.failed++;
        this.warn(`delivery of ${item.type} ${item.seq} failed: ${err.message}`);
        if (item.segment) this.spool?.ack(item.segment);
        this.settled(1);
      }
    } else {
      this.counters.delivered++;
      this.setBrokerUp(true, `Kafka at ${this.opts.brokers} is delivering again`);
      if (item.segment) this.spool?.ack(item.segment);
      this.settled(1);
    }
    if (this.memory.length > 0 || (this.spool !== null && this.spool.pending > 0)) this.scheduleDrain();
  }

  private onError(p: Kafka.Producer, err: LibrdKafkaError): void {
    this.noteError(err);
    // node-rdkafka passes librdkafka's error events with code -1: the text tells which.
    if (err.code === ERR_ALL_BROKERS_DOWN || err.code === ERR_TRANSPORT || /all broker connections are down|transport failure/i.test(err.message)) {
      this.setBrokerUp(false, `Kafka at ${this.opts.brokers} is unreachable (${err.message}); buffering`);
    }
    if (err.isFatal || err.code === ERR_FATAL || /fatal/i.test(err.message)) this.restartProducer(p, err);
  }

  /**
   * A fatal error ends an idempotent producer (librdkafka INTRODUCTION.md,
   * "Fatal errors"): start a new one and hand it every unacknowledged event
   * again, oldest first, ahead of the backlog. Events the broker had written
   * but not acknowledged are sent twice; downstream stores dedupe on event id.
   */
  private restartProducer(p: Kafka.Producer, err: LibrdKafkaError): void {
    if (this.producer !== p) return;
    this.noteError(err);
    this.counters.restarts++;
    this.warn(`fatal producer error (${err.message}); restarting the producer and resending ${this.inflight.size} unacknowledged events`);
    const again = [...this.inflight.values()].sort((a, b) => a.seq - b.seq);
    this.inflight.clear();
    this.memory.unshiftAll(again);
    for (const x of again) this.memoryBytes += x.line.length;
    this.ready = false;
    this.producer = null;
    try {
      p.setPollInterval(0);
      p.disconnect(1000, () => undefined);
    } catch {
      /* already gone */
    }
    this.connect();
  }

  private noteError(err: { message: string; code?: number }): void {
    this.lastError = err.message;
  }

  private setBrokerUp(up: boolean, message: string): void {
    if (this.brokerUp === up) return;
    // The first successful delivery is no news; coming back after an outage is.
    if (up === false || this.brokerUp === false) this.warn(message);
    this.brokerUp = up;
    if (!up) this.shortenWaits();
  }

  private warn(message: string): void {
    this.opts.onWarning?.(message);
  }

  /** Events left to settle: in librdkafka, in memory, on disk. */
  private backlog(): number {
    return this.inflight.size + this.memory.length + (this.spool?.size ?? 0);
  }

  private settled(n: number): void {
    if (this.waiters.length === 0) return;
    const empty = this.backlog() === 0;
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i]!;
      w.remaining -= n;
      if (w.remaining <= 0 || empty) w.resolve();
    }
  }

  /**
   * Resolves once as many events as were waiting at the call have been
   * delivered (or given up), or after timeoutMs (default flushTimeoutMs; at
   * most 5 s while the broker is known to be away: waiting longer would only
   * delay exit). Nothing is lost on timeout: the events stay queued.
   */
  flush(timeoutMs = this.opts.flushTimeoutMs): Promise<void> {
    if (this.brokerUp === false) timeoutMs = Math.min(timeoutMs, FLUSH_WAIT_BROKER_DOWN_MS);
    this.drain();
    const remaining = this.backlog();
    if (remaining === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const w: FlushWaiter = {
        remaining,
        deadline: Date.now() + timeoutMs,
        timer: null as unknown as NodeJS.Timeout,
        resolve: () => {
          clearTimeout(w.timer);
          const i = this.waiters.indexOf(w);
          if (i >= 0) this.waiters.splice(i, 1);
          resolve();
        },
      };
      // Not unref'd: whoever awaits a flush needs the process to stay up until it ends.
      w.timer = setTimeout(w.resolve, timeoutMs);
      this.waiters.push(w);
    });
  }

  /** The broker went away: flushes in progress wait no longer than FLUSH_WAIT_BROKER_DOWN_MS. */
  private shortenWaits(): void {
    const latest = Date.now() + FLUSH_WAIT_BROKER_DOWN_MS;
    for (const w of this.waiters) {
      if (w.deadline <= latest) continue;
      clearTimeout(w.timer);
      w.deadline = latest;
      w.timer = setTimeout(w.resolve, FLUSH_WAIT_BROKER_DOWN_MS);
    }
  }

  /**
   * Flush (bounded), then stop. What is still undelivered goes to the spool
   * when there is one (replayed by the next run), else it is counted as dropped.
   * Returns the number of events that were neither delivered nor spooled.
   */
  async close(timeoutMs = this.opts.flushTimeoutMs): Promise<number> {
    if (this.closed) return 0;
    await this.flush(timeoutMs);
    this.closed = true;
    if (this.drainTimer) clearInterval(this.drainTimer);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.drainTimer = this.reconnectTimer = null;
    const left = [...this.inflight.values()].sort((a, b) => a.seq - b.seq).concat(this.memory.drain());
    this.inflight.clear();
    this.memoryBytes = 0;
    // Events read from a spool segment are still in it: the segment stays and is replayed.
    const unsaved = left.filter((item) => item.segment === null);
    let lost = 0;
    // Older than anything still unread on disk: spooled ahead of it, so the next run keeps the order.
    if (this.spool !== null) this.spool.insertBeforeUnread(unsaved.map((item) => item.line));
    else lost = unsaved.length;
    this.counters.dropped += lost;
    if (lost > 0) this.warn(`${lost} events were not delivered to Kafka (no spool folder to keep them)`);
    this.spool?.close();
    const p = this.producer;
    this.producer = null;
    this.ready = false;
    if (p) {
      p.setPollInterval(0);
      await new Promise<void>((resolve) => {
        // Nothing should be left in librdkafka's queue that matters: purge what is.
        const t = setTimeout(resolve, 3000);
        try {
          p.disconnect(500, () => {
            clearTimeout(t);
            resolve();
          });
        } catch {
          clearTimeout(t);
          resolve();
        }
      });
    }
    return lost;
  }

  stats(): KafkaSinkStats {
    return {
      queued: this.inflight.size,
      buffered: this.memory.length,
      spooled: this.spool?.size ?? 0,
      delivered: this.counters.delivered,
      failed: this.counters.failed,
      dropped: this.counters.dropped,
      brokerUp: this.brokerUp === true,
      replayed: this.counters.replayed,
      producerRestarts: this.counters.restarts,
      retried: this.counters.retried,
      lastError: this.lastError,
    };
  }
}
