/**
 * dup-correlated: a call's media also sent to a third party as a copy whose
 * BYTES differ (re-encrypted with other SRTP keys, re-packetised, or
 * transcoded), found by correlating header facts and timing
 * (PROTOCOLS.md, "Correlating copies whose bytes differ"; Wang et al., CCS
 * 2005; DeepCorr, CCS 2018). Exact and encapsulated copies are dup-exact's
 * and dup-encapsulated's: a pair whose payload digests match is left to them,
 * and a finding they already made for the same (call, copyTo) is not repeated.
 *
 * Who is compared with whom:
 * - ORIGINAL: a started stream of a call whose destination SDP announced.
 * - COPY candidate: a started stream whose destination no SDP announced
 *   (unclassified, or classified only by its source port), going one way only (no media back on its flow: a conversation is
 *   not a copy — that rules out NAT-latched legs and unsignalled calls), to a
 *   unicast address that is not a participant of the original's call (SDP
 *   endpoints, ICE candidates, SIP hops). SBC/B2BUA legs, TURN relays,
 *   conference mixers, hold/transfer moves and RFC 7198 duplicates are all
 *   announced in SDP, so they are never candidates.
 * - Up to maxOriginalsPerCopy originals per candidate, preferring a sender
 *   that is a party of the original's stream (a phone or PBX forking), then
 *   originals that started closest to the candidate.
 *
 * Every second (onTick) a bounded number of pairs is scored over a sliding
 * window (correlate-score.ts). A window "passes" with two independent
 * signals, or with header identity alone; a single timing, talk-spurt or size
 * signal must hold over weakWindowsNeeded consecutive windows, and timing
 * alone only when no other call's stream fits the same candidate (a shared
 * sender clock is a common cause, not a copy). Confidence reflects how many
 * signals agree and for how many windows.
 *
 * Per packet (onRtp): one Map lookup by stream number and, for the few
 * tracked streams, six typed-array stores. No allocation.
 */
import type { Call } from '../../calls/call.js';
import type { DuplicateStreamFinding, Evidence } from '../../events/types.js';
import type { MediaStream } from '../../media/media-stream.js';
import type { Detector, DetectorContext, HeuristicModule } from '../detector.js';
import type { RtpObservation } from '../observations.js';
import { FingerprintRing, RingPool } from './correlate-ring.js';
import { PairScore, PairScorer, type ScoreOptions } from './correlate-score.js';

export type DupCorrelatedSettings = {
  enabled: boolean;
  /** Sliding window, seconds. */
  windowSec: number;
  /** Largest copy lag searched, milliseconds. */
  maxLagMs: number;
  /** Fewest copy packets in a window. */
  minPackets: number;
  /** Overlap of a pair before its first verdict, seconds. */
  minOverlapSec: number;
  /** Original jitter below which timing carries no information, microseconds. */
  jitterFloorUs: number;
  /** Timing passes at copy-noise / original-jitter <= this. */
  timingMaxRatio: number;
  /** Talk-spurt alignment passes below this chance probability. */
  eventAlpha: number;
  /** Payload-length correlation that passes (VBR codecs). */
  sizeMinCorrelation: number;
  /** Consecutive passing windows a single-signal match needs. */
  weakWindowsNeeded: number;
  maxOriginalsPerCopy: number;
  maxCandidates: number;
  /** Pair evaluations per tick (bounds onTick's cost). */
  maxPairsPerTick: number;
  /** Candidate re-selections per tick (each scans the active streams). */
  maxSelectionsPerTick: number;
  /** Streams with a fingerprint ring at once (~11 KB each). */
  maxTrackedStreams: number;
  /** A candidate without a match picks other originals this often, seconds. */
  reselectSec: number;
};

const DEFAULTS: DupCorrelatedSettings = {
  enabled: true,
  windowSec: 10,
  maxLagMs: 200,
  minPackets: 40,
  minOverlapSec: 3,
  jitterFloorUs: 20,
  timingMaxRatio: 0.35,
  eventAlpha: 1e-5,
  sizeMinCorrelation: 0.8,
  weakWindowsNeeded: 2,
  maxOriginalsPerCopy: 16,
  maxCandidates: 512,
  maxPairsPerTick: 128,
  maxSelectionsPerTick: 8,
  maxTrackedStreams: 4096,
  reselectSec: 10,
};

const ID = 'dup-correlated';
const VERSION = 1;

