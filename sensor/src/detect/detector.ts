/**
 * The detector contract. Each heuristic lives in its own file under
 * detect/heuristics/, has a name (id), a version, a switch and thresholds in
 * the policy, and a documentation page under docs/heuristics/<id>.md saying
 * what it detects, why, the evidence it reports and its known false positives.
 *
 * Detectors consume typed observations and read the call and stream tables.
 * They never see raw bytes.
 */
import type { CallTable } from '../calls/call-table.js';
import type { StreamTable } from '../media/stream-table.js';
import type { MediaStream } from '../media/media-stream.js';
import type { Call } from '../calls/call.js';
import type { FindingTable } from './finding-table.js';
import type { Policy } from './policy.js';
import type { DeclaredRecorders } from './declared-recorders.js';
import type {
  ArpObservation,
  DtlsObservation,
  EmbeddedRtpObservation,
  RtpObservation,
  SdpObservation,
  SipObservation,
  ZrtpObservation,
} from './observations.js';

export interface DetectorContext {
  findings: FindingTable;
  calls: CallTable;
  streams: StreamTable;
  policy: Policy;
  /** Recorders declared in signalling (filled by declared-recording, read by the duplicate heuristics). */
  recorders: DeclaredRecorders;
}

export interface Detector {
  /** Stable kebab-case id, e.g. 'dup-exact'. */
  readonly id: string;
  readonly version: number;
  onRtp?(o: RtpObservation): void;
  onSip?(o: SipObservation): void;
  onSdp?(o: SdpObservation): void;
  onStreamStarted?(s: MediaStream): void;
  onStreamEnded?(s: MediaStream): void;
  onCallEnded?(c: Call): void;
  onDtls?(o: DtlsObservation): void;
  onZrtp?(o: ZrtpObservation): void;
  onEmbeddedRtp?(o: EmbeddedRtpObservation): void;
  onArp?(o: ArpObservation): void;
  /** About once per second of capture time. */
  onTick?(now: number): void;
  /** End of input, before the tables flush. */
  flush?(now: number): void;
}

/** A heuristic module: its id, version, defaults and a factory. */
export interface HeuristicModule<S extends Record<string, number | boolean | string> = Record<string, number | boolean | string>> {
  id: string;
  version: number;
  defaults: S & { enabled: boolean };
  create(ctx: DetectorContext, settings: S & { enabled: boolean }): Detector;
}
