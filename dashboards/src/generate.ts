/**
 * `npm run dashboards`: writes every dashboard to dashboards/generated/<uid>.json
 * (the files Grafana provisioning loads) and removes generated files of
 * dashboards that no longer exist. tests/dashboards/generated.test.ts fails
 * when the committed files differ from what this writes.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allDashboards, renderDashboard } from './dashboards.js';

/** The repository root: the nearest directory above this file with a package.json (works from src and from dist). */
export function repoRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${from}`);
    dir = up;
  }
  return dir;
}

export const generatedDir = (root = repoRoot()): string => join(root, 'dashboards', 'generated');

/** Writes the dashboards; returns the files written and those removed. */
export function generate(dir = generatedDir()): { written: string[]; removed: string[] } {
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  for (const d of allDashboards()) {
    const file = join(dir, `${d.uid}.json`);
    const body = renderDashboard(d);
    if (!existsSync(file) || readFileSync(file, 'utf8') !== body) writeFileSync(file, body);
    written.push(file);
  }
  const removed: string[] = [];
  for (const name of readdirSync(dir)) {
    const file = join(dir, name);
    if (name.endsWith('.json') && !written.includes(file)) {
      unlinkSync(file);
      removed.push(file);
    }
  }
  return { written, removed };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { written, removed } = generate();
  for (const f of written) console.log(`wrote ${f}`);
  for (const f of removed) console.log(`removed ${f}`);
}
