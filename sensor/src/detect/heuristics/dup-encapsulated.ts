/**
 * dup-encapsulated: a copy of a call's RTP/SRTP that rides inside a tunnel or
 * a lawful-intercept wrapper to a third party (PROTOCOLS.md, "Where a copied
 * packet hides"):
 *
 *  - tunnels the decoder unwraps — VXLAN (RFC 7348), Geneve (RFC 8926), GRE
 *    and GRE-TEB (RFC 2784/2890), ERSPAN II/III, TZSP, HEP v2/v3, IP-in-IP:
 *    the inner packet is byte-identical to the original, so it lands in the
 *    SAME stream (same inner 5-tuple and SSRC) and differs only in its
 *    tunnel stack. Two sightings of one packet (digest, SSRC, seq, RTP
 *    timestamp: RFC 3550 §5.1) where one is plain (or shallower) and the
 *    other is inside a tunnel are an original and its copy; the copy goes
 *    to the tunnel's outer destination ("ip:0" for GRE/ERSPAN).
 *  - wrappers found by the app layer's EmbeddedRtpScanner (PacketCable/CCC,
 *    jmirror, Nokia shim, bare IP-in-UDP, ETSI X3 over TCP without TLS): an
 *    RTP header or an IP/UDP/RTP packet of an active stream at a small offset
 *    of a non-media payload; the copy goes to the outer destination.
 *
 * Silent by design: the sensor's own mirror feed (policy.sensorTunnels are
 * stripped before the observation; a stream seen only inside one tunnel has
 * nothing to compare with), two different tunnels at the same depth (two
 * mirror sessions feeding the sensor — ambiguous, never reported), multicast
 * paging. A copy to a declared recorder (SIPREC RFC 7866, policy) is
 * reported declared, info. The tunnel's outer destination is the party the
 * policy allowlist matches (role recorder or collector, e.g. a HOMER HEP
 * collector).
 */
import type { Detector, DetectorContext, HeuristicModule } from '../detector.js';
import type { EmbeddedRtpObservation, RtpObservation, SipObservation } from '../observations.js';
import type { MediaStream } from '../../media/media-stream.js';
import type { Evidence, TunnelSummary } from '../../events/types.js';
import { MAX_MATCHES, PacketIndex, hex32, hostOf, portOf, sharedPacketIndex } from '../packet-index.js';
import { announcedBy, callOf, declaredReason, exactConfidence, isPagingDestination, noteSip, recordingCallsOf, severityFor } from './dup-common.js';

export const DUP_ENCAPSULATED_DEFAULTS = {
  enabled: true,
  /** Matched packets before a copy is reported. */
  minMatches: 3,
  /** How far apart (capture seconds) an original and its copy may be (shared packet index). */
  windowSec: 2,
  /** log2 of the shared packet index size (see dup-exact). */
  indexLog2: 17,
  /** Confidence of an embedded copy whose bytes were not seen identically in the original (SSRC/seq/PT match only). */
  embeddedUnconfirmedConfidence: 0.8,
};

type Settings = typeof DUP_ENCAPSULATED_DEFAULTS;

const FIRST_DIGESTS = 4;

class Pair {
  matched = 0;
  confirmed = 0;
  lastSeq = -1;
  firstTs = 0;
  firstMatchTs = 0;
  lastTs = 0;
  offsetSumMs = 0;
  maxOffsetMs = 0;
  readonly digests: string[] = [];
  ttlOriginal = 0;
  ttlCopy = 0;
  tunnels: TunnelSummary[] | null = null;
  /** Tunnel layer naming the copy's destination ('' until known). */
  kind = '';
  copyTo = '';
  copyToIp = '';
  reported = false;
  reportedMatched = 0;
  silentGen = -1;
  // embedded only
  wrapper = '';
  offset = 0;
  embedded = '';
  outerSrc = '';
  outerProto = '';
  constructor(
    readonly stream: MediaStream,
    /** Tunnel signature of the copy (PacketIndex), or -1 for an embedded copy. */
    readonly sig: number,
    /** Embedded copies: the outer destination. */
    readonly outerDst: string,
  ) {}
}

export class DupEncapsulatedDetector implements Detector {
  readonly id = 'dup-encapsulated';
  readonly version = 1;
  readonly index: PacketIndex;
  private readonly pairs = new Map<MediaStream, Pair[]>();
  private readonly found = new Int32Array(MAX_MATCHES);

  constructor(
    private readonly ctx: DetectorContext,
    private readonly s: Settings,
  ) {
    this.index = sharedPacketIndex(ctx, s.indexLog2, s.windowSec);
    recordingCallsOf(ctx);
  }

  onSip(o: SipObservation): void {
    noteSip(this.ctx, o.msg, o.call);
  }

