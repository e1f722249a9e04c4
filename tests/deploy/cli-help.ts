/**
 * The flags a deployment file may pass to `tapwatch sensor|collector`, read
 * from the CLI's own help text (bin/tapwatch.js -> dist/), so a renamed or
 * removed flag breaks these tests instead of a production unit at start-up.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureSensorBuilt } from '../e2e/ensure-built.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Flag name (with dashes) -> whether it takes a value. */
export type FlagTable = Map<string, boolean>;

const cache = new Map<string, FlagTable>();

/** Parses `  -r, --read FILE   text` and `      --no-promisc   text` lines of the help output. */
export function parseHelpFlags(help: string): FlagTable {
  const flags: FlagTable = new Map();
  for (const line of help.split('\n')) {
    const m = /^\s+(?:-[A-Za-z], )?(--[a-z][a-z-]*)(?: ([A-Za-z][A-Za-z=-]*))?(?:\s{2,}|$)/.exec(line);
    if (m) flags.set(m[1]!, m[2] !== undefined);
  }
  return flags;
}

/** The flags of one subcommand, from `node bin/tapwatch.js SUB --help` (stdout and stderr). */
export function subcommandFlags(sub: 'sensor' | 'collector'): FlagTable {
  const hit = cache.get(sub);
  if (hit) return hit;
  // Built only when missing: a rebuild of the whole tree on every run is slow
  // and, with other files mid-edit, may not even finish; the help text lives
  // in two small files that change rarely.
  if (!existsSync(path.join(REPO_ROOT, 'dist/sensor/src/cli.js'))) ensureSensorBuilt(REPO_ROOT);
  const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin/tapwatch.js'), sub, '--help'], { encoding: 'utf8', timeout: 30_000 });
  const flags = parseHelpFlags(`${r.stdout}\n${r.stderr}`);
  cache.set(sub, flags);
  return flags;
}

/**
 * Checks an argument vector (after the subcommand) against the help: every
 * `--flag` must be known, a flag that takes a value must be followed by one,
 * a switch must not be. Returns the problems found (empty when all is well).
 */
export function checkArgs(args: string[], flags: FlagTable): string[] {
  const problems: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('-')) {
      problems.push(`stray argument '${a}'`);
      continue;
    }
    const takesValue = flags.get(a);
    if (takesValue === undefined) {
      problems.push(`unknown flag ${a}`);
      continue;
    }
    if (takesValue) {
      const v = args[i + 1];
      if (v === undefined || v.startsWith('--')) problems.push(`${a} needs a value`);
      i++;
    }
  }
  return problems;
}
