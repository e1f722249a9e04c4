/**
 * The detection evaluation as a test (same as `npm run eval`): with the
 * heuristics of sensor/src/detect/registry.ts, every labelled scenario
 * (tests/scenarios/captures, tests/scenarios/synthetic, the bundled sample)
 * must yield every expected finding, in time, and no false positive; every
 * ../shared/corpus capture must stay silent unless tests/eval/corpus-true-findings.json
 * proves a finding true. docs/evaluation.md explains the numbers.
 *
 * This fails until the heuristics are registered: that is its job.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { evalFailures, formatReport, runEval, type EvalReport, type ScenarioResult } from './eval.js';
import { describeExpected, describeFound } from './match.js';
import { defaultAllowlistPath, defaultCorpusDir, loadCorpusAllowlist, loadScenarioSet } from './scenarios.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tapwatch-eval-test-'));
const corpusPresent = fs.existsSync(defaultCorpusDir());
const scenarios = loadScenarioSet({ sampleDir: tmp, corpus: corpusPresent ? undefined : false });
let report: EvalReport;

beforeAll(async () => {
  report = await runEval(scenarios, { corpusAllowlist: loadCorpusAllowlist(defaultAllowlistPath()) });
  // The full table in the log helps whoever reads a failure.
  process.stdout.write(formatReport(report) + '\n');
}, 600_000);

afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function problems(r: ScenarioResult): string[] {
  return [
    ...r.missing.map((e) => `missing: ${describeExpected(e)}`),
    ...r.falsePositives.map((f) => `false positive: ${describeFound(f)} "${f.summary}"`),
    ...r.matched.filter((m) => m.late).map((m) => `late: ${describeFound(m.finding)} after ${(m.delayCopy ?? m.delayFirstSeen).toFixed(3)} s (bound ${m.boundSec} s)`),
    ...r.leaks.map((l) => `secret marker in output: ${l.slice(0, 6)}...`),
    ...r.invalidEvents.map((v) => `invalid event: ${v}`),
    ...(r.error ? [`crashed: ${r.error.split('\n')[0]}`] : []),
  ];
}

describe('detection evaluation', () => {
  it('finds the labelled scenario sets', () => {
    expect(scenarios.filter((s) => s.source === 'captures').length).toBeGreaterThanOrEqual(9);
    expect(scenarios.filter((s) => s.source === 'synthetic').length).toBeGreaterThanOrEqual(25);
    expect(scenarios.some((s) => s.source === 'sample')).toBe(true);
    if (!corpusPresent) console.warn(`../shared/corpus not found at ${defaultCorpusDir()}: the corpus is not evaluated`);
  });

  it('recall 100% and zero false positives on the labelled scenarios', () => {
    const failures = evalFailures(report);
    const detail = report.results.filter((r) => problems(r).length > 0).map((r) => `${r.name}: ${problems(r).join('; ')}`);
    expect({ failures, detail }).toEqual({ failures: [], detail: [] });
    expect(report.totals.recall).toBe(1);
    expect(report.totals.falsePositives).toBe(0);
  });

  describe.each(scenarios.map((s) => [s.name, s.source] as const))('%s (%s)', (name) => {
    it('every expected finding in time, no false positive', () => {
      const r = report.results.find((x) => x.name === name)!;
      expect(problems(r)).toEqual([]);
    });
  });
});
