/**
 * The detection evaluation: runs the in-process sensor (tests/lib/run-sensor.ts,
 * heuristics from sensor/src/detect/registry.ts unless told otherwise) over
 * labelled scenarios and scores its findings against the labels
 * (tests/eval/match.ts): recall, precision, false positives on captures that
 * must stay silent, and detection delay against the issue's bounds (exact and
 * encapsulated copies within 1 s of the copy's start, correlated copies within
 * 10 s). docs/evaluation.md explains the numbers.
 */
import type { FindingEvent, FindingType, TapwatchEvent } from '../../sensor/src/events/types.js';
import { FINDING_TYPES } from '../../sensor/src/events/types.js';
import type { HeuristicModule } from '../../sensor/src/detect/detector.js';
import { HEURISTICS } from '../../sensor/src/detect/registry.js';
import { Policy } from '../../sensor/src/detect/policy.js';
import { compileEventValidator, type EventValidator } from '../../sensor/src/events/schemas.js';
import type { SensorOptions } from '../../sensor/src/sensor.js';
import { runSensorOnFile } from '../lib/run-sensor.js';
import { foldFindingUpdates, runParallelOnFile } from '../parallel/run-parallel.js';
import { findCopyStarts } from './copy-start.js';
import { assign, describeExpected, describeFound, matches, type ExpectedFinding } from './match.js';
import type { CorpusTrueFinding, Scenario } from './scenarios.js';

/** Seconds within which a copy of each mode must be reported (issue 3). */
export const DELAY_BOUND_SEC: Record<string, number> = { exact: 1, encapsulated: 1, correlated: 10 };

export interface MatchedFinding {
  expected: ExpectedFinding;
  finding: FindingEvent;
  /** detectedAt - firstSeen. */
  delayFirstSeen: number;
  /** Capture time of the copy's first packet, when known. */
  copyStart: number | null;
  /** detectedAt - copyStart. */
  delayCopy: number | null;
  /** The bound that applies (DELAY_BOUND_SEC), or null. */
  boundSec: number | null;
  late: boolean;
}

export interface ScenarioResult {
  name: string;
  source: Scenario['source'];
  mustBeSilent: boolean;
  /** True when the label expects nothing (a "must stay silent" case). */
  silentCase: boolean;
  expected: ExpectedFinding[];
  findings: FindingEvent[];
  matched: MatchedFinding[];
  /** Required mustFind entries no finding satisfied. */
  missing: ExpectedFinding[];
  falsePositives: FindingEvent[];
  /** Findings of a type the label neither demands nor forbids. */
  tolerated: FindingEvent[];
  /** Corpus findings listed in corpus-true-findings.json. */
  allowlisted: FindingEvent[];
  /** Secret markers found in the sensor's output. */
  leaks: string[];
  /** Finding events that fail their JSON Schema. */
  invalidEvents: string[];
  error: string | null;
  elapsedMs: number;
}

export interface DelayStats {
  count: number;
  meanFirstSeen: number;
  maxFirstSeen: number;
  /** Over the matches whose copy start is known. */
  copyCount: number;
  meanCopy: number;
  maxCopy: number;
}

export interface EvalTotals {
  scenarios: number;
  silentScenarios: number;
  required: number;
  matchedRequired: number;
  matched: number;
  missing: number;
  falsePositives: number;
  /** False positives on scenarios that expect nothing (normal calls, look-alikes, the corpus). */
  falsePositivesOnSilent: number;
  tolerated: number;
  late: number;
  leaks: number;
  invalidEvents: number;
  errors: number;
  recall: number;
  precision: number;
  delayByType: Partial<Record<FindingType, DelayStats>>;
}

export interface EvalReport {
  heuristics: string[];
  results: ScenarioResult[];
  totals: EvalTotals;
}

export interface EvalOptions {
  /** Heuristics to run (default: the registry). */
  heuristics?: HeuristicModule[];
  corpusAllowlist?: CorpusTrueFinding[];
  /** Run the parallel sensor with this many worker shards (docs/parallel.md; needs dist/ built). Default 1: single-threaded. */
  workers?: number;
  /** Called after each scenario (progress output). */
  onResult?: (r: ScenarioResult) => void;
}

let validator: EventValidator | null = null;

function isFinding(e: TapwatchEvent): e is FindingEvent {
  return (FINDING_TYPES as readonly string[]).includes(e.type);
}

/**
 * Score one scenario's events against its label. Pure: the unit tests call it
 * with hand-built findings.
 */
