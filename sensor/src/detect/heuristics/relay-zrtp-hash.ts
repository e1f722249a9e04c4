/**
 * relay-zrtp-hash — unexpected_relay, reason zrtp_hash_mismatch.
 *
 * RFC 6189 §8.1: a=zrtp-hash carries the ZRTP protocol version and the
 * SHA-256 hash of the Hello message the SDP's author will send; it binds the
 * media-path key agreement to the (integrity-protected) signalling. The app
 * layer hashes every Hello it sees (ZrtpObservation.helloHash); this
 * heuristic compares it with the zrtp-hash announced by the party at the
 * Hello's source endpoint (exact endpoint, else address; else any zrtp-hash
 * of the call — then with lower confidence). A different hash means the Hello
 * came from someone other than the endpoint that signalled: a ZRTP MiTM relay.
 *
 * The Hello's M flag (RFC 6189 §5.2, §7.3) marks a declared trusted MiTM (a
 * PBX doing ZRTP trusted-MiTM enrolment). A mismatch from a Hello with M set
 * is still reported — the SDP was not rewritten to announce it — but
 * downgraded to warning with `mitmFlag: true` in the evidence.
 */
import type { Detector, DetectorContext, HeuristicModule } from '../detector.js';
import type { SdpObservation, SipObservation, ZrtpObservation } from '../observations.js';
import { type AnnouncedKeying, type RelayCallIndex, canonicalIp, ipOf, normaliseHex, relayIndexFor, relayReport } from './relay-common.js';

export const RELAY_ZRTP_HASH_ID = 'relay-zrtp-hash';
const VERSION = 1;

export interface RelayZrtpHashSettings extends Record<string, number | boolean | string> {
  enabled: boolean;
}

const DEFAULTS: RelayZrtpHashSettings = { enabled: true };

export type ZrtpVerdict =
  | { verdict: 'match'; party: string }
  | { verdict: 'mismatch'; party: string; expected: AnnouncedKeying[]; scope: 'endpoint' | 'address' | 'call' }
  | { verdict: 'no_hash' };

export function verifyZrtpHash(announced: AnnouncedKeying[], src: string, helloHash: string): ZrtpVerdict {
  if (announced.length === 0 || helloHash === '') return { verdict: 'no_hash' };
  const srcIp = canonicalIp(ipOf(src));
  let scope: 'endpoint' | 'address' | 'call' = 'endpoint';
  let expected = announced.filter((a) => a.endpoints.has(src));
  if (expected.length === 0) {
    scope = 'address';
    expected = announced.filter((a) => a.ips.has(srcIp));
  }
  if (expected.length === 0) {
    scope = 'call';
    expected = announced;
  }
  const h = normaliseHex(helloHash);
  const hit = expected.find((a) => a.value === h);
  if (hit) return { verdict: 'match', party: hit.party };
  return { verdict: 'mismatch', party: scope === 'call' ? 'any' : expected[0]!.party, expected, scope };
}

export class RelayZrtpHashDetector implements Detector {
  readonly id = RELAY_ZRTP_HASH_ID;
  readonly version = VERSION;
  private readonly index: RelayCallIndex;
  readonly counts = { checked: 0, matched: 0, mismatched: 0, noHash: 0, noCall: 0 };

  constructor(
    private readonly ctx: DetectorContext,
    _settings: RelayZrtpHashSettings,
  ) {
    this.index = relayIndexFor(ctx);
  }

  onSip(o: SipObservation): void {
    this.index.onSip(o);
  }

  onSdp(o: SdpObservation): void {
    this.index.onSdp(o);
  }

  onZrtp(o: ZrtpObservation): void {
    if (o.call === null) {
      this.counts.noCall++;
      return;
    }
    const k = this.index.get(o.call);
    if (k === undefined) return;
    this.counts.checked++;
    const v = verifyZrtpHash(k.zrtpHashes, o.src, o.helloHash);
    if (v.verdict === 'no_hash') {
      this.counts.noHash++;
      return;
    }
    if (v.verdict === 'match') {
      this.counts.matched++;
      return;
    }
    this.counts.mismatched++;
    const call = o.call;
    this.ctx.findings.report(
      relayReport({
        heuristic: { id: this.id, version: this.version },
        reason: 'zrtp_hash_mismatch',
        relay: o.src,
        callId: call.callId,
        ssrc: null,
        severity: o.mitm ? 'warning' : 'critical',
        confidence: (v.scope === 'call' ? 0.8 : 0.95) - (o.mitm ? 0.2 : 0),
        firstSeen: o.ts,
        detectedAt: o.ts,
        summary: `ZRTP Hello from ${o.src} to ${o.dst} in call ${call.callId} does not hash to the a=zrtp-hash the ${v.party} announced${o.mitm ? ' (Hello carries the M flag: a declared trusted MiTM that the SDP does not announce)' : ''}.`,
        evidence: {
          flow: `${o.src}->${o.dst}`,
          observedHelloHash: normaliseHex(o.helloHash).toLowerCase(),
          announcedHashes: [...new Set(v.expected.map((a) => a.value.toLowerCase()))].slice(0, 8),
          announcedVersions: [...new Set(v.expected.map((a) => a.version))].slice(0, 8),
          helloVersion: o.version,
          announcedBy: v.party,
          matchScope: v.scope,
          mitmFlag: o.mitm,
        },
      }),
    );
  }
}

export const relayZrtpHash: HeuristicModule<RelayZrtpHashSettings> = {
  id: RELAY_ZRTP_HASH_ID,
  version: VERSION,
  defaults: DEFAULTS,
  create: (ctx, settings) => new RelayZrtpHashDetector(ctx, settings),
};
