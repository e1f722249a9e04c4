// The demo's local pipeline (deploy/demo/demo.sh starts it in the background):
// Kafka topics of this run, the collector on a free port, Prometheus and
// Alertmanager from the committed deploy/ configs, and a local HTTP server
// standing in for Slack. It prints each stage as it happens, then waits for
// the Slack message about the covert copy, prints it, writes it to
// $DEMO_DIR/slack.json and exits 0 (1 when none came within DEMO_TIMEOUT_S).
// Everything it starts is stopped on exit, SIGINT and SIGTERM.
//
// Plain JavaScript on the compiled helpers (dist/tests/lib), because deploy/
// is not part of the TypeScript build.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { startSlackReceiver, startAlertmanager, startPrometheus, freePort } = await import(path.join(root, 'dist/tests/lib/alert-stack.js'));
const require = createRequire(import.meta.url);
const Kafka = require(path.join(root, 'node_modules/node-rdkafka'));

const env = (k, d) => process.env[k] ?? d;
const dir = env('DEMO_DIR');
const brokers = env('KAFKA_BROKERS', '127.0.0.1:9092');
const runId = env('DEMO_RUN_ID', String(process.pid));
const timeoutMs = Number(env('DEMO_TIMEOUT_S', '120')) * 1000;
const topics = JSON.parse(env('DEMO_TOPICS'));
const database = `tapwatch_demo_${runId}`;
const databaseUrl = env('DEMO_DATABASE_URL', `postgres://postgres@127.0.0.1:5432/${database}`);
const token = 'demo-token';
const say = (s) => process.stdout.write(`  ${s}\n`);

const stops = [];
let stopping = null;
function stopAll() {
  stopping ??= (async () => {
    for (const stop of stops.reverse()) await stop().catch(() => {});
  })();
  return stopping;
}
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => void stopAll().then(() => process.exit(130)));

function admin() {
  return Kafka.AdminClient.create({ 'metadata.broker.list': brokers, 'client.id': 'tapwatch-demo' });
}
async function createTopics(names) {
  const a = admin();
  try {
    for (const topic of names) {
      await new Promise((resolve, reject) =>
        a.createTopic({ topic, num_partitions: 1, replication_factor: 1 }, 20_000, (err) =>
          err && err.code !== Kafka.CODES.ERRORS.ERR_TOPIC_ALREADY_EXISTS ? reject(err) : resolve()),
      );
    }
  } finally {
    a.disconnect();
  }
}
async function deleteTopics(names) {
  const a = admin();
  try {
    for (const topic of names) await new Promise((resolve) => a.deleteTopic(topic, 10_000, () => resolve()));
  } finally {
    a.disconnect();
  }
}

