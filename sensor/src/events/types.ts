/**
 * The event contract between the sensor and everything downstream (stdout,
 * Kafka, the collector). Suricata's eve.json has a versioned JSON Schema
 * (etc/schema.json); tapwatch keeps one schema per event type under
 * sensor/schemas/<type>.v<N>.json and this union mirrors them.
 *
 * Privacy: no event ever carries media payload bytes or key material. SDES
 * keys appear only as a truncated SHA-256 (`keyHash`), never in clear.
 */

import type { StreamFingerprint } from '../../../collector/src/ingest/fingerprint.js';

export const EVENT_VERSION = 1 as const;

export interface EventBase {
  /** Schema version of this event type. */
  v: typeof EVENT_VERSION;
  type: string;
  /** Unique event id: `${runId}-${sequence}`. Downstream stores are idempotent on it. */
  id: string;
  /** Capture time in epoch seconds (float). */
  ts: number;
  /** Sensor id (`--sensor-id`, default the host name). */
  sensor: string;
}

export type TunnelSummary = { kind: string; src: string; dst: string; id: number };

export interface MediaOffer {
  /** Which SIP message carried this SDP: 'offer' | 'answer' (by the offer/answer model, RFC 3264). */
  role: 'offer' | 'answer';
  /** Who sent it: the dialog's caller (UAC of the INVITE) or callee. */
  party: 'caller' | 'callee';
  /** Capture time of the SIP message that carried this SDP. */
  ts: number;
  media: string;
  /** Where this party expects to receive media, "ip:port". */
  endpoint: string;
  proto: string;
  direction: 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
  payloadTypes: number[];
  /** SRTP negotiated (SAVP/SAVPF profile, SDES crypto or DTLS fingerprint). */
  secure: boolean;
  /** Key exchange signalled: 'sdes', 'dtls', 'zrtp' or 'none'. */
  keying: 'sdes' | 'dtls' | 'zrtp' | 'none';
  /** ICE candidates as "ip:port typ". */
  candidates: string[];
}

export interface CallStartedEvent extends EventBase {
  type: 'call_started';
  callId: string;
  from: string;
  to: string;
  /** Transport and endpoints of the initial INVITE. */
  transport: string;
  src: string;
  dst: string;
}

export interface CallUpdatedEvent extends EventBase {
  type: 'call_updated';
  callId: string;
  state: CallState;
  /** What changed: 'provisional' | 'early_media' | 'answered' | 'reinvite' | 'update' | 'refer' | 'sdp'. */
  reason: string;
  statusCode: number | null;
  media: MediaOffer[];
}

export interface CallEndedEvent extends EventBase {
  type: 'call_ended';
  callId: string;
  state: CallState;
  /** 'bye' | 'cancel' | 'rejected' | 'timeout' | 'end_of_input' | 'evicted'. */
  reason: string;
  finalStatus: number | null;
  startTs: number;
  answerTs: number | null;
  durationSec: number;
  sipMessages: number;
}

export type CallState = 'trying' | 'early' | 'confirmed' | 'terminated' | 'failed' | 'cancelled';

export interface StreamStartedEvent extends EventBase {
  type: 'stream_started';
  streamId: string;
  ssrc: number;
  src: string;
  dst: string;
  callId: string | null;
  payloadType: number;
  encrypted: boolean;
  /** 'sdp' when an SDP of the call announced the endpoint, 'heuristic' otherwise. */
  classifiedBy: 'sdp' | 'heuristic';
  /** 'udp' | 'tcp' | 'turn-channel' | 'turn-indication'. */
  transport: string;
  tunnels: TunnelSummary[];
  ttl: number;
}