/** One stream this heuristic follows: a copy candidate, or an original paired with one. */
class Track {
  ring: FingerprintRing | null = null;
  readonly pairs: Pair[] = [];
  /** IP parts of src/dst, formatted once. */
  readonly srcIp: string;
  readonly dstIp: string;
  selectedAt = -Infinity;
  constructor(
    readonly stream: MediaStream,
    public candidate: boolean,
  ) {
    this.srcIp = ipOf(stream.src);
    this.dstIp = ipOf(stream.dst);
  }

  livePairs(): number {
    let n = 0;
    for (const p of this.pairs) if (!p.done) n++;
    return n;
  }
}

class Pair {
  lastEval = -Infinity;
  passStreak = 0;
  windowsPassed = 0;
  failures = 0;
  lastTimingPassTs = -Infinity;
  reported = false;
  done = false;
  constructor(
    readonly orig: Track,
    readonly copy: Track,
    readonly createdAt: number,
  ) {}
}

export class DupCorrelatedDetector implements Detector {
  readonly id = ID;
  readonly version = VERSION;
  /** Rings by stream number: the only thing onRtp touches. */
  private readonly rings = new Map<number, FingerprintRing>();
  private readonly tracks = new Map<number, Track>();
  private readonly candidates = new Set<Track>();
  private pairs: Pair[] = [];
  private cursor = 0;
  private readonly pool: RingPool;
  private readonly scorer: PairScorer;
  private readonly result = new PairScore();
  /** Test and tuning hook: sees every scored window (never set in production). */
  scoreListener: ((orig: MediaStream, copy: MediaStream, r: PairScore) => void) | null = null;
  readonly stats = { candidates: 0, rejectedConversations: 0, pairs: 0, evaluations: 0, reported: 0, skippedExact: 0, ambiguousTiming: 0 };

  constructor(
    private readonly ctx: DetectorContext,
    private readonly s: DupCorrelatedSettings,
  ) {
    this.pool = new RingPool(s.maxTrackedStreams);
    const opts: ScoreOptions = {
      windowSec: s.windowSec,
      maxLagSec: s.maxLagMs / 1000,
      minPackets: s.minPackets,
      jitterFloorSec: s.jitterFloorUs / 1e6,
      timingMaxRatio: s.timingMaxRatio,
      eventAlpha: s.eventAlpha,
      sizeMinCorrelation: s.sizeMinCorrelation,
    };
    this.scorer = new PairScorer(opts);
  }

  onRtp(o: RtpObservation): void {
    // Nothing tracked (the common case): one size check.
    if (this.rings.size === 0) return;
    const r = this.rings.get(o.stream.n);
    if (r !== undefined) r.push(o.ts, o.seq, o.rtpTs, o.payloadType, o.marker, o.payloadLength, o.payloadDigest);
  }

  onStreamStarted(s: MediaStream): void {
    if (this.candidates.size >= this.s.maxCandidates || this.announced(s)) return;
    const t = new Track(s, true);
    if (isMulticast(t.dstIp) || this.ctx.policy.isPagingGroup(t.dstIp)) return;
    if (s.call !== null && isParticipant(s.call, t.dstIp)) return;
    this.tracks.set(s.n, t);
    this.candidates.add(t);
    this.stats.candidates++;
    if (this.ctx.calls.calls.size > 0) this.attachRing(t);
  }

  onStreamEnded(s: MediaStream): void {
    const t = this.tracks.get(s.n);
    if (t === undefined || t.stream !== s) return;
    this.dropTrack(t);
  }

  onTick(now: number): void {
    this.maintainCandidates(now);
    this.evaluate(now, this.s.maxPairsPerTick, false);
    this.compact();
  }

  flush(now: number): void {
    this.maintainCandidates(now);
    this.evaluate(now, this.s.maxPairsPerTick * 4, true);
  }

  // ---- candidates ----

  private maintainCandidates(now: number): void {
    let selections = 0;
    for (const t of this.candidates) {
      const s = t.stream;
      const conversation = this.isConversation(s);
      if (conversation || this.announced(s) || (s.call !== null && isParticipant(s.call, t.dstIp))) {
        // Media flows back, or a later SDP announced the destination: not a covert copy.
        if (conversation) this.stats.rejectedConversations++;
        this.dropTrack(t);
        continue;
      }
      if (t.ring === null) {
        if (this.ctx.calls.calls.size === 0 || !this.attachRing(t)) continue;
      }
      if (selections >= this.s.maxSelectionsPerTick) continue;
      const live = t.livePairs();
      const reported = t.pairs.some((p) => p.reported);
      if ((live === 0 && now - t.selectedAt >= 1) || (!reported && now - t.selectedAt >= this.s.reselectSec)) {
        this.selectOriginals(t, now);
        selections++;
      }
    }
  }

