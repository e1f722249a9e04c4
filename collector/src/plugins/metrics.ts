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

/** How many findings tapwatch_collector_open_finding_info carries at most (one series each). */
export const OPEN_FINDINGS_LIMIT = 20;
/** A finding stays in that gauge for this long after it was stored (the alert then resolves). */
export const OPEN_FINDINGS_WINDOW_SEC = 24 * 3600;

interface OpenFindingRow {
  finding_id: string; type: string; severity: string; sensor: string;
  call_id: string | null; copy_to: string | null; relay: string | null; from_uri: string | null; to_uri: string | null;
}

/**
 * Newest first by capture time, among the critical/warning findings stored
 * (events.ingested_at) within the window; the parties come from the call row
 * of the same sensor. Uses findings_ts_id and the primary keys.
 */
const OPEN_FINDINGS_SQL = `
SELECT f.finding_id, f.type, f.severity, f.sensor, f.call_id, f.copy_to, f.relay, c.from_uri, c.to_uri
FROM ${TABLES.findings} f
JOIN ${TABLES.events} e ON e.id = f.id
LEFT JOIN ${TABLES.calls} c ON c.call_id = f.call_id AND c.sensor = f.sensor
WHERE f.severity IN ('critical', 'warning') AND e.ingested_at > now() - make_interval(secs => $2)
ORDER BY f.ts DESC, f.id DESC
LIMIT $1`;

/** Label values are bounded too: SIP URIs can be long. */
const label = (v: string | null): string => (v ?? '').slice(0, 200);

/** How long one scrape's database snapshot is reused (several gauges read it). */
const SNAPSHOT_TTL_MS = 1000;

interface SensorSnapshot {
  sensor: string;
  last_seen: number;
  packet_rate: number | null;
  kernel_drops: number | null;
  producer_queue: number | null;
  stats_ts: number | null;
  if_drops: number | null;
  drops_unavailable: boolean | null;
  packets: number | null;
  /** The parts of the latest sensor_stats (sensor/schemas/sensor_stats.v1.json) that the health gauges expose; null before the first one. */
  decode_errors: Record<string, number> | null;
  classified: Record<string, number> | null;
  tables: Record<string, number> | null;
  evictions: Record<string, number> | null;
  /** sensor_stats.health and .ringDrops (null from sensors that do not report them). */
  health: string | null;
  ring_drops: number | null;
}

interface Snapshot {
  activeCalls: number;
  activeStreams: number;
  sensors: SensorSnapshot[];
}

/**
 * Decode error names come from the sensor's weird vocabulary (sensor/src/decode/weird.ts), a
 * few dozen names; the cap keeps a misbehaving sensor from exploding the series count.
 */
const MAX_DECODE_ERROR_NAMES = 100;

/** sensor_stats.health values (sensor/src/capture/capture-health.ts). */
const SENSOR_HEALTH_STATES = ['ok', 'blind', 'dropping', 'overloaded'] as const;