  onRtp(o: RtpObservation): void {
    const n = this.index.observe(o);
    if (n === 0) return;
    const idx = this.index;
    const cur = idx.current;
    const sig = idx.tunnelSig[cur]!;
    const depth = idx.depthAt(cur);
    for (let k = 0; k < n; k++) {
      const i = idx.matches[k]!;
      const mSig = idx.tunnelSig[i]!;
      if (mSig === sig) continue;
      const mDepth = idx.depthAt(i);
      // Two tunnels at the same depth (e.g. two mirror sessions towards the sensor): no original to tell.
      if (mDepth === depth) continue;
      const copyIsCurrent = depth > mDepth;
      const copySlot = copyIsCurrent ? cur : i;
      const origSlot = copyIsCurrent ? i : cur;
      this.onTunnelMatch(o, copyIsCurrent, copySlot, origSlot);
    }
  }

  private onTunnelMatch(o: RtpObservation, copyIsCurrent: boolean, copySlot: number, origSlot: number): void {
    const idx = this.index;
    const copySig = idx.tunnelSig[copySlot]!;
    // Copies in a tunnel keep the inner 5-tuple: usually the same stream; after inner NAT, key by the original's stream.
    const orig = idx.stream[origSlot]!;
    const p = this.pairFor(orig, copySig, '');
    if (p.kind === '') {
      const origDepth = idx.depthAt(origSlot);
      if (origDepth === 0) {
        p.kind = idx.tunnelKind[copySlot]!;
        p.copyTo = idx.tunnelDst[copySlot]!;
        p.copyToIp = idx.tunnelDstIp[copySlot]!;
      } else if (copyIsCurrent) {
        // Nested: the copy's own layer is the first one below the original's stack.
        const t = o.describeTunnels();
        const layer = t[origDepth];
        if (layer) {
          p.kind = layer.kind;
          p.copyTo = layer.dst;
          p.copyToIp = hostOf(layer.dst);
        }
      }
    }
    if (copyIsCurrent && p.tunnels === null) p.tunnels = o.describeTunnels();
    if (o.seq === p.lastSeq) return;
    p.lastSeq = o.seq;
    const t0 = idx.tsAt(origSlot);
    const t1 = idx.tsAt(copySlot);
    this.count(p, Math.min(t0, t1), o.ts, (t1 - t0) * 1000, o.digest);
    p.confirmed++;
    p.ttlOriginal = idx.ttlAt(origSlot);
    p.ttlCopy = idx.ttlAt(copySlot);
    if (p.copyTo !== '') this.maybeReport(p, o.ts);
  }

  onEmbeddedRtp(e: EmbeddedRtpObservation): void {
    const s = e.matched;
    if (s === null) return;
    const p = this.pairFor(s, -1, e.outerDst);
    if (p.kind === '') {
      p.kind = e.wrapper;
      p.copyTo = e.outerDst;
      p.copyToIp = e.outerDstIp;
      p.wrapper = e.wrapper;
      p.offset = e.offset;
      p.embedded = e.embedded;
      p.outerSrc = e.outerSrc;
      p.outerProto = e.outerProto;
      p.tunnels = [{ kind: e.wrapper === 'unknown' ? `${e.outerProto}+${e.offset}` : e.wrapper, src: e.outerSrc, dst: e.outerDst, id: 0 }];
    }
    if (e.seq === p.lastSeq) return;
    p.lastSeq = e.seq;
    // Byte-for-byte confirmation: the same digest was seen on the original stream.
    const n = this.index.find(e.digest, e.ssrc, e.seq, e.rtpTs, e.ts, this.found);
    let origTs = e.ts;
    let confirmed = false;
    for (let k = 0; k < n; k++) {
      const i = this.found[k]!;
      if (this.index.stream[i] === s) {
        origTs = this.index.tsAt(i);
        p.ttlOriginal = this.index.ttlAt(i);
        confirmed = true;
        break;
      }
    }
    if (confirmed) p.confirmed++;
    this.count(p, Math.min(origTs, e.ts), e.ts, (e.ts - origTs) * 1000, e.digest);
    this.maybeReport(p, e.ts);
  }

  private pairFor(s: MediaStream, sig: number, outerDst: string): Pair {
    let list = this.pairs.get(s);
    if (list === undefined) {
      list = [];
      this.pairs.set(s, list);
    }
    for (let i = 0; i < list.length; i++) {
      const c = list[i]!;
      if (c.sig === sig && c.outerDst === outerDst) return c;
    }
    const p = new Pair(s, sig, outerDst);
    list.push(p);
    return p;
  }