async function waitHttp(url, okStatus, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    try {
      const r = await fetch(url);
      if (r.status === okStatus) return;
    } catch { /* not listening yet */ }
    if (Date.now() > end) throw new Error(`${what} not ready after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The collector as an operator runs it: `tapwatch collector`, settings from the environment and a config file. */
async function startCollector(port) {
  const configFile = path.join(dir, 'collector.yaml');
  writeFileSync(configFile, [
    'topics:',
    ...Object.entries(topics).map(([k, v]) => `  ${k}: ${v}`),
    // A demo wants the finding in the database at once, not after a full batch.
    'batchWaitMs: 50',
    '',
  ].join('\n'));
  const child = spawn(process.execPath, [path.join(root, 'bin/tapwatch.js'), 'collector', '--port', String(port), '--config', configFile], {
    env: { ...process.env, KAFKA_BROKERS: brokers, DATABASE_URL: databaseUrl, TAPWATCH_API_TOKEN: token, TAPWATCH_GROUP_ID: `tapwatch-demo-${runId}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  stops.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  try {
    await waitHttp(`http://127.0.0.1:${port}/readyz`, 200, 60_000, 'collector');
  } catch (err) {
    throw new Error(`${err.message}\n${log}`);
  }
  return { url: `http://127.0.0.1:${port}`, log: () => log };
}

async function main() {
  await createTopics(Object.values(topics));
  stops.push(() => deleteTopics(Object.values(topics)));
  say(`kafka        ${brokers}, topics of this run: ${topics.findings}, ${topics.telemetry}`);

  const slack = await startSlackReceiver();
  stops.push(() => slack.stop());
  say(`slack        local receiver ${slack.url} (stands in for hooks.slack.com)`);

  // Paths given explicitly: the helper's defaults are relative to its own
  // location, which is dist/tests/lib in the compiled copy.
  const am = await startAlertmanager({ slackUrl: slack.url, configFile: path.join(root, 'deploy/alertmanager/alertmanager.yml') });
  stops.push(() => am.stop());
  say(`alertmanager ${am.url}, deploy/alertmanager/alertmanager.yml (group_wait shortened to 1s)`);

  const collectorPort = await freePort();
  const prom = await startPrometheus({
    collectorTarget: `127.0.0.1:${collectorPort}`,
    alertmanagerTarget: `127.0.0.1:${am.port}`,
    configFile: path.join(root, 'deploy/prometheus/prometheus.yml'),
    rulesDir: path.join(root, 'deploy/prometheus/rules'),
  });
  stops.push(() => prom.stop());
  say(`prometheus   ${prom.url}, deploy/prometheus/prometheus.yml + rules (scrape/evaluate every 1s)`);

  const collector = await startCollector(collectorPort);
  say(`collector    ${collector.url}, database ${database}, consumer group tapwatch-demo-${runId}`);
  writeFileSync(path.join(dir, 'pipeline.ready'), JSON.stringify({ collector: collector.url, prometheus: prom.url, alertmanager: am.url, slack: slack.url }));

  // Progress while the call runs: the finding in PostgreSQL, then the alert firing.
  const started = Date.now();
  const deadline = started + timeoutMs;
  let stored = null;
  let firing = null;
  const isCopyMessage = (m) => /duplicate_stream/.test(m.text) && !/RESOLVED/i.test(m.body.attachments?.[0]?.title ?? '');
  const messagePromise = slack.waitFor(isCopyMessage, timeoutMs);
  messagePromise.catch(() => {});
  while (Date.now() < deadline) {
    if (!stored) {
      const r = await fetch(`${collector.url}/api/findings?type=duplicate_stream`, { headers: { authorization: `Bearer ${token}` } }).then((x) => x.json()).catch(() => null);
      const f = r?.items?.[0];
      if (f) {
        stored = f;
        say(`collector    stored finding ${f.findingId ?? f.id} in PostgreSQL: ${f.severity} ${f.type}, copy to ${f.copyTo ?? '-'}`);
      }
    }
    if (!firing) {
      const a = (await prom.alerts().catch(() => [])).find((x) => x.labels.alertname === 'TapwatchOpenFinding' && x.state === 'firing');
      if (a) {
        firing = a;
        say(`prometheus   alert ${a.labels.alertname} firing: type=${a.labels.type} copy_to=${a.labels.copy_to ?? '-'} call_id=${a.labels.call_id}`);
      }
    }
    if (slack.messages.some(isCopyMessage)) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  const msg = await messagePromise.catch(() => null);
  if (!msg) {
    say(`no Slack message about a duplicate_stream within ${timeoutMs / 1000} s`);
    say(`collector log:\n${collector.log().slice(-2000)}`);
    return 1;
  }
  writeFileSync(path.join(dir, 'slack.json'), JSON.stringify(msg.body, null, 2));
  // demo.sh prints this under its last step header, after the call has ended.
  const a = msg.body.attachments?.[0] ?? {};
  // ts: the finding's capture time (epoch seconds, from the sensor's clock, the same host here).
  const detectedAt = typeof stored?.ts === 'number' ? stored.ts : Date.parse(stored?.ts ?? '') / 1000;
  const latency = Number.isFinite(detectedAt) ? ` ${(msg.receivedAt / 1000 - detectedAt).toFixed(1)} s after the sensor's detection` : '';
  const out = [
    `Slack received ${slack.messages.length} message(s). The one about the copy arrived${latency}: POST ${new URL(slack.url).pathname},`,
    `channel ${msg.body.channel ?? '-'}, username ${msg.body.username ?? '-'}, color ${a.color ?? '-'}:`,
    '',
  ];
  if (msg.body.text) out.push(msg.body.text, '');
  if (a.title) out.push(`${a.title}${a.title_link ? `  <${a.title_link}>` : ''}`);
  if (a.text) out.push(a.text);
  for (const f of a.fields ?? []) out.push(`${f.title}: ${f.value}`);
  writeFileSync(path.join(dir, 'slack.txt'), out.join('\n') + '\n');
  // Keep everything up until demo.sh has stopped the sensor (it creates
  // $DEMO_DIR/sensor.stopped): deleting the topics under a producing sensor
  // would just have the broker create them again.
  const until = Date.now() + 180_000;
  while (!existsSync(path.join(dir, 'sensor.stopped')) && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
  return 0;
}

let code = 1;
try {
  code = await main();
} catch (err) {
  process.stderr.write(`demo pipeline: ${err.stack ?? err}\n`);
} finally {
  await stopAll();
}
process.exit(code);
