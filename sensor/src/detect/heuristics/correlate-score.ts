/**
 * Scores one (original, copy-candidate) pair of RTP streams over a sliding
 * window, on the signals PROTOCOLS.md lists under "Correlating copies whose
 * bytes differ":
 *
 * - timing: a relay or a forking sender re-emits each packet when it gets
 *   it, so the copy inherits the original's arrival JITTER with a fixed lag.
 *   Raw periodicity proves nothing (every 20 ms G.711 stream is periodic), so
 *   we align the two arrival sequences (lag search within +-maxLag), match
 *   every copy packet to its nearest original packet, and compare the noise
 *   left in the residuals with the original's own jitter. For independent
 *   senders the residual noise is at least the original's jitter (ratio >= 1:
 *   the two jitters add); for a copy it is only the relay's own noise.
 *   Matching by time (not by index) also covers re-packetised copies
 *   (ptime 20 -> 40 ms).
 * - events: talk-spurt starts (marker bit, RFC 3551 §4.1), payload-type
 *   changes (CN PT 13, RFC 3389; telephone-event, RFC 4733), timestamp jumps
 *   (silence suppression), sequence gaps (loss upstream of the copy point)
 *   and long arrival gaps. They survive transcoding. Alignment is tested
 *   against chance with a binomial tail, corrected for the lags tried.
 * - sizes: payload-length sequences of variable-bitrate codecs (Opus, AMR),
 *   correlated over 1:1 matched packets.
 * - header identity: a re-encrypting relay that keeps SSRC, sequence number
 *   and timestamp (the SRTP header is in clear, RFC 3711 §3.1) while the
 *   payload bytes differ.
 *
 * Everything works on preallocated scratch arrays; a call allocates nothing.
 */
import { FingerprintRing, RING_CAPACITY } from './correlate-ring.js';
import { log10BinomialTail, medianInPlace, pearson, robustStd, stddev } from './correlate-stats.js';

export interface ScoreOptions {
  /** Sliding window length, seconds (PROTOCOLS.md: 10-20 s). */
  windowSec: number;
  /** Largest copy lag searched, seconds (either sign). */
  maxLagSec: number;
  /** Fewest copy packets in the window for a verdict. */
  minPackets: number;
  /** Original jitter (robust std of inter-arrival times) below which timing carries no information, seconds. */
  jitterFloorSec: number;
  /** Timing passes when copy residual noise / original jitter is at most this. */
  timingMaxRatio: number;
  /** Events pass when their alignment is this unlikely by chance (after the lag-search correction). */
  eventAlpha: number;
  /** Sizes pass at this Pearson correlation or more. */
  sizeMinCorrelation: number;
}

export const DEFAULT_SCORE_OPTIONS: ScoreOptions = {
  windowSec: 10,
  maxLagSec: 0.2,
  minPackets: 40,
  jitterFloorSec: 20e-6,
  timingMaxRatio: 0.35,
  eventAlpha: 1e-5,
  sizeMinCorrelation: 0.8,
};

/** Result of one window (a reused object: copy what you keep). */
export class PairScore {
  /** Enough data in the window for a verdict. */
  valid = false;
  windowStart = 0;
  windowEnd = 0;
  copyPackets = 0;
  origPackets = 0;
  /** Copy packets matched to an original packet within the tolerance. */
  matched = 0;
  coverage = 0;
  /** Copy time minus original time, seconds. */
  lagSec = 0;
  origPtimeSec = 0;
  copyPtimeSec = 0;
  // timing
  timingInformative = false;
  origJitterSec = 0;
  residualNoiseSec = 0;
  timingRatio = NaN;
  timingPass = false;
  // events
  eventsOrig = 0;
  eventsCopy = 0;
  eventsMatched = 0;
  eventLagSec = 0;
  /** log10 of the chance probability of the event alignment (after correction). */
  eventLog10P = 0;
  eventPass = false;
  // sizes
  sizeInformative = false;
  sizeCorrelation = NaN;
  sizePass = false;
  // header
  /** Fraction of 1:1 matched packets with the same sequence number and timestamp (same SSRC only). */
  headerIdentical = 0;
  headerPass = false;
  /** Fraction of consecutive 1:1 matched packets whose (Δseq, Δts, marker) agree. */
  tupleAgreement = NaN;
  /** Fraction of 1:1 matched packets whose payload digests are equal: the bytes were NOT re-encrypted. */
  identicalPayload = 0;

