#!/usr/bin/env node
// tapwatch CLI entry: the TypeScript sources are compiled to dist/ by `npm ci` (prepare) or `npm run build`.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'dist', 'sensor', 'src', 'cli.js');
if (!existsSync(entry)) {
  process.stderr.write('tapwatch: not built yet; run `npm ci` (or `npm run build`) in ' + root + '\n');
  process.exit(2);
}
const { main } = await import(entry);
process.exitCode = await main(process.argv.slice(2));
