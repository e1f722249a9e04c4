/**
 * Every shipped heuristic is named, versioned, switchable in the policy and
 * documented (what it detects, why, its evidence and known false positives).
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { HEURISTICS } from '../../sensor/src/detect/registry.js';
import { Policy, loadPolicy, PolicyError } from '../../sensor/src/detect/policy.js';
import { Sensor } from '../../sensor/src/sensor.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';

const DOCS = resolve(__dirname, '../../docs/heuristics');

describe('heuristic registry', () => {
  it('ships at least the five finding families', () => {
    expect(HEURISTICS.length).toBeGreaterThanOrEqual(5);
  });

  for (const m of HEURISTICS) {
    describe(m.id, () => {
      it('has a kebab-case id, a version and a switch', () => {
        expect(m.id).toMatch(/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/);
        expect(Number.isInteger(m.version) && m.version >= 1).toBe(true);
        expect(typeof m.defaults.enabled).toBe('boolean');
      });
      it('is documented with rationale, evidence and known false positives', () => {
        const f = join(DOCS, `${m.id}.md`);
        expect(existsSync(f), f).toBe(true);
        const text = readFileSync(f, 'utf8').toLowerCase();
        expect(text).toMatch(/false positive/);
        expect(text).toMatch(/evidence/);
        expect(text).toMatch(/why|rationale/);
      });
    });
  }

  it('ids are unique', () => {
    const ids = HEURISTICS.map((m) => m.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('a heuristic switched off in the policy is not run', () => {
    const all = new Sensor({ statsIntervalSec: 0 }, []);
    const off = HEURISTICS[0]!.id;
    const some = new Sensor({ statsIntervalSec: 0, policy: new Policy({ heuristics: { [off]: { enabled: false } } }) }, []);
    expect(all.detection!.detectors.map((d) => d.id)).toContain(off);
    expect(some.detection!.detectors.map((d) => d.id)).not.toContain(off);
    expect(some.detection!.detectors.length).toBe(all.detection!.detectors.length - 1);
  });
});

describe('policy file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tapwatch-policy-'));

  it('loads YAML, matches authorised parties by CIDR and port, and knows the sensor tunnels', () => {
    const f = join(dir, 'ok.yaml');
    writeFileSync(
      f,
      [
        'version: 1',
        'authorised:',
        '  - name: recorders',
        '    role: recorder',
        '    cidr: 10.20.0.0/16',
        '    ports: [5060, "30000-40000"]',
        '    why: call recording cluster (ticket 42)',
        '  - name: quiet-relay',
        '    role: relay',
        '    cidr: 2001:db8::/32',
        '    action: silence',
        'sensorTunnels:',
        '  - cidr: 192.0.2.10/32',
        '    kinds: [erspan2, vxlan]',
        'heuristics:',
        '  sig-copy: { enabled: false }',
      ].join('\n'),
    );
    const p = loadPolicy(f);
    expect(p.matchAuthorised('duplicate_stream', '10.20.3.4', 31000)).toEqual({ name: 'recorders', why: 'call recording cluster (ticket 42)', action: 'downgrade' });
    expect(p.matchAuthorised('duplicate_stream', '10.20.3.4', 1234)).toBeNull();
    expect(p.matchAuthorised('duplicate_stream', '10.21.0.1', 31000)).toBeNull();
    expect(p.matchAuthorised('unexpected_relay', '10.20.3.4', 31000)).toBeNull(); // recorders are not relays
    expect(p.matchAuthorised('unexpected_relay', '2001:db8::7', 40000)?.action).toBe('silence');
    const dst = new Uint32Array([(192 << 24) | (0 << 16) | (2 << 8) | 10, 0, 0, 0]);
    expect(p.isSensorTunnel('vxlan', 4, dst, new Uint32Array(4))).toBe(true);
    expect(p.isSensorTunnel('gre', 4, dst, new Uint32Array(4))).toBe(false);
    expect(p.heuristic('sig-copy', { enabled: true }).enabled).toBe(false);
  });

  it('rejects an invalid policy with a message naming the file and the problem', () => {
    const f = join(dir, 'bad.yaml');
    writeFileSync(f, 'authorised:\n  - name: x\n    role: wizard\n    cidr: 10.0.0.0/8\n');
    expect(() => loadPolicy(f)).toThrow(PolicyError);
    expect(() => loadPolicy(f)).toThrow(/bad\.yaml.*role/);
    const g = join(dir, 'badcidr.yaml');
    writeFileSync(g, 'authorised:\n  - { name: x, role: recorder, cidr: "10.0.0.0/99" }\n');
    expect(() => loadPolicy(g)).toThrow(/prefix length/);
    expect(() => loadPolicy(join(dir, 'missing.yaml'))).toThrow(/cannot read/);
  });
});
