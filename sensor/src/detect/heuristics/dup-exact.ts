/**
 * dup-exact: a verbatim copy of a call's RTP/SRTP packets delivered somewhere
 * else (PROTOCOLS.md, "Where a copied packet hides": NAT/DNAT, iptables TEE,
 * nft `dup to`, tc mirred). The copy is byte-identical from the RTP header on
 * (RFC 3550 §5.1 header + payload; SRTP keeps the header in clear, RFC 3711
 * §3.1), so both sightings share the packet digest, SSRC, sequence number and
 * RTP timestamp. Two ways a copy differs from the original delivery:
 *
 *  (a) another destination endpoint (TEE/DUP + DNAT, a forking relay): the
 *      copy is its own stream, to an address no SDP of the call announced;
 *  (b) the very same IP packet (same IP ID, addresses, SSRC/seq) handed to a
 *      second next hop on the wire (nft dup / TEE without NAT, RFC-less but
 *      see nf_dup_ipv4): a different destination MAC that is neither the IP
 *      destination's station nor a hop that forwards the packet on.
 *
 * Silent by design (PROTOCOLS.md "Legitimate look-alikes"): SPAN doubles (the
 * same packet at a router's ingress and egress: the egress frame goes to the
 * MAC the destination itself sends from, and the ingress one to a MAC that
 * forwarded it — TTL one lower afterwards); RFC 7198 duplication (same
 * stream or same peer); SBC/B2BUA anchoring and TURN (both legs announced in
 * SDP); relay chains (the second leg starts where the first ends); multicast
 * paging; copies inside tunnels (dup-encapsulated's job). A copy to a
 * declared recorder (SIPREC RFC 7866, policy) is reported declared, info.
 *
 * Per packet: one Map lookup for the stream's learning state and one probe of
 * the shared PacketIndex; pair bookkeeping only when a packet matched.
 */
import type { Detector, DetectorContext, HeuristicModule } from '../detector.js';
import type { ArpObservation, RtpObservation, SipObservation } from '../observations.js';
import type { MediaStream } from '../../media/media-stream.js';
import type { Evidence } from '../../events/types.js';
import { PacketIndex, formatMac, hex32, hostOf, sharedPacketIndex } from '../packet-index.js';
import {
  announcedBy,
  callOf,
  declaredReason,
  exactConfidence,
  isPagingDestination,
  noteSip,
  pushBounded,
  severityFor,
} from './dup-common.js';

export const DUP_EXACT_DEFAULTS = {
  enabled: true,
  /** Matched packets before a copy is reported (3 at 50 pps = 60 ms). */
  minMatches: 3,
  /** How far apart (capture seconds) an original and its copy may be. */
  windowSec: 2,
  /**
   * Watch a destination copy this long (after the first match) before judging it, so that a
   * gateway or anchor leg can show its reverse media first (still well inside the 1 s budget).
   */
  dstSettleSec: 0.3,
  /** A next-hop (L2) copy is the same IP packet: both sightings within this many seconds. */
  l2WindowSec: 0.05,
  /** Wait this long after the first L2 match for the copy's MAC to resolve to an IP before reporting by MAC. */
  l2ResolveWaitSec: 0.5,
  /** log2 of the packet index size shared with dup-encapsulated (17 = 131072 sightings, ~12 MB). */
  indexLog2: 17,
};

type Settings = typeof DUP_EXACT_DEFAULTS;

const FIRST_DIGESTS = 4;
/** Typical initial TTLs / hop limits: a sighting with one of them was sent by the host that owns its source IP. */
function isInitialTtl(ttl: number): boolean {
  return ttl === 64 || ttl === 128 || ttl === 255 || ttl === 32;
}

/** Per-stream facts for the L2 judgement (made on the first next-hop candidate of a stream). */
class StreamLearn {
  constructor(
    readonly srcIp: string,
    readonly dstIp: string,
  ) {}
}

const enum PairKind {
  /** Same packet to two destination endpoints. */
  Dst = 0,
  /** Same IP packet to two next-hop MACs. */
  L2 = 1,
}

