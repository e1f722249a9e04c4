/**
 * A real Prometheus, a real Alertmanager and a stand-in for Slack, started
 * from the committed deploy/ files for tests and the demo (deploy/demo imports
 * the built copy, dist/tests/lib/alert-stack.js). Everything listens on
 * 127.0.0.1 on a free port, lives in its own temporary directory and is
 * removed by stop().
 *
 * The committed configs are not edited: each start reads them, rewrites only
 * what a throw-away run must change (targets, ports, intervals, the Slack URL,
 * absolute paths) with the `yaml` package and writes the copy to the
 * temporary directory. So a test exercises exactly the rules, routes and
 * templates an operator deploys.
 *
 * Binaries: `prometheus` and `alertmanager` (Debian names it
 * `prometheus-alertmanager`), overridable with PROMETHEUS_BIN / ALERTMANAGER_BIN.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

/** The checkout, also when this module runs compiled from dist/tests/lib (the demo imports it from there). */
const twoUp = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const REPO_ROOT = path.basename(twoUp) === 'dist' && existsSync(path.join(twoUp, '..', 'package.json')) ? path.dirname(twoUp) : twoUp;
export const PROMETHEUS_DIR = path.join(REPO_ROOT, 'deploy', 'prometheus');
export const PROMETHEUS_CONFIG = path.join(PROMETHEUS_DIR, 'prometheus.yml');
export const RULES_DIR = path.join(PROMETHEUS_DIR, 'rules');
export const ALERTMANAGER_DIR = path.join(REPO_ROOT, 'deploy', 'alertmanager');
export const ALERTMANAGER_CONFIG = path.join(ALERTMANAGER_DIR, 'alertmanager.yml');

/** Scrape job names in deploy/prometheus/prometheus.yml (the rules select on them). */
export const COLLECTOR_JOB = 'tapwatch-collector';
export const SENSOR_JOB = 'tapwatch-sensor';

function onPath(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).status === 0;
}

/** The binary to run, or null when it is not installed. */
export function prometheusBin(): string | null {
  if (process.env.PROMETHEUS_BIN) return process.env.PROMETHEUS_BIN;
  return onPath('prometheus') ? 'prometheus' : null;
}
export function alertmanagerBin(): string | null {
  if (process.env.ALERTMANAGER_BIN) return process.env.ALERTMANAGER_BIN;
  if (onPath('alertmanager')) return 'alertmanager';
  return onPath('prometheus-alertmanager') ? 'prometheus-alertmanager' : null;
}
export function promtoolBin(): string | null {
  return process.env.PROMTOOL_BIN ?? (onPath('promtool') ? 'promtool' : null);
}
export function amtoolBin(): string | null {
  return process.env.AMTOOL_BIN ?? (onPath('amtool') ? 'amtool' : null);
}

/** A free TCP port on 127.0.0.1 (bind port 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A child process with its output kept (the last 64 kB) for error messages. */
interface Managed {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

function launch(bin: string, args: string[], cwd: string): Managed {
  const child = spawn(bin, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (b: Buffer): void => {
    out = (out + b.toString()).slice(-65536);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', (err) => {
      out += `\nspawn ${bin}: ${err.message}`;
      resolve(-1);
    });
  });
  // A crashed or interrupted test run must not leave servers behind.
  const killOnExit = (): void => {
    if (child.exitCode === null) child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  void exited.then(() => process.off('exit', killOnExit));
  return { child, output: () => out, exited };
}

async function terminate(m: Managed): Promise<void> {
  if (m.child.exitCode !== null || m.child.signalCode !== null) return;
  m.child.kill('SIGTERM');
  const done = await Promise.race([m.exited.then(() => true), sleep(5000).then(() => false)]);
  if (!done) {
    m.child.kill('SIGKILL');
    await m.exited;
  }
}

/** Poll url until it answers 200 (or the process dies, or timeoutMs passes). */
async function waitReady(url: string, m: Managed, what: string, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (m.child.exitCode !== null) throw new Error(`${what} exited with ${m.child.exitCode}:\n${m.output().slice(-3000)}`);
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (r.ok) return;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > end) throw new Error(`${what} not ready at ${url} after ${timeoutMs} ms:\n${m.output().slice(-3000)}`);
    await sleep(200);
  }
}

