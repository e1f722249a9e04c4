/**
 * Graceful degradation under overload (docs/parallel.md, "Load shedding").
 *
 * A shard that falls behind sees its ring backlog grow; before the producer
 * has to drop whole packets at random (CTL_RING_DROPS), the shard gives up
 * optional work, cheapest-to-lose first, and only for media of calls that are
 * not suspicious (no finding so far):
 *
 *   level 1 (backlog >= 50%): stream fingerprint payload digests
 *           (cross-sensor fingerprints) of non-suspicious streams;
 *   level 2 (>= 75%): per-packet detection of non-suspicious streams is
 *           sampled: only packets whose RTP sequence number is a multiple
 *           of 8 reach the detectors. Sampling by sequence number keeps an
 *           original and its copy in step (they carry the same numbers), so
 *           exact and correlated duplicate detection still pair them;
 *   level 3 (>= 90%): no per-packet detection at all for non-suspicious
 *           streams: they are only counted (stream events and RTP
 *           statistics continue).
 *
 * Never shed: SIP/SDP (signalling is processed before any of this and never
 * consults the shedder), streams of calls with a finding, stream counting.
 * A level is left only when the backlog falls 10 points below its threshold
 * (hysteresis), so the level does not flap per batch. Shedding makes every
 * later finding say evidenceIncomplete.
 */
import type { MediaStream } from '../media/media-stream.js';
import type { TapwatchEvent } from '../events/types.js';

export interface ShedThresholds {
  /** Backlog share (0..1) at which each level starts. */
  digests: number;
  correlation: number;
  detection: number;
}

export const DEFAULT_SHED_THRESHOLDS: ShedThresholds = { digests: 0.5, correlation: 0.75, detection: 0.9 };

/** Packets whose optional work was shed, by level. */
export interface ShedCounts {
  digests: number;
  correlation: number;
  detection: number;
}

const HYSTERESIS = 0.1;
/** Level 2 keeps one packet in this many (by RTP sequence number). */
const SAMPLE_EVERY = 8;

/** What the media path may do with one RTP packet. */
export const enum ShedDecision {
  Full = 0,
  /** Skip the fingerprint payload digest, keep detection. */
  NoDigests = 1,
  /** Skip fingerprints and detection for this packet. */
  Count = 2,
}

export class LoadShedder {
  level = 0;
  /** Calls (by Call-ID) and SSRCs with a finding: never shed. */
  private readonly suspiciousCalls = new Set<string>();
  private readonly suspiciousSsrcs = new Set<number>();
  readonly counts: ShedCounts = { digests: 0, correlation: 0, detection: 0 };
  /** True once any level was entered: findings from then on are incomplete. */
  everShed = false;

  constructor(readonly thresholds: ShedThresholds = DEFAULT_SHED_THRESHOLDS) {}

  /** Set the level from the shard's ring backlog (0..1), once per batch. */
  update(fill: number): number {
    const t = this.thresholds;
    const target = fill >= t.detection ? 3 : fill >= t.correlation ? 2 : fill >= t.digests ? 1 : 0;
    if (target > this.level) this.level = target;
    else if (target < this.level) {
      const leave = this.level === 3 ? t.detection : this.level === 2 ? t.correlation : t.digests;
      if (fill < leave - HYSTERESIS) this.level = target;
    }
    if (this.level > 0) this.everShed = true;
    return this.level;
  }

  /** Learn suspicion from the shard's own findings (every finding, reported here or not). */
  observe(e: TapwatchEvent): void {
    if (e.type === 'finding_updated' || !('findingId' in e)) return;
    if (e.callId !== null) this.suspiciousCalls.add(e.callId);
    if (e.ssrc !== null) this.suspiciousSsrcs.add(e.ssrc);
  }

  isSuspicious(s: MediaStream): boolean {
    return this.suspiciousSsrcs.has(s.ssrc) || (s.call !== null && this.suspiciousCalls.has(s.call.callId));
  }

  /** Called only while level > 0, for an RTP packet of stream s. */
  decide(s: MediaStream, seq: number): ShedDecision {
    if (this.isSuspicious(s)) return ShedDecision.Full;
    const l = this.level;
    if (l === 1) {
      this.counts.digests++;
      return ShedDecision.NoDigests;
    }
    if (l === 2) {
      if (seq % SAMPLE_EVERY === 0) {
        this.counts.digests++;
        return ShedDecision.NoDigests;
      }
      this.counts.correlation++;
      return ShedDecision.Count;
    }
    this.counts.detection++;
    return ShedDecision.Count;
  }
}
