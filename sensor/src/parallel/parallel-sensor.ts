/**
 * The parallel sensor's main thread (docs/parallel.md): capture stays here
 * (or on the native capture thread), N worker shards decode, track and
 * detect. The main thread writes packets into the broadcast ring, merges the
 * shards' event batches into the real sinks (JSONL, text, Kafka), and emits
 * the one sensor_stats, aggregated over the shards.
 */
import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { CaptureStats, PacketSource } from '../capture/packet-source.js';
import { CaptureHealth } from '../capture/capture-health.js';
import { PacketRecord } from '../decode/packet.js';
import { EVENT_VERSION, type EventSink, type SensorStatsEvent, type TapwatchEvent } from '../events/types.js';
import { CTL_BYTES_LO, CTL_IF_DROPS, CTL_KERNEL_DROPS, CTL_KERNEL_RECEIVED, CTL_PACKETS, DEFAULT_RING_BYTES } from './ring-layout.js';
import { RingProducer, createRing, type RingBuffers, type WhenFull } from './ring-producer.js';
import { ITEM_FINGERPRINT, type ShardSensorOptions, type ShardStats, type StatsBody, type WorkerInit, type WorkerMessage } from './protocol.js';
import { DEFAULT_SHED_THRESHOLDS, type ShedCounts, type ShedThresholds } from './load-shedder.js';
import { outputStatsBlock } from '../output/output-totals.js';

export interface ParallelSensorOptions {
  workers: number;
  sensor: Omit<ShardSensorOptions, 'runId' | 'sensorId'> & { sensorId?: string; runId?: string };
  /** Emit sensor_stats every N seconds of wall time (0: only the final one). */
  statsIntervalSec: number;
  /** Ring size in bytes (power of two). */
  ringBytes?: number;
  /** 'wait' for files (complete replays), 'drop' for live capture (default: 'drop'). */
  whenFull?: WhenFull;
  /** Load shedding thresholds; null disables it (default: on for 'drop', off for 'wait'). */
  shedding?: ShedThresholds | null;
  /** Worker script (default: worker.js next to this module, or the compiled one in dist/). */
  workerScript?: string;
}

/** The native capture thread as the producer (capture/native-ring-capture.ts NativeRingProducer). */
export interface NativeProducer {
  readonly warnings: string[];
  start(ring: RingBuffers): void;
  stop(): void;
  kernelStats(): { received: number; dropped: number; ifDropped: number; ringDrops: number };
}

/** The compiled worker: next to this module when running from dist/, else dist/'s copy of it (tests run the .ts sources). */
export function defaultWorkerScript(): string {
  const here = fileURLToPath(import.meta.url);
  const sibling = join(dirname(here), 'worker.js');
  if (here.endsWith('.js') && existsSync(sibling)) return sibling;
  const root = resolve(dirname(here), '..', '..', '..');
  return join(root, 'dist', 'sensor', 'src', 'parallel', 'worker.js');
}

export class ParallelSensor {
  readonly runId: string;
  readonly sensorId: string;
  readonly workers: number;
  /** The shared buffers (a native producer writes into them; see runWith). */
  readonly ring: RingBuffers;
  readonly producer: RingProducer;
  private readonly threads: Worker[] = [];
  private readonly latest: (ShardStats | null)[];
  private seq = 0;
  private lastTs = 0;
  private readonly startedAt = Date.now();
  private peakRss = 0;
  private readonly fingerprintSinks: EventSink[];
  private failure: Error | null = null;
  private source: PacketSource | null = null;
  /** sensor_stats.health, judged here where the capture counters are (capture/capture-health.ts). */
  private readonly captureHealth = new CaptureHealth();
  /** Events merged from the shards, by type. */
  readonly counts = new Map<string, number>();
  readonly warnings: string[] = [];

  constructor(
    private readonly opts: ParallelSensorOptions,
    private readonly sinks: EventSink[],
  ) {
    if (!Number.isInteger(opts.workers) || opts.workers < 1) throw new RangeError(`--workers must be a whole number >= 1, not ${opts.workers}`);
    this.workers = opts.workers;
    this.runId = opts.sensor.runId ?? randomBytes(6).toString('hex');
    this.sensorId = opts.sensor.sensorId ?? hostname();
    this.ring = createRing(this.workers, opts.ringBytes ?? DEFAULT_RING_BYTES);
    this.producer = new RingProducer(this.ring, { whenFull: opts.whenFull ?? 'drop' });
    this.latest = new Array<ShardStats | null>(this.workers).fill(null);
    this.fingerprintSinks = sinks.filter((s) => typeof s.fingerprint === 'function');
  }

