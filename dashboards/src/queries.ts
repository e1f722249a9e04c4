/**
 * Every query of the generated dashboards, for tests that run them against
 * real services: each PromQL expression against Prometheus
 * (tests/e2e or deploy tests), each SQL query against PostgreSQL with the
 * collector's schema (tests/dashboards/sql.test.ts).
 *
 * Grafana replaces variables and macros before a query reaches the
 * datasource; the test helpers below do the same, in a documented and
 * deliberately narrow way:
 *
 * PromQL (substituteForTest):
 *   $__rate_interval -> 1m, $__interval -> 15s, $__range -> 1h (override with opts);
 *   "$sensor" and any other "$var" inside a label matcher -> ".*" (every dashboard
 *   multi-value variable has allValue .*, so this is what "All" sends).
 * SQL (substituteSqlForTest):
 *   $__unixEpochFilter(col) -> col >= <from> AND col <= <to> (epoch seconds, as Grafana);
 *   $__timeFilter(col) -> col BETWEEN to_timestamp(<from>) AND to_timestamp(<to>);
 *   ${var:sqlstring} -> each value single-quoted, quotes doubled, comma-joined
 *   (values from opts.vars; `type` and `severity` default to every option,
 *   which is what "All" sends; `callId` must be given when used).
 * Both throw when a `$` is left over, so a new variable cannot slip through untested.
 */
import type { Dashboard, Panel, RowPanel, VariableModel } from '@grafana/grafana-foundation-sdk/dashboard';
import { SEVERITIES } from '../../collector/src/routes/schemas.js';
import { FINDING_TYPES } from '../../sensor/src/events/types.js';
import { POSTGRES_DS_TYPE, PROMETHEUS_DS_TYPE } from './datasources.js';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { allDashboards } from './dashboards.js';
import { generatedDir } from './generate.js';

export interface PromQuery {
  kind: 'promql';
  dashboard: string;
  /** Panel title, or `variable <name>` for a query variable. */
  panel: string;
  refId: string;
  expr: string;
  instant: boolean;
}

export interface SqlQueryEntry {
  kind: 'sql';
  dashboard: string;
  panel: string;
  refId: string;
  sql: string;
}

export type DashboardQuery = PromQuery | SqlQueryEntry;

interface TargetLike {
  refId?: string;
  datasource?: { type?: string };
  expr?: string;
  instant?: boolean;
  rawSql?: string;
}

/** The committed dashboards as Grafana loads them (dashboards/generated/*.json), for collectQueries(readGeneratedDashboards()). */
export function readGeneratedDashboards(dir = generatedDir()): Dashboard[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Dashboard);
}

/** label_values(<series selector>, <label>): the selector is plain PromQL. */
const LABEL_VALUES = /^label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$/;

/** Every PromQL expression and SQL query of the given dashboards (default: all of them), with where it is used. */
export function collectQueries(dashboards: Dashboard[] = allDashboards()): DashboardQuery[] {
  const out: DashboardQuery[] = [];
  for (const d of dashboards) {
    const uid = d.uid ?? d.title ?? '';
    for (const v of d.templating?.list ?? []) collectVariable(out, uid, v);
    for (const p of d.panels ?? []) {
      const panels = p.type === 'row' ? ((p as RowPanel).panels ?? []) : [p as Panel];
      for (const panel of panels) collectPanel(out, uid, panel);
    }
  }
  return out;
}

function collectPanel(out: DashboardQuery[], dashboard: string, panel: Panel): void {
  for (const t of (panel.targets ?? []) as TargetLike[]) {
    const type = t.datasource?.type ?? panel.datasource?.type;
    const refId = t.refId ?? '';
    if (type === PROMETHEUS_DS_TYPE && t.expr !== undefined) out.push({ kind: 'promql', dashboard, panel: panel.title ?? '', refId, expr: t.expr, instant: t.instant === true });
    else if (type === POSTGRES_DS_TYPE && t.rawSql !== undefined) out.push({ kind: 'sql', dashboard, panel: panel.title ?? '', refId, sql: t.rawSql });
    else throw new Error(`${dashboard} / ${panel.title}: query ${refId} of datasource type ${type} is neither PromQL nor SQL`);
  }
}

function collectVariable(out: DashboardQuery[], dashboard: string, v: VariableModel): void {
  if (v.type !== 'query') return;
  const panel = `variable ${v.name}`;
  const query = typeof v.query === 'string' ? v.query : (v.query as { query?: string } | undefined)?.query;
  if (query === undefined) throw new Error(`${dashboard} / ${panel}: no query`);
  if (v.datasource?.type === PROMETHEUS_DS_TYPE) {
    const m = LABEL_VALUES.exec(query);
    if (!m) throw new Error(`${dashboard} / ${panel}: only label_values(selector, label) is supported, got ${query}`);
    out.push({ kind: 'promql', dashboard, panel, refId: v.name, expr: m[1]!, instant: true });
  } else if (v.datasource?.type === POSTGRES_DS_TYPE) {
    out.push({ kind: 'sql', dashboard, panel, refId: v.name, sql: query });
  } else {
    throw new Error(`${dashboard} / ${panel}: datasource type ${v.datasource?.type} is neither Prometheus nor PostgreSQL`);
  }
}

export interface PromSubstitution {
  rateInterval?: string;
  interval?: string;
  range?: string;
}

/** Grafana's PromQL variables replaced by values any Prometheus accepts (see the file comment). */
export function substituteForTest(expr: string, o: PromSubstitution = {}): string {
  const out = expr
    .replaceAll('$__rate_interval', o.rateInterval ?? '1m')
    .replaceAll('$__interval', o.interval ?? '15s')
    .replaceAll('$__range', o.range ?? '1h')
    .replace(/"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?"/g, '".*"');
  if (out.includes('$')) throw new Error(`unsubstituted variable left in PromQL: ${out}`);
  return out;
}

export interface SqlSubstitution {
  /** Time range, epoch seconds. */
  from: number;
  to: number;
  /** Values of ${var:sqlstring} variables; type and severity default to every option. */
  vars?: Record<string, string | readonly string[]>;
}

/** A PostgreSQL string literal: quotes doubled, as Grafana's sqlstring format does. */
export const sqlString = (value: string): string => `'${value.replaceAll("'", "''")}'`;

/** Grafana's SQL macros and variables replaced as Grafana would (see the file comment). */
export function substituteSqlForTest(sql: string, o: SqlSubstitution): string {
  const vars: Record<string, string | readonly string[]> = { type: FINDING_TYPES, severity: SEVERITIES, ...o.vars };
  if (!Number.isFinite(o.from) || !Number.isFinite(o.to)) throw new Error('from and to must be epoch seconds');
  const out = sql
    .replace(/\$__unixEpochFilter\(([^)]+)\)/g, (_m, col: string) => `${col.trim()} >= ${o.from} AND ${col.trim()} <= ${o.to}`)
    .replace(/\$__timeFilter\(([^)]+)\)/g, (_m, col: string) => `${col.trim()} BETWEEN to_timestamp(${o.from}) AND to_timestamp(${o.to})`)
    .replace(/\$\{([A-Za-z_][A-Za-z0-9_]*):sqlstring\}/g, (_m, name: string) => {
      const value = vars[name];
      if (value === undefined) throw new Error(`no test value for SQL variable ${name}`);
      const values = typeof value === 'string' ? [value] : value;
      if (values.length === 0) throw new Error(`empty test value for SQL variable ${name}`);
      return values.map(sqlString).join(',');
    });
  if (out.includes('$')) throw new Error(`unsubstituted macro or variable left in SQL: ${out}`);
  return out;
}
