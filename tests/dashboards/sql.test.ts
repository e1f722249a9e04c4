/**
 * Every SQL query of the dashboards runs against a real PostgreSQL database
 * (tapwatch_test_dash, created here and dropped afterwards) whose schema the
 * collector's own migrate() applied, after storing events through the
 * collector's ingest pipeline. Grafana macros and variables are replaced by
 * substituteSqlForTest (dashboards/src/queries.ts documents how).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { processBatch } from '../../collector/src/ingest/pipeline.js';
import { ensureDatabase } from '../../collector/src/store/database.js';
import { migrate } from '../../collector/src/store/migrate.js';
import { OPEN_CRITICAL_SQL } from '../../dashboards/src/overview.js';
import { collectQueries, sqlString, substituteSqlForTest } from '../../dashboards/src/queries.js';
import { tidySql } from '../../dashboards/src/sql-query.js';
import { DASHBOARD_UIDS } from '../../dashboards/src/uids.js';
import type { TapwatchEvent } from '../../sensor/src/events/types.js';
import { callEnded, callStarted, callUpdated, duplicateFinding, keyFinding, relayFinding, sensorStats, streamEnded, streamStarted } from '../collector/fixtures.js';
import { msg, RecordingDlq, testValidators } from '../collector/helpers.js';

const DB_NAME = 'tapwatch_test_dash';
const SERVER_URL = process.env.TAPWATCH_TEST_PG_SERVER ?? 'postgres://postgres@127.0.0.1:5432';
const DB_URL = `${SERVER_URL}/${DB_NAME}`;

async function reachable(): Promise<boolean> {
  const c = new pg.Client({ connectionString: `${SERVER_URL}/postgres`, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    await c.end();
    return true;
  } catch (err) {
    if (process.env.CI === 'true') throw new Error(`PostgreSQL is required in CI: ${(err as Error).message}`);
    return false;
  }
}

async function dropDatabase(): Promise<void> {
  const admin = new pg.Client({ connectionString: `${SERVER_URL}/postgres` });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${DB_NAME} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

const up = await reachable();
if (!up) console.warn('tests/dashboards/sql: PostgreSQL unreachable at 127.0.0.1:5432, skipping (CI=true makes this a failure)');

/** The fixtures' capture times start here (tests/collector/fixtures.ts). */
const T0 = 1_700_000_000;
const RANGE = { from: T0 - 3600, to: T0 + 3600 };

