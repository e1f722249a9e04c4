/**
 * Cross-sensor duplicate detection end to end, with the real CLI, a real
 * Kafka broker and the real PostgreSQL: sensor s1 reads capture A (twelve
 * SIP calls with SDP and RTP), sensor s2 reads capture B, which holds only
 * the covert copy of one of A's RTP streams, sent to another address. Each
 * sensor alone sees nothing wrong; their fingerprints (tapwatch.fingerprints
 * topic) meet at one of TWO collectors sharing a consumer group, which
 * stores exactly one duplicate_stream naming both sensors.
 * A third sensor that sees the same stream on its way to the same
 * destination as s1 must not produce a finding.
 *
 * The captures come from the synthetic call generator (tests/fixtures/gen):
 * one capture with the copy, split by destination address.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import type { FastifyInstance } from 'fastify';
import { build } from '../../collector/src/app.js';
import { ensureDatabase } from '../../collector/src/store/database.js';
import { migrate } from '../../collector/src/store/migrate.js';
import { COLLECTOR_HEURISTIC_ID } from '../../collector/src/names.js';
import { BROKERS, createTopics, kafkaUnavailable, REPO_ROOT, testTopic } from '../lib/kafka.js';
import { databaseReachable, testConfig, AUTH } from '../collector/helpers.js';
import { generateCalls } from '../fixtures/gen/synth-calls.js';
import { ensureSensorBuilt } from './ensure-built.js';

const pgOk = await databaseReachable();
const kafkaWhy = pgOk ? await kafkaUnavailable() : 'PostgreSQL unreachable';
if (!pgOk) console.warn('skipping cross-sensor test: PostgreSQL unreachable at 127.0.0.1:5432');

/** Our own database, dropped afterwards. */
const DB_NAME = `tapwatch_test_xsensor_${process.pid}`;
const DB_URL = `postgres://postgres@127.0.0.1:5432/${DB_NAME}`;
const PARTITIONS = 6;
const COPY_IP = '203.0.113.77';
const COPY_PORT = 41000;
const COPIED_CALL = 1;
/** Enough calls (Kafka keys) that both collectors certainly get some of s1's events. */
const CALLS = 12;

interface Topics { findings: string; telemetry: string; fingerprints: string; dlq: string }

/**
 * Splits a classic pcap (Ethernet, IPv4, no VLAN: what the generator writes
 * by default) by a predicate on the IPv4 destination and UDP destination port.
 */
function splitPcap(src: string, outputs: Array<{ file: string; keep: (dstIp: string, dstPort: number) => boolean }>): number[] {
  const buf = readFileSync(src);
  if (buf.readUInt32LE(0) !== 0xa1b2c3d4 && buf.readUInt32LE(0) !== 0xa1b23c4d) throw new Error(`${src}: not a little-endian classic pcap`);
  const parts: Buffer[][] = outputs.map(() => [buf.subarray(0, 24)]);
  const counts = outputs.map(() => 0);
  for (let off = 24; off + 16 <= buf.length; ) {
    const incl = buf.readUInt32LE(off + 8);
    const rec = buf.subarray(off, off + 16 + incl);
    const frame = rec.subarray(16);
    let dstIp = '';
    let dstPort = -1;
    if (frame.length >= 38 && frame.readUInt16BE(12) === 0x0800) {
      dstIp = `${frame[30]}.${frame[31]}.${frame[32]}.${frame[33]}`;
      const ihl = (frame[14]! & 0x0f) * 4;
      if (frame[23] === 17) dstPort = frame.readUInt16BE(14 + ihl + 2);
    }
    outputs.forEach((o, i) => {
      if (o.keep(dstIp, dstPort)) {
        parts[i]!.push(rec);
        counts[i]!++;
      }
    });
    off += 16 + incl;
  }
  outputs.forEach((o, i) => writeFileSync(o.file, Buffer.concat(parts[i]!)));
  return counts;
}

/** Runs the real CLI; resolves with its exit code and stderr. */
function runSensor(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'tapwatch.js'), 'sensor', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

