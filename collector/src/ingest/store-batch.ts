/**
 * Writes one batch of validated messages inside the caller's transaction.
 *
 * Idempotence: the events table's primary key is the event id. The batch is
 * inserted with ON CONFLICT (id) DO NOTHING RETURNING id, and only the events
 * that come back (stored for the first time) feed the derived tables. A
 * redelivered message therefore changes nothing, however often it comes.
 *
 * Speed: rows travel as one JSON array per statement, built by joining the
 * messages' raw text, so nothing is serialised twice. The array is taken as
 * `json` (kept as text, split lazily by json_array_elements /
 * json_to_recordset), which measured 3-4x faster than parsing the whole
 * array as jsonb first; only each event's body is converted to jsonb. A
 * batch costs a fixed handful of statements, whatever its size. Rows of the
 * derived tables are sorted by key, so concurrent transactions (one per
 * partition group, pipeline.ts) lock shared rows in one order and cannot
 * deadlock on them.
 */
import type pg from 'pg';
import type { FindingEvent, FindingType, TapwatchEvent } from '../../../sensor/src/events/types.js';
import { FINDING_TYPES } from '../../../sensor/src/events/types.js';
import { TABLES } from '../names.js';
import { crossSensorFinding, matchFingerprints, originalScore, type FingerprintBlock, type StreamFingerprint } from './fingerprint.js';
import { foldRows, type SensorRow } from './rows.js';

export interface StorableEvent {
  event: TapwatchEvent;
  /** The message text exactly as received (valid JSON). */
  raw: string;
}

export interface StoreResult {
  /** Events stored for the first time (including findings made by the cross-sensor join). */
  inserted: TapwatchEvent[];
  /** Events that were already stored (redeliveries). */
  duplicates: TapwatchEvent[];
  /** Findings stored for the first time. */
  newFindings: FindingEvent[];
  /** duplicate_stream findings made here by joining fingerprints (subset of newFindings). */
  crossSensor: FindingEvent[];
  /** Sensors touched by this batch, with their stored telemetry after the batch. */
  sensors: SensorTelemetry[];
}

export interface SensorTelemetry {
  sensor: string;
  last_seen: number;
  packet_rate: number | null;
  kernel_drops: number | null;
  producer_queue: number | null;
}

const FINDING_TYPE_SET = new Set<string>(FINDING_TYPES);
export const isFinding = (e: TapwatchEvent): e is FindingEvent => FINDING_TYPE_SET.has(e.type as FindingType);

// Each element is converted to jsonb ONCE (the MATERIALIZED CTE keeps the
// planner from inlining e::jsonb into every column) and the columns are read
// from the jsonb. Reading them with ->> from the json element instead re-parsed
// the element's text for every column: six parses per event, which made this
// statement ~80% of a batch's database time (docs/pipeline.md).
const INSERT_EVENTS = `
WITH rows AS MATERIALIZED (SELECT e::jsonb AS b FROM json_array_elements($1::json) AS e)
INSERT INTO ${TABLES.events} (id, type, sensor, ts, call_id, body)
SELECT b->>'id', b->>'type', b->>'sensor', (b->>'ts')::float8, b->>'callId', b
FROM rows
ON CONFLICT (id) DO NOTHING
RETURNING id`;

const INSERT_FINDINGS = `
WITH rows AS MATERIALIZED (SELECT e::jsonb AS b FROM json_array_elements($1::json) AS e)
INSERT INTO ${TABLES.findings} (id, finding_id, type, severity, confidence, sensor, call_id, ssrc, copy_to, relay, summary, ts, first_seen, evidence, body)
SELECT b->>'id', b->>'findingId', b->>'type', b->>'severity', (b->>'confidence')::float8, b->>'sensor', b->>'callId',
       (b->>'ssrc')::bigint, b->>'copyTo', b->>'relay', b->>'summary', (b->>'ts')::float8, (b->>'firstSeen')::float8, b->'evidence', b
FROM rows
ON CONFLICT (id) DO NOTHING`;