// ---------------------------------------------------------------- Prometheus

export interface PrometheusOptions {
  /** host:port of the collector's /metrics (job tapwatch-collector). */
  collectorTarget: string;
  /** host:port of sensors' --metrics-port endpoints; none removes the sensor job. */
  sensorTargets?: string[];
  /** host:port of the Alertmanager to notify; none removes the alerting section. */
  alertmanagerTarget?: string;
  /** Scrape and rule evaluation interval (default 1s). */
  interval?: string;
  /** Listen port (default: a free one). */
  port?: number;
  /** Replaces external_labels.grafana_url, the base of the dashboard links in annotations. */
  grafanaUrl?: string;
  /** Config to start from (default deploy/prometheus/prometheus.yml). */
  configFile?: string;
  /** Folder of *.rules.yml (default deploy/prometheus/rules). */
  rulesDir?: string;
}

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface PromQueryResult {
  status: 'success' | 'error';
  errorType?: string;
  error?: string;
  data?: { resultType: string; result: unknown };
}

export interface RunningPrometheus {
  url: string;
  port: number;
  dir: string;
  /** The rewritten configuration that was started. */
  configPath: string;
  /** GET /api/v1/query; returns the JSON body also for 4xx (bad expression). */
  query(expr: string, time?: number): Promise<PromQueryResult>;
  /** Instant vector samples of expr (throws on an error answer). */
  samples(expr: string): Promise<PromSample[]>;
  /** GET /api/v1/alerts: the alerts the rules currently hold (pending and firing). */
  alerts(): Promise<Array<{ labels: Record<string, string>; annotations: Record<string, string>; state: string; value: string }>>;
  /** Health of each scrape target. */
  targets(): Promise<Array<{ job: string; health: string; scrapeUrl: string; lastError: string }>>;
  output(): string;
  stop(): Promise<void>;
}

/** Rewrite the committed prometheus.yml for a throw-away run (pure; exported for the tests). */
export function rewritePrometheusConfig(text: string, opts: PrometheusOptions & { rulesDir: string }): string {
  const doc = YAML.parse(text) as Record<string, any>;
  const interval = opts.interval ?? '1s';
  doc.global = { ...(doc.global ?? {}), scrape_interval: interval, evaluation_interval: interval, scrape_timeout: interval };
  if (opts.grafanaUrl) doc.global.external_labels = { ...(doc.global.external_labels ?? {}), grafana_url: opts.grafanaUrl };
  doc.rule_files = [path.join(opts.rulesDir, '*.rules.yml')];
  const jobs = (doc.scrape_configs ?? []) as Array<Record<string, any>>;
  const collector = jobs.find((j) => j.job_name === COLLECTOR_JOB);
  if (!collector) throw new Error(`${PROMETHEUS_CONFIG} has no job ${COLLECTOR_JOB}`);
  collector.static_configs = [{ targets: [opts.collectorTarget] }];
  delete collector.file_sd_configs;
  const sensors = jobs.find((j) => j.job_name === SENSOR_JOB);
  if (sensors) {
    sensors.static_configs = [{ targets: opts.sensorTargets ?? [] }];
    delete sensors.file_sd_configs;
  }
  doc.scrape_configs = jobs.filter((j) => j.job_name !== SENSOR_JOB || (opts.sensorTargets?.length ?? 0) > 0);
  if (opts.alertmanagerTarget) doc.alerting = { alertmanagers: [{ static_configs: [{ targets: [opts.alertmanagerTarget] }] }] };
  else delete doc.alerting;
  return YAML.stringify(doc);
}

