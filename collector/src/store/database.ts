/**
 * Connection pool and first-boot database creation. The collector creates
 * its database when the server has none of that name (CREATE DATABASE cannot
 * run inside the target database, so it connects to `postgres` first).
 */
import pg from 'pg';

// int8 (COUNT, bigint columns) as JS numbers: every value the collector stores
// (packets, bytes, drops, SSRCs) stays far below 2^53.
pg.types.setTypeParser(20, (v: string) => Number(v));

export function createPool(databaseUrl: string, max = 10): pg.Pool {
  const pool = new pg.Pool({ connectionString: databaseUrl, max, connectionTimeoutMillis: 5000, idleTimeoutMillis: 30_000 });
  // An idle client's socket error must not crash the process; the pool drops the client.
  pool.on('error', () => undefined);
  return pool;
}

/** Creates the database named in the URL when it does not exist. Returns true when it created it. */
export async function ensureDatabase(databaseUrl: string): Promise<boolean> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!name) throw new Error('DATABASE_URL names no database');
  url.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: url.toString(), connectionTimeoutMillis: 5000 });
  await admin.connect();
  try {
    const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount) return false;
    try {
      await admin.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
    } catch (err) {
      // 42P04 duplicate_database: another collector created it in the meantime.
      if ((err as { code?: string }).code !== '42P04') throw err;
      return false;
    }
    return true;
  } finally {
    await admin.end();
  }
}
