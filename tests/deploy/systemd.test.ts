/**
 * deploy/systemd: the sensor and collector units. The sensor must run as an
 * unprivileged user holding exactly CAP_NET_RAW and CAP_NET_ADMIN (ambient,
 * bounded), with the hardening options of systemd.exec(5); ExecStart must
 * name real `tapwatch` flags; `systemd-analyze verify` and its offline
 * security score run when systemd-analyze is installed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, checkArgs, subcommandFlags } from './cli-help.js';

const DIR = path.join(REPO_ROOT, 'deploy/systemd');

/** A unit file: section -> key -> values (a key may repeat). */
type Unit = Map<string, Map<string, string[]>>;

function parseUnit(text: string): Unit {
  const unit: Unit = new Map();
  let section: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const s = /^\[(.+)\]$/.exec(line);
    if (s) {
      section = new Map();
      unit.set(s[1]!, section);
      continue;
    }
    const eq = line.indexOf('=');
    if (!section || eq < 0) throw new Error(`not a unit line: ${line}`);
    const key = line.slice(0, eq).trim();
    section.set(key, [...(section.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return unit;
}

const one = (u: Unit, section: string, key: string): string | undefined => u.get(section)?.get(key)?.at(-1);

/** KEY=VALUE lines of an environment file. */
function parseEnvFile(text: string): Map<string, string> {
  const env = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) env.set(m[1]!, m[2]!);
  }
  return env;
}

/** systemd's ExecStart expansion (systemd.service(5)): ${V} is one word, $V splits on white space. */
function expandExec(cmd: string, env: Map<string, string>): string[] {
  const out: string[] = [];
  for (const word of cmd.split(/\s+/)) {
    const whole = /^\$([A-Z_][A-Z0-9_]*)$/.exec(word);
    if (whole) {
      out.push(...(env.get(whole[1]!) ?? '').split(/\s+/).filter((w) => w !== ''));
      continue;
    }
    out.push(word.replace(/\$\{([A-Z_][A-Z0-9_]*)\}/g, (_m, v: string) => {
      if (!env.has(v)) throw new Error(`\${${v}} is not set in the example environment file`);
      return env.get(v)!;
    }));
  }
  return out;
}

const sysusers = readFileSync(path.join(DIR, 'sysusers.d/tapwatch.conf'), 'utf8');
const tmpfiles = readFileSync(path.join(DIR, 'tmpfiles.d/tapwatch.conf'), 'utf8');

const cases = [
  { sub: 'sensor' as const, file: 'tapwatch-sensor.service', envExample: 'sensor.env.example', caps: ['CAP_NET_ADMIN', 'CAP_NET_RAW'] },
  { sub: 'collector' as const, file: 'tapwatch-collector.service', envExample: 'collector.env.example', caps: [] as string[] },
];

describe.each(cases)('$file', ({ sub, file, envExample, caps }) => {
  const unitPath = path.join(DIR, file);
  const unit = parseUnit(readFileSync(unitPath, 'utf8'));

  it('runs as a dedicated system user that sysusers.d creates, never root', () => {
    const user = one(unit, 'Service', 'User')!;
    expect(user).toBeTruthy();
    expect(['root', '0']).not.toContain(user);
    expect(one(unit, 'Service', 'DynamicUser')).toBeUndefined();
    expect(sysusers).toMatch(new RegExp(`^u\\s+${user}\\s`, 'm'));
    expect(one(unit, 'Install', 'WantedBy')).toBe('multi-user.target');
  });

  it(`holds exactly the capabilities it needs (${caps.join(', ') || 'none'}), ambient and bounded`, () => {
    const set = (k: string): string[] => (one(unit, 'Service', k) ?? '').split(/\s+/).filter((c) => c !== '').sort();
    expect(set('AmbientCapabilities')).toEqual(caps);
    expect(set('CapabilityBoundingSet')).toEqual(caps);
    // Defined, even when empty: an absent CapabilityBoundingSet means "all".
    expect(unit.get('Service')!.has('CapabilityBoundingSet')).toBe(true);
  });

  it('is hardened (systemd.exec(5) sandboxing)', () => {
    const want: Record<string, string> = {
      NoNewPrivileges: 'yes', ProtectSystem: 'strict', ProtectHome: 'yes', PrivateTmp: 'yes', PrivateDevices: 'yes',
      ProtectKernelTunables: 'yes', ProtectKernelModules: 'yes', ProtectControlGroups: 'yes', RestrictSUIDSGID: 'yes',
      RestrictNamespaces: 'yes', LockPersonality: 'yes', SystemCallArchitectures: 'native',
    };
    for (const [k, v] of Object.entries(want)) expect(one(unit, 'Service', k), k).toBe(v);
    const families = one(unit, 'Service', 'RestrictAddressFamilies')!.split(/\s+/);
    // Capture needs AF_PACKET; the collector must not have it.
    expect(families.includes('AF_PACKET')).toBe(sub === 'sensor');
  });

  it('starts a real `tapwatch` subcommand with flags the CLI knows and variables the example env file sets', () => {
    const env = parseEnvFile(readFileSync(path.join(DIR, envExample), 'utf8'));
    const argv = expandExec(one(unit, 'Service', 'ExecStart')!, env);
    expect(argv[0]).toBe('/usr/bin/node');
    // /opt/tapwatch is the install location of this repository (docs/deploy.md).
    expect(argv[1]).toBe('/opt/tapwatch/bin/tapwatch.js');
    expect(existsSync(path.join(REPO_ROOT, path.relative('/opt/tapwatch', argv[1]!)))).toBe(true);
    expect(argv[2]).toBe(sub);
    expect(checkArgs(argv.slice(3), subcommandFlags(sub))).toEqual([]);
    if (sub === 'collector') {
      for (const k of ['KAFKA_BROKERS', 'DATABASE_URL', 'TAPWATCH_API_TOKEN']) expect(env.get(k), k).toBeTruthy();
    }
  });

  if (sub === 'sensor') {
    it('may write its spool, which tmpfiles.d creates for its user, and nothing else', () => {
      const argv = one(unit, 'Service', 'ExecStart')!.split(/\s+/);
      const spool = argv[argv.indexOf('--spool-dir') + 1]!;
      expect(one(unit, 'Service', 'ReadWritePaths')).toBe(spool);
      const user = one(unit, 'Service', 'User')!;
      expect(tmpfiles).toMatch(new RegExp(`^d\\s+${spool.replace(/\//g, '\\/')}\\s+0750\\s+${user}\\s+${user}\\s`, 'm'));
    });
  }

  const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  it.skipIf(analyze.error !== undefined)('passes `systemd-analyze verify` and scores "OK" in its offline security audit', () => {
    const verify = spawnSync('systemd-analyze', ['verify', unitPath], { encoding: 'utf8' });
    expect(verify.stderr).toBe('');
    expect(verify.status).toBe(0);
    const security = spawnSync('systemd-analyze', ['security', '--offline=true', '--no-pager', unitPath], { encoding: 'utf8' });
    const m = /Overall exposure level for \S+: (\d+\.\d+) (\S+)/.exec(security.stdout);
    expect(m, security.stdout.slice(-300) + security.stderr).not.toBeNull();
    // 0 = fully sandboxed, 10 = exposed; systemd calls < 3.0 "OK" (sensor 2.2, collector 1.7 when written).
    expect(Number(m![1])).toBeLessThan(3.0);
  });
});
