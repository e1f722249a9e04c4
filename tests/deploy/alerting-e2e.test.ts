/**
 * Alerting end to end with real components only (Slack aside): a labelled
 * capture with a covert copy (tests/scenarios/captures/copy_nft_dup.pcap) goes
 * through the real sensor CLI into the real Kafka broker, the real
 * PostgreSQL-backed collector (`tapwatch collector`) stores it, a real
 * Prometheus scrapes the collector with deploy/prometheus (rules included)
 * and a real Alertmanager with deploy/alertmanager posts to a local HTTP
 * receiver standing in for Slack. The Slack message must name the finding
 * type, the sensor, the call, its parties and the copy destination, and link
 * the dashboard.
 *
 * The same Prometheus then runs every PromQL expression of the generated
 * Grafana dashboards (dashboards/generated/*.json) and of the Grafana alert
 * rules (deploy/grafana/provisioning/alerting/*.yaml): each must parse and
 * return series.
 *
 * Own resources: database tapwatch_test_alerting_<pid>, topics tapwatch.test.alerting.*,
 * consumer group tapwatch-test-alerting-<pid>; all removed (processes killed,
 * temporary directories deleted, database dropped) also on failure.
 * Skips with a message when Kafka, PostgreSQL or the Prometheus tools are
 * missing, except under CI (CI=true), where it fails instead.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Kafka from 'node-rdkafka';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { ensureDatabase } from '../../collector/src/store/database.js';
import { METRICS } from '../../collector/src/names.js';
import { ensureSensorBuilt } from '../e2e/ensure-built.js';
import {
  alertmanagerBin, freePort, prometheusBin, startAlertmanager, startPrometheus, startSlackReceiver,
  type RunningAlertmanager, type RunningPrometheus, type SlackMessage, type SlackReceiver,
} from '../lib/alert-stack.js';
import { BROKERS, createTopics, IN_CI, kafkaUnavailable, REPO_ROOT, testTopic } from '../lib/kafka.js';
import { dashboardQueries, grafanaAlertQueries, rawDashboardExprs, substituteGrafanaVariables, type SourcedQuery } from '../lib/prometheus.js';

const SCENARIO = 'copy_nft_dup';
const CAPTURE = path.join(REPO_ROOT, 'tests', 'scenarios', 'captures', `${SCENARIO}.pcap`);
const LABEL = JSON.parse(readFileSync(path.join(REPO_ROOT, 'tests', 'scenarios', 'captures', `${SCENARIO}.json`), 'utf8')) as {
  mustFind: Array<{ type: string; copyTo?: string }>;
};
// Per process: two runs of this file at once (two checkouts, a lead and a helper) must not share it.
const DATABASE_NAME = `tapwatch_test_alerting_${process.pid}`;
const DATABASE_URL = `postgres://postgres@127.0.0.1:5432/${DATABASE_NAME}`;
const SENSOR_ID = `tw-alert-edge-${process.pid}`;
const GRAFANA_URL = 'http://grafana.alerting.test:3000';
const BIN = path.join(REPO_ROOT, 'bin', 'tapwatch.js');

async function why(): Promise<string | null> {
  const tools = !prometheusBin() ? 'prometheus not installed' : !alertmanagerBin() ? 'alertmanager not installed' : null;
  if (tools) {
    if (IN_CI) throw new Error(`required under CI: ${tools}`);
    return tools;
  }
  try {
    await ensureDatabase(DATABASE_URL);
  } catch (err) {
    if (IN_CI) throw err;
    return `PostgreSQL unreachable: ${(err as Error).message}`;
  }
  return kafkaUnavailable();
}
const skipWhy = await why();
if (skipWhy) console.warn(`skipping tests/deploy/alerting-e2e: ${skipWhy}`);

/** dist/ must hold the current collector (bin/tapwatch.js runs dist/). */
function ensureCollectorBuilt(): void {
  ensureSensorBuilt(REPO_ROOT);
}