class Pair {
  matched = 0;
  lastSeq = -1;
  firstTs = 0;
  firstMatchTs = 0;
  lastTs = 0;
  offsetSumMs = 0;
  maxOffsetMs = 0;
  readonly digests: string[] = [];
  ttlOriginal = 0;
  ttlCopy = 0;
  copySrcMac = -1;
  reported = false;
  reportedMatched = 0;
  /** Dedupe key of the finding, fixed at the first report. */
  party: string | undefined = undefined;
  /** Judged silent (signalled legs, relay chain, paging...) at this expectation generation. */
  silentGen = -1;
  silentWhy = '';
  /** Dst: which of the two is the copy, once judged. */
  copy: MediaStream | null = null;
  constructor(
    readonly kind: PairKind,
    /** Dst: the older stream; L2: the stream. */
    readonly a: MediaStream,
    /** Dst: the newer stream; L2: null. */
    readonly b: MediaStream | null,
    /** L2: destination MAC of the copy. */
    readonly mac: number,
  ) {}
}

export class DupExactDetector implements Detector {
  readonly id = 'dup-exact';
  readonly version = 1;
  readonly index: PacketIndex;
  private readonly learn = new Map<MediaStream, StreamLearn>();
  /**
   * 32-bit keys of (source MAC, source IP, initial-TTL bit) combinations already learnt: a
   * direct-mapped table of 65536 entries (256 KiB, cache-resident), so a known combination costs
   * one probe; a new one (or an evicted one) takes the slow path once.
   */
  private readonly seenSources = new Int32Array(65536);
  /** Pairs hang off the older stream (Dst) or the stream itself (L2). */
  private readonly pairs = new Map<MediaStream, Pair[]>();
  /** IP -> MACs seen sending from it (the station, or the router on the path back). */
  private readonly macsByIp = new Map<string, Set<number>>();
  /** MAC -> the one IP it originates (initial TTL), or null when it sends for several (a router). */
  private readonly hostIpByMac = new Map<number, string | null>();
  /** MACs seen receiving a packet that then re-appeared with a lower TTL: forwarders. */
  private readonly forwarders = new Set<number>();
  /** Hosts seen relaying a stream on (one leg ends where the next starts, the middle unannounced). */
  private readonly relayHosts = new Set<string>();

  constructor(
    private readonly ctx: DetectorContext,
    private readonly s: Settings,
  ) {
    this.index = sharedPacketIndex(ctx, s.indexLog2, s.windowSec);
  }

  onSip(o: SipObservation): void {
    noteSip(this.ctx, o.msg, o.call);
  }

  /**
   * MAC -> IP knowledge from outside the RTP path (ARP, RFC 826: sender
   * hardware and protocol address). Not wired by the sensor yet: see
   * docs/heuristics/dup-exact.md.
   */
  onArp(o: ArpObservation): void {
    this.learnMacIp(o.mac, o.ip);
  }

  learnMacIp(mac: number, ip: string): void {
    if (mac < 0) return;
    const known = this.hostIpByMac.get(mac);
    if (known === undefined) this.hostIpByMac.set(mac, ip);
    else if (known !== ip && known !== null) this.hostIpByMac.set(mac, null);
    let set = this.macsByIp.get(ip);
    if (!set) this.macsByIp.set(ip, (set = new Set()));
    set.add(mac);
  }

  onRtp(o: RtpObservation): void {
    const s = o.stream;
    const mac = o.srcMac;
    if (mac >= 0) this.noteSource(s, mac, o.ttl);

    const n = this.index.observe(o);
    if (n !== 0) this.onMatches(o, n);
  }