// A finding_updated carries the absolute severity, confidence and evidence
// after N updates, plus the finding fields it changed (e.g. copyTo once the
// copy's next hop is known). Applying it only when N is larger keeps the row
// monotone; the changed fields are merged into the stored finding.
const APPLY_FINDING_UPDATES = `
UPDATE ${TABLES.findings} AS f
SET severity = u.severity, confidence = u.confidence, evidence = u.evidence, updates = u.updates, updated_ts = u.ts,
    copy_to = COALESCE(u.changes->>'copyTo', f.copy_to),
    relay = COALESCE(u.changes->>'relay', f.relay),
    body = f.body || u.changes || jsonb_build_object('evidenceIncomplete', u.evidence_incomplete)
FROM json_to_recordset($1::json) AS u(finding_id text, changes jsonb, severity text, confidence float8, evidence jsonb,
  evidence_incomplete boolean, updates int, ts float8)
WHERE f.finding_id = u.finding_id AND f.updates < u.updates`;

const UPSERT_CALLS = `
INSERT INTO ${TABLES.calls} AS c (call_id, sensor, from_uri, to_uri, transport, src, dst, state, state_ts, start_ts, answer_ts, end_ts,
                      duration_sec, final_status, end_reason, ended, first_ts, last_ts)
SELECT * FROM json_to_recordset($1::json) AS r(call_id text, sensor text, from_uri text, to_uri text, transport text, src text, dst text,
  state text, state_ts float8, start_ts float8, answer_ts float8, end_ts float8, duration_sec float8, final_status int, end_reason text,
  ended boolean, first_ts float8, last_ts float8)
ON CONFLICT (call_id, sensor) DO UPDATE SET
  from_uri = COALESCE(c.from_uri, EXCLUDED.from_uri),
  to_uri = COALESCE(c.to_uri, EXCLUDED.to_uri),
  transport = COALESCE(c.transport, EXCLUDED.transport),
  src = COALESCE(c.src, EXCLUDED.src),
  dst = COALESCE(c.dst, EXCLUDED.dst),
  state = CASE WHEN EXCLUDED.state_ts IS NOT NULL AND (c.state_ts IS NULL OR EXCLUDED.state_ts >= c.state_ts) THEN EXCLUDED.state ELSE c.state END,
  state_ts = GREATEST(c.state_ts, EXCLUDED.state_ts),
  start_ts = LEAST(c.start_ts, EXCLUDED.start_ts),
  answer_ts = LEAST(c.answer_ts, EXCLUDED.answer_ts),
  end_ts = COALESCE(EXCLUDED.end_ts, c.end_ts),
  duration_sec = COALESCE(EXCLUDED.duration_sec, c.duration_sec),
  final_status = COALESCE(EXCLUDED.final_status, c.final_status),
  end_reason = COALESCE(EXCLUDED.end_reason, c.end_reason),
  ended = c.ended OR EXCLUDED.ended,
  first_ts = LEAST(c.first_ts, EXCLUDED.first_ts),
  last_ts = GREATEST(c.last_ts, EXCLUDED.last_ts)`;

