/** One real-socket test: the collector listens on loopback and answers over HTTP. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { build } from '../../collector/src/app.js';
import { AUTH, databaseReachable, freshSchema, testConfig, type TestDb } from './helpers.js';

const reachable = await databaseReachable();

describe.skipIf(!reachable)('collector over a real socket', () => {
  let db: TestDb;
  let app: FastifyInstance;
  let base: string;
  beforeAll(async () => {
    db = await freshSchema('socket');
    app = await build({ config: testConfig({ host: '127.0.0.1', port: 0 }), pool: db.pool, kafka: false, defaultMetrics: false });
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    base = address;
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });
  afterAll(async () => {
    await app?.close();
    await db?.close();
  });

  it('serves health, refuses /api without a token and answers with one', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const denied = await fetch(`${base}/api/findings`);
    expect(denied.status).toBe(401);
    expect(await denied.json()).toMatchObject({ error: { code: 'unauthorized' } });
    const ok = await fetch(`${base}/api/findings?limit=5`, { headers: AUTH });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await ok.json()).toEqual({ items: [], next: null });
  });
});
