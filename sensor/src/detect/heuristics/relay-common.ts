/**
 * Shared knowledge for the unexpected_relay heuristics (relay-unsignaled,
 * relay-path-change, relay-dtls-fingerprint, relay-zrtp-hash,
 * relay-crypto-stripped): what every SDP of a call negotiated (RFC 3264 §5:
 * an SDP says where its author RECEIVES; RFC 8839 ICE candidates with their
 * raddr/rport; RFC 8122 a=fingerprint; RFC 6189 §8.1 a=zrtp-hash), which IPs
 * signalled the call, and when the call was last renegotiated (re-INVITE,
 * UPDATE RFC 3311, REFER RFC 3515).
 *
 * Why one index: all five heuristics ask the same question — "did any SDP of
 * this call announce this endpoint, and who announced it?" — and the engine
 * hands the same SdpObservation/SipObservation object to every detector in a
 * row, so the index is built once per DetectorContext and fed idempotently
 * (identity check on the observation). Nothing here runs per packet.
 */
import type { Call } from '../../calls/call.js';
import { endpointKey } from '../../calls/sdp-media.js';
import { formatAddr, parseAddr } from '../../decode/address.js';
import { expectedEndpoints, isMulticastAddress } from '../../app/sdp/sdp-parser.js';
import type { SessionDescription } from '../../app/sdp/sdp-types.js';
import type { DetectorContext } from '../detector.js';
import type { FindingReport } from '../finding-table.js';
import type { SdpObservation, SipObservation } from '../observations.js';

export type Party = 'caller' | 'callee';

/** A fingerprint or zrtp-hash one party announced, and where that party said it receives. */
export interface AnnouncedKeying {
  party: Party;
  /** Exact "ip:port" endpoints of the m= line (connection, RTCP, candidates). */
  endpoints: Set<string>;
  /** Addresses of those endpoints. */
  ips: Set<string>;
  hashFunc: string;
  /** Normalised: upper-case hex without separators. */
  value: string;
  /** zrtp-hash version (e.g. "1.10"); '' for fingerprints. */
  version: string;
  ts: number;
}

/** One SDP as a leg saw it, for crypto_stripped: SIP leg, media kinds and whether each was secure. */
export interface LegSdp {
  ts: number;
  role: 'offer' | 'answer';
  party: Party;
  /** SIP packet endpoints' IPs (the signalling leg). */
  srcIp: string;
  dstIp: string;
  method: string;
  /** media kind -> secure (SAVP profile, a=crypto, DTLS fingerprint with a TLS proto, or zrtp-hash). */
  media: Map<string, { secure: boolean; proto: string; endpoint: string }>;
}

export class CallMediaKnowledge {
  /** Every address any SDP of the call named: c=, a=rtcp address, candidates and their raddr. */
  readonly ips = new Set<string>();
  /** Exact "ip:port" endpoints any SDP of the call named, and the party that announced each. */
  readonly endpoints = new Map<string, Party>();
  /** Addresses each party announced. */
  readonly partyIps: Record<Party, Set<string>> = { caller: new Set(), callee: new Set() };
  /** IPs that sent SIP messages of the call (a NATed party signals from the address its media uses). */
  readonly sipSenders = new Set<string>();
  /** Capture times of renegotiation: SDPs of a confirmed call, re-INVITE / UPDATE / REFER requests (bounded, newest last). */
  readonly signalTimes: number[] = [];
  readonly fingerprints: AnnouncedKeying[] = [];
  readonly zrtpHashes: AnnouncedKeying[] = [];
  readonly legs: LegSdp[] = [];
  sdpCount = 0;
  lastSdpTs = -Infinity;

  /** Was the call renegotiated (SDP, re-INVITE, UPDATE, REFER) in [from, to]? Returns that time or null. */
  signalBetween(from: number, to: number): number | null {
    for (let i = this.signalTimes.length - 1; i >= 0; i--) {
      const t = this.signalTimes[i]!;
      if (t >= from && t <= to) return t;
      if (t < from) break;
    }
    return null;
  }

  /** Some SDP of the call named this address, or it signalled the call. */
  knowsIp(ip: string): boolean {
    return this.ips.has(ip) || this.sipSenders.has(ip);
  }
}

const MAX_SIGNAL_TIMES = 64;
const MAX_ENDPOINTS = 256;
const MAX_KEYING = 32;
const MAX_LEGS = 32;

/** Per DetectorContext, so that the five relay heuristics share one index. */
const INDEXES = new WeakMap<DetectorContext, RelayCallIndex>();