  /** Kept out of onRtp so that the per-packet path stays small enough to inline. */
  private onMatches(o: RtpObservation, n: number): void {
    const s = o.stream;
    const idx = this.index;
    const cur = idx.current;
    const sig = idx.tunnelSig[cur]!;
    for (let k = 0; k < n; k++) {
      const i = idx.matches[k]!;
      // A copy inside a tunnel is dup-encapsulated's finding.
      if (idx.tunnelSig[i] !== sig) continue;
      const other = idx.stream[i]!;
      if (other !== s) {
        // Same destination, other source: a relay or a path change, not a copy (unexpected-relay's job).
        if (other.dst !== s.dst) this.onDstMatch(o, other, i);
      } else if (idx.ipIdAt(i) === (o.ipId & 0xffff) && idx.dstMacAt(i) !== o.dstMac && o.dstMac >= 0 && idx.dstMacAt(i) >= 0) {
        if (Math.abs(o.ts - idx.tsAt(i)) <= this.s.l2WindowSec) this.onL2Match(o, this.learnOf(s), i);
      }
    }
  }

  /**
   * Per packet: has this (source MAC, source IP, initial TTL) been seen? One
   * probe of a small direct-mapped table (64 KiB, stays in cache); only a new
   * combination takes the slow path that formats the IP and updates the maps.
   */
  private noteSource(s: MediaStream, mac: number, ttl: number): void {
    const f = s.flow;
    if (f.id !== s.flowId) return;
    const w = s.dir === 0 ? f.aAddr : f.bAddr;
    let k = Math.imul(w[0]! ^ Math.imul(w[1]!, 0x2c1b3c6d) ^ Math.imul(w[2]!, 0x297a2d39) ^ Math.imul(w[3]!, 0x1b873593), 0x9e3779b1);
    k = Math.imul(k ^ (mac % 0x100000000), 0x85ebca6b) ^ Math.floor(mac / 0x100000000);
    k = (Math.imul(k ^ (k >>> 13), 0xc2b2ae35) ^ (isInitialTtl(ttl) ? 0x5bd1e995 : 0)) | 1;
    const slot = k >>> 16;
    if (this.seenSources[slot] === k) return;
    this.seenSources[slot] = k;
    this.learnSource(hostOf(s.src), mac, ttl);
  }

  private learnOf(s: MediaStream): StreamLearn {
    let l = this.learn.get(s);
    if (l === undefined) {
      l = new StreamLearn(hostOf(s.src), hostOf(s.dst));
      this.learn.set(s, l);
    }
    return l;
  }

  private learnSource(srcIp: string, mac: number, ttl: number): void {
    let set = this.macsByIp.get(srcIp);
    if (!set) {
      if (this.macsByIp.size >= 1 << 18) this.macsByIp.clear();
      this.macsByIp.set(srcIp, (set = new Set()));
    }
    if (set.size < 16) set.add(mac);
    if (isInitialTtl(ttl)) {
      const known = this.hostIpByMac.get(mac);
      if (known === undefined) {
        if (this.hostIpByMac.size >= 1 << 18) this.hostIpByMac.clear();
        this.hostIpByMac.set(mac, srcIp);
      } else if (known !== null && known !== srcIp) this.hostIpByMac.set(mac, null);
    }
  }

  // ------------------------------------------------------------ (a) other destination

  private onDstMatch(o: RtpObservation, other: MediaStream, slot: number): void {
    const s = o.stream;
    const older = other.n < s.n ? other : s;
    const newer = older === s ? other : s;
    const list = this.pairsOf(older);
    let p: Pair | null = null;
    for (let i = 0; i < list.length; i++) {
      const c = list[i]!;
      if (c.kind === PairKind.Dst && c.b === newer) {
        p = c;
        break;
      }
    }
    if (p === null) {
      p = new Pair(PairKind.Dst, older, newer, -1);
      list.push(p);
      this.noteChain(older, newer);
    }
    if (o.seq === p.lastSeq) return;
    p.lastSeq = o.seq;
    const idx = this.index;
    const otherTs = idx.tsAt(slot);
    // Offset of the newer stream's sighting relative to the older one's.
    const offMs = (s === newer ? o.ts - otherTs : otherTs - o.ts) * 1000;
    this.count(p, Math.min(o.ts, otherTs), o.ts, offMs, o.digest);
    if (s === newer) {
      p.ttlCopy = o.ttl;
      p.ttlOriginal = idx.ttlAt(slot);
    } else {
      p.ttlCopy = idx.ttlAt(slot);
      p.ttlOriginal = o.ttl;
    }
    this.maybeReport(p, o.ts);
  }