  /**
   * Did some SDP announce the stream's destination? Then it is a leg (SBC,
   * TURN, hold/transfer target...), never a copy destination. A stream that
   * SDP classified only through its SOURCE (a symmetric-RTP sender's port)
   * but that goes elsewhere is still a candidate: a phone forking its media
   * from its own RTP port.
   */
  private announced(s: MediaStream): boolean {
    return this.ctx.calls.expectations.get(s.dst) !== undefined;
  }

  /** A flow with media in both directions is a conversation, not a copy. */
  private isConversation(s: MediaStream): boolean {
    if (s.flow.id !== s.flowId) return false;
    const list = s.flow.streams as MediaStream[];
    for (let i = 0; i < list.length; i++) {
      const x = list[i]!;
      if (x.dir !== s.dir && x.started) return true;
    }
    return false;
  }

  private attachRing(t: Track): boolean {
    if (t.ring !== null) return true;
    const r = this.pool.acquire();
    if (r === null) return false;
    t.ring = r;
    this.rings.set(t.stream.n, r);
    return true;
  }

  private releaseRing(t: Track): void {
    if (t.ring === null) return;
    this.rings.delete(t.stream.n);
    this.pool.release(t.ring);
    t.ring = null;
  }

  private dropTrack(t: Track): void {
    for (const p of t.pairs) p.done = true;
    t.pairs.length = 0;
    this.releaseRing(t);
    this.candidates.delete(t);
    if (this.tracks.get(t.stream.n) === t) this.tracks.delete(t.stream.n);
  }

  /**
   * Pick originals for a candidate: started SDP-classified streams, active
   * now, that started before the candidate, whose call does not count the
   * candidate's destination as a participant. Ranked by sender affinity, then
   * by start-time proximity; a bounded top-K, no sort of the whole table.
   */
  private selectOriginals(c: Track, now: number): void {
    c.selectedAt = now;
    const cs = c.stream;
    const want = this.s.maxOriginalsPerCopy - c.livePairs();
    if (want <= 0) return;
    const top: MediaStream[] = [];
    const rank: number[] = [];
    const participant = new Map<Call, boolean>();
    for (const o of this.ctx.streams.active) {
      const call = o.call;
      if (call === null || !o.started || o === cs || o.flowId === cs.flowId) continue;
      const known = this.tracks.get(o.n);
      if (known !== undefined && known.candidate && known.stream === o) continue;
      if (now - o.lastTs > 3 || o.firstTs > cs.firstTs + 2) continue;
      if (this.paired(c, o)) continue;
      let isPart = participant.get(call);
      if (isPart === undefined) {
        isPart = isParticipant(call, c.dstIp);
        participant.set(call, isPart);
      }
      if (isPart) continue;
      // Sender affinity: the candidate leaves a host that sends or receives the original.
      const affinity = hasIp(o.src, c.srcIp) || hasIp(o.dst, c.srcIp) ? 0 : 1e6;
      const score = affinity + Math.abs(o.firstTs - cs.firstTs);
      if (top.length === want && score >= rank[rank.length - 1]!) continue;
      let i = top.length === want ? want - 1 : top.length;
      while (i > 0 && rank[i - 1]! > score) {
        top[i] = top[i - 1]!;
        rank[i] = rank[i - 1]!;
        i--;
      }
      top[i] = o;
      rank[i] = score;
    }
    for (const o of top) {
      let ot = this.tracks.get(o.n);
      if (ot === undefined || ot.stream !== o) {
        ot = new Track(o, false);
        this.tracks.set(o.n, ot);
      }
      if (!this.attachRing(ot)) break;
      const p = new Pair(ot, c, now);
      ot.pairs.push(p);
      c.pairs.push(p);
      this.pairs.push(p);
      this.stats.pairs++;
    }
  }

  private paired(c: Track, o: MediaStream): boolean {
    for (const p of c.pairs) if (p.orig.stream === o && !p.done) return true;
    return false;
  }

  // ---- evaluation ----