const UPSERT_STREAMS = `
INSERT INTO ${TABLES.streams} AS s (stream_id, sensor, ssrc, src, dst, call_id, payload_type, encrypted, classified_by, transport, start_ts, end_ts,
                        packets, bytes, lost, duplicates, jitter_ms, end_reason, ended, first_ts, last_ts)
SELECT * FROM json_to_recordset($1::json) AS r(stream_id text, sensor text, ssrc bigint, src text, dst text, call_id text, payload_type int,
  encrypted boolean, classified_by text, transport text, start_ts float8, end_ts float8, packets bigint, bytes bigint, lost bigint,
  duplicates bigint, jitter_ms float8, end_reason text, ended boolean, first_ts float8, last_ts float8)
ON CONFLICT (stream_id, sensor) DO UPDATE SET
  call_id = COALESCE(s.call_id, EXCLUDED.call_id),
  payload_type = COALESCE(s.payload_type, EXCLUDED.payload_type),
  encrypted = COALESCE(EXCLUDED.encrypted, s.encrypted),
  classified_by = COALESCE(EXCLUDED.classified_by, s.classified_by),
  transport = COALESCE(s.transport, EXCLUDED.transport),
  start_ts = LEAST(s.start_ts, EXCLUDED.start_ts),
  end_ts = COALESCE(EXCLUDED.end_ts, s.end_ts),
  packets = COALESCE(EXCLUDED.packets, s.packets),
  bytes = COALESCE(EXCLUDED.bytes, s.bytes),
  lost = COALESCE(EXCLUDED.lost, s.lost),
  duplicates = COALESCE(EXCLUDED.duplicates, s.duplicates),
  jitter_ms = COALESCE(EXCLUDED.jitter_ms, s.jitter_ms),
  end_reason = COALESCE(EXCLUDED.end_reason, s.end_reason),
  ended = s.ended OR EXCLUDED.ended,
  first_ts = LEAST(s.first_ts, EXCLUDED.first_ts),
  last_ts = GREATEST(s.last_ts, EXCLUDED.last_ts)`;

// Telemetry columns move only forward in time (stats_ts). The packet rate is
// the difference to the stored stats of the same run (uptime grew), else the
// rate between two stats of this batch, else packets/uptime.
const NEWER = '(EXCLUDED.stats_ts IS NOT NULL AND (s.stats_ts IS NULL OR EXCLUDED.stats_ts > s.stats_ts))';
const UPSERT_SENSORS = `
INSERT INTO ${TABLES.sensors} AS s (sensor, first_seen, last_seen, stats_ts, uptime_sec, packets, kernel_drops, if_drops, drops_unavailable,
                        packet_rate, producer_queue, stats)
SELECT sensor, first_seen, last_seen, stats_ts, uptime_sec, packets, kernel_drops, if_drops, drops_unavailable,
       COALESCE(rate_pair, rate_single), producer_queue, stats
FROM json_to_recordset($1::json) AS r(sensor text, first_seen float8, last_seen float8, stats_ts float8, uptime_sec float8, packets bigint,
  kernel_drops bigint, if_drops bigint, drops_unavailable boolean, rate_pair float8, rate_single float8, producer_queue bigint, stats jsonb)
ON CONFLICT (sensor) DO UPDATE SET
  first_seen = LEAST(s.first_seen, EXCLUDED.first_seen),
  last_seen = GREATEST(s.last_seen, EXCLUDED.last_seen),
  packet_rate = CASE
    WHEN NOT ${NEWER} THEN s.packet_rate
    WHEN s.uptime_sec IS NOT NULL AND EXCLUDED.uptime_sec > s.uptime_sec AND EXCLUDED.packets >= s.packets
      THEN (EXCLUDED.packets - s.packets)::float8 / (EXCLUDED.uptime_sec - s.uptime_sec)
    ELSE EXCLUDED.packet_rate END,
  stats_ts = CASE WHEN ${NEWER} THEN EXCLUDED.stats_ts ELSE s.stats_ts END,
  uptime_sec = CASE WHEN ${NEWER} THEN EXCLUDED.uptime_sec ELSE s.uptime_sec END,
  packets = CASE WHEN ${NEWER} THEN EXCLUDED.packets ELSE s.packets END,
  kernel_drops = CASE WHEN ${NEWER} THEN EXCLUDED.kernel_drops ELSE s.kernel_drops END,
  if_drops = CASE WHEN ${NEWER} THEN EXCLUDED.if_drops ELSE s.if_drops END,
  drops_unavailable = CASE WHEN ${NEWER} THEN EXCLUDED.drops_unavailable ELSE s.drops_unavailable END,
  producer_queue = CASE WHEN ${NEWER} THEN EXCLUDED.producer_queue ELSE s.producer_queue END,
  stats = CASE WHEN ${NEWER} THEN EXCLUDED.stats ELSE s.stats END
RETURNING sensor, last_seen, packet_rate, kernel_drops, producer_queue`;

