/**
 * One finding per (call, type, extra party): the first report emits the
 * finding event, later evidence updates it (finding_updated) instead of
 * repeating it. Allowlisted parties (policy) downgrade or silence a finding,
 * and the finding says which rule did it and why.
 */
import type { EventEmitter } from '../events/emitter.js';
import type { Evidence, FindingEvent, FindingType, Severity } from '../events/types.js';
import type { Policy } from './policy.js';

/** What a heuristic hands in; the table fills the envelope and dedupes. */
export interface FindingReport {
  type: FindingType;
  /** The extra party this finding is about (copyTo, relay, leg, recorder): part of the dedupe key. */
  party: string;
  callId: string | null;
  ssrc: number | null;
  severity: Severity;
  confidence: number;
  firstSeen: number;
  /** Capture time at which the evidence became complete. */
  detectedAt: number;
  heuristic: { id: string; version: number };
  summary: string;
  evidence: Evidence;
  /** Type-specific fields (copyTo, mode, relay, reason, keyHash...). */
  fields: Record<string, unknown>;
  /** IP of the extra party, for allowlist matching; null when not an address. */
  partyIp: string | null;
  partyPort: number | null;
  /** Set by a heuristic that already knows the party is declared (SIPREC). */
  allowlisted?: { rule: string; why: string } | null;
}

interface Stored {
  event: FindingEvent;
  lastEmitTs: number;
  dirty: boolean;
  updates: number;
  /** Fields changed since the last emitted update. */
  changes: Record<string, string | number | boolean>;
}

const SEVERITY_RANK: Record<Severity, number> = { info: 0, warning: 1, critical: 2 };
/** At most one finding_updated per finding per this many seconds of capture time. */
const UPDATE_INTERVAL_SEC = 5;

export class FindingTable {
  private readonly byKey = new Map<string, Stored>();
  private seq = 0;
  /** Set by the sensor when kernel or ring drops were seen: findings then say evidence may be incomplete. */
  dropsSeen = false;
  readonly counts = { reported: 0, updated: 0, silenced: 0 };

  constructor(
    private readonly events: EventEmitter,
    private readonly policy: Policy,
    private readonly maxFindings = 100_000,
  ) {}

  get size(): number {
    return this.byKey.size;
  }

  find(type: FindingType, callId: string | null, party: string): FindingEvent | undefined {
    return this.byKey.get(`${callId ?? '-'}|${type}|${party}`)?.event;
  }

  report(r: FindingReport): FindingEvent | null {
    let severity = r.severity;
    let allowlisted = r.allowlisted ?? null;
    if (!allowlisted && r.partyIp) {
      const rule = this.policy.matchAuthorised(r.type, r.partyIp, r.partyPort);
      if (rule) {
        if (rule.action === 'silence') {
          this.counts.silenced++;
          return null;
        }
        allowlisted = { rule: rule.name, why: rule.why };
        severity = 'info';
      }
    }
    const key = `${r.callId ?? '-'}|${r.type}|${r.party}`;
    const prev = this.byKey.get(key);
    if (prev) {
      const e = prev.event;
      let changed = false;
      if (r.confidence > e.confidence + 1e-9) {
        e.confidence = round2(r.confidence);
        changed = true;
      }
      if (SEVERITY_RANK[severity] > SEVERITY_RANK[e.severity] && !allowlisted) {
        e.severity = severity;
        changed = true;
      }
      if (this.dropsSeen && !e.evidenceIncomplete) {
        e.evidenceIncomplete = true;
        changed = true;
      }
      e.evidence = r.evidence;
      prev.dirty = true;
      // Type-specific fields can sharpen (e.g. copyTo learnt by ARP): update
      // them at once and say what changed.
      let fieldChanged = false;
      const rec = e as unknown as Record<string, unknown>;
      for (const [k, v] of Object.entries(r.fields)) {
        if (rec[k] !== v && (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')) {
          rec[k] = v;
          prev.changes[k] = v;
          fieldChanged = true;
        }
      }
      if (fieldChanged || (changed && r.detectedAt - prev.lastEmitTs >= UPDATE_INTERVAL_SEC)) this.emitUpdate(prev, r.detectedAt);
      return e;
    }
    if (this.byKey.size >= this.maxFindings) {
      const oldest = this.byKey.keys().next();
      if (!oldest.done) this.byKey.delete(oldest.value);
    }
    this.counts.reported++;
    const body = {
      type: r.type,
      ts: r.detectedAt,
      findingId: `${this.events.runId}-f${++this.seq}`,
      severity,
      confidence: round2(r.confidence),
      callId: r.callId,
      ssrc: r.ssrc,
      detectedAt: r.detectedAt,
      firstSeen: r.firstSeen,
      heuristic: r.heuristic,
      allowlisted,
      evidenceIncomplete: this.dropsSeen,
      summary: r.summary,
      evidence: r.evidence,
      ...r.fields,
    };
    // Sinks serialise at write time (JSONL, Kafka); the table keeps updating
    // this object so that find() returns the latest state of the finding.
    const event = this.events.emit(body as Parameters<EventEmitter['emit']>[0]) as FindingEvent;
    this.byKey.set(key, { event, lastEmitTs: r.detectedAt, dirty: false, updates: 0, changes: {} });
    return event;
  }

  private emitUpdate(s: Stored, ts: number): void {
    s.updates++;
    s.lastEmitTs = ts;
    s.dirty = false;
    this.counts.updated++;
    const e = s.event;
    this.events.emit({
      type: 'finding_updated',
      ts,
      findingId: e.findingId,
      findingType: e.type,
      severity: e.severity,
      confidence: e.confidence,
      callId: e.callId,
      updates: s.updates,
      evidenceIncomplete: e.evidenceIncomplete,
      changes: s.changes,
      evidence: { ...e.evidence },
    });
    s.changes = {};
  }

  /** End of input: one last update for every finding whose evidence moved since it was last emitted. */
  flush(now: number): void {
    for (const s of this.byKey.values()) if (s.dirty) this.emitUpdate(s, Math.max(now, s.lastEmitTs));
  }
}

function round2(x: number): number {
  return Math.round(Math.min(1, Math.max(0, x)) * 100) / 100;
}