/**
 * A classic pcap (https://www.tcpdump.org/manpages/pcap-savefile.5.html,
 * little-endian, LINKTYPE_ETHERNET) holding one Ethernet frame whose IPv4
 * header stops after 4 of its 20 bytes: the sensor counts truncated_ipv4.
 */
function truncatedIpv4Pcap(): Buffer {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(65535, 16);
  header.writeUInt32LE(1, 20);
  const frame = Buffer.from('020000000202' + '020000000102' + '0800' + '45000014', 'hex');
  const record = Buffer.alloc(16);
  record.writeUInt32LE(Math.floor(Date.now() / 1000), 0);
  record.writeUInt32LE(frame.length, 8);
  record.writeUInt32LE(frame.length, 12);
  return Buffer.concat([header, record, frame]);
}

/** One raw message (not an event) on a topic: the collector dead-letters it. */
async function produceRaw(topic: string, value: string): Promise<void> {
  const producer = new Kafka.HighLevelProducer({ 'metadata.broker.list': BROKERS, 'linger.ms': 5 });
  await new Promise<void>((res, rej) => producer.connect({ timeout: 20_000 }, (err) => (err ? rej(err) : res())));
  try {
    producer.setPollInterval(20);
    await new Promise<void>((res, rej) => producer.produce(topic, null, Buffer.from(value), 'not-an-event', Date.now(), (err: unknown) => (err ? rej(err) : res())));
  } finally {
    await new Promise<void>((res) => producer.disconnect(() => res()));
  }
}

async function dropDatabase(): Promise<void> {
  const admin = new pg.Client({ connectionString: DATABASE_URL.replace(/\/[^/]+$/, '/postgres') });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${DATABASE_NAME} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | null | undefined | false>): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => null);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The environment of a child tapwatch process: only what this test sets. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, TAPWATCH_LOG_LEVEL: 'warn' };
  for (const k of Object.keys(env)) {
    if (/^(KAFKA_BROKERS|DATABASE_URL|TAPWATCH_API_TOKEN|TAPWATCH_GROUP_ID|TAPWATCH_RETENTION_DAYS|SLACK_.*|TAPWATCH_SLACK_.*|TAPWATCH_DASHBOARD_URL|TAPWATCH_PUBLIC_URL)$/.test(k)) delete env[k];
  }
  return env;
}

