/**
 * Mutated capture FILES through `--read`, time-bounded: the file readers
 * (pcap, pcapng; capture/open-file.ts) and everything behind them must treat
 * a damaged file as input, never as a reason to crash. (fuzz-pipeline.test.ts
 * mutates frames handed to the pipeline; this one mutates the files: global
 * and section headers, record and block lengths, link types, truncation.)
 *
 * Seeds: the labelled scenario captures (classic pcap) and a pcapng copy of
 * one (written by editcap, when present). Mutations: bit flips anywhere, a
 * random 32-bit field overwritten in the first 64 bytes (magic, version,
 * snaplen, link type, first record/block header), a record or block length
 * set to 0, to a small value or to a huge one, truncation at any byte, a
 * splice of two files.
 *
 *  - In process, as many mutants as fit in TAPWATCH_READ_FUZZ_MS (default
 *    6000): openCaptureFile + Sensor.run either succeed or throw a
 *    CaptureError (not a capture, unreadable); nothing else may escape, and
 *    the packet count never exceeds what the file could hold.
 *  - Through the CLI, a handful of the same mutants: exit code 0 or 1, a
 *    one-line `tapwatch:` message on failure, never a stack trace or a signal.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Xorshift32 } from '../fixtures/gen/prng.js';
import { openCaptureFile } from '../../sensor/src/capture/open-file.js';
import { CaptureError } from '../../sensor/src/capture/packet-source.js';
import { Sensor } from '../../sensor/src/sensor.js';
import { CollectingSink } from '../lib/run-sensor.js';
import type { SensorStatsEvent } from '../../sensor/src/events/types.js';
import { ensureSensorBuilt } from './ensure-built.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(here, '../..');
const BIN = path.join(ROOT, 'bin', 'tapwatch.js');
const CAPTURES = path.join(ROOT, 'tests', 'scenarios', 'captures');
const BUDGET_MS = Number(process.env.TAPWATCH_READ_FUZZ_MS ?? 6000);
const SEED = Number(process.env.TAPWATCH_FUZZ_SEED ?? 0x5eedf11e);
const CLI_RUNS = 12;

const dir = mkdtempSync(path.join(os.tmpdir(), 'tw-read-fuzz-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function seeds(): Buffer[] {
  const files = readdirSync(CAPTURES).filter((f) => f.endsWith('.pcap')).sort();
  const out = files.map((f) => readFileSync(path.join(CAPTURES, f)));
  const ng = path.join(dir, 'seed.pcapng');
  const r = spawnSync('editcap', ['-F', 'pcapng', path.join(CAPTURES, files[0]!), ng]);
  if (r.status === 0 && existsSync(ng)) out.push(readFileSync(ng));
  return out;
}

function mutate(rng: Xorshift32, all: Buffer[]): Buffer {
  const f = Buffer.from(all[rng.below(all.length)]!);
  switch (rng.below(6)) {
    case 0: // bit flips anywhere
      for (let k = 0; k < 1 + rng.below(8); k++) f[rng.below(f.length)]! ^= 1 << rng.below(8);
      return f;
    case 1: {
      // a 32-bit field of the headers: magic, version, snaplen, link type, first record or block header
      const at = 4 * rng.below(16);
      f.writeUInt32LE(rng.next() >>> 0, at);
      return f;
    }
    case 2: {
      // a record (pcap: incl_len at 24+8) or block (pcapng: total length at 4) length set to an edge value
      const at = f.readUInt32LE(0) === 0x0a0d0d0a ? 4 : 32;
      f.writeUInt32LE([0, 1, 7, 16, 0x7fffffff, 0xffffffff, 262145][rng.below(7)]!, at);
      return f;
    }
    case 3: // truncated at any byte
      return f.subarray(0, rng.below(f.length));
    case 4: {
      // a splice of two files at random points
      const g = all[rng.below(all.length)]!;
      return Buffer.concat([f.subarray(0, rng.below(f.length)), g.subarray(rng.below(g.length))]);
    }
    default: // a run of random bytes in the middle
      for (let k = rng.below(f.length), n = 0; k < f.length && n < 64; k++, n++) f[k] = rng.below(256);
      return f;
  }
}

describe('mutated captures through --read', () => {
  it(`reads every mutant or refuses it with a CaptureError, for ${BUDGET_MS} ms`, async () => {
    const rng = new Xorshift32(SEED);
    const all = seeds();
    const file = path.join(dir, 'mutant.cap');
    const started = Date.now();
    let runs = 0;
    let refused = 0;
    while (Date.now() - started < BUDGET_MS) {
      const m = mutate(rng, all);
      writeFileSync(file, m);
      const sink = new CollectingSink();
      const sensor = new Sensor({ sensorId: 'read-fuzz', statsIntervalSec: 0 }, [sink]);
      try {
        await sensor.run(openCaptureFile(file));
        const stats = sink.ofType('sensor_stats').pop() as SensorStatsEvent;
        // Each packet needs at least a 16-byte record header (pcap) or a 32-byte block (pcapng).
        expect(stats.packets).toBeLessThanOrEqual(Math.ceil(m.length / 16));
      } catch (err) {
        if (!(err instanceof CaptureError)) {
          writeFileSync(path.join(os.tmpdir(), `tw-read-fuzz-failure-${SEED}.cap`), m);
          throw new Error(`mutant ${runs} (seed ${SEED}) threw ${(err as Error).stack}`);
        }
        refused++;
      }
      runs++;
    }
    expect(runs).toBeGreaterThan(50);
    // Both outcomes occur: the mutations are neither all harmless nor all fatal.
    expect(refused).toBeGreaterThan(0);
    expect(refused).toBeLessThan(runs);
  }, BUDGET_MS + 30_000);

  it(`the CLI exits 0 or 1 with a one-line message on ${CLI_RUNS} mutants, never a crash`, () => {
    ensureSensorBuilt(ROOT);
    const rng = new Xorshift32(SEED ^ 0xc11);
    const all = seeds();
    for (let i = 0; i < CLI_RUNS; i++) {
      const file = path.join(dir, `cli-mutant-${i}.cap`);
      writeFileSync(file, mutate(rng, all));
      const r = spawnSync(process.execPath, [BIN, 'sensor', '--read', file, '--format', 'none', '--no-progress'], { encoding: 'utf8', timeout: 20_000 });
      expect(r.signal, `mutant ${i} killed by ${r.signal}`).toBeNull();
      expect([0, 1], `mutant ${i}: exit ${r.status}; stderr ${r.stderr}`).toContain(r.status);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      if (r.status === 1) expect(r.stderr).toMatch(/^tapwatch: /);
    }
  }, 300_000);
});