  private count(p: Pair, firstTs: number, ts: number, offMs: number, digest: number): void {
    if (p.matched === 0) {
      p.firstTs = firstTs;
      p.firstMatchTs = ts;
    }
    p.matched++;
    p.lastTs = ts;
    p.offsetSumMs += offMs;
    if (Math.abs(offMs) > Math.abs(p.maxOffsetMs)) p.maxOffsetMs = offMs;
    if (p.digests.length < FIRST_DIGESTS) p.digests.push(hex32(digest));
  }

  private maybeReport(p: Pair, now: number): void {
    if (p.matched < this.s.minMatches || p.reported) return;
    if (p.silentGen === this.ctx.calls.expectations.generation) return;
    this.report(p, now);
  }

  private report(p: Pair, now: number): void {
    const ctx = this.ctx;
    const s = p.stream;
    const copyIp = p.copyToIp;
    if (copyIp === '' || isPagingDestination(ctx, copyIp)) {
      p.silentGen = ctx.calls.expectations.generation;
      return;
    }
    const declared = declaredReason(ctx, copyIp, p.copyTo);
    // The outer destination is itself a leg the call's SDP announced: not a third party (unless a recording session).
    if (declared === null && p.sig === -1 && announcedBy(ctx, p.copyTo) !== null) {
      p.silentGen = ctx.calls.expectations.generation;
      return;
    }
    const call = callOf(ctx, s);
    const isDeclared = declared !== null;
    const confidence =
      p.sig === -1 && p.confirmed === 0 ? this.s.embeddedUnconfirmedConfidence : exactConfidence(p.matched, this.s.minMatches);
    const evidence: Evidence = {
      originalSrc: s.src,
      originalDst: s.dst,
      copyDst: p.copyTo,
      encapsulation: p.kind,
      tunnels: p.tunnels ?? [{ kind: p.kind, src: '', dst: p.copyTo, id: 0 }],
      matchedPackets: p.matched,
      bytesConfirmed: p.confirmed,
      firstMatchTs: p.firstMatchTs,
      lastMatchTs: p.lastTs,
      offsetMs: round3(p.offsetSumMs / p.matched),
      maxOffsetMs: round3(p.maxOffsetMs),
      digests: p.digests.slice(),
      ttlOriginal: p.ttlOriginal,
      ttlCopy: p.ttlCopy,
      ssrc: hex32(s.ssrc),
    };
    if (p.sig === -1) {
      evidence.copySrc = p.outerSrc;
      evidence.wrapper = p.wrapper;
      evidence.embeddedAt = p.offset;
      evidence.embedded = p.embedded;
      evidence.outerProto = p.outerProto;
    }
    if (declared) evidence.declaredBy = declared;
    p.reported = true;
    p.reportedMatched = p.matched;
    const how = p.sig === -1 ? `inside ${p.wrapper === 'unknown' ? `an unknown wrapper (offset ${p.offset})` : p.wrapper} over ${p.outerProto.toUpperCase()}` : `inside ${p.kind}`;
    ctx.findings.report({
      type: 'duplicate_stream',
      party: p.copyTo,
      callId: call?.callId ?? null,
      ssrc: s.ssrc,
      severity: severityFor(s, isDeclared),
      confidence,
      firstSeen: p.firstTs,
      detectedAt: now,
      heuristic: { id: this.id, version: this.version },
      summary: `RTP stream ${s.src} -> ${s.dst} (SSRC 0x${hex32(s.ssrc)}) is copied ${how} to ${p.copyTo}${isDeclared ? ` (${declared})` : ''}: ${p.matched} matching packets.`,
      evidence,
      fields: { copyTo: p.copyTo, copyToIp: copyIp, mode: 'encapsulated', declared: isDeclared },
      partyIp: copyIp,
      partyPort: portOf(p.copyTo),
      allowlisted: isDeclared ? { rule: 'declared-recording', why: declared ?? 'declared recorder' } : null,
    });
  }

  private refresh(now: number, all: boolean): void {
    for (const list of this.pairs.values()) {
      for (const p of list) {
        if (p.reported && p.matched > p.reportedMatched) this.report(p, now);
        else if (all && !p.reported && p.matched >= this.s.minMatches && p.copyTo !== '' && p.silentGen < 0) this.report(p, now);
      }
    }
  }

  onTick(now: number): void {
    this.refresh(now, false);
  }

  onStreamEnded(s: MediaStream): void {
    const list = this.pairs.get(s);
    if (!list) return;
    for (const p of list) if (p.reported && p.matched > p.reportedMatched) this.report(p, s.lastTs);
    this.pairs.delete(s);
  }

  flush(now: number): void {
    this.refresh(now, true);
  }
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

export const dupEncapsulated: HeuristicModule<Settings> = {
  id: 'dup-encapsulated',
  version: 1,
  defaults: DUP_ENCAPSULATED_DEFAULTS,
  create: (ctx, settings) => new DupEncapsulatedDetector(ctx, settings),
};

export default dupEncapsulated;
