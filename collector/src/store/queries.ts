/**
 * The dashboard's read queries. Findings are paged with a keyset cursor on
 * (ts, id), newest first, which uses the (…, ts DESC, id DESC) indexes and
 * stays O(page) however deep the client pages (no OFFSET).
 */
import type pg from 'pg';
import { TABLES } from '../names.js';

export interface FindingFilter {
  type?: string;
  severity?: string;
  sensor?: string;
  callId?: string;
  since?: number;
  until?: number;
  limit: number;
  after?: { ts: number; id: string };
}

export interface FindingSummary {
  id: string;
  findingId: string;
  type: string;
  severity: string;
  confidence: number;
  sensor: string;
  callId: string | null;
  ssrc: number | null;
  copyTo: string | null;
  relay: string | null;
  summary: string;
  ts: number;
  firstSeen: number;
  updates: number;
}

const SUMMARY_COLUMNS = `id, finding_id AS "findingId", type, severity, confidence, sensor, call_id AS "callId", ssrc, copy_to AS "copyTo", relay,
  summary, ts, first_seen AS "firstSeen", updates`;

export async function listFindings(db: pg.Pool, f: FindingFilter): Promise<{ items: FindingSummary[]; last: { ts: number; id: string } | null }> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, v: unknown): void => {
    params.push(v);
    where.push(sql.replace('?', `$${params.length}`));
  };
  if (f.type !== undefined) add('type = ?', f.type);
  if (f.severity !== undefined) add('severity = ?', f.severity);
  if (f.sensor !== undefined) add('sensor = ?', f.sensor);
  if (f.callId !== undefined) add('call_id = ?', f.callId);
  if (f.since !== undefined) add('ts >= ?', f.since);
  if (f.until !== undefined) add('ts < ?', f.until);
  if (f.after) {
    params.push(f.after.ts, f.after.id);
    where.push(`(ts, id) < ($${params.length - 1}, $${params.length})`);
  }
  params.push(f.limit + 1);
  const sql = `SELECT ${SUMMARY_COLUMNS} FROM ${TABLES.findings} ${where.length ? 'WHERE ' + where.join(' AND ') : ''}
    ORDER BY ts DESC, id DESC LIMIT $${params.length}`;
  const rows = (await db.query<FindingSummary>(sql, params)).rows;
  const more = rows.length > f.limit;
  const items = more ? rows.slice(0, f.limit) : rows;
  const lastRow = items[items.length - 1];
  return { items, last: more && lastRow ? { ts: lastRow.ts, id: lastRow.id } : null };
}

/** The finding with its full evidence; id is the event id or the findingId. */
export async function getFinding(db: pg.Pool, id: string): Promise<Record<string, unknown> | null> {
  const r = await db.query<{ body: Record<string, unknown>; severity: string; confidence: number; evidence: unknown; updates: number; updated_ts: number | null }>(
    `SELECT body, severity, confidence, evidence, updates, updated_ts FROM ${TABLES.findings} WHERE id = $1
     UNION ALL
     (SELECT body, severity, confidence, evidence, updates, updated_ts FROM ${TABLES.findings} WHERE finding_id = $1 AND id <> $1 ORDER BY ts DESC LIMIT 1)
     LIMIT 1`,
    [id],
  );
  const row = r.rows[0];
  if (!row) return null;
  // The stored body is the event as received; finding_updated events may have changed these since.
  return { ...row.body, severity: row.severity, confidence: row.confidence, evidence: row.evidence, updates: row.updates, updatedTs: row.updated_ts };
}

export interface CallTimeline {
  callId: string;
  sensors: string[];
  calls: Array<Record<string, unknown>>;
  events: Array<{ id: string; type: string; sensor: string; ts: number; event: Record<string, unknown> }>;
  findings: FindingSummary[];
  truncated: boolean;
}

export async function getCallTimeline(db: pg.Pool, callId: string, maxEvents: number): Promise<CallTimeline | null> {
  const [events, calls, findings] = await Promise.all([
    db.query<{ id: string; type: string; sensor: string; ts: number; event: Record<string, unknown> }>(
      `SELECT id, type, sensor, ts, body AS event FROM ${TABLES.events} WHERE call_id = $1 ORDER BY ts, id LIMIT $2`,
      [callId, maxEvents + 1],
    ),
    db.query(
      `SELECT sensor, from_uri AS "from", to_uri AS "to", transport, src, dst, state, start_ts AS "startTs", answer_ts AS "answerTs",
              end_ts AS "endTs", duration_sec AS "durationSec", final_status AS "finalStatus", end_reason AS "endReason", ended,
              first_ts AS "firstTs", last_ts AS "lastTs"
       FROM ${TABLES.calls} WHERE call_id = $1 ORDER BY first_ts, sensor`,
      [callId],
    ),
    db.query<FindingSummary>(`SELECT ${SUMMARY_COLUMNS} FROM ${TABLES.findings} WHERE call_id = $1 ORDER BY ts, id LIMIT 1000`, [callId]),
  ]);
  if (events.rows.length === 0 && calls.rows.length === 0) return null;
  const truncated = events.rows.length > maxEvents;
  const list = truncated ? events.rows.slice(0, maxEvents) : events.rows;
  const sensors = [...new Set([...calls.rows.map((c) => String(c.sensor)), ...list.map((e) => e.sensor)])].sort();
  return { callId, sensors, calls: calls.rows, events: list, findings: findings.rows, truncated };
}

export interface SensorSummary {
  sensor: string;
  firstSeen: number;
  lastSeen: number;
  statsTs: number | null;
  uptimeSec: number | null;
  packets: number | null;
  packetRate: number | null;
  kernelDrops: number | null;
  ifDrops: number | null;
  dropsUnavailable: boolean | null;
  producerQueue: number | null;
}

export async function listSensors(db: pg.Pool): Promise<SensorSummary[]> {
  return (
    await db.query<SensorSummary>(
      `SELECT sensor, first_seen AS "firstSeen", last_seen AS "lastSeen", stats_ts AS "statsTs", uptime_sec AS "uptimeSec", packets,
              packet_rate AS "packetRate", kernel_drops AS "kernelDrops", if_drops AS "ifDrops", drops_unavailable AS "dropsUnavailable",
              producer_queue AS "producerQueue"
       FROM ${TABLES.sensors} ORDER BY sensor LIMIT 10000`,
    )
  ).rows;
}
