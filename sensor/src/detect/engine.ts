/**
 * Runs the enabled heuristics: builds each from the registry with its policy
 * settings, and dispatches every observation only to the detectors that
 * implement that hook (a disabled heuristic costs nothing: pino's "noop at
 * configuration time").
 */
import type { Call } from '../calls/call.js';
import type { MediaStream } from '../media/media-stream.js';
import type { Detector, DetectorContext, HeuristicModule } from './detector.js';
import type {
  ArpObservation,
  DtlsObservation,
  EmbeddedRtpObservation,
  RtpObservation,
  SdpObservation,
  SipObservation,
  ZrtpObservation,
} from './observations.js';

type Hook = keyof Omit<Detector, 'id' | 'version'>;

export class DetectionEngine {
  readonly detectors: Detector[] = [];
  private readonly byHook = new Map<Hook, Detector[]>();
  /** True when some detector wants per-packet RTP observations (the only per-packet hook). */
  readonly wantsRtp: boolean;
  readonly wantsEmbedded: boolean;

  constructor(ctx: DetectorContext, modules: HeuristicModule[]) {
    for (const m of modules) {
      const settings = ctx.policy.heuristic(m.id, m.defaults);
      if (!settings.enabled) continue;
      this.detectors.push(m.create(ctx, settings));
    }
    const hooks: Hook[] = ['onRtp', 'onSip', 'onSdp', 'onStreamStarted', 'onStreamEnded', 'onCallEnded', 'onDtls', 'onZrtp', 'onEmbeddedRtp', 'onArp', 'onTick', 'flush'];
    for (const h of hooks) this.byHook.set(h, this.detectors.filter((d) => typeof d[h] === 'function'));
    this.rtpDetectors = this.byHook.get('onRtp')!;
    this.wantsRtp = this.rtpDetectors.length > 0;
    this.wantsEmbedded = this.byHook.get('onEmbeddedRtp')!.length > 0;
  }

  private readonly rtpDetectors: Detector[];

  rtp(o: RtpObservation): void {
    const ds = this.rtpDetectors;
    for (let i = 0; i < ds.length; i++) ds[i]!.onRtp!(o);
  }

  sip(o: SipObservation): void {
    for (const d of this.byHook.get('onSip')!) d.onSip!(o);
  }

  sdp(o: SdpObservation): void {
    for (const d of this.byHook.get('onSdp')!) d.onSdp!(o);
  }

  streamStarted(s: MediaStream): void {
    for (const d of this.byHook.get('onStreamStarted')!) d.onStreamStarted!(s);
  }

  streamEnded(s: MediaStream): void {
    for (const d of this.byHook.get('onStreamEnded')!) d.onStreamEnded!(s);
  }

  callEnded(c: Call): void {
    for (const d of this.byHook.get('onCallEnded')!) d.onCallEnded!(c);
  }

  dtls(o: DtlsObservation): void {
    for (const d of this.byHook.get('onDtls')!) d.onDtls!(o);
  }

  zrtp(o: ZrtpObservation): void {
    for (const d of this.byHook.get('onZrtp')!) d.onZrtp!(o);
  }

  embedded(o: EmbeddedRtpObservation): void {
    for (const d of this.byHook.get('onEmbeddedRtp')!) d.onEmbeddedRtp!(o);
  }

  arp(o: ArpObservation): void {
    for (const d of this.byHook.get('onArp')!) d.onArp!(o);
  }

  get wantsArp(): boolean {
    return this.byHook.get('onArp')!.length > 0;
  }

  tick(now: number): void {
    for (const d of this.byHook.get('onTick')!) d.onTick!(now);
  }

  flush(now: number): void {
    for (const d of this.byHook.get('flush')!) d.flush!(now);
  }
}
