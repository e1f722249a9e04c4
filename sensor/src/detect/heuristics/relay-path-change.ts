/**
 * relay-path-change — unexpected_relay, reason path_change.
 *
 * Two signs that a call's media took a new path without any signalling to
 * explain it (no SDP, re-INVITE, UPDATE RFC 3311 or REFER RFC 3515 in a
 * window before the change):
 *
 * 1. Hop shift: on one 5-tuple of a call-linked stream, the IPv4 TTL / IPv6
 *    hop limit moves to a new value and STAYS there for `minPackets`
 *    sequence-advancing packets, with no packet at the old value meanwhile.
 *    A box inserted in the path (policy routing through a relay, a
 *    re-originating forwarder that spoofs the addresses) shows as exactly that.
 *    SPAN doubles (PROTOCOLS.md: the same packet at ingress and egress, TTL one
 *    lower) never qualify: the old value keeps arriving, and the lower copy
 *    does not advance the sequence number (RFC 3550 §A.1 duplicate).
 * 2. 5-tuple move: a call's SSRC (RFC 3550 §8: one source, one SSRC) continues
 *    (sequence numbers follow on) on a new 5-tuple whose changed endpoint is a
 *    different host from the old one, not announced in any SDP of the call,
 *    while the old 5-tuple has gone quiet. Endpoints no SDP of the call knows
 *    at all are relay-unsignaled's (reason unsignaled_endpoint); this covers a
 *    move to a host the call knows only from its signalling (a SIP hop that
 *    starts relaying media without announcing it).
 *
 * Never a path change: port moves on the same host (NAT rebinding), moves to
 * announced endpoints (ICE re-nomination, hold/resume by re-INVITE, forking:
 * every fork's source is in its 18x SDP), a new SSRC (conference mixers
 * with CSRC lists, transfer), packets inside a non-feed tunnel (copies).
 *
 * Hot path (onRtp): one Map lookup by stream object and integer compares; the
 * per-stream state is allocated once per stream.
 */
import type { Call } from '../../calls/call.js';
import type { MediaStream } from '../../media/media-stream.js';
import type { Detector, DetectorContext, HeuristicModule } from '../detector.js';
import type { RtpObservation, SdpObservation, SipObservation } from '../observations.js';
import { type RelayCallIndex, canonicalIp, firstN, hex32, ipOf, relayIndexFor, relayReport, round3 } from './relay-common.js';

export const RELAY_PATH_CHANGE_ID = 'relay-path-change';
const VERSION = 1;

export interface RelayPathChangeSettings extends Record<string, number | boolean | string> {
  enabled: boolean;
  /** Sequence-advancing packets at the new TTL (with none at the old one) that make a shift persistent. */
  minPackets: number;
  /** Signalling (SDP, re-INVITE, UPDATE, REFER) this many seconds before a change explains it. */
  signalWindowSec: number;
  /** A sequence step larger than this is not "advancing" (a restart or a stray). */
  maxSeqStep: number;
  /** The old 5-tuple must have been silent for this long when the new one is judged. */
  quietSec: number;
  /** Report TTL shifts that ADD hops only (true), or any persistent shift (false). */
  onlyAddedHops: boolean;
}

const DEFAULTS: RelayPathChangeSettings = { enabled: true, minPackets: 10, signalWindowSec: 10, maxSeqStep: 100, quietSec: 0.3, onlyAddedHops: true };

/** Common initial TTLs: a jump up to one of these means a host on the path re-originated the packets. */
const INITIAL_TTLS = new Set([32, 64, 128, 255]);

/** Per-stream hop tracking; allocated once per call-linked stream. */
class HopTrack {
  baseline = -1;
  baselineMac = -1;
  lastSeq = -1;
  cand = -1;
  candCount = 0;
  candFirstTs = 0;
  candMac = -1;
  packets = 0;
  shifts = 0;
}

const MAX_TRACKED = 200_000;

export class RelayPathChangeDetector implements Detector {
  readonly id = RELAY_PATH_CHANGE_ID;
  readonly version = VERSION;
  private readonly index: RelayCallIndex;
  private readonly tracks = new Map<MediaStream, HopTrack>();
  /** Call-linked streams awaiting the 5-tuple-move judgement. */
  private readonly pending = new Set<MediaStream>();
  private readonly callStreams = new WeakMap<Call, MediaStream[]>();
  readonly counts = { hopShifts: 0, explained: 0, moves: 0 };