  /** Learn relays early (first match), so that a redirected original is not taken for a copy. */
  private noteChain(a: MediaStream, b: MediaStream): void {
    const aSrc = hostOf(a.src);
    const aDst = hostOf(a.dst);
    const bSrc = hostOf(b.src);
    const bDst = hostOf(b.dst);
    if (this.relayHosts.size >= 65536) this.relayHosts.clear();
    if (aDst === bSrc && announcedBy(this.ctx, a.dst) === null) this.relayHosts.add(aDst);
    else if (bDst === aSrc && announcedBy(this.ctx, b.dst) === null) this.relayHosts.add(bDst);
  }

  // ------------------------------------------------------------ (b) same IP packet, other next hop

  private onL2Match(o: RtpObservation, l: StreamLearn, slot: number): void {
    const idx = this.index;
    const sTtl = idx.ttlAt(slot);
    const sMac = idx.dstMacAt(slot);
    const nMac = o.dstMac;
    let copyMac: number;
    let copyTtl: number;
    let copySrcMac: number;
    let origMac: number;
    let origTtl: number;
    if (sTtl > o.ttl) {
      // The earlier sighting's receiver forwarded the packet (TTL went down): it is on the path.
      this.addForwarder(sMac);
      copyMac = nMac;
      copyTtl = o.ttl;
      copySrcMac = o.srcMac;
      origMac = sMac;
      origTtl = sTtl;
    } else if (o.ttl > sTtl) {
      this.addForwarder(nMac);
      copyMac = sMac;
      copyTtl = sTtl;
      copySrcMac = idx.srcMacAt(slot);
      origMac = nMac;
      origTtl = o.ttl;
    } else if (this.isRightful(sMac, l.dstIp) && !this.isRightful(nMac, l.dstIp)) {
      copyMac = nMac;
      copyTtl = o.ttl;
      copySrcMac = o.srcMac;
      origMac = sMac;
      origTtl = sTtl;
    } else if (this.isRightful(nMac, l.dstIp) && !this.isRightful(sMac, l.dstIp)) {
      copyMac = sMac;
      copyTtl = sTtl;
      copySrcMac = idx.srcMacAt(slot);
      origMac = nMac;
      origTtl = o.ttl;
    } else return;
    // Where the destination lives must be known (it sent something), and the
    // candidate must go elsewhere: otherwise this is a SPAN double.
    const home = this.macsByIp.get(l.dstIp);
    if (home === undefined || home.size === 0) return;
    if (this.isRightful(copyMac, l.dstIp)) return;
    if (origTtl <= copyTtl && !this.isRightful(origMac, l.dstIp)) return;

    const s = o.stream;
    const list = this.pairsOf(s);
    let p: Pair | null = null;
    for (let i = 0; i < list.length; i++) {
      const c = list[i]!;
      if (c.kind === PairKind.L2 && c.mac === copyMac) {
        p = c;
        break;
      }
    }
    if (p === null) {
      p = new Pair(PairKind.L2, s, null, copyMac);
      list.push(p);
    }
    if (o.seq === p.lastSeq) return;
    p.lastSeq = o.seq;
    const otherTs = idx.tsAt(slot);
    const copyIsCurrent = copyMac === nMac;
    const offMs = (copyIsCurrent ? o.ts - otherTs : otherTs - o.ts) * 1000;
    this.count(p, Math.min(o.ts, otherTs), o.ts, offMs, o.digest);
    p.ttlCopy = copyTtl;
    p.ttlOriginal = origTtl;
    p.copySrcMac = copySrcMac;
    this.maybeReport(p, o.ts);
  }

