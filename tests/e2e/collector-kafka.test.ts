/**
 * The collector against a real Kafka broker (deploy/kafka, tests/lib/kafka.ts)
 * and the real PostgreSQL: consumer group, offsets committed only after the
 * database commit, crash and restart without duplicates or gaps, two
 * collectors sharing partitions, dead letters, and the cross-sensor join.
 * Skips with a message when no broker can be had, except under CI.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Kafka from 'node-rdkafka';
import pg from 'pg';
import type { FastifyInstance } from 'fastify';
import { build } from '../../collector/src/app.js';
import { fingerprintKey } from '../../collector/src/ingest/fingerprint.js';
import { migrate } from '../../collector/src/store/migrate.js';
import { keyFor } from '../../sensor/src/output/topics.js';
import type { TapwatchEvent } from '../../sensor/src/events/types.js';
import { BROKERS, consumeAll, createTopics, kafkaUnavailable, REPO_ROOT, testTopic } from '../lib/kafka.js';
import { callStarted, duplicateFinding, fingerprint, streamStarted } from '../collector/fixtures.js';
import { databaseReachable, freshSchema, TEST_DATABASE_URL, testConfig, type TestDb } from '../collector/helpers.js';

const pgOk = await databaseReachable();
const kafkaWhy = pgOk ? await kafkaUnavailable() : 'PostgreSQL unreachable';
if (!pgOk) console.warn('skipping collector Kafka tests: PostgreSQL unreachable at 127.0.0.1:5432');

interface Topics { findings: string; telemetry: string; fingerprints: string; dlq: string }
const PARTITIONS = 6;

async function newTopics(label: string): Promise<Topics> {
  const t = { findings: testTopic(`${label}.f`), telemetry: testTopic(`${label}.t`), fingerprints: testTopic(`${label}.fp`), dlq: testTopic(`${label}.dlq`) };
  await createTopics([t.findings, t.telemetry, t.fingerprints], PARTITIONS);
  await createTopics([t.dlq], 1);
  return t;
}

async function produce(records: Array<{ topic: string; key: string | null; value: string | Buffer | null }>): Promise<void> {
  const producer = new Kafka.HighLevelProducer({ 'metadata.broker.list': BROKERS, 'linger.ms': 5, 'enable.idempotence': true });
  producer.setPollInterval(20);
  await new Promise<void>((res, rej) => producer.connect({ timeout: 20_000 }, (err) => (err ? rej(err) : res())));
  try {
    await Promise.all(
      records.map(
        (r) =>
          new Promise<void>((res, rej) =>
            producer.produce(r.topic, null, r.value === null ? null : Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value), r.key, Date.now(), (err: unknown) =>
              err ? rej(err) : res(),
            ),
          ),
      ),
    );
  } finally {
    await new Promise<void>((res) => producer.disconnect(() => res()));
  }
}

const eventRecords = (events: TapwatchEvent[], t: Topics) =>
  events.map((e) => ({ topic: e.type === 'duplicate_stream' ? t.findings : t.telemetry, key: keyFor(e), value: JSON.stringify(e) }));

/** Committed offsets of the group and the high watermarks, per topic-partition. */
async function offsets(group: string, topics: string[]): Promise<{ committed: Map<string, number>; high: Map<string, number> }> {
  const c = new Kafka.KafkaConsumer({ 'metadata.broker.list': BROKERS, 'group.id': group, 'enable.auto.commit': false }, {});
  await new Promise<void>((res, rej) => c.connect({ timeout: 20_000 }, (err) => (err ? rej(err) : res())));
  try {
    const toppars = topics.flatMap((topic) => Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition })));
    const committedList = await new Promise<Kafka.TopicPartitionOffset[]>((res, rej) => c.committed(toppars, 10_000, (err, tp) => (err ? rej(err) : res(tp))));
    const committed = new Map(committedList.map((p) => [`${p.topic}/${p.partition}`, p.offset]));
    const high = new Map<string, number>();
    for (const tp of toppars) {
      const wm = await new Promise<Kafka.WatermarkOffsets>((res, rej) => c.queryWatermarkOffsets(tp.topic, tp.partition, 10_000, (err, o) => (err ? rej(err) : res(o))));
      high.set(`${tp.topic}/${tp.partition}`, wm.highOffset);
    }
    return { committed, high };
  } finally {
    await new Promise<void>((res) => c.disconnect(() => res()));
  }
}

