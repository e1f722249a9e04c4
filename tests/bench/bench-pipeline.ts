/**
 * Pipeline benchmark: events/s from the sensor's Kafka output
 * (sensor/src/output/kafka-sink.ts) through the broker and the collector
 * (consumer group, validation, one transaction per batch, offset commit) into
 * PostgreSQL, and the latency from produce to committed row (p50/p99).
 * Numbers are printed against the targets; the run never fails on them.
 *
 *   npm run bench:pipeline       # = node dist/tests/bench/bench-pipeline.js
 *   node dist/tests/bench/bench-pipeline.js [--rate EVENTS_PER_S] [--seconds S] [--batch N] [--concurrency N] [--ingest-only]
 *
 * --ingest-only measures the collector's ingest alone (decode, validate,
 * store) with no broker: the PostgreSQL side of the budget.
 *
 * Targets (issue 4): >= 20,000 events/s sustained, p99 < 1 s.
 * Needs PostgreSQL (DATABASE_URL's server, database tapwatch_bench is created)
 * and, except with --ingest-only, a Kafka broker (KAFKA_BROKERS, default
 * 127.0.0.1:9092; `npm run services:up`).
 */
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import Kafka from 'node-rdkafka';
import pg from 'pg';
import { build } from '../../collector/src/app.js';
import { defaultConfig } from '../../collector/src/config.js';
import { compileFingerprintValidator } from '../../collector/src/ingest/fingerprint.js';
import type { InMessage } from '../../collector/src/ingest/message.js';
import { processBatch, type BatchOutcome } from '../../collector/src/ingest/pipeline.js';
import { ensureDatabase } from '../../collector/src/store/database.js';
import { migrate } from '../../collector/src/store/migrate.js';
import { compileEventValidator } from '../../sensor/src/events/schemas.js';
import type { TapwatchEvent } from '../../sensor/src/events/types.js';
import { KafkaSink } from '../../sensor/src/output/kafka-sink.js';

const TARGET_RATE = 20_000;
const TARGET_P99_MS = 1000;

const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '25000' },
    seconds: { type: 'string', default: '20' },
    batch: { type: 'string', default: '5000' },
    concurrency: { type: 'string', default: '2' },
    'ingest-only': { type: 'boolean', default: false },
  },
});
const rate = Number(args.rate);
const seconds = Number(args.seconds);
const batchSize = Number(args.batch);
const concurrency = Number(args.concurrency);
const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
const baseUrl = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/tapwatch');
baseUrl.pathname = '/tapwatch_bench';
const runId = randomBytes(4).toString('hex');

