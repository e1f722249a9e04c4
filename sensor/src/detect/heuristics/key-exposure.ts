/**
 * key_exposure: SDES master keys (RFC 4568 a=crypto ... inline:<key||salt>)
 * travelling in cleartext signalling.
 *
 * RFC 4568 §8.3 requires the SDP carrying inline keys to be protected
 * (TLS/SIPS or S/MIME); anything the sensor can parse is, by construction,
 * not protected (SIP over TLS and WSS are opaque to it). Whoever sees that
 * SDP can decrypt the SRTP media (PROTOCOLS.md "Media security signals").
 *
 * One finding per (call, leg), the leg being the SIP message's "src -> dst".
 * The key is never reported: the SDP parser reduces it to `keyHash` (a
 * truncated SHA-256, sdp-types.ts SdpCrypto), which is enough to show the
 * same key on several legs. A bounded index keyHash -> sightings finds reuse:
 *  - the same key from the same party of the same call on another leg is
 *    the offer/answer being forwarded by a proxy ('forwarded': the key is
 *    exposed on every hop, but it is not reuse);
 *  - the same key sent by the other party of the call ('other-party', both
 *    directions keyed alike), or in another call ('other-call': a static key,
 *    or a B2BUA passing the key through) is reuse: severity critical.
 *
 * Only `inline` key methods expose a key; other key methods are ignored.
 */
import type { Detector, DetectorContext, HeuristicModule } from '../detector.js';
import type { SdpObservation } from '../observations.js';
import type { SdpCrypto } from '../../app/sdp/sdp-types.js';
import { pushBounded } from './sip-util.js';

export const KEY_EXPOSURE_ID = 'key-exposure';
export const KEY_EXPOSURE_VERSION = 1;

export interface KeyExposureSettings extends Record<string, number | boolean | string> {
  enabled: boolean;
  /** Bound on remembered key hashes (oldest forgotten first). */
  maxKeys: number;
  /** Bound on remembered legs (oldest forgotten first). */
  maxLegs: number;
}

const DEFAULTS: KeyExposureSettings = {
  enabled: true,
  maxKeys: 100_000,
  maxLegs: 100_000,
};

const MAX_SIGHTINGS_PER_KEY = 16;
const MAX_LIST = 32;

type ReuseKind = 'forwarded' | 'other-party' | 'other-call';

interface Sighting {
  callId: string;
  leg: string;
  party: 'caller' | 'callee';
  ts: number;
}

interface LegState {
  callId: string;
  leg: string;
  party: 'caller' | 'callee';
  firstSeen: number;
  lastTs: number;
  transport: string;
  firstKeyHash: string;
  firstSuite: string;
  keyHashes: string[];
  suites: string[];
  media: string[];
  messages: string[];
  /** Other legs with one of this leg's keys, by their leg-table key. */
  reused: Map<string, { callId: string; leg: string; kind: ReuseKind }>;
}

/** Transports whose content the network cannot read (never parsed today; guarded anyway). */
function isEncryptedTransport(t: string): boolean {
  const outer = t.split('/')[0]!.toLowerCase();
  return outer === 'tls' || outer === 'wss' || outer === 'dtls' || outer === 'sips';
}

export class KeyExposureDetector implements Detector {
  readonly id = KEY_EXPOSURE_ID;
  readonly version = KEY_EXPOSURE_VERSION;
  private readonly keys = new Map<string, Sighting[]>();
  private readonly legs = new Map<string, LegState>();

  constructor(
    private readonly ctx: DetectorContext,
    private readonly settings: KeyExposureSettings,
  ) {}

  onSdp(o: SdpObservation): void {
    if (isEncryptedTransport(o.transport)) return;
    const found: Array<{ c: SdpCrypto; media: string }> = [];
    for (const c of o.sdp.crypto) if (c.keyMethod === 'inline' && c.keyHash) found.push({ c, media: 'session' });
    for (const m of o.sdp.media) for (const c of m.crypto) if (c.keyMethod === 'inline' && c.keyHash) found.push({ c, media: m.media });
    if (found.length === 0) return;

    const callId = o.call.callId;
    const leg = `${o.src} -> ${o.dst}`;
    const legKey = legKeyOf(callId, leg);
    let st = this.legs.get(legKey);
    if (!st) {
      if (this.legs.size >= this.settings.maxLegs) {
        const oldest = this.legs.keys().next();
        if (!oldest.done) this.legs.delete(oldest.value);
      }
      st = {
        callId,
        leg,
        party: o.party,
        firstSeen: o.ts,
        lastTs: o.ts,
        transport: o.transport,
        firstKeyHash: found[0]!.c.keyHash,
        firstSuite: found[0]!.c.suite,
        keyHashes: [],
        suites: [],
        media: [],
        messages: [],
        reused: new Map(),
      };
      this.legs.set(legKey, st);
    }
    st.lastTs = o.ts;
    pushBounded(st.messages, o.statusCode ? `${o.statusCode} ${o.method}` : o.method, MAX_LIST);

    const touched = new Set<LegState>([st]);
    for (const { c, media } of found) {
      pushBounded(st.keyHashes, c.keyHash, MAX_LIST);
      pushBounded(st.suites, c.suite, MAX_LIST);
      pushBounded(st.media, media, MAX_LIST);
      const sightings = this.sightingsOf(c.keyHash);
      let mine = false;
      for (const s of sightings) {
        if (s.callId === callId && s.leg === leg) {
          mine = true;
          continue;
        }
        const kind: ReuseKind = s.callId !== callId ? 'other-call' : s.party !== o.party ? 'other-party' : 'forwarded';
        const otherKey = legKeyOf(s.callId, s.leg);
        noteReuse(st, otherKey, s.callId, s.leg, kind);
        const other = this.legs.get(otherKey);
        if (other) {
          noteReuse(other, legKey, callId, leg, kind);
          touched.add(other);
        }
      }
      if (!mine && sightings.length < MAX_SIGHTINGS_PER_KEY) sightings.push({ callId, leg, party: o.party, ts: o.ts });
    }
    for (const s of touched) this.report(s, s === st ? o.ts : Math.max(o.ts, s.lastTs));
  }