/** Every partition that holds messages is committed up to its end. */
async function expectFullyCommitted(group: string, topics: string[]): Promise<void> {
  await waitFor(async () => {
    const { committed, high } = await offsets(group, topics);
    return [...high].every(([k, h]) => h === 0 || committed.get(k) === h);
  }, 30_000, 'offsets committed up to the high watermark');
}

async function waitFor(cond: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * The crash test runs the collector as a real process from dist/ (plain node,
 * so SIGTERM reaches collectorCommand's handler). Rebuild when a source the
 * collector imports is newer than its output; tsc emits despite type errors
 * elsewhere in the tree.
 */
function ensureCollectorBuilt(): void {
  const stale = (): string[] => {
    const out: string[] = [];
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) {
          const js = path.join(REPO_ROOT, 'dist', path.relative(REPO_ROOT, p)).replace(/\.ts$/, '.js');
          if (!existsSync(js) || statSync(js).mtimeMs < statSync(p).mtimeMs) out.push(p);
        }
      }
    };
    // The collector's import graph: its own sources, the event contract and the topic names.
    walk(path.join(REPO_ROOT, 'collector', 'src'));
    walk(path.join(REPO_ROOT, 'sensor', 'src', 'events'));
    const topics = path.join(REPO_ROOT, 'sensor', 'src', 'output', 'topics.ts');
    const topicsJs = path.join(REPO_ROOT, 'dist', 'sensor', 'src', 'output', 'topics.js');
    if (!existsSync(topicsJs) || statSync(topicsJs).mtimeMs < statSync(topics).mtimeMs) out.push(topics);
    return out;
  };
  if (stale().length === 0) return;
  const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 300_000 });
  const left = stale();
  if (left.length) throw new Error(`dist/ still stale after tsc (exit ${r.status}): ${left.slice(0, 3).join(', ')}\n${(r.stdout + r.stderr).slice(0, 2000)}`);
}

