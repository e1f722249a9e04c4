/**
 * The Grafana-managed alert rules of deploy/grafana/provisioning/alerting/rules.yaml,
 * read as Grafana reads them, for tests that run their queries against real
 * services: grafanaRuleExpressions() gives each Prometheus rule's PromQL (a
 * non-empty result with values > 0 means "fires", see the file's header).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';

const twoUp = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The checkout, also when this module runs compiled from dist/tests/lib. */
export const REPO_ROOT = path.basename(twoUp) === 'dist' && existsSync(path.join(twoUp, '..', 'package.json')) ? path.dirname(twoUp) : twoUp;
export const GRAFANA_PROVISIONING_DIR = path.join(REPO_ROOT, 'deploy', 'grafana', 'provisioning');
export const GRAFANA_RULES_FILE = path.join(GRAFANA_PROVISIONING_DIR, 'alerting', 'rules.yaml');

/** Data source uids fixed by deploy/grafana/provisioning/datasources/tapwatch.yaml. */
export const GRAFANA_PROMETHEUS_UID = 'tapwatch-prometheus';
export const GRAFANA_POSTGRES_UID = 'tapwatch-postgres';

export interface GrafanaQuery {
  refId: string;
  datasourceUid: string;
  relativeTimeRange?: { from: number; to: number };
  model: Record<string, unknown> & { refId: string };
}

export interface GrafanaRule {
  uid: string;
  title: string;
  condition: string;
  data: GrafanaQuery[];
  for?: string;
  noDataState?: string;
  execErrState?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface GrafanaRuleGroup {
  orgId?: number;
  name: string;
  folder: string;
  interval: string;
  rules: GrafanaRule[];
}

/** Every rule of the provisioning file, in file order. */
export function grafanaRules(file = GRAFANA_RULES_FILE): GrafanaRule[] {
  const doc = parseYaml(readFileSync(file, 'utf8')) as { groups?: GrafanaRuleGroup[] };
  return (doc.groups ?? []).flatMap((g) => g.rules);
}

/** {uid, title, expr} of every rule whose query runs on the tapwatch Prometheus data source. */
export function grafanaRuleExpressions(file = GRAFANA_RULES_FILE): { uid: string; title: string; expr: string }[] {
  const out: { uid: string; title: string; expr: string }[] = [];
  for (const rule of grafanaRules(file)) {
    for (const q of rule.data) {
      if (q.datasourceUid === GRAFANA_PROMETHEUS_UID && typeof q.model.expr === 'string') out.push({ uid: rule.uid, title: rule.title, expr: q.model.expr });
    }
  }
  return out;
}

const PROMQL_WORDS = new Set([
  // aggregation operators and their modifiers
  'sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile', 'limitk', 'limit_ratio',
  'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset', 'and', 'or', 'unless', 'atan2',
]);

/**
 * The metric names a PromQL expression selects: identifiers that are not
 * functions (followed by "("), keywords, label names inside {...} or
 * by/without/on/ignoring lists, durations or strings. A deliberately small
 * lexer, enough for the rules we write; the test feeds it a wrong name to
 * show it catches one.
 */
export function promqlMetricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""') // strings
    .replace(/\{[^}]*\}/g, '') // label matchers
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '$1') // label lists
    .replace(/\[[^\]]*\]/g, '') // range and subquery selectors
    .replace(/\boffset\s+-?[0-9a-z]+/g, ''); // offset durations
  const names = new Set<string>();
  for (const m of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const word = m[0];
    const after = stripped.slice(m.index! + word.length).trimStart();
    if (after.startsWith('(')) continue; // a function call (or an aggregation)
    if (PROMQL_WORDS.has(word)) continue;
    if (/^(inf|nan)$/i.test(word)) continue;
    names.add(word);
  }
  return [...names];
}
