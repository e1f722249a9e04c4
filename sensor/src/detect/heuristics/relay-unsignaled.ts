/**
 * relay-unsignaled — unexpected_relay, reason unsignaled_endpoint.
 *
 * A media stream tied to a call by an SDP-announced endpoint (the stream
 * table's expectation match, Wireshark packet-sdp.c style) whose OTHER
 * endpoint no SDP of the call announced: not a c=/m= address, not an a=rtcp
 * address, not an ICE candidate nor a candidate's raddr (RFC 8839 §5.1), not
 * an IP that signalled the call (a NATed party sends media from the address it
 * signals from), not an endpoint announced by any other call's SDP (transfer,
 * SBC legs), not multicast. PROTOCOLS.md: "the outer destination is not a
 * party to the call's SIP or SDP".
 *
 * Why it needs the announced endpoint on one side: a stream between two
 * addresses no SDP named is not attributable to the call — it is a copy
 * (duplicate_stream's business), or the other leg of a media anchor whose
 * signalling the mirror does not see (the corpus capture
 * heplify_rtp_rtcp_sip_ipv4_udp has exactly that: the SDP-announced anchor
 * 200.57.7.196 bridges to a device signalled over a non-SIP protocol).
 *
 * Strength of the evidence (docs/heuristics/relay-unsignaled.md):
 * - ssrc_continuity: the same SSRC reaches the announced endpoint both from the
 *   announced peer and from the unknown endpoint — media was diverted
 *   (critical, 0.9);
 * - mid_call: the unknown endpoint appears after media with the announced peer
 *   was flowing (warning, 0.75);
 * - from_start: the unknown endpoint is the only peer from the start (warning,
 *   0.6), EXCEPT when the peer announced a private address and the unknown one
 *   is public: that is NAT traversal (RFC 7362 latching), not a relay.
 *
 * No per-packet work: streams are registered when they start and judged on
 * the ~1 s tick once they carry `minPackets` packets.
 */
import type { Call } from '../../calls/call.js';
import type { MediaStream } from '../../media/media-stream.js';
import type { Detector, DetectorContext, HeuristicModule } from '../detector.js';
import type { SdpObservation, SipObservation } from '../observations.js';
import {
  type CallMediaKnowledge,
  type RelayCallIndex,
  canonicalIp,
  firstN,
  hex32,
  ipOf,
  isMulticastIp,
  isPrivateIp,
  relayIndexFor,
  relayReport,
  round3,
} from './relay-common.js';

export const RELAY_UNSIGNALED_ID = 'relay-unsignaled';
const VERSION = 1;

export interface RelayUnsignaledSettings extends Record<string, number | boolean | string> {
  enabled: boolean;
  /** Packets a stream must carry before it is judged (persistence, not a single stray packet). */
  minPackets: number;
  /** Streams not tied to a call within this many seconds of starting are dropped from consideration. */
  pendingSec: number;
  /** A stream starting this long after the call's first announced media counts as mid-call. */
  midCallSec: number;
  /** Report streams whose unknown peer was there from the start (not NAT-explainable). */
  reportFromStart: boolean;
}

const DEFAULTS: RelayUnsignaledSettings = { enabled: true, minPackets: 10, pendingSec: 30, midCallSec: 0.5, reportFromStart: true };
const MAX_STREAMS_PER_CALL = 64;

export type UnsignaledSituation = 'ssrc_continuity' | 'mid_call' | 'from_start';

/** How long both deliveries must overlap (seconds) before a same-SSRC stream to an unknown host counts as a copy, not a relay. */
const FAN_OUT_SLACK_SEC = 0.1;

export class RelayUnsignaledDetector implements Detector {
  readonly id = RELAY_UNSIGNALED_ID;
  readonly version = VERSION;
  private readonly index: RelayCallIndex;
  /** Started streams not judged yet. */
  private readonly pending = new Set<MediaStream>();
  /** Call-linked streams per call (bounded), for SSRC continuity and mid-call evidence. */
  private readonly callStreams = new WeakMap<Call, MediaStream[]>();
  /** Streams reported, to refresh their evidence when they end. */
  private readonly reported = new Map<MediaStream, { situation: UnsignaledSituation; unknown: string; known: string }>();
  readonly counts = { judged: 0, reported: 0, natExplained: 0, unattributable: 0, fanOut: 0 };

