/**
 * Shared helpers of the collector tests: an isolated PostgreSQL schema per
 * test file inside the tapwatch_test database (files run in parallel forks,
 * so each gets its own search_path), a recording dead-letter sink, and
 * message builders.
 */
import pg from 'pg';
import { ensureDatabase } from '../../collector/src/store/database.js';
import { migrate } from '../../collector/src/store/migrate.js';
import type { DeadLetter, DeadLetterSink, InMessage } from '../../collector/src/ingest/message.js';
import { defaultConfig, type CollectorConfig } from '../../collector/src/config.js';
import { compileEventValidator } from '../../sensor/src/events/schemas.js';
import { compileFingerprintValidator } from '../../collector/src/ingest/fingerprint.js';
import type { Validators } from '../../collector/src/ingest/message.js';

export const TEST_DATABASE_URL = process.env.TAPWATCH_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/tapwatch_test';

/** True when PostgreSQL answers; in CI a missing database is a failure, not a skip. */
export async function databaseReachable(): Promise<boolean> {
  try {
    await ensureDatabase(TEST_DATABASE_URL);
    return true;
  } catch (err) {
    if (process.env.CI === 'true') throw new Error(`PostgreSQL is required in CI but unreachable at ${TEST_DATABASE_URL}: ${(err as Error).message}`);
    return false;
  }
}

export interface TestDb {
  pool: pg.Pool;
  schema: string;
  /** Empties every collector table (between tests). */
  truncate(): Promise<void>;
  close(): Promise<void>;
}

/** A fresh schema (dropped first if left over), migrated, private to this test file. */
export async function freshSchema(name: string): Promise<TestDb> {
  const schema = `t_${name.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}`;
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.end();
  const pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, options: `-c search_path=${schema}`, max: 8 });
  pool.on('error', () => undefined);
  await migrate(pool);
  return {
    pool,
    schema,
    async truncate() {
      await pool.query('TRUNCATE events, findings, calls, streams, sensors, fingerprints');
    },
    async close() {
      await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
      await pool.end();
    },
  };
}

export class RecordingDlq implements DeadLetterSink {
  letters: DeadLetter[] = [];
  fail = false;
  async send(letters: DeadLetter[]): Promise<void> {
    if (this.fail) throw new Error('broker unavailable');
    this.letters.push(...letters);
  }
}

let validators: Validators | null = null;
export function testValidators(): Validators {
  validators ??= { events: compileEventValidator(), fingerprints: compileFingerprintValidator() };
  return validators;
}

let offset = 0;
/** A Kafka-like message around a JSON value (or raw text / bytes). */
export function msg(value: unknown, o: Partial<InMessage> = {}): InMessage {
  const buf = Buffer.isBuffer(value) ? value : Buffer.from(typeof value === 'string' ? value : JSON.stringify(value), 'utf8');
  return { topic: 'tapwatch.telemetry', partition: 0, offset: offset++, key: 'k', value: buf, ...o };
}

export function testConfig(over: Partial<CollectorConfig> = {}): CollectorConfig {
  return { ...defaultConfig(), databaseUrl: TEST_DATABASE_URL, apiToken: 'test-token-123', retentionDays: 0, ...over };
}

export const AUTH = { authorization: 'Bearer test-token-123' };
