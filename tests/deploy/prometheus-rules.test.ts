/**
 * deploy/prometheus and deploy/alertmanager checked by the real tools:
 * `promtool check config`, `promtool check rules`, `promtool test rules`,
 * `amtool check-config`; every rule has a unit test where it fires and one
 * where it stays silent, and mutating a rule breaks its tests (so the tests
 * really pin each rule down); every rule names metrics that exist, carries
 * a severity, a summary, a description and a dashboard link.
 * Skips with a message when promtool/amtool are missing, except under CI.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { METRICS } from '../../collector/src/names.js';
import { DASHBOARD_UIDS } from '../../dashboards/src/uids.js';
import { ALERTMANAGER_CONFIG, amtoolBin, PROMETHEUS_CONFIG, promtoolBin, rewriteAlertmanagerConfig, rewritePrometheusConfig } from '../lib/alert-stack.js';
import { metricNamesIn, readRules, RULES_FILE, RULES_TEST_FILE, ruleTestCoverage, runTool } from '../lib/prometheus.js';

const promtool = promtoolBin();
const amtool = amtoolBin();
const IN_CI = process.env.CI === 'true' || process.env.CI === '1';
if ((!promtool || !amtool) && IN_CI) throw new Error('promtool and amtool are required under CI (apt-get install prometheus prometheus-alertmanager)');
if (!promtool || !amtool) console.warn('skipping tests/deploy/prometheus-rules: promtool or amtool not installed');

const rules = readRules();
const alerts = rules.filter((r) => r.kind === 'alert');
const records = rules.filter((r) => r.kind === 'record');
const dashboardUids = Object.values(DASHBOARD_UIDS) as string[];

describe.skipIf(!promtool || !amtool)('Prometheus rules and Alertmanager config (real promtool/amtool)', () => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'tapwatch-rules-test-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('promtool check config accepts prometheus.yml (and the rule files it names)', () => {
    const r = runTool(promtool!, ['check', 'config', PROMETHEUS_CONFIG]);
    expect(r.output).toContain('SUCCESS');
    expect(r.status, r.output).toBe(0);
    expect(r.output).toMatch(/1 rule files found/);
  });

  it('promtool check rules accepts the rules', () => {
    const r = runTool(promtool!, ['check', 'rules', RULES_FILE]);
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain(`${rules.length} rules found`);
  });

  it('promtool test rules passes', () => {
    const r = runTool(promtool!, ['test', 'rules', RULES_TEST_FILE]);
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain('SUCCESS');
  });

  it('amtool check-config accepts alertmanager.yml and its templates', () => {
    const r = runTool(amtool!, ['check-config', ALERTMANAGER_CONFIG]);
    expect(r.status, r.output).toBe(0);
    expect(r.output).toMatch(/1 templates\s+SUCCESS/);
    expect(r.output).toMatch(/1 receivers/);
  });

  it('the configs the test stack rewrites stay valid for the tools', () => {
    const prom = path.join(tmp, 'prometheus.yml');
    writeFileSync(prom, rewritePrometheusConfig(readFileSync(PROMETHEUS_CONFIG, 'utf8'), {
      collectorTarget: '127.0.0.1:1', sensorTargets: ['127.0.0.1:2'], alertmanagerTarget: '127.0.0.1:3', rulesDir: path.dirname(RULES_FILE),
    }));
    const p = runTool(promtool!, ['check', 'config', prom]);
    expect(p.status, p.output).toBe(0);
    const am = path.join(tmp, 'alertmanager.yml');
    writeFileSync(am, rewriteAlertmanagerConfig(readFileSync(ALERTMANAGER_CONFIG, 'utf8'), {
      slackUrl: 'http://127.0.0.1:1/hook', slackUrlFile: path.join(tmp, 'slack_url'), templatesDir: path.join(path.dirname(ALERTMANAGER_CONFIG), 'templates'),
    }));
    const a = runTool(amtool!, ['check-config', am]);
    expect(a.status, a.output).toBe(0);
  });

  it('routes group by alert name, finding type and sensor, with repeat limits, to Slack with the secret in a file', () => {
    const doc = YAML.parse(readFileSync(ALERTMANAGER_CONFIG, 'utf8')) as Record<string, any>;
    expect(doc.route.group_by).toEqual(['alertname', 'type', 'sensor']);
    expect(doc.route.repeat_interval).toBeTruthy();
    expect(doc.route.routes.every((r: Record<string, unknown>) => typeof r.repeat_interval === 'string')).toBe(true);
    expect(doc.global.slack_api_url_file).toMatch(/^\//);
    const text = readFileSync(ALERTMANAGER_CONFIG, 'utf8');
    expect(text).not.toMatch(/hooks\.slack\.com\/services\/T/);
    expect(text).not.toMatch(/^\s*(slack_)?api_url:/m);
    // The critical route really picks critical alerts, everything else stays on the default.
    const routed = runTool(amtool!, ['config', 'routes', 'test', `--config.file=${ALERTMANAGER_CONFIG}`, '--verify.receivers=slack-tapwatch', 'severity=critical', 'alertname=TapwatchOpenFinding']);
    expect(routed.status, routed.output).toBe(0);
  });

  it('every rule has unit tests where it fires and where it stays silent', () => {
    const cov = ruleTestCoverage(RULES_TEST_FILE, records.map((r) => r.name));
    const missing = rules.filter((r) => !cov.get(r.name)?.firing || !cov.get(r.name)?.silent).map((r) => `${r.name} ${JSON.stringify(cov.get(r.name) ?? {})}`);
    expect(missing).toEqual([]);
    expect(alerts.length).toBeGreaterThanOrEqual(9);
  });

  // Mutation check: if a rule's expression is replaced by one that never
  // yields anything, or by one that always does, its unit tests must notice.
  for (const rule of rules) {
    it(`the unit tests catch a broken ${rule.name}`, () => {
      for (const [what, broken] of [['never fires', 'vector(1) == 0'], ['always fires', 'vector(1)']] as const) {
        const dir = mkdtempSync(path.join(tmp, 'mut-'));
        const doc = YAML.parse(readFileSync(RULES_FILE, 'utf8')) as { groups: Array<{ rules: Array<Record<string, unknown>> }> };
        for (const g of doc.groups) for (const r of g.rules) if (r.alert === rule.name || r.record === rule.name) r.expr = broken;
        writeFileSync(path.join(dir, 'tapwatch.rules.yml'), YAML.stringify(doc));
        copyFileSync(RULES_TEST_FILE, path.join(dir, 'tapwatch.rules.test.yml'));
        const r = runTool(promtool!, ['test', 'rules', path.join(dir, 'tapwatch.rules.test.yml')]);
        expect(r.status, `${rule.name} mutated to "${what}" still passes:\n${r.output}`).not.toBe(0);
        if (rule.kind === 'alert') expect(r.output).toContain(`alertname: ${rule.name}`);
      }
    });
  }
});

describe('rule contents', () => {
  const known = new Set<string>([...Object.values(METRICS), ...records.map((r) => r.name)]);

  it('every alert has a severity, a summary, a description and a dashboard link built from grafana_url', () => {
    for (const a of alerts) {
      expect(a.labels.severity, a.name).toMatch(/^(critical|warning|\{\{ \$labels\.severity \}\})$/);
      expect(a.annotations.summary, a.name).toBeTruthy();
      expect(a.annotations.description, a.name).toBeTruthy();
      const link = a.annotations.dashboard ?? '';
      expect(link, a.name).toMatch(/^\{\{ \$externalLabels\.grafana_url \}\}\/d\/([\w-]+)/);
      expect(dashboardUids, a.name).toContain(/\/d\/([\w-]+)/.exec(link)![1]);
    }
  });

  it('finding alerts name the finding type and the sensor', () => {
    for (const a of alerts.filter((x) => /Finding/.test(x.name))) {
      for (const field of ['summary', 'description'] as const) {
        expect(a.annotations[field], `${a.name} ${field}`).toContain('{{ $labels.type }}');
        expect(a.annotations[field], `${a.name} ${field}`).toContain('{{ $labels.sensor }}');
      }
    }
  });

  it('every tapwatch_collector_* metric a rule reads exists in collector/src/names.ts', () => {
    const unknown = rules.flatMap((r) => metricNamesIn(r.expr).filter((m) => m.startsWith('tapwatch_collector_') || m.startsWith('tapwatch:')).filter((m) => !known.has(m)).map((m) => `${r.name}: ${m}`));
    expect(unknown).toEqual([]);
  });
});