  private addForwarder(mac: number): void {
    if (this.forwarders.size >= 1 << 16) this.forwarders.clear();
    this.forwarders.add(mac);
  }

  /** A MAC that rightly receives packets for `ip`: the station itself (or the hop it answers through), or a forwarder. */
  private isRightful(mac: number, ip: string): boolean {
    if (this.forwarders.has(mac)) return true;
    const set = this.macsByIp.get(ip);
    return set !== undefined && set.has(mac);
  }

  // ------------------------------------------------------------ bookkeeping and reporting

  private pairsOf(s: MediaStream): Pair[] {
    let list = this.pairs.get(s);
    if (list === undefined) {
      list = [];
      this.pairs.set(s, list);
    }
    return list;
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
    if (p.digests.length < FIRST_DIGESTS) pushBounded(p.digests, hex32(digest), FIRST_DIGESTS);
  }

  private maybeReport(p: Pair, now: number): void {
    if (p.matched < this.s.minMatches || p.reported) return;
    if (p.silentGen === this.ctx.calls.expectations.generation) return;
    if (p.kind === PairKind.Dst && now - p.firstMatchTs < this.s.dstSettleSec) return;
    this.judgeAndReport(p, now);
  }

  private judgeAndReport(p: Pair, now: number): void {
    if (p.kind === PairKind.Dst) this.reportDst(p, now);
    else this.reportL2(p, now, false);
  }

  private silent(p: Pair, why: string): void {
    p.silentGen = this.ctx.calls.expectations.generation;
    p.silentWhy = why;
  }

  private reportDst(p: Pair, now: number): void {
    const ctx = this.ctx;
    const a = p.a;
    const b = p.b!;
    const aSrc = hostOf(a.src);
    const aDst = hostOf(a.dst);
    const bSrc = hostOf(b.src);
    const bDst = hostOf(b.dst);
    // RFC 7198: a duplicate to the same peer (another port of the same host).
    if (aDst === bDst) return this.silent(p, 'same peer');
    let original: MediaStream;
    let copy: MediaStream;
    let declared: string | null = null;
    const declB = declaredReason(ctx, bDst, b.dst);
    const declA = declB === null ? declaredReason(ctx, aDst, a.dst) : null;
    if (declB !== null) {
      original = a;
      copy = b;
      declared = declB;
    } else if (declA !== null) {
      original = b;
      copy = a;
      declared = declA;
    } else {
      const annA = announcedBy(ctx, a.dst) !== null;
      const annB = announcedBy(ctx, b.dst) !== null;
      // Both legs announced in SDP: anchoring, a B2BUA, TURN, a group:DUP m-line — signalled, not covert.
      if (annA && annB) return this.silent(p, 'both destinations announced in SDP');
      if (aDst === bSrc || bDst === aSrc) {
        // One leg starts where the other ends. If the middle node is a
        // signalled endpoint, it forwards a copy of what it receives (a phone
        // forking media); if it is not, it is a relay on the path (a chain,
        // unexpected-relay's business), and not a copy.
        const firstAnnounced = aDst === bSrc ? annA : annB;
        const secondAnnounced = aDst === bSrc ? annB : annA;
        if (!firstAnnounced || secondAnnounced) {
          this.relayHosts.add(aDst === bSrc ? aDst : bDst);
          return this.silent(p, 'relay chain');
        }
        original = aDst === bSrc ? a : b;
        copy = original === a ? b : a;
      } else if (annA || (!annB && (a.call !== null || b.call === null))) {
        original = a;
        copy = b;
      } else {
        original = b;
        copy = a;
      }
      // The copy's destination relays this media on (seen as a chain): a redirect, not a copy.
      if (this.relayHosts.has(hostOf(copy.dst))) return this.silent(p, 'destination relays the stream on');
      // TURN (RFC 8656) legs: a relay fans media out between its client and peer legs, announced as ICE candidates.
      if (a.transport >= 2 || b.transport >= 2) return this.silent(p, 'TURN relay leg');
      // A media leg: the alleged copy target sends RTP back on the same 5-tuple. A tap or
      // recorder never does; a gateway or anchor signalled by something we do not parse
      // (MGCP, H.323, an rtpengine ng command) does — unexpected-relay territory, not a copy.
      if (hasReverseMedia(copy)) return this.silent(p, 'bidirectional media leg');
    }
    const copyIp = hostOf(copy.dst);
    if (isPagingDestination(ctx, copyIp)) return this.silent(p, 'multicast paging');
    const copyPort = Number(copy.dst.slice(copy.dst.lastIndexOf(':') + 1));
    p.copy = copy;
    const call = callOf(ctx, original);
    const isDeclared = declared !== null;
    const copyIsNewer = copy === b;
    const evidence: Evidence = {
      originalSrc: original.src,
      originalDst: original.dst,
      copySrc: copy.src,
      copyDst: copy.dst,
      delivery: 'destination',
      tunnels: [],
      matchedPackets: p.matched,
      firstMatchTs: p.firstMatchTs,
      lastMatchTs: p.lastTs,
      offsetMs: round3((copyIsNewer ? 1 : -1) * (p.offsetSumMs / p.matched)),
      maxOffsetMs: round3((copyIsNewer ? 1 : -1) * p.maxOffsetMs),
      digests: p.digests.slice(),
      ttlOriginal: copyIsNewer ? p.ttlOriginal : p.ttlCopy,
      ttlCopy: copyIsNewer ? p.ttlCopy : p.ttlOriginal,
      ssrc: hex32(original.ssrc),
    };
    if (declared) evidence.declaredBy = declared;
    this.emit(p, now, {
      callId: call?.callId ?? null,
      original,
      copyTo: copy.dst,
      copyToIp: copyIp,
      copyPort,
      declared: isDeclared,
      declaredWhy: declared,
      evidence,
      summary: `RTP stream ${original.src} -> ${original.dst} (SSRC 0x${hex32(original.ssrc)}) is also sent, byte for byte, to ${copy.dst}${isDeclared ? ` (${declared})` : ', which no SDP of the call announced'}: ${p.matched} identical packets.`,
    });
  }

