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
import type { EventSink } from '../events/types.js';
import { outputTotals } from '../output/output-totals.js';

export interface MetricsServerOptions {
  port: number;
  /** Listen address (default all interfaces, as Prometheus exporters do). */
  host?: string;
  sensor: Sensor;
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

/** Register every sensor metric on a new registry. */
export function sensorRegistry(sensor: Sensor, sinks: EventSink[]): Registry {
  const r = new Registry();
  collectDefaultMetrics({ register: r, prefix: 'tapwatch_sensor_' });
  const one = (v: number): [Labels, number][] => [[{}, v]];

  readCounter(r, 'tapwatch_packets_total', 'Packets read from the capture.', [], () => one(sensor.packets));
  readCounter(r, 'tapwatch_bytes_total', 'Bytes captured.', [], () => one(sensor.bytes));
  readCounter(r, 'tapwatch_kernel_received_total', 'Packets the kernel (libpcap) received.', [], () => one(sensor.captureStats().kernelReceived));
  readCounter(r, 'tapwatch_kernel_drops_total', 'Packets the kernel dropped (capture buffer full).', [], () => one(sensor.captureStats().kernelDrops));
  readCounter(r, 'tapwatch_interface_drops_total', 'Packets the interface or driver dropped.', [], () => one(sensor.captureStats().ifDrops));
  readCounter(r, 'tapwatch_ring_drops_total', "Packets the capture thread dropped because the sensor's shared ring was full (native ring capture and --workers only).", [], () => {
    const d = sensor.captureStats().ringDrops;
    return d === undefined ? [] : one(d);
  });
  // One series per state, 1 for the current one (judged at each sensor_stats), as kube-state-metrics exposes phases.
  readGauge(r, 'tapwatch_capture_health', 'Capture health at the latest sensor_stats: 1 for the current state (ok, blind, dropping, overloaded).', ['state'], () =>
    CAPTURE_HEALTH_STATES.map((state) => [{ state }, sensor.captureHealth.state === state ? 1 : 0]),
  );
  readCounter(r, 'tapwatch_decode_errors_total', 'Malformed or unexpected input, by named weird.', ['weird'], () =>
    Object.entries(sensor.weirds.toJSON()).map(([weird, v]) => [{ weird }, v]),
  );
  readCounter(r, 'tapwatch_packets_classified_total', 'Packets by what they carried.', ['kind'], () => {
    const c = sensor.app.counters;
    return Object.entries({ sip: c.sip, rtp: c.rtp, rtcp: c.rtcp, stun: c.stun, dtls: c.dtls, zrtp: c.zrtp, other: c.other, non_ip: sensor.nonIp, fragment: sensor.fragments }).map(
      ([kind, v]) => [{ kind }, v],
    );
  });
  readGauge(r, 'tapwatch_table_entries', 'Entries in the state tables.', ['table'], () => [
    [{ table: 'flows' }, sensor.flows.size],
    [{ table: 'streams' }, sensor.streams.size],
    [{ table: 'calls' }, sensor.calls.calls.size],
    [{ table: 'expectations' }, sensor.calls.expectations.size],
  ]);
  readCounter(r, 'tapwatch_table_evictions_total', 'Table entries removed, by table and reason (idle timeout or table full).', ['table', 'reason'], () => [
    [{ table: 'flows', reason: 'idle' }, sensor.flows.evictions.idle],
    [{ table: 'flows', reason: 'full' }, sensor.flows.evictions.full],
    [{ table: 'streams', reason: 'idle' }, sensor.streams.evictions.idle],
    [{ table: 'streams', reason: 'full' }, sensor.streams.evictions.full],
    [{ table: 'calls', reason: 'idle' }, sensor.calls.evictions.idle],
    [{ table: 'calls', reason: 'full' }, sensor.calls.evictions.full],
  ]);
  readCounter(r, 'tapwatch_events_total', 'Events emitted, by type.', ['type'], () => [...sensor.events.counts].map(([type, v]) => [{ type }, v]));

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
  const registry = sensorRegistry(opts.sensor, opts.sinks);
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
