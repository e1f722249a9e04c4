/**
 * The detection policy (YAML, validated by sensor/config/policy.schema.json):
 * authorised recorders, relays, SBCs, TURN servers and collectors; the
 * sensor's own tunnel endpoints; multicast paging groups; and the switch and
 * thresholds of every heuristic.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { parseAddr } from '../decode/address.js';
import type { FindingType } from '../events/types.js';

export type AuthorisedRole = 'recorder' | 'relay' | 'sbc' | 'turn' | 'collector';

export interface AuthorisedRule {
  name: string;
  role: AuthorisedRole;
  cidr: string;
  ports?: Array<number | string>;
  action?: 'downgrade' | 'silence';
  why?: string;
}

export interface PolicyConfig {
  version?: 1;
  authorised?: AuthorisedRule[];
  sensorTunnels?: Array<{ cidr: string; kinds?: string[] }>;
  spanDeduplication?: boolean;
  multicastPaging?: Array<{ cidr: string; name?: string }>;
  heuristics?: Record<string, Record<string, number | boolean | string>>;
}

/** Which roles may legitimately be the "extra party" of each finding type. */
const ROLES_FOR: Record<FindingType, AuthorisedRole[]> = {
  duplicate_stream: ['recorder', 'collector'],
  signaling_copy: ['collector', 'recorder'],
  unexpected_relay: ['relay', 'sbc', 'turn'],
  key_exposure: [],
  declared_recording: ['recorder'],
};

class Cidr {
  readonly version: number;
  private readonly words = new Uint32Array(4);
  private readonly bits: number;

  constructor(text: string) {
    const [addr, len] = text.split('/');
    this.version = parseAddr(addr ?? '', this.words);
    if (this.version === 0) throw new PolicyError(`not an IP address or CIDR: '${text}'`);
    const max = this.version === 4 ? 32 : 128;
    this.bits = len === undefined ? max : Number(len);
    if (!Number.isInteger(this.bits) || this.bits < 0 || this.bits > max) throw new PolicyError(`bad prefix length in '${text}'`);
  }

  contains(version: number, w: Uint32Array): boolean {
    if (version !== this.version) return false;
    let left = this.bits;
    for (let i = 0; i < 4 && left > 0; i++) {
      const take = Math.min(32, left);
      const mask = take === 32 ? 0xffffffff : (~0 << (32 - take)) >>> 0;
      if (((w[i]! & mask) >>> 0) !== ((this.words[i]! & mask) >>> 0)) return false;
      left -= take;
    }
    return true;
  }
}

export class PolicyError extends Error {}

function portMatches(ports: Array<number | string> | undefined, port: number | null): boolean {
  if (!ports || ports.length === 0 || port === null) return true;
  for (const p of ports) {
    if (typeof p === 'number') {
      if (p === port) return true;
    } else {
      const [lo, hi] = p.split('-').map(Number);
      if (port >= lo! && port <= hi!) return true;
    }
  }
  return false;
}

export interface MatchedRule {
  name: string;
  why: string;
  action: 'downgrade' | 'silence';
}

const scratch = new Uint32Array(4);

export class Policy {
  private readonly rules: Array<AuthorisedRule & { net: Cidr }>;
  private readonly tunnels: Array<{ net: Cidr; kinds: Set<string> | null }>;
  private readonly paging: Cidr[];
  readonly spanDeduplication: boolean;

  constructor(readonly config: PolicyConfig = {}) {
    this.rules = (config.authorised ?? []).map((r) => ({ ...r, net: new Cidr(r.cidr) }));
    this.tunnels = (config.sensorTunnels ?? []).map((t) => ({ net: new Cidr(t.cidr), kinds: t.kinds ? new Set(t.kinds) : null }));
    this.paging = (config.multicastPaging ?? []).map((p) => new Cidr(p.cidr));
    this.spanDeduplication = config.spanDeduplication ?? true;
  }

  /** The authorised rule that covers this party for this kind of finding, if any. */
  matchAuthorised(type: FindingType, ip: string, port: number | null): MatchedRule | null {
    const roles = ROLES_FOR[type];
    if (roles.length === 0 || this.rules.length === 0) return null;
    const v = parseAddr(ip, scratch);
    if (v === 0) return null;
    for (const r of this.rules) {
      if (!roles.includes(r.role)) continue;
      if (r.net.contains(v, scratch) && portMatches(r.ports, port)) {
        return { name: r.name, why: r.why ?? `authorised ${r.role} ${r.cidr}`, action: r.action ?? 'downgrade' };
      }
    }
    return null;
  }

  /** Is this (outer) tunnel the sensor's own mirror feed? */
  isSensorTunnel(kind: string, version: number, dstWords: Uint32Array, srcWords: Uint32Array): boolean {
    for (const t of this.tunnels) {
      if (t.kinds && !t.kinds.has(kind)) continue;
      if (t.net.contains(version, dstWords) || t.net.contains(version, srcWords)) return true;
    }
    return false;
  }

  get hasSensorTunnels(): boolean {
    return this.tunnels.length > 0;
  }

  isPagingGroup(ip: string): boolean {
    const v = parseAddr(ip, scratch);
    return v !== 0 && this.paging.some((c) => c.contains(v, scratch));
  }

  /** A heuristic's settings: its defaults overridden by the policy. */
  heuristic<T extends Record<string, number | boolean | string>>(id: string, defaults: T & { enabled: boolean }): T & { enabled: boolean } {
    return { ...defaults, ...(this.config.heuristics?.[id] ?? {}) } as T & { enabled: boolean };
  }
}

export function policySchemaPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const up of ['../../config/policy.schema.json', '../../../../sensor/config/policy.schema.json']) {
    const p = resolve(here, up);
    try {
      readFileSync(p);
      return p;
    } catch {
      /* next */
    }
  }
  throw new PolicyError('cannot find sensor/config/policy.schema.json');
}

/** Load and validate a YAML (or JSON) policy file. Errors name the file and the offending path. */
export function loadPolicy(path: string): Policy {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new PolicyError(`cannot read policy file ${path}: ${(err as Error).message}`);
  }
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (err) {
    throw new PolicyError(`policy file ${path} is not valid YAML: ${(err as Error).message}`);
  }
  const ajv = new Ajv({ allErrors: true, strict: false });
  const validate = ajv.compile(JSON.parse(readFileSync(policySchemaPath(), 'utf8')) as object);
  if (!validate(data ?? {})) {
    const msg = (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
    throw new PolicyError(`policy file ${path} is invalid: ${msg}`);
  }
  return new Policy((data ?? {}) as PolicyConfig);
}