  constructor(
    private readonly ctx: DetectorContext,
    private readonly settings: RelayUnsignaledSettings,
  ) {
    this.index = relayIndexFor(ctx);
  }

  onSip(o: SipObservation): void {
    this.index.onSip(o);
  }

  onSdp(o: SdpObservation): void {
    this.index.onSdp(o);
  }

  onStreamStarted(s: MediaStream): void {
    // Streams first seen inside a non-feed tunnel are copies: duplicate_stream reports them.
    if (s.tunnels.length > 0) return;
    this.pending.add(s);
  }

  onStreamEnded(s: MediaStream): void {
    this.pending.delete(s);
    const r = this.reported.get(s);
    if (r) {
      this.reported.delete(s);
      if (s.call) this.report(s, s.call, r.unknown, r.known, r.situation, s.lastTs);
    }
  }

  onTick(now: number): void {
    for (const s of this.pending) {
      if (s.call === null) {
        if (now - s.firstTs > this.settings.pendingSec) this.pending.delete(s);
        continue;
      }
      this.remember(s.call, s);
      if (s.packets < this.settings.minPackets) continue;
      this.pending.delete(s);
      this.judge(s, s.call);
    }
  }

  flush(): void {
    for (const s of this.pending) {
      if (s.call === null) continue;
      this.remember(s.call, s);
    }
    for (const s of this.pending) {
      if (s.call !== null && s.packets >= this.settings.minPackets) this.judge(s, s.call);
    }
    this.pending.clear();
  }

  private remember(call: Call, s: MediaStream): void {
    let list = this.callStreams.get(call);
    if (list === undefined) {
      list = [];
      this.callStreams.set(call, list);
    }
    if (list.includes(s)) return;
    if (list.length >= MAX_STREAMS_PER_CALL) list.shift();
    list.push(s);
  }

  /** Is this endpoint one the call (or any call) signalled? */
  private known(k: CallMediaKnowledge, call: Call, endpoint: string): boolean {
    const ip = canonicalIp(ipOf(endpoint));
    if (ip === '' || k.knowsIp(ip) || call.hops.has(ip)) return true;
    if (isMulticastIp(ip) || this.ctx.policy.isPagingGroup(ip)) return true;
    // Announced by some call's SDP (transfer to a new dialog, the other leg of an SBC).
    return this.ctx.calls.expectations.get(endpoint) !== undefined;
  }

  /** Did an SDP of this call announce exactly this endpoint? */
  private announced(k: CallMediaKnowledge, call: Call, endpoint: string): boolean {
    if (k.endpoints.has(endpoint)) return true;
    return this.ctx.calls.expectations.get(endpoint)?.call === call;
  }

  judge(s: MediaStream, call: Call): void {
    this.counts.judged++;
    const k = this.index.get(call);
    if (k === undefined) return;
    const srcKnown = this.known(k, call, s.src);
    const dstKnown = this.known(k, call, s.dst);
    if (srcKnown === dstKnown) return; // both signalled, or neither (not attributable)
    const unknown = srcKnown ? s.dst : s.src;
    const known = srcKnown ? s.src : s.dst;
    if (!this.announced(k, call, known)) {
      this.counts.unattributable++;
      return;
    }
    const situation = this.situation(s, call, k, unknown, known);
    if (situation === null) return;
    this.report(s, call, unknown, known, situation, s.lastTs);
  }

