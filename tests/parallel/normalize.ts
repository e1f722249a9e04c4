/**
 * Events of two runs in a comparable form (docs/parallel.md, "Determinism"):
 * run-dependent ids dropped, stream ids reduced to what does not depend on
 * a shard's table counters (direction and SSRC; the event keeps src/dst),
 * finding ids replaced by the finding's identity, sensor_stats left out,
 * then sorted by (ts, type, JSON). With --workers the SET of events equals
 * the single-threaded run's; only their order may differ.
 */
import type { TapwatchEvent } from '../../sensor/src/events/types.js';

export function normalizeEvents(events: readonly TapwatchEvent[]): string[] {
  const findingKey = new Map<string, string>();
  for (const e of events) {
    if ('findingId' in e && e.type !== 'finding_updated') {
      const f = e as unknown as Record<string, unknown>;
      const party = f['copyTo'] ?? f['relay'] ?? f['leg'] ?? f['recorder'] ?? '';
      findingKey.set(e.findingId, `${e.type}|${e.callId}|${String(party)}|${e.ssrc}`);
    }
  }
  const replacer = (key: string, value: unknown): unknown => {
    if (key === 'id') return undefined;
    if (key === 'streamId' && typeof value === 'string') return value.split('-').slice(1, 3).join('-');
    if (key === 'findingId' && typeof value === 'string') return findingKey.get(value) ?? 'unknown-finding';
    return value;
  };
  return events
    .filter((e) => e.type !== 'sensor_stats')
    .map((e) => ({ ts: e.ts, type: e.type, json: JSON.stringify(e, replacer) }))
    .sort((a, b) => a.ts - b.ts || (a.type < b.type ? -1 : a.type > b.type ? 1 : a.json < b.json ? -1 : a.json > b.json ? 1 : 0))
    .map((x) => x.json);
}

/** Lines only in a, only in b (multiset difference). */
export function diffEvents(a: string[], b: string[]): { onlyA: string[]; onlyB: string[] } {
  const count = new Map<string, number>();
  for (const x of b) count.set(x, (count.get(x) ?? 0) + 1);
  const onlyA: string[] = [];
  for (const x of a) {
    const n = count.get(x) ?? 0;
    if (n > 0) count.set(x, n - 1);
    else onlyA.push(x);
  }
  const onlyB: string[] = [];
  for (const [x, n] of count) for (let i = 0; i < n; i++) onlyB.push(x);
  return { onlyA, onlyB };
}