export function scoreScenario(
  scenario: Scenario,
  events: readonly TapwatchEvent[],
  copyStarts: ReadonlyArray<number | null>,
  corpusAllowlist: readonly CorpusTrueFinding[] = [],
): Omit<ScenarioResult, 'elapsedMs' | 'error'> {
  const label = scenario.label;
  const findings = events.filter(isFinding);
  const expected = label.mustFind;
  const owner = assign(expected, findings);
  const used = new Set<number>();
  const matched: MatchedFinding[] = [];
  const missing: ExpectedFinding[] = [];
  expected.forEach((e, i) => {
    const f = owner[i]!;
    if (f < 0) {
      if (!e.optional) missing.push(e);
      return;
    }
    used.add(f);
    const finding = findings[f]!;
    const copyStart = copyStarts[i] ?? null;
    const delayFirstSeen = finding.detectedAt - finding.firstSeen;
    const delayCopy = copyStart === null ? null : finding.detectedAt - copyStart;
    const boundSec = finding.type === 'duplicate_stream' ? (DELAY_BOUND_SEC[finding.mode] ?? null) : null;
    const late = boundSec !== null && (delayCopy ?? delayFirstSeen) > boundSec + 1e-6;
    matched.push({ expected: e, finding, delayFirstSeen, copyStart, delayCopy, boundSec, late });
  });
  const falsePositives: FindingEvent[] = [];
  const tolerated: FindingEvent[] = [];
  const allowlisted: FindingEvent[] = [];
  const demanded = new Set(expected.map((e) => e.type));
  findings.forEach((f, i) => {
    if (used.has(i)) return;
    if (scenario.mustBeSilent) {
      if (corpusAllowlist.some((a) => a.file === scenario.name && matches(a, f))) allowlisted.push(f);
      else falsePositives.push(f);
    } else if (label.mustNotFind.includes(f.type) || demanded.has(f.type)) {
      // A forbidden type, or one more finding of a demanded type than the label expects.
      falsePositives.push(f);
    } else {
      tolerated.push(f);
    }
  });
  const leaks: string[] = [];
  if (label.secretMarkers && label.secretMarkers.length > 0) {
    const text = events.map((e) => JSON.stringify(e)).join('\n');
    for (const m of label.secretMarkers) if (text.includes(m)) leaks.push(m);
  }
  validator ??= compileEventValidator();
  const invalidEvents: string[] = [];
  for (const e of events) {
    if (!isFinding(e) && e.type !== 'finding_updated') continue;
    const err = validator.validate(e);
    if (err) invalidEvents.push(err);
  }
  return {
    name: scenario.name,
    source: scenario.source,
    mustBeSilent: scenario.mustBeSilent,
    silentCase: expected.length === 0,
    expected,
    findings,
    matched,
    missing,
    falsePositives,
    tolerated,
    allowlisted,
    leaks,
    invalidEvents,
  };
}

export async function evaluateScenario(scenario: Scenario, opts: EvalOptions = {}): Promise<ScenarioResult> {
  const started = Date.now();
  const sensorOpts: Partial<SensorOptions> = {};
  if (opts.heuristics) sensorOpts.heuristics = opts.heuristics;
  if (scenario.label.policy) sensorOpts.policy = new Policy(scenario.label.policy);
  if (scenario.label.decode) sensorOpts.decode = scenario.label.decode;
  try {
    const workers = opts.workers ?? 1;
    const sink =
      workers > 1
        ? await runParallelOnFile(scenario.pcap, workers, sensorOpts).then((s) => (foldFindingUpdates(s.events), s))
        : await runSensorOnFile(scenario.pcap, sensorOpts);
    const copyStarts = await findCopyStarts(scenario.pcap, scenario.label.mustFind);
    return { ...scoreScenario(scenario, sink.events, copyStarts, opts.corpusAllowlist), error: null, elapsedMs: Date.now() - started };
  } catch (err) {
    // A crash is a failed scenario, never a silent pass: every expected finding counts as missing.
    return {
      name: scenario.name,
      source: scenario.source,
      mustBeSilent: scenario.mustBeSilent,
      silentCase: scenario.label.mustFind.length === 0,
      expected: scenario.label.mustFind,
      findings: [],
      matched: [],
      missing: scenario.label.mustFind.filter((e) => !e.optional),
      falsePositives: [],
      tolerated: [],
      allowlisted: [],
      leaks: [],
      invalidEvents: [],
      error: (err as Error).stack ?? String(err),
      elapsedMs: Date.now() - started,
    };
  }
}

