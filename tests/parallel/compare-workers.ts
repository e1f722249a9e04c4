/**
 * Compare `--workers N` with the single-threaded sensor over every eval
 * scenario (tests/eval/scenarios.ts): the normalised event sets must be equal
 * (normalize.ts). Prints one line per scenario and the differing events.
 *
 *   npx vite-node tests/parallel/compare-workers.ts -- [--workers N] [--only NAME]...
 *
 * The shards run dist/'s compiled worker: build first (npx tsc -p tsconfig.build.json).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Policy } from '../../sensor/src/detect/policy.js';
import type { SensorOptions } from '../../sensor/src/sensor.js';
import { loadScenarioSet, type Scenario } from '../eval/scenarios.js';
import { runParallelOnFile, runSingleOnFile } from './run-parallel.js';
import { diffEvents, normalizeEvents } from './normalize.js';

function optionsOf(s: Scenario): Partial<SensorOptions> {
  const o: Partial<SensorOptions> = {};
  if (s.label.policy) o.policy = new Policy(s.label.policy);
  if (s.label.decode) o.decode = s.label.decode;
  return o;
}

export async function compareScenario(s: Scenario, workers: number): Promise<{ same: boolean; events: number; onlySingle: string[]; onlyParallel: string[] }> {
  const opts = optionsOf(s);
  const single = normalizeEvents((await runSingleOnFile(s.pcap, opts)).events);
  const parallel = normalizeEvents((await runParallelOnFile(s.pcap, workers, opts)).events);
  const d = diffEvents(single, parallel);
  return { same: d.onlyA.length === 0 && d.onlyB.length === 0, events: single.length, onlySingle: d.onlyA, onlyParallel: d.onlyB };
}

async function main(argv: string[]): Promise<number> {
  let workers = 2;
  const only: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--workers') workers = Number(argv[++i]);
    else if (argv[i] === '--only') only.push(argv[++i]!);
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tapwatch-cmp-'));
  let differ = 0;
  try {
    const scenarios = loadScenarioSet({ sampleDir: tmp, only });
    for (const s of scenarios) {
      let r;
      try {
        r = await compareScenario(s, workers);
      } catch (err) {
        differ++;
        process.stdout.write(`ERROR ${s.name}: ${String((err as Error).message).slice(0, 300)}\n`);
        continue;
      }
      if (!r.same) differ++;
      process.stdout.write(`${r.same ? 'same ' : 'DIFF '} ${s.name} (${r.events} events)\n`);
      for (const x of r.onlySingle.slice(0, 5)) process.stdout.write(`   only single:   ${x.slice(0, Number(process.env['CMP_WIDTH'] ?? 400))}\n`);
      for (const x of r.onlyParallel.slice(0, 5)) process.stdout.write(`   only parallel: ${x.slice(0, Number(process.env['CMP_WIDTH'] ?? 400))}\n`);
    }
    process.stdout.write(`${scenarios.length - differ}/${scenarios.length} scenarios identical with --workers ${workers}\n`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return differ === 0 ? 0 : 1;
}

if (process.argv[1] !== undefined && /compare-workers|vite-node/.test(process.argv[1])) {
  main(process.argv.slice(2).filter((a) => a !== '--')).then((c) => (process.exitCode = c));
}