describe.skipIf(skipWhy !== null)('alerting end to end: sensor -> Kafka -> collector -> Prometheus -> Alertmanager -> Slack', () => {
  let tmp = '';
  let collector: ChildProcess | null = null;
  let collectorLog = '';
  let collectorPort = 0;
  let slack: SlackReceiver | null = null;
  let alertmanager: RunningAlertmanager | null = null;
  let prometheus: RunningPrometheus | null = null;
  let finding: { type: string; call_id: string; copy_to: string; sensor: string; from_uri: string | null; to_uri: string | null };
  let message: SlackMessage;
  let startedAt = 0;

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), 'tapwatch-alerting-e2e-'));
    ensureCollectorBuilt();
    await dropDatabase();

    const topics = {
      findings: testTopic('alerting.f'), telemetry: testTopic('alerting.t'), fingerprints: testTopic('alerting.fp'), dlq: testTopic('alerting.dlq'),
    };
    await createTopics([topics.findings, topics.telemetry, topics.fingerprints], 3);
    await createTopics([topics.dlq], 1);

    // The collector, as an operator runs it: the CLI with a config file.
    collectorPort = await freePort();
    const configFile = path.join(tmp, 'collector.yaml');
    writeFileSync(configFile, YAML.stringify({
      kafkaBrokers: BROKERS, groupId: `tapwatch-test-alerting-${process.pid}`, topics, databaseUrl: DATABASE_URL,
      apiToken: 'alerting-e2e-token', retentionDays: 0, batchWaitMs: 50, kafkaSessionTimeoutMs: 6000,
    }));
    collector = spawn(process.execPath, [BIN, 'collector', '--port', String(collectorPort), '--config', configFile], {
      cwd: REPO_ROOT, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (b: Buffer): void => {
      collectorLog = (collectorLog + b.toString()).slice(-20_000);
    };
    collector.stdout!.on('data', keep);
    collector.stderr!.on('data', keep);
    await waitFor(`collector /readyz on ${collectorPort}`, 60_000, async () => {
      if (collector!.exitCode !== null) throw new Error(`collector exited ${collector!.exitCode}:\n${collectorLog}`);
      return (await fetch(`http://127.0.0.1:${collectorPort}/readyz`)).ok;
    }).catch((err: Error) => {
      throw new Error(`${err.message}\n${collectorLog}`);
    });

    // Slack stand-in, Alertmanager, Prometheus: the committed configs, rewritten only for ports and timers.
    slack = await startSlackReceiver();
    alertmanager = await startAlertmanager({ slackUrl: slack.url, groupWait: '1s', groupInterval: '2s' });
    prometheus = await startPrometheus({
      collectorTarget: `127.0.0.1:${collectorPort}`, alertmanagerTarget: `127.0.0.1:${alertmanager.port}`, interval: '1s', grafanaUrl: GRAFANA_URL,
    });

    // The labelled capture through the real sensor CLI into Kafka; then a
    // second sensor on one malformed frame and one message that is not an
    // event, so the decode-error and dead-letter series the dashboards chart
    // exist too (a query on a misspelt metric would otherwise hide among
    // legitimately empty ones).
    const runSensor = (capture: string, sensorId: string): void => {
      const sensor = spawnSync(
        process.execPath,
        [BIN, 'sensor', '--read', capture, '--kafka', BROKERS, '--sensor-id', sensorId, '--format', 'none',
          '--findings-topic', topics.findings, '--telemetry-topic', topics.telemetry, '--fingerprints-topic', topics.fingerprints],
        { cwd: REPO_ROOT, env: childEnv(), encoding: 'utf8', timeout: 120_000 },
      );
      const out = `${sensor.stdout ?? ''}${sensor.stderr ?? ''}`;
      if (sensor.status !== 0) throw new Error(`sensor ${sensorId} exited ${sensor.status}:\n${out}`);
    };
    startedAt = Date.now();
    runSensor(CAPTURE, SENSOR_ID);
    const malformed = path.join(tmp, 'truncated-ipv4.pcap');
    writeFileSync(malformed, truncatedIpv4Pcap());
    runSensor(malformed, `${SENSOR_ID}-malformed`);
    await produceRaw(topics.telemetry, 'this is not a tapwatch event');

    // What the collector stored is the truth the message is checked against.
    const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
    try {
      finding = await waitFor('the duplicate_stream finding in PostgreSQL', 60_000, async () => {
        const r = await pool.query(
          `SELECT f.type, f.call_id, f.copy_to, f.sensor, c.from_uri, c.to_uri FROM findings f
           LEFT JOIN calls c ON c.call_id = f.call_id AND c.sensor = f.sensor
           WHERE f.type = 'duplicate_stream' AND f.severity = 'critical' ORDER BY f.ts LIMIT 1`,
        );
        return r.rows[0];
      });
    } finally {
      await pool.end();
    }

    message = await slack.waitFor((m) => m.text.includes('TapwatchOpenFinding') && m.text.includes(finding.call_id), 90_000).catch(async (err: Error) => {
      const alerts = await prometheus!.alerts().catch(() => []);
      throw new Error(
        `${err.message}\nPrometheus alerts: ${JSON.stringify(alerts).slice(0, 2000)}\nSlack got: ${slack!.messages.map((m) => m.text).join('\n---\n').slice(0, 3000)}` +
          `\nalertmanager: ${alertmanager!.output().slice(-2000)}\nprometheus: ${prometheus!.output().slice(-2000)}`,
      );
    });
  }, 420_000);

  afterAll(async () => {
    await prometheus?.stop().catch(() => undefined);
    await alertmanager?.stop().catch(() => undefined);
    await slack?.stop().catch(() => undefined);
    if (collector && collector.exitCode === null) {
      const exited = new Promise((r) => collector!.once('exit', r));
      collector.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (collector.exitCode === null) collector.kill('SIGKILL');
    }
    await dropDatabase().catch(() => undefined);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }, 60_000);

  it('the collector stored the labelled finding', () => {
    const expected = LABEL.mustFind.find((f) => f.type === 'duplicate_stream')!;
    expect(finding.sensor).toBe(SENSOR_ID);
    expect(finding.call_id).toBeTruthy();
    expect(finding.copy_to).toContain(expected.copyTo);
  });

  it('the Slack message names the finding type, the sensor, the call, the parties and the copy destination, and links the dashboard', () => {
    const text = message.text;
    console.info(`Slack message received ${message.receivedAt - startedAt} ms after the sensor started:\n${text}`);
    expect(text).toContain('duplicate_stream');
    expect(text).toContain(SENSOR_ID);
    expect(text).toContain(`Call: \`${finding.call_id}\``);
    expect(text).toContain(`Copied to: \`${finding.copy_to}\``);
    if (finding.from_uri) expect(text).toContain(finding.from_uri);
    if (finding.to_uri) expect(text).toContain(finding.to_uri);
    expect(text).toContain(`${GRAFANA_URL}/d/tapwatch-call?var-callId=${finding.call_id}`);
    // Slack's attachment format, as Alertmanager's slack_configs sends it.
    expect(message.body.channel).toBe('#tapwatch-alerts');
    expect(message.body.attachments?.[0]?.color).toBe('danger');
    expect(message.body.attachments?.[0]?.title).toContain('[FIRING:1] TapwatchOpenFinding duplicate_stream on sensor');
  });

  it('Prometheus holds the alerts the rules derive from the collector', async () => {
    const firing = (await prometheus!.alerts()).filter((a) => a.state === 'firing');
    const open = firing.find((a) => a.labels.alertname === 'TapwatchOpenFinding' && a.labels.call_id === finding.call_id);
    expect(open?.labels).toMatchObject({ type: 'duplicate_stream', severity: 'critical', sensor: SENSOR_ID, copy_to: finding.copy_to });
    // The collector target is up, so the collector-down alerts stay silent.
    expect(firing.some((a) => a.labels.alertname === 'TapwatchCollectorDown' || a.labels.alertname === 'TapwatchCollectorAbsent')).toBe(false);
    const series = await prometheus!.samples(`${METRICS.findings}{sensor="${SENSOR_ID}",type="duplicate_stream"}`);
    expect(series.length).toBeGreaterThan(0);
  });

  it('Alertmanager inhibits the count-only alert while the detailed one fires, and says when it resolved', async () => {
    // Posted straight to Alertmanager's API (as Prometheus posts them), on a
    // sensor name of their own so they never mix with the pipeline's alerts.
    const sensor = `${SENSOR_ID}-inhibit`;
    const common = { type: 'unexpected_relay', severity: 'warning', sensor, grafana_url: GRAFANA_URL };
    const detailed = {
      labels: { alertname: 'TapwatchOpenFinding', ...common, call_id: 'inhibit@10.0.0.1', relay: '198.51.100.7:3478', parties: 'sip:a@x -> sip:b@y', finding_id: 'f-inh' },
      annotations: { summary: `unexpected_relay on sensor ${sensor}, call inhibit@10.0.0.1`, dashboard: `${GRAFANA_URL}/d/tapwatch-call?var-callId=inhibit@10.0.0.1` },
    };
    const countOnly = {
      labels: { alertname: 'TapwatchWarningFinding', ...common },
      annotations: { summary: `1 new warning unexpected_relay finding(s) on sensor ${sensor}`, dashboard: `${GRAFANA_URL}/d/tapwatch-findings` },
    };
    const post = async (alerts: unknown[]): Promise<void> => {
      const r = await fetch(`${alertmanager!.url}/api/v2/alerts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(alerts) });
      expect(r.status).toBe(200);
    };
    await post([detailed, countOnly]);
    const firing = await slack!.waitFor((m) => m.text.includes(sensor) && m.text.includes('[FIRING'), 30_000);
    expect(firing.text).toContain('Relay: `198.51.100.7:3478`');
    expect(firing.body.attachments?.[0]?.color).toBe('warning');
    const states = await waitFor('the count-only alert suppressed', 10_000, async () => {
      const all = await alertmanager!.alerts();
      const mine = all.filter((a) => a.labels.sensor === sensor);
      return mine.length === 2 ? mine : null;
    });
    expect(states.find((a) => a.labels.alertname === 'TapwatchWarningFinding')?.status.state).toBe('suppressed');
    expect(states.find((a) => a.labels.alertname === 'TapwatchOpenFinding')?.status.state).toBe('active');
    // Until the detailed alert ends, Slack heard nothing of the inhibited one.
    const resolveAt = Date.now();
    expect(slack!.messages.some((m) => m.text.includes(sensor) && m.text.includes('TapwatchWarningFinding'))).toBe(false);
    // Resolve the detailed alert: Slack hears "[RESOLVED]" (send_resolved) in green
    // (and, inhibition lifted, now the count-only alert, which is right).
    await post([{ ...detailed, endsAt: new Date(Date.now() - 1000).toISOString() }]);
    const resolved = await slack!.waitFor((m) => m.text.includes(sensor) && m.text.includes('[RESOLVED]'), 30_000);
    expect(resolved.body.attachments?.[0]?.color).toBe('good');
    expect(resolved.text).toContain('(resolved)');
    expect(resolved.receivedAt).toBeGreaterThanOrEqual(resolveAt);
  });

  describe('every PromQL expression of the Grafana side runs on this Prometheus', () => {
    const substitute = substituteGrafanaVariables;
    beforeAll(async () => {
      // A few scrapes after the ingest, so rate()/increase() have two samples.
      await new Promise((r) => setTimeout(r, 4000));
    });

    const check = async (queries: SourcedQuery[]): Promise<void> => {
      const failures: string[] = [];
      for (const q of queries) {
        const expr = substitute(q.expr);
        const r = await prometheus!.query(expr);
        if (r.status !== 'success') failures.push(`${q.source}: does not parse/run: ${r.errorType}: ${r.error}\n  ${expr}`);
        else {
          const result = r.data!.result;
          const empty = r.data!.resultType === 'vector' || r.data!.resultType === 'matrix' ? (result as unknown[]).length === 0 : false;
          if (empty) failures.push(`${q.source}: no series\n  ${expr}`);
        }
      }
      expect(failures, failures.join('\n')).toEqual([]);
      console.info(`${queries.length} PromQL expressions parsed and returned series`);
    };

    it('generated dashboards (dashboards/generated/*.json)', async (ctx) => {
      const queries = dashboardQueries();
      if (queries.length === 0) ctx.skip(); // nothing generated yet (npm run dashboards)
      // collectQueries must list every expression the JSON holds.
      const listed = new Set(queries.map((q) => q.expr));
      expect(rawDashboardExprs().filter((e) => !listed.has(e))).toEqual([]);
      await check(queries);
    });

    it('Grafana alert rules (deploy/grafana/provisioning/alerting/*.yaml)', async (ctx) => {
      const queries = grafanaAlertQueries();
      if (queries.length === 0) ctx.skip();
      // Grafana rule queries return series only while the rule fires; all must
      // parse and run, and the new-critical-finding rule must fire on this scenario.
      const failures: string[] = [];
      for (const q of queries) {
        const r = await prometheus!.query(substitute(q.expr));
        if (r.status !== 'success') failures.push(`${q.source}: ${r.errorType}: ${r.error}`);
      }
      expect(failures, failures.join('\n')).toEqual([]);
      const critical = queries.filter((q) => /critical/i.test(q.source) && /finding/i.test(q.source));
      expect(critical.length).toBeGreaterThan(0);
      for (const q of critical) {
        const samples = await prometheus!.samples(substitute(q.expr));
        expect(samples.some((s) => s.metric.sensor === SENSOR_ID && s.metric.type === 'duplicate_stream'), q.source).toBe(true);
      }
    });
  });
});
