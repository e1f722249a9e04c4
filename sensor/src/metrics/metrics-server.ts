/**
 * The sensor's Prometheus endpoint (`--metrics-port`): GET /metrics in the
 * Prometheus text exposition format, via prom-client.
 *
 * Nothing is counted twice: every metric is read at scrape time from the
 * counters the sensor already keeps (the same ones sensor_stats reports), in
 * prom-client `collect()` callbacks, so the packet path pays nothing for it.
 * Names follow the Prometheus naming guide: `tapwatch_` prefix, `_total` for
 * counters, base units (bytes).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { CAPTURE_HEALTH_STATES } from '../capture/capture-health.js';
import type { Sensor } from '../sensor.js';
import type { EventSink, SensorStatsEvent } from '../events/types.js';
import type { CaptureStats } from '../capture/packet-source.js';
import { outputTotals } from '../output/output-totals.js';

export interface MetricsServerOptions {
  port: number;
  /** Listen address (default all interfaces, as Prometheus exporters do). */
  host?: string;
  /** What to read: liveSensorView(sensor) or statsEventView(...) for the parallel sensor. */
  view: SensorMetricsView;
  /** Sinks whose stats() feed the output metrics (the Kafka producer). */
  sinks: EventSink[];
}

export interface MetricsServer {
  readonly port: number;
  readonly registry: Registry;
  close(): Promise<void>;
}

type Labels = Record<string, string>;

/** A counter whose value is read from the sensor at scrape time. */
function readCounter(registry: Registry, name: string, help: string, labelNames: string[], read: () => [Labels, number][]): void {
  new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, v] of read()) this.inc(labels, v);
    },
  });
}

function readGauge(registry: Registry, name: string, help: string, labelNames: string[], read: () => [Labels, number][]): void {
  new Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, v] of read()) this.set(labels, v);
    },
  });
}

/**
 * What the metrics read, from either kind of sensor: the single-threaded
 * Sensor's live counters (read at scrape time), or the parallel sensor's
 * latest aggregated sensor_stats (its shards' tables live in other threads,
 * so its metrics move at each stats interval, 10 s by default).
 */
export interface SensorMetricsView {
  packets(): number;
  bytes(): number;
  capture(): CaptureStats;
  health(): string;
  decodeErrors(): Record<string, number>;
  classified(): Record<string, number>;
  tables(): { flows: number; streams: number; calls: number; expectations: number };
  evictions(): SensorStatsEvent['evictions'];
  eventCounts(): ReadonlyMap<string, number>;
}

/** sensor_stats.classified as the `kind` label values of tapwatch_packets_classified_total (snake_case, singular "fragment"). */
function classifiedLabels(c: SensorStatsEvent['classified']): Record<string, number> {
  const { nonIp, fragments, ...rest } = c;
  return { ...rest, non_ip: nonIp, fragment: fragments };
}

/** The single-threaded sensor: every value read live at scrape time. */
export function liveSensorView(sensor: Sensor): SensorMetricsView {
  return {
    packets: () => sensor.packets,
    bytes: () => sensor.bytes,
    capture: () => sensor.captureStats(),
    health: () => sensor.captureHealth.state,
    decodeErrors: () => sensor.weirds.toJSON(),
    classified: () => classifiedLabels(sensor.classifiedCounts()),
    tables: () => ({ flows: sensor.flows.size, streams: sensor.streams.size, calls: sensor.calls.calls.size, expectations: sensor.calls.expectations.size }),
    evictions: () => sensor.evictionCounts(),
    eventCounts: () => sensor.events.counts,
  };
}

/** A sensor known by its sensor_stats (the parallel sensor): the latest one, zeros before the first. */
export function statsEventView(latest: () => SensorStatsEvent | null, counts: ReadonlyMap<string, number>): SensorMetricsView {
  const zeroEvictions = { flowsIdle: 0, flowsFull: 0, streamsIdle: 0, streamsFull: 0, callsIdle: 0, callsFull: 0 };
  return {
    packets: () => latest()?.packets ?? 0,
    bytes: () => latest()?.bytes ?? 0,
    capture: () => {
      const s = latest();
      return {
        packets: s?.packets ?? 0,
        bytes: s?.bytes ?? 0,
        kernelReceived: s?.kernelReceived ?? 0,
        kernelDrops: s?.kernelDrops ?? 0,
        ifDrops: s?.ifDrops ?? 0,
        dropsUnavailable: s?.dropsUnavailable ?? false,
        ...(s?.ringDrops !== undefined ? { ringDrops: s.ringDrops } : {}),
      };
    },
    health: () => latest()?.health ?? 'ok',
    decodeErrors: () => latest()?.decodeErrors ?? {},
    classified: () => {
      const c = latest()?.classified;
      return c ? classifiedLabels(c) : {};
    },
    tables: () => {
      const t = latest()?.tables;
      return { flows: t?.flows ?? 0, streams: t?.streams ?? 0, calls: t?.calls ?? 0, expectations: t?.expectations ?? 0 };
    },
    evictions: () => latest()?.evictions ?? zeroEvictions,
    eventCounts: () => counts,
  };
}

