/**
 * Folds a batch's newly stored events into one row per key for the derived
 * tables (calls, streams, sensors, finding updates). PostgreSQL refuses an
 * INSERT ... ON CONFLICT DO UPDATE that touches one row twice, so events of
 * the same call or stream within a batch are merged here first, with the
 * same rules the SQL applies across batches (store-batch.ts).
 */
import type {
  CallEndedEvent,
  CallStartedEvent,
  CallUpdatedEvent,
  FindingUpdatedEvent,
  SensorStatsEvent,
  StreamEndedEvent,
  StreamStartedEvent,
  TapwatchEvent,
} from '../../../sensor/src/events/types.js';

export interface CallRow {
  call_id: string;
  sensor: string;
  from_uri: string | null;
  to_uri: string | null;
  transport: string | null;
  src: string | null;
  dst: string | null;
  state: string | null;
  state_ts: number | null;
  start_ts: number | null;
  answer_ts: number | null;
  end_ts: number | null;
  duration_sec: number | null;
  final_status: number | null;
  end_reason: string | null;
  ended: boolean;
  first_ts: number;
  last_ts: number;
}

export interface StreamRow {
  stream_id: string;
  sensor: string;
  ssrc: number;
  src: string;
  dst: string;
  call_id: string | null;
  payload_type: number | null;
  encrypted: boolean | null;
  classified_by: string | null;
  transport: string | null;
  start_ts: number | null;
  end_ts: number | null;
  packets: number | null;
  bytes: number | null;
  lost: number | null;
  duplicates: number | null;
  jitter_ms: number | null;
  end_reason: string | null;
  ended: boolean;
  first_ts: number;
  last_ts: number;
}

export interface SensorRow {
  sensor: string;
  first_seen: number;
  last_seen: number;
  stats_ts: number | null;
  uptime_sec: number | null;
  packets: number | null;
  kernel_drops: number | null;
  if_drops: number | null;
  drops_unavailable: boolean | null;
  /** Rate from two stats of this batch, when it holds two. */
  rate_pair: number | null;
  /** packets / uptime of the latest stats: the rate when nothing earlier is known. */
  rate_single: number | null;
  producer_queue: number | null;
  stats: SensorStatsEvent | null;
}

export interface FindingUpdateRow {
  finding_id: string;
  /** Finding fields changed by this update and the earlier ones of the batch (later wins). */
  changes: Record<string, string | number | boolean>;
  severity: string;
  confidence: number;
  evidence: unknown;
  evidence_incomplete: boolean;
  updates: number;
  ts: number;
}

export interface FoldedRows {
  calls: CallRow[];
  streams: StreamRow[];
  sensors: SensorRow[];
  findingUpdates: FindingUpdateRow[];
}

const min = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : Math.min(a, b));

/**
 * The sensor's producer queue: events its Kafka output holds and has not yet
 * delivered (librdkafka's queue + the in-memory buffer + the disk spool),
 * from sensor_stats.output. Null when the sensor writes no Kafka output.
 */
export function producerQueueOf(stats: SensorStatsEvent): number | null {
  const o = stats.output;
  return o ? o.queued + o.buffered + o.spooled : null;
}

function foldCall(rows: Map<string, CallRow>, e: CallStartedEvent | CallUpdatedEvent | CallEndedEvent): void {
  const key = `${e.sensor}\0${e.callId}`;
  let r = rows.get(key);
  if (!r) {
    r = {
      call_id: e.callId, sensor: e.sensor, from_uri: null, to_uri: null, transport: null, src: null, dst: null,
      state: null, state_ts: null, start_ts: null, answer_ts: null, end_ts: null, duration_sec: null,
      final_status: null, end_reason: null, ended: false, first_ts: e.ts, last_ts: e.ts,
    };
    rows.set(key, r);
  }
  r.first_ts = Math.min(r.first_ts, e.ts);
  r.last_ts = Math.max(r.last_ts, e.ts);
  const setState = (state: string): void => {
    if (r!.state_ts === null || e.ts >= r!.state_ts) {
      r!.state = state;
      r!.state_ts = e.ts;
    }
  };
  switch (e.type) {
    case 'call_started':
      r.from_uri ??= e.from;
      r.to_uri ??= e.to;
      r.transport ??= e.transport;
      r.src ??= e.src;
      r.dst ??= e.dst;
      r.start_ts = min(r.start_ts, e.ts);
      setState('trying');
      break;
    case 'call_updated':
      setState(e.state);
      if (e.reason === 'answered') r.answer_ts = min(r.answer_ts, e.ts);
      break;
    case 'call_ended':
      setState(e.state);
      r.start_ts = min(r.start_ts, e.startTs);
      r.answer_ts = r.answer_ts ?? e.answerTs;
      r.end_ts = e.ts;
      r.duration_sec = e.durationSec;
      r.final_status = e.finalStatus;
      r.end_reason = e.reason;
      r.ended = true;
      break;
  }
}