  private reportL2(p: Pair, now: number, final: boolean): void {
    const ctx = this.ctx;
    const s = p.a;
    const ip = this.hostIpByMac.get(p.mac) ?? null;
    if (ip === null && !final && now - p.firstMatchTs < this.s.l2ResolveWaitSec) return; // wait a little for the MAC to resolve
    const mac = formatMac(p.mac);
    const dstPort = Number(s.dst.slice(s.dst.lastIndexOf(':') + 1));
    const copyTo = ip !== null ? `${ip}:${dstPort}` : mac;
    let declared: string | null = null;
    if (ip !== null) {
      declared = declaredReason(ctx, ip, null);
      if (isPagingDestination(ctx, ip)) return this.silent(p, 'multicast paging');
    }
    const call = callOf(ctx, s);
    const evidence: Evidence = {
      originalSrc: s.src,
      originalDst: s.dst,
      copySrc: s.src,
      copyDst: s.dst,
      delivery: 'next-hop',
      copyDstMac: mac,
      copySrcMac: formatMac(p.copySrcMac),
      copyNextHopIp: ip,
      tunnels: [],
      matchedPackets: p.matched,
      firstMatchTs: p.firstMatchTs,
      lastMatchTs: p.lastTs,
      offsetMs: round3(p.offsetSumMs / p.matched),
      maxOffsetMs: round3(p.maxOffsetMs),
      digests: p.digests.slice(),
      ttlOriginal: p.ttlOriginal,
      ttlCopy: p.ttlCopy,
      ssrc: hex32(s.ssrc),
    };
    if (declared) evidence.declaredBy = declared;
    this.emit(p, now, {
      callId: call?.callId ?? null,
      original: s,
      copyTo,
      copyToIp: ip ?? '',
      copyPort: ip !== null ? dstPort : null,
      declared: declared !== null,
      declaredWhy: declared,
      evidence,
      summary: `The same IP packets of RTP stream ${s.src} -> ${s.dst} (SSRC 0x${hex32(s.ssrc)}) are also handed to next hop ${mac}${ip ? ` (${ip})` : ''}, which is not on the path to ${hostOf(s.dst)}: ${p.matched} identical packets (nft dup / TEE style copy).`,
    });
  }

