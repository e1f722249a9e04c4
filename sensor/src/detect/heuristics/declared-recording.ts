/**
 * declared_recording: recording or interception that announces itself in
 * signalling (PROTOCOLS.md "Declared recording and intercept markers"):
 *
 *  - SIPREC (RFC 7866 §6, RFC 7865): the recording session's INVITE carries
 *    `Require: siprec`, a Contact with the `+sip.src` feature tag (`+sip.srs`
 *    when the recording server starts the session, RFC 7866 §6.1.1), and a
 *    multipart body with `application/rs-metadata+xml` under
 *    `Content-Disposition: recording-session`. The SRS's SDP says where the
 *    recorded media goes;
 *  - Cisco Built-in Bridge: recording INVITEs to the recorder whose From-URI
 *    has `x-nearend` / `x-farend` and `x-refci` parameters; the phone forks
 *    its streams to the media address the recorder answers with;
 *  - PacketCable `P-DCS-LAES` (RFC 3603 §8, RFC 5503 §8): `hostport` of the
 *    signalling delivery function, `;content=hostport` for call content;
 *  - Kamailio siptrace (siptrace module, xheaders_write): duplicated SIP
 *    carrying `X-Siptrace-Fromip/Toip/Time/Method/Dir`. Signalling only, so
 *    its collector is not declared as a media recorder.
 *
 * Each is reported once per (call, recorder) with severity info, and the
 * recorder (with its SDP media endpoints) is registered in ctx.recorders so
 * the duplicate-stream heuristics mark copies to it `declared: true`.
 * Nothing of the P-DCS-LAES `key` parameter or of the metadata body is kept.
 */
import type { Call } from '../../calls/call.js';
import type { SipMessage } from '../../app/sip/sip-message.js';
import { parseSipUri } from '../../app/sip/sip-uri.js';
import type { Detector, DetectorContext, HeuristicModule } from '../detector.js';
import type { SdpObservation, SipObservation } from '../observations.js';
import { endpointIp, endpointPort, headerNamesWithPrefix, headerValue, hostPortText, parseHostPort, pushBounded } from './sip-util.js';

export const DECLARED_RECORDING_ID = 'declared-recording';
export const DECLARED_RECORDING_VERSION = 1;

export interface DeclaredRecordingSettings extends Record<string, number | boolean | string> {
  enabled: boolean;
  /** Seconds an ended call's state lingers (re-INVITEs, late answers). */
  lingerSec: number;
  /** Bound on calls with state. */
  maxCalls: number;
}

const DEFAULTS: DeclaredRecordingSettings = {
  enabled: true,
  lingerSec: 32,
  maxCalls: 50_000,
};

export type DeclaredKind = 'siprec' | 'cisco-bib' | 'p-dcs-laes' | 'siptrace';

const MAX_LIST = 32;

interface Recording {
  kind: DeclaredKind;
  /** "ip:port" of the recorder's signalling (or delivery) address. */
  recorder: string;
  recorderIp: string;
  /** Which party of the call the recorder is (its SDP gives the media endpoints); null when not a dialog party. */
  recorderParty: 'caller' | 'callee' | null;
  firstSeen: number;
  lastTs: number;
  confidence: number;
  markers: string[];
  mediaEndpoints: string[];
  extra: Record<string, string | number | boolean | string[]>;
}

interface CallState {
  call: Call;
  recordings: Map<string, Recording>;
  lastTs: number;
  endedAt: number | null;
}

export class DeclaredRecordingDetector implements Detector {
  readonly id = DECLARED_RECORDING_ID;
  readonly version = DECLARED_RECORDING_VERSION;
  private readonly calls = new Map<Call, CallState>();
  /** SDP bodies of the message being processed: the call table reports them just before the message itself. */
  private sdpOfMessage: SdpObservation[] = [];
  private now = 0;

  constructor(
    private readonly ctx: DetectorContext,
    private readonly settings: DeclaredRecordingSettings,
  ) {}

  onSdp(o: SdpObservation): void {
    if (this.sdpOfMessage.length < 8) this.sdpOfMessage.push(o);
    else this.sdpOfMessage = [o];
  }

