/**
 * Direct Slack notification (collector/src/notify/) against a local HTTP
 * receiver on 127.0.0.1 standing in for Slack's incoming webhook: it is real
 * HTTP, records every request and answers as told (200, 500, 400, 429, or
 * not at all). Covers the message text, privacy, severity filter, dedupe by
 * findingId, the rate limit's "N more findings" summary, retries, that
 * notify() never waits for Slack, the config switch, and one end-to-end run
 * through Kafka, the real ingest path and PostgreSQL (database tapwatch_test_slack).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Kafka from 'node-rdkafka';
import pg from 'pg';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { build } from '../../collector/src/app.js';
import { ConfigError, loadConfig } from '../../collector/src/config.js';
import { METRICS } from '../../collector/src/names.js';
import { SlackNotifier, type SlackNotifierOptions } from '../../collector/src/notify/slack.js';
import { escapeMrkdwn, findingMessage } from '../../collector/src/notify/slack-message.js';
import { ensureDatabase } from '../../collector/src/store/database.js';
import type { FindingEvent, TapwatchEvent } from '../../sensor/src/events/types.js';
import { keyFor } from '../../sensor/src/output/topics.js';
import { BROKERS, createTopics, kafkaUnavailable, testTopic } from '../lib/kafka.js';
import { callStarted, duplicateFinding, keyFinding, relayFinding } from './fixtures.js';
import { testConfig } from './helpers.js';

interface Received {
  at: number;
  body: { text: string; blocks?: Array<{ type: string; text: { type: string; text: string } }> };
  raw: string;
}

/** The stand-in for Slack. `answer` decides each response (default 200 "ok", as Slack answers). */
class SlackReceiver {
  readonly received: Received[] = [];
  answer: (n: number, res: ServerResponse) => void = (_n, res) => res.end('ok');
  private server: Server | null = null;
  private readonly hanging: ServerResponse[] = [];
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req: IncomingMessage, res: ServerResponse) => {
      let raw = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (raw += c));
      req.on('end', () => {
        expect(req.method).toBe('POST');
        expect(req.headers['content-type']).toBe('application/json');
        this.received.push({ at: Date.now(), body: JSON.parse(raw), raw });
        this.answer(this.received.length, res);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}/services/T000/B000/test`;
  }

  /** Leaves this request unanswered (a timeout); released by stop(). */
  hang(res: ServerResponse): void {
    this.hanging.push(res);
  }

  async waitFor(n: number, timeoutMs = 10_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (this.received.length < n) {
      if (Date.now() > end) throw new Error(`receiver got ${this.received.length} of ${n} messages`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async stop(): Promise<void> {
    for (const r of this.hanging) r.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

const LINKS = { dashboardUrl: 'https://grafana.example.net/d/tapwatch-findings?var-sensor={sensor}&var-call={callId}', apiBaseUrl: 'https://tapwatch.example.net/' };

async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (!m) return 0;
  const values = (await m.get()).values as Array<{ value: number; labels: Record<string, string | number> }>;
  return values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((a, v) => a + v.value, 0);
}

describe('Slack notifier (local receiver)', () => {
  let rx: SlackReceiver;
  let registry: Registry;
  let notifier: SlackNotifier | null = null;
  const make = (o: Partial<SlackNotifierOptions> = {}): SlackNotifier => {
    notifier = new SlackNotifier({ webhookUrl: rx.url, minSeverity: 'warning', ratePerMinute: 600, burst: 10, ...LINKS, backoffMs: 50, timeoutMs: 2000, registry, ...o });
    return notifier;
  };

  beforeAll(async () => {
    rx = new SlackReceiver();
    await rx.start();
  });
  afterAll(async () => {
    await rx.stop();
  });
  afterEach(async () => {
    await notifier?.close(0);
    notifier = null;
    rx.received.length = 0;
    rx.answer = (_n, res) => res.end('ok');
    registry = new Registry();
  });
  registry = new Registry();

  it('sends one message per new finding naming type, severity, call, parties, copy destination, sensor and both links', async () => {
    const n = make();
    const dup = duplicateFinding('m1', { callId: 'call-<1>', evidence: { originalSrc: '10.0.0.1:4000', originalDst: '10.0.0.2:4000', copyPackets: 100 } });
    const relay = relayFinding('m2');
    n.notify([dup, relay]);
    await n.idle();
    expect(rx.received).toHaveLength(2);
    const [a, b] = rx.received.map((r) => r.body);
    expect(a!.text).toContain('*critical*');
    expect(a!.text).toContain('`duplicate_stream`');
    expect(a!.text).toContain('`call-&lt;1&gt;`'); // mrkdwn-escaped
    expect(a!.text).toContain('*Parties:* 10.0.0.1:4000 → 10.0.0.2:4000');
    expect(a!.text).toContain('*Copy destination:* 192.0.2.66:5004');
    expect(a!.text).toContain('*Sensor:* s1');
    expect(a!.text).toContain('<https://grafana.example.net/d/tapwatch-findings?var-sensor=s1&var-call=call-%3C1%3E|Dashboard>');
    expect(a!.text).toContain('<https://tapwatch.example.net/api/findings/m1|GET /api/findings/m1>');
    expect(a!.blocks?.[0]).toEqual({ type: 'section', text: { type: 'mrkdwn', text: a!.text } });
    expect(b!.text).toContain('`unexpected_relay`');
    expect(b!.text).toContain('*Relay:* 198.51.100.7:3478 (unsignaled_endpoint)');
    expect(b!.text).toContain('sensor `s2`');
    expect(await metricValue(registry, METRICS.slackMessages, { status: 'sent', kind: 'finding' })).toBe(2);
    // Without a public base URL the message still names the API path.
    expect(findingMessage(relay, { dashboardUrl: '', apiBaseUrl: '' }).text).toContain('GET /api/findings/m2');
  });

  it('never puts payload or key material in a message, only named fields', async () => {
    const marker = 'PAYLOADMARKER0123456789';
    const keyHash = 'feedfacecafebeef';
    const n = make({ minSeverity: 'info' });
    const findings: FindingEvent[] = [
      duplicateFinding('p1', { evidence: { digests: [0x12345678, 0x9abcdef0], rawPayload: marker, sdesKey: `inline:${marker}` } }),
      keyFinding('p2', { severity: 'critical', keyHash, evidence: { keyHashes: [keyHash], media: [marker] } }),
    ];
    n.notify(findings);
    await n.idle();
    expect(rx.received).toHaveLength(2);
    for (const r of rx.received) {
      for (const needle of [marker, Buffer.from(marker).toString('base64'), Buffer.from(marker).toString('hex'), keyHash, '305419896', '12345678', 'inline:']) {
        expect(r.raw).not.toContain(needle);
      }
    }
    expect(rx.received[1]!.body.text).toContain('*Exposed on leg:* 10.0.0.1:5060 -&gt; 10.0.0.2:5060');
  });

  it('skips findings below the minimum severity and deduplicates by findingId', async () => {
    const n = make({ minSeverity: 'warning' });
    const first = duplicateFinding('d1', { findingId: 'F-1' });
    const sameFindingOtherSensor = duplicateFinding('d2', { findingId: 'F-1', sensor: 's9' });
    n.notify([first, keyFinding('d3' /* info */)]);
    n.notify([sameFindingOtherSensor, first]);
    await n.idle();
    expect(rx.received).toHaveLength(1);
    expect(rx.received[0]!.body.text).toContain('/api/findings/d1');
    expect(await metricValue(registry, METRICS.slackFindingsSkipped, { reason: 'duplicate' })).toBe(2);
    expect(await metricValue(registry, METRICS.slackFindingsSkipped, { reason: 'severity' })).toBe(1);
  });

  it('rate-limits with a token bucket and summarises the excess in one "N more findings" message', async () => {
    // Burst 2, then one message per 500 ms.
    const n = make({ burst: 2, ratePerMinute: 120 });
    const t0 = Date.now();
    const findings = Array.from({ length: 6 }, (_, i) => duplicateFinding(`r${i}`, { findingId: `FR-${i}`, callId: `call-r${i}` }));
    n.notify(findings);
    await n.idle();
    // Nothing else comes later either.
    await new Promise((r) => setTimeout(r, 700));
    expect(rx.received).toHaveLength(3);
    expect(rx.received[0]!.body.text).toContain('call-r0');
    expect(rx.received[1]!.body.text).toContain('call-r1');
    const summary = rx.received[2]!;
    expect(summary.body.text).toContain('*4 more findings*');
    for (const i of [2, 3, 4, 5]) expect(summary.body.text).toContain(`call-r${i}`);
    expect(summary.at - t0).toBeGreaterThanOrEqual(400);
    expect(await metricValue(registry, METRICS.slackMessages, { status: 'sent', kind: 'summary' })).toBe(1);
    expect(await metricValue(registry, METRICS.slackFindingsSkipped, { reason: 'summarized' })).toBe(4);
    // Once the bucket has refilled, single messages resume.
    await new Promise((r) => setTimeout(r, 1100));
    n.notify([duplicateFinding('r9', { findingId: 'FR-9', callId: 'call-r9' })]);
    await n.idle();
    expect(rx.received).toHaveLength(4);
    expect(rx.received[3]!.body.text).not.toContain('more finding');
  });

  it('counts findings beyond the queue bound into the summary instead of dropping them silently', async () => {
    const n = make({ burst: 1, ratePerMinute: 120, maxQueue: 3 });
    n.notify(Array.from({ length: 8 }, (_, i) => duplicateFinding(`q${i}`, { findingId: `FQ-${i}`, callId: `call-q${i}` })));
    await n.idle();
    expect(rx.received).toHaveLength(2);
    // 1 sent alone, 2 held and listed, 5 only counted: "7 more findings".
    expect(rx.received[1]!.body.text).toContain('*7 more findings*');
    expect(rx.received[1]!.body.text).toContain('call-q1');
    expect(rx.received[1]!.body.text).toContain('…and 5 more.');
  });

  it('retries after a 500 with backoff and delivers the same message', async () => {
    rx.answer = (nth, res) => {
      res.statusCode = nth === 1 ? 500 : 200;
      res.end(nth === 1 ? 'internal_error' : 'ok');
    };
    const n = make();
    n.notify([duplicateFinding('x1')]);
    await n.idle();
    expect(rx.received).toHaveLength(2);
    expect(rx.received[1]!.raw).toBe(rx.received[0]!.raw);
    expect(rx.received[1]!.at - rx.received[0]!.at).toBeGreaterThanOrEqual(45);
    expect(await metricValue(registry, METRICS.slackRetries)).toBe(1);
    expect(await metricValue(registry, METRICS.slackMessages, { status: 'sent' })).toBe(1);
  });

  it('retries a request that times out, honours 429 Retry-After, and gives up after maxRetries on persistent 5xx', async () => {
    rx.answer = (nth, res) => {
      if (nth === 1) return rx.hang(res); // no answer: the client's timeout fires
      if (nth === 2) {
        res.statusCode = 429;
        res.setHeader('retry-after', '1');
        return res.end('rate_limited');
      }
      res.end('ok');
    };
    const n = make({ timeoutMs: 300 });
    n.notify([duplicateFinding('t1')]);
    await n.idle();
    expect(rx.received).toHaveLength(3);
    expect(rx.received[2]!.at - rx.received[1]!.at).toBeGreaterThanOrEqual(950); // Retry-After: 1 s
    expect(await metricValue(registry, METRICS.slackRetries)).toBe(2);

    rx.received.length = 0;
    rx.answer = (_nth, res) => {
      res.statusCode = 503;
      res.end('service_unavailable');
    };
    const status = await n.send({ text: 'x' }, 'finding');
    expect(status).toBe('failed');
    expect(rx.received).toHaveLength(1 + 4); // first attempt + maxRetries (4)
  });

  it('does not retry a 4xx other than 429 (Slack says the payload or URL is wrong)', async () => {
    rx.answer = (_n, res) => {
      res.statusCode = 404;
      res.end('no_service');
    };
    const n = make();
    n.notify([duplicateFinding('b1')]);
    await n.idle();
    expect(rx.received).toHaveLength(1);
    expect(await metricValue(registry, METRICS.slackMessages, { status: 'rejected' })).toBe(1);
  });

  it('notify() returns at once even while Slack does not answer', async () => {
    rx.answer = (_n, res) => rx.hang(res);
    const n = make({ timeoutMs: 5000 });
    const t = performance.now();
    n.notify(Array.from({ length: 50 }, (_, i) => duplicateFinding(`nb${i}`, { findingId: `FNB-${i}` })));
    expect(performance.now() - t).toBeLessThan(50);
    await rx.waitFor(1);
    expect(rx.received).toHaveLength(1); // the first request is still hanging; nothing else has gone out
  });
});

describe('Slack config switch', () => {
  it('reads the webhook from TAPWATCH_SLACK_WEBHOOK_URL (winning) or SLACK_WEBHOOK_URL, with severity and rate settings', () => {
    const env = { SLACK_WEBHOOK_URL: 'https://hooks.example/a', TAPWATCH_SLACK_MIN_SEVERITY: 'critical', TAPWATCH_SLACK_RATE_PER_MINUTE: '30' };
    const a = loadConfig({ env });
    expect(a.slack).toMatchObject({ webhookUrl: 'https://hooks.example/a', minSeverity: 'critical', ratePerMinute: 30, burst: 5 });
    const b = loadConfig({ env: { ...env, TAPWATCH_SLACK_WEBHOOK_URL: 'https://hooks.example/b' } });
    expect(b.slack.webhookUrl).toBe('https://hooks.example/b');
    expect(loadConfig({ env: {} }).slack.webhookUrl).toBe('');
    expect(() => loadConfig({ env: { TAPWATCH_SLACK_MIN_SEVERITY: 'loud' } })).toThrow(ConfigError);
    expect(() => loadConfig({ env: { SLACK_WEBHOOK_URL: 'hooks.example/no-scheme' } })).toThrow(ConfigError);
    expect(() => loadConfig({ env: {}, overrides: { slack: { bogus: 1 } } })).toThrow(ConfigError);
    expect(loadConfig({ env: {}, overrides: { slack: { minSeverity: 'info', burst: 2 } } }).slack).toMatchObject({ minSeverity: 'info', burst: 2 });
  });
});

// ------------------------------------------------------------------ end to end

const DB_URL = process.env.TAPWATCH_TEST_SLACK_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/tapwatch_test_slack';
let pgWhy: string | null = null;
try {
  await ensureDatabase(DB_URL);
} catch (err) {
  if (process.env.CI === 'true') throw err;
  pgWhy = `PostgreSQL unreachable: ${(err as Error).message}`;
}
const kafkaWhy = pgWhy ?? (await kafkaUnavailable());
if (pgWhy) console.warn(`tests/collector/slack-notify: ${pgWhy}; skipping the end-to-end test`);

async function produce(records: Array<{ topic: string; key: string | null; value: string }>): Promise<void> {
  const producer = new Kafka.HighLevelProducer({ 'metadata.broker.list': BROKERS, 'linger.ms': 5, 'enable.idempotence': true });
  producer.setPollInterval(20);
  await new Promise<void>((res, rej) => producer.connect({ timeout: 20_000 }, (err) => (err ? rej(err) : res())));
  try {
    await Promise.all(
      records.map((r) => new Promise<void>((res, rej) => producer.produce(r.topic, null, Buffer.from(r.value), r.key, Date.now(), (err: unknown) => (err ? rej(err) : res())))),
    );
  } finally {
    await new Promise<void>((res) => producer.disconnect(() => res()));
  }
}

describe.skipIf(kafkaWhy !== null)('Slack end to end: Kafka -> collector ingest -> PostgreSQL -> Slack', () => {
  let rx: SlackReceiver;
  let pool: pg.Pool;
  beforeAll(async () => {
    rx = new SlackReceiver();
    await rx.start();
    pool = new pg.Pool({ connectionString: DB_URL, max: 6 });
    pool.on('error', () => undefined);
    await pool.query('DROP TABLE IF EXISTS events, findings, calls, streams, sensors, fingerprints, schema_migrations CASCADE');
  });
  afterAll(async () => {
    await rx?.stop();
    await pool?.end();
    const admin = new pg.Client({ connectionString: DB_URL.replace(/\/[^/]+$/, '/postgres') });
    await admin.connect();
    await admin.query('DROP DATABASE IF EXISTS tapwatch_test_slack WITH (FORCE)').catch(() => undefined);
    await admin.end();
  });

  it('sends one message per newly stored finding, after the commit, and none for redeliveries or info findings', async () => {
    const t = { findings: testTopic('slack.f'), telemetry: testTopic('slack.t'), fingerprints: testTopic('slack.fp'), dlq: testTopic('slack.dlq') };
    await createTopics([t.findings, t.telemetry, t.fingerprints], 3);
    await createTopics([t.dlq], 1);
    const config = testConfig({
      databaseUrl: DB_URL, kafkaBrokers: BROKERS, groupId: `tapwatch-test-slack-${process.pid}`, topics: t, batchSize: 100, batchWaitMs: 50, kafkaSessionTimeoutMs: 6000,
      slack: { webhookUrl: rx.url, minSeverity: 'warning', ratePerMinute: 600, burst: 10, dashboardUrl: 'https://grafana.example.net/d/x?var-sensor={sensor}', apiBaseUrl: '' },
    });
    const app = await build({ config, pool, kafka: true, migrate: true, defaultMetrics: false, retention: false });
    try {
      await app.ready();
      const dup = duplicateFinding('e2e-f1', { callId: 'call-e2e', evidence: { originalSrc: '10.0.0.1:4000', originalDst: '10.0.0.2:4000' } });
      const events: TapwatchEvent[] = [callStarted('e2e-c1', 'call-e2e'), dup, keyFinding('e2e-info'), dup /* redelivered */];
      const records = events.map((e) => ({ topic: e.type === 'call_started' ? t.telemetry : t.findings, key: keyFor(e), value: JSON.stringify(e) }));
      await produce(records);
      await rx.waitFor(1, 60_000);
      // The row is durable before Slack hears of it.
      const row = (await pool.query('SELECT id, call_id, copy_to FROM findings WHERE id = $1', ['e2e-f1'])).rows[0];
      expect(row).toEqual({ id: 'e2e-f1', call_id: 'call-e2e', copy_to: '192.0.2.66:5004' });
      // A second, later redelivery of the same finding: stored as duplicate, not notified.
      await produce([records[1]!]);
      await new Promise((r) => setTimeout(r, 1500));
      expect(rx.received).toHaveLength(1);
      const text = rx.received[0]!.body.text;
      expect(text).toContain('`duplicate_stream`');
      expect(text).toContain('`call-e2e`');
      expect(text).toContain('*Copy destination:* 192.0.2.66:5004');
      expect(text).toContain('GET /api/findings/e2e-f1');
      expect(text).toContain('<https://grafana.example.net/d/x?var-sensor=s1|Dashboard>');
      const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
      expect(metrics).toMatch(/tapwatch_collector_slack_messages_total\{status="sent",kind="finding"\} 1/);
      expect(metrics).toMatch(/tapwatch_collector_slack_findings_skipped_total\{reason="severity"\} 1/);
    } finally {
      await app.close();
    }
  });
});

// escapeMrkdwn is what keeps a crafted Call-ID from turning into a link.
it('escapes Slack control characters', () => {
  expect(escapeMrkdwn('<https://evil|x> & co')).toBe('&lt;https://evil|x&gt; &amp; co');
});