export interface StreamEndedEvent extends EventBase {
  type: 'stream_ended';
  streamId: string;
  ssrc: number;
  src: string;
  dst: string;
  packets: number;
  bytes: number;
  /** RFC 3550 cumulative loss: expected - received, negative when duplicates arrived (as tshark prints it). */
  lost: number;
  duplicates: number;
  reordered: number;
  callId: string | null;
  payloadTypes: number[];
  encrypted: boolean;
  classifiedBy: 'sdp' | 'heuristic';
  transport: string;
  firstTs: number;
  lastTs: number;
  jitterMs: number;
  maxJitterMs: number;
  ttl: number;
  /** 'idle' | 'end_of_input' | 'evicted' | 'call_ended'. */
  reason: string;
}

export interface SensorStatsEvent extends EventBase {
  type: 'sensor_stats';
  /** True for the last stats event of a run. */
  final: boolean;
  uptimeSec: number;
  packets: number;
  bytes: number;
  kernelReceived: number;
  kernelDrops: number;
  ifDrops: number;
  dropsUnavailable: boolean;
  /** Parallel sensor (--workers): packets dropped because the shared ring was full. Absent single-threaded. */
  ringDrops?: number;
  /**
   * The sensor's verdict on its capture during the last interval
   * (sensor/src/capture/capture-health.ts): 'blind' (live, nothing received),
   * 'overloaded' (> 1 % dropped), 'dropping' (some dropped), or 'ok'.
   */
  health?: 'ok' | 'blind' | 'dropping' | 'overloaded';
  /** Parallel sensor: number of worker shards. */
  workers?: number;
  /** Parallel sensor: RTP packets whose optional work was shed, by level (docs/parallel.md). */
  shed?: { digests: number; correlation: number; detection: number };
  decodeErrors: Record<string, number>;
  /** Packets by what they carried. */
  classified: { sip: number; rtp: number; rtcp: number; stun: number; dtls: number; zrtp: number; other: number; nonIp: number; fragments: number };
  sip: { messages: number; requests: number; responses: number; retransmissions: number; callIds: number; inviteDialogs: number };
  tables: { flows: number; streams: number; calls: number; expectations: number; peakFlows: number; peakStreams: number; peakCalls: number };
  evictions: { flowsIdle: number; flowsFull: number; streamsIdle: number; streamsFull: number; callsIdle: number; callsFull: number };
  memory: { rss: number; heapUsed: number; peakRss: number };
  warnings: string[];
  /** What the outputs that report it (Kafka) did with the events; absent for stdout only. */
  output?: OutputStats;
}

/** Events an output holds or has handled: sensor_stats.output, summed over the sinks. */
export interface OutputStats {
  /** Handed to the producer (librdkafka's queue), awaiting the broker's acknowledgement. */
  queued: number;
  /** Waiting in memory behind the producer's full queue. */
  buffered: number;
  /** Waiting in the disk spool. */
  spooled: number;
  delivered: number;
  /** Delivery failed for good (e.g. message too large, not authorised). */
  failed: number;
  /** Dropped: buffer full with no spool (never findings), or undelivered at exit with no spool. */
  dropped: number;
}

// ---------------------------------------------------------------- findings

export type FindingType = 'duplicate_stream' | 'signaling_copy' | 'unexpected_relay' | 'key_exposure' | 'declared_recording';
export const FINDING_TYPES: readonly FindingType[] = ['duplicate_stream', 'signaling_copy', 'unexpected_relay', 'key_exposure', 'declared_recording'];
export type Severity = 'info' | 'warning' | 'critical';

/**
 * Evidence: endpoints, packet counts, time offsets, digests and the tunnel
 * stack. Never payload bytes or keys (the privacy test searches for them).
 */
export type Evidence = Record<string, string | number | boolean | null | string[] | number[] | TunnelSummary[] | Record<string, string | number | boolean | null>>;