async function waitFor(cond: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The topic-partitions a collector's consumer owns, from its lag gauge (one series per assigned partition). */
async function ownedPartitions(app: FastifyInstance): Promise<string[]> {
  await app.collector.kafka!.updateLag();
  return (await app.metrics.consumerLag.get()).values.map((v) => `${v.labels.topic}/${v.labels.partition}`).sort();
}

describe.skipIf(kafkaWhy !== null)('cross-sensor duplicate_stream through Kafka and two collectors', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tw-xsensor-'));
  const files = { full: path.join(dir, 'full.pcap'), a: path.join(dir, 'A.pcap'), b: path.join(dir, 'B.pcap'), c: path.join(dir, 'C.pcap') };
  let pool: pg.Pool;
  let topics: Topics;
  const apps: FastifyInstance[] = [];
  let original: { ip: string; port: number };

  beforeAll(async () => {
    ensureSensorBuilt(REPO_ROOT);
    expect(existsSync(path.join(REPO_ROOT, 'dist', 'collector', 'src', 'ingest', 'fingerprint.js'))).toBe(true);

    // CALLS 12 s calls; the caller's stream of call 1 is also copied to COPY_IP.
    const gen = generateCalls({
      path: files.full,
      calls: CALLS,
      concurrency: CALLS,
      callDurationSec: 12,
      seed: 4242,
      extras: { duplicateTo: { callIndex: COPIED_CALL, ip: COPY_IP, port: COPY_PORT } },
    });
    const call = gen.calls[COPIED_CALL]!;
    original = { ip: call.calleeIp, port: call.calleeRtpPort };
    const [a, b, c] = splitPcap(files.full, [
      { file: files.a, keep: (ip) => ip !== COPY_IP },
      { file: files.b, keep: (ip) => ip === COPY_IP },
      // What a sensor on the path to the callee sees of that stream: the same packets to the same destination.
      { file: files.c, keep: (ip, port) => ip === original.ip && port === original.port },
    ]);
    expect(b).toBeGreaterThan(500);
    expect(c).toBe(b);
    expect(a).toBeGreaterThan(3 * b);

    const admin = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${DB_NAME}`);
    await admin.end();
    await ensureDatabase(DB_URL);
    pool = new pg.Pool({ connectionString: DB_URL, max: 8 });
    pool.on('error', () => undefined);
    await migrate(pool);

    topics = { findings: testTopic('xs.f'), telemetry: testTopic('xs.t'), fingerprints: testTopic('xs.fp'), dlq: testTopic('xs.dlq') };
    await createTopics([topics.findings, topics.telemetry, topics.fingerprints], PARTITIONS);
    await createTopics([topics.dlq], 1);
    const group = testTopic('xs.group');
    for (let i = 0; i < 2; i++) {
      const app = await build({
        config: testConfig({ databaseUrl: DB_URL, kafkaBrokers: BROKERS, groupId: group, topics, batchSize: 100, batchWaitMs: 50, kafkaSessionTimeoutMs: 6000 }),
        pool,
        kafka: true,
        migrate: false,
        defaultMetrics: false,
        retention: false,
      });
      await app.ready();
      apps.push(app);
    }
    // Let the group settle on both members before anything is produced.
    await waitFor(async () => (await ownedPartitions(apps[0]!)).length > 0 && (await ownedPartitions(apps[1]!)).length > 0, 60_000, 'both collectors to own partitions');
  }, 180_000);

  afterAll(async () => {
    for (const a of apps) await a.close().catch(() => undefined);
    await pool?.end().catch(() => undefined);
    const admin = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
    await admin.connect().catch(() => undefined);
    await admin.query(`DROP DATABASE IF EXISTS ${DB_NAME} WITH (FORCE)`).catch(() => undefined);
    await admin.end().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  const sensorArgs = (file: string, id: string): string[] => [
    '--read', file, '--kafka', BROKERS, '--sensor-id', id, '--stats-interval', '0',
    '--findings-topic', topics.findings, '--telemetry-topic', topics.telemetry, '--fingerprints-topic', topics.fingerprints,
  ];
  const fingerprintRows = async (sensor: string): Promise<number> =>
    Number((await pool.query('SELECT count(*)::int AS n FROM fingerprints WHERE sensor = $1', [sensor])).rows[0].n);
  const duplicateFindings = async () =>
    (await pool.query(`SELECT id, sensor, copy_to, call_id, ssrc, evidence, body FROM findings WHERE type = 'duplicate_stream' ORDER BY id`)).rows;

  it('shares the partitions between the two collectors', async () => {
    const [pa, pb] = [await ownedPartitions(apps[0]!), await ownedPartitions(apps[1]!)];
    expect(pa.length).toBeGreaterThan(0);
    expect(pb.length).toBeGreaterThan(0);
    expect(pa.filter((p) => pb.includes(p))).toEqual([]);
    const all = [topics.findings, topics.telemetry, topics.fingerprints].flatMap((t) => Array.from({ length: PARTITIONS }, (_, i) => `${t}/${i}`)).sort();
    expect([...pa, ...pb].sort()).toEqual(all);
  });

  it('joins the original seen by s1 and its copy seen by s2 into exactly one finding naming both sensors', async () => {
    const [r1, r2] = await Promise.all([runSensor(sensorArgs(files.a, 's1')), runSensor(sensorArgs(files.b, 's2'))]);
    expect(r1, r1.stderr).toMatchObject({ code: 0 });
    expect(r2, r2.stderr).toMatchObject({ code: 0 });
    // s1: both directions of every call; s2: the copy only.
    await waitFor(async () => (await fingerprintRows('s1')) === 2 * CALLS && (await fingerprintRows('s2')) === 1, 60_000, 'fingerprints of both sensors stored');
    await waitFor(async () => (await duplicateFindings()).length > 0, 30_000, 'a cross-sensor finding');
    // Later fingerprints of the same streams (periodic, final, redelivered) must not add findings.
    await new Promise((r) => setTimeout(r, 3000));
    const rows = await duplicateFindings();
    expect(rows).toHaveLength(1);
    const f = rows[0]!;
    expect(f.sensor).toBe('s2');
    expect(f.copy_to).toBe(`${COPY_IP}:${COPY_PORT}`);
    expect(f.evidence.sensors).toEqual(['s1', 's2']);
    expect(f.evidence.originalSensor).toBe('s1');
    expect(f.evidence.originalDst).toBe(`${original.ip}:${original.port}`);
    expect(f.evidence.headerBlocksMatched).toBeGreaterThan(0);
    expect(f.evidence.payloadBlocksMatched).toBe(f.evidence.headerBlocksMatched);
    expect(f.body.mode).toBe('exact');
    expect(f.body.heuristic.id).toBe(COLLECTOR_HEURISTIC_ID);
    // The original's call is named: s1 saw its SIP and SDP.
    expect(f.call_id).toMatch(/.+/);

    // Both collectors took part in ingesting the two sensors' events.
    for (const app of apps) {
      const ingested = (await app.metrics.eventsIngested.get()).values.reduce((a, v) => a + v.value, 0);
      expect(ingested).toBeGreaterThan(0);
    }
    const cross = (await Promise.all(apps.map(async (a) => (await a.metrics.crossSensorDuplicates.get()).values.reduce((x, v) => x + v.value, 0)))).reduce((x, y) => x + y, 0);
    expect(cross).toBe(1);

    // And through the API.
    const res = await apps[0]!.inject({ url: '/api/findings?type=duplicate_stream', headers: AUTH });
    expect(res.statusCode).toBe(200);
    const items = res.json().items as Array<{ id: string; type: string; sensor: string; copyTo?: string }>;
    expect(items).toHaveLength(1);
    expect(items[0]!.id).toBe(f.id);
    expect(items[0]!.type).toBe('duplicate_stream');
    expect(items[0]!.sensor).toBe('s2');
  }, 180_000);

  it('reports nothing when a third sensor sees the same stream to the same destination', async () => {
    const r3 = await runSensor(sensorArgs(files.c, 's3'));
    expect(r3, r3.stderr).toMatchObject({ code: 0 });
    await waitFor(async () => (await fingerprintRows('s3')) === 1, 60_000, 'fingerprint of s3 stored');
    await new Promise((r) => setTimeout(r, 3000));
    const rows = await duplicateFindings();
    expect(rows).toHaveLength(1);
    expect(rows.every((r) => !r.evidence.sensors.includes('s3'))).toBe(true);
  }, 120_000);

  it('publishes no fingerprints with --no-fingerprints, and still delivers the events', async () => {
    const r4 = await runSensor([...sensorArgs(files.b, 's4'), '--no-fingerprints']);
    expect(r4, r4.stderr).toMatchObject({ code: 0 });
    const events = async (): Promise<number> => Number((await pool.query(`SELECT count(*)::int AS n FROM events WHERE sensor = 's4' AND type = 'stream_ended'`)).rows[0].n);
    await waitFor(async () => (await events()) === 1, 60_000, 'the events of s4 stored');
    await new Promise((r) => setTimeout(r, 2000));
    expect(await fingerprintRows('s4')).toBe(0);
    expect(await fingerprintRows('s2')).toBe(1);
  }, 120_000);
});