  private sightingsOf(keyHash: string): Sighting[] {
    let s = this.keys.get(keyHash);
    if (s) {
      // Refresh recency so an active key is not the first forgotten.
      this.keys.delete(keyHash);
      this.keys.set(keyHash, s);
      return s;
    }
    if (this.keys.size >= this.settings.maxKeys) {
      const oldest = this.keys.keys().next();
      if (!oldest.done) this.keys.delete(oldest.value);
    }
    s = [];
    this.keys.set(keyHash, s);
    return s;
  }

  private report(st: LegState, now: number): void {
    const reusedOn: string[] = [];
    const kinds: string[] = [];
    let reuse = false;
    for (const { callId: cid, leg, kind } of st.reused.values()) {
      reusedOn.push(cid === st.callId ? leg : `${cid.slice(0, 400)}: ${leg}`);
      pushBounded(kinds, kind, 3);
      if (kind !== 'forwarded') reuse = true;
    }
    const severity = reuse ? 'critical' : 'warning';
    const suites = st.suites.join(', ');
    const reuseText = reuse
      ? `; the same key is reused on ${reusedOn.length} other leg${reusedOn.length === 1 ? '' : 's'} (${kinds.join(', ')})`
      : reusedOn.length > 0
        ? `; it is forwarded on ${reusedOn.length} other hop${reusedOn.length === 1 ? '' : 's'} of the call`
        : '';
    this.ctx.findings.report({
      type: 'key_exposure',
      party: st.leg,
      callId: st.callId,
      ssrc: null,
      severity,
      confidence: 1,
      firstSeen: st.firstSeen,
      detectedAt: now,
      heuristic: { id: KEY_EXPOSURE_ID, version: KEY_EXPOSURE_VERSION },
      summary:
        `SDES SRTP master key${st.keyHashes.length === 1 ? '' : 's'} (${suites}) sent in cleartext ${st.transport} SDP ` +
        `on ${st.leg} by the ${st.party}: anyone on this path can decrypt the media${reuseText}`,
      evidence: {
        method: 'sdes',
        transport: st.transport,
        party: st.party,
        messages: st.messages.slice(),
        media: st.media.slice(),
        suites: st.suites.slice(),
        keyHashes: st.keyHashes.slice(),
        keyCount: st.keyHashes.length,
        reusedOn: reusedOn.slice(0, MAX_LIST),
        reuseKinds: kinds,
      },
      fields: { leg: st.leg, keyHash: st.firstKeyHash, suite: st.firstSuite, reusedOn },
      partyIp: null,
      partyPort: null,
    });
  }
}

function strongest(a: ReuseKind | undefined, b: ReuseKind): ReuseKind {
  const rank = (k: ReuseKind | undefined): number => (k === 'other-call' ? 3 : k === 'other-party' ? 2 : k === 'forwarded' ? 1 : 0);
  return rank(a) >= rank(b) ? a! : b;
}

/** A key for the leg table; the NUL separator cannot occur in a parsed Call-ID or endpoint. */
function legKeyOf(callId: string, leg: string): string {
  return `${callId}\u0000${leg}`;
}

function noteReuse(st: LegState, key: string, callId: string, leg: string, kind: ReuseKind): void {
  const prev = st.reused.get(key);
  if (prev) prev.kind = strongest(prev.kind, kind);
  else if (st.reused.size < MAX_LIST) st.reused.set(key, { callId, leg, kind });
}

export const keyExposureHeuristic: HeuristicModule<KeyExposureSettings> = {
  id: KEY_EXPOSURE_ID,
  version: KEY_EXPOSURE_VERSION,
  defaults: DEFAULTS,
  create(ctx, settings) {
    return new KeyExposureDetector(ctx, { ...DEFAULTS, ...settings });
  },
};