describe.skipIf(!up)('dashboard SQL against the collector schema', () => {
  let pool: pg.Pool;
  const sqlOf = (dashboard: string, panel: string): string => {
    const q = collectQueries().find((x) => x.kind === 'sql' && x.dashboard === dashboard && x.panel === panel);
    if (!q || q.kind !== 'sql') throw new Error(`no SQL for ${dashboard} / ${panel}`);
    return q.sql;
  };
  const run = async (sql: string, vars: Record<string, string | string[]> = {}, range = RANGE) =>
    (await pool.query(substituteSqlForTest(sql, { ...range, vars }))).rows as Array<Record<string, unknown>>;

  beforeAll(async () => {
    await dropDatabase();
    await ensureDatabase(DB_URL);
    pool = new pg.Pool({ connectionString: DB_URL, max: 4 });
    pool.on('error', () => undefined);
    await migrate(pool);
    const events: TapwatchEvent[] = [
      // call-1: seen by two sensors, still in progress, copied (critical duplicate_stream).
      callStarted('e-c1', 'call-1', 's1'), callUpdated('e-u1', 'call-1', 's1'), callStarted('e-c1b', 'call-1', 's2', T0 + 0.3),
      streamStarted('e-st1', 'st-1', 'call-1', 's1'), duplicateFinding('e-f1'),
      // call-2: ended, with a warning relay finding on sensor s2.
      callStarted('e-c2', 'call-2', 's2', T0 + 5), streamStarted('e-st2', 'st-2', 'call-2', 's2', T0 + 6), streamEnded('e-se2', 'st-2', 'call-2', 's2', T0 + 50),
      relayFinding('e-f2'), callEnded('e-ce2', 'call-2', 's2'),
      // call-3: ended, critical finding on an ended call: not open.
      callStarted('e-c3', 'call-3', 's1', T0 + 7), callEnded('e-ce3', 'call-3', 's1', T0 + 70), keyFinding('e-f3', { severity: 'critical' }),
      // Telemetry: s1 with a warning.
      sensorStats('e-ss1', 's1', T0, 10, 1000), { ...sensorStats('e-ss2', 's1', T0 + 10, 20, 3000), warnings: ['kernel drops unavailable', 'slow disk'] },
    ];
    const out = await processBatch(events.map((e) => msg(e)), { pool, validators: testValidators(), dlq: new RecordingDlq(), fingerprintWindowSec: 300 });
    expect(out.deadLetters).toEqual([]);
    expect(out.inserted).toHaveLength(events.length);
  });

  afterAll(async () => {
    await pool?.end();
    if (up) await dropDatabase();
  });

  it('runs every SQL query of every dashboard', async () => {
    const sql = collectQueries().filter((q) => q.kind === 'sql');
    expect(sql.length).toBeGreaterThanOrEqual(9);
    for (const q of sql) {
      if (q.kind !== 'sql') continue;
      const rows = await run(q.sql, { callId: 'call-1' }).catch((err: Error) => {
        throw new Error(`${q.dashboard} / ${q.panel}: ${err.message}`);
      });
      expect(Array.isArray(rows), `${q.dashboard} / ${q.panel}`).toBe(true);
    }
  });

  it('the findings table lists the stored findings newest first with call, copy destination or relay, sensor and confidence', async () => {
    const rows = await run(sqlOf(DASHBOARD_UIDS.findings, 'Latest findings'));
    expect(rows.map((r) => r.id)).toEqual(['e-f3', 'e-f2', 'e-f1']);
    expect(rows[2]).toMatchObject({ type: 'duplicate_stream', severity: 'critical', call: 'call-1', 'copy to / relay': '192.0.2.66:5004', sensor: 's1', confidence: 0.9 });
    expect(rows[1]).toMatchObject({ type: 'unexpected_relay', severity: 'warning', call: 'call-2', 'copy to / relay': '198.51.100.7:3478', sensor: 's2' });
    expect(rows[2]!.time).toEqual(new Date((T0 + 10) * 1000));
  });

  it('the findings filters and the time range narrow the table', async () => {
    const sql = sqlOf(DASHBOARD_UIDS.findings, 'Latest findings');
    expect((await run(sql, { severity: ['critical'] })).map((r) => r.id)).toEqual(['e-f3', 'e-f1']);
    expect((await run(sql, { type: ['unexpected_relay'], severity: ['warning', 'info'] })).map((r) => r.id)).toEqual(['e-f2']);
    expect(await run(sql, {}, { from: T0 + 1000, to: T0 + 2000 })).toEqual([]);
    const byType = await run(sqlOf(DASHBOARD_UIDS.findings, 'Findings by type and severity'));
    expect(byType).toHaveLength(3);
    expect(byType.every((r) => r.findings === 1)).toBe(true);
  });

  it('open critical findings count only criticals whose call is still in progress', async () => {
    const rows = await run(sqlOf(DASHBOARD_UIDS.overview, 'Open critical findings'));
    // e-f1 (call-1 in progress) counts; e-f3 (call-3 ended) does not; e-f2 is a warning.
    expect(rows).toEqual([{ 'open critical findings': 1 }]);
    expect(tidySql(OPEN_CRITICAL_SQL)).toBe(sqlOf(DASHBOARD_UIDS.overview, 'Open critical findings'));
  });

  it('the call drill-down shows the legs, streams, findings and timeline of $callId only', async () => {
    const legs = await run(sqlOf(DASHBOARD_UIDS.callDrilldown, 'Legs'), { callId: 'call-1' });
    expect(legs.map((r) => r.sensor)).toEqual(['s1', 's2']);
    expect(legs[0]).toMatchObject({ from: 'sip:alice@a.example', to: 'sip:bob@b.example', state: 'confirmed' });
    const streams = await run(sqlOf(DASHBOARD_UIDS.callDrilldown, 'Streams'), { callId: 'call-2' });
    expect(streams).toHaveLength(1);
    expect(streams[0]).toMatchObject({ sensor: 's2', ssrc: 0x11223344, packets: 2900, lost: 3, 'end reason': 'call_ended' });
    const findings = await run(sqlOf(DASHBOARD_UIDS.callDrilldown, 'Findings of this call'), { callId: 'call-1' });
    expect(findings.map((r) => r.id)).toEqual(['e-f1']);
    const timeline = await run(sqlOf(DASHBOARD_UIDS.callDrilldown, 'Timeline of events and findings'), { callId: 'call-1' });
    expect(timeline.map((r) => r.event)).toEqual(['call_started', 'call_started', 'call_updated', 'stream_started', 'duplicate_stream']);
    expect(timeline[0]!.detail).toBe('sip:alice@a.example -> sip:bob@b.example (10.0.0.1:5060 -> 10.0.0.2:5060)');
    expect(timeline[2]!.detail).toBe('confirmed answered 200');
    expect(timeline[4]).toMatchObject({ severity: 'critical', detail: 'media copied' });
    const ended = await run(sqlOf(DASHBOARD_UIDS.callDrilldown, 'Timeline of events and findings'), { callId: 'call-2' });
    expect(ended.find((r) => r.event === 'stream_ended')!.detail).toBe('SSRC 287454020 10.0.0.1:4000 -> 10.0.0.2:4000, 2900 packets, 3 lost');
  });

  it('a Call-ID with quotes cannot break out of the string (sqlstring quoting)', async () => {
    const hostile = "call-1' OR '1'='1";
    expect(substituteSqlForTest('SELECT ${callId:sqlstring}', { ...RANGE, vars: { callId: hostile } })).toBe(`SELECT ${sqlString(hostile)}`);
    expect(await run(sqlOf(DASHBOARD_UIDS.callDrilldown, 'Legs'), { callId: hostile })).toEqual([]);
  });

  it('the callId variable lists the calls of the time range, newest first', async () => {
    const rows = await run(sqlOf(DASHBOARD_UIDS.callDrilldown, 'variable callId'));
    expect(rows.map((r) => r.__value)).toEqual(['call-3', 'call-2', 'call-1']);
    expect(String(rows[0]!.__text)).toMatch(/^call-3 \(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\)$/);
  });

  it('the sensor table shows the latest sensor_stats with its warnings', async () => {
    const rows = await run(sqlOf(DASHBOARD_UIDS.sensorHealth, 'Latest sensor_stats per sensor'));
    const s1 = rows.find((r) => r.sensor === 's1')!;
    expect(s1).toMatchObject({ packets: 3000, 'packet rate': 200, warnings: 'kernel drops unavailable; slow disk', 'drops uncountable': false });
    expect(Number(s1['since last stats'])).toBeGreaterThan(0);
    // s2 sent events but never sensor_stats: listed, with no stats.
    expect(rows.find((r) => r.sensor === 's2')).toMatchObject({ 'last sensor_stats': null, warnings: '' });
  });

  it('refuses to run a query with an unsubstituted variable', () => {
    expect(() => substituteSqlForTest('SELECT ${callId:sqlstring}', RANGE)).toThrow(/no test value/);
    expect(() => substituteSqlForTest('SELECT $other', RANGE)).toThrow(/unsubstituted/);
  });
});