function foldStream(rows: Map<string, StreamRow>, e: StreamStartedEvent | StreamEndedEvent): void {
  const key = `${e.sensor}\0${e.streamId}`;
  let r = rows.get(key);
  if (!r) {
    r = {
      stream_id: e.streamId, sensor: e.sensor, ssrc: e.ssrc, src: e.src, dst: e.dst, call_id: e.callId,
      payload_type: null, encrypted: e.encrypted, classified_by: e.classifiedBy, transport: e.transport,
      start_ts: null, end_ts: null, packets: null, bytes: null, lost: null, duplicates: null, jitter_ms: null,
      end_reason: null, ended: false, first_ts: e.ts, last_ts: e.ts,
    };
    rows.set(key, r);
  }
  r.first_ts = Math.min(r.first_ts, e.ts);
  r.last_ts = Math.max(r.last_ts, e.ts);
  r.call_id ??= e.callId;
  if (e.type === 'stream_started') {
    r.payload_type ??= e.payloadType;
    r.start_ts = min(r.start_ts, e.ts);
  } else {
    r.payload_type ??= e.payloadTypes[0] ?? null;
    r.start_ts = min(r.start_ts, e.firstTs);
    r.end_ts = e.lastTs;
    r.packets = e.packets;
    r.bytes = e.bytes;
    r.lost = e.lost;
    r.duplicates = e.duplicates;
    r.jitter_ms = e.jitterMs;
    r.end_reason = e.reason;
    r.encrypted = e.encrypted;
    r.classified_by = e.classifiedBy;
    r.ended = true;
  }
}

function foldSensor(rows: Map<string, SensorRow>, prevStats: Map<string, SensorStatsEvent>, e: TapwatchEvent): void {
  let r = rows.get(e.sensor);
  if (!r) {
    r = {
      sensor: e.sensor, first_seen: e.ts, last_seen: e.ts, stats_ts: null, uptime_sec: null, packets: null,
      kernel_drops: null, if_drops: null, drops_unavailable: null, rate_pair: null, rate_single: null, producer_queue: null, stats: null,
    };
    rows.set(e.sensor, r);
  }
  r.first_seen = Math.min(r.first_seen, e.ts);
  r.last_seen = Math.max(r.last_seen, e.ts);
  if (e.type !== 'sensor_stats') return;
  if (r.stats_ts !== null && e.ts <= r.stats_ts) return;
  const prev = r.stats;
  if (prev) prevStats.set(e.sensor, prev);
  r.stats_ts = e.ts;
  r.uptime_sec = e.uptimeSec;
  r.packets = e.packets;
  r.kernel_drops = e.kernelDrops;
  r.if_drops = e.ifDrops;
  r.drops_unavailable = e.dropsUnavailable;
  r.producer_queue = producerQueueOf(e);
  r.stats = e;
  r.rate_single = e.uptimeSec > 0 ? e.packets / e.uptimeSec : null;
  // Two stats of one run in this batch: the rate between them. A restart (uptime went down) has no pair.
  r.rate_pair = prev && e.uptimeSec > prev.uptimeSec && e.packets >= prev.packets ? (e.packets - prev.packets) / (e.uptimeSec - prev.uptimeSec) : null;
}

/** Folds the events in ts order (the order the sensor produced them). */
export function foldRows(events: readonly TapwatchEvent[]): FoldedRows {
  const calls = new Map<string, CallRow>();
  const streams = new Map<string, StreamRow>();
  const sensors = new Map<string, SensorRow>();
  const prevStats = new Map<string, SensorStatsEvent>();
  const updates = new Map<string, FindingUpdateRow>();
  const sorted = [...events].sort((a, b) => a.ts - b.ts);
  for (const e of sorted) {
    foldSensor(sensors, prevStats, e);
    switch (e.type) {
      case 'call_started':
      case 'call_updated':
      case 'call_ended':
        foldCall(calls, e);
        break;
      case 'stream_started':
      case 'stream_ended':
        foldStream(streams, e);
        break;
      case 'finding_updated': {
        const u = e as FindingUpdatedEvent;
        const prev = updates.get(u.findingId);
        if (!prev || u.updates > prev.updates) {
          updates.set(u.findingId, {
            finding_id: u.findingId, changes: { ...prev?.changes, ...u.changes }, severity: u.severity, confidence: u.confidence,
            evidence: u.evidence, evidence_incomplete: u.evidenceIncomplete, updates: u.updates, ts: u.ts,
          });
        } else {
          // An older update of the batch: its changes count only where no newer one set the field.
          prev.changes = { ...u.changes, ...prev.changes };
        }
        break;
      }
      default:
        break;
    }
  }
  // Sorted by key: concurrent transactions then lock shared rows in the same order.
  const byKey = <T>(m: Map<string, T>): T[] => [...m.keys()].sort().map((k) => m.get(k)!);
  return { calls: byKey(calls), streams: byKey(streams), sensors: byKey(sensors), findingUpdates: byKey(updates) };
}
