/**
 * relay-dtls-fingerprint — unexpected_relay, reason dtls_fingerprint_mismatch.
 *
 * DTLS-SRTP (RFC 5763 §5, RFC 5764): each party puts the hash of its
 * certificate in a=fingerprint (RFC 8122 §5) and the peer checks the
 * certificate it receives in the handshake against it. In DTLS 1.2 (RFC 6347)
 * the Certificate message travels in clear, so the sensor hashes it (the app
 * layer does: DtlsObservation.fingerprints, one value per hash function) and
 * compares it with what the SDP of the party at the sending endpoint
 * announced. A certificate that matches no fingerprint of that party means
 * something on the path terminates DTLS and holds the SRTP keys: an
 * intercepting relay (PROTOCOLS.md, media security signals).
 *
 * Which party: the one whose SDP announced the certificate's source endpoint
 * exactly (c=/m= port, RTCP port, an ICE candidate or its raddr), else the one
 * that announced its address; when neither (a NAT or TURN address the SDP
 * does not show) the certificate must match SOME fingerprint of the call.
 *
 * DTLS 1.3 (RFC 9147) encrypts the Certificate: the observation says dtls13
 * and carries no hash. That is "cannot verify", never "ok" and never a
 * mismatch: it is counted (counts.cannotVerify) and no finding is emitted.
 */
import type { Detector, DetectorContext, HeuristicModule } from '../detector.js';
import type { DtlsObservation, SdpObservation, SipObservation } from '../observations.js';
import { type AnnouncedKeying, type RelayCallIndex, canonicalIp, ipOf, normaliseHex, relayIndexFor, relayReport } from './relay-common.js';

export const RELAY_DTLS_FINGERPRINT_ID = 'relay-dtls-fingerprint';
const VERSION = 1;

export interface RelayDtlsFingerprintSettings extends Record<string, number | boolean | string> {
  enabled: boolean;
}

const DEFAULTS: RelayDtlsFingerprintSettings = { enabled: true };

export type FingerprintVerdict =
  | { verdict: 'match'; party: string }
  | { verdict: 'mismatch'; party: string; expected: AnnouncedKeying[]; matchesOtherParty: boolean; scope: 'endpoint' | 'address' | 'call' }
  | { verdict: 'no_fingerprint' }
  | { verdict: 'cannot_verify' };

/** Compare the certificate hashes of one DTLS flow direction with what the call's SDPs announced. */
export function verifyFingerprint(announced: AnnouncedKeying[], src: string, certHashes: Map<string, string>): FingerprintVerdict {
  if (certHashes.size === 0) return { verdict: 'cannot_verify' };
  const comparable = announced.filter((a) => certHashes.has(a.hashFunc));
  if (comparable.length === 0) return { verdict: 'no_fingerprint' };
  const srcIp = canonicalIp(ipOf(src));
  let scope: 'endpoint' | 'address' | 'call' = 'endpoint';
  let expected = comparable.filter((a) => a.endpoints.has(src));
  if (expected.length === 0) {
    scope = 'address';
    expected = comparable.filter((a) => a.ips.has(srcIp));
  }
  if (expected.length === 0) {
    scope = 'call';
    expected = comparable;
  }
  const matches = (a: AnnouncedKeying): boolean => normaliseHex(certHashes.get(a.hashFunc) ?? '') === a.value;
  const hit = expected.find(matches);
  if (hit) return { verdict: 'match', party: hit.party };
  const party = scope === 'call' ? 'any' : expected[0]!.party;
  const matchesOtherParty = comparable.some((a) => !expected.includes(a) && matches(a));
  return { verdict: 'mismatch', party, expected, matchesOtherParty, scope };
}

export class RelayDtlsFingerprintDetector implements Detector {
  readonly id = RELAY_DTLS_FINGERPRINT_ID;
  readonly version = VERSION;
  private readonly index: RelayCallIndex;
  readonly counts = { checked: 0, matched: 0, mismatched: 0, cannotVerify: 0, noFingerprint: 0, noCall: 0 };

  constructor(
    private readonly ctx: DetectorContext,
    _settings: RelayDtlsFingerprintSettings,
  ) {
    this.index = relayIndexFor(ctx);
  }

  onSip(o: SipObservation): void {
    this.index.onSip(o);
  }

  onSdp(o: SdpObservation): void {
    this.index.onSdp(o);
  }

  onDtls(o: DtlsObservation): void {
    if (o.call === null) {
      this.counts.noCall++;
      return;
    }
    if (o.dtls13 && o.fingerprints.size === 0) {
      this.counts.cannotVerify++;
      return;
    }
    const k = this.index.get(o.call);
    if (k === undefined) return;
    this.counts.checked++;
    const v = verifyFingerprint(k.fingerprints, o.src, o.fingerprints);
    if (v.verdict === 'match') {
      this.counts.matched++;
      return;
    }
    if (v.verdict === 'no_fingerprint') {
      this.counts.noFingerprint++;
      return;
    }
    if (v.verdict === 'cannot_verify') {
      this.counts.cannotVerify++;
      return;
    }
    this.counts.mismatched++;
    const hf = v.expected[0]!.hashFunc;
    const observed = o.fingerprints.get(hf) ?? '';
    const call = o.call;
    this.ctx.findings.report(
      relayReport({
        heuristic: { id: this.id, version: this.version },
        reason: 'dtls_fingerprint_mismatch',
        relay: o.src,
        callId: call.callId,
        ssrc: null,
        severity: 'critical',
        // Lower when the SDP did not name the sending endpoint (NAT/TURN): the party is inferred.
        confidence: v.scope === 'call' ? 0.8 : 0.95,
        firstSeen: o.ts,
        detectedAt: o.ts,
        summary: `DTLS certificate sent by ${o.src} to ${o.dst} in call ${call.callId} does not match the a=fingerprint (${hf}) the ${v.party} announced: something on the path terminates DTLS-SRTP.`,
        evidence: {
          flow: `${o.src}->${o.dst}`,
          hashFunction: hf,
          observedFingerprint: observed,
          announcedFingerprints: [...new Set(v.expected.map((a) => a.value))].slice(0, 8),
          announcedBy: v.party,
          matchScope: v.scope,
          matchesOtherPartysFingerprint: v.matchesOtherParty,
          dtlsVersion: o.dtls13 ? '1.3' : '1.2',
          secondsSinceLastSdp: Number.isFinite(k.lastSdpTs) ? Math.round((o.ts - k.lastSdpTs) * 1000) / 1000 : null,
        },
      }),
    );
  }
}

export const relayDtlsFingerprint: HeuristicModule<RelayDtlsFingerprintSettings> = {
  id: RELAY_DTLS_FINGERPRINT_ID,
  version: VERSION,
  defaults: DEFAULTS,
  create: (ctx, settings) => new RelayDtlsFingerprintDetector(ctx, settings),
};