export async function startPrometheus(opts: PrometheusOptions): Promise<RunningPrometheus> {
  const bin = prometheusBin();
  if (!bin) throw new Error('prometheus is not installed (apt-get install prometheus, or set PROMETHEUS_BIN)');
  const dir = mkdtempSync(path.join(tmpdir(), 'tapwatch-prom-'));
  try {
    const rulesDir = path.join(dir, 'rules');
    cpSync(opts.rulesDir ?? RULES_DIR, rulesDir, { recursive: true });
    const configPath = path.join(dir, 'prometheus.yml');
    writeFileSync(configPath, rewritePrometheusConfig(readFileSync(opts.configFile ?? PROMETHEUS_CONFIG, 'utf8'), { ...opts, rulesDir }));
    mkdirSync(path.join(dir, 'data'));
    const port = opts.port ?? (await freePort());
    const url = `http://127.0.0.1:${port}`;
    const m = launch(
      bin,
      [
        `--config.file=${configPath}`,
        `--storage.tsdb.path=${path.join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        `--web.external-url=${url}/`,
        '--log.level=warn',
      ],
      dir,
    );
    const stop = async (): Promise<void> => {
      await terminate(m);
      rmSync(dir, { recursive: true, force: true });
    };
    try {
      await waitReady(`${url}/-/ready`, m, 'prometheus', 30_000);
    } catch (err) {
      await stop();
      throw err;
    }
    const query = async (expr: string, time?: number): Promise<PromQueryResult> => {
      const body = new URLSearchParams({ query: expr });
      if (time !== undefined) body.set('time', String(time));
      const r = await fetch(`${url}/api/v1/query`, { method: 'POST', body });
      return (await r.json()) as PromQueryResult;
    };
    return {
      url,
      port,
      dir,
      configPath,
      query,
      async samples(expr) {
        const r = await query(expr);
        if (r.status !== 'success') throw new Error(`query ${expr}: ${r.errorType}: ${r.error}`);
        if (r.data!.resultType !== 'vector') throw new Error(`query ${expr}: ${r.data!.resultType}, not a vector`);
        return r.data!.result as PromSample[];
      },
      async alerts() {
        const r = (await (await fetch(`${url}/api/v1/alerts`)).json()) as { data: { alerts: any[] } };
        return r.data.alerts;
      },
      async targets() {
        const r = (await (await fetch(`${url}/api/v1/targets`)).json()) as { data: { activeTargets: any[] } };
        return r.data.activeTargets.map((t) => ({ job: t.labels.job, health: t.health, scrapeUrl: t.scrapeUrl, lastError: t.lastError }));
      },
      output: m.output,
      stop,
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

// -------------------------------------------------------------- Alertmanager

export interface AlertmanagerOptions {
  /** The Slack incoming-webhook URL to post to (startSlackReceiver().url in tests). */
  slackUrl: string;
  /** Listen port (default: a free one). */
  port?: number;
  /** Route timers, short for tests (defaults 1s / 1s / 1h). */
  groupWait?: string;
  groupInterval?: string;
  repeatInterval?: string;
  /** Config to start from (default deploy/alertmanager/alertmanager.yml; its templates/ folder comes along). */
  configFile?: string;
}

export interface RunningAlertmanager {
  url: string;
  port: number;
  dir: string;
  configPath: string;
  /** GET /api/v2/alerts. */
  alerts(): Promise<Array<{ labels: Record<string, string>; annotations: Record<string, string>; status: { state: string } }>>;
  output(): string;
  stop(): Promise<void>;
}

/**
 * Rewrite the committed alertmanager.yml for a throw-away run (pure): the
 * Slack URL goes into a file (slack_api_url_file, as in production, so the
 * secret is never in the config), template paths become absolute, timers short.
 */
export function rewriteAlertmanagerConfig(text: string, opts: AlertmanagerOptions & { slackUrlFile: string; templatesDir: string }): string {
  const doc = YAML.parse(text) as Record<string, any>;
  doc.global = { ...(doc.global ?? {}), slack_api_url_file: opts.slackUrlFile };
  delete doc.global.slack_api_url;
  for (const r of (doc.receivers ?? []) as Array<Record<string, any>>) {
    for (const s of (r.slack_configs ?? []) as Array<Record<string, any>>) {
      delete s.api_url;
      if (s.api_url_file) s.api_url_file = opts.slackUrlFile;
    }
  }
  doc.templates = [path.join(opts.templatesDir, '*.tmpl')];
  const shorten = (route: Record<string, any>): void => {
    if (route.group_wait !== undefined || route === doc.route) route.group_wait = opts.groupWait ?? '1s';
    if (route.group_interval !== undefined || route === doc.route) route.group_interval = opts.groupInterval ?? '1s';
    if (route.repeat_interval !== undefined || route === doc.route) route.repeat_interval = opts.repeatInterval ?? '1h';
    for (const child of (route.routes ?? []) as Array<Record<string, any>>) shorten(child);
  };
  shorten(doc.route);
  return YAML.stringify(doc);
}

export async function startAlertmanager(opts: AlertmanagerOptions): Promise<RunningAlertmanager> {
  const bin = alertmanagerBin();
  if (!bin) throw new Error('alertmanager is not installed (apt-get install prometheus-alertmanager, or set ALERTMANAGER_BIN)');
  const dir = mkdtempSync(path.join(tmpdir(), 'tapwatch-am-'));
  try {
    const templatesDir = path.join(dir, 'templates');
    cpSync(path.join(path.dirname(opts.configFile ?? ALERTMANAGER_CONFIG), 'templates'), templatesDir, { recursive: true });
    const slackUrlFile = path.join(dir, 'slack_webhook_url');
    writeFileSync(slackUrlFile, `${opts.slackUrl}\n`, { mode: 0o600 });
    const configPath = path.join(dir, 'alertmanager.yml');
    writeFileSync(configPath, rewriteAlertmanagerConfig(readFileSync(opts.configFile ?? ALERTMANAGER_CONFIG, 'utf8'), { ...opts, slackUrlFile, templatesDir }));
    mkdirSync(path.join(dir, 'data'));
    const port = opts.port ?? (await freePort());
    const url = `http://127.0.0.1:${port}`;
    const m = launch(
      bin,
      [
        `--config.file=${configPath}`,
        `--storage.path=${path.join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        // Empty address: no gossip cluster, so nothing listens on :9094 and runs never meet.
        '--cluster.listen-address=',
        '--log.level=warn',
      ],
      dir,
    );
    const stop = async (): Promise<void> => {
      await terminate(m);
      rmSync(dir, { recursive: true, force: true });
    };
    try {
      await waitReady(`${url}/-/ready`, m, 'alertmanager', 30_000);
    } catch (err) {
      await stop();
      throw err;
    }
    return {
      url,
      port,
      dir,
      configPath,
      async alerts() {
        return (await (await fetch(`${url}/api/v2/alerts`)).json()) as any;
      },
      output: m.output,
      stop,
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

// ------------------------------------------------------------ Slack receiver

/** One POST as Slack's incoming webhook would receive it (https://api.slack.com/messaging/webhooks). */
export interface SlackMessage {
  receivedAt: number;
  headers: IncomingHttpHeaders;
  /** The JSON body Alertmanager sent (text, attachments[].title/text/fields...). */
  body: Record<string, any>;
  /** Every string in the body joined by newlines: what a reader of the channel sees. */
  text: string;
}

export interface SlackReceiver {
  url: string;
  port: number;
  readonly messages: SlackMessage[];
  /** Resolves with the first message (already received or future) for which pred is true. */
  waitFor(pred: (m: SlackMessage) => boolean, timeoutMs: number): Promise<SlackMessage>;
  stop(): Promise<void>;
}

function allStrings(v: unknown, out: string[]): string[] {
  if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) for (const x of v) allStrings(x, out);
  else if (v && typeof v === 'object') for (const x of Object.values(v)) allStrings(x, out);
  return out;
}

/** An HTTP server on 127.0.0.1 that records what is posted to it and answers "ok" as Slack does. */
export async function startSlackReceiver(): Promise<SlackReceiver> {
  const messages: SlackMessage[] = [];
  const waiters = new Set<() => void>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: Record<string, any>;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, any>;
      } catch {
        res.writeHead(400, { 'content-type': 'text/plain' }).end('invalid_payload');
        return;
      }
      messages.push({ receivedAt: Date.now(), headers: req.headers, body, text: allStrings(body, []).join('\n') });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      for (const w of waiters) w();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/services/T000/B000/test`,
    port,
    messages,
    waitFor(pred, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const hit = messages.find(pred);
          if (!hit) return false;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(hit);
          return true;
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching Slack message within ${timeoutMs} ms (${messages.length} received)`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    stop() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
