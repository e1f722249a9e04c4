/**
 * relay-crypto-stripped — unexpected_relay, reason crypto_stripped.
 *
 * One leg of a call is protected (RTP/SAVP or SAVPF profile, RFC 4568 SDES
 * a=crypto, RFC 5763 DTLS-SRTP, RFC 6189 zrtp-hash) and the correlated other
 * leg of the same call is not: whatever sits between the legs turns SRTP into
 * cleartext RTP. Sometimes that is an SBC's declared SRTP-RTP interworking
 * (allowlist it as role 'sbc'), sometimes a downgrade on the path.
 *
 * How legs are correlated (conservative on purpose):
 * 1. Signalling: two SDPs of ONE Call-ID with the same offer/answer role and
 *    media kind, within `windowSec` (the latest of each leg only), that travelled on different SIP legs
 *    sharing one host (A -> P and P -> B: a proxy or a B2BUA that keeps the
 *    Call-ID), one secure and one not. The same SDP seen twice (a HEP copy, a
 *    retransmission) has the same security and never triggers.
 * 2. Media: two call-linked streams (any calls) with the same SSRC whose
 *    sequence numbers run together (|Δseq| <= `maxSeqDelta` while both are
 *    active), where one flows INTO a host and the other flows OUT of the same
 *    host (the relay: media anchoring keeps SSRC/seq, PROTOCOLS.md), and the
 *    SDP expectation of one stream is secure and of the other is not. Requiring
 *    the into/out-of shape keeps SSRC collisions of unrelated flows silent
 *    (RFC 3550 §8.1; sipp sends SSRC 0xCA110000 on every call).
 *
 * Relay: the host between the legs, with the port it uses on the cleartext
 * side when known. One finding per (call, host).
 */
import type { MediaStream } from '../../media/media-stream.js';
import type { Detector, DetectorContext, HeuristicModule } from '../detector.js';
import type { SdpObservation, SipObservation } from '../observations.js';
import { type LegSdp, type RelayCallIndex, canonicalIp, hex32, ipOf, portOf, relayIndexFor, relayReport, round3 } from './relay-common.js';

export const RELAY_CRYPTO_STRIPPED_ID = 'relay-crypto-stripped';
const VERSION = 1;

export interface RelayCryptoStrippedSettings extends Record<string, number | boolean | string> {
  enabled: boolean;
  /** Two SDPs of one Call-ID correlate when they are at most this far apart (a proxy or B2BUA forwards within milliseconds). */
  windowSec: number;
  /** Media correlation: packets a stream needs before it is compared. */
  minPackets: number;
  /** Media correlation: sequence numbers of the two legs within this distance. */
  maxSeqDelta: number;
}

const DEFAULTS: RelayCryptoStrippedSettings = { enabled: true, windowSec: 2, minPackets: 5, maxSeqDelta: 64 };

export class RelayCryptoStrippedDetector implements Detector {
  readonly id = RELAY_CRYPTO_STRIPPED_ID;
  readonly version = VERSION;
  private readonly index: RelayCallIndex;
  /** Relay party chosen per (callId, host), so offer and answer comparisons update one finding. */
  private readonly partyOf = new Map<string, string>();
  /** Call-linked streams by SSRC (bounded by the stream table's lifetime: removed on end). */
  private readonly bySsrc = new Map<number, MediaStream[]>();
  private readonly pending = new Set<MediaStream>();
  private readonly security = new Map<MediaStream, boolean>();
  readonly counts = { sdpLegPairs: 0, mediaPairs: 0 };

  constructor(
    private readonly ctx: DetectorContext,
    private readonly settings: RelayCryptoStrippedSettings,
  ) {
    this.index = relayIndexFor(ctx);
  }

  onSip(o: SipObservation): void {
    this.index.onSip(o);
  }

  onSdp(o: SdpObservation): void {
    this.index.onSdp(o);
    const k = this.index.get(o.call);
    if (k === undefined || k.legs.length < 2) return;
    const leg = k.legs[k.legs.length - 1]!;
    if (leg.ts !== o.ts) return;
    // Compare with the LATEST SDP of each other leg only: an older one was superseded.
    const seenLegs = new Set<string>([legKey(leg)]);
    for (let i = k.legs.length - 2; i >= 0; i--) {
      const p = k.legs[i]!;
      if (leg.ts - p.ts > this.settings.windowSec) break;
      const pk = legKey(p);
      if (seenLegs.has(pk)) continue;
      seenLegs.add(pk);
      if (p.role !== leg.role) continue;
      const shared = sharedHost(p, leg);
      if (shared === null) continue;
      for (const [media, cur] of leg.media) {
        const prev = p.media.get(media);
        if (prev === undefined || prev.secure === cur.secure) continue;
        const secureLeg = cur.secure ? leg : p;
        const clearLeg = cur.secure ? p : leg;
        const clear = clearLeg.media.get(media)!;
        const sec = secureLeg.media.get(media)!;
        this.counts.sdpLegPairs++;
        const port = ipOf(clear.endpoint) === shared ? portOf(clear.endpoint) : ipOf(sec.endpoint) === shared ? portOf(sec.endpoint) : 0;
        const relay = this.party(o.call.callId, shared, port);
        this.ctx.findings.report(
          relayReport({
            heuristic: { id: this.id, version: this.version },
            reason: 'crypto_stripped',
            relay,
            callId: o.call.callId,
            ssrc: null,
            severity: 'critical',
            confidence: 0.8,
            firstSeen: Math.min(p.ts, leg.ts),
            detectedAt: o.ts,
            summary: `Call ${o.call.callId}: the ${media} ${leg.role} is secure (${sec.proto}) on SIP leg ${legText(secureLeg)} but cleartext (${clear.proto}) on leg ${legText(clearLeg)}; ${shared} sits between them.`,
            evidence: {
              correlation: 'sdp_legs',
              media,
              role: leg.role,
              secureLeg: legText(secureLeg),
              secureProto: sec.proto,
              secureEndpoint: sec.endpoint,
              clearLeg: legText(clearLeg),
              clearProto: clear.proto,
              clearEndpoint: clear.endpoint,
              sharedHost: shared,
              secondsApart: round3(Math.abs(leg.ts - p.ts)),
            },
          }),
        );
      }
    }
  }