const UPSERT_FINGERPRINTS = `
INSERT INTO ${TABLES.fingerprints} AS f (stream_id, sensor, id, ssrc, src, dst, outer_dst, call_id, classified_by, first_ts, last_ts, packets,
                             rtp_ts_first, rtp_ts_last, block_size, blocks)
SELECT e->>'streamId', e->>'sensor', e->>'id', (e->>'ssrc')::bigint, e->>'src', e->>'dst', e->>'outerDst', e->>'callId', e->>'classifiedBy',
       (e->>'firstTs')::float8, (e->>'lastTs')::float8, (e->>'packets')::bigint, (e->>'rtpTsFirst')::bigint, (e->>'rtpTsLast')::bigint,
       (e->>'blockSize')::int, e->'blocks'
FROM (SELECT e::jsonb AS e FROM json_array_elements($1::json) AS e OFFSET 0) AS x
ON CONFLICT (stream_id, sensor) DO UPDATE SET
  id = EXCLUDED.id, call_id = COALESCE(EXCLUDED.call_id, f.call_id), classified_by = EXCLUDED.classified_by, outer_dst = EXCLUDED.outer_dst,
  first_ts = LEAST(f.first_ts, EXCLUDED.first_ts), last_ts = EXCLUDED.last_ts, packets = EXCLUDED.packets,
  rtp_ts_first = EXCLUDED.rtp_ts_first, rtp_ts_last = EXCLUDED.rtp_ts_last, block_size = EXCLUDED.block_size, blocks = EXCLUDED.blocks
WHERE EXCLUDED.last_ts >= f.last_ts`;

const SELECT_JOIN_CANDIDATES = `
SELECT stream_id, sensor, id, ssrc, src, dst, outer_dst, call_id, classified_by, first_ts, last_ts, packets, rtp_ts_first, rtp_ts_last, block_size, blocks
FROM ${TABLES.fingerprints}
WHERE ssrc = ANY($1::bigint[]) AND last_ts >= $2`;

interface FingerprintDbRow {
  stream_id: string; sensor: string; id: string; ssrc: number; src: string; dst: string; outer_dst: string | null; call_id: string | null;
  classified_by: 'sdp' | 'heuristic'; first_ts: number; last_ts: number; packets: number; rtp_ts_first: number; rtp_ts_last: number;
  block_size: number; blocks: FingerprintBlock[];
}

function fromDb(r: FingerprintDbRow): StreamFingerprint {
  return {
    v: 1, type: 'stream_fingerprint', id: r.id, ts: r.last_ts, sensor: r.sensor, streamId: r.stream_id, ssrc: r.ssrc, src: r.src, dst: r.dst,
    outerDst: r.outer_dst, callId: r.call_id, classifiedBy: r.classified_by, firstTs: r.first_ts, lastTs: r.last_ts, packets: r.packets,
    seqFirst: r.blocks[0]?.seq ?? 0, seqLast: r.blocks[r.blocks.length - 1]?.seq ?? 0, rtpTsFirst: r.rtp_ts_first, rtpTsLast: r.rtp_ts_last,
    blockSize: r.block_size, blocks: r.blocks,
  };
}

/**
 * Stores fingerprints (latest per stream and sensor) and joins each one with
 * the other sensors' fingerprints of the same SSRC. Returns the findings.
 */