export function relayIndexFor(ctx: DetectorContext): RelayCallIndex {
  let ix = INDEXES.get(ctx);
  if (ix === undefined) {
    ix = new RelayCallIndex();
    INDEXES.set(ctx, ix);
  }
  return ix;
}

export class RelayCallIndex {
  private readonly byCall = new WeakMap<Call, CallMediaKnowledge>();
  private lastSdp: SdpObservation | null = null;
  private lastSip: SipObservation | null = null;

  get(call: Call): CallMediaKnowledge | undefined {
    return this.byCall.get(call);
  }

  private knowledge(call: Call): CallMediaKnowledge {
    let k = this.byCall.get(call);
    if (k === undefined) {
      k = new CallMediaKnowledge();
      this.byCall.set(call, k);
    }
    return k;
  }

  onSip(o: SipObservation): void {
    if (o === this.lastSip || o.call === null) return;
    this.lastSip = o;
    const k = this.knowledge(o.call);
    if (k.sipSenders.size < MAX_ENDPOINTS) k.sipSenders.add(canonicalIp(o.srcIp));
    const m = o.msg;
    if (m.kind === 'request' && !o.retransmission) {
      // A re-INVITE (To-tag present), UPDATE or REFER may move media legitimately.
      const reinvite = m.method === 'INVITE' && (m.to?.tag ?? '') !== '';
      if (reinvite || m.method === 'UPDATE' || m.method === 'REFER') pushSignal(k, o.ts);
    }
  }

  onSdp(o: SdpObservation): void {
    if (o === this.lastSdp) return;
    this.lastSdp = o;
    const k = this.knowledge(o.call);
    k.sdpCount++;
    k.lastSdpTs = o.ts;
    // Renegotiation only: the SDP of the initial offer/answer explains nothing
    // about a path that changes later (the 2xx's SDP is seen before the call
    // table marks the call confirmed).
    if (o.call.state === 'confirmed') pushSignal(k, o.ts);
    const sdp = o.sdp;
    const perMedia = mediaEndpoints(sdp);
    const leg: LegSdp = {
      ts: o.ts,
      role: o.role,
      party: o.party,
      srcIp: canonicalIp(ipOf(o.src)),
      dstIp: canonicalIp(ipOf(o.dst)),
      method: o.method,
      media: new Map(),
    };
    for (let i = 0; i < sdp.media.length; i++) {
      const m = sdp.media[i]!;
      const eps = perMedia[i]!;
      for (const ip of eps.ips) {
        k.ips.add(ip);
        k.partyIps[o.party].add(ip);
      }
      for (const ep of eps.endpoints) if (k.endpoints.size < MAX_ENDPOINTS) k.endpoints.set(ep, o.party);
      if (m.port !== 0 && !leg.media.has(m.media)) {
        leg.media.set(m.media, { secure: isSecureMedia(m.proto, m.crypto.length, m.fingerprints.length, m.zrtpHash !== undefined), proto: m.proto, endpoint: eps.primary });
      }
      for (const f of m.fingerprints) {
        if (k.fingerprints.length >= MAX_KEYING) k.fingerprints.shift();
        k.fingerprints.push({ party: o.party, endpoints: eps.endpoints, ips: eps.ips, hashFunc: f.hashFunc.toLowerCase(), value: normaliseHex(f.value), version: '', ts: o.ts });
      }
      const z = m.zrtpHash ?? sdp.zrtpHash;
      if (z !== undefined) {
        if (k.zrtpHashes.length >= MAX_KEYING) k.zrtpHashes.shift();
        k.zrtpHashes.push({ party: o.party, endpoints: eps.endpoints, ips: eps.ips, hashFunc: 'sha-256', value: normaliseHex(z.hash), version: z.version, ts: o.ts });
      }
    }
    if (leg.media.size > 0) {
      if (k.legs.length >= MAX_LEGS) k.legs.shift();
      k.legs.push(leg);
    }
  }
}

function pushSignal(k: CallMediaKnowledge, ts: number): void {
  if (k.signalTimes.length >= MAX_SIGNAL_TIMES) k.signalTimes.shift();
  k.signalTimes.push(ts);
}

