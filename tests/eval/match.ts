/**
 * Matching a sensor finding (sensor/src/events/types.ts FindingEvent) against
 * one expected finding of a scenario label (tests/scenarios/README.md, "Label
 * format"). The label format came first, written by hand for real captures, so
 * the matcher normalises it rather than the other way round:
 *
 * - `type` must be equal.
 * - Addresses (`copyTo`, `relay`, `recorder`) compare as ip:port. When the
 *   label gives no port, or the finding's port is 0 (GRE/ERSPAN copies have
 *   no port), they compare by IP alone. SIP URIs and [v6]:port are accepted.
 *   When the label also gives `copyToMac` (a copy that keeps its IP
 *   destination, told apart by next-hop MAC), a finding whose copyTo is that
 *   MAC matches too.
 * - `mode`, `declared`, `suite` and `kind` (alias `method` for
 *   declared_recording) must be equal when given.
 * - `reason` is compared only for unexpected_relay, the one finding type that
 *   carries a reason enum. A label may list alternatives ("path_change or
 *   unsignaled_endpoint: why..."); text that names no known reason is a
 *   comment. On other types `reason` is always a comment.
 * - `notCritical: true` requires severity info or warning.
 * - Everything else in an entry (copiedStream, copyToMac, encapsulation,
 *   relayedStream...) is information for people and is not compared.
 */
import type { FindingEvent, FindingType, RelayReason } from '../../sensor/src/events/types.js';

/** One entry of a label's mustFind (or of the corpus allowlist). */
export interface ExpectedFinding {
  type: FindingType;
  mode?: 'exact' | 'encapsulated' | 'correlated';
  copyTo?: string;
  relay?: string;
  recorder?: string;
  reason?: string;
  declared?: boolean;
  notCritical?: boolean;
  suite?: string;
  kind?: string;
  method?: string;
  /** Counted when found, not missed when absent (a finding the label tolerates but does not demand). */
  optional?: boolean;
  /** Capture time (epoch s) of the first packet of the copy / relayed stream, when the generator knows it. */
  copyStartTs?: number;
  [extra: string]: unknown;
}

export const RELAY_REASONS: readonly RelayReason[] = [
  'unsignaled_endpoint',
  'path_change',
  'dtls_fingerprint_mismatch',
  'zrtp_hash_mismatch',
  'crypto_stripped',
];

export interface Endpoint {
  ip: string;
  /** null when absent or 0. */
  port: number | null;
}

/**
 * Parse "ip:port", "ip", "[v6]:port", bare IPv6, or a SIP/SIPS URI
 * ("sip:user@host:port;params") into an endpoint. Returns null for text that
 * holds no address.
 */
export function parseEndpoint(text: string): Endpoint | null {
  let s = text.trim();
  const uri = /^sips?:(?:[^@]*@)?([^;?>]+)/i.exec(s);
  if (uri) s = uri[1]!;
  let ip: string;
  let port: number | null = null;
  const bracket = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(s);
  if (bracket) {
    ip = bracket[1]!;
    if (bracket[2] !== undefined) port = Number(bracket[2]);
  } else if ((s.match(/:/g) ?? []).length > 1) {
    ip = s; // bare IPv6, no port
  } else {
    const m = /^([^:]+)(?::(\d+))?$/.exec(s);
    if (!m) return null;
    ip = m[1]!;
    if (m[2] !== undefined) port = Number(m[2]);
  }
  if (!/^[0-9.]+$/.test(ip) && !/^[0-9a-fA-F:.]+$/.test(ip)) {
    // A host name: compare as text.
    if (!/^[A-Za-z0-9.-]+$/.test(ip)) return null;
  }
  return { ip: ip.toLowerCase(), port: port === 0 ? null : port };
}

/** Same host, and same port unless either side has none (or 0). */
export function sameEndpoint(expected: string, found: string): boolean {
  const a = parseEndpoint(expected);
  const b = parseEndpoint(found);
  if (!a || !b || a.ip !== b.ip) return false;
  return a.port === null || b.port === null || a.port === b.port;
}

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

/**
 * A copy that keeps its IP destination (nft dup, TEE) is told apart only by
 * the next hop's MAC; a label names it by IP and copyToMac. A finding that
 * names that MAC identifies the same host.
 */
export function sameMac(expected: string, found: string): boolean {
  return MAC_RE.test(expected) && MAC_RE.test(found) && expected.toLowerCase() === found.toLowerCase();
}

/** The relay reasons a label's `reason` text allows, or null when it names none (a comment). */
export function allowedRelayReasons(text: string): Set<string> | null {
  const head = text.split(':')[0]!;
  const words = head.split(/[\s,|/]+|\bor\b/).map((w) => w.trim()).filter(Boolean);
  const found = words.filter((w) => (RELAY_REASONS as readonly string[]).includes(w));
  return found.length > 0 ? new Set(found) : null;
}

function field(f: FindingEvent, name: string): unknown {
  return (f as unknown as Record<string, unknown>)[name];
}

/**
 * Why `found` does not satisfy `expected`, or null when it does. The reason
 * text names the first field that differs (shown in the eval table).
 */
