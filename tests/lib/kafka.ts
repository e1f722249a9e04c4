/**
 * Kafka for tests: a real broker, started by the same script as
 * `npm run services:up` (deploy/kafka/kafka.sh), unless KAFKA_BROKERS names a
 * cluster. Tests that need it skip when it cannot be had, except under CI
 * (CI=true), where they must run and fail instead.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Kafka from 'node-rdkafka';
import type { Message } from 'node-rdkafka';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const KAFKA_SCRIPT = path.join(REPO_ROOT, 'deploy', 'kafka', 'kafka.sh');

/** The cluster tests use: KAFKA_BROKERS, else the local broker. */
export const BROKERS = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
/** True when the tests manage the broker themselves (and may stop and start it). */
export const LOCAL_BROKER = process.env.KAFKA_BROKERS === undefined;
export const IN_CI = process.env.CI === 'true' || process.env.CI === '1';

function firstBroker(): { host: string; port: number } {
  const [hp] = BROKERS.split(',');
  const i = hp!.lastIndexOf(':');
  return { host: hp!.slice(0, i), port: Number(hp!.slice(i + 1)) };
}

/** Does something accept TCP connections at the first broker address? */
export function brokerPortOpen(timeoutMs = 1000): Promise<boolean> {
  const { host, port } = firstBroker();
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** Run deploy/kafka/kafka.sh (start|stop|status); returns its exit status and output. */
export function kafkaScript(cmd: 'start' | 'stop' | 'status'): { status: number; output: string } {
  const r = spawnSync('bash', [KAFKA_SCRIPT, cmd], { encoding: 'utf8', timeout: 300_000 });
  return { status: r.status ?? -1, output: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

/**
 * Make sure a broker answers: start the local one with the services script
 * (idempotent) when KAFKA_BROKERS is not set. Returns null when ready, else
 * why not (the caller skips, or under CI fails).
 */
export async function ensureKafka(): Promise<string | null> {
  if (LOCAL_BROKER) {
    const r = kafkaScript('start');
    if (r.status !== 0) return `deploy/kafka/kafka.sh start failed (exit ${r.status}):\n${r.output.slice(-2000)}`;
  }
  if (!(await brokerPortOpen(3000))) return `no Kafka broker at ${BROKERS}`;
  return null;
}

/**
 * For describe.skipIf: resolves the broker once per test file. Outside CI a
 * missing broker skips with a message; under CI it throws (the tests fail).
 */
export async function kafkaUnavailable(): Promise<string | null> {
  const why = await ensureKafka();
  if (why === null) return null;
  if (IN_CI) throw new Error(`Kafka is required under CI: ${why}`);
  console.warn(`skipping Kafka tests: ${why} (run \`npm run services:up\`)`);
  return why;
}

/** A topic name of this test run, so runs never read each other's messages. */
export function testTopic(label: string): string {
  return `tapwatch.test.${label}.${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

/** Create topics (partitions each) and wait until they exist. */
export async function createTopics(topics: string[], partitions = 6): Promise<void> {
  const admin = Kafka.AdminClient.create({ 'metadata.broker.list': BROKERS, 'client.id': 'tapwatch-test-admin' });
  try {
    for (const topic of topics) {
      await new Promise<void>((resolve, reject) =>
        admin.createTopic({ topic, num_partitions: partitions, replication_factor: 1 }, 20_000, (err) =>
          err && err.code !== Kafka.CODES.ERRORS.ERR_TOPIC_ALREADY_EXISTS ? reject(err) : resolve(),
        ),
      );
    }
  } finally {
    admin.disconnect();
  }
}

export interface ConsumedMessage {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  value: string;
  headers: Record<string, string>;
}

/**
 * Read every message of the topics from the beginning until `done(messages)`
 * says so, or nothing new came for idleMs after at least `minMessages`, or
 * timeoutMs passed.
 */
export async function consumeAll(
  topics: string[],
  opts: { brokers?: string; timeoutMs?: number; idleMs?: number; minMessages?: number; done?: (msgs: ConsumedMessage[]) => boolean } = {},
): Promise<ConsumedMessage[]> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const idleMs = opts.idleMs ?? 3000;
  const consumer = new Kafka.KafkaConsumer(
    {
      'metadata.broker.list': opts.brokers ?? BROKERS,
      'group.id': `tapwatch-test-${randomBytes(4).toString('hex')}`,
      'enable.auto.commit': false,
      'client.id': 'tapwatch-test-consumer',
    },
    { 'auto.offset.reset': 'earliest' },
  );
  await new Promise<void>((resolve, reject) => consumer.connect({ timeout: 20_000 }, (err) => (err ? reject(err) : resolve())));
  const out: ConsumedMessage[] = [];
  try {
    consumer.subscribe(topics);
    const start = Date.now();
    let lastNew = Date.now();
    while (Date.now() - start < timeoutMs) {
      const batch = await new Promise<Message[]>((resolve, reject) => consumer.consume(500, (err, msgs) => (err ? reject(err) : resolve(msgs))));
      for (const m of batch) {
        const headers: Record<string, string> = {};
        for (const h of m.headers ?? []) for (const [k, v] of Object.entries(h)) headers[k] = v.toString();
        out.push({
          topic: m.topic,
          partition: m.partition,
          offset: m.offset,
          key: m.key === undefined || m.key === null ? null : m.key.toString(),
          value: m.value!.toString(),
          headers,
        });
      }
      if (batch.length > 0) lastNew = Date.now();
      if (opts.done?.(out)) break;
      if (opts.done === undefined && out.length >= (opts.minMessages ?? 1) && Date.now() - lastNew > idleMs) break;
    }
  } finally {
    await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
  }
  return out;
}