  constructor(
    private readonly ctx: DetectorContext,
    private readonly settings: RelayPathChangeSettings,
  ) {
    this.index = relayIndexFor(ctx);
  }

  onSip(o: SipObservation): void {
    this.index.onSip(o);
  }

  onSdp(o: SdpObservation): void {
    this.index.onSdp(o);
  }

  onRtp(o: RtpObservation): void {
    const s = o.stream;
    if (s.call === null || o.tunnelDepth !== 0) return;
    let t = this.tracks.get(s);
    if (t === undefined) {
      if (this.tracks.size >= MAX_TRACKED) return;
      t = new HopTrack();
      this.tracks.set(s, t);
    }
    t.packets++;
    const ttl = o.ttl;
    if (t.baseline < 0) {
      t.baseline = ttl;
      t.baselineMac = o.srcMac;
      t.lastSeq = o.seq;
      return;
    }
    const step = (o.seq - t.lastSeq) & 0xffff;
    const advancing = step >= 1 && step <= this.settings.maxSeqStep;
    if (ttl === t.baseline) {
      // The old path is still in use (or a SPAN double of it): no shift.
      t.cand = -1;
      t.candCount = 0;
      if (advancing) t.lastSeq = o.seq;
      return;
    }
    // A copy of an already-seen packet at another TTL (SPAN egress double, a loop): ignore.
    if (!advancing) return;
    t.lastSeq = o.seq;
    if (ttl !== t.cand) {
      t.cand = ttl;
      t.candCount = 1;
      t.candFirstTs = o.ts;
      t.candMac = o.srcMac;
      return;
    }
    if (++t.candCount < this.settings.minPackets) return;
    this.onHopShift(s, t, o.ts);
  }

  private onHopShift(s: MediaStream, t: HopTrack, now: number): void {
    const before = t.baseline;
    const after = t.cand;
    const beforeMac = t.baselineMac;
    const newMac = t.candMac;
    const since = t.candFirstTs;
    const count = t.candCount;
    t.baseline = after;
    t.baselineMac = newMac;
    t.cand = -1;
    t.candCount = 0;
    t.shifts++;
    const call = s.call!;
    const addedHops = before - after;
    const reoriginated = after > before && INITIAL_TTLS.has(after) && !INITIAL_TTLS.has(before);
    if (this.settings.onlyAddedHops && addedHops <= 0 && !reoriginated) return;
    const k = this.index.get(call);
    const explainedBy = k?.signalBetween(since - this.settings.signalWindowSec, now) ?? null;
    if (explainedBy !== null) {
      this.counts.explained++;
      return;
    }
    this.counts.hopShifts++;
    const confidence = Math.min(0.85, 0.55 + 0.05 * Math.min(4, Math.floor(count / this.settings.minPackets)) + (newMac !== beforeMac && newMac >= 0 ? 0.1 : 0));
    this.ctx.findings.report(
      relayReport({
        heuristic: { id: this.id, version: this.version },
        reason: 'path_change',
        relay: s.src,
        callId: call.callId,
        ssrc: s.ssrc,
        severity: 'warning',
        confidence,
        firstSeen: since,
        detectedAt: now,
        summary: `Media of call ${call.callId} (SSRC ${hex32(s.ssrc)}, ${s.src} -> ${s.dst}) changed path without signalling: TTL/hop limit ${before} -> ${after}${reoriginated ? ' (re-originated by a host on the path)' : ` (${addedHops} hop(s) added)`}.`,
        evidence: {
          kind: 'hop_shift',
          stream: `${s.src}->${s.dst}`,
          ssrc: hex32(s.ssrc),
          ttlBefore: before,
          ttlAfter: after,
          hopsAdded: addedHops,
          reoriginated,
          packetsAtNewTtl: count,
          previousHopMacBefore: macText(beforeMac),
          previousHopMacAfter: macText(newMac),
          shiftOffsetSec: round3(since - s.firstTs),
          secondsSinceLastSdp: k && Number.isFinite(k.lastSdpTs) ? round3(since - k.lastSdpTs) : null,
          signalWindowSec: this.settings.signalWindowSec,
        },
      }),
    );
  }

  onStreamStarted(s: MediaStream): void {
    if (s.tunnels.length > 0) return;
    this.pending.add(s);
  }

