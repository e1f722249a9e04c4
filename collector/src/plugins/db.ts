/**
 * The PostgreSQL pool as app.db. At start-up it creates the database when
 * missing and applies pending migrations (the collector owns its schema), so
 * a fresh server needs nothing done by hand.
 */
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { createPool, ensureDatabase } from '../store/database.js';
import { migrate } from '../store/migrate.js';

declare module 'fastify' {
  interface FastifyInstance {
    db: pg.Pool;
  }
}

export interface DbOptions {
  databaseUrl: string;
  /** A pool the caller owns (tests, benchmark); it is not closed with the app. */
  pool?: pg.Pool;
  /** Create the database and run migrations at start-up (default true). */
  migrate?: boolean;
}

export const dbPlugin = fp(
  async (app: FastifyInstance, opts: DbOptions) => {
    const own = !opts.pool;
    if (own && opts.migrate !== false) await ensureDatabase(opts.databaseUrl);
    const pool = opts.pool ?? createPool(opts.databaseUrl);
    if (opts.migrate !== false) {
      const applied = await migrate(pool);
      if (applied.length) app.log.info({ applied }, 'database migrations applied');
    }
    app.decorate('db', pool);
    if (own) app.addHook('onClose', async () => pool.end());
  },
  { name: 'tapwatch-db' },
);