export function mismatch(expected: ExpectedFinding, found: FindingEvent): string | null {
  if (expected.type !== found.type) return `type ${found.type} != ${expected.type}`;
  if (expected.mode !== undefined && field(found, 'mode') !== expected.mode) return `mode ${String(field(found, 'mode'))} != ${expected.mode}`;
  if (expected.declared !== undefined && field(found, 'declared') !== expected.declared) {
    return `declared ${String(field(found, 'declared'))} != ${String(expected.declared)}`;
  }
  if (expected.notCritical === true && found.severity === 'critical') return 'severity critical, label says notCritical';
  for (const name of ['copyTo', 'relay', 'recorder'] as const) {
    const want = expected[name];
    if (want === undefined) continue;
    const got = field(found, name);
    if (typeof got !== 'string') return `no ${name} on the finding`;
    if (name === 'copyTo' && typeof expected.copyToMac === 'string' && sameMac(expected.copyToMac, got)) continue;
    if (!sameEndpoint(want, got)) return `${name} ${got} != ${want}`;
  }
  if (expected.suite !== undefined && field(found, 'suite') !== expected.suite) return `suite ${String(field(found, 'suite'))} != ${expected.suite}`;
  if (found.type === 'declared_recording') {
    const kind = expected.kind ?? expected.method;
    if (kind !== undefined && field(found, 'kind') !== kind) return `kind ${String(field(found, 'kind'))} != ${kind}`;
  }
  if (found.type === 'unexpected_relay' && expected.reason !== undefined) {
    const allowed = allowedRelayReasons(expected.reason);
    if (allowed && !allowed.has(String(field(found, 'reason')))) return `reason ${String(field(found, 'reason'))} not in {${[...allowed].join(', ')}}`;
  }
  return null;
}

export function matches(expected: ExpectedFinding, found: FindingEvent): boolean {
  return mismatch(expected, found) === null;
}

/**
 * Maximum one-to-one matching of expected entries to findings (Kuhn's
 * augmenting paths; both sides are a handful of items). Two mustFind entries
 * that look alike (key_exposure on each leg) need two distinct findings.
 * Returns, per expected index, the index of its finding or -1.
 */
export function assign(expected: readonly ExpectedFinding[], found: readonly FindingEvent[]): number[] {
  const ok: boolean[][] = expected.map((e) => found.map((f) => matches(e, f)));
  const ownerOfFinding = new Array<number>(found.length).fill(-1);
  const tryAssign = (e: number, seen: boolean[]): boolean => {
    for (let f = 0; f < found.length; f++) {
      if (!ok[e]![f] || seen[f]) continue;
      seen[f] = true;
      if (ownerOfFinding[f] === -1 || tryAssign(ownerOfFinding[f]!, seen)) {
        ownerOfFinding[f] = e;
        return true;
      }
    }
    return false;
  };
  // Required entries first, so an optional one never takes the only finding a required one could use.
  const order = expected.map((_, i) => i).sort((a, b) => Number(expected[a]!.optional === true) - Number(expected[b]!.optional === true));
  for (const e of order) tryAssign(e, new Array<boolean>(found.length).fill(false));
  const out = new Array<number>(expected.length).fill(-1);
  ownerOfFinding.forEach((e, f) => {
    if (e >= 0) out[e] = f;
  });
  return out;
}

/** Short text for an expected entry: "duplicate_stream exact copyTo=10.99.0.7:40000". */
export function describeExpected(e: ExpectedFinding): string {
  const parts: string[] = [e.type];
  if (e.mode) parts.push(e.mode);
  if (e.copyTo) parts.push(`copyTo=${e.copyTo}`);
  if (e.relay) parts.push(`relay=${e.relay}`);
  if (e.recorder) parts.push(`recorder=${e.recorder}`);
  if (e.type === 'unexpected_relay' && e.reason) {
    const r = allowedRelayReasons(e.reason);
    if (r) parts.push(`reason=${[...r].join('|')}`);
  }
  if (e.declared !== undefined) parts.push(`declared=${String(e.declared)}`);
  if (e.notCritical) parts.push('notCritical');
  if (e.suite) parts.push(`suite=${e.suite}`);
  if (e.type === 'declared_recording' && (e.kind ?? e.method)) parts.push(`kind=${e.kind ?? e.method}`);
  if (e.optional) parts.push('(optional)');
  return parts.join(' ');
}

/** Short text for a finding: "duplicate_stream exact copyTo=10.99.0.7:40000 critical 0.95 [dup-exact]". */
export function describeFound(f: FindingEvent): string {
  const parts: string[] = [f.type];
  switch (f.type) {
    case 'duplicate_stream':
      parts.push(f.mode, `copyTo=${f.copyTo}`);
      if (f.declared) parts.push('declared');
      break;
    case 'signaling_copy':
      parts.push(`copyTo=${f.copyTo}`);
      break;
    case 'unexpected_relay':
      parts.push(`relay=${f.relay}`, `reason=${f.reason}`);
      break;
    case 'key_exposure':
      parts.push(`suite=${f.suite}`, `leg=${f.leg}`);
      break;
    case 'declared_recording':
      parts.push(`kind=${f.kind}`, `recorder=${f.recorder}`);
      break;
  }
  parts.push(f.severity, String(f.confidence), `[${f.heuristic.id}]`);
  if (f.allowlisted) parts.push(`allowlisted:${f.allowlisted.rule}`);
  return parts.join(' ');
}