  onStreamEnded(s: MediaStream): void {
    this.tracks.delete(s);
    this.pending.delete(s);
  }

  onTick(now: number): void {
    for (const s of this.pending) {
      if (s.call === null) {
        if (now - s.firstTs > 30) this.pending.delete(s);
        continue;
      }
      this.remember(s.call, s);
      if (s.packets < this.settings.minPackets) continue;
      this.pending.delete(s);
      this.judgeMove(s, s.call, now);
    }
  }

  flush(now: number): void {
    this.onTick(now);
    this.pending.clear();
  }

  private remember(call: Call, s: MediaStream): void {
    let list = this.callStreams.get(call);
    if (list === undefined) {
      list = [];
      this.callStreams.set(call, list);
    }
    if (list.includes(s)) return;
    if (list.length >= 64) list.shift();
    list.push(s);
  }

  /** Did this call's SSRC move here from another 5-tuple, to a host no SDP announced but the call knows? */
  private judgeMove(s: MediaStream, call: Call, now: number): void {
    const k = this.index.get(call);
    if (k === undefined) return;
    for (const old of this.callStreams.get(call) ?? []) {
      if (old === s || old.ssrc !== s.ssrc || old.firstTs >= s.firstTs) continue;
      // The same source moved (receiver kept) or the same receiver now fed from elsewhere.
      let changed: string;
      let previous: string;
      if (old.dst === s.dst && old.src !== s.src) {
        changed = s.src;
        previous = old.src;
      } else if (old.src === s.src && old.dst !== s.dst) {
        changed = s.dst;
        previous = old.dst;
      } else continue;
      const changedIp = canonicalIp(ipOf(changed));
      if (changedIp === canonicalIp(ipOf(previous))) continue; // port move on one host: NAT rebinding
      if (!k.knowsIp(changedIp) && !call.hops.has(changedIp)) continue; // relay-unsignaled's case
      if (k.endpoints.has(changed) || this.ctx.calls.expectations.get(changed) !== undefined) continue;
      if (old.lastTs > s.firstTs + this.settings.quietSec) continue; // concurrent: a copy, not a move
      const seqGap = (s.lastSeq - old.lastSeq) & 0xffff;
      if (seqGap === 0 || seqGap > s.packets + 1000) continue; // not a continuation of the same source
      if (k.signalBetween(s.firstTs - this.settings.signalWindowSec, now) !== null) {
        this.counts.explained++;
        continue;
      }
      this.counts.moves++;
      this.ctx.findings.report(
        relayReport({
          heuristic: { id: this.id, version: this.version },
          reason: 'path_change',
          relay: changed,
          callId: call.callId,
          ssrc: s.ssrc,
          severity: 'warning',
          confidence: 0.7,
          firstSeen: s.firstTs,
          detectedAt: s.lastTs,
          summary: `SSRC ${hex32(s.ssrc)} of call ${call.callId} moved from ${old.src} -> ${old.dst} to ${s.src} -> ${s.dst} with no re-INVITE, UPDATE or REFER; ${changed} is not an SDP endpoint of the call.`,
          evidence: {
            kind: 'five_tuple_move',
            oldStream: `${old.src}->${old.dst}`,
            newStream: `${s.src}->${s.dst}`,
            ssrc: hex32(s.ssrc),
            oldPackets: old.packets,
            newPackets: s.packets,
            ttlOld: old.ttl,
            ttlNew: s.ttl,
            gapSec: round3(s.firstTs - old.lastTs),
            secondsSinceLastSdp: Number.isFinite(k.lastSdpTs) ? round3(s.firstTs - k.lastSdpTs) : null,
            sdpEndpoints: firstN(k.endpoints.keys(), 24),
          },
        }),
      );
      return;
    }
  }
}

function macText(mac: number): string | null {
  if (mac < 0) return null;
  const hi = Math.floor(mac / 4294967296);
  const lo = mac >>> 0;
  const b = [(hi >>> 8) & 0xff, hi & 0xff, lo >>> 24, (lo >>> 16) & 0xff, (lo >>> 8) & 0xff, lo & 0xff];
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}

export const relayPathChange: HeuristicModule<RelayPathChangeSettings> = {
  id: RELAY_PATH_CHANGE_ID,
  version: VERSION,
  defaults: DEFAULTS,
  create: (ctx, settings) => new RelayPathChangeDetector(ctx, settings),
};
