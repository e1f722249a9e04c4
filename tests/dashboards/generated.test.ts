/**
 * The committed dashboards (dashboards/generated/*.json) are exactly what
 * dashboards/src generates (`npm run dashboards`), every dashboard has the
 * panels issue #5 asks for, every metric and table it names is one the
 * collector defines, the links are in place, and every PromQL expression
 * parses in the real promtool; the blind-sensor expression is evaluated by
 * `promtool test rules` on synthetic series.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Dashboard, Panel } from '@grafana/grafana-foundation-sdk/dashboard';
import { METRICS, TABLES } from '../../collector/src/names.js';
import { allDashboards, renderDashboard } from '../../dashboards/src/dashboards.js';
import { POSTGRES_DS_UID, PROMETHEUS_DS_UID } from '../../dashboards/src/datasources.js';
import { generate, generatedDir } from '../../dashboards/src/generate.js';
import { SENSOR_STATE_EXPR, STATS_STALE_SECONDS } from '../../dashboards/src/promql.js';
import { collectQueries, readGeneratedDashboards, substituteForTest } from '../../dashboards/src/queries.js';
import { DASHBOARD_UIDS } from '../../dashboards/src/uids.js';

const dashboards = allDashboards();
const byUid = (uid: string): Dashboard => {
  const d = dashboards.find((x) => x.uid === uid);
  if (!d) throw new Error(`no dashboard ${uid}`);
  return d;
};
const panelsOf = (d: Dashboard): Panel[] => (d.panels ?? []).filter((p): p is Panel => p.type !== 'row');
const panel = (d: Dashboard, title: string): Panel => {
  const p = panelsOf(d).find((x) => x.title === title);
  if (!p) throw new Error(`${d.uid}: no panel "${title}"`);
  return p;
};
const queries = collectQueries(dashboards);
const promQueries = queries.filter((q) => q.kind === 'promql');
const sqlQueries = queries.filter((q) => q.kind === 'sql');

function hasPromtool(): boolean {
  try {
    execFileSync('promtool', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    if (process.env.CI === 'true') throw new Error('promtool is required in CI');
    return false;
  }
}

describe('generated dashboards', () => {
  it('the committed JSON equals the freshly generated JSON (run `npm run dashboards` after a change)', () => {
    const dir = generatedDir();
    const committed = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
    expect(committed).toEqual(dashboards.map((d) => `${d.uid}.json`).sort());
    for (const d of dashboards) {
      expect(readFileSync(join(dir, `${d.uid}.json`), 'utf8'), `${d.uid}.json is stale`).toBe(renderDashboard(d));
    }
  });

  it('collects the same queries from the committed JSON as from the code', () => {
    const key = (q: object): string => JSON.stringify(q);
    expect(collectQueries(readGeneratedDashboards()).map(key).sort()).toEqual(queries.map(key).sort());
  });

  it('generates the same bytes twice and removes files of dashboards that no longer exist', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tw-dash-'));
    try {
      writeFileSync(join(dir, 'tapwatch-retired.json'), '{}\n');
      const first = generate(dir);
      expect(first.removed).toEqual([join(dir, 'tapwatch-retired.json')]);
      const bytes = first.written.map((f) => readFileSync(f, 'utf8'));
      const second = generate(dir);
      expect(second.written.map((f) => readFileSync(f, 'utf8'))).toEqual(bytes);
      expect(second.removed).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('has the four dashboards with unique panel ids', () => {
    expect(dashboards.map((d) => d.uid)).toEqual(Object.values(DASHBOARD_UIDS));
    for (const d of dashboards) {
      const ids = (d.panels ?? []).map((p) => p.id);
      expect(new Set(ids).size, d.uid).toBe(ids.length);
      expect(ids.every((id) => typeof id === 'number')).toBe(true);
    }
  });

  it('the overview shows findings, open criticals, active calls and streams, the fleet and consumer lag', () => {
    const d = byUid(DASHBOARD_UIDS.overview);
    const expr = (title: string): string => queries.filter((q) => q.dashboard === d.uid && q.panel === title).map((q) => (q.kind === 'promql' ? q.expr : q.sql)).join('\n');
    expect(expr('Findings over time by type and severity')).toContain(METRICS.findings);
    expect(expr('Findings over time by type and severity')).toMatch(/by \(type, severity\)/);
    expect(expr('Open critical findings')).toContain(`FROM ${TABLES.findings}`);
    expect(expr('Active calls')).toContain(METRICS.activeCalls);
    expect(expr('Active streams')).toContain(METRICS.activeStreams);
    expect(expr('Packet rate')).toContain(METRICS.sensorPacketRate);
    expect(expr('Kernel drops')).toContain(METRICS.sensorKernelDrops);
    expect(expr('Producer queue')).toContain(METRICS.sensorProducerQueue);
    expect(expr('Last seen')).toContain(METRICS.sensorLastSeen);
    expect(expr('Consumer lag')).toContain(METRICS.consumerLag);
    expect(expr('Sensor state')).toBe(SENSOR_STATE_EXPR);
  });

  it('the findings table has type, severity, call, copy destination or relay, sensor and confidence', () => {
    const d = byUid(DASHBOARD_UIDS.findings);
    const p = panel(d, 'Latest findings');
    expect(p.datasource?.uid).toBe(POSTGRES_DS_UID);
    const sql = sqlQueries.find((q) => q.dashboard === d.uid && q.panel === 'Latest findings')!.sql;
    for (const column of ['"type"', '"severity"', '"call"', '"copy to / relay"', '"sensor"', '"confidence"', '"id"']) expect(sql).toContain(`AS ${column}`);
    expect(sql).toMatch(/ORDER BY f\.ts DESC/);
  });

  it('links every findings row to the call drill-down and to GET /api/findings/:id', () => {
    for (const [uid, title] of [[DASHBOARD_UIDS.findings, 'Latest findings'], [DASHBOARD_UIDS.callDrilldown, 'Findings of this call']] as const) {
      const overrides = panel(byUid(uid), title).fieldConfig?.overrides ?? [];
      const linksOf = (field: string) => overrides.find((o) => o.matcher.options === field)?.properties.find((x) => x.id === 'links')?.value as Array<{ url: string }> | undefined;
      expect(linksOf('id')?.[0]?.url).toBe('${collector}/api/findings/${__value.raw}');
      if (uid === DASHBOARD_UIDS.findings) expect(linksOf('call')?.[0]?.url).toMatch(new RegExp(`^/d/${DASHBOARD_UIDS.callDrilldown}/[^?]+\\?var-callId=\\$\\{__value\\.raw\\}&`));
    }
    // The drill-down's variable is the one the link sets.
    const vars = byUid(DASHBOARD_UIDS.callDrilldown).templating?.list ?? [];
    expect(vars.find((v) => v.name === 'callId')?.type).toBe('query');
    expect(byUid(DASHBOARD_UIDS.findings).templating?.list?.some((v) => v.name === 'collector')).toBe(true);
    // Every dashboard links to the others.
    for (const d of dashboards) expect(d.links?.some((l) => l.type === 'dashboards' && l.tags.includes('tapwatch'))).toBe(true);
  });

  it('the call drill-down shows legs, streams and the timeline of events and findings for $callId', () => {
    const d = byUid(DASHBOARD_UIDS.callDrilldown);
    const sqlOf = (title: string) => sqlQueries.find((q) => q.dashboard === d.uid && q.panel === title)!.sql;
    expect(sqlOf('Legs')).toContain(`FROM ${TABLES.calls}`);
    expect(sqlOf('Streams')).toContain(`FROM ${TABLES.streams}`);
    expect(sqlOf('Timeline of events and findings')).toContain(`FROM ${TABLES.events}`);
    for (const title of ['Legs', 'Streams', 'Findings of this call', 'Timeline of events and findings']) expect(sqlOf(title)).toContain('${callId:sqlstring}');
  });

  it('sensor health shows drops, decode errors by name, table sizes, evictions and the blind-sensor state', () => {
    const d = byUid(DASHBOARD_UIDS.sensorHealth);
    const all = promQueries.filter((q) => q.dashboard === d.uid).map((q) => q.expr).join('\n');
    for (const m of [METRICS.sensorKernelDrops, METRICS.sensorInterfaceDrops, METRICS.sensorDecodeErrors, METRICS.sensorTableEntries, METRICS.sensorEvictions, METRICS.sensorLastStats, METRICS.sensorPacketRate, METRICS.sensorDropsUnavailable]) {
      expect(all, m).toContain(m);
    }
    expect(all).toMatch(/by \(name\)/);
    const state = panel(d, 'Sensor state');
    const texts = JSON.stringify(state.fieldConfig?.defaults?.mappings);
    expect(texts).toContain('BLIND');
    expect(texts).toContain('SILENT');
    // An empty result must not read as fine.
    expect(state.fieldConfig?.defaults?.noValue).toMatch(/nothing is being watched/);
  });

  it('names only metrics from METRICS and tables from TABLES', () => {
    const metricNames = new Set<string>(Object.values(METRICS));
    const tableNames = new Set<string>(Object.values(TABLES));
    expect(promQueries.length).toBeGreaterThan(20);
    for (const q of promQueries) {
      const used = q.expr.match(/tapwatch_[a-z0-9_]+/g) ?? [];
      expect(used.length, `${q.dashboard} / ${q.panel}`).toBeGreaterThan(0);
      for (const m of used) expect(metricNames.has(m), `${q.dashboard} / ${q.panel}: ${m}`).toBe(true);
    }
    for (const q of sqlQueries) {
      const used = [...q.sql.matchAll(/\b(?:FROM|JOIN)\s+([a-z_]+)\b/gi)].map((m) => m[1]!).filter((t) => t.toUpperCase() !== 'SELECT');
      expect(used.length, `${q.dashboard} / ${q.panel}`).toBeGreaterThan(0);
      for (const t of used) expect(tableNames.has(t) || t === 'now', `${q.dashboard} / ${q.panel}: ${t}`).toBe(true);
    }
  });

  it('points every panel and query at the provisioned datasource uids', () => {
    const uids = new Set([PROMETHEUS_DS_UID, POSTGRES_DS_UID]);
    for (const d of dashboards) {
      for (const p of panelsOf(d)) {
        if (p.type === 'text') continue;
        expect(uids.has(p.datasource?.uid ?? ''), `${d.uid} / ${p.title}`).toBe(true);
        for (const t of (p.targets ?? []) as Array<{ datasource?: { uid?: string } }>) expect(t.datasource?.uid).toBe(p.datasource?.uid);
      }
    }
  });

  it('substitutes the Grafana variables of every expression and refuses unknown ones', () => {
    for (const q of promQueries) expect(substituteForTest(q.expr)).not.toContain('$');
    expect(substituteForTest('rate(x{sensor=~"$sensor"}[$__rate_interval])')).toBe('rate(x{sensor=~".*"}[1m])');
    expect(() => substituteForTest('x[$window]')).toThrow(/unsubstituted/);
  });

  it.skipIf(!hasPromtool())('every PromQL expression parses (promtool check rules)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tw-promql-'));
    try {
      const rules = promQueries.map((q, i) => `      - record: tapwatch:dashboard_query_${i}\n        expr: ${JSON.stringify(substituteForTest(q.expr))}`);
      const file = join(dir, 'rules.yml');
      writeFileSync(file, `groups:\n  - name: dashboards\n    rules:\n${rules.join('\n')}\n`);
      const out = execFileSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
      expect(out).toContain(`${promQueries.length} rules found`);
      // A broken expression makes promtool fail: the check can fail.
      writeFileSync(file, 'groups:\n  - name: broken\n    rules:\n      - record: x:y\n        expr: "sum by (sensor) ("\n');
      expect(() => execFileSync('promtool', ['check', 'rules', file], { stdio: 'pipe' })).toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(!hasPromtool())('the sensor state tells seeing, blind and silent sensors apart (promtool test rules)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tw-state-'));
    try {
      writeFileSync(join(dir, 'empty.yml'), 'groups: []\n');
      // Series every minute from t=0; evaluated at t=10m, where time() = 600.
      // busy: stats every minute, packets flowing. blind: stats every minute, rate 0.
      // dead: last stats at t=300 (time() - 300 > STATS_STALE_SECONDS), its last rate 50 is stale.
      // Two collectors (instance a and b) export the same values: max by (sensor) folds them.
      const series = (metric: string, sensor: string, instance: string, values: string) =>
        `      - series: '${metric}{sensor="${sensor}",instance="${instance}",job="tapwatch-collector"}'\n        values: '${values}'`;
      const input = [
        series(METRICS.sensorLastStats, 'busy', 'a', '0+60x10'),
        series(METRICS.sensorLastStats, 'busy', 'b', '0+60x10'),
        series(METRICS.sensorPacketRate, 'busy', 'a', '100x10'),
        series(METRICS.sensorPacketRate, 'busy', 'b', '100x10'),
        series(METRICS.sensorLastStats, 'blind', 'a', '0+60x10'),
        series(METRICS.sensorPacketRate, 'blind', 'a', '40 30 0x9'),
        series(METRICS.sensorLastStats, 'dead', 'a', '0+60x5 300x5'),
        series(METRICS.sensorPacketRate, 'dead', 'a', '50x10'),
        series(METRICS.sensorLastStats, 'deadblind', 'a', '0x10'),
        series(METRICS.sensorPacketRate, 'deadblind', 'a', '0x10'),
      ];
      expect(STATS_STALE_SECONDS).toBeLessThan(300);
      const test = `rule_files: [empty.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
${input.join('\n')}
    promql_expr_test:
      - expr: ${JSON.stringify(substituteForTest(SENSOR_STATE_EXPR))}
        eval_time: 10m
        exp_samples:
          - labels: '{sensor="busy"}'
            value: 0
          - labels: '{sensor="blind"}'
            value: 1
          - labels: '{sensor="dead"}'
            value: 2
          - labels: '{sensor="deadblind"}'
            value: 2
`;
      writeFileSync(join(dir, 'test.yml'), test);
      const out = execFileSync('promtool', ['test', 'rules', 'test.yml'], { cwd: dir, encoding: 'utf8' });
      expect(out).toMatch(/SUCCESS/);
      // The same test with a wrong expectation fails: promtool really evaluates it.
      writeFileSync(join(dir, 'test.yml'), test.replace(`'{sensor="blind"}'\n            value: 1`, `'{sensor="blind"}'\n            value: 0`));
      expect(() => execFileSync('promtool', ['test', 'rules', 'test.yml'], { cwd: dir, stdio: 'pipe' })).toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
