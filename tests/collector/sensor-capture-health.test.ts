/**
 * A blind or overloaded sensor raises its own alert through the pipeline: the
 * sensor judges its capture per stats interval (sensor_stats.health, ringDrops;
 * sensor/src/capture/capture-health.ts), the collector ingests the events
 * (schema-validated, stored in PostgreSQL) and exposes
 * tapwatch_collector_sensor_health{sensor,state} and
 * tapwatch_collector_sensor_ring_drops for the alert rules. Real events go
 * through processBatch; /metrics is read through inject().
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { build } from '../../collector/src/app.js';
import { processBatch } from '../../collector/src/ingest/pipeline.js';
import { METRICS } from '../../collector/src/names.js';
import { sensorStats } from './fixtures.js';
import { databaseReachable, freshSchema, msg, RecordingDlq, testConfig, testValidators, type TestDb } from './helpers.js';

const reachable = await databaseReachable();
if (!reachable) console.warn('tests/collector/sensor-capture-health: PostgreSQL unreachable, skipping (CI=true makes this a failure)');

const T = 1_700_000_000;

describe.skipIf(!reachable)('sensor capture health through the collector', () => {
  let db: TestDb;
  let app: FastifyInstance;
  let text = '';

  beforeAll(async () => {
    db = await freshSchema('sensor_capture_health');
    app = await build({ config: testConfig(), pool: db.pool, kafka: false, defaultMetrics: false });
    await app.ready();
    const events = [
      { ...sensorStats('ch-1', 'edge-ok', T, 10, 1000), health: 'ok' as const },
      { ...sensorStats('ch-2', 'edge-blind', T, 10, 0), health: 'blind' as const },
      { ...sensorStats('ch-3', 'edge-over', T, 10, 5000, 900), health: 'overloaded' as const, ringDrops: 1234 },
      // An older sensor without the field: no health series rather than a guess.
      sensorStats('ch-4', 'edge-old', T, 10, 100),
    ];
    const dlq = new RecordingDlq();
    const out = await processBatch(events.map((e) => msg(e)), { pool: db.pool, validators: testValidators(), dlq, fingerprintWindowSec: 300 });
    expect(out.inserted).toHaveLength(events.length);
    text = (await app.inject({ url: '/metrics' })).body;
  });
  afterAll(async () => {
    await app?.close();
    await db?.close();
  });

  it('sets 1 on the current state and 0 on the others', () => {
    expect(text).toContain(`${METRICS.sensorHealth}{sensor="edge-blind",state="blind"} 1`);
    expect(text).toContain(`${METRICS.sensorHealth}{sensor="edge-blind",state="ok"} 0`);
    expect(text).toContain(`${METRICS.sensorHealth}{sensor="edge-over",state="overloaded"} 1`);
    expect(text).toContain(`${METRICS.sensorHealth}{sensor="edge-ok",state="ok"} 1`);
    expect(text).toContain(`${METRICS.sensorHealth}{sensor="edge-ok",state="blind"} 0`);
    expect(text).not.toContain(`${METRICS.sensorHealth}{sensor="edge-old"`);
  });

  it('exposes ring drops where the sensor reports them', () => {
    expect(text).toContain(`${METRICS.sensorRingDrops}{sensor="edge-over"} 1234`);
    expect(text).not.toContain(`${METRICS.sensorRingDrops}{sensor="edge-ok"}`);
  });
});