/** A realistic mix: per call 1 call_started, 2 call_updated, 2 stream_started, 2 stream_ended, 1 call_ended; 1 finding per 50 calls. */
function makeEvent(i: number, nowSec: number): TapwatchEvent {
  const call = Math.floor(i / 8);
  const callId = `bench-${runId}-call-${call}`;
  const sensor = `bench-sensor-${call % 4}`;
  const id = `${runId}-${i}`;
  const base = { v: 1 as const, id, ts: nowSec, sensor };
  switch (i % 8) {
    case 0:
      if (call % 50 === 0) {
        return {
          ...base, type: 'duplicate_stream', findingId: `f-${id}`, severity: 'critical', confidence: 0.9, callId, ssrc: call >>> 0, detectedAt: nowSec,
          firstSeen: nowSec, heuristic: { id: 'dup.exact', version: 1 }, allowlisted: null, evidenceIncomplete: false, summary: 'bench copy',
          evidence: { copyPackets: 100 }, copyTo: '192.0.2.1:4000', copyToIp: '192.0.2.1', mode: 'exact', declared: false,
        };
      }
      return { ...base, type: 'call_started', callId, from: 'sip:a@x', to: 'sip:b@y', transport: 'udp', src: '10.0.0.1:5060', dst: '10.0.0.2:5060' };
    case 1:
    case 2:
      return { ...base, type: 'call_updated', callId, state: 'confirmed', reason: i % 8 === 1 ? 'provisional' : 'answered', statusCode: 200, media: [] };
    case 3:
    case 4:
      return {
        ...base, type: 'stream_started', streamId: `${callId}-${i % 8}`, ssrc: (call * 2 + (i % 8)) >>> 0, src: '10.0.0.1:4000', dst: '10.0.0.2:4000',
        callId, payloadType: 8, encrypted: false, classifiedBy: 'sdp', transport: 'udp', tunnels: [], ttl: 64,
      };
    case 5:
    case 6:
      return {
        ...base, type: 'stream_ended', streamId: `${callId}-${(i % 8) - 2}`, ssrc: (call * 2 + (i % 8) - 2) >>> 0, src: '10.0.0.1:4000',
        dst: '10.0.0.2:4000', packets: 3000, bytes: 516000, lost: 0, duplicates: 0, reordered: 0, callId, payloadTypes: [8], encrypted: false,
        classifiedBy: 'sdp', transport: 'udp', firstTs: nowSec - 60, lastTs: nowSec, jitterMs: 1, maxJitterMs: 3, ttl: 64, reason: 'call_ended',
      };
    default:
      return {
        ...base, type: 'call_ended', callId, state: 'terminated', reason: 'bye', finalStatus: 200, startTs: nowSec - 60, answerTs: nowSec - 59,
        durationSec: 60, sipMessages: 6,
      };
  }
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function freshPool(): Promise<pg.Pool> {
  await ensureDatabase(baseUrl.toString());
  const schema = `bench_${runId}`;
  const admin = new pg.Client({ connectionString: baseUrl.toString() });
  await admin.connect();
  // Earlier runs' schemas are dropped so the database does not grow run after run.
  const old = await admin.query<{ nspname: string }>(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'bench\\_%'`);
  for (const r of old.rows) await admin.query(`DROP SCHEMA ${r.nspname} CASCADE`);
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.end();
  const pool = new pg.Pool({ connectionString: baseUrl.toString(), options: `-c search_path=${schema}`, max: 4 });
  await migrate(pool);
  return pool;
}

interface Tally {
  stored: number;
  latencies: Float64Array;
  firstStoredAt: number;
  lastStoredAt: number;
  /** [wall ms, stored so far] once per batch, for the sustained rate. */
  progress: Array<[number, number]>;
}

function tallyBatch(t: Tally, o: BatchOutcome): void {
  const now = Date.now();
  if (t.stored === 0) t.firstStoredAt = now;
  for (const e of o.inserted) {
    if (t.stored < t.latencies.length) t.latencies[t.stored] = now - e.ts * 1000;
    t.stored++;
  }
  t.lastStoredAt = now;
  t.progress.push([now, t.stored]);
}

function report(mode: string, total: number, t: Tally, produceStart: number, produceEnd: number): void {
  const lat = t.latencies.subarray(0, Math.min(t.stored, t.latencies.length)).slice().sort();
  const elapsed = (t.lastStoredAt - produceStart) / 1000;
  // Sustained: the rate over the middle of the run (after a 2 s warm-up, until production ended).
  const from = t.progress.find(([ms]) => ms >= produceStart + 2000);
  const until = [...t.progress].reverse().find(([ms]) => ms <= produceEnd) ?? t.progress[t.progress.length - 1];
  const sustained = from && until && until[0] > from[0] ? ((until[1] - from[1]) * 1000) / (until[0] - from[0]) : total / elapsed;
  const p50 = percentile(lat, 50);
  const p99 = percentile(lat, 99);
  const ok = (b: boolean): string => (b ? 'ok' : 'BELOW TARGET');
  process.stdout.write(
    [
      `bench-pipeline (${mode})`,
      `  events stored:       ${t.stored} of ${total}`,
      `  offered rate:        ${rate} events/s for ${seconds} s`,
      `  overall:             ${(t.stored / elapsed).toFixed(0)} events/s (${elapsed.toFixed(2)} s from first produce to last committed row)`,
      `  sustained:           ${sustained.toFixed(0)} events/s   target >= ${TARGET_RATE}: ${ok(sustained >= TARGET_RATE)}`,
      `  latency p50:         ${p50.toFixed(0)} ms`,
      `  latency p99:         ${p99.toFixed(0)} ms   target < ${TARGET_P99_MS} ms: ${ok(p99 < TARGET_P99_MS)}`,
      `  latency max:         ${lat[lat.length - 1]?.toFixed(0) ?? 'n/a'} ms`,
      '',
    ].join('\n'),
  );
}

/** The whole path: sensor KafkaSink -> broker -> collector consumer -> PostgreSQL. */
async function benchKafka(pool: pg.Pool): Promise<void> {
  const topics = { findings: `tapwatch.bench.${runId}.findings`, telemetry: `tapwatch.bench.${runId}.telemetry`, fingerprints: `tapwatch.bench.${runId}.fp`, dlq: `tapwatch.bench.${runId}.dlq` };
  const admin = Kafka.AdminClient.create({ 'metadata.broker.list': brokers });
  for (const [topic, n] of [[topics.findings, 6], [topics.telemetry, 6], [topics.fingerprints, 6], [topics.dlq, 1]] as const) {
    await new Promise<void>((res, rej) => admin.createTopic({ topic, num_partitions: n, replication_factor: 1 }, 20_000, (err) => (err ? rej(err) : res())));
  }
  admin.disconnect();

  const total = rate * seconds;
  const tally: Tally = { stored: 0, latencies: new Float64Array(total), firstStoredAt: 0, lastStoredAt: 0, progress: [] };
  const config = { ...defaultConfig(), kafkaBrokers: brokers, groupId: `bench-${runId}`, topics, batchSize, batchWaitMs: 20, storeConcurrency: concurrency, apiToken: 'bench', retentionDays: 0 };
  const app = await build({ config, pool, kafka: true, migrate: false, defaultMetrics: false, retention: false, onBatchStored: (o) => tallyBatch(tally, o) });
  await app.ready();

  const sink = new KafkaSink({ brokers, topics: { findings: topics.findings, telemetry: topics.telemetry }, clientId: 'tapwatch-bench-sensor' });
  const produceStart = Date.now();
  let produced = 0;
  const tickMs = 10;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const due = Math.min(total, Math.floor(((Date.now() - produceStart) / 1000) * rate));
      const nowSec = Date.now() / 1000;
      while (produced < due) sink.write(makeEvent(produced++, nowSec));
      if (produced >= total) resolve();
      else setTimeout(tick, tickMs);
    };
    tick();
  });
  const produceEnd = Date.now();
  await sink.flush();
  const deadline = Date.now() + 120_000;
  while (tally.stored < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  report('sensor KafkaSink -> Kafka -> collector -> PostgreSQL', total, tally, produceStart, produceEnd);
  await sink.close();
  await app.close();
}

/** The collector's ingest alone: messages handed to processBatch, no broker. */
async function benchIngestOnly(pool: pg.Pool): Promise<void> {
  const total = rate * seconds;
  const tally: Tally = { stored: 0, latencies: new Float64Array(total), firstStoredAt: 0, lastStoredAt: 0, progress: [] };
  const validators = { events: compileEventValidator(), fingerprints: compileFingerprintValidator() };
  const dlq = { send: async () => undefined };
  const start = Date.now();
  let offset = 0;
  while (offset < total) {
    const n = Math.min(batchSize, total - offset);
    const nowSec = Date.now() / 1000;
    const messages: InMessage[] = [];
    for (let i = 0; i < n; i++, offset++) {
      // Six partitions keyed by call, as the sensor's producer spreads them.
      const partition = Math.floor(offset / 8) % 6;
      messages.push({ topic: 'bench', partition, offset, key: null, value: Buffer.from(JSON.stringify(makeEvent(offset, nowSec))) });
    }
    const out = await processBatch(messages, { pool, validators, dlq, fingerprintWindowSec: 300, concurrency });
    tallyBatch(tally, out);
  }
  report('ingest only: decode + validate + PostgreSQL transaction, no Kafka; latency = one batch', total, tally, start, Date.now());
}

const pool = await freshPool();
try {
  if (args['ingest-only']) await benchIngestOnly(pool);
  else await benchKafka(pool);
} finally {
  await pool.end();
}
