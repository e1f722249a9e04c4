/**
 * Pipeline benchmark: events/s from the sensor's Kafka output
 * (sensor/src/output/kafka-sink.ts) through the broker and the collector
 * (consumer group, validation, one transaction per batch, offset commit) into
 * PostgreSQL, and the latency from the event's creation to its committed row
 * (p50/p95/p99). Numbers are printed against the targets; the run never fails
 * on them.
 *
 *   npm run bench:pipeline       # = node dist/tests/bench/bench-pipeline.js
 *   node dist/tests/bench/bench-pipeline.js [--rate EVENTS_PER_S] [--seconds S] [--batch N] [--concurrency N]
 *        [--reference-events N] [--ingest-only] [--producer-opt K=V]... [--consumer-opt K=V]...
 *
 * The sensor side (event creation + KafkaSink) runs in a child process, as
 * the sensor does in a deployment: it must not share the collector's event
 * loop. Every run first measures a reference, the collector's ingest alone
 * (decode, validate, store; no broker) at full speed on the same machine, so
 * a result on a loaded machine can be read against what PostgreSQL and this
 * CPU manage at that moment; the load average is printed too, and the CPU
 * time each process (sensor, broker, collector, PostgreSQL backends) spent
 * per event, which depends far less on the load. After the loaded run,
 * findings are sent alone and then as a slow trickle (PROBES): the latency of
 * events with nothing to batch with (linger, fetch and batch waits).
 * The collector runs with its default settings except batchSize (--batch)
 * and storeConcurrency (--concurrency).
 *
 * --ingest-only measures the collector's ingest alone at the offered rate.
 *
 * Targets (issue 4): >= 20,000 events/s sustained, p99 < 1 s.
 * Needs PostgreSQL (DATABASE_URL's server, database tapwatch_bench is created)
 * and, except with --ingest-only, a Kafka broker (KAFKA_BROKERS, default
 * 127.0.0.1:9092; `npm run services:up`).
 */
import { parseArgs } from 'node:util';
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
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
/**
 * Findings sent after the loaded run, with nothing else on the way: alone
 * (any linger, fetch or batch wait shows in full), then as a trickle whose
 * gaps are shorter than the collector's batchWaitMs (default 100 ms).
 */
const PROBES = [
  { tag: 'single', count: 5, gapMs: 300 },
  { tag: 'trickle', count: 50, gapMs: 40 },
] as const;
type ProbeTag = (typeof PROBES)[number]['tag'];

const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '25000' },
    seconds: { type: 'string', default: '20' },
    batch: { type: 'string', default: '5000' },
    concurrency: { type: 'string', default: '2' },
    'reference-events': { type: 'string', default: '100000' },
    'ingest-only': { type: 'boolean', default: false },
    // librdkafka settings for the sensor's producer / the collector's consumer (experiments), K=V, repeatable.
    'producer-opt': { type: 'string', multiple: true, default: [] },
    'consumer-opt': { type: 'string', multiple: true, default: [] },
    // Internal: the sensor-side child process.
    producer: { type: 'string' },
  },
});
const rate = Number(args.rate);
const seconds = Number(args.seconds);
const batchSize = Number(args.batch);
const concurrency = Number(args.concurrency);
const referenceEvents = Number(args['reference-events']);
const kv = (list: string[]): Record<string, string> => Object.fromEntries(list.map((x) => [x.slice(0, x.indexOf('=')), x.slice(x.indexOf('=') + 1)]));
const producerOpts = kv(args['producer-opt']);
const consumerOpts = kv(args['consumer-opt']);
const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
const baseUrl = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/tapwatch');
baseUrl.pathname = '/tapwatch_bench';
const runId = args.producer ? JSON.parse(args.producer).runId as string : randomBytes(4).toString('hex');