function delayStats(ms: MatchedFinding[]): DelayStats {
  const first = ms.map((m) => m.delayFirstSeen);
  const copy = ms.map((m) => m.delayCopy).filter((d): d is number => d !== null);
  const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
  return {
    count: ms.length,
    meanFirstSeen: mean(first),
    maxFirstSeen: first.length ? Math.max(...first) : 0,
    copyCount: copy.length,
    meanCopy: mean(copy),
    maxCopy: copy.length ? Math.max(...copy) : 0,
  };
}

export function summarise(results: readonly ScenarioResult[]): EvalTotals {
  const sum = (f: (r: ScenarioResult) => number): number => results.reduce((a, r) => a + f(r), 0);
  const required = sum((r) => r.expected.filter((e) => !e.optional).length);
  const matchedRequired = sum((r) => r.matched.filter((m) => !m.expected.optional).length);
  const matched = sum((r) => r.matched.length);
  const falsePositives = sum((r) => r.falsePositives.length);
  const all = results.flatMap((r) => r.matched);
  const delayByType: Partial<Record<FindingType, DelayStats>> = {};
  for (const t of FINDING_TYPES) {
    const ms = all.filter((m) => m.finding.type === t);
    if (ms.length > 0) delayByType[t] = delayStats(ms);
  }
  return {
    scenarios: results.length,
    silentScenarios: results.filter((r) => r.silentCase).length,
    required,
    matchedRequired,
    matched,
    missing: sum((r) => r.missing.length),
    falsePositives,
    falsePositivesOnSilent: sum((r) => (r.silentCase ? r.falsePositives.length : 0)),
    tolerated: sum((r) => r.tolerated.length),
    late: sum((r) => r.matched.filter((m) => m.late).length),
    leaks: sum((r) => r.leaks.length),
    invalidEvents: sum((r) => r.invalidEvents.length),
    errors: results.filter((r) => r.error !== null).length,
    recall: required === 0 ? 1 : matchedRequired / required,
    precision: matched + falsePositives === 0 ? 1 : matched / (matched + falsePositives),
    delayByType,
  };
}

export async function runEval(scenarios: readonly Scenario[], opts: EvalOptions = {}): Promise<EvalReport> {
  const results: ScenarioResult[] = [];
  for (const s of scenarios) {
    const r = await evaluateScenario(s, opts);
    results.push(r);
    opts.onResult?.(r);
  }
  return { heuristics: (opts.heuristics ?? HEURISTICS).map((h) => `${h.id}@${h.version}`), results, totals: summarise(results) };
}