  signalCount(): number {
    return (this.timingPass ? 1 : 0) + (this.eventPass ? 1 : 0) + (this.sizePass ? 1 : 0) + (this.headerPass ? 1 : 0);
  }

  signalNames(): string[] {
    const out: string[] = [];
    if (this.timingPass) out.push('timing');
    if (this.eventPass) out.push('talk-spurts');
    if (this.sizePass) out.push('sizes');
    if (this.headerPass) out.push('header');
    return out;
  }
}

const MAX_LAG_CANDIDATES = 128;
const MAX_EVENTS = 24;
/** Copy packets used by the lag search. */
const SEARCH_BLOCK = 96;

export class PairScorer {
  // Window extraction: times and ring indices of the copy and original packets.
  private readonly ct = new Float64Array(RING_CAPACITY);
  private readonly ck = new Float64Array(RING_CAPACITY);
  private readonly ot = new Float64Array(RING_CAPACITY);
  private readonly ok = new Float64Array(RING_CAPACITY);
  // Per copy packet: residual and matched original position.
  private readonly res = new Float64Array(RING_CAPACITY);
  private readonly mi = new Int32Array(RING_CAPACITY);
  private readonly work = new Float64Array(RING_CAPACITY);
  private readonly work2 = new Float64Array(RING_CAPACITY);
  private readonly lags = new Float64Array(MAX_LAG_CANDIDATES);
  private readonly lagCov = new Float64Array(MAX_LAG_CANDIDATES);
  private readonly lagMsd = new Float64Array(MAX_LAG_CANDIDATES);
  private readonly evO = new Float64Array(RING_CAPACITY);
  private readonly evC = new Float64Array(RING_CAPACITY);
  private readonly evUsed = new Uint8Array(RING_CAPACITY);

  constructor(readonly opts: ScoreOptions = DEFAULT_SCORE_OPTIONS) {}

  /**
   * Score the window ending at `now`. `sameSsrc`: the two streams carry the
   * same SSRC (enables the header-identity signal).
   */
  score(orig: FingerprintRing, copy: FingerprintRing, now: number, sameSsrc: boolean, out: PairScore): PairScore {
    const o = this.opts;
    reset(out);
    if (orig.count < 2 || copy.count < 2) return out;
    const maxLag = o.maxLagSec;

    // Copy packets in the window, and only where the original's ring can hold their match.
    const origFirst = orig.t[FingerprintRing.slot(orig.oldest)]!;
    const origLast = orig.lastTs;
    const from = Math.max(now - o.windowSec, origFirst + maxLag);
    const to = origLast + maxLag;
    let nC = 0;
    for (let k = copy.oldest; k < copy.count; k++) {
      const t = copy.t[FingerprintRing.slot(k)]!;
      if (t < from || t > to) continue;
      this.ct[nC] = t;
      this.ck[nC] = k;
      nC++;
    }
    if (nC < o.minPackets) return out;
    const cFirst = this.ct[0]!;
    const cLast = this.ct[nC - 1]!;
    let nO = 0;
    for (let k = orig.oldest; k < orig.count; k++) {
      const t = orig.t[FingerprintRing.slot(k)]!;
      if (t < cFirst - maxLag || t > cLast + maxLag) continue;
      this.ot[nO] = t;
      this.ok[nO] = k;
      nO++;
    }
    if (nO < o.minPackets / 2) return out;
    out.copyPackets = nC;
    out.origPackets = nO;
    out.windowStart = cFirst;
    out.windowEnd = cLast;

    // Nominal packet spacing of each stream: the median inter-arrival time.
    const pO = this.medianSpacing(this.ot, nO);
    const pC = this.medianSpacing(this.ct, nC);
    if (!(pO > 0) || !(pC > 0)) return out;
    out.origPtimeSec = pO;
    out.copyPtimeSec = pC;
    out.valid = true;

    this.alignTiming(nC, nO, pO, out);
    this.compareEvents(orig, copy, nC, nO, pO, pC, out);
    const oneToOne = Math.abs(pC / pO - 1) < 0.15;
    if (oneToOne && out.matched > 0) {
      let maxShift = 2;
      if (!out.timingPass) {
        // Timing did not pin the lag down (a relay that re-times packets): packet-by-packet
        // comparisons may be off by several packets. Re-anchor on the talk-spurt lag when
        // there is one, and let the size comparison search every shift within +-maxLag.
        if (out.eventPass) this.rematch(out.eventLagSec, nC, nO, pO, out);
        maxShift = Math.min(16, Math.ceil(this.opts.maxLagSec / pO));
      }
      this.compareMatched(orig, copy, nC, nO, sameSsrc, maxShift, out);
    }
    return out;
  }