  private situation(s: MediaStream, call: Call, k: CallMediaKnowledge, unknown: string, known: string): UnsignaledSituation | null {
    const inbound = unknown === s.src;
    const list = this.callStreams.get(call) ?? [];
    let midCall = false;
    for (const t of list) {
      if (t === s) continue;
      // The same announced endpoint exchanging media with an announced peer.
      const tPeer = inbound ? (t.dst === known ? t.src : null) : t.src === known ? t.dst : null;
      if (tPeer === null || !this.announcedOrSignaller(k, call, tPeer)) continue;
      if (t.ssrc === s.ssrc) {
        // Fan-out, not a relay: the announced sender keeps delivering the same
        // SSRC to its announced peer while this stream carries it elsewhere.
        // That is a copy (duplicate_stream reports it); a relay takes the
        // media's place on the path, so the direct stream stops.
        if (!inbound && t.lastTs >= s.lastTs - FAN_OUT_SLACK_SEC && t.lastTs > s.firstTs + FAN_OUT_SLACK_SEC) {
          this.counts.fanOut++;
          return null;
        }
        return 'ssrc_continuity';
      }
      if (t.firstTs <= s.firstTs - this.settings.midCallSec) midCall = true;
    }
    if (midCall) return 'mid_call';
    if (!this.settings.reportFromStart) return null;
    // NAT traversal: the peer announced only private addresses, media comes from a public one.
    const peerParty = k.endpoints.get(known) === 'caller' ? 'callee' : 'caller';
    const peerIps = k.partyIps[peerParty];
    const unknownIp = ipOf(unknown);
    if (!isPrivateIp(unknownIp) && peerIps.size > 0 && [...peerIps].every(isPrivateIp)) {
      this.counts.natExplained++;
      return null;
    }
    return 'from_start';
  }

  private announcedOrSignaller(k: CallMediaKnowledge, call: Call, endpoint: string): boolean {
    return this.announced(k, call, endpoint) || k.sipSenders.has(canonicalIp(ipOf(endpoint)));
  }

  private report(s: MediaStream, call: Call, unknown: string, known: string, situation: UnsignaledSituation, detectedAt: number): void {
    const k = this.index.get(call);
    const inbound = unknown === s.src;
    const severity = situation === 'ssrc_continuity' ? 'critical' : 'warning';
    const base = situation === 'ssrc_continuity' ? 0.9 : situation === 'mid_call' ? 0.75 : 0.6;
    const persistence = Math.min(1, s.packets / 100);
    const confidence = Math.min(1, base + 0.08 * persistence);
    let continuity: string | null = null;
    for (const t of this.callStreams.get(call) ?? []) {
      if (t !== s && t.ssrc === s.ssrc && (inbound ? t.dst === s.dst : t.src === s.src)) {
        continuity = `${t.src}->${t.dst}`;
        break;
      }
    }
    const lastSdp = k ? k.lastSdpTs : -Infinity;
    const evidence = {
      stream: `${s.src}->${s.dst}`,
      direction: inbound ? 'into_call' : 'out_of_call',
      unsignaledEndpoint: unknown,
      announcedEndpoint: known,
      situation,
      ssrc: hex32(s.ssrc),
      sameSsrcOnAnnouncedPath: continuity,
      packets: s.packets,
      bytes: s.bytes,
      ttl: s.ttl,
      firstSeenOffsetSec: round3(s.firstTs - call.startTs),
      secondsSinceLastSdp: Number.isFinite(lastSdp) ? round3(s.firstTs - lastSdp) : null,
      sdpCount: k?.sdpCount ?? 0,
      sdpEndpoints: k ? firstN(k.endpoints.keys(), 24) : [],
    };
    const r = this.ctx.findings.report(
      relayReport({
        heuristic: { id: this.id, version: this.version },
        reason: 'unsignaled_endpoint',
        relay: unknown,
        callId: call.callId,
        ssrc: s.ssrc,
        severity,
        confidence,
        firstSeen: s.firstTs,
        detectedAt,
        summary: `Media of call ${call.callId} (SSRC ${hex32(s.ssrc)}) ${inbound ? 'arrives at' : 'leaves to'} ${unknown}, which no SDP of the call announced (${situation.replace('_', ' ')}): ${s.src} -> ${s.dst}, ${s.packets} packets.`,
        evidence,
      }),
    );
    if (r !== null && !this.reported.has(s)) {
      this.counts.reported++;
      this.reported.set(s, { situation, unknown, known });
    }
  }
}

export const relayUnsignaled: HeuristicModule<RelayUnsignaledSettings> = {
  id: RELAY_UNSIGNALED_ID,
  version: VERSION,
  defaults: DEFAULTS,
  create: (ctx, settings) => new RelayUnsignaledDetector(ctx, settings),
};
