/**
 * A tiny migration runner: numbered SQL files (NNN_name.sql) applied in order,
 * each in its own transaction, recorded in schema_migrations. A session-level
 * advisory lock serialises collectors that start at the same moment, so two
 * instances never apply the same file twice.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { TABLES } from '../names.js';

/** Arbitrary constant: the advisory-lock key of the collector's migrations. */
const MIGRATION_LOCK_KEY = 7_461_231_907;

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** collector/src/store/migrations from the sources or from the build (dist/collector/src/store). */
export function migrationsDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const up of ['migrations', '../../../../collector/src/store/migrations']) {
    const dir = resolve(here, up);
    try {
      readdirSync(dir);
      return dir;
    } catch {
      /* try the next candidate */
    }
  }
  throw new Error(`tapwatch collector: cannot find the migrations folder from ${here}`);
}

export function loadMigrations(dir = migrationsDir()): Migration[] {
  const out: Migration[] = [];
  for (const f of readdirSync(dir)) {
    const m = /^(\d+)_([a-z0-9_]+)\.sql$/.exec(f);
    if (!m) continue;
    out.push({ version: Number(m[1]), name: m[2]!, sql: readFileSync(join(dir, f), 'utf8') });
  }
  out.sort((a, b) => a.version - b.version);
  for (let i = 1; i < out.length; i++) {
    if (out[i]!.version === out[i - 1]!.version) throw new Error(`two migrations share version ${out[i]!.version}`);
  }
  return out;
}

/** Applies every pending migration; returns the versions applied now. */
export async function migrate(pool: pg.Pool, migrations = loadMigrations()): Promise<number[]> {
  const client = await pool.connect();
  const applied: number[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${TABLES.schemaMigrations} (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const done = new Set((await client.query<{ version: number }>(`SELECT version FROM ${TABLES.schemaMigrations}`)).rows.map((r) => r.version));
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query(`INSERT INTO ${TABLES.schemaMigrations} (version, name) VALUES ($1, $2)`, [m.version, m.name]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${m.version}_${m.name} failed: ${(err as Error).message}`);
      }
      applied.push(m.version);
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    client.release();
  }
  return applied;
}
