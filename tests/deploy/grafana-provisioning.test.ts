/**
 * deploy/grafana/provisioning against Grafana's documented file formats and
 * against the rest of tapwatch:
 * - every file validates against a JSON Schema transcribed from Grafana's
 *   provisioning documentation (tests/deploy/grafana-schemas/, each citing its page);
 * - every data source uid a rule uses is provisioned (and matches what the
 *   dashboards import, once dashboards/src/datasources.ts exists);
 * - every metric a rule selects exists in collector/src/names.ts METRICS;
 * - every PromQL expression parses (promtool), and the notification
 *   templates render (amtool, Alertmanager's template engine, which Grafana's
 *   notifier shares) naming the call, parties, copy destination and sensor;
 * - the dashboard provider path is where deploy/ mounts dashboards/generated,
 *   and the templates link only to generated dashboards and their variables;
 * - the policy's receivers and the templates the contact point calls exist;
 * - nothing Grafana would expand as an environment variable hides in a label
 *   or template, and the Slack webhook URL is never written down.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { METRICS } from '../../collector/src/names.js';
import {
  GRAFANA_POSTGRES_UID, GRAFANA_PROMETHEUS_UID, GRAFANA_PROVISIONING_DIR, grafanaRuleExpressions, grafanaRules, promqlMetricNames, REPO_ROOT,
  type GrafanaRule,
} from '../lib/grafana-rules.js';

const SCHEMA_DIR = path.join(REPO_ROOT, 'tests', 'deploy', 'grafana-schemas');
/** Where deploy/compose and deploy/k8s mount dashboards/generated inside the Grafana container. */
const DASHBOARDS_MOUNT = '/var/lib/grafana/dashboards/tapwatch';
/** Prometheus' own per-target metric; not a collector metric. */
const PROMETHEUS_BUILTIN_METRICS = new Set(['up']);

const FILES = {
  datasources: 'datasources/tapwatch.yaml',
  dashboards: 'dashboards/tapwatch.yaml',
  rules: 'alerting/rules.yaml',
  contactPoints: 'alerting/contact-points.yaml',
  policies: 'alerting/policies.yaml',
  templates: 'alerting/templates.yaml',
} as const;
const SCHEMAS: Record<keyof typeof FILES, string> = {
  datasources: 'datasources.schema.json',
  dashboards: 'dashboard-providers.schema.json',
  rules: 'alert-rules.schema.json',
  contactPoints: 'contact-points.schema.json',
  policies: 'policies.schema.json',
  templates: 'templates.schema.json',
};

const read = (rel: string): string => readFileSync(path.join(GRAFANA_PROVISIONING_DIR, rel), 'utf8');
const load = <T = any>(key: keyof typeof FILES): T => parseYaml(read(FILES[key])) as T; // eslint-disable-line @typescript-eslint/no-explicit-any

// strictTypes/strictRequired off: the transcribed schemas use if/then and anyOf-of-required without repeating `type`/`properties` in every branch.
const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false, strictRequired: false, allowUnionTypes: true });
const validators = Object.fromEntries(
  Object.entries(SCHEMAS).map(([k, file]) => [k, ajv.compile(JSON.parse(readFileSync(path.join(SCHEMA_DIR, file), 'utf8')))]),
) as Record<keyof typeof FILES, ReturnType<typeof ajv.compile>>;
const errorsText = (errs: ErrorObject[] | null | undefined): string => (errs ?? []).map((e) => `${e.instancePath} ${e.message}`).join('; ');

/** Receivers named anywhere in a policy tree. */
function receivers(route: { receiver?: string; routes?: unknown[] }): string[] {
  return [...(route.receiver ? [route.receiver] : []), ...((route.routes ?? []) as Array<typeof route>).flatMap(receivers)];
}