  onStreamStarted(s: MediaStream): void {
    if (s.tunnels.length > 0) return;
    this.pending.add(s);
  }

  onStreamEnded(s: MediaStream): void {
    this.pending.delete(s);
    this.security.delete(s);
    const list = this.bySsrc.get(s.ssrc);
    if (list) {
      const i = list.indexOf(s);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.bySsrc.delete(s.ssrc);
    }
  }

  onTick(now: number): void {
    for (const s of this.pending) {
      if (s.call === null) {
        if (now - s.firstTs > 30) this.pending.delete(s);
        continue;
      }
      if (s.packets < this.settings.minPackets) continue;
      this.pending.delete(s);
      const e = this.ctx.calls.expectations.get(s.dst) ?? this.ctx.calls.expectations.get(s.src);
      if (e === undefined) continue;
      this.security.set(s, e.secure);
      let list = this.bySsrc.get(s.ssrc);
      if (list === undefined) {
        list = [];
        this.bySsrc.set(s.ssrc, list);
      }
      for (const t of list) this.compare(s, t);
      if (list.length < 16) list.push(s);
    }
  }

  flush(now: number): void {
    this.onTick(now);
  }

  private compare(a: MediaStream, b: MediaStream): void {
    const sa = this.security.get(a);
    const sb = this.security.get(b);
    if (sa === undefined || sb === undefined || sa === sb) return;
    if (Math.abs(a.lastTs - b.lastTs) > 1) return;
    const d = (a.lastSeq - b.lastSeq) & 0xffff;
    if (Math.min(d, 0x10000 - d) > this.settings.maxSeqDelta) return;
    // Into the relay on one leg, out of it on the other.
    let into: MediaStream;
    let out: MediaStream;
    if (canonicalIp(ipOf(a.dst)) === canonicalIp(ipOf(b.src))) {
      into = a;
      out = b;
    } else if (canonicalIp(ipOf(b.dst)) === canonicalIp(ipOf(a.src))) {
      into = b;
      out = a;
    } else return;
    if (into.src === out.dst) return; // a loop back to the sender, not two legs
    const secure = sa ? a : b;
    const clear = sa ? b : a;
    const host = canonicalIp(ipOf(out.src));
    const port = clear === out ? portOf(out.src) : portOf(into.dst);
    const call = secure.call!;
    this.counts.mediaPairs++;
    const relay = this.party(call.callId, host, port);
    this.ctx.findings.report(
      relayReport({
        heuristic: { id: this.id, version: this.version },
        reason: 'crypto_stripped',
        relay,
        callId: call.callId,
        ssrc: a.ssrc,
        severity: 'critical',
        confidence: 0.85,
        firstSeen: Math.min(a.firstTs, b.firstTs),
        detectedAt: Math.max(a.lastTs, b.lastTs),
        summary: `SSRC ${hex32(a.ssrc)} enters ${host} as ${sa === (into === a) ? 'SRTP' : 'cleartext RTP'} (${into.src} -> ${into.dst}) and leaves as ${sa === (out === a) ? 'SRTP' : 'cleartext RTP'} (${out.src} -> ${out.dst}): the relay strips media encryption.`,
        evidence: {
          correlation: 'media_ssrc_seq',
          ssrc: hex32(a.ssrc),
          secureStream: `${secure.src}->${secure.dst}`,
          secureCallId: call.callId,
          clearStream: `${clear.src}->${clear.dst}`,
          clearCallId: clear.call?.callId ?? null,
          securePackets: secure.packets,
          clearPackets: clear.packets,
          seqDelta: Math.min(d, 0x10000 - d),
          relayHost: host,
        },
      }),
    );
  }

  private party(callId: string, host: string, port: number): string {
    const key = `${callId}|${host}`;
    let p = this.partyOf.get(key);
    if (p === undefined) {
      p = `${host}:${port}`;
      if (this.partyOf.size > 100_000) this.partyOf.clear();
      this.partyOf.set(key, p);
    }
    return p;
  }
}

/** The host two different SIP legs share (the proxy or B2BUA between them), or null. */
function sharedHost(a: LegSdp, b: LegSdp): string | null {
  const sameLeg = (a.srcIp === b.srcIp && a.dstIp === b.dstIp) || (a.srcIp === b.dstIp && a.dstIp === b.srcIp);
  if (sameLeg) return null;
  for (const x of [a.srcIp, a.dstIp]) if (x !== '' && (x === b.srcIp || x === b.dstIp)) return x;
  return null;
}

function legKey(l: LegSdp): string {
  return l.srcIp < l.dstIp ? `${l.srcIp}|${l.dstIp}` : `${l.dstIp}|${l.srcIp}`;
}

function legText(l: LegSdp): string {
  return `${l.srcIp} -> ${l.dstIp}`;
}

export const relayCryptoStripped: HeuristicModule<RelayCryptoStrippedSettings> = {
  id: RELAY_CRYPTO_STRIPPED_ID,
  version: VERSION,
  defaults: DEFAULTS,
  create: (ctx, settings) => new RelayCryptoStrippedDetector(ctx, settings),
};
