/**
 * The sensor-health metrics (decode errors by name, table sizes, evictions, the
 * blind-sensor signals) come from each sensor's latest sensor_stats as stored in
 * PostgreSQL: ingest real sensor_stats events through the pipeline, then read
 * /metrics through inject().
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { build } from '../../collector/src/app.js';
import { processBatch } from '../../collector/src/ingest/pipeline.js';
import { METRICS } from '../../collector/src/names.js';
import type { SensorStatsEvent } from '../../sensor/src/events/types.js';
import { callStarted, sensorStats } from './fixtures.js';
import { databaseReachable, freshSchema, msg, RecordingDlq, testConfig, testValidators, type TestDb } from './helpers.js';

const reachable = await databaseReachable();
if (!reachable) console.warn('tests/collector/sensor-health-metrics: PostgreSQL unreachable, skipping (CI=true makes this a failure)');

const T = 1_700_000_000;

/** A sensor_stats with decode errors, table sizes and evictions filled in. */
function busyStats(id: string, sensor: string, ts: number, uptimeSec: number, packets: number): SensorStatsEvent {
  const base = sensorStats(id, sensor, ts, uptimeSec, packets, 4);
  return {
    ...base,
    ifDrops: 3,
    decodeErrors: { truncated_udp: 7, bad_ip_checksum: 2 },
    classified: { ...base.classified, sip: 40, rtp: packets - 40, nonIp: 5 },
    tables: { flows: 12, streams: 4, calls: 2, expectations: 6, peakFlows: 30, peakStreams: 8, peakCalls: 3 },
    evictions: { flowsIdle: 9, flowsFull: 1, streamsIdle: 5, streamsFull: 0, callsIdle: 2, callsFull: 0 },
  };
}

describe.skipIf(!reachable)('sensor health metrics from sensor_stats', () => {
  let db: TestDb;
  let app: FastifyInstance;
  let text = '';

  beforeAll(async () => {
    db = await freshSchema('sensor_health_metrics');
    app = await build({ config: testConfig(), pool: db.pool, kafka: false, defaultMetrics: false });
    await app.ready();
    const events = [
      busyStats('h-1', 'edge-busy', T, 10, 1000),
      busyStats('h-2', 'edge-busy', T + 10, 20, 3000),
      // A blind sensor: alive (sends sensor_stats) but its packet count does not move.
      { ...sensorStats('h-3', 'edge-blind', T, 10, 0), dropsUnavailable: true },
      { ...sensorStats('h-4', 'edge-blind', T + 10, 20, 0), dropsUnavailable: true },
      // A sensor that only ever sent a call event: no sensor_stats, so no health series.
      callStarted('h-5', 'call-h', 'edge-nostats'),
    ];
    const out = await processBatch(events.map((e) => msg(e)), { pool: db.pool, validators: testValidators(), dlq: new RecordingDlq(), fingerprintWindowSec: 300 });
    expect(out.inserted).toHaveLength(events.length);
    const r = await app.inject({ url: '/metrics' });
    expect(r.statusCode).toBe(200);
    text = r.body;
  });
  afterAll(async () => {
    await app?.close();
    await db?.close();
  });

  it('exports decode errors by name as counters', () => {
    expect(text).toContain(`# TYPE ${METRICS.sensorDecodeErrors} counter`);
    expect(text).toContain(`${METRICS.sensorDecodeErrors}{sensor="edge-busy",name="truncated_udp"} 7`);
    expect(text).toContain(`${METRICS.sensorDecodeErrors}{sensor="edge-busy",name="bad_ip_checksum"} 2`);
  });

  it('exports table sizes, peaks and evictions by table and reason', () => {
    expect(text).toContain(`${METRICS.sensorTableEntries}{sensor="edge-busy",table="flows"} 12`);
    expect(text).toContain(`${METRICS.sensorTableEntries}{sensor="edge-busy",table="expectations"} 6`);
    expect(text).toContain(`${METRICS.sensorTablePeakEntries}{sensor="edge-busy",table="streams"} 8`);
    expect(text).toContain(`${METRICS.sensorEvictions}{sensor="edge-busy",table="flows",reason="idle"} 9`);
    expect(text).toContain(`${METRICS.sensorEvictions}{sensor="edge-busy",table="flows",reason="full"} 1`);
    expect(text).toContain(`${METRICS.sensorEvictions}{sensor="edge-busy",table="calls",reason="idle"} 2`);
  });

  it('exports packets, classification and interface drops of the latest stats', () => {
    expect(text).toContain(`${METRICS.sensorPackets}{sensor="edge-busy"} 3000`);
    expect(text).toContain(`${METRICS.sensorClassifiedPackets}{sensor="edge-busy",class="sip"} 40`);
    expect(text).toContain(`${METRICS.sensorClassifiedPackets}{sensor="edge-busy",class="non_ip"} 5`);
    expect(text).toContain(`${METRICS.sensorInterfaceDrops}{sensor="edge-busy"} 3`);
    expect(text).toContain(`${METRICS.sensorKernelDrops}{sensor="edge-busy"} 4`);
  });

  it('tells a blind sensor (stats arrive, packet rate 0, drops uncountable) from a busy one', () => {
    expect(text).toContain(`${METRICS.sensorLastStats}{sensor="edge-busy"} ${T + 10}`);
    expect(text).toContain(`${METRICS.sensorLastStats}{sensor="edge-blind"} ${T + 10}`);
    expect(text).toContain(`${METRICS.sensorPacketRate}{sensor="edge-busy"} 200`);
    expect(text).toContain(`${METRICS.sensorPacketRate}{sensor="edge-blind"} 0`);
    expect(text).toContain(`${METRICS.sensorDropsUnavailable}{sensor="edge-blind"} 1`);
    expect(text).toContain(`${METRICS.sensorDropsUnavailable}{sensor="edge-busy"} 0`);
  });

  it('has no health series for a sensor that never sent sensor_stats', () => {
    expect(text).toContain(`${METRICS.sensorLastSeen}{sensor="edge-nostats"}`);
    expect(text).not.toContain(`${METRICS.sensorLastStats}{sensor="edge-nostats"}`);
    expect(text).not.toContain(`${METRICS.sensorTableEntries}{sensor="edge-nostats"`);
  });

  it('follows newer stats: a sensor restart lowers the counters (a counter reset for rate())', async () => {
    const out = await processBatch([msg(busyStats('h-6', 'edge-busy', T + 30, 5, 100))], {
      pool: db.pool, validators: testValidators(), dlq: new RecordingDlq(), fingerprintWindowSec: 300,
    });
    expect(out.inserted).toHaveLength(1);
    // The metrics snapshot is cached for up to a second per scrape burst.
    await new Promise((r) => setTimeout(r, 1100));
    const after = (await app.inject({ url: '/metrics' })).body;
    expect(after).toContain(`${METRICS.sensorPackets}{sensor="edge-busy"} 100`);
    expect(after).toContain(`${METRICS.sensorLastStats}{sensor="edge-busy"} ${T + 30}`);
  });
});
