/**
 * The HTTP API through inject() (no sockets): auth, input validation,
 * pagination, error shapes, the OpenAPI document and /metrics.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { build } from '../../collector/src/app.js';
import { processBatch } from '../../collector/src/ingest/pipeline.js';
import { METRICS } from '../../collector/src/names.js';
import type { TapwatchEvent } from '../../sensor/src/events/types.js';
import { callEnded, callStarted, duplicateFinding, keyFinding, relayFinding, sensorStats, streamStarted } from './fixtures.js';
import { AUTH, databaseReachable, freshSchema, msg, RecordingDlq, testConfig, testValidators, type TestDb } from './helpers.js';

const reachable = await databaseReachable();
if (!reachable) console.warn('tests/collector/api: PostgreSQL unreachable, skipping (CI=true makes this a failure)');

describe.skipIf(!reachable)('collector HTTP API', () => {
  let db: TestDb;
  let app: FastifyInstance;
  const T = 1_700_000_000;

  beforeAll(async () => {
    db = await freshSchema('api');
    app = await build({ config: testConfig(), pool: db.pool, kafka: false, defaultMetrics: false });
    await app.ready();
    const events: TapwatchEvent[] = [
      callStarted('c-1', 'call-A', 'east'), callStarted('c-2', 'call-A', 'west', T + 0.2), streamStarted('st-1', 'stream-1', 'call-A', 'east'),
      callEnded('c-3', 'call-A', 'east'), sensorStats('ss-1', 'east', T, 10, 1000, 2), sensorStats('ss-2', 'east', T + 10, 20, 3000, 9),
      { ...sensorStats('ss-3', 'west', T + 5, 10, 50), output: { queued: 5, buffered: 2, spooled: 1, delivered: 900, failed: 0, dropped: 0 } },
    ];
    // 25 findings over three types, two sensors; ts spaced 1 s apart, two sharing a ts (tie broken by id).
    for (let i = 0; i < 25; i++) {
      const ts = T + 100 + (i === 24 ? 23 : i);
      const id = `fd-${String(i).padStart(2, '0')}`;
      if (i % 3 === 0) events.push(duplicateFinding(id, { ts, detectedAt: ts, sensor: i % 2 ? 'west' : 'east', callId: 'call-A' }));
      else if (i % 3 === 1) events.push(relayFinding(id, { ts, detectedAt: ts, sensor: i % 2 ? 'west' : 'east' }));
      else events.push(keyFinding(id, { ts, detectedAt: ts, sensor: i % 2 ? 'west' : 'east' }));
    }
    const out = await processBatch(events.map((e) => msg(e)), {
      pool: db.pool, validators: testValidators(), dlq: new RecordingDlq(), fingerprintWindowSec: 300, onStored: (o) => app.metrics.recordBatch(o),
    });
    expect(out.inserted).toHaveLength(events.length);
  });
  afterAll(async () => {
    await app?.close();
    await db?.close();
  });

  const get = (url: string, headers: Record<string, string> = AUTH) => app.inject({ method: 'GET', url, headers });

  describe('auth', () => {
    it.each(['/api/findings', '/api/sensors', '/api/calls/call-A', '/api/findings/fd-00', '/docs', '/docs/json', '/api/nope'])('refuses %s without a token', async (url) => {
      const r = await get(url, {});
      expect(r.statusCode).toBe(401);
      expect(r.headers['www-authenticate']).toMatch(/^Bearer/);
      expect(r.json()).toMatchObject({ error: { code: 'unauthorized' } });
    });

    it('refuses a wrong token and a non-bearer scheme', async () => {
      expect((await get('/api/findings', { authorization: 'Bearer wrong' })).statusCode).toBe(401);
      expect((await get('/api/findings', { authorization: 'Basic dGVzdC10b2tlbi0xMjM=' })).statusCode).toBe(401);
      expect((await get('/api/findings', { authorization: 'Bearer test-token-123 extra' })).statusCode).toBe(401);
    });

    it('leaves health and metrics open', async () => {
      expect((await get('/healthz', {})).json()).toEqual({ status: 'ok' });
      expect((await get('/readyz', {})).json()).toEqual({ status: 'ready', checks: { database: 'ok', kafka: 'disabled' } });
      expect((await get('/metrics', {})).statusCode).toBe(200);
    });

    it('refuses everything on /api when no token is configured (fail closed)', async () => {
      const open = await build({ config: testConfig({ apiToken: '' }), pool: db.pool, kafka: false, migrate: false, defaultMetrics: false });
      try {
        expect((await open.inject({ url: '/api/findings', headers: { authorization: 'Bearer ' } })).statusCode).toBe(401);
        expect((await open.inject({ url: '/api/findings' })).statusCode).toBe(401);
      } finally {
        await open.close();
      }
    });

    it('protects /metrics when configured to', async () => {
      const closed = await build({ config: testConfig({ protectMetrics: true }), pool: db.pool, kafka: false, migrate: false, defaultMetrics: false });
      try {
        expect((await closed.inject({ url: '/metrics' })).statusCode).toBe(401);
        expect((await closed.inject({ url: '/metrics', headers: AUTH })).statusCode).toBe(200);
        expect((await closed.inject({ url: '/healthz' })).statusCode).toBe(200);
      } finally {
        await closed.close();
      }
    });
  });

  describe('GET /api/findings', () => {
    it('pages newest first through every finding without gaps or repeats', async () => {
      const seen: string[] = [];
      let url = '/api/findings?limit=10';
      let pages = 0;
      for (;;) {
        const r = await get(url);
        expect(r.statusCode).toBe(200);
        const body = r.json() as { items: Array<{ id: string; ts: number }>; next: string | null };
        expect(body.items.length).toBeLessThanOrEqual(10);
        seen.push(...body.items.map((i) => i.id));
        pages++;
        if (!body.next) break;
        url = `/api/findings?limit=10&cursor=${body.next}`;
      }
      expect(pages).toBe(3);
      expect(seen).toHaveLength(25);
      expect(new Set(seen).size).toBe(25);
      // Ties on ts (fd-23 and fd-24) are ordered by id, descending.
      expect(seen.slice(0, 3)).toEqual(['fd-24', 'fd-23', 'fd-22']);
    });

    it('returns the fields the dashboard needs', async () => {
      const items = (await get('/api/findings?type=duplicate_stream&limit=1')).json().items;
      expect(items[0]).toMatchObject({ type: 'duplicate_stream', severity: 'critical', callId: 'call-A', ssrc: 0x11223344, copyTo: '192.0.2.66:5004', relay: null });
      expect(Object.keys(items[0])).toEqual(expect.arrayContaining(['id', 'type', 'severity', 'sensor', 'callId', 'ssrc', 'copyTo', 'relay']));
      expect(items[0]).not.toHaveProperty('evidence');
      const relay = (await get('/api/findings?type=unexpected_relay&limit=1')).json().items[0];
      expect(relay.relay).toBe('198.51.100.7:3478');
    });

    it('filters by type, severity, sensor, callId and time', async () => {
      const ids = async (q: string): Promise<string[]> => (await get(`/api/findings?limit=100&${q}`)).json().items.map((i: { id: string }) => i.id);
      expect(await ids('type=duplicate_stream')).toHaveLength(9);
      expect(await ids('severity=warning')).toHaveLength(8);
      expect(await ids('sensor=west')).toHaveLength(12);
      expect(await ids('callId=call-A&sensor=east')).toHaveLength(5);
      expect(await ids(`since=${T + 110}&until=${T + 115}`)).toEqual(['fd-14', 'fd-13', 'fd-12', 'fd-11', 'fd-10']);
      expect(await ids('sensor=nobody')).toEqual([]);
    });

    it.each([
      ['an unknown type', 'type=nope'],
      ['an unknown severity', 'severity=urgent'],
      ['a page larger than the maximum', 'limit=501'],
      ['a zero limit', 'limit=0'],
      ['a non-numeric limit', 'limit=ten'],
      ['an unknown parameter', 'sort=ts'],
      ['a forged cursor', 'cursor=abc'],
      ['a cursor with bad characters', "cursor=a'b"],
      ['since after until', `since=${T + 10}&until=${T}`],
      ['a negative since', 'since=-1'],
    ])('answers 400 to %s, without a stack trace', async (_name, q) => {
      const r = await get(`/api/findings?${q}`);
      expect(r.statusCode).toBe(400);
      const body = r.json();
      expect(body.error.code).toBe('bad_request');
      expect(typeof body.error.requestId).toBe('string');
      expect(r.body).not.toMatch(/\bat .*\.(ts|js):\d+/);
      expect(r.body).not.toMatch(/stack/i);
    });
  });

  describe('GET /api/findings/:id', () => {
    it('returns the full evidence, by event id or finding id', async () => {
      const r = await get('/api/findings/fd-00');
      expect(r.statusCode).toBe(200);
      const f = r.json();
      expect(f).toMatchObject({ id: 'fd-00', type: 'duplicate_stream', copyTo: '192.0.2.66:5004', mode: 'exact', heuristic: { id: 'dup.exact', version: 1 } });
      expect(f.evidence.tunnels).toEqual([{ kind: 'vxlan', src: '10.9.9.1', dst: '10.9.9.2', id: 42 }]);
      expect((await get('/api/findings/f-fd-00')).json().id).toBe('fd-00');
    });

    it('answers 404 with the error shape for an unknown id, and 400 for an invalid one', async () => {
      const r = await get('/api/findings/does-not-exist');
      expect(r.statusCode).toBe(404);
      expect(r.json()).toEqual({ error: { code: 'not_found', message: 'finding not found', requestId: expect.any(String) } });
      expect((await get(`/api/findings/${'x'.repeat(200)}`)).statusCode).toBe(400);
    });
  });

  describe('GET /api/calls/:callId', () => {
    it('returns the call timeline across sensors in capture order', async () => {
      const r = await get('/api/calls/call-A');
      expect(r.statusCode).toBe(200);
      const t = r.json();
      expect(t.sensors).toEqual(['east', 'west']);
      expect(t.calls.map((c: { sensor: string }) => c.sensor)).toEqual(['east', 'west']);
      const ts = t.events.map((e: { ts: number }) => e.ts);
      expect(ts).toEqual([...ts].sort((a, b) => a - b));
      expect(t.events[0]).toMatchObject({ id: 'c-1', type: 'call_started', sensor: 'east' });
      expect(t.events.map((e: { type: string }) => e.type)).toContain('stream_started');
      expect(t.findings).toHaveLength(9);
      expect(t.truncated).toBe(false);
    });

    it('answers 404 for an unknown call', async () => {
      expect((await get('/api/calls/nope')).statusCode).toBe(404);
    });
  });

  it('GET /api/sensors reports last seen, packet rate and drops', async () => {
    const items = (await get('/api/sensors')).json().items;
    const east = items.find((s: { sensor: string }) => s.sensor === 'east');
    expect(east).toMatchObject({ packetRate: 200, kernelDrops: 9, packets: 3000, producerQueue: null });
    expect(east.lastSeen).toBeGreaterThanOrEqual(T + 10);
    expect(items.map((s: { sensor: string }) => s.sensor)).toEqual(['east', 'west']);
    // Producer queue: what the sensor's Kafka output still holds (queued + buffered + spooled).
    expect(items[1]).toMatchObject({ sensor: 'west', producerQueue: 8, packetRate: 5 });
  });

  it('serves the OpenAPI document and the UI at /docs (with the token)', async () => {
    const doc = (await get('/docs/json')).json();
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/findings', '/api/findings/{id}', '/api/calls/{callId}', '/api/sensors', '/healthz', '/readyz']));
    expect(doc.paths['/api/findings'].get.parameters.map((p: { name: string }) => p.name)).toEqual(
      expect.arrayContaining(['type', 'severity', 'sensor', 'callId', 'since', 'until', 'limit', 'cursor']),
    );
    expect(doc.components.securitySchemes.bearerAuth).toEqual({ type: 'http', scheme: 'bearer' });
    const ui = await get('/docs/');
    expect(ui.statusCode).toBe(200);
    expect(ui.headers['content-type']).toMatch(/html/);
  });

  it('exports the ingest and state metrics under the names in names.ts', async () => {
    const text = (await get('/metrics', {})).body;
    expect(text).toContain(`${METRICS.findings}{type="duplicate_stream",severity="critical",sensor="east"} 5`);
    expect(text).toMatch(new RegExp(`${METRICS.eventsIngested}\\{type="call_started"\\} 2`));
    expect(text).toContain(`${METRICS.sensorPacketRate}{sensor="east"} 200`);
    expect(text).toContain(`${METRICS.sensorKernelDrops}{sensor="east"} 9`);
    expect(text).toContain(`${METRICS.sensorProducerQueue}{sensor="west"} 8`);
    // call-A ended at east, still active at west; stream-1 never ended.
    expect(text).toContain(`${METRICS.activeCalls} 1`);
    expect(text).toContain(`${METRICS.activeStreams} 1`);
    expect(text).toContain(METRICS.consumerLag);
  });

  it('hides internal errors: a broken database gives 500 with a code, no message, no stack', async () => {
    // Nothing listens on port 1 of loopback: every query fails with ECONNREFUSED.
    const deadPool = new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:1/secret_db', connectionTimeoutMillis: 1000 });
    deadPool.on('error', () => undefined);
    const broken = await build({ config: testConfig(), pool: deadPool, kafka: false, migrate: false, defaultMetrics: false });
    try {
      const r = await broken.inject({ url: '/api/sensors', headers: AUTH });
      expect(r.statusCode).toBe(500);
      expect(r.json()).toEqual({ error: { code: 'internal_error', message: 'internal error', requestId: expect.any(String) } });
      expect(r.body).not.toMatch(/secret_db|ECONNREFUSED|127\.0\.0\.1/);
      const ready = await broken.inject({ url: '/readyz' });
      expect(ready.statusCode).toBe(503);
      expect(ready.json().checks.database).toBe('unavailable');
    } finally {
      await broken.close();
      await deadPool.end();
    }
  });

  it('limits the request rate per client on /api', async () => {
    const limited = await build({ config: testConfig({ rateLimitPerMinute: 3 }), pool: db.pool, kafka: false, migrate: false, defaultMetrics: false });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 5; i++) codes.push((await limited.inject({ url: '/api/sensors', headers: AUTH })).statusCode);
      expect(codes).toEqual([200, 200, 200, 429, 429]);
      const r = await limited.inject({ url: '/api/sensors', headers: AUTH });
      expect(r.json()).toMatchObject({ error: { code: 'rate_limited' } });
      expect(r.headers['retry-after']).toBeDefined();
      // Probes are not limited.
      for (let i = 0; i < 5; i++) expect((await limited.inject({ url: '/healthz' })).statusCode).toBe(200);
    } finally {
      await limited.close();
    }
  });

  it('refuses request bodies and unknown methods with the error shape', async () => {
    const r = await app.inject({ method: 'POST', url: '/api/findings', headers: { ...AUTH, 'content-type': 'application/json' }, payload: '{}' });
    expect(r.statusCode).toBe(404);
    expect(r.json().error.code).toBe('not_found');
  });
});