  private emit(
    p: Pair,
    now: number,
    r: {
      callId: string | null;
      original: MediaStream;
      copyTo: string;
      copyToIp: string;
      copyPort: number | null;
      declared: boolean;
      declaredWhy: string | null;
      evidence: Evidence;
      summary: string;
    },
  ): void {
    p.reported = true;
    p.reportedMatched = p.matched;
    // The finding's identity is fixed at its first report: an L2 copy first
    // named by MAC keeps that key when ARP later names its IP, so the finding
    // is updated (finding_updated with the new copyTo), not repeated.
    p.party ??= r.copyTo;
    this.ctx.findings.report({
      type: 'duplicate_stream',
      party: p.party,
      callId: r.callId,
      ssrc: r.original.ssrc,
      severity: severityFor(r.original, r.declared),
      confidence: exactConfidence(p.matched, this.s.minMatches),
      firstSeen: p.firstTs,
      detectedAt: now,
      heuristic: { id: this.id, version: this.version },
      summary: r.summary,
      evidence: r.evidence,
      fields: { copyTo: r.copyTo, copyToIp: r.copyToIp, mode: 'exact', declared: r.declared },
      partyIp: r.copyToIp || null,
      partyPort: r.copyPort,
      allowlisted: r.declared ? { rule: 'declared-recording', why: r.declaredWhy ?? 'declared recorder' } : null,
    });
  }

  /** Re-report pairs with new evidence (the finding table turns it into finding_updated); report L2 copies whose MAC wait ran out. */
  onTick(now: number): void {
    for (const list of this.pairs.values()) {
      for (const p of list) {
        if (!p.reported) {
          if (p.matched < this.s.minMatches) continue;
          if (p.kind === PairKind.L2) {
            if (p.silentGen < 0) this.reportL2(p, now, now - p.firstMatchTs >= this.s.l2ResolveWaitSec);
          } else this.maybeReport(p, now);
          continue;
        }
        if (p.matched > p.reportedMatched) {
          p.reported = false;
          this.judgeAndReport(p, now);
          p.reported = true;
        }
      }
    }
  }

  onStreamEnded(s: MediaStream): void {
    this.learn.delete(s);
    const list = this.pairs.get(s);
    if (list) {
      for (const p of list) if (p.reported && p.matched > p.reportedMatched) this.judgeAndReport(p, s.lastTs);
      this.pairs.delete(s);
    }
  }

  flush(now: number): void {
    for (const list of this.pairs.values()) {
      for (const p of list) {
        if (p.matched < this.s.minMatches) continue;
        if (!p.reported && p.kind === PairKind.L2 && p.silentGen < 0) this.reportL2(p, now, true);
        else if (!p.reported && p.kind === PairKind.Dst && p.silentGen !== this.ctx.calls.expectations.generation) this.reportDst(p, now);
        else if (p.reported && p.matched > p.reportedMatched) {
          p.reported = false;
          this.judgeAndReport(p, now);
          p.reported = true;
        }
      }
    }
  }
}

/** Does the flow of `s` also carry RTP in the opposite direction? */
function hasReverseMedia(s: MediaStream): boolean {
  const f = s.flow;
  if (f.id !== s.flowId) return false;
  const list = f.streams as MediaStream[];
  for (let i = 0; i < list.length; i++) if (list[i]!.dir !== s.dir && list[i]!.packets > 0) return true;
  return false;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

export const dupExact: HeuristicModule<Settings> = {
  id: 'dup-exact',
  version: 1,
  defaults: DUP_EXACT_DEFAULTS,
  create: (ctx, settings) => new DupExactDetector(ctx, settings),
};

export default dupExact;
