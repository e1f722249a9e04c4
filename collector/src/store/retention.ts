/**
 * Retention: rows whose capture time is older than retentionDays are deleted,
 * in bounded chunks so one sweep never holds long locks against the ingest.
 * The sensors table is kept (one row per sensor, and "last seen" must survive).
 */
import type pg from 'pg';
import { TABLES } from '../names.js';

const CHUNK = 5000;

/** Deletes rows older than `days` (relative to nowSec); returns rows deleted per table. */
export async function sweepRetention(db: pg.Pool, days: number, nowSec = Date.now() / 1000): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  if (days <= 0) return out;
  const cutoff = nowSec - days * 86400;
  const targets: Array<[string, string, string]> = [
    [TABLES.events, 'ts', 'id'],
    [TABLES.findings, 'ts', 'id'],
    [TABLES.calls, 'last_ts', 'ctid'],
    [TABLES.streams, 'last_ts', 'ctid'],
    [TABLES.fingerprints, 'last_ts', 'ctid'],
  ];
  for (const [table, col, key] of targets) {
    let total = 0;
    for (;;) {
      const r = await db.query(
        `DELETE FROM ${table} WHERE ${key} IN (SELECT ${key} FROM ${table} WHERE ${col} < $1 LIMIT ${CHUNK})`,
        [cutoff],
      );
      total += r.rowCount ?? 0;
      if ((r.rowCount ?? 0) < CHUNK) break;
    }
    out[table] = total;
  }
  return out;
}