  /** Start the shards; resolves when all have finished (after the producer closed the ring). */
  private startWorkers(): Promise<void> {
    const script = this.opts.workerScript ?? defaultWorkerScript();
    const whenFull = this.opts.whenFull ?? 'drop';
    const shedding = this.opts.shedding !== undefined ? this.opts.shedding : whenFull === 'drop' ? DEFAULT_SHED_THRESHOLDS : null;
    const done: Promise<void>[] = [];
    for (let i = 0; i < this.workers; i++) {
      const init: WorkerInit = {
        ring: this.ring,
        index: i,
        count: this.workers,
        sensor: { ...this.opts.sensor, sensorId: this.sensorId, runId: this.runId },
        fingerprints: this.fingerprintSinks.length > 0,
        shedding,
        flushMs: 100,
        statsMs: this.opts.statsIntervalSec > 0 ? Math.max(250, (this.opts.statsIntervalSec * 1000) / 2) : 0,
      };
      const w = new Worker(script, { workerData: init });
      this.threads.push(w);
      done.push(
        new Promise<void>((res) => {
          let finished = false;
          w.on('message', (m: WorkerMessage) => {
            if (m.t === 'done') {
              finished = true;
              res();
            } else this.onMessage(m);
          });
          w.on('error', (err) => {
            this.fail(new Error(`shard ${i}: ${err.stack ?? err.message}`));
            res();
          });
          w.on('exit', (code) => {
            if (!finished) this.fail(new Error(`shard ${i} exited (code ${code}) before finishing`));
            res();
          });
        }),
      );
    }
    return Promise.all(done).then(() => undefined);
  }

  private fail(err: Error): void {
    this.failure ??= err;
    // A dead shard would stall the ring for the others: stop reading.
    this.stop();
    if (this.stopNative === null) this.producer.close();
  }

  private onMessage(m: WorkerMessage): void {
    switch (m.t) {
      case 'events':
        for (let i = 0; i < m.items.length; i++) {
          if (m.kinds[i] === ITEM_FINGERPRINT) {
            const fp = JSON.parse(m.items[i]!) as Parameters<NonNullable<EventSink['fingerprint']>>[0];
            this.counts.set('stream_fingerprint', (this.counts.get('stream_fingerprint') ?? 0) + 1);
            for (const s of this.fingerprintSinks) s.fingerprint!(fp);
          } else {
            this.deliver(JSON.parse(m.items[i]!) as TapwatchEvent);
          }
        }
        break;
      case 'stats':
        this.latest[m.stats.index] = m.stats;
        break;
      case 'error':
        this.fail(new Error(`shard ${m.index}: ${m.message}`));
        break;
    }
  }

  /** Re-stamp with this run's id sequence (ids stay `${runId}-${n}`, unique and monotone per run) and write. */
  private deliver(e: TapwatchEvent): void {
    e.id = `${this.runId}-${++this.seq}`;
    if (e.ts > this.lastTs) this.lastTs = e.ts;
    this.counts.set(e.type, (this.counts.get(e.type) ?? 0) + 1);
    for (const s of this.sinks) s.write(e);
  }

  /**
   * Read a whole source through the shards (the JavaScript producer copies
   * each frame into the ring), then flush and emit the final sensor_stats.
   */
  async run(source: PacketSource): Promise<void> {
    this.source = source;
    const producer = this.producer;
    const onPacket = (rec: PacketRecord): void => {
      producer.push(rec.frame, rec.frameOffset, rec.capLength, rec.wireLength, rec.tsSec, rec.tsNsec, rec.linkType);
    };
    await this.runWith(
      async () => {
        await source.run(new PacketRecord(), onPacket);
        for (const w of source.warnings) this.warnings.push(w);
      },
      () => source.stats(),
    );
  }

  /**
   * Live capture straight from the native capture thread (tapcap's
   * startRing, capture/native-ring-capture.ts): it writes this sensor's ring
   * itself, kernel counters included; no JavaScript runs per packet on the
   * capture side. Runs until stop().
   */
  async runNative(native: NativeProducer): Promise<void> {
    const ctl = this.producer.ctl;
    const stopped = new Promise<void>((resolve) => (this.stopNative = resolve));
    this.nativeLive = true;
    await this.runWith(
      async () => {
        native.start(this.ring);
        try {
          await stopped;
        } finally {
          // Drains the kernel buffer into the ring and sets CTL_CLOSED.
          native.stop();
          for (const w of native.warnings) this.warnings.push(w);
        }
      },
      () => {
        const k = native.kernelStats();
        return {
          packets: Atomics.load(ctl, CTL_PACKETS) >>> 0,
          bytes: Atomics.load(ctl, CTL_BYTES_LO) >>> 0,
          kernelReceived: k.received,
          kernelDrops: k.dropped,
          ifDrops: k.ifDropped,
          dropsUnavailable: false,
        };
      },
      true,
    );
  }