/** A realistic mix: per call 1 call_started, 2 call_updated, 2 stream_started, 2 stream_ended, 1 call_ended; 1 finding per 50 calls. */
function makeEvent(i: number, nowSec: number): TapwatchEvent {
  const call = Math.floor(i / 8);
  const callId = `bench-${runId}-call-${call}`;
  const sensor = `bench-sensor-${call % 4}`;
  const id = `${runId}-${i}`;
  // Literals, no `{ ...base }`: V8 builds a spread object with this many
  // properties ~25x slower (measured ~19 us vs 0.7 us per event), which made
  // the generator, not the pipeline, the bottleneck. The JSON is the same.
  switch (i % 8) {
    case 0:
      if (call % 50 === 0) {
        return {
          v: 1, id, ts: nowSec, sensor, type: 'duplicate_stream', findingId: `f-${id}`, severity: 'critical', confidence: 0.9, callId, ssrc: call >>> 0, detectedAt: nowSec,
          firstSeen: nowSec, heuristic: { id: 'dup.exact', version: 1 }, allowlisted: null, evidenceIncomplete: false, summary: 'bench copy',
          evidence: { copyPackets: 100 }, copyTo: '192.0.2.1:4000', copyToIp: '192.0.2.1', mode: 'exact', declared: false,
        };
      }
      return { v: 1, id, ts: nowSec, sensor, type: 'call_started', callId, from: 'sip:a@x', to: 'sip:b@y', transport: 'udp', src: '10.0.0.1:5060', dst: '10.0.0.2:5060' };
    case 1:
    case 2:
      return { v: 1, id, ts: nowSec, sensor, type: 'call_updated', callId, state: 'confirmed', reason: i % 8 === 1 ? 'provisional' : 'answered', statusCode: 200, media: [] };
    case 3:
    case 4:
      return {
        v: 1, id, ts: nowSec, sensor, type: 'stream_started', streamId: `${callId}-${i % 8}`, ssrc: (call * 2 + (i % 8)) >>> 0, src: '10.0.0.1:4000', dst: '10.0.0.2:4000',
        callId, payloadType: 8, encrypted: false, classifiedBy: 'sdp', transport: 'udp', tunnels: [], ttl: 64,
      };
    case 5:
    case 6:
      return {
        v: 1, id, ts: nowSec, sensor, type: 'stream_ended', streamId: `${callId}-${(i % 8) - 2}`, ssrc: (call * 2 + (i % 8) - 2) >>> 0, src: '10.0.0.1:4000',
        dst: '10.0.0.2:4000', packets: 3000, bytes: 516000, lost: 0, duplicates: 0, reordered: 0, callId, payloadTypes: [8], encrypted: false,
        classifiedBy: 'sdp', transport: 'udp', firstTs: nowSec - 60, lastTs: nowSec, jitterMs: 1, maxJitterMs: 3, ttl: 64, reason: 'call_ended',
      };
    default:
      return {
        v: 1, id, ts: nowSec, sensor, type: 'call_ended', callId, state: 'terminated', reason: 'bye', finalStatus: 200, startTs: nowSec - 60, answerTs: nowSec - 59,
        durationSec: 60, sipMessages: 6,
      };
  }
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Drops earlier runs' schemas, so the database does not grow run after run. */
async function dropOldSchemas(): Promise<void> {
  await ensureDatabase(baseUrl.toString());
  const admin = new pg.Client({ connectionString: baseUrl.toString() });
  await admin.connect();
  const old = await admin.query<{ nspname: string }>(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'bench\\_%'`);
  for (const r of old.rows) await admin.query(`DROP SCHEMA ${r.nspname} CASCADE`);
  await admin.end();
}

/** A pool on a new, migrated schema of its own. */
async function freshPool(schema: string): Promise<pg.Pool> {
  const admin = new pg.Client({ connectionString: baseUrl.toString() });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.end();
  // idleTimeoutMillis 0: the backends stay for the whole run, so their CPU time can be read.
  const pool = new pg.Pool({ connectionString: baseUrl.toString(), options: `-c search_path=${schema}`, max: 4, idleTimeoutMillis: 0 });
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
  /** Latencies of the probe events (ids `${LONE_PREFIX}${tag}-...`), by probe. */
  lone: Map<string, number[]>;
}

const newTally = (n: number): Tally => ({ stored: 0, latencies: new Float64Array(n), firstStoredAt: 0, lastStoredAt: 0, progress: [], lone: new Map() });
const LONE_PREFIX = 'lone-';

function tallyBatch(t: Tally, o: BatchOutcome, startedMs?: number): void {
  const now = Date.now();
  if (t.stored === 0) t.firstStoredAt = now;
  for (const e of o.inserted) {
    if (e.id.startsWith(LONE_PREFIX)) {
      const tag = e.id.slice(LONE_PREFIX.length, e.id.indexOf('-', LONE_PREFIX.length));
      const list = t.lone.get(tag) ?? [];
      list.push(now - e.ts * 1000);
      t.lone.set(tag, list);
      continue;
    }
    if (t.stored < t.latencies.length) t.latencies[t.stored] = startedMs === undefined ? now - e.ts * 1000 : now - startedMs;
    t.stored++;
  }
  t.lastStoredAt = now;
  t.progress.push([now, t.stored]);
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux); null where unreadable. */
function procCpuSec(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in USER_HZ (100 on Linux)
  } catch {
    return null;
  }
}

/** The broker's pid when it listens on this machine (ss), for its CPU share; null otherwise. */
function brokerPid(): number | null {
  try {
    const port = brokers.split(',')[0]!.split(':').pop();
    const out = execFileSync('ss', ['-ltnpH', `sport = :${port}`], { encoding: 'utf8', timeout: 2000 });
    const m = /pid=(\d+)/.exec(out);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** The PostgreSQL backends serving the bench database (local server only). */
async function backendPids(pool: pg.Pool): Promise<number[]> {
  const r = await pool.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`);
  return r.rows.map((x) => x.pid);
}

/** CPU per event of each stage, from the CPU seconds each process used during the run. */
class CpuMeter {
  private readonly start = new Map<string, number>();
  constructor(private readonly pids: Map<string, number[]>) {
    for (const [name, list] of pids) this.start.set(name, this.sum(list));
  }
  private sum(list: number[]): number {
    let t = 0;
    for (const pid of list) t += procCpuSec(pid) ?? 0;
    return t;
  }
  /** One line per stage: us of CPU per event. */
  lines(events: number): string[] {
    const out: string[] = [];
    let total = 0;
    for (const [name, list] of this.pids) {
      if (list.length === 0 || procCpuSec(list[0]!) === null) continue;
      const us = ((this.sum(list) - this.start.get(name)!) * 1e6) / Math.max(1, events);
      total += us;
      out.push(`${name} ${us.toFixed(0)}`);
    }
    return [
      `  CPU per event:       ${out.join(', ')} us; total ${total.toFixed(0)} us = ${(2e6 / Math.max(1, total)).toFixed(0)} events/s if 2 idle cores did nothing else`,
    ];
  }
}

const fmtLoad = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');

async function countRows(pool: pg.Pool): Promise<{ rows: number; distinct: number }> {
  const r = await pool.query<{ rows: string; distinct: string }>(`SELECT count(*) AS rows, count(DISTINCT id) AS distinct FROM events WHERE id NOT LIKE '${LONE_PREFIX}%'`);
  return { rows: Number(r.rows[0]!.rows), distinct: Number(r.rows[0]!.distinct) };
}

function report(mode: string, total: number, t: Tally, produceStart: number, produceEnd: number, extra: string[]): void {
  const lat = t.latencies.subarray(0, Math.min(t.stored, t.latencies.length)).slice().sort();
  const elapsed = (t.lastStoredAt - produceStart) / 1000;
  // Sustained: the rate over the middle of the run (after a 2 s warm-up, until production ended).
  const from = t.progress.find(([ms]) => ms >= produceStart + 2000);
  const until = [...t.progress].reverse().find(([ms]) => ms <= produceEnd) ?? t.progress[t.progress.length - 1];
  const sustained = from && until && until[0] > from[0] ? ((until[1] - from[1]) * 1000) / (until[0] - from[0]) : total / elapsed;
  const p99 = percentile(lat, 99);
  const ok = (b: boolean): string => (b ? 'ok' : 'BELOW TARGET');
  process.stdout.write(
    [
      `bench-pipeline (${mode})`,
      `  events stored:       ${t.stored} of ${total}`,
      `  offered rate:        ${rate} events/s for ${seconds} s`,
      `  overall:             ${(t.stored / elapsed).toFixed(0)} events/s (${elapsed.toFixed(2)} s from first produce to last committed row)`,
      `  sustained:           ${sustained.toFixed(0)} events/s   target >= ${TARGET_RATE}: ${ok(sustained >= TARGET_RATE)}`,
      `  latency p50:         ${percentile(lat, 50).toFixed(0)} ms`,
      `  latency p95:         ${percentile(lat, 95).toFixed(0)} ms`,
      `  latency p99:         ${p99.toFixed(0)} ms   target < ${TARGET_P99_MS} ms: ${ok(p99 < TARGET_P99_MS)}`,
      `  latency max:         ${lat[lat.length - 1]?.toFixed(0) ?? 'n/a'} ms`,
      `  batches:             ${t.progress.length} (${(t.stored / Math.max(1, t.progress.length)).toFixed(0)} events per batch on average)`,
      ...extra,
      '',
    ].join('\n'),
  );
}

/** The collector's ingest alone, at full speed: messages built beforehand, handed to processBatch, no broker. */
async function referenceIngest(pool: pg.Pool, n: number): Promise<{ rate: number; cpu: string[] }> {
  const validators = { events: compileEventValidator(), fingerprints: compileFingerprintValidator() };
  const dlq = { send: async () => undefined };
  const nowSec = Date.now() / 1000;
  const messages: InMessage[] = [];
  for (let i = 0; i < n; i++) messages.push({ topic: 'bench', partition: Math.floor(i / 8) % 6, offset: i, key: null, value: Buffer.from(JSON.stringify(makeEvent(i, nowSec))) });
  await Promise.all(Array.from({ length: concurrency }, () => pool.query('SELECT 1')));
  const meter = new CpuMeter(new Map([['collector', [process.pid]], ['postgres', await backendPids(pool)]]));
  const start = performance.now();
  for (let i = 0; i < n; i += batchSize) {
    await processBatch(messages.slice(i, i + batchSize), { pool, validators, dlq, fingerprintWindowSec: 300, concurrency });
  }
  return { rate: (n * 1000) / (performance.now() - start), cpu: meter.lines(n) };
}

/** Messages between the bench and its sensor-side child. */
type FromProducer = { kind: 'ready' } | { kind: 'produced'; produced: number; produceStart: number; produceEnd: number } | { kind: 'flushed' } | { kind: 'lone-sent' } | { kind: 'closed' };
type ToProducer = { kind: 'go' } | { kind: 'lone'; tag: ProbeTag } | { kind: 'close' };

/**
 * The sensor side, in its own process: creates events at the offered rate
 * (stamped with their creation time) and writes them to a KafkaSink with the
 * sensor's producer settings.
 */
async function producerMain(opts: { runId: string; topics: { findings: string; telemetry: string }; rate: number; seconds: number }): Promise<void> {
  // The producer options come through argv too (parsed above, in this process).
  const send = (m: FromProducer): void => void process.send!(m);
  const next = (): Promise<ToProducer> => new Promise((res) => process.once('message', (m) => res(m as ToProducer)));
  const sink = new KafkaSink({ brokers, topics: opts.topics, clientId: 'tapwatch-bench-sensor', librdkafka: producerOpts });
  send({ kind: 'ready' });
  await next(); // go
  const total = opts.rate * opts.seconds;
  const produceStart = Date.now();
  let produced = 0;
  const tickMs = 10;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const due = Math.min(total, Math.floor(((Date.now() - produceStart) / 1000) * opts.rate));
      const nowSec = Date.now() / 1000;
      while (produced < due) sink.write(makeEvent(produced++, nowSec));
      if (produced >= total) resolve();
      else setTimeout(tick, tickMs);
    };
    tick();
  });
  send({ kind: 'produced', produced, produceStart, produceEnd: Date.now() });
  await sink.flush();
  send({ kind: 'flushed' });
  for (;;) {
    const m = await next();
    if (m.kind === 'lone') {
      const probe = PROBES.find((p) => p.tag === m.tag)!;
      for (let i = 0; i < probe.count; i++) {
        const e = makeEvent(0, Date.now() / 1000); // a duplicate_stream finding
        const id = `${LONE_PREFIX}${probe.tag}-${opts.runId}-${i}`;
        sink.write({ ...e, id, findingId: `f-${id}` } as TapwatchEvent);
        await new Promise((r) => setTimeout(r, probe.gapMs));
      }
      send({ kind: 'lone-sent' });
    } else if (m.kind === 'close') {
      await sink.close();
      send({ kind: 'closed' });
      process.disconnect();
      return;
    }
  }
}