  private medianSpacing(t: Float64Array, n: number): number {
    const w = this.work;
    let m = 0;
    for (let i = 1; i < n; i++) w[m++] = t[i]! - t[i - 1]!;
    return medianInPlace(w, m);
  }

  /**
   * Match copy packets [i0, i1) to the nearest original packet at lag L;
   * residuals into res/mi. Returns how many matched within tol.
   */
  private matchAt(L: number, i0: number, i1: number, nO: number, tol: number): number {
    const ct = this.ct;
    const ot = this.ot;
    // Binary search for the original packet just before the first target.
    let lo = 0;
    let hi = nO - 1;
    const first = ct[i0]! - L;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (ot[mid]! <= first) lo = mid;
      else hi = mid - 1;
    }
    let j = lo;
    let matched = 0;
    for (let i = i0; i < i1; i++) {
      const target = ct[i]! - L;
      while (j + 1 < nO && ot[j + 1]! <= target) j++;
      let m = j;
      if (j + 1 < nO && ot[j + 1]! - target < target - ot[j]!) m = j + 1;
      const r = target - ot[m]!;
      this.res[i] = r;
      this.mi[i] = m;
      if (r <= tol && r >= -tol) matched++;
    }
    return matched;
  }

  /** Mean squared successive difference of residuals over consecutive matched copy packets in [i0, i1). */
  private residualMsd(i0: number, i1: number, tol: number): number {
    let s = 0;
    let n = 0;
    const res = this.res;
    for (let i = i0 + 1; i < i1; i++) {
      const a = res[i - 1]!;
      const b = res[i]!;
      if (a > tol || a < -tol || b > tol || b < -tol) continue;
      const d = b - a;
      s += d * d;
      n++;
    }
    return n > 0 ? s / n : Infinity;
  }

  private alignTiming(nC: number, nO: number, pO: number, out: PairScore): void {
    const o = this.opts;
    const tol = Math.max(0.001, Math.min(0.25 * pO, 0.005));
    // Lag candidates: the middle copy packet against every original packet within +-maxLag.
    const anchor = this.ct[nC >> 1]!;
    let nl = 0;
    for (let j = 0; j < nO && nl < MAX_LAG_CANDIDATES; j++) {
      const L = anchor - this.ot[j]!;
      if (L >= -o.maxLagSec && L <= o.maxLagSec) this.lags[nl++] = L;
    }
    if (nl === 0) return;
    // The search runs on a block of consecutive copy packets around the anchor (a 4x saving);
    // only the chosen lag is scored on the whole window.
    const b0 = Math.max(0, (nC >> 1) - (SEARCH_BLOCK >> 1));
    const b1 = Math.min(nC, b0 + SEARCH_BLOCK);
    let bestCov = 0;
    for (let c = 0; c < nl; c++) {
      const cov = this.matchAt(this.lags[c]!, b0, b1, nO, tol);
      this.lagCov[c] = cov;
      this.lagMsd[c] = cov >= 2 ? this.residualMsd(b0, b1, tol) : Infinity;
      if (cov > bestCov) bestCov = cov;
    }
    // Among lags that match (nearly) as many packets as the best, the one with the least residual noise.
    let best = -1;
    for (let c = 0; c < nl; c++) {
      if (this.lagCov[c]! < 0.95 * bestCov) continue;
      if (best < 0 || this.lagMsd[c]! < this.lagMsd[best]!) best = c;
    }
    if (best < 0) return;
    // Centre the lag on the median residual, then match again.
    let L = this.lags[best]!;
    this.matchAt(L, 0, nC, nO, tol);
    let m = 0;
    for (let i = 0; i < nC; i++) {
      const r = this.res[i]!;
      if (r <= tol && r >= -tol) this.work[m++] = r;
    }
    if (m > 0) L += medianInPlace(this.work, m);
    const matched = this.matchAt(L, 0, nC, nO, tol);
    out.lagSec = L;
    out.matched = matched;
    out.coverage = matched / nC;

    // Residual noise: robust std of successive residual differences / sqrt(2).
    let nd = 0;
    for (let i = 1; i < nC; i++) {
      const a = this.res[i - 1]!;
      const b = this.res[i]!;
      if (a > tol || a < -tol || b > tol || b < -tol) continue;
      this.work[nd++] = b - a;
    }
    // Original jitter: robust std of its inter-arrival times / sqrt(2) (RFC 3550 §6.4.1 measures the same thing as a running mean).
    let no = 0;
    for (let j = 1; j < nO; j++) {
      const d = this.ot[j]! - this.ot[j - 1]!;
      if (d < 3 * pO) this.work2[no++] = d;
    }
    const noise = robustStd(this.work, nd) / Math.SQRT2;
    const jitter = robustStd(this.work2, no) / Math.SQRT2;
    out.residualNoiseSec = noise;
    out.origJitterSec = jitter;
    out.timingInformative = jitter >= o.jitterFloorSec && nd >= 0.8 * o.minPackets && out.coverage >= 0.8;
    out.timingRatio = jitter > 0 ? noise / jitter : NaN;
    out.timingPass = out.timingInformative && out.timingRatio <= o.timingMaxRatio;
  }

  /**
   * Header identity, tuple agreement, payload identity and size correlation
   * over 1:1 matched packets. When a relay re-times packets by about a packet
   * spacing, nearest-in-time matching can be off by one packet; the index
   * shift (+-maxShift) that best aligns sequence numbers (same SSRC) or sizes is
   * used.
   */
  private compareMatched(orig: FingerprintRing, copy: FingerprintRing, nC: number, nO: number, sameSsrc: boolean, maxShift: number, out: PairScore): void {
    const tol = Math.max(0.001, Math.min(0.25 * out.origPtimeSec, 0.005));
    // Constant sizes and different SSRCs: no shift can be told from another, so none is searched.
    const n0 = this.fillMatched(orig, copy, nC, nO, tol, 0);
    if (!sameSsrc && (stddev(this.work, n0) < 1 || stddev(this.work2, n0) < 1)) maxShift = 0;
    let bestShift = 0;
    let bestKey = -Infinity;
    for (let shift = -maxShift; shift <= maxShift && maxShift > 0; shift++) {
      const n = this.fillMatched(orig, copy, nC, nO, tol, shift);
      if (n < this.opts.minPackets) continue;
      let seqEq = 0;
      if (sameSsrc) {
        for (let i = 0; i < nC; i++) {
          const m = this.matchedOrig(i, nO, tol, shift);
          if (m >= 0 && orig.seq[FingerprintRing.slot(this.ok[m]!)] === copy.seq[FingerprintRing.slot(this.ck[i]!)]) seqEq++;
        }
      }
      const corr = pearson(this.work, this.work2, n);
      // Prefer sequence agreement, then size correlation, then no shift.
      const key = seqEq * 4 + (Number.isFinite(corr) ? corr : 0) * 2 - (shift === 0 ? 0 : 0.05);
      if (key > bestKey) {
        bestKey = key;
        bestShift = shift;
      }
    }
    const n = this.fillMatched(orig, copy, nC, nO, tol, bestShift);
    if (n === 0) return;
    let same = 0;
    let identical = 0;
    let tuples = 0;
    let tupleAgree = 0;
    let prevI = -1;
    let prevM = -1;
    for (let i = 0; i < nC; i++) {
      const m = this.matchedOrig(i, nO, tol, bestShift);
      if (m < 0) continue;
      const cs = FingerprintRing.slot(this.ck[i]!);
      const os = FingerprintRing.slot(this.ok[m]!);
      if (sameSsrc && orig.seq[os] === copy.seq[cs] && orig.rtpTs[os] === copy.rtpTs[cs]) same++;
      if (orig.pd[os] === copy.pd[cs]) identical++;
      if (prevI === i - 1 && prevM === m - 1) {
        const pcs = FingerprintRing.slot(this.ck[i - 1]!);
        const pos = FingerprintRing.slot(this.ok[m - 1]!);
        tuples++;
        const dsC = (copy.seq[cs]! - copy.seq[pcs]!) & 0xffff;
        const dsO = (orig.seq[os]! - orig.seq[pos]!) & 0xffff;
        const dtC = (copy.rtpTs[cs]! - copy.rtpTs[pcs]!) >>> 0;
        const dtO = (orig.rtpTs[os]! - orig.rtpTs[pos]!) >>> 0;
        if (dsC === dsO && dtC === dtO && (copy.ptm[cs]! & 0x80) === (orig.ptm[os]! & 0x80)) tupleAgree++;
      }
      prevI = i;
      prevM = m;
    }
    out.headerIdentical = same / n;
    out.headerPass = sameSsrc && n >= this.opts.minPackets && out.headerIdentical >= 0.9 && identical / n < 0.5;
    out.identicalPayload = identical / n;
    out.tupleAgreement = tuples > 0 ? tupleAgree / tuples : NaN;
    // Sizes carry information only when both streams vary (VBR codecs).
    const sO = stddev(this.work, n);
    const sC = stddev(this.work2, n);
    out.sizeInformative = n >= this.opts.minPackets && sO >= 1 && sC >= 1;
    if (out.sizeInformative) {
      out.sizeCorrelation = pearson(this.work, this.work2, n);
      out.sizePass = out.sizeCorrelation >= this.opts.sizeMinCorrelation;
    }
  }

  /** Match again at lag L (centred on the median residual). */
  private rematch(L: number, nC: number, nO: number, pO: number, out: PairScore): void {
    const tol = Math.max(0.001, Math.min(0.25 * pO, 0.005));
    this.matchAt(L, 0, nC, nO, tol);
    let m = 0;
    for (let i = 0; i < nC; i++) {
      const r = this.res[i]!;
      if (r <= tol && r >= -tol) this.work[m++] = r;
    }
    if (m > 0) L += medianInPlace(this.work, m);
    out.matched = this.matchAt(L, 0, nC, nO, tol);
    out.coverage = out.matched / nC;
    out.lagSec = L;
  }

  /** The original position matched to copy packet i under an index shift, or -1. */
  private matchedOrig(i: number, nO: number, tol: number, shift: number): number {
    const r = this.res[i]!;
    if (r > tol || r < -tol) return -1;
    const m = this.mi[i]! + shift;
    return m >= 0 && m < nO ? m : -1;
  }

  /** Sizes of matched pairs under a shift: original into work, copy into work2. Returns the count. */
  private fillMatched(orig: FingerprintRing, copy: FingerprintRing, nC: number, nO: number, tol: number, shift: number): number {
    let n = 0;
    for (let i = 0; i < nC; i++) {
      const m = this.matchedOrig(i, nO, tol, shift);
      if (m < 0) continue;
      this.work[n] = orig.len[FingerprintRing.slot(this.ok[m]!)]!;
      this.work2[n] = copy.len[FingerprintRing.slot(this.ck[i]!)]!;
      n++;
    }
    return n;
  }

  /**
   * Talk-spurt and header events of one stream in the window, merged when
   * closer than 1.5 packet spacings. Returns the count; times go to `ev`.
   */
  private extractEvents(ring: FingerprintRing, times: Float64Array, keys: Float64Array, n: number, p: number, ev: Float64Array): number {
    // Median timestamp step per packet, for spotting timestamp jumps (silence suppression).
    const w = this.work2;
    let m = 0;
    for (let i = 1; i < n; i++) {
      const s = FingerprintRing.slot(keys[i]!);
      const ps = FingerprintRing.slot(keys[i - 1]!);
      if (((ring.seq[s]! - ring.seq[ps]!) & 0xffff) === 1) w[m++] = (ring.rtpTs[s]! - ring.rtpTs[ps]!) >>> 0;
    }
    const medDts = m > 0 ? medianInPlace(w, m) : 0;
    const gapLimit = Math.max(2.5 * p, p + 0.03);
    let ne = 0;
    let last = -Infinity;
    for (let i = 1; i < n; i++) {
      const s = FingerprintRing.slot(keys[i]!);
      const ps = FingerprintRing.slot(keys[i - 1]!);
      const ptm = ring.ptm[s]!;
      const dseq = (ring.seq[s]! - ring.seq[ps]!) & 0xffff;
      const dts = (ring.rtpTs[s]! - ring.rtpTs[ps]!) >>> 0;
      const event =
        (ptm & 0x80) !== 0 ||
        (ptm & 0x7f) !== (ring.ptm[ps]! & 0x7f) ||
        dseq !== 1 ||
        times[i]! - times[i - 1]! > gapLimit ||
        (medDts > 0 && dts > 1.5 * medDts && dts < 0x80000000);
      if (!event) continue;
      const t = times[i]!;
      if (t - last < 1.5 * p) continue;
      ev[ne++] = t;
      last = t;
    }
    return ne;
  }

  private compareEvents(orig: FingerprintRing, copy: FingerprintRing, nC: number, nO: number, pO: number, pC: number, out: PairScore): void {
    const o = this.opts;
    let eo = this.extractEvents(orig, this.ot, this.ok, nO, pO, this.evO);
    let ec = this.extractEvents(copy, this.ct, this.ck, nC, pC, this.evC);
    // Only original events that the copy window could show (and vice versa), the latest MAX_EVENTS.
    eo = this.clip(this.evO, eo, out.windowStart - o.maxLagSec, out.windowEnd + o.maxLagSec);
    ec = this.clip(this.evC, ec, out.windowStart, out.windowEnd);
    // Keep the latest MAX_EVENTS at the front (bounds the lag search below).
    if (eo > MAX_EVENTS) this.evO.copyWithin(0, eo - MAX_EVENTS, eo);
    if (ec > MAX_EVENTS) this.evC.copyWithin(0, ec - MAX_EVENTS, ec);
    const nEo = Math.min(eo, MAX_EVENTS);
    const nEc = Math.min(ec, MAX_EVENTS);
    const evO = this.evO;
    const evC = this.evC;
    out.eventsOrig = nEo;
    out.eventsCopy = nEc;
    if (nEo < 3 || nEc < 3) return;
    const tol = 1.5 * Math.max(pO, pC) + 0.005;
    // Lag search: every (original event, copy event) difference within +-maxLag, plus the timing lag.
    let bestK = this.countEventMatches(evO, nEo, evC, nEc, out.lagSec, tol);
    let bestL = out.lagSec;
    for (let a = 0; a < nEo; a++) {
      for (let b = 0; b < nEc; b++) {
        const L = evC[b]! - evO[a]!;
        if (L < -o.maxLagSec || L > o.maxLagSec) continue;
        const k = this.countEventMatches(evO, nEo, evC, nEc, L, tol);
        if (k > bestK) {
          bestK = k;
          bestL = L;
        }
      }
    }
    out.eventsMatched = bestK;
    out.eventLagSec = bestL;
    const span = Math.max(1, out.windowEnd - out.windowStart);
    // Chance that an original event finds some copy event within +-tol at a given lag.
    const p0 = Math.min(1, 1 - Math.pow(1 - Math.min(1, (2 * tol) / span), nEc));
    const lagsTried = Math.ceil((2 * o.maxLagSec) / tol) + 1;
    out.eventLog10P = Math.min(0, log10BinomialTail(nEo, bestK, p0) + Math.log10(lagsTried));
    out.eventPass = bestK >= 3 && bestK >= 0.6 * nEo && bestK >= 0.6 * nEc && out.eventLog10P <= Math.log10(o.eventAlpha);
  }

  private clip(ev: Float64Array, n: number, lo: number, hi: number): number {
    let m = 0;
    for (let i = 0; i < n; i++) {
      const t = ev[i]!;
      if (t >= lo && t <= hi) ev[m++] = t;
    }
    return m;
  }

  /** Greedy one-to-one matching of sorted event times at lag L. */
  private countEventMatches(evO: Float64Array, nO: number, evC: Float64Array, nC: number, L: number, tol: number): number {
    const used = this.evUsed;
    for (let b = 0; b < nC; b++) used[b] = 0;
    let k = 0;
    let start = 0;
    for (let a = 0; a < nO; a++) {
      const target = evO[a]! + L;
      while (start < nC && evC[start]! < target - tol) start++;
      for (let b = start; b < nC && evC[b]! <= target + tol; b++) {
        if (used[b] === 0) {
          used[b] = 1;
          k++;
          break;
        }
      }
    }
    return k;
  }
}


function reset(s: PairScore): void {
  s.valid = false;
  s.windowStart = 0;
  s.windowEnd = 0;
  s.copyPackets = 0;
  s.origPackets = 0;
  s.matched = 0;
  s.coverage = 0;
  s.lagSec = 0;
  s.origPtimeSec = 0;
  s.copyPtimeSec = 0;
  s.timingInformative = false;
  s.origJitterSec = 0;
  s.residualNoiseSec = 0;
  s.timingRatio = NaN;
  s.timingPass = false;
  s.eventsOrig = 0;
  s.eventsCopy = 0;
  s.eventsMatched = 0;
  s.eventLagSec = 0;
  s.eventLog10P = 0;
  s.eventPass = false;
  s.sizeInformative = false;
  s.sizeCorrelation = NaN;
  s.sizePass = false;
  s.headerIdentical = 0;
  s.headerPass = false;
  s.tupleAgreement = NaN;
  s.identicalPayload = 0;
}
