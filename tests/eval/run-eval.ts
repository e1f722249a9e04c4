/**
 * CLI of the detection evaluation (docs/evaluation.md):
 *
 *   npm run eval [-- options]          (node dist/tests/eval/run-eval.js)
 *
 *   --no-fail            exit 0 even when recall < 100% or a false positive exists
 *   --only NAME          only scenarios whose name contains NAME (repeatable)
 *   --no-corpus          skip ../shared/corpus
 *   --corpus DIR         corpus directory (default <repo>/../shared/corpus)
 *   --no-sample          skip the bundled sample
 *   --heuristic ID       run only this registered heuristic (repeatable)
 *   --verbose            list every finding under every scenario
 *   --json FILE          also write the full report as JSON
 *   --workers N          run the parallel sensor with N worker shards (docs/parallel.md)
 *
 * Exit codes: 0 pass, 1 evaluation failed, 2 usage error.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { HEURISTICS } from '../../sensor/src/detect/registry.js';
import { evalFailures, formatReport, runEval } from './eval.js';
import { defaultAllowlistPath, loadCorpusAllowlist, loadScenarioSet } from './scenarios.js';

interface CliOptions {
  fail: boolean;
  only: string[];
  corpus: string | false | undefined;
  sample: boolean;
  heuristics: string[];
  verbose: boolean;
  json: string | null;
  workers: number;
}

function usage(msg: string): never {
  process.stderr.write(`run-eval: ${msg}\nusage: run-eval [--no-fail] [--only NAME]... [--no-corpus | --corpus DIR] [--no-sample] [--heuristic ID]... [--verbose] [--json FILE] [--workers N]\n`);
  process.exit(2);
}

export function parseArgs(argv: string[]): CliOptions {
  const o: CliOptions = { fail: true, only: [], corpus: undefined, sample: true, heuristics: [], verbose: false, json: null, workers: 1 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    switch (a) {
      case '--no-fail':
        o.fail = false;
        break;
      case '--only':
        o.only.push(value());
        break;
      case '--no-corpus':
        o.corpus = false;
        break;
      case '--corpus':
        o.corpus = path.resolve(value());
        break;
      case '--no-sample':
        o.sample = false;
        break;
      case '--heuristic':
        o.heuristics.push(value());
        break;
      case '--verbose':
        o.verbose = true;
        break;
      case '--json':
        o.json = path.resolve(value());
        break;
      case '--workers': {
        const n = Number(value());
        if (!Number.isInteger(n) || n < 1) usage('--workers needs a whole number >= 1');
        o.workers = n;
        break;
      }
      default:
        usage(`unknown option ${a}`);
    }
  }
  return o;
}

export async function main(argv: string[]): Promise<number> {
  const o = parseArgs(argv);
  let heuristics = HEURISTICS;
  if (o.heuristics.length > 0) {
    const unknown = o.heuristics.filter((id) => !HEURISTICS.some((h) => h.id === id));
    if (unknown.length) usage(`not registered: ${unknown.join(', ')} (registered: ${HEURISTICS.map((h) => h.id).join(', ') || 'none'})`);
    heuristics = HEURISTICS.filter((h) => o.heuristics.includes(h.id));
  }
  const tmp = o.sample ? fs.mkdtempSync(path.join(os.tmpdir(), 'tapwatch-eval-')) : null;
  try {
    const scenarios = loadScenarioSet({ sampleDir: tmp ?? undefined, corpus: o.corpus, only: o.only });
    if (scenarios.length === 0) usage('no scenario selected');
    process.stderr.write(`evaluating ${scenarios.length} scenario(s)...\n`);
    const report = await runEval(scenarios, { heuristics, corpusAllowlist: loadCorpusAllowlist(defaultAllowlistPath()), workers: o.workers });
    process.stdout.write(formatReport(report, { verbose: o.verbose }) + '\n');
    if (o.json) fs.writeFileSync(o.json, JSON.stringify(report, null, 2) + '\n');
    return evalFailures(report).length === 0 || !o.fail ? 0 : 1;
  } finally {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** Run directly (node dist/...) or through vite-node, which puts itself in argv[1]. */
const invokedDirectly = process.argv[1] !== undefined && (import.meta.url === pathToFileURL(process.argv[1]).href || /vite-node(\.m?js)?$/.test(process.argv[1]));
if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`run-eval: ${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = 2;
    },
  );
}
