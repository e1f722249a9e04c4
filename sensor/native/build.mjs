#!/usr/bin/env node
/**
 * Build the tapcap addon offline with node-gyp (run by npm's "install" script).
 *
 * node-gyp downloads Node headers unless it is told where they are; a
 * distribution Node (Debian: /usr/include/node) or an official tarball
 * (<prefix>/include/node) ships them, so we point --nodedir at the running
 * node's prefix when its headers are there, and never touch the network.
 * A failed build is not fatal: live capture then falls back to the `cap`
 * package (without kernel drop counters) and says so at startup. Set
 * TAPCAP_REQUIRED=1 to make a failed build fail the install instead.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const prefix = resolve(dirname(process.execPath), '..');

function findNodeGyp() {
  const candidates = [
    // npm sets this for lifecycle scripts; it is node-gyp.js in npm >= 7 (a shell wrapper before).
    process.env.npm_config_node_gyp?.endsWith('.js') ? process.env.npm_config_node_gyp : undefined,
    join(prefix, 'lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
    '/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
    '/usr/share/nodejs/node-gyp/bin/node-gyp.js',
  ];
  return candidates.find((c) => c && existsSync(c));
}

const nodeGyp = findNodeGyp();
const args = ['rebuild', '--directory', here];
const nodedir = process.env.npm_config_nodedir || (existsSync(join(prefix, 'include/node/node_api.h')) ? prefix : '');
if (nodedir) args.push(`--nodedir=${nodedir}`);

let status = 1;
if (!nodeGyp) {
  console.error('tapcap: node-gyp not found; live capture will use the cap backend');
} else {
  const r = spawnSync(process.execPath, [nodeGyp, ...args], { stdio: 'inherit' });
  status = r.status ?? 1;
  if (status !== 0) console.error('tapcap: native build failed (is libpcap-dev installed?); live capture will use the cap backend');
}
process.exit(status !== 0 && process.env.TAPCAP_REQUIRED === '1' ? status : 0);