const countRows = async (pool: pg.Pool, table = 'events'): Promise<number> => Number((await pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n);

function collectorConfig(t: Topics, group: string) {
  return testConfig({ kafkaBrokers: BROKERS, groupId: group, topics: t, batchSize: 100, batchWaitMs: 50, kafkaSessionTimeoutMs: 6000 });
}

async function startCollector(db: pg.Pool, t: Topics, group: string, migrateDb = true): Promise<FastifyInstance> {
  const app = await build({ config: collectorConfig(t, group), pool: db, kafka: true, migrate: migrateDb, defaultMetrics: false, retention: false });
  await app.ready();
  return app;
}

async function ingestedBy(app: FastifyInstance): Promise<number> {
  return (await app.metrics.eventsIngested.get()).values.reduce((a, v) => a + v.value, 0);
}

describe.skipIf(kafkaWhy !== null)('collector with a real Kafka broker', () => {
  let db: TestDb;
  const apps: FastifyInstance[] = [];
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    db = await freshSchema('e2e_kafka');
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    for (const a of apps) await a.close().catch(() => undefined);
    await db?.close();
  });

  it('stores valid events once, dead-letters invalid ones, and commits everything it consumed', async () => {
    await db.truncate();
    const t = await newTopics('basic');
    const group = testTopic('group');
    const events: TapwatchEvent[] = [];
    for (let i = 0; i < 200; i++) events.push(callStarted(`b-c${i}`, `call-${i}`), streamStarted(`b-s${i}`, `st-${i}`, `call-${i}`));
    for (let i = 0; i < 20; i++) events.push(duplicateFinding(`b-f${i}`, { callId: `call-${i}` }));
    const invalid = [
      { topic: t.telemetry, key: 'x', value: '{broken json' },
      { topic: t.telemetry, key: 'y', value: JSON.stringify({ ...callStarted('b-bad', 'c'), ts: 'never' }) },
      { topic: t.findings, key: 'z', value: JSON.stringify({ v: 1, type: 'exfiltration', id: 'q', ts: 1, sensor: 's' }) },
    ];
    // Redeliveries: 50 events produced twice.
    await produce([...eventRecords(events, t), ...invalid, ...eventRecords(events.slice(0, 50), t)]);
    const app = await startCollector(db.pool, t, group);
    apps.push(app);
    await waitFor(async () => (await countRows(db.pool)) === events.length, 60_000, 'all events stored');
    const dlq = await consumeAll([t.dlq], { done: (m) => m.length >= 3, timeoutMs: 30_000 });
    expect(dlq).toHaveLength(3);
    expect(dlq.map((m) => m.headers['tapwatch-dlq-reason']).sort()).toEqual(['json', 'schema', 'schema']);
    expect(dlq.every((m) => m.headers['tapwatch-origin-offset'] !== undefined && m.headers['tapwatch-origin-topic']!.startsWith('tapwatch.test.'))).toBe(true);
    expect(dlq.find((m) => m.headers['tapwatch-dlq-reason'] === 'json')!.value).toBe('{broken json');
    expect(await countRows(db.pool, 'findings')).toBe(20);
    await expectFullyCommitted(group, [t.findings, t.telemetry]);
    const ready = await app.inject({ url: '/readyz' });
    expect(ready.json()).toEqual({ status: 'ready', checks: { database: 'ok', kafka: 'ok' } });
    const metrics = (await app.inject({ url: '/metrics' })).body;
    expect(metrics).toMatch(/tapwatch_collector_events_invalid_total\{reason="schema"\} 2/);
    expect(metrics).toMatch(/tapwatch_collector_events_duplicate_total\{type="call_started"\} \d+/);
    await app.close();
    apps.splice(apps.indexOf(app), 1);
  });

  it('commits no offset while the database refuses the batch, then catches up', async () => {
    const t = await newTopics('dbdown');
    const group = testTopic('group');
    // A schema with no tables: every insert fails (SQLSTATE 42P01), which is not a data error.
    const schema = `t_e2e_nodb_${process.pid}`;
    const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}`);
    const pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, options: `-c search_path=${schema}` });
    try {
      const events = Array.from({ length: 100 }, (_, i) => callStarted(`d-${i}`, `dcall-${i}`));
      await produce(eventRecords(events, t));
      const app = await startCollector(pool, t, group, false);
      apps.push(app);
      await new Promise((r) => setTimeout(r, 4000));
      const before = await offsets(group, [t.telemetry]);
      expect([...before.committed.entries()].filter(([, o]) => o >= 0)).toEqual([]);
      await migrate(pool);
      await waitFor(async () => (await countRows(pool)) === 100, 60_000, 'catch-up after the database came back');
      await expectFullyCommitted(group, [t.telemetry]);
      await app.close();
      apps.splice(apps.indexOf(app), 1);
    } finally {
      await pool.end();
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
    }
  });

  it('survives a crash (SIGKILL) and a restart without duplicates or gaps', async () => {
    await db.truncate();
    const t = await newTopics('crash');
    const group = testTopic('group');
    const N = 4000;
    const events = Array.from({ length: N }, (_, i) => streamStarted(`k-${i}`, `kst-${i}`, `kcall-${i % 400}`));
    await produce(eventRecords(events, t));
    const dir = mkdtempSync(path.join(tmpdir(), 'tw-collector-'));
    const configFile = path.join(dir, 'collector.yaml');
    writeFileSync(configFile, JSON.stringify({ groupId: group, topics: t, batchSize: 50, batchWaitMs: 50, kafkaSessionTimeoutMs: 6000, retentionDays: 0 }));
    const env = {
      ...process.env,
      KAFKA_BROKERS: BROKERS,
      DATABASE_URL: `${TEST_DATABASE_URL}?options=${encodeURIComponent(`-c search_path=${db.schema}`)}`,
      TAPWATCH_API_TOKEN: 'x',
      TAPWATCH_LOG_LEVEL: 'warn',
    };
    ensureCollectorBuilt();
    const cli = path.join(REPO_ROOT, 'dist/collector/src/cli.js');
    const script = `const { collectorCommand } = await import(${JSON.stringify(cli)}); process.exitCode = await collectorCommand(process.argv.slice(1));`;
    const start = (): ChildProcess => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script, '--', '--config', configFile, '--port', '0'], {
        cwd: REPO_ROOT, env, stdio: ['ignore', 'ignore', 'inherit'],
      });
      children.push(child);
      return child;
    };
    const a = start();
    await waitFor(async () => {
      if (a.exitCode !== null) throw new Error(`the collector process exited early (code ${a.exitCode})`);
      return (await countRows(db.pool)) >= 400;
    }, 90_000, 'the first collector to store some events');
    a.kill('SIGKILL');
    await new Promise((r) => a.once('exit', r));
    const atCrash = await countRows(db.pool);
    expect(atCrash).toBeLessThan(N);
    const b = start();
    await waitFor(async () => (await countRows(db.pool)) === N, 120_000, 'the restarted collector to store the rest');
    await expectFullyCommitted(group, [t.telemetry]);
    const ids = (await db.pool.query(`SELECT id FROM events WHERE id LIKE 'k-%'`)).rows.map((r) => r.id);
    expect(new Set(ids).size).toBe(N);
    expect(await countRows(db.pool, 'streams')).toBe(N);
    b.kill('SIGTERM');
    const code = await new Promise((r) => b.once('exit', (c) => r(c)));
    expect(code).toBe(0);
  });

  it('shares partitions between two collectors of one group, each storing its part once', async () => {
    await db.truncate();
    const t = await newTopics('share');
    const group = testTopic('group');
    const a = await startCollector(db.pool, t, group);
    const b = await startCollector(db.pool, t, group);
    apps.push(a, b);
    // Let the group settle on both members before producing.
    await new Promise((r) => setTimeout(r, 5000));
    const N = 3000;
    const events = Array.from({ length: N }, (_, i) => callStarted(`sh-${i}`, `shcall-${i}`));
    await produce(eventRecords(events, t));
    await waitFor(async () => (await countRows(db.pool)) === N, 60_000, 'both collectors to store everything');
    const [ia, ib] = [await ingestedBy(a), await ingestedBy(b)];
    expect(ia).toBeGreaterThan(0);
    expect(ib).toBeGreaterThan(0);
    expect(ia + ib).toBe(N);
    await expectFullyCommitted(group, [t.telemetry]);
    for (const x of [a, b]) {
      await x.close();
      apps.splice(apps.indexOf(x), 1);
    }
  });

  it('joins fingerprints from two sensors across two collectors into one finding per copy', async () => {
    await db.truncate();
    const t = await newTopics('fp');
    const group = testTopic('group');
    const a = await startCollector(db.pool, t, group);
    const b = await startCollector(db.pool, t, group);
    apps.push(a, b);
    await new Promise((r) => setTimeout(r, 5000));
    const pairs = 24;
    const records: Array<{ topic: string; key: string; value: string }> = [];
    for (let i = 0; i < pairs; i++) {
      const ssrc = 0x10000000 + i * 7919;
      const orig = fingerprint({ id: `fo-${i}`, sensor: 'edge-a', streamId: `so-${i}`, dst: '10.0.0.2:4000', callId: `fcall-${i}`, classifiedBy: 'sdp', ssrc, content: `c${i}` });
      const copy = fingerprint({ id: `fc-${i}`, sensor: 'edge-b', streamId: `sc-${i}`, dst: '10.0.0.2:4000', outerDst: '203.0.113.50:4789', ssrc, content: `c${i}` });
      // Noise: the same stream on its path at a core sensor (not a copy), and an unrelated SSRC.
      const core = fingerprint({ id: `fk-${i}`, sensor: 'core', streamId: `sk-${i}`, dst: '10.0.0.2:4000', ssrc, content: `c${i}` });
      const other = fingerprint({ id: `fx-${i}`, sensor: 'edge-b', streamId: `sx-${i}`, dst: '198.51.100.9:7000', ssrc: ssrc + 1, content: `x${i}` });
      for (const fp of [orig, core, copy, other]) records.push({ topic: t.fingerprints, key: fingerprintKey(fp.ssrc), value: JSON.stringify(fp) });
    }
    await produce(records);
    await waitFor(async () => (await countRows(db.pool, 'fingerprints')) === pairs * 4, 60_000, 'fingerprints stored');
    await waitFor(async () => (await countRows(db.pool, 'findings')) === pairs, 30_000, 'one finding per copy');
    const rows = (await db.pool.query(`SELECT sensor, copy_to, call_id, evidence FROM findings ORDER BY call_id`)).rows;
    for (const r of rows) {
      expect(r.sensor).toBe('edge-b');
      expect(r.copy_to).toBe('203.0.113.50:4789');
      expect(r.evidence.sensors).toEqual(['edge-a', 'edge-b']);
    }
    const [ia, ib] = [await ingestedBy(a), await ingestedBy(b)];
    expect(ia + ib).toBe(pairs);
    // Redelivering every fingerprint makes no new finding.
    await produce(records);
    await new Promise((r) => setTimeout(r, 3000));
    expect(await countRows(db.pool, 'findings')).toBe(pairs);
    for (const x of [a, b]) {
      await x.close();
      apps.splice(apps.indexOf(x), 1);
    }
  });
});