  onSip(o: SipObservation): void {
    if (o.ts > this.now) this.now = o.ts;
    const sdps = this.sdpOfMessage;
    this.sdpOfMessage = [];
    const call = o.call;
    if (!call) return; // REGISTER, OPTIONS...: no dialog
    const msg = o.msg;
    const found: Recording[] = [];
    if (msg.kind === 'request' && msg.method === 'INVITE') {
      const siprec = this.siprec(call, o, sdps);
      if (siprec) found.push(siprec);
      const bib = this.ciscoBib(call, o);
      if (bib) found.push(bib);
    }
    found.push(...this.laes(o));
    const trace = this.siptrace(o);
    if (trace) found.push(trace);

    let st = this.calls.get(call);
    if (found.length > 0 && !st) st = this.stateOf(call, o.ts);
    if (!st) return;
    st.lastTs = o.ts;
    for (const r of found) {
      const prev = st.recordings.get(r.recorder);
      if (prev) {
        for (const m of r.markers) pushBounded(prev.markers, m, MAX_LIST);
        prev.confidence = Math.max(prev.confidence, r.confidence);
        prev.lastTs = o.ts;
      } else {
        st.recordings.set(r.recorder, r);
        this.declare(call, r, [], o.ts);
      }
    }
    const changed = new Set<Recording>();
    for (const r of found) changed.add(st.recordings.get(r.recorder)!);
    for (const s of sdps) if (s.call === call) for (const r of this.onRecordingSdp(st, s)) changed.add(r);
    for (const r of changed) this.report(call, r, o.ts);
  }

  onCallEnded(c: Call): void {
    const st = this.calls.get(c);
    if (st && st.endedAt === null) st.endedAt = Math.max(this.now, st.lastTs);
  }

  onTick(now: number): void {
    if (now > this.now) this.now = now;
    for (const [call, st] of this.calls) {
      if (st.endedAt !== null && now - st.endedAt >= this.settings.lingerSec) this.calls.delete(call);
    }
  }

  // ---------------------------------------------------------------- markers

  /** RFC 7866 §6.1: Require: siprec, +sip.src / +sip.srs, rs-metadata under recording-session. */
  private siprec(call: Call, o: SipObservation, sdps: SdpObservation[]): Recording | null {
    const msg = o.msg;
    const markers: string[] = [];
    if (msg.require.includes('siprec')) markers.push('require:siprec');
    let srsInitiated = false;
    for (const c of msg.contacts) {
      if ('+sip.src' in c.params) pushBounded(markers, '+sip.src', MAX_LIST);
      if ('+sip.srs' in c.params) {
        pushBounded(markers, '+sip.srs', MAX_LIST);
        srsInitiated = true;
      }
    }
    let labels = 0;
    for (const p of msg.bodyParts) {
      if (p.contentType === 'application/rs-metadata+xml') pushBounded(markers, 'rs-metadata', MAX_LIST);
      if (p.contentDisposition === 'recording-session') pushBounded(markers, 'recording-session', MAX_LIST);
    }
    if (markers.length === 0) return null;
    for (const s of sdps) if (s.call === call) for (const m of s.sdp.media) if (m.label !== undefined) labels++;
    const sender = partyOf(call, msg);
    // The SRC sends the INVITE to the SRS, unless the SRS itself calls (+sip.srs).
    const recorder = srsInitiated ? o.src : o.dst;
    return {
      kind: 'siprec',
      recorder,
      recorderIp: endpointIp(recorder),
      recorderParty: srsInitiated ? sender : other(sender),
      firstSeen: o.ts,
      lastTs: o.ts,
      confidence: markers.length >= 3 ? 1 : markers.length === 2 ? 0.95 : 0.8,
      markers,
      mediaEndpoints: [],
      extra: { recordingClient: srsInitiated ? o.dst : o.src, srsInitiated, labelledStreams: labels },
    };
  }