/** Endpoints of each m= line: connection (RTP and RTCP), candidates and their raddr/rport. */
function mediaEndpoints(sdp: SessionDescription): Array<{ endpoints: Set<string>; ips: Set<string>; primary: string }> {
  const out = sdp.media.map(() => ({ endpoints: new Set<string>(), ips: new Set<string>(), primary: '' }));
  for (const e of expectedEndpoints(sdp)) {
    const slot = out[e.mediaIndex]!;
    addEndpoint(slot, e.address, e.port);
    if (e.source === 'connection') {
      if (slot.primary === '') slot.primary = endpointKey(e.address, e.port) ?? '';
      if (e.rtcpPort !== undefined) addEndpoint(slot, e.rtcpAddress ?? e.address, e.rtcpPort);
    }
  }
  // RFC 8839 §5.1: raddr/rport name the base a srflx/relay candidate was derived
  // from; a mirror inside the NAT or next to the TURN client sees that address.
  for (let i = 0; i < sdp.media.length; i++) {
    for (const c of sdp.media[i]!.candidates) if (c.raddr) addEndpoint(out[i]!, c.raddr, c.rport ?? 0);
  }
  return out;
}

function addEndpoint(slot: { endpoints: Set<string>; ips: Set<string> }, address: string, port: number): void {
  const ip = canonicalIp(address);
  if (ip === '' || ip === '0.0.0.0' || ip === '::') return;
  slot.ips.add(ip);
  const key = endpointKey(address, port);
  if (key) slot.endpoints.add(key);
}

export function isSecureMedia(proto: string, cryptoCount: number, fingerprintCount: number, zrtp: boolean): boolean {
  return /SAVP/i.test(proto) || cryptoCount > 0 || (fingerprintCount > 0 && /TLS/i.test(proto)) || zrtp;
}

const scratch = new Uint32Array(4);

/** RFC 5952 text of an address (so that SDP text and packet endpoints compare equal); '' when unparsable. */
export function canonicalIp(text: string): string {
  const v = parseAddr(text.replace(/^\[|\]$/g, ''), scratch);
  return v === 0 ? '' : formatAddr(v, scratch);
}

/** The address of an "ip:port" endpoint as the stream table formats it (IPv6 unbracketed). */
export function ipOf(endpoint: string): string {
  const i = endpoint.lastIndexOf(':');
  const host = i < 0 ? endpoint : endpoint.slice(0, i);
  return host.replace(/^\[|\]$/g, '');
}

export function portOf(endpoint: string): number {
  const i = endpoint.lastIndexOf(':');
  return i < 0 ? 0 : Number(endpoint.slice(i + 1)) || 0;
}

export function normaliseHex(s: string): string {
  return s.replace(/[^0-9a-fA-F]/g, '').toUpperCase();
}

/** RFC 1918, RFC 6598 shared (CGNAT), loopback, link-local, RFC 4193 ULA and fe80::/10. */
export function isPrivateIp(ip: string): boolean {
  const v = parseAddr(ip, scratch);
  if (v === 4) {
    const a = scratch[0]! >>> 24;
    const b = (scratch[0]! >>> 16) & 0xff;
    return a === 10 || a === 127 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127) || (a === 169 && b === 254);
  }
  if (v === 6) {
    const top = scratch[0]! >>> 16;
    return (top & 0xfe00) === 0xfc00 || (top & 0xffc0) === 0xfe80 || (scratch[0] === 0 && scratch[1] === 0 && scratch[2] === 0 && scratch[3] === 1);
  }
  return false;
}

export function isMulticastIp(ip: string): boolean {
  return isMulticastAddress(ip);
}

export function hex32(n: number): string {
  return `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
}

export function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** Builds the unexpected_relay FindingReport every relay heuristic emits. */
export function relayReport(args: {
  heuristic: { id: string; version: number };
  reason: 'unsignaled_endpoint' | 'path_change' | 'dtls_fingerprint_mismatch' | 'zrtp_hash_mismatch' | 'crypto_stripped';
  relay: string;
  callId: string | null;
  ssrc: number | null;
  severity: FindingReport['severity'];
  confidence: number;
  firstSeen: number;
  detectedAt: number;
  summary: string;
  evidence: FindingReport['evidence'];
}): FindingReport {
  const relayIp = ipOf(args.relay);
  const port = portOf(args.relay);
  return {
    type: 'unexpected_relay',
    party: args.relay,
    callId: args.callId,
    ssrc: args.ssrc,
    severity: args.severity,
    confidence: args.confidence,
    firstSeen: args.firstSeen,
    detectedAt: Math.max(args.detectedAt, args.firstSeen),
    heuristic: args.heuristic,
    summary: args.summary.slice(0, 2000),
    evidence: args.evidence,
    fields: { relay: args.relay, relayIp, reason: args.reason },
    partyIp: relayIp || null,
    partyPort: port > 0 ? port : null,
  };
}

/** At most `n` entries of a set, as strings (evidence arrays are capped at 64 by the schema). */
export function firstN(it: Iterable<string>, n = 16): string[] {
  const out: string[] = [];
  for (const x of it) {
    if (out.length >= n) break;
    out.push(x);
  }
  return out;
}
