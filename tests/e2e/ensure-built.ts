/**
 * The live test runs the real CLI (bin/tapwatch.js -> dist/), so dist/ must
 * match the sources. Rebuild with `tsc -p tsconfig.build.json` when any
 * sensor, collector or test-library source is newer than its compiled file. tsc emits even when some
 * other file has a type error, so a half-finished file elsewhere in the tree
 * does not block the test; only a missing or still-stale output does.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

function staleSources(root: string): string[] {
  const stale: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') && !e.name.endsWith('.test.ts')) {
        const out = path.join(root, 'dist', path.relative(root, p)).replace(/\.ts$/, '.js');
        if (!existsSync(out) || statSync(out).mtimeMs < statSync(p).mtimeMs) stale.push(path.relative(root, p));
      }
    }
  };
  // The folders of tsconfig.build.json whose compiled code the CLI and the tests' child processes run.
  for (const dir of ['sensor/src', 'collector/src', 'dashboards/src', 'tests/lib', 'tests/fixtures/gen']) {
    if (existsSync(path.join(root, dir))) walk(path.join(root, dir));
  }
  return stale;
}

/** Makes sure dist/ is current for the sensor, the collector and the test libraries; returns a note of what was done (for the log). */
export function ensureSensorBuilt(root: string): string {
  const before = staleSources(root);
  if (before.length === 0) return 'dist/ is current';
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, encoding: 'utf8', timeout: 300_000 });
  const after = staleSources(root);
  if (after.length > 0) {
    throw new Error(`dist/ is still stale after tsc (exit ${r.status}) for ${after.slice(0, 5).join(', ')}:\n${(r.stdout + r.stderr).slice(0, 2000)}`);
  }
  return `rebuilt dist/ (${before.length} stale sources; tsc exit ${r.status})`;
}
