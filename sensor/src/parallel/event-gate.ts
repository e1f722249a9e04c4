/**
 * Which of a shard's events leave the shard (docs/parallel.md, "Who reports").
 *
 * Every shard processes every SIP message, so every shard builds the same
 * calls and runs the signalling heuristics on the same input: left alone,
 * each would report each call N times. Only the call's owner (hash(Call-ID)
 * mod N) reports its call events and the findings that come from signalling
 * alone. Media is processed by one shard only, so media events and
 * media-driven findings pass unchanged; sensor_stats is aggregated by the
 * main thread instead.
 *
 * Gating at the output, rather than in the finding table, keeps every shard's
 * tables and heuristic state identical (a suppressed finding is still stored
 * and deduplicated), so a later finding_updated is decided the same way.
 */
import { FINDING_TYPES, type TapwatchEvent } from '../events/types.js';
import { shardOfCallId } from './shard-key.js';

/**
 * Heuristics whose reports come from signalling alone (all shards see it).
 * relay-crypto-stripped also reports from streams; only its SDP-leg
 * comparison (evidence.correlation 'sdp_legs') is signalling.
 */
const SIGNALLING_HEURISTICS = new Set(['sig-copy', 'key-exposure', 'declared-recording']);
const SDP_LEG_HEURISTIC = 'relay-crypto-stripped';
const FINDING_TYPE_SET = new Set<string>(FINDING_TYPES);

export class ShardEventGate {
  /** findingIds this shard found but does not report (their finding_updated stay home too). */
  private readonly suppressed = new Set<string>();
  readonly counts = { passed: 0, suppressed: 0 };

  constructor(
    readonly index: number,
    readonly count: number,
  ) {}

  ownsCall(callId: string | null): boolean {
    return shardOfCallId(callId ?? '', this.count) === this.index;
  }

  /** True when this shard reports the event. */
  pass(e: TapwatchEvent): boolean {
    const ok = this.decide(e);
    if (ok) this.counts.passed++;
    else this.counts.suppressed++;
    return ok;
  }

  private decide(e: TapwatchEvent): boolean {
    switch (e.type) {
      case 'sensor_stats':
        return false;
      case 'call_started':
      case 'call_updated':
      case 'call_ended':
        return this.ownsCall(e.callId);
      case 'stream_started':
      case 'stream_ended':
        return true;
      case 'finding_updated':
        return !this.suppressed.has(e.findingId);
      default:
        break;
    }
    if (!FINDING_TYPE_SET.has(e.type)) return true;
    const f = e as Extract<TapwatchEvent, { findingId: string; heuristic: { id: string } }>;
    const h = f.heuristic.id;
    const signalling = SIGNALLING_HEURISTICS.has(h) || (h === SDP_LEG_HEURISTIC && f.evidence['correlation'] === 'sdp_legs');
    if (!signalling || this.ownsCall(f.callId)) return true;
    this.suppressed.add(f.findingId);
    return false;
  }
}