  private evaluate(now: number, budget: number, final: boolean): void {
    const list = this.pairs;
    const n = list.length;
    if (n === 0) return;
    let used = 0;
    for (let step = 0; step < n && used < budget; step++) {
      if (this.cursor >= n) this.cursor = 0;
      const p = list[this.cursor++]!;
      if (p.done) continue;
      const interval = p.reported ? 5 : 1;
      if (!final && now - p.lastEval < interval) continue;
      used++;
      this.evaluatePair(p, now);
    }
  }

  private evaluatePair(p: Pair, now: number): void {
    p.lastEval = now;
    this.stats.evaluations++;
    const o = p.orig.stream;
    const c = p.copy.stream;
    const call = o.call;
    if (call === null || !this.candidates.has(p.copy) || p.orig.ring === null || p.copy.ring === null) {
      p.done = true;
      return;
    }
    const overlap = now - Math.max(p.createdAt, c.firstTs);
    if (overlap < this.s.minOverlapSec) return;
    const r = this.scorer.score(p.orig.ring, p.copy.ring, now, o.ssrc === c.ssrc, this.result);
    if (!r.valid) {
      if (overlap > 2 * this.s.windowSec) p.done = true;
      return;
    }
    if (this.scoreListener !== null) this.scoreListener(o, c, r);
    if (r.identicalPayload >= 0.5) {
      // Same payload bytes: an exact copy or a relay, not ours to report.
      p.done = true;
      return;
    }
    if (r.timingPass) p.lastTimingPassTs = now;
    const n = r.signalCount();
    const strong = n >= 2 || r.headerPass;
    let weak = n === 1 && !r.headerPass;
    if (weak && r.timingPass && this.timingAmbiguous(p, now)) {
      this.stats.ambiguousTiming++;
      weak = false;
    }
    if (strong || weak) {
      p.windowsPassed++;
      p.passStreak++;
      p.failures = 0;
    } else {
      p.passStreak = 0;
      p.failures++;
      if (!p.reported && p.failures >= 5 && overlap >= this.s.windowSec) p.done = true;
      return;
    }
    if (strong || p.passStreak >= this.s.weakWindowsNeeded) this.report(p, call, r, n);
  }

  /** Timing alone is ambiguous when the candidate also fits another call, or the original fits another candidate. */
  private timingAmbiguous(p: Pair, now: number): boolean {
    for (const q of p.copy.pairs) {
      if (q !== p && !q.done && now - q.lastTimingPassTs <= 3 && q.orig.stream.call !== p.orig.stream.call) return true;
    }
    for (const q of p.orig.pairs) {
      if (q !== p && !q.done && now - q.lastTimingPassTs <= 3) return true;
    }
    return false;
  }

  private report(p: Pair, call: Call, r: PairScore, n: number): void {
    const o = p.orig.stream;
    const c = p.copy.stream;
    const copyTo = c.dst;
    const existing = this.ctx.findings.find('duplicate_stream', call.callId, copyTo) as DuplicateStreamFinding | undefined;
    if (existing !== undefined && existing.mode !== 'correlated') {
      // dup-exact or dup-encapsulated already reported this copy.
      this.stats.skippedExact++;
      p.done = true;
      return;
    }
    const base = r.headerPass && n === 1 ? 0.8 : n >= 4 ? 0.95 : n === 3 ? 0.88 : n === 2 ? 0.75 : 0.55;
    const confidence = Math.min(0.95, base + 0.02 * Math.min(5, p.windowsPassed - 1));
    const declared = this.ctx.recorders.lookup(p.copy.dstIp, copyTo);
    const signals = r.signalNames();
    const evidence: Evidence = {
      signals,
      windowSec: round(r.windowEnd - r.windowStart, 2),
      windowsPassed: p.windowsPassed,
      lagMs: round(r.lagSec * 1000, 3),
      packetsCompared: r.matched,
      originalPackets: r.origPackets,
      copyPackets: r.copyPackets,
      coverage: round(r.coverage, 3),
      originalPtimeMs: round(r.origPtimeSec * 1000, 2),
      copyPtimeMs: round(r.copyPtimeSec * 1000, 2),
      timingInformative: r.timingInformative,
      originalJitterMs: round(r.origJitterSec * 1000, 4),
      residualNoiseMs: round(r.residualNoiseSec * 1000, 4),
      timingNoiseRatio: finite(r.timingRatio, 3),
      eventsOriginal: r.eventsOrig,
      eventsCopy: r.eventsCopy,
      eventsMatched: r.eventsMatched,
      eventLagMs: round(r.eventLagSec * 1000, 2),
      eventLog10P: round(r.eventLog10P, 2),
      sizeCorrelation: finite(r.sizeCorrelation, 3),
      headerIdentical: round(r.headerIdentical, 3),
      tupleAgreement: finite(r.tupleAgreement, 3),
      original: { src: o.src, dst: o.dst, ssrc: o.ssrc, streamId: o.streamId, packets: o.packets },
      copy: { src: c.src, dst: c.dst, ssrc: c.ssrc, streamId: c.streamId, packets: c.packets },
    };
    const how = signals.join(', ');
    const ev = this.ctx.findings.report({
      type: 'duplicate_stream',
      party: copyTo,
      callId: call.callId,
      ssrc: o.ssrc,
      severity: declared ? 'info' : confidence >= 0.75 ? 'critical' : 'warning',
      confidence,
      firstSeen: c.firstTs,
      detectedAt: r.windowEnd,
      heuristic: { id: ID, version: VERSION },
      summary: `RTP stream ${o.src} -> ${o.dst} (SSRC 0x${o.ssrc.toString(16)}) of call ${call.callId} is also sent, with different bytes, to ${copyTo} (correlated by ${how}; lag ${round(r.lagSec * 1000, 1)} ms)`,
      evidence,
      fields: { copyTo, copyToIp: p.copy.dstIp, mode: 'correlated', declared: declared !== undefined },
      partyIp: p.copy.dstIp,
      partyPort: portOf(copyTo),
      allowlisted: declared ? { rule: `declared-${declared.kind}`, why: `${declared.kind} recorder declared in call ${declared.callId}` } : null,
    });
    if (!p.reported) this.stats.reported++;
    p.reported = true;
    void ev;
  }