  private stopNative: (() => void) | null = null;
  /** Set by runNative: a live capture without a PacketSource (health may then be 'blind'). */
  private nativeLive = false;

  /**
   * Run the shards while `produce` fills the ring; `capture` reports the
   * capture-side counters. `native`: the producer is the native capture
   * thread, which publishes, closes and reports kernel counters itself.
   */
  async runWith(produce: () => Promise<void>, capture: () => CaptureStats, native = false): Promise<void> {
    const finished = this.startWorkers();
    let timer: NodeJS.Timeout | null = null;
    const publishDrops = (): void => {
      if (native) return;
      // Workers learn of kernel drops through the control block (their findings then say so).
      const cs = capture();
      Atomics.store(this.producer.ctl, CTL_KERNEL_RECEIVED, cs.kernelReceived | 0);
      Atomics.store(this.producer.ctl, CTL_KERNEL_DROPS, cs.kernelDrops | 0);
      Atomics.store(this.producer.ctl, CTL_IF_DROPS, cs.ifDrops | 0);
    };
    timer = setInterval(() => {
      publishDrops();
      if (this.opts.statsIntervalSec > 0 && Date.now() - this.lastStatsAt >= this.opts.statsIntervalSec * 1000) this.emitStats(false, capture());
    }, 1000);
    timer.unref();
    publishDrops();
    try {
      await produce();
    } catch (err) {
      this.fail(err as Error);
    } finally {
      publishDrops();
      // The native thread closes the ring itself; the JavaScript producer's cursor must not overwrite its own.
      if (!native) this.producer.close();
    }
    await finished;
    clearInterval(timer);
    if (this.producer.stalled) this.warnings.push('a worker shard stopped reading the packet ring; later packets were dropped (ringDrops)');
    this.emitStats(true, capture());
    for (const s of this.sinks) await s.flush();
    await Promise.all(this.threads.map((w) => w.terminate()));
    if (this.failure) throw this.failure;
  }

  stop(): void {
    this.source?.stop();
    this.stopNative?.();
  }

  private lastStatsAt = Date.now();
  /** The latest aggregated sensor_stats (the metrics endpoint reads it); null before the first. */
  latestStats: SensorStatsEvent | null = null;

  /** One sensor_stats for the whole sensor (docs/parallel.md, "Statistics"). */
  emitStats(final: boolean, cs: CaptureStats): SensorStatsEvent {
    this.lastStatsAt = Date.now();
    const shards = this.latest.filter((s): s is ShardStats => s !== null);
    const body = aggregateStats(shards, final);
    const mem = process.memoryUsage();
    if (mem.rss > this.peakRss) this.peakRss = mem.rss;
    const shed: ShedCounts = { digests: 0, correlation: 0, detection: 0 };
    for (const s of shards) {
      shed.digests += s.shed.digests;
      shed.correlation += s.shed.correlation;
      shed.detection += s.shed.detection;
    }
    const ev = {
      v: EVENT_VERSION,
      id: `${this.runId}-${++this.seq}`,
      sensor: this.sensorId,
      ...body,
      ts: this.lastTs || body.ts || Date.now() / 1000,
      final,
      uptimeSec: Math.round((Date.now() - this.startedAt) / 1000),
      // Counted once, where packets enter: the producer (the shards all read every packet).
      packets: this.producer.packets || cs.packets,
      bytes: this.producer.bytesWritten || cs.bytes,
      kernelReceived: cs.kernelReceived,
      kernelDrops: cs.kernelDrops,
      ifDrops: cs.ifDrops,
      dropsUnavailable: cs.dropsUnavailable,
      // A source with a ring of its own (--capture-backend ring) drops there too; both rings' drops count.
      ringDrops: this.producer.ringDrops() + (cs.ringDrops ?? 0),
      health: this.captureHealth.assess(this.nativeLive || this.source?.kind === 'live', { ...cs, packets: this.producer.packets || cs.packets, ringDrops: this.producer.ringDrops() + (cs.ringDrops ?? 0) }),
      workers: this.workers,
      shed,
      memory: { rss: mem.rss, heapUsed: mem.heapUsed + shards.reduce((a, s) => a + s.heapUsed, 0), peakRss: this.peakRss },
      warnings: [...this.warnings, ...body.warnings].slice(0, 20),
      ...outputStatsBlock(this.sinks),
    } as SensorStatsEvent;
    this.counts.set('sensor_stats', (this.counts.get('sensor_stats') ?? 0) + 1);
    this.latestStats = ev;
    for (const s of this.sinks) s.write(ev);
    return ev;
  }

}