/** sensor_stats keys (camelCase) to Prometheus label values (snake_case): nonIp -> non_ip. */
const snake = (key: string): string => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** sensor_stats.tables keys: current sizes and peaks (peakFlows -> flows). */
const TABLE_KEYS = ['flows', 'streams', 'calls', 'expectations'] as const;
const PEAK_KEYS = { peakFlows: 'flows', peakStreams: 'streams', peakCalls: 'calls' } as const;
/** sensor_stats.evictions keys split into table and reason (flowsIdle -> flows, idle). */
const EVICTION_KEYS = {
  flowsIdle: ['flows', 'idle'], flowsFull: ['flows', 'full'], streamsIdle: ['streams', 'idle'],
  streamsFull: ['streams', 'full'], callsIdle: ['calls', 'idle'], callsFull: ['calls', 'full'],
} as const;

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
        pool.query<SensorSnapshot>(
          `SELECT sensor, last_seen, packet_rate, kernel_drops, producer_queue, stats_ts, if_drops, drops_unavailable, packets,
                  stats->'decodeErrors' AS decode_errors, stats->'classified' AS classified, stats->'tables' AS tables, stats->'evictions' AS evictions,
                  stats->>'health' AS health, (stats->>'ringDrops')::bigint AS ring_drops
           FROM ${TABLES.sensors}`,
        ),
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

  // Sensor health from the latest sensor_stats of each sensor. Sensors that never sent one
  // (no stats_ts) have no series here, so a panel shows "no data" rather than a reassuring 0.
  type Labels = Record<string, string>;
  const withStats = (s: Snapshot) => s.sensors.filter((row) => row.stats_ts !== null);
  const statsSeries = (name: string, help: string, labelNames: string[], kind: 'gauge' | 'counter', each: (row: SensorSnapshot, put: (labels: Labels, value: number) => void) => void) => {
    // The sensor's cumulative counts are exposed as counters set to the reported value (a sensor
    // restart is a counter reset, which rate() handles); prom-client counters only go up, so each
    // scrape resets and re-adds, as for the gauges.
    const collect = async function collect(this: Gauge<string> | Counter<string>): Promise<void> {
      this.reset();
      let snap: Snapshot;
      try {
        snap = await readSnapshot();
      } catch {
        return; /* database unreachable: empty for this scrape; /readyz says why */
      }
      const put = (labels: Labels, value: number): void => {
        if (!Number.isFinite(value) || value < 0) return;
        if (this instanceof Gauge) this.set(labels, value);
        else this.inc(labels, value);
      };
      for (const row of withStats(snap)) each(row, put);
    };
    if (kind === 'gauge') new Gauge({ name, help, labelNames, registers, collect });
    else new Counter({ name, help, labelNames, registers, collect });
  };

  statsSeries(METRICS.sensorLastStats, 'Capture time (epoch seconds) of the latest sensor_stats of each sensor.', ['sensor'], 'gauge', (row, put) =>
    put({ sensor: row.sensor }, Number(row.stats_ts)));
  statsSeries(METRICS.sensorPackets, 'Packets captured since the sensor started, from its latest sensor_stats.', ['sensor'], 'counter', (row, put) =>
    put({ sensor: row.sensor }, Number(row.packets ?? 0)));
  statsSeries(METRICS.sensorInterfaceDrops, 'Interface drops in the latest sensor_stats of each sensor.', ['sensor'], 'gauge', (row, put) =>
    put({ sensor: row.sensor }, Number(row.if_drops ?? 0)));
  statsSeries(METRICS.sensorDropsUnavailable, '1 when the sensor cannot count drops (its drop gauges then prove nothing).', ['sensor'], 'gauge', (row, put) =>
    put({ sensor: row.sensor }, row.drops_unavailable ? 1 : 0));
  statsSeries(METRICS.sensorRingDrops, "Packets the sensor's shared ring dropped (native ring capture, --workers), latest sensor_stats.", ['sensor'], 'gauge', (row, put) => {
    if (row.ring_drops !== null) put({ sensor: row.sensor }, Number(row.ring_drops));
  });
  // One series per state, 1 for the current one, so `== 1` on state="blind" or "overloaded" is the alert.
  statsSeries(METRICS.sensorHealth, "1 for the capture health in each sensor's latest sensor_stats (ok, blind, dropping, overloaded).", ['sensor', 'state'], 'gauge', (row, put) => {
    if (row.health === null) return;
    for (const state of SENSOR_HEALTH_STATES) put({ sensor: row.sensor, state }, row.health === state ? 1 : 0);
  });
  statsSeries(METRICS.sensorClassifiedPackets, 'Packets per classification since the sensor started, from its latest sensor_stats.', ['sensor', 'class'], 'counter', (row, put) => {
    for (const [key, n] of Object.entries(row.classified ?? {})) put({ sensor: row.sensor, class: snake(key) }, Number(n));
  });
  statsSeries(METRICS.sensorDecodeErrors, 'Decode errors by name since the sensor started, from its latest sensor_stats.', ['sensor', 'name'], 'counter', (row, put) => {
    const entries = Object.entries(row.decode_errors ?? {}).sort((a, b) => Number(b[1]) - Number(a[1])).slice(0, MAX_DECODE_ERROR_NAMES);
    for (const [name, n] of entries) put({ sensor: row.sensor, name }, Number(n));
  });
  statsSeries(METRICS.sensorTableEntries, 'Entries in the sensor tables, latest sensor_stats.', ['sensor', 'table'], 'gauge', (row, put) => {
    for (const table of TABLE_KEYS) if (row.tables && table in row.tables) put({ sensor: row.sensor, table }, Number(row.tables[table]));
  });
  statsSeries(METRICS.sensorTablePeakEntries, 'Peak entries in the sensor tables since the sensor started, latest sensor_stats.', ['sensor', 'table'], 'gauge', (row, put) => {
    for (const [key, table] of Object.entries(PEAK_KEYS)) if (row.tables && key in row.tables) put({ sensor: row.sensor, table }, Number(row.tables[key]));
  });
  statsSeries(METRICS.sensorEvictions, 'Table evictions since the sensor started, by table and reason (idle timeout or table full), latest sensor_stats.', ['sensor', 'table', 'reason'], 'counter', (row, put) => {
    for (const [key, [table, reason]] of Object.entries(EVICTION_KEYS)) if (row.evictions && key in row.evictions) put({ sensor: row.sensor, table, reason }, Number(row.evictions[key]));
  });

  sensorGauge(METRICS.sensorPacketRate, 'Packets per second between the two latest sensor_stats of each sensor.', 'packet_rate');
  sensorGauge(METRICS.sensorKernelDrops, 'Kernel drops in the latest sensor_stats of each sensor.', 'kernel_drops');
  sensorGauge(METRICS.sensorProducerQueue, 'Kafka producer queue length in the latest sensor_stats of each sensor (0 when not reported).', 'producer_queue');
  sensorGauge(METRICS.sensorLastSeen, 'Capture time (epoch seconds) of the latest event of each sensor.', 'last_seen');
  new Gauge({ name: METRICS.activeCalls, help: 'Calls started and not ended, all sensors.', registers, collect: fromSnapshot((s, g) => g.set(s.activeCalls)) });
  new Gauge({ name: METRICS.activeStreams, help: 'RTP streams started and not ended, all sensors.', registers, collect: fromSnapshot((s, g) => g.set(s.activeStreams)) });

  // The latest open critical/warning findings as labels, so a Prometheus-only
  // alert can name the call, its parties and the copy destination or relay.
  // Bounded cardinality: at most OPEN_FINDINGS_LIMIT series at any time.
  new Gauge({
    name: METRICS.openFindingInfo,
    help: `The ${OPEN_FINDINGS_LIMIT} most recent critical/warning findings stored in the last ${OPEN_FINDINGS_WINDOW_SEC / 3600} h (always 1; labels carry the call, parties, copy destination or relay).`,
    labelNames: ['finding_id', 'type', 'severity', 'sensor', 'call_id', 'copy_to', 'relay', 'parties'],
    registers,
    async collect() {
      this.reset();
      if (!pool) return;
      try {
        const { rows } = await pool.query<OpenFindingRow>(OPEN_FINDINGS_SQL, [OPEN_FINDINGS_LIMIT, OPEN_FINDINGS_WINDOW_SEC]);
        for (const r of rows) {
          const parties = r.from_uri || r.to_uri ? `${r.from_uri ?? '?'} -> ${r.to_uri ?? '?'}` : '';
          this.set(
            {
              finding_id: r.finding_id, type: r.type, severity: r.severity, sensor: r.sensor, call_id: label(r.call_id),
              copy_to: label(r.copy_to), relay: label(r.relay), parties: label(parties),
            },
            1,
          );
        }
      } catch {
        /* database unreachable: no series this scrape; /readyz says why */
      }
    },
  });

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