export interface FindingBase extends EventBase {
  type: FindingType;
  /** Stable per (call, type, extra party): finding_updated events refer to it. */
  findingId: string;
  severity: Severity;
  /** 0..1: how sure the heuristic is. */
  confidence: number;
  callId: string | null;
  ssrc: number | null;
  /** Capture time at which the evidence was complete (= ts). */
  detectedAt: number;
  /** Capture time of the first packet of the evidence. */
  firstSeen: number;
  heuristic: { id: string; version: number };
  /** Set when an allowlist entry or a declaration downgraded or explains the finding. */
  allowlisted: { rule: string; why: string } | null;
  /** Kernel or sensor drops happened while the evidence was gathered. */
  evidenceIncomplete: boolean;
  /** One plain sentence for a network engineer. */
  summary: string;
  evidence: Evidence;
}

export interface DuplicateStreamFinding extends FindingBase {
  type: 'duplicate_stream';
  /** Where the extra copy goes, "ip:port" ("ip:0" for portless tunnels such as GRE/ERSPAN). */
  copyTo: string;
  copyToIp: string;
  mode: 'exact' | 'encapsulated' | 'correlated';
  /** The copy goes to a declared recorder (SIPREC, policy). */
  declared: boolean;
}

export interface SignalingCopyFinding extends FindingBase {
  type: 'signaling_copy';
  copyTo: string;
  copyToIp: string;
}

export type RelayReason = 'unsignaled_endpoint' | 'path_change' | 'dtls_fingerprint_mismatch' | 'zrtp_hash_mismatch' | 'crypto_stripped';

export interface UnexpectedRelayFinding extends FindingBase {
  type: 'unexpected_relay';
  relay: string;
  relayIp: string;
  reason: RelayReason;
}

export interface KeyExposureFinding extends FindingBase {
  type: 'key_exposure';
  /** The leg whose signalling carried the key: "src -> dst" of the SIP message. */
  leg: string;
  /** Truncated SHA-256 of the key material; never the key. */
  keyHash: string;
  suite: string;
  /** Other legs (calls/parties) on which the same key was seen. */
  reusedOn: string[];
}

export interface DeclaredRecordingFinding extends FindingBase {
  type: 'declared_recording';
  /** 'siprec' | 'cisco-bib' | 'p-dcs-laes' | 'siptrace' */
  kind: string;
  recorder: string;
}

export type FindingEvent =
  | DuplicateStreamFinding
  | SignalingCopyFinding
  | UnexpectedRelayFinding
  | KeyExposureFinding
  | DeclaredRecordingFinding;

export interface FindingUpdatedEvent extends EventBase {
  type: 'finding_updated';
  findingId: string;
  findingType: FindingType;
  severity: Severity;
  confidence: number;
  callId: string | null;
  /** How many times this finding has been updated. */
  updates: number;
  evidenceIncomplete: boolean;
  /** Finding fields that changed with this update (e.g. copyTo once ARP named the copy's next hop). */
  changes: Record<string, string | number | boolean>;
  evidence: Evidence;
}

export type TapwatchEvent =
  | CallStartedEvent
  | CallUpdatedEvent
  | CallEndedEvent
  | StreamStartedEvent
  | StreamEndedEvent
  | SensorStatsEvent
  | FindingEvent
  | FindingUpdatedEvent;

export type EventType = TapwatchEvent['type'];

/** Distributes the Omit over the union so each member keeps its own fields. */
export type DistributiveOmit<T, K extends keyof any> = T extends unknown ? Omit<T, K> : never;
/** What producers hand to the emitter: everything but the envelope fields it fills in. */
export type EventBody = DistributiveOmit<TapwatchEvent, 'v' | 'id' | 'sensor'>;

export interface EventSink {
  write(event: TapwatchEvent): void;
  /** Flush buffered output; resolves when durable (stdout drained, Kafka acked...). */
  flush(): Promise<void>;
  /** Output counters for sensor_stats.output (sinks that queue, such as Kafka). */
  stats?(): OutputStats;
  /**
   * Per-stream media fingerprints for the collector's cross-sensor join
   * (format: collector/src/ingest/fingerprint.ts). Optional: the sensor
   * computes fingerprints only when some sink implements this.
   */
  fingerprint?(fp: StreamFingerprint): void;
}