function waitFor<K extends FromProducer['kind']>(child: ChildProcess, kind: K, timeoutMs: number): Promise<Extract<FromProducer, { kind: K }>> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`producer: no '${kind}' within ${timeoutMs} ms`)), timeoutMs);
    const on = (m: FromProducer): void => {
      if (m.kind !== kind) return;
      clearTimeout(t);
      child.off('message', on);
      resolve(m as Extract<FromProducer, { kind: K }>);
    };
    child.on('message', on);
  });
}

/** The whole path: sensor KafkaSink (child process) -> broker -> collector consumer -> PostgreSQL. */
async function benchKafka(pool: pg.Pool, reference: string[]): Promise<void> {
  const topics = { findings: `tapwatch.bench.${runId}.findings`, telemetry: `tapwatch.bench.${runId}.telemetry`, fingerprints: `tapwatch.bench.${runId}.fp`, dlq: `tapwatch.bench.${runId}.dlq` };
  const admin = Kafka.AdminClient.create({ 'metadata.broker.list': brokers });
  for (const [topic, n] of [[topics.findings, 6], [topics.telemetry, 6], [topics.fingerprints, 6], [topics.dlq, 1]] as const) {
    await new Promise<void>((res, rej) => admin.createTopic({ topic, num_partitions: n, replication_factor: 1 }, 20_000, (err) => (err ? rej(err) : res())));
  }
  admin.disconnect();

  const total = rate * seconds;
  const tally = newTally(total);
  const config = { ...defaultConfig(), kafkaBrokers: brokers, groupId: `bench-${runId}`, topics, batchSize, storeConcurrency: concurrency, apiToken: 'bench', retentionDays: 0 };
  const app = await build({ config, pool, kafka: true, migrate: false, defaultMetrics: false, retention: false, kafkaConsumerOverrides: consumerOpts, onBatchStored: (o) => tallyBatch(tally, o) });
  await app.ready();

  const child = fork(fileURLToPath(import.meta.url), ['--producer', JSON.stringify({ runId, topics: { findings: topics.findings, telemetry: topics.telemetry }, rate, seconds }), ...args['producer-opt'].map((o) => `--producer-opt=${o}`)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  try {
    await waitFor(child, 'ready', 30_000);
    const load0 = fmtLoad();
    // Open the pool's connections now, so that all the backends that will store are known.
    await Promise.all(Array.from({ length: concurrency }, () => pool.query('SELECT 1')));
    const broker = brokerPid();
    const meter = new CpuMeter(
      new Map([
        ['sensor', [child.pid!]],
        ['broker', broker === null ? [] : [broker]],
        ['collector', [process.pid]],
        ['postgres', await backendPids(pool)],
      ]),
    );
    child.send({ kind: 'go' } satisfies ToProducer);
    const { produceStart, produceEnd } = await waitFor(child, 'produced', (seconds + 120) * 1000);
    // At most 60 s more for the backlog: a run stays within ~3 minutes.
    const deadline = Date.now() + 60_000;
    while (tally.stored < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const cpuLines = meter.lines(tally.stored);
    const load1 = fmtLoad();
    const rows = await countRows(pool);

    const probeLines: string[] = [];
    for (const probe of PROBES) {
      child.send({ kind: 'lone', tag: probe.tag } satisfies ToProducer);
      await waitFor(child, 'lone-sent', 30_000);
      const probeDeadline = Date.now() + 10_000;
      while ((tally.lone.get(probe.tag)?.length ?? 0) < probe.count && Date.now() < probeDeadline) await new Promise((r) => setTimeout(r, 20));
      const got = (tally.lone.get(probe.tag) ?? []).slice().sort((a, b) => a - b);
      const worst = got[got.length - 1] ?? Infinity;
      const shown = got.length <= 5 ? got.map((x) => x.toFixed(0)).join(', ') : `p50 ${got[Math.floor(got.length / 2)]!.toFixed(0)}, max ${worst.toFixed(0)}`;
      probeLines.push(
        `  ${`${probe.tag} events:`.padEnd(21)}${got.length} of ${probe.count} findings sent ${probe.gapMs} ms apart: latency ${shown} ms   target < ${TARGET_P99_MS} ms: ${got.length === probe.count && worst < TARGET_P99_MS ? 'ok' : 'BELOW TARGET'}`,
      );
    }

    report('sensor KafkaSink (child process) -> Kafka -> collector -> PostgreSQL', total, tally, produceStart, produceEnd, [
      `  rows in events:      ${rows.rows} (${rows.distinct} distinct ids)   = events sent: ${rows.rows === total && rows.distinct === total ? 'yes' : 'NO'}`,
      ...probeLines,
      ...cpuLines,
      `  load average:        ${load0} before, ${load1} after (2 cores; other work on the machine slows every stage)`,
      ...reference,
    ]);
    child.send({ kind: 'close' } satisfies ToProducer);
    await waitFor(child, 'closed', 40_000).catch(() => undefined);
  } finally {
    if (child.exitCode === null) child.kill();
    await app.close();
    // This run's topics go, so that runs do not pile up in the broker's log folder.
    const cleanup = Kafka.AdminClient.create({ 'metadata.broker.list': brokers });
    for (const topic of Object.values(topics)) {
      await new Promise<void>((res) => cleanup.deleteTopic(topic, 10_000, () => res()));
    }
    cleanup.disconnect();
  }
}

/** The collector's ingest alone at the offered rate: messages handed to processBatch, no broker. */
async function benchIngestOnly(pool: pg.Pool, reference: string[]): Promise<void> {
  const total = rate * seconds;
  const tally = newTally(total);
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
  const rows = await countRows(pool);
  report('ingest only: decode + validate + PostgreSQL transaction, no Kafka; latency = one batch', total, tally, start, Date.now(), [
    `  rows in events:      ${rows.rows} (${rows.distinct} distinct ids)   = events sent: ${rows.rows === total && rows.distinct === total ? 'yes' : 'NO'}`,
    `  load average:        ${fmtLoad()}`,
    ...reference,
  ]);
}

if (args.producer) {
  await producerMain(JSON.parse(args.producer));
} else {
  await dropOldSchemas();
  const refPool = await freshPool(`bench_${runId}_ref`);
  let reference: string[];
  try {
    const load = fmtLoad();
    const ref = await referenceIngest(refPool, referenceEvents);
    reference = [
      `  reference:           ingest alone (decode + validate + store, no broker, batches of ${batchSize}) ${ref.rate.toFixed(0)} events/s over ${referenceEvents} events, load ${load};`,
      `                       the end-to-end rate can not exceed it, and on a busy machine both drop together`,
      ...ref.cpu.map((l) => l.replace('CPU per event:      ', 'reference CPU:      ')),
    ];
  } finally {
    await refPool.end();
  }
  const pool = await freshPool(`bench_${runId}`);
  try {
    if (args['ingest-only']) await benchIngestOnly(pool, reference);
    else await benchKafka(pool, reference);
  } finally {
    await pool.end();
  }
}