/** Why the evaluation fails (empty when it passes): the CI gate. */
export function evalFailures(report: EvalReport): string[] {
  const t = report.totals;
  const out: string[] = [];
  if (t.missing > 0) out.push(`recall ${pct(t.recall)} (${t.missing} expected finding(s) missing)`);
  if (t.falsePositives > 0) out.push(`${t.falsePositives} false positive(s), ${t.falsePositivesOnSilent} of them on must-stay-silent captures`);
  if (t.late > 0) out.push(`${t.late} finding(s) later than the issue's bound (exact/encapsulated 1 s, correlated 10 s)`);
  if (t.leaks > 0) out.push(`${t.leaks} secret marker(s) in the sensor's output`);
  if (t.invalidEvents > 0) out.push(`${t.invalidEvents} finding event(s) fail their JSON Schema`);
  if (t.errors > 0) out.push(`${t.errors} scenario(s) crashed`);
  return out;
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

function sec(x: number | null): string {
  return x === null ? '-' : `${x.toFixed(3)}s`;
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

function lpad(s: string, n: number): string {
  return s.length >= n ? s : ' '.repeat(n - s.length) + s;
}

export interface FormatOptions {
  /** One line per finding under each scenario (default: only for scenarios with a problem or an expectation). */
  verbose?: boolean;
}

/** The per-scenario table, then the totals. */
export function formatReport(report: EvalReport, fmt: FormatOptions = {}): string {
  const lines: string[] = [];
  lines.push(`heuristics: ${report.heuristics.length ? report.heuristics.join(', ') : '(none registered)'}`);
  lines.push('');
  const w = Math.max(20, ...report.results.map((r) => r.name.length)) + 2;
  const header =
    pad('scenario', w) + pad('source', 10) + lpad('exp', 4) + lpad('found', 6) + lpad('match', 6) + lpad('miss', 5) + lpad('FP', 4) + lpad('tol', 4) + lpad('late', 5) + '  delay first/copy (max)  status';
  lines.push(header);
  lines.push('-'.repeat(header.length));
  for (const r of report.results) {
    const bad = r.missing.length + r.falsePositives.length + r.matched.filter((m) => m.late).length + r.leaks.length + r.invalidEvents.length + (r.error ? 1 : 0);
    const maxFirst = r.matched.length ? Math.max(...r.matched.map((m) => m.delayFirstSeen)) : null;
    const copies = r.matched.map((m) => m.delayCopy).filter((d): d is number => d !== null);
    const maxCopy = copies.length ? Math.max(...copies) : null;
    lines.push(
      pad(r.name, w) +
        pad(r.source, 10) +
        lpad(String(r.expected.length), 4) +
        lpad(String(r.findings.length), 6) +
        lpad(String(r.matched.length), 6) +
        lpad(String(r.missing.length), 5) +
        lpad(String(r.falsePositives.length), 4) +
        lpad(String(r.tolerated.length), 4) +
        lpad(String(r.matched.filter((m) => m.late).length), 5) +
        '  ' +
        pad(`${sec(maxFirst)}/${sec(maxCopy)}`, 22) +
        (r.error ? 'CRASH' : bad === 0 ? 'ok' : 'FAIL'),
    );
    const detail = fmt.verbose || bad > 0;
    if (!detail) continue;
    for (const m of r.matched) {
      lines.push(
        `    found    ${describeExpected(m.expected)}  <=  ${describeFound(m.finding)}  delay ${sec(m.delayFirstSeen)} from firstSeen, ${sec(m.delayCopy)} from copy start` +
          (m.late ? `  LATE (bound ${m.boundSec}s)` : ''),
      );
    }
    for (const e of r.missing) {
      const near = r.findings.filter((f) => f.type === e.type).map((f) => describeFound(f));
      lines.push(`    MISSING  ${describeExpected(e)}${near.length ? `  (same-type findings: ${near.join('; ')})` : ''}`);
    }
    for (const f of r.falsePositives) lines.push(`    FP       ${describeFound(f)}  call=${f.callId ?? '-'}  "${f.summary}"`);
    for (const f of r.tolerated) lines.push(`    tolerated ${describeFound(f)}`);
    for (const f of r.allowlisted) lines.push(`    true (allowlisted) ${describeFound(f)}`);
    for (const l of r.leaks) lines.push(`    LEAK     secret marker ${l.slice(0, 6)}... appears in the output`);
    for (const v of r.invalidEvents.slice(0, 5)) lines.push(`    INVALID  ${v}`);
    if (r.error) lines.push(`    CRASH    ${r.error.split('\n').slice(0, 4).join(' | ')}`);
  }
  const t = report.totals;
  lines.push('');
  lines.push(`scenarios: ${t.scenarios} (${t.silentScenarios} must stay silent)`);
  lines.push(`recall:    ${pct(t.recall)} (${t.matchedRequired}/${t.required} expected findings)`);
  lines.push(`precision: ${pct(t.precision)} (${t.matched} matched, ${t.falsePositives} false positive(s); ${t.tolerated} tolerated)`);
  lines.push(`false positives on must-stay-silent captures: ${t.falsePositivesOnSilent}`);
  lines.push(`late: ${t.late}   leaks: ${t.leaks}   invalid finding events: ${t.invalidEvents}   crashes: ${t.errors}`);
  const types = Object.keys(t.delayByType) as FindingType[];
  if (types.length > 0) {
    lines.push('detection delay per type (detectedAt - firstSeen | detectedAt - first packet of the copy):');
    for (const ty of types) {
      const d = t.delayByType[ty]!;
      lines.push(
        `  ${pad(ty, 20)} n=${lpad(String(d.count), 3)}  mean ${sec(d.meanFirstSeen)} max ${sec(d.maxFirstSeen)}  |  ` +
          (d.copyCount ? `n=${d.copyCount} mean ${sec(d.meanCopy)} max ${sec(d.maxCopy)}` : 'copy start unknown'),
      );
    }
  }
  const failures = evalFailures(report);
  lines.push(failures.length === 0 ? 'RESULT: PASS' : `RESULT: FAIL: ${failures.join('; ')}`);
  return lines.join('\n');
}
