/**
 * deploy/Dockerfile, checked by structure (no Docker on the test machines):
 * multi-stage from node:20-bookworm-slim, libpcap for the addon, every file
 * the build and the runtime need is copied and not hidden by .dockerignore,
 * the final stages run as a non-root user with EXPOSE, HEALTHCHECK and a
 * CMD made of flags the CLI knows.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, checkArgs, subcommandFlags } from './cli-help.js';

interface Instruction { op: string; args: string }
interface Stage { base: string; name: string; steps: Instruction[] }

/** Joins continuation lines and splits the file into stages of instructions. */
function parseDockerfile(text: string): { args: Map<string, string>; stages: Stage[] } {
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const line of lines) {
    const [op, ...rest] = line.split(/\s+/);
    const instr = { op: op!.toUpperCase(), args: rest.join(' ') };
    if (instr.op === 'ARG' && stages.length === 0) {
      const [k, v] = instr.args.split('=');
      args.set(k!, v ?? '');
    } else if (instr.op === 'FROM') {
      const m = /^(\S+)(?: AS (\S+))?$/i.exec(instr.args)!;
      stages.push({ base: m[1]!.replace(/\$\{(\w+)\}/g, (_x, k: string) => args.get(k) ?? ''), name: m[2] ?? String(stages.length), steps: [] });
    } else {
      stages.at(-1)!.steps.push(instr);
    }
  }
  return { args, stages };
}

const dockerfile = readFileSync(path.join(REPO_ROOT, 'deploy/Dockerfile'), 'utf8');
const { stages } = parseDockerfile(dockerfile);
const stage = (name: string): Stage => stages.find((s) => s.name === name)!;
const steps = (s: Stage, op: string): string[] => s.steps.filter((i) => i.op === op).map((i) => i.args);
/** The stage chain of a stage (itself, then the stages it is FROM). */
const chain = (s: Stage): Stage[] => [s, ...(stages.some((x) => x.name === s.base) ? chain(stage(s.base)) : [])];
const ignore = readFileSync(path.join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));

describe('deploy/Dockerfile', () => {
  it('is multi-stage on node:20-bookworm-slim, with the collector as the default (last) target', () => {
    expect(stages.map((s) => s.name)).toEqual(['build', 'runtime', 'sensor', 'collector']);
    expect(stage('build').base).toBe('node:20-bookworm-slim');
    expect(stage('runtime').base).toBe('node:20-bookworm-slim');
    expect(stage('sensor').base).toBe('runtime');
    expect(stage('collector').base).toBe('runtime');
  });

  it('builds with libpcap headers and a compiler, and ships only the shared libraries', () => {
    const build = steps(stage('build'), 'RUN').join(' ');
    for (const pkg of ['libpcap-dev', 'build-essential', 'python3', 'libssl-dev', 'zlib1g-dev']) expect(build).toContain(pkg);
    // The addon build must fail the image rather than fall back silently to `cap`.
    expect(build).toContain('TAPCAP_REQUIRED=1 node sensor/native/build.mjs');
    expect(build).toContain('npm rebuild node-rdkafka');
    expect(build).toContain('tsc -p tsconfig.build.json');
    expect(build).toContain('npm prune --omit=dev');
    const runtime = steps(stage('runtime'), 'RUN').join(' ');
    expect(runtime).toContain('libpcap0.8');
    expect(runtime).not.toContain('-dev');
  });

  it('copies into the build every source tsconfig.build.json compiles, none of them excluded by .dockerignore', () => {
    const copied = steps(stage('build'), 'COPY').flatMap((a) => a.split(/\s+/).slice(0, -1)).filter((s) => !s.startsWith('--'));
    for (const src of copied) {
      expect(existsSync(path.join(REPO_ROOT, src)), src).toBe(true);
      expect(ignore, `${src} is in .dockerignore`).not.toContain(src);
    }
    const include: string[] = JSON.parse(readFileSync(path.join(REPO_ROOT, 'tsconfig.build.json'), 'utf8')).include;
    for (const dir of include) expect(copied.some((c) => dir === c || dir.startsWith(c + '/')), dir).toBe(true);
    for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'sensor', 'bin']) expect(copied).toContain(f);
    // node_modules and dist are rebuilt inside the image, never sent from the host.
    for (const f of ['node_modules', 'dist', '.git']) expect(ignore).toContain(f);
  });

  it('copies into the runtime what tapwatch reads at run time, from paths the build stage has', () => {
    const copies = steps(stage('runtime'), 'COPY').map((a) => a.split(/\s+/));
    const fromBuild = copies.filter((c) => c[0] === '--from=build').map((c) => c[1]!.replace(/^\/src\//, ''));
    for (const p of ['package.json', 'node_modules', 'bin', 'dist', 'sensor/schemas', 'sensor/config', 'collector/src/store/migrations', 'sensor/native/build/Release/tapcap.node']) {
      expect(fromBuild, p).toContain(p);
    }
    // Sources of these exist in the repository (the build adds dist, node_modules and the addon).
    for (const p of ['bin', 'sensor/schemas', 'sensor/config', 'collector/src/store/migrations']) expect(existsSync(path.join(REPO_ROOT, p)), p).toBe(true);
    // The addon lands where live-capture.ts looks for it.
    const live = readFileSync(path.join(REPO_ROOT, 'sensor/src/capture/live-capture.ts'), 'utf8');
    expect(live).toContain("'sensor/native/build/Release/tapcap.node'");
    expect(steps(stage('runtime'), 'ENTRYPOINT')[0]).toBe('["node", "/opt/tapwatch/bin/tapwatch.js"]');
    expect(steps(stage('runtime'), 'WORKDIR')[0]).toBe('/opt/tapwatch');
  });

  it.each([['collector', '8080', '/healthz'], ['sensor', '9464', '/metrics']])('%s target: non-root USER, EXPOSE %s, HEALTHCHECK on %s, a valid CMD', (name, port, probe) => {
    const s = stage(name);
    const user = steps(s, 'USER').at(-1)!;
    expect(user).toBeTruthy();
    expect(user.split(':')[0]).not.toMatch(/^(root|0)$/);
    // The user exists: the runtime stage creates it.
    expect(steps(stage('runtime'), 'RUN').join(' ')).toContain(`useradd --system --uid 10001 --gid tapwatch`);
    expect(user).toBe('tapwatch:tapwatch');
    expect(steps(s, 'EXPOSE')).toEqual([port]);
    const hc = steps(s, 'HEALTHCHECK')[0]!;
    expect(hc).toContain(`http://127.0.0.1:${port}${probe}`);
    const cmd = JSON.parse(steps(s, 'CMD')[0]!) as string[];
    expect(cmd[0]).toBe(name);
    expect(checkArgs(cmd.slice(1), subcommandFlags(name as 'sensor' | 'collector'))).toEqual([]);
    expect(chain(s).map((x) => x.name)).toContain('runtime');
  });

  it('gives only the sensor capabilities, as file capabilities on node', () => {
    expect(steps(stage('sensor'), 'RUN').join(' ')).toMatch(/setcap cap_net_raw,cap_net_admin\+ep /);
    expect(steps(stage('collector'), 'RUN')).toEqual([]);
    expect(steps(stage('runtime'), 'RUN').join(' ')).not.toContain('setcap');
  });
});
