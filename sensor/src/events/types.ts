/**
 * The event contract between the sensor and everything downstream (stdout,
 * Kafka, the collector). Suricata's eve.json has a versioned JSON Schema
 * (etc/schema.json); tapwatch keeps one schema per event type under
 * sensor/schemas/<type>.v<N>.json and this union mirrors them.
 *
 * Privacy: no event ever carries media payload bytes or key material. SDES
 * keys appear only as a truncated SHA-256 (`keyHash`), never in clear.
 */

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
  decodeErrors: Record<string, number>;
  /** Packets by what they carried. */
  classified: { sip: number; rtp: number; rtcp: number; stun: number; dtls: number; zrtp: number; other: number; nonIp: number; fragments: number };
  sip: { messages: number; requests: number; responses: number; retransmissions: number; callIds: number; inviteDialogs: number };
  tables: { flows: number; streams: number; calls: number; expectations: number; peakFlows: number; peakStreams: number; peakCalls: number };
  evictions: { flowsIdle: number; flowsFull: number; streamsIdle: number; streamsFull: number; callsIdle: number; callsFull: number };
  memory: { rss: number; heapUsed: number; peakRss: number };
  warnings: string[];
}

export type TapwatchEvent =
  | CallStartedEvent
  | CallUpdatedEvent
  | CallEndedEvent
  | StreamStartedEvent
  | StreamEndedEvent
  | SensorStatsEvent;

export type EventType = TapwatchEvent['type'];

/** Distributes the Omit over the union so each member keeps its own fields. */
export type DistributiveOmit<T, K extends keyof any> = T extends unknown ? Omit<T, K> : never;
/** What producers hand to the emitter: everything but the envelope fields it fills in. */
export type EventBody = DistributiveOmit<TapwatchEvent, 'v' | 'id' | 'sensor'>;

export interface EventSink {
  write(event: TapwatchEvent): void;
  /** Flush buffered output; resolves when durable (stdout drained, Kafka acked...). */
  flush(): Promise<void>;
}