async function storeAndJoinFingerprints(client: pg.PoolClient, fps: readonly StreamFingerprint[], windowSec: number): Promise<FindingEvent[]> {
  if (fps.length === 0) return [];
  const latest = new Map<string, StreamFingerprint>();
  for (const fp of fps) {
    const k = `${fp.sensor}\0${fp.streamId}`;
    const prev = latest.get(k);
    if (!prev || fp.lastTs >= prev.lastTs) latest.set(k, fp);
  }
  const batch = [...latest.values()];
  await client.query(UPSERT_FINGERPRINTS, [JSON.stringify(batch)]);
  const ssrcs = [...new Set(batch.map((f) => f.ssrc))];
  const oldest = Math.min(...batch.map((f) => f.firstTs)) - windowSec;
  const candidates = (await client.query<FingerprintDbRow>(SELECT_JOIN_CANDIDATES, [ssrcs, oldest])).rows.map(fromDb);
  const bySsrc = new Map<number, StreamFingerprint[]>();
  for (const c of candidates) {
    const list = bySsrc.get(c.ssrc);
    if (list) list.push(c);
    else bySsrc.set(c.ssrc, [c]);
  }
  // One finding per copy stream; when its original was seen by several
  // sensors, name the most authoritative one (signalled, not tunnelled).
  const out = new Map<string, { finding: FindingEvent; score: number; firstTs: number }>();
  for (const fp of batch) {
    for (const other of bySsrc.get(fp.ssrc) ?? []) {
      if (other.sensor === fp.sensor) continue;
      const m = matchFingerprints(fp, other, windowSec);
      if (!m) continue;
      const finding = crossSensorFinding(m);
      const score = originalScore(m.original);
      const prev = out.get(finding.id);
      if (!prev || score > prev.score || (score === prev.score && m.original.firstTs < prev.firstTs)) {
        out.set(finding.id, { finding, score, firstTs: m.original.firstTs });
      }
    }
  }
  return [...out.values()].map((v) => v.finding);
}

export interface StoreOptions {
  fingerprintWindowSec: number;
}

/** Runs inside a transaction the caller opened; throws on database errors (the caller rolls back). */
export async function storeBatch(
  client: pg.PoolClient,
  events: readonly StorableEvent[],
  fingerprints: readonly StreamFingerprint[],
  opts: StoreOptions,
): Promise<StoreResult> {
  const cross = await storeAndJoinFingerprints(client, fingerprints, opts.fingerprintWindowSec);
  const all: StorableEvent[] = events.slice();
  for (const f of cross) all.push({ event: f, raw: JSON.stringify(f) });

  const result: StoreResult = { inserted: [], duplicates: [], newFindings: [], crossSensor: [], sensors: [] };
  if (all.length === 0) return result;
  const ids = await client.query<{ id: string }>(INSERT_EVENTS, ['[' + all.map((e) => e.raw).join(',') + ']']);
  const fresh = new Set(ids.rows.map((r) => r.id));
  const seen = new Set<string>();
  const newFindingRaw: string[] = [];
  for (const { event, raw } of all) {
    // An id appearing twice in one batch is stored once; the second is a duplicate.
    if (fresh.has(event.id) && !seen.has(event.id)) {
      seen.add(event.id);
      result.inserted.push(event);
      if (isFinding(event)) {
        result.newFindings.push(event);
        newFindingRaw.push(raw);
      }
    } else {
      result.duplicates.push(event);
    }
  }
  const crossIds = new Set(cross.map((f) => f.id));
  result.crossSensor = result.newFindings.filter((f) => crossIds.has(f.id));
  if (result.inserted.length === 0) return result;

  if (newFindingRaw.length) await client.query(INSERT_FINDINGS, ['[' + newFindingRaw.join(',') + ']']);
  const rows = foldRows(result.inserted);
  if (rows.findingUpdates.length) await client.query(APPLY_FINDING_UPDATES, [JSON.stringify(rows.findingUpdates)]);
  if (rows.calls.length) await client.query(UPSERT_CALLS, [JSON.stringify(rows.calls)]);
  if (rows.streams.length) await client.query(UPSERT_STREAMS, [JSON.stringify(rows.streams)]);
  if (rows.sensors.length) {
    const res = await client.query<SensorTelemetry>(UPSERT_SENSORS, [JSON.stringify(rows.sensors satisfies SensorRow[])]);
    result.sensors = res.rows;
  }
  return result;
}