/** Register every sensor metric on a new registry. */
export function sensorRegistry(view: SensorMetricsView, sinks: EventSink[]): Registry {
  const r = new Registry();
  collectDefaultMetrics({ register: r, prefix: 'tapwatch_sensor_' });
  const one = (v: number): [Labels, number][] => [[{}, v]];

  readCounter(r, 'tapwatch_packets_total', 'Packets read from the capture.', [], () => one(view.packets()));
  readCounter(r, 'tapwatch_bytes_total', 'Bytes captured.', [], () => one(view.bytes()));
  readCounter(r, 'tapwatch_kernel_received_total', 'Packets the kernel (libpcap) received.', [], () => one(view.capture().kernelReceived));
  readCounter(r, 'tapwatch_kernel_drops_total', 'Packets the kernel dropped (capture buffer full).', [], () => one(view.capture().kernelDrops));
  readCounter(r, 'tapwatch_interface_drops_total', 'Packets the interface or driver dropped.', [], () => one(view.capture().ifDrops));
  readCounter(r, 'tapwatch_ring_drops_total', "Packets the capture thread dropped because the sensor's shared ring was full (native ring capture and --workers only).", [], () => {
    const d = view.capture().ringDrops;
    return d === undefined ? [] : one(d);
  });
  // One series per state, 1 for the current one (judged at each sensor_stats), as kube-state-metrics exposes phases.
  readGauge(r, 'tapwatch_capture_health', 'Capture health at the latest sensor_stats: 1 for the current state (ok, blind, dropping, overloaded).', ['state'], () => {
    const current = view.health();
    return CAPTURE_HEALTH_STATES.map((state) => [{ state }, current === state ? 1 : 0]);
  });
  readCounter(r, 'tapwatch_decode_errors_total', 'Malformed or unexpected input, by named weird.', ['weird'], () =>
    Object.entries(view.decodeErrors()).map(([weird, v]) => [{ weird }, v]),
  );
  readCounter(r, 'tapwatch_packets_classified_total', 'Packets by what they carried.', ['kind'], () =>
    Object.entries(view.classified()).map(([kind, v]) => [{ kind }, v]),
  );
  readGauge(r, 'tapwatch_table_entries', 'Entries in the state tables.', ['table'], () =>
    Object.entries(view.tables()).map(([table, v]) => [{ table }, v]),
  );
  readCounter(r, 'tapwatch_table_evictions_total', 'Table entries removed, by table and reason (idle timeout or table full).', ['table', 'reason'], () => {
    const e = view.evictions();
    return [
      [{ table: 'flows', reason: 'idle' }, e.flowsIdle],
      [{ table: 'flows', reason: 'full' }, e.flowsFull],
      [{ table: 'streams', reason: 'idle' }, e.streamsIdle],
      [{ table: 'streams', reason: 'full' }, e.streamsFull],
      [{ table: 'calls', reason: 'idle' }, e.callsIdle],
      [{ table: 'calls', reason: 'full' }, e.callsFull],
    ];
  });
  readCounter(r, 'tapwatch_events_total', 'Events emitted, by type.', ['type'], () => [...view.eventCounts()].map(([type, v]) => [{ type }, v]));

  const out = (pick: (o: ReturnType<typeof outputTotals> & object) => number) => (): [Labels, number][] => {
    const o = outputTotals(sinks);
    return o ? one(pick(o)) : [];
  };
  readGauge(r, 'tapwatch_output_queue_depth', "Events in the Kafka producer's queue awaiting acknowledgement.", [], out((o) => o.queued));
  readGauge(r, 'tapwatch_output_buffered_events', 'Events waiting in memory behind the full producer queue.', [], out((o) => o.buffered));
  readGauge(r, 'tapwatch_output_spooled_events', 'Events waiting in the disk spool.', [], out((o) => o.spooled));
  readCounter(r, 'tapwatch_output_delivered_total', 'Events the broker acknowledged.', [], out((o) => o.delivered));
  readCounter(r, 'tapwatch_output_delivery_failures_total', 'Events whose delivery failed for good.', [], out((o) => o.failed));
  readCounter(r, 'tapwatch_output_dropped_total', 'Events dropped (buffer full without spool; never findings).', [], out((o) => o.dropped));
  readGauge(r, 'tapwatch_output_broker_up', '1 while the Kafka broker acknowledges deliveries.', [], out((o) => (o.brokerUp ? 1 : 0)));
  return r;
}

/** Serve /metrics until close(). Port 0 picks a free port (see .port). */
export async function startMetricsServer(opts: MetricsServerOptions): Promise<MetricsServer> {
  const registry = sensorRegistry(opts.view, opts.sinks);
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url !== '/metrics' && !req.url?.startsWith('/metrics?'))) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  server.unref();
  return {
    port: (server.address() as AddressInfo).port,
    registry,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