/**
 * Sum the shards' stats, counting once what every shard sees alike:
 *  - signalling (classified.sip, the sip block, calls, expectations, call
 *    evictions) and frame-level counts (nonIp, fragments): every shard
 *    processes all of it, so shard 0's figure is the sensor's;
 *  - media counts and tables (rtp, rtcp, stun, dtls, zrtp, other, streams,
 *    flows): each packet has one owner, so they are summed (flows carrying
 *    SIP exist on every shard and are counted once per shard);
 *  - decode errors: per name, sum - (N-1) * min. A weird every shard counts
 *    alike (decoding, SIP parsing) is then counted once, one only its
 *    owner counts (media) is summed.
 */
export function aggregateStats(shards: ShardStats[], final: boolean): StatsBody {
  if (shards.length === 0) {
    return {
      type: 'sensor_stats', ts: 0, final, uptimeSec: 0, packets: 0, bytes: 0, kernelReceived: 0, kernelDrops: 0, ifDrops: 0, dropsUnavailable: false,
      decodeErrors: {},
      classified: { sip: 0, rtp: 0, rtcp: 0, stun: 0, dtls: 0, zrtp: 0, other: 0, nonIp: 0, fragments: 0 },
      sip: { messages: 0, requests: 0, responses: 0, retransmissions: 0, callIds: 0, inviteDialogs: 0 },
      tables: { flows: 0, streams: 0, calls: 0, expectations: 0, peakFlows: 0, peakStreams: 0, peakCalls: 0 },
      evictions: { flowsIdle: 0, flowsFull: 0, streamsIdle: 0, streamsFull: 0, callsIdle: 0, callsFull: 0 },
      memory: { rss: 0, heapUsed: 0, peakRss: 0 },
      warnings: [],
    };
  }
  const sorted = [...shards].sort((a, b) => a.index - b.index);
  const first = sorted[0]!.body;
  const sum = (f: (b: StatsBody) => number): number => sorted.reduce((a, s) => a + f(s.body), 0);
  const names = new Set<string>();
  for (const s of sorted) for (const k of Object.keys(s.body.decodeErrors)) names.add(k);
  const decodeErrors: Record<string, number> = {};
  for (const k of [...names].sort()) {
    const vals = sorted.map((s) => s.body.decodeErrors[k] ?? 0);
    const min = vals.length === shards.length ? Math.min(...vals) : 0;
    decodeErrors[k] = vals.reduce((a, v) => a + v, 0) - (sorted.length - 1) * min;
  }
  return {
    type: 'sensor_stats',
    ts: Math.max(...sorted.map((s) => s.body.ts)),
    final,
    uptimeSec: first.uptimeSec,
    packets: first.packets,
    bytes: first.bytes,
    kernelReceived: 0,
    kernelDrops: 0,
    ifDrops: 0,
    dropsUnavailable: false,
    decodeErrors,
    classified: {
      sip: first.classified.sip,
      rtp: sum((b) => b.classified.rtp),
      rtcp: sum((b) => b.classified.rtcp),
      stun: sum((b) => b.classified.stun),
      dtls: sum((b) => b.classified.dtls),
      zrtp: sum((b) => b.classified.zrtp),
      other: sum((b) => b.classified.other),
      nonIp: first.classified.nonIp,
      fragments: first.classified.fragments,
    },
    sip: { ...first.sip },
    tables: {
      flows: sum((b) => b.tables.flows),
      streams: sum((b) => b.tables.streams),
      calls: first.tables.calls,
      expectations: first.tables.expectations,
      peakFlows: sum((b) => b.tables.peakFlows),
      peakStreams: sum((b) => b.tables.peakStreams),
      peakCalls: first.tables.peakCalls,
    },
    evictions: {
      flowsIdle: sum((b) => b.evictions.flowsIdle),
      flowsFull: sum((b) => b.evictions.flowsFull),
      streamsIdle: sum((b) => b.evictions.streamsIdle),
      streamsFull: sum((b) => b.evictions.streamsFull),
      callsIdle: first.evictions.callsIdle,
      callsFull: first.evictions.callsFull,
    },
    memory: { rss: 0, heapUsed: 0, peakRss: 0 },
    warnings: first.warnings,
  };
}