  /** Cisco Built-in Bridge: From-URI x-nearend / x-farend / x-refci. */
  private ciscoBib(call: Call, o: SipObservation): Recording | null {
    const from = o.msg.from;
    if (!from) return null;
    const uri = parseSipUri(from.uri);
    const params = { ...(uri?.params ?? {}), ...from.params } as Record<string, string>;
    const near = 'x-nearend' in params;
    const far = 'x-farend' in params;
    const refci = 'x-refci' in params;
    if (!near && !far && !refci) return null;
    const markers: string[] = [];
    if (near) markers.push('x-nearend');
    if (far) markers.push('x-farend');
    if (refci) markers.push('x-refci');
    const sender = partyOf(call, o.msg);
    return {
      kind: 'cisco-bib',
      recorder: o.dst,
      recorderIp: o.dstIp,
      recorderParty: other(sender),
      firstSeen: o.ts,
      lastTs: o.ts,
      confidence: refci && (near || far) ? 1 : 0.85,
      markers,
      mediaEndpoints: [],
      extra: { stream: near ? 'near-end' : far ? 'far-end' : 'unknown', recordingClient: o.src },
    };
  }

  /** P-DCS-LAES: Laes-sig hostport *(; content=hostport / key=token / cccid / bcid). */
  private laes(o: SipObservation): Recording[] {
    const value = headerValue(o.msg, 'p-dcs-laes');
    if (value === undefined) return [];
    const parts = value.split(';').map((p) => p.trim());
    let sigText = parts[0] ?? '';
    const eq = sigText.indexOf('=');
    if (eq >= 0) sigText = sigText.slice(eq + 1); // tolerate "Laes-sig=host:port"
    const sig = parseHostPort(sigText);
    let content: { host: string; port: number | null } | null = null;
    let cccid = false;
    let bcid = false;
    for (const p of parts.slice(1)) {
      const i = p.indexOf('=');
      const name = (i >= 0 ? p.slice(0, i) : p).trim().toLowerCase();
      const v = i >= 0 ? p.slice(i + 1).trim() : '';
      if (name === 'content' || name === 'laes-content') content = parseHostPort(v);
      else if (name === 'cccid' || name === 'laes-cccid') cccid = true;
      else if (name === 'bcid' || name === 'laes-bcid') bcid = true;
      // key / laes-key: key material, deliberately not read.
    }
    const target = content ?? sig;
    if (!target) return [];
    const recorder = hostPortText(target);
    return [
      {
        kind: 'p-dcs-laes',
        recorder,
        recorderIp: target.host,
        recorderParty: null,
        firstSeen: o.ts,
        lastTs: o.ts,
        confidence: 1,
        markers: ['p-dcs-laes'],
        mediaEndpoints: content ? [recorder] : [],
        extra: {
          laesSignalling: sig ? hostPortText(sig) : '',
          laesContent: content ? hostPortText(content) : '',
          cccid,
          bcid,
          headerIn: `${o.src} -> ${o.dst}`,
        },
      },
    ];
  }

  /** Kamailio siptrace duplicate_uri copies: X-Siptrace-* headers; the copy's destination is the collector. */
  private siptrace(o: SipObservation): Recording | null {
    const names = headerNamesWithPrefix(o.msg, 'x-siptrace-');
    if (names.length === 0) return null;
    const extra: Record<string, string | number | boolean | string[]> = { headers: names.slice(0, MAX_LIST) };
    const from = headerValue(o.msg, 'x-siptrace-fromip');
    const to = headerValue(o.msg, 'x-siptrace-toip');
    const dir = headerValue(o.msg, 'x-siptrace-dir');
    if (from) extra.tracedFrom = from.slice(0, 80);
    if (to) extra.tracedTo = to.slice(0, 80);
    if (dir) extra.tracedDir = dir.slice(0, 16);
    extra.copier = o.src;
    return {
      kind: 'siptrace',
      recorder: o.dst,
      recorderIp: o.dstIp,
      recorderParty: null,
      firstSeen: o.ts,
      lastTs: o.ts,
      confidence: 0.9,
      markers: ['x-siptrace'],
      mediaEndpoints: [],
      extra,
    };
  }

  // ---------------------------------------------------------------- recorders