/** Template names used by {{ template "x" . }} in a text. */
const templateCalls = (text: string): string[] => [...text.matchAll(/\{\{-?\s*template\s+"([^"]+)"/g)].map((m) => m[1]!);
const templateDefines = (text: string): string[] => [...text.matchAll(/\{\{-?\s*define\s+"([^"]+)"/g)].map((m) => m[1]!);
/** What Grafana's provisioning would expand: $NAME or ${NAME} not written as $$. */
const envRefs = (text: string): string[] => [...text.matchAll(/(?<!\$)\$(\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!.replace(/[{}]/g, ''));

describe('Grafana provisioning files match the documented formats', () => {
  for (const key of Object.keys(FILES) as Array<keyof typeof FILES>) {
    it(`${FILES[key]} validates against ${SCHEMAS[key]}`, () => {
      const ok = validators[key](load(key));
      expect(errorsText(validators[key].errors), 'schema errors').toBe('');
      expect(ok).toBe(true);
    });
  }

  it('the schemas refuse what Grafana would not load (they are not vacuous)', () => {
    const rules = load('rules');
    const badRule = structuredClone(rules);
    badRule.groups[0].rules[0].noDataState = 'Maybe';
    expect(validators.rules(badRule)).toBe(false);
    const badExpr = structuredClone(rules);
    badExpr.groups[0].rules[0].data[1].model.datasource = { type: 'prometheus', uid: GRAFANA_PROMETHEUS_UID };
    expect(validators.rules(badExpr)).toBe(false);
    const cps = load('contactPoints');
    const noUrl = structuredClone(cps);
    delete noUrl.contactPoints[0].receivers[0].settings.url;
    expect(validators.contactPoints(noUrl)).toBe(false);
    const badPolicy = structuredClone(load('policies'));
    badPolicy.policies[0].group_wait = '30 seconds';
    expect(validators.policies(badPolicy)).toBe(false);
    const badProvider = structuredClone(load('dashboards'));
    badProvider.providers[0].options.path = 'relative/path';
    expect(validators.dashboards(badProvider)).toBe(false);
  });
});

describe('cross-references', () => {
  const datasources = load<{ datasources: Array<{ uid: string; type: string; url: string; user?: string; secureJsonData?: Record<string, string>; jsonData?: Record<string, unknown> }> }>('datasources');
  const rules: GrafanaRule[] = grafanaRules();

  it('provisions the two data sources under the uids the dashboards and rules use', async () => {
    const uids = datasources.datasources.map((d) => d.uid).sort();
    expect(uids).toEqual([GRAFANA_POSTGRES_UID, GRAFANA_PROMETHEUS_UID].sort());
    const byUid = new Map(datasources.datasources.map((d) => [d.uid, d]));
    expect(byUid.get(GRAFANA_PROMETHEUS_UID)!.type).toBe('prometheus');
    expect(byUid.get(GRAFANA_POSTGRES_UID)!.type).toBe('postgres');
    // Credentials are never literal: they come from Grafana's environment.
    const pgDs = byUid.get(GRAFANA_POSTGRES_UID)!;
    expect(envRefs(pgDs.secureJsonData!.password!)).toHaveLength(1);
    expect(envRefs(pgDs.user!)).toHaveLength(1);
    expect(envRefs(pgDs.url)).toHaveLength(1);
    // Once the dashboards helper's module exists, it must agree.
    const dsModule = path.join(REPO_ROOT, 'dashboards', 'src', 'datasources.ts');
    if (existsSync(dsModule)) {
      const m = (await import(dsModule)) as { PROMETHEUS_DS_UID?: string; POSTGRES_DS_UID?: string };
      expect(m.PROMETHEUS_DS_UID).toBe(GRAFANA_PROMETHEUS_UID);
      expect(m.POSTGRES_DS_UID).toBe(GRAFANA_POSTGRES_UID);
    }
  });

  it('every data source a rule queries is provisioned, and every expression refers to an existing refId', () => {
    const provisioned = new Set(datasources.datasources.map((d) => d.uid));
    expect(rules.length).toBeGreaterThanOrEqual(7);
    const referenced = new Set(rules.flatMap((r) => r.data.map((q) => q.datasourceUid)));
    expect(referenced.has(GRAFANA_PROMETHEUS_UID)).toBe(true);
    for (const rule of rules) {
      const refIds = new Set(rule.data.map((q) => q.refId));
      expect(refIds.has(rule.condition), `${rule.uid}: condition ${rule.condition}`).toBe(true);
      for (const q of rule.data) {
        if (q.datasourceUid === '__expr__') {
          const ref = q.model.expression as string;
          expect(refIds.has(ref) && ref !== q.refId, `${rule.uid}/${q.refId} reads ${ref}`).toBe(true);
        } else {
          expect(provisioned.has(q.datasourceUid), `${rule.uid} uses ${q.datasourceUid}`).toBe(true);
          expect((q.model.datasource as { uid: string }).uid).toBe(q.datasourceUid);
        }
      }
    }
    expect(new Set(rules.map((r) => r.uid)).size).toBe(rules.length);
  });

  it('covers new critical and warning findings, silent and dropping sensors, consumer lag and the collector being down', () => {
    const exprs = grafanaRuleExpressions();
    const text = exprs.map((e) => e.expr).join('\n');
    expect(text).toMatch(/tapwatch_collector_findings_total\{severity="critical"\}/);
    expect(text).toMatch(/tapwatch_collector_findings_total\{severity="warning"\}/);
    expect(text).toContain(METRICS.sensorLastSeen);
    expect(text).toContain(METRICS.sensorKernelDrops);
    expect(text).toContain(METRICS.sensorPacketRate);
    expect(text).toContain(METRICS.consumerLag);
    expect(text).toMatch(/up\{job="tapwatch-collector"\}/);
    expect(text).toContain(`${METRICS.openFindingInfo}{severity="critical"}`);
  });

  it('every metric a rule selects exists in collector/src/names.ts (METRICS)', () => {
    const known = new Set<string>(Object.values(METRICS));
    const exprs = grafanaRuleExpressions();
    expect(exprs.length).toBeGreaterThanOrEqual(6);
    for (const { uid, expr } of exprs) {
      const names = promqlMetricNames(expr);
      expect(names.length, `${uid} selects no metric`).toBeGreaterThan(0);
      for (const n of names) expect(known.has(n) || PROMETHEUS_BUILTIN_METRICS.has(n), `${uid}: unknown metric ${n}`).toBe(true);
    }
    // The extractor sees a misspelt name, and skips functions, keywords and labels.
    expect(promqlMetricNames('sum by (sensor) (rate(tapwatch_collector_findings_totl{type="x"}[5m] offset 1h)) > bool 0')).toEqual(['tapwatch_collector_findings_totl']);
  });

  it('the collector job the rules select on is scraped by deploy/prometheus (when that file exists)', () => {
    const promConfig = path.join(REPO_ROOT, 'deploy', 'prometheus', 'prometheus.yml');
    const jobs = grafanaRuleExpressions().flatMap((e) => [...e.expr.matchAll(/job="([^"]+)"/g)].map((m) => m[1]!));
    expect(jobs).toContain('tapwatch-collector');
    if (!existsSync(promConfig)) return;
    const doc = parseYaml(readFileSync(promConfig, 'utf8')) as { scrape_configs?: Array<{ job_name: string }> };
    const scraped = new Set((doc.scrape_configs ?? []).map((s) => s.job_name));
    for (const j of jobs) expect(scraped.has(j), `job ${j} in deploy/prometheus/prometheus.yml`).toBe(true);
  });

  it('the dashboard provider reads the folder deploy/ mounts dashboards/generated into', () => {
    const providers = load<{ providers: Array<{ options: { path: string } }> }>('dashboards').providers;
    expect(providers.map((p) => p.options.path)).toEqual([DASHBOARDS_MOUNT]);
    // Every compose/k8s file that mounts the generated dashboards mounts them there.
    const deployFiles: string[] = [];
    const walk = (dir: string): void => {
      if (!existsSync(dir)) return;
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (/\.ya?ml$/.test(e.name)) deployFiles.push(p);
      }
    };
    walk(path.join(REPO_ROOT, 'deploy', 'compose'));
    walk(path.join(REPO_ROOT, 'deploy', 'k8s'));
    for (const f of deployFiles) {
      const text = readFileSync(f, 'utf8');
      if (!/dashboards\/generated|grafana\/dashboards/.test(text)) continue;
      expect(text, `${path.relative(REPO_ROOT, f)} mounts the dashboards at ${DASHBOARDS_MOUNT}`).toContain(DASHBOARDS_MOUNT);
    }
  });

  it('the policy tree only routes to provisioned contact points', () => {
    const cps = new Set(load<{ contactPoints: Array<{ name: string }> }>('contactPoints').contactPoints.map((c) => c.name));
    const policies = load<{ policies: Array<{ receiver: string; group_by: string[]; routes?: unknown[] }> }>('policies').policies;
    const used = policies.flatMap(receivers);
    expect(used.length).toBeGreaterThan(0);
    for (const r of used) expect(cps.has(r), `receiver ${r}`).toBe(true);
    expect(policies[0]!.group_by).toEqual(['alertname', 'type', 'sensor']);
  });

  it('every template the contact point calls is defined, and templates call only defined templates', () => {
    const templates = load<{ templates: Array<{ name: string; template: string }> }>('templates').templates;
    const defined = new Set(templates.flatMap((t) => templateDefines(t.template)));
    const settings = load<{ contactPoints: Array<{ receivers: Array<{ settings: Record<string, string> }> }> }>('contactPoints')
      .contactPoints.flatMap((c) => c.receivers.map((r) => r.settings));
    const called = [...settings.flatMap((s) => Object.values(s).flatMap((v) => templateCalls(String(v)))), ...templates.flatMap((t) => templateCalls(t.template))];
    expect(called).toContain('tapwatch.slack.text');
    expect(called).toContain('tapwatch.slack.title');
    for (const c of called) expect(defined.has(c), `template ${c}`).toBe(true);
    // The message names the call, the parties, the copy destination or relay, the sensor, and links the dashboards.
    const body = templates.map((t) => t.template).join('\n');
    for (const label of ['call_id', 'parties', 'copy_to', 'relay', 'sensor', 'finding_id']) expect(body).toContain(`.Labels.${label}`);
    expect(body).toContain('.ExternalURL');
  });

  it('every label a template reads is one some rule produces (a by-label of its expression or a rule label)', () => {
    const produced = new Set(['alertname', 'grafana_folder']);
    for (const rule of rules) for (const k of Object.keys(rule.labels ?? {})) produced.add(k);
    for (const { expr } of grafanaRuleExpressions()) {
      for (const m of expr.matchAll(/\bby\s*\(([^)]*)\)/g)) for (const l of m[1]!.split(',')) produced.add(l.trim());
      if (/\babsent\(/.test(expr)) for (const m of expr.matchAll(/([a-z_]+)="[^"]*"/g)) produced.add(m[1]!);
    }
    const body = load<{ templates: Array<{ template: string }> }>('templates').templates.map((t) => t.template).join('\n');
    const read = [...new Set([...body.matchAll(/\.(?:Common)?Labels\.([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!))];
    expect(read.length).toBeGreaterThan(5);
    for (const l of read) expect(produced.has(l), `label ${l}`).toBe(true);
    // And the open-finding labels the rules group by are the ones the collector's gauge carries.
    const metricsSrc = readFileSync(path.join(REPO_ROOT, 'collector', 'src', 'plugins', 'metrics.ts'), 'utf8');
    for (const l of ['finding_id', 'call_id', 'parties', 'copy_to', 'relay']) expect(metricsSrc).toContain(`'${l}'`);
  });

  it('the templates link only to generated dashboards and to variables those dashboards define', () => {
    const genDir = path.join(REPO_ROOT, 'dashboards', 'generated');
    const body = load<{ templates: Array<{ template: string }> }>('templates').templates.map((t) => t.template).join('\n');
    const links = [...body.matchAll(/\/d\/([a-z0-9-]+)\/[a-z0-9-]+(?:\?var-([A-Za-z]+)=)?/g)].map((m) => ({ uid: m[1]!, variable: m[2] }));
    expect(links.length).toBeGreaterThanOrEqual(3);
    if (!existsSync(genDir)) return; // `npm run dashboards` not run yet
    const dashboards = new Map<string, { tags?: string[]; templating?: { list?: Array<{ name: string }> } }>();
    for (const f of readdirSync(genDir).filter((f) => f.endsWith('.json'))) {
      const d = JSON.parse(readFileSync(path.join(genDir, f), 'utf8'));
      dashboards.set(d.uid, d);
    }
    for (const { uid, variable } of links) {
      const d = dashboards.get(uid);
      expect(d, `dashboard ${uid} in dashboards/generated`).toBeDefined();
      if (variable) expect((d!.templating?.list ?? []).map((v) => v.name), `variable ${variable} of ${uid}`).toContain(variable);
    }
    // The "all dashboards" link lists them by tag.
    expect([...dashboards.values()].every((d) => d.tags?.includes('tapwatch'))).toBe(true);
  });

  it('no stray environment expansion: labels and templates hold no $, the webhook URL comes only from $SLACK_WEBHOOK_URL', () => {
    for (const rule of rules) for (const [k, v] of Object.entries(rule.labels ?? {})) expect(envRefs(v), `${rule.uid} label ${k}`).toEqual([]);
    for (const t of load<{ templates: Array<{ template: string }> }>('templates').templates) expect(envRefs(t.template)).toEqual([]);
    const slack = load<{ contactPoints: Array<{ receivers: Array<{ type: string; settings: Record<string, string> }> }> }>('contactPoints')
      .contactPoints.flatMap((c) => c.receivers).filter((r) => r.type === 'slack');
    expect(slack.length).toBeGreaterThanOrEqual(1);
    for (const r of slack) {
      expect(r.settings.url).toBe('$SLACK_WEBHOOK_URL');
      for (const [k, v] of Object.entries(r.settings)) if (k !== 'url') expect(envRefs(v), `settings.${k}`).toEqual([]);
    }
    for (const rel of Object.values(FILES)) expect(read(rel), rel).not.toMatch(/hooks\.slack\.com\/services\/[A-Z0-9]/);
  });
});

const promtool = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' }).status === 0 ? 'promtool' : null;
describe.skipIf(!promtool && process.env.CI !== 'true')('PromQL of the Grafana rules (promtool)', () => {
  it('every expression parses', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tw-grafana-promql-'));
    try {
      const file = path.join(dir, 'rules.yml');
      const exprs = grafanaRuleExpressions();
      // promtool only checks rule files, so each expression becomes one alerting rule.
      const groups = [{ name: 'grafana', rules: exprs.map((e) => ({ alert: e.title, expr: e.expr })) }];
      writeFileSync(file, JSON.stringify({ groups }));
      const r = spawnSync(promtool ?? 'promtool', ['check', 'rules', file], { encoding: 'utf8' });
      expect(`${r.stdout}${r.stderr}`).toContain(`SUCCESS: ${exprs.length} rules found`);
      expect(r.status).toBe(0);
      // And it would have noticed a broken one.
      writeFileSync(file, JSON.stringify({ groups: [{ name: 'bad', rules: [{ alert: 'Bad', expr: 'sum by (sensor (x)' }] }] }));
      expect(spawnSync(promtool ?? 'promtool', ['check', 'rules', file], { encoding: 'utf8' }).status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!promtool && process.env.CI !== 'true')('new-finding rules behave as intended (promtool test rules)', () => {
  it('fire once per new finding with its call labels, fall back to the counter for findings the gauge lacks, and end after 5 minutes', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tw-grafana-findings-'));
    try {
      const exprs = grafanaRuleExpressions().filter((e) => e.uid === 'tapwatch-new-critical-finding');
      expect(exprs).toHaveLength(1);
      writeFileSync(path.join(dir, 'rules.yml'), JSON.stringify({ groups: [{ name: 'g', rules: [{ alert: 'NewCritical', expr: exprs[0]!.expr }] }] }));
      const finding = 'finding_id="f-1",type="duplicate_stream",severity="critical",sensor="edge-1",call_id="abc@h",copy_to="10.10.3.2:4000",parties="sip:a@h -> sip:b@h"';
      const test = {
        rule_files: ['rules.yml'],
        evaluation_interval: '1m',
        tests: [{
          interval: '1m',
          input_series: [
            // Two collectors of one group report the same open finding from minute 10 on.
            { series: `${METRICS.openFindingInfo}{instance="c1",${finding}}`, values: '_x10 1x20' },
            { series: `${METRICS.openFindingInfo}{instance="c2",${finding}}`, values: '_x10 1x20' },
            { series: `${METRICS.findings}{instance="c1",type="duplicate_stream",severity="critical",sensor="edge-1"}`, values: '_x10 1x20' },
            // A finding the gauge does not show (beyond its limit): only the counter moves, 2 -> 3 at minute 13.
            { series: `${METRICS.findings}{instance="c1",type="signaling_copy",severity="critical",sensor="edge-2"}`, values: '2x12 3x18' }, // 3 from minute 13
            // A warning finding is not this rule's business.
            { series: `${METRICS.findings}{instance="c1",type="unexpected_relay",severity="warning",sensor="edge-1"}`, values: '_x10 1x20' },
          ],
          alert_rule_test: [
            { eval_time: '9m', alertname: 'NewCritical', exp_alerts: [] },
            {
              eval_time: '14m', alertname: 'NewCritical',
              exp_alerts: [
                { exp_labels: { finding_id: 'f-1', type: 'duplicate_stream', severity: 'critical', sensor: 'edge-1', call_id: 'abc@h', copy_to: '10.10.3.2:4000', parties: 'sip:a@h -> sip:b@h' } },
                { exp_labels: { type: 'signaling_copy', severity: 'critical', sensor: 'edge-2' } },
              ],
            },
            { eval_time: '20m', alertname: 'NewCritical', exp_alerts: [] },
          ],
        }],
      };
      writeFileSync(path.join(dir, 'test.yml'), JSON.stringify(test));
      const r = spawnSync(promtool ?? 'promtool', ['test', 'rules', 'test.yml'], { cwd: dir, encoding: 'utf8' });
      expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const amtool = spawnSync('sh', ['-c', 'command -v amtool'], { encoding: 'utf8' }).status === 0 ? 'amtool' : null;
describe.skipIf(!amtool && process.env.CI !== 'true')('notification templates render (amtool template render)', () => {
  it('names the call, parties, copy destination, sensor, evidence URL and dashboard links; no template errors', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tw-grafana-tpl-'));
    try {
      const tpl = path.join(dir, 'tapwatch.tmpl');
      writeFileSync(tpl, load<{ templates: Array<{ template: string }> }>('templates').templates.map((t) => t.template).join('\n'));
      const alert = (status: string, labels: Record<string, string>, annotations: Record<string, string>, rule: string) => ({
        status, labels, annotations, startsAt: '2026-11-26T10:00:00Z', endsAt: '0001-01-01T00:00:00Z',
        generatorURL: `https://grafana.example.net/alerting/grafana/${rule}/view?orgId=1`, fingerprint: rule,
      });
      // Alertmanager's template data (https://prometheus.io/docs/alerting/latest/notifications/#data), which Grafana's extends.
      const data = {
        receiver: 'tapwatch-slack-findings', status: 'firing', externalURL: 'https://grafana.example.net',
        groupLabels: { alertname: 'TapwatchNewCriticalFinding' },
        commonLabels: { alertname: 'TapwatchNewCriticalFinding', type: 'duplicate_stream', sensor: 'edge-1' }, commonAnnotations: {},
        alerts: [
          alert('firing', {
            alertname: 'TapwatchNewCriticalFinding', finding_id: 'f-1', type: 'duplicate_stream', severity: 'critical', sensor: 'edge-1',
            call_id: 'abc@10.10.1.2', copy_to: '10.10.3.2:4000', parties: 'sip:alice@10.10.1.2 -> sip:bob@10.10.2.2',
          }, { summary: 'New critical duplicate_stream on sensor edge-1, call abc@10.10.1.2' }, 'tapwatch-new-critical-finding'),
          alert('firing', { alertname: 'TapwatchNewWarningFinding', type: 'unexpected_relay', severity: 'warning', sensor: 'edge-2', relay: '10.10.4.2:30000', call_id: 'xyz@h' }, {}, 'tapwatch-new-warning-finding'),
          alert('resolved', { alertname: 'TapwatchSensorSilent', sensor: 'edge-3', severity: 'critical' }, { summary: 'Sensor edge-3 silent' }, 'tapwatch-sensor-silent'),
        ],
      };
      const dataFile = path.join(dir, 'data.json');
      writeFileSync(dataFile, JSON.stringify(data));
      const render = (text: string): { out: string; status: number | null } => {
        const r = spawnSync(amtool ?? 'amtool', ['template', 'render', `--template.glob=${tpl}`, `--template.data=${dataFile}`, `--template.text=${text}`], { encoding: 'utf8' });
        return { out: `${r.stdout}${r.stderr}`, status: r.status };
      };
      const title = render('{{ template "tapwatch.slack.title" . }}');
      expect(title.status, title.out).toBe(0);
      expect(title.out.trim()).toBe('[FIRING:2] TapwatchNewCriticalFinding duplicate_stream on sensor edge-1');
      const text = render('{{ template "tapwatch.slack.text" . }}');
      expect(text.status, text.out).toBe(0);
      for (const want of [
        'call: abc@10.10.1.2', 'parties: sip:alice@10.10.1.2 -> sip:bob@10.10.2.2', 'copied to: 10.10.3.2:4000', 'relay: 10.10.4.2:30000',
        'sensor: edge-1', 'evidence: GET /api/findings/f-1 on the collector',
        'https://grafana.example.net/d/tapwatch-call/tapwatch-call?var-callId=abc%4010.10.1.2',
        'Resolved:', 'https://grafana.example.net/d/tapwatch-sensor-health/tapwatch-sensor-health?var-sensor=edge-3',
        'All tapwatch dashboards: https://grafana.example.net/dashboards?tag=tapwatch',
      ]) expect(text.out).toContain(want);
      expect(text.out).not.toContain('<no value>');
      // A broken template is reported, so the checks above mean something.
      expect(render('{{ template "tapwatch.no.such" . }}').status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