  /** Drop finished pairs; give back the rings of originals no pair needs any more. */
  private compact(): void {
    let dead = 0;
    for (const p of this.pairs) if (p.done) dead++;
    if (dead === 0 || dead < this.pairs.length / 4) return;
    this.pairs = this.pairs.filter((p) => !p.done);
    this.cursor = 0;
    for (const t of [...this.tracks.values()]) {
      if (t.candidate) continue;
      for (let i = t.pairs.length - 1; i >= 0; i--) if (t.pairs[i]!.done) t.pairs.splice(i, 1);
      if (t.pairs.length === 0) this.dropTrack(t);
    }
    for (const t of this.candidates) {
      for (let i = t.pairs.length - 1; i >= 0; i--) if (t.pairs[i]!.done) t.pairs.splice(i, 1);
    }
  }

  /** Introspection for tests and the benchmark. */
  get trackedStreams(): number {
    return this.rings.size;
  }

  get livePairCount(): number {
    let n = 0;
    for (const p of this.pairs) if (!p.done) n++;
    return n;
  }
}

export const dupCorrelated: HeuristicModule<DupCorrelatedSettings> = {
  id: ID,
  version: VERSION,
  defaults: DEFAULTS,
  create: (ctx, settings) => new DupCorrelatedDetector(ctx, settings),
};

// ---- helpers (setup/tick time only) ----

function ipOf(endpoint: string): string {
  const i = endpoint.lastIndexOf(':');
  return i < 0 ? endpoint : endpoint.slice(0, i);
}

function portOf(endpoint: string): number | null {
  const i = endpoint.lastIndexOf(':');
  const p = i < 0 ? NaN : Number(endpoint.slice(i + 1));
  return Number.isInteger(p) ? p : null;
}

/** Does "ip:port" have this IP? (no allocation) */
function hasIp(endpoint: string, ip: string): boolean {
  return endpoint.length > ip.length && endpoint.charCodeAt(ip.length) === 58 && endpoint.startsWith(ip);
}

function isMulticast(ip: string): boolean {
  if (ip.includes(':')) return ip.toLowerCase().startsWith('ff');
  const first = Number(ip.slice(0, ip.indexOf('.')));
  return first >= 224 && first <= 239;
}

/** Is this IP a party of the call: an SDP endpoint or ICE candidate, or a SIP hop? */
export function isParticipant(call: Call, ip: string): boolean {
  if (call.hops.has(ip)) return true;
  for (const m of call.media) {
    if (hasIp(m.endpoint, ip)) return true;
    for (const c of m.candidates) if (hasIp(c, ip)) return true;
  }
  return false;
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function finite(x: number, digits: number): number | null {
  return Number.isFinite(x) ? round(x, digits) : null;
}