  /** The recorder's own SDP (offer or answer) says where the recorded media goes. */
  private onRecordingSdp(st: CallState, s: SdpObservation): Recording[] {
    const changed: Recording[] = [];
    for (const r of st.recordings.values()) {
      if (r.recorderParty === null || s.party !== r.recorderParty) continue;
      const eps: string[] = [];
      for (const m of s.offers) if (m.endpoint && !m.endpoint.startsWith('0.0.0.0:') && endpointPort(m.endpoint) !== 0) eps.push(m.endpoint);
      if (eps.length === 0) continue;
      const before = r.mediaEndpoints.length;
      for (const e of eps) pushBounded(r.mediaEndpoints, e, MAX_LIST);
      this.declare(st.call, r, eps, s.ts);
      if (r.mediaEndpoints.length !== before) changed.push(r);
    }
    return changed;
  }

  private declare(call: Call, r: Recording, endpoints: string[], ts: number): void {
    if (r.kind === 'siptrace') return; // a signalling trace says nothing about media copies
    // Register the recorder's signalling IP and every IP its media goes to.
    const byIp = new Map<string, string[]>();
    if (r.recorderIp) byIp.set(r.recorderIp, []);
    for (const e of [...r.mediaEndpoints, ...endpoints]) {
      const ip = endpointIp(e);
      if (!ip) continue;
      const list = byIp.get(ip) ?? [];
      if (!list.includes(e)) list.push(e);
      byIp.set(ip, list);
    }
    for (const [ip, eps] of byIp) this.ctx.recorders.declare(ip, r.kind, call.callId, ts, eps);
  }

  private report(call: Call, r: Recording, now: number): void {
    const what: Record<DeclaredKind, string> = {
      siprec: 'SIPREC recording session (RFC 7866)',
      'cisco-bib': 'Cisco Built-in Bridge recording',
      'p-dcs-laes': 'PacketCable lawful-intercept (P-DCS-LAES) delivery',
      siptrace: 'Kamailio siptrace copy of the signalling',
    };
    const media = r.mediaEndpoints.length ? `; media to ${r.mediaEndpoints.slice(0, 4).join(', ')}` : '';
    this.ctx.findings.report({
      type: 'declared_recording',
      party: r.recorder,
      callId: call.callId,
      ssrc: null,
      severity: 'info',
      confidence: r.confidence,
      firstSeen: r.firstSeen,
      detectedAt: now,
      heuristic: { id: DECLARED_RECORDING_ID, version: DECLARED_RECORDING_VERSION },
      summary: `Declared ${what[r.kind]} in call ${call.callId}: recorder ${r.recorder}${media}`,
      evidence: {
        kind: r.kind,
        markers: r.markers.slice(),
        recorder: r.recorder,
        mediaEndpoints: r.mediaEndpoints.slice(),
        ...r.extra,
      },
      fields: { kind: r.kind, recorder: r.recorder },
      partyIp: r.recorderIp || null,
      partyPort: endpointPort(r.recorder),
    });
  }

  private stateOf(call: Call, ts: number): CallState {
    if (this.calls.size >= this.settings.maxCalls) {
      const first = this.calls.keys().next();
      if (!first.done) this.calls.delete(first.value);
    }
    const st: CallState = { call, recordings: new Map(), lastTs: ts, endedAt: null };
    this.calls.set(call, st);
    return st;
  }
}

function partyOf(call: Call, msg: SipMessage): 'caller' | 'callee' {
  return (msg.from?.tag ?? '') === call.callerTag ? 'caller' : 'callee';
}

function other(p: 'caller' | 'callee'): 'caller' | 'callee' {
  return p === 'caller' ? 'callee' : 'caller';
}

export const declaredRecordingHeuristic: HeuristicModule<DeclaredRecordingSettings> = {
  id: DECLARED_RECORDING_ID,
  version: DECLARED_RECORDING_VERSION,
  defaults: DEFAULTS,
  create(ctx, settings) {
    return new DeclaredRecordingDetector(ctx, { ...DEFAULTS, ...settings });
  },
};
