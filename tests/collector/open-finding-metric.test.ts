/**
 * tapwatch_collector_open_finding_info against the real PostgreSQL: the
 * gauge that lets a Prometheus alert name the call, its parties and the copy
 * destination or relay (deploy/prometheus/rules/tapwatch.rules.yml,
 * TapwatchOpenFinding). Events go in through the real ingest pipeline; the
 * gauge is read the way Prometheus reads it, as exposition text.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { processBatch, type PipelineDeps } from '../../collector/src/ingest/pipeline.js';
import { METRICS, TABLES } from '../../collector/src/names.js';
import { createMetrics, OPEN_FINDINGS_LIMIT, OPEN_FINDINGS_WINDOW_SEC } from '../../collector/src/plugins/metrics.js';
import { callStarted, duplicateFinding, keyFinding, relayFinding } from './fixtures.js';
import { databaseReachable, freshSchema, msg, RecordingDlq, testValidators, type TestDb } from './helpers.js';

const reachable = await databaseReachable();
if (!reachable) console.warn('tests/collector/open-finding-metric: PostgreSQL unreachable at 127.0.0.1:5432, skipping (CI=true makes this a failure)');

/** The open-finding series of one scrape, labels parsed from the exposition text. */
async function scrapeOpenFindings(db: TestDb): Promise<Array<Record<string, string>>> {
  const text = await createMetrics(db.pool).registry.metrics();
  const out: Array<Record<string, string>> = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${METRICS.openFindingInfo}{`)) continue;
    const labels: Record<string, string> = {};
    for (const m of line.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[m[1]!] = m[2]!.replace(/\\(.)/g, '$1');
    expect(line.endsWith('} 1')).toBe(true);
    out.push(labels);
  }
  return out;
}

describe.skipIf(!reachable)('open-finding info gauge (PostgreSQL)', () => {
  let db: TestDb;
  let deps: PipelineDeps;

  beforeAll(async () => {
    db = await freshSchema('open_finding_metric');
  });
  afterAll(async () => {
    await db?.close();
  });
  beforeEach(async () => {
    await db.truncate();
    deps = { pool: db.pool, validators: testValidators(), dlq: new RecordingDlq(), fingerprintWindowSec: 300 };
  });

  it('carries the call, its parties and the copy destination or relay of critical and warning findings', async () => {
    await processBatch(
      [
        callStarted('c1', 'call-1', 's1'),
        duplicateFinding('d1'),
        relayFinding('r1'),
        keyFinding('k1'), // severity info: not an alert
      ].map((e) => msg(e)),
      deps,
    );
    const series = await scrapeOpenFindings(db);
    expect(series).toHaveLength(2);
    const dup = series.find((s) => s.type === 'duplicate_stream');
    expect(dup).toEqual({
      finding_id: 'f-d1', type: 'duplicate_stream', severity: 'critical', sensor: 's1', call_id: 'call-1', copy_to: '192.0.2.66:5004', relay: '',
      parties: 'sip:alice@a.example -> sip:bob@b.example',
    });
    // No call row for call-2 on s2: the parties stay empty, the relay is there.
    const relay = series.find((s) => s.type === 'unexpected_relay');
    expect(relay).toMatchObject({ finding_id: 'f-r1', severity: 'warning', sensor: 's2', call_id: 'call-2', relay: '198.51.100.7:3478', copy_to: '', parties: '' });
    expect(series.some((s) => s.type === 'key_exposure')).toBe(false);
  });

  it(`keeps at most ${OPEN_FINDINGS_LIMIT} series, the newest by capture time`, async () => {
    const many = Array.from({ length: OPEN_FINDINGS_LIMIT + 5 }, (_, i) => duplicateFinding(`m${i}`, { ts: 1_700_000_100 + i, callId: `call-m${i}` }));
    await processBatch(many.map((e) => msg(e)), deps);
    const series = await scrapeOpenFindings(db);
    expect(series).toHaveLength(OPEN_FINDINGS_LIMIT);
    const kept = new Set(series.map((s) => s.finding_id));
    expect(kept.has(`f-m${OPEN_FINDINGS_LIMIT + 4}`)).toBe(true); // newest
    expect(kept.has('f-m0')).toBe(false); // oldest five dropped
    expect(kept.has('f-m4')).toBe(false);
  });

  it(`drops findings stored more than ${OPEN_FINDINGS_WINDOW_SEC / 3600} h ago`, async () => {
    await processBatch([duplicateFinding('old1'), duplicateFinding('new1', { callId: 'call-new' })].map((e) => msg(e)), deps);
    await db.pool.query(`UPDATE ${TABLES.events} SET ingested_at = now() - make_interval(secs => $1) WHERE id = 'old1'`, [OPEN_FINDINGS_WINDOW_SEC + 60]);
    const series = await scrapeOpenFindings(db);
    expect(series.map((s) => s.finding_id)).toEqual(['f-new1']);
  });

  it('exposes nothing (and does not throw) when the database is unreachable', async () => {
    const pg = (await import('pg')).default;
    const dead = new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:1/none', connectionTimeoutMillis: 500 });
    dead.on('error', () => undefined);
    try {
      const text = await createMetrics(dead).registry.metrics();
      expect(text).toContain(`# TYPE ${METRICS.openFindingInfo} gauge`);
      expect(text).not.toContain(`${METRICS.openFindingInfo}{`);
    } finally {
      await dead.end();
    }
  });
});
