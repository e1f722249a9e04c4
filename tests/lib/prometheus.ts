/**
 * What the deploy tests need to know about the Prometheus side of tapwatch:
 * the promtool/amtool checks, the rules and their unit tests as data, and
 * every PromQL expression the Grafana side runs (generated dashboards and
 * Grafana-managed alert rules), so a test can run them against a real
 * Prometheus (tests/lib/alert-stack.ts).
 *
 * Files that other parts of the project generate (dashboards/generated/*.json,
 * deploy/grafana/provisioning/alerting/*.yaml) are read as they are found
 * (globbed): none yet means an empty list, which the tests report.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { collectQueries, readGeneratedDashboards, substituteForTest, type PromQuery } from '../../dashboards/src/queries.js';
import { grafanaRuleExpressions } from './grafana-rules.js';
import { REPO_ROOT, RULES_DIR } from './alert-stack.js';

export const RULES_FILE = path.join(RULES_DIR, 'tapwatch.rules.yml');
export const RULES_TEST_FILE = path.join(RULES_DIR, 'tapwatch.rules.test.yml');
export const DASHBOARDS_GENERATED_DIR = path.join(REPO_ROOT, 'dashboards', 'generated');
export const GRAFANA_ALERTING_DIR = path.join(REPO_ROOT, 'deploy', 'grafana', 'provisioning', 'alerting');

export interface ToolRun {
  status: number;
  output: string;
}

/** Run a command line tool and keep its combined output (for the assertion message). */
export function runTool(bin: string, args: string[], cwd = REPO_ROOT): ToolRun {
  const r = spawnSync(bin, args, { cwd, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status ?? -1, output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? `\n${r.error.message}` : ''}` };
}

// ---------------------------------------------------------------- the rules

export interface RuleDef {
  group: string;
  kind: 'alert' | 'record';
  name: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** Every rule of a Prometheus rule file, in file order. */
export function readRules(file = RULES_FILE): RuleDef[] {
  const doc = YAML.parse(readFileSync(file, 'utf8')) as { groups: Array<{ name: string; rules: Array<Record<string, any>> }> };
  return doc.groups.flatMap((g) =>
    g.rules.map((r) => ({
      group: g.name,
      kind: r.alert !== undefined ? ('alert' as const) : ('record' as const),
      name: (r.alert ?? r.record) as string,
      expr: String(r.expr),
      ...(r.for !== undefined ? { for: String(r.for) } : {}),
      labels: (r.labels ?? {}) as Record<string, string>,
      annotations: (r.annotations ?? {}) as Record<string, string>,
    })),
  );
}

/** What a promtool unit test file checks, per rule name: a case where it fires (non-empty) and one where it does not. */
export interface RuleCoverage {
  firing: boolean;
  silent: boolean;
}

/**
 * Coverage of the rules by a promtool test file: alerts by alert_rule_test
 * (exp_alerts non-empty / empty), recording rules by promql_expr_test whose
 * expression names them (exp_samples non-empty / empty).
 */
export function ruleTestCoverage(testFile = RULES_TEST_FILE, recordNames: string[] = []): Map<string, RuleCoverage> {
  const doc = YAML.parse(readFileSync(testFile, 'utf8')) as { tests: Array<Record<string, any>> };
  const cov = new Map<string, RuleCoverage>();
  const mark = (name: string, fires: boolean): void => {
    const c = cov.get(name) ?? { firing: false, silent: false };
    if (fires) c.firing = true;
    else c.silent = true;
    cov.set(name, c);
  };
  for (const t of doc.tests) {
    for (const a of (t.alert_rule_test ?? []) as Array<Record<string, any>>) mark(a.alertname, ((a.exp_alerts ?? []) as unknown[]).length > 0);
    for (const e of (t.promql_expr_test ?? []) as Array<Record<string, any>>) {
      for (const name of recordNames) {
        if (String(e.expr).includes(name)) mark(name, ((e.exp_samples ?? []) as unknown[]).length > 0);
      }
    }
  }
  return cov;
}

/** Metric names (tapwatch_… and recording rules tapwatch:…) an expression reads. */
export function metricNamesIn(expr: string): string[] {
  return [...new Set(expr.match(/\btapwatch[_:][a-z0-9_:]+/g) ?? [])];
}

// ------------------------------------------------- the Grafana side's PromQL

export interface SourcedQuery {
  /** Where the expression comes from, for failure messages. */
  source: string;
  expr: string;
}

function jsonFiles(dir: string, ext: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(ext))
    .sort()
    .map((f) => path.join(dir, f));
}

/**
 * Every Prometheus query of the generated dashboards, as the dashboards
 * list them (dashboards/src/queries.ts collectQueries over the committed
 * dashboards/generated/*.json); none when nothing is generated yet.
 */
export function dashboardQueries(dir = DASHBOARDS_GENERATED_DIR): SourcedQuery[] {
  if (jsonFiles(dir, '.json').length === 0) return [];
  return collectQueries(readGeneratedDashboards(dir))
    .filter((q): q is PromQuery => q.kind === 'promql')
    .map((q) => ({ source: `dashboards/generated ${q.dashboard} / ${q.panel} [${q.refId}]`, expr: q.expr }));
}

/**
 * Every `expr` string found anywhere in the generated dashboard JSON (an
 * independent walk, so a test can check that collectQueries misses none).
 */
export function rawDashboardExprs(dir = DASHBOARDS_GENERATED_DIR): string[] {
  const out: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === 'object') {
      for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
        if (k === 'expr' && typeof v === 'string' && v.trim() !== '') out.push(v);
        else walk(v);
      }
    }
  };
  for (const file of jsonFiles(dir, '.json')) walk(JSON.parse(readFileSync(file, 'utf8')));
  return out;
}

/** The PromQL of every Grafana-managed alert rule in deploy/grafana/provisioning/alerting/*.yaml. */
export function grafanaAlertQueries(dir = GRAFANA_ALERTING_DIR): SourcedQuery[] {
  const out: SourcedQuery[] = [];
  for (const file of [...jsonFiles(dir, '.yaml'), ...jsonFiles(dir, '.yml')]) {
    const doc = YAML.parse(readFileSync(file, 'utf8')) as Record<string, unknown> | null;
    if (!doc || !Array.isArray(doc.groups)) continue; // contact points, policies, templates
    for (const r of grafanaRuleExpressions(file)) out.push({ source: `${path.relative(REPO_ROOT, file)} / ${r.title}`, expr: r.expr });
  }
  return out;
}

/** Grafana's variables and macros replaced as the dashboards define it (dashboards/src/queries.ts substituteForTest). */
export const substituteGrafanaVariables = (expr: string): string => substituteForTest(expr);
