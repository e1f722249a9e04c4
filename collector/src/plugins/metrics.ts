/**
 * Prometheus metrics (prom-client), one Registry per app instance so that
 * several collectors in one process (tests) never clash on the global one.
 * Counters move with the ingest; the gauges that describe stored state
 * (active calls and streams, each sensor's latest telemetry) are read from
 * PostgreSQL at scrape time, so every collector of a group reports the same
 * values, also right after a restart. Names come from names.ts.
 */
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { METRICS, METRIC_PREFIX, TABLES } from '../names.js';
import type { BatchOutcome } from '../ingest/pipeline.js';
import { isFinding } from '../ingest/store-batch.js';

export interface CollectorMetrics {
  registry: Registry;
  findings: Counter<'type' | 'severity' | 'sensor'>;
  eventsIngested: Counter<'type'>;
  eventsDuplicate: Counter<'type'>;
  eventsInvalid: Counter<'reason'>;
  batchesCommitted: Counter;
  batchSeconds: Histogram;
  consumerLag: Gauge<'topic' | 'partition'>;
  crossSensorDuplicates: Counter;
  httpRequests: Counter<'route' | 'status'>;
  /** Counts one stored batch (called after the DB commit and the DLQ delivery). */
  recordBatch(outcome: BatchOutcome): void;
}

/** How long one scrape's database snapshot is reused (several gauges read it). */
const SNAPSHOT_TTL_MS = 1000;

interface Snapshot {
  activeCalls: number;
  activeStreams: number;
  sensors: Array<{ sensor: string; last_seen: number; packet_rate: number | null; kernel_drops: number | null; producer_queue: number | null }>;
}

export function createMetrics(pool: pg.Pool | null, opts: { defaultMetrics?: boolean } = {}): CollectorMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  const registers = [registry];

  let snapshot: Promise<Snapshot> | null = null;
  let snapshotAt = 0;
  const readSnapshot = (): Promise<Snapshot> => {
    if (!pool) return Promise.resolve({ activeCalls: 0, activeStreams: 0, sensors: [] });
    const now = Date.now();
    if (snapshot && now - snapshotAt < SNAPSHOT_TTL_MS) return snapshot;
    snapshotAt = now;
    snapshot = (async () => {
      const [counts, sensors] = await Promise.all([
        pool.query<{ calls: number; streams: number }>(
          `SELECT (SELECT count(*) FROM ${TABLES.calls} WHERE NOT ended) AS calls, (SELECT count(*) FROM ${TABLES.streams} WHERE NOT ended) AS streams`,
        ),
        pool.query<Snapshot['sensors'][number]>(`SELECT sensor, last_seen, packet_rate, kernel_drops, producer_queue FROM ${TABLES.sensors}`),
      ]);
      return { activeCalls: Number(counts.rows[0]?.calls ?? 0), activeStreams: Number(counts.rows[0]?.streams ?? 0), sensors: sensors.rows };
    })();
    // A failed query must not stick: the next scrape tries again.
    snapshot.catch(() => {
      snapshot = null;
    });
    return snapshot;
  };

  const fromSnapshot = (pick: (s: Snapshot, g: Gauge<string>) => void) =>
    async function collect(this: Gauge<string>): Promise<void> {
      this.reset();
      try {
        pick(await readSnapshot(), this);
      } catch {
        /* database unreachable: the gauge is empty for this scrape; /readyz says why */
      }
    };

  const sensorGauge = (name: string, help: string, field: 'last_seen' | 'packet_rate' | 'kernel_drops' | 'producer_queue') =>
    new Gauge({
      name, help, labelNames: ['sensor'], registers,
      collect: fromSnapshot((s, g) => {
        for (const row of s.sensors) g.set({ sensor: row.sensor }, Number(row[field] ?? 0));
      }),
    });

  sensorGauge(METRICS.sensorPacketRate, 'Packets per second between the two latest sensor_stats of each sensor.', 'packet_rate');
  sensorGauge(METRICS.sensorKernelDrops, 'Kernel drops in the latest sensor_stats of each sensor.', 'kernel_drops');
  sensorGauge(METRICS.sensorProducerQueue, 'Kafka producer queue length in the latest sensor_stats of each sensor (0 when not reported).', 'producer_queue');
  sensorGauge(METRICS.sensorLastSeen, 'Capture time (epoch seconds) of the latest event of each sensor.', 'last_seen');
  new Gauge({ name: METRICS.activeCalls, help: 'Calls started and not ended, all sensors.', registers, collect: fromSnapshot((s, g) => g.set(s.activeCalls)) });
  new Gauge({ name: METRICS.activeStreams, help: 'RTP streams started and not ended, all sensors.', registers, collect: fromSnapshot((s, g) => g.set(s.activeStreams)) });

  const m: CollectorMetrics = {
    registry,
    findings: new Counter({ name: METRICS.findings, help: 'Findings stored, by type, severity and sensor.', labelNames: ['type', 'severity', 'sensor'], registers }),
    eventsIngested: new Counter({ name: METRICS.eventsIngested, help: 'Valid events stored for the first time, by type.', labelNames: ['type'], registers }),
    eventsDuplicate: new Counter({ name: METRICS.eventsDuplicate, help: 'Redelivered events that were already stored, by type.', labelNames: ['type'], registers }),
    eventsInvalid: new Counter({ name: METRICS.eventsInvalid, help: 'Messages sent to the dead-letter topic, by reason.', labelNames: ['reason'], registers }),
    batchesCommitted: new Counter({ name: METRICS.batchesCommitted, help: 'Batches stored and committed.', registers }),
    batchSeconds: new Histogram({ name: METRICS.batchSeconds, help: 'Seconds to store one batch.', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers }),
    consumerLag: new Gauge({ name: METRICS.consumerLag, help: 'High watermark minus committed offset, per partition.', labelNames: ['topic', 'partition'], registers }),
    crossSensorDuplicates: new Counter({ name: METRICS.crossSensorDuplicates, help: 'duplicate_stream findings made by joining fingerprints across sensors.', registers }),
    httpRequests: new Counter({ name: METRICS.httpRequests, help: 'HTTP requests answered, by route and status.', labelNames: ['route', 'status'], registers }),
    recordBatch(o: BatchOutcome): void {
      for (const e of o.inserted) {
        m.eventsIngested.inc({ type: e.type });
        if (isFinding(e)) m.findings.inc({ type: e.type, severity: e.severity, sensor: e.sensor });
      }
      for (const e of o.duplicates) m.eventsDuplicate.inc({ type: e.type });
      for (const d of o.deadLetters) m.eventsInvalid.inc({ reason: d.reason });
      if (o.crossSensor.length) m.crossSensorDuplicates.inc(o.crossSensor.length);
      m.batchSeconds.observe(o.seconds);
      m.batchesCommitted.inc();
    },
  };
  return m;
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: CollectorMetrics;
  }
}

/** Decorates app.metrics and serves GET /metrics. */
export const metricsPlugin = fp(
  async (app: FastifyInstance, opts: { metrics: CollectorMetrics }) => {
    app.decorate('metrics', opts.metrics);
    app.addHook('onResponse', async (request, reply) => {
      opts.metrics.httpRequests.inc({ route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) });
    });
    app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
      const body = await opts.metrics.registry.metrics();
      return reply.type(opts.metrics.registry.contentType).send(body);
    });
  },
  { name: 'tapwatch-metrics' },
);
