/** Migrations, database creation and retention against the real PostgreSQL. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { ensureDatabase } from '../../collector/src/store/database.js';
import { loadMigrations, migrate } from '../../collector/src/store/migrate.js';
import { sweepRetention } from '../../collector/src/store/retention.js';
import { processBatch } from '../../collector/src/ingest/pipeline.js';
import { TABLES } from '../../collector/src/names.js';
import { callStarted, duplicateFinding, streamStarted } from './fixtures.js';
import { databaseReachable, freshSchema, msg, RecordingDlq, TEST_DATABASE_URL, testValidators, type TestDb } from './helpers.js';

const reachable = await databaseReachable();
if (!reachable) console.warn('tests/collector/store: PostgreSQL unreachable, skipping (CI=true makes this a failure)');

describe.skipIf(!reachable)('collector store', () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await freshSchema('store');
  });
  afterAll(async () => {
    await db?.close();
  });

  it('numbers migrations and records them; a second run applies nothing', async () => {
    const all = loadMigrations();
    expect(all[0]!.version).toBe(1);
    const versions = (await db.pool.query(`SELECT version FROM ${TABLES.schemaMigrations} ORDER BY version`)).rows.map((r) => r.version);
    expect(versions).toEqual(all.map((m) => m.version));
    expect(await migrate(db.pool)).toEqual([]);
    const tables = (await db.pool.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = $1`, [db.schema])).rows.map((r) => r.table_name);
    expect(tables).toEqual(expect.arrayContaining(Object.values(TABLES)));
  });

  it('two collectors migrating at once apply each file once', async () => {
    const other = await freshSchema('store_race');
    try {
      await other.pool.query(`DROP TABLE ${TABLES.schemaMigrations}, events, findings, calls, streams, sensors, fingerprints`);
      const [a, b] = await Promise.all([migrate(other.pool), migrate(other.pool)]);
      expect([...a, ...b].sort()).toEqual([1]);
    } finally {
      await other.close();
    }
  });

  it('rolls back a failing migration and reports which one', async () => {
    const other = await freshSchema('store_bad');
    try {
      await expect(migrate(other.pool, [{ version: 99, name: 'broken', sql: 'CREATE TABLE ok_table (x int); SELECT * FROM no_such_table;' }])).rejects.toThrow(/99_broken/);
      const exists = (await other.pool.query(`SELECT to_regclass('ok_table') AS t`)).rows[0].t;
      expect(exists).toBeNull();
    } finally {
      await other.close();
    }
  });

  it('creates a missing database', async () => {
    const url = new URL(TEST_DATABASE_URL);
    url.pathname = `/tapwatch_test_create_${process.pid}`;
    const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    try {
      await admin.query(`DROP DATABASE IF EXISTS tapwatch_test_create_${process.pid}`);
      expect(await ensureDatabase(url.toString())).toBe(true);
      expect(await ensureDatabase(url.toString())).toBe(false);
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS tapwatch_test_create_${process.pid}`);
      await admin.end();
    }
  });

  it('retention deletes rows older than the configured days and keeps the rest', async () => {
    await db.truncate();
    const now = 1_800_000_000;
    const old = now - 10 * 86400;
    const deps = { pool: db.pool, validators: testValidators(), dlq: new RecordingDlq(), fingerprintWindowSec: 300 };
    await processBatch(
      [callStarted('old-1', 'c-old', 's1', old), duplicateFinding('old-2', { ts: old }), streamStarted('old-3', 'st-old', null, 's1', old),
        callStarted('new-1', 'c-new', 's1', now - 100), duplicateFinding('new-2', { ts: now - 100 })].map((e) => msg(e)),
      deps,
    );
    const deleted = await sweepRetention(db.pool, 7, now);
    expect(deleted).toMatchObject({ events: 3, findings: 1, calls: 1, streams: 1 });
    expect((await db.pool.query('SELECT id FROM events ORDER BY id')).rows.map((r) => r.id)).toEqual(['new-1', 'new-2']);
    expect((await db.pool.query('SELECT count(*)::int AS n FROM sensors')).rows[0].n).toBe(1);
    expect(await sweepRetention(db.pool, 0, now)).toEqual({});
  });
});
