/**
 * Call drill-down: for the Call-ID in the `callId` variable, the legs (one
 * row per sensor that saw the call), its RTP streams, its findings and the
 * timeline of every stored event of the call. The panels do not filter by the
 * time range: a Call-ID names the call wherever it lies in time.
 */
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { TABLES } from '../../collector/src/names.js';
import { baseDashboard } from './common-parts.js';
import { POSTGRES_DS } from './datasources.js';
import { FINDING_API_LINK } from './findings.js';
import { PanelIds, row, table } from './panels.js';
import { SqlQueryBuilder } from './sql-query.js';
import { DASHBOARD_UIDS } from './uids.js';
import { callIdVariable, collectorUrlVariable } from './variables.js';

/** The callId variable as a quoted SQL literal (see findings.ts on :sqlstring). */
const CALL_ID = '${callId:sqlstring}';

export const CALL_LEGS_SQL = `
  SELECT c.sensor AS "sensor", c.from_uri AS "from", c.to_uri AS "to", c.transport AS "transport",
         c.src AS "signalling src", c.dst AS "signalling dst", c.state AS "state", c.final_status AS "final status",
         c.end_reason AS "end reason", to_timestamp(c.start_ts) AS "started", to_timestamp(c.answer_ts) AS "answered",
         to_timestamp(c.end_ts) AS "ended", c.duration_sec AS "duration"
  FROM ${TABLES.calls} c
  WHERE c.call_id = ${CALL_ID}
  ORDER BY c.first_ts, c.sensor
`;

export const CALL_STREAMS_SQL = `
  SELECT s.sensor AS "sensor", s.ssrc AS "ssrc", s.src AS "src", s.dst AS "dst", s.payload_type AS "payload type",
         s.encrypted AS "encrypted", s.classified_by AS "classified by", s.transport AS "transport",
         to_timestamp(s.start_ts) AS "started", to_timestamp(s.end_ts) AS "ended", s.packets AS "packets", s.lost AS "lost",
         s.duplicates AS "duplicates", s.jitter_ms AS "jitter ms", s.end_reason AS "end reason"
  FROM ${TABLES.streams} s
  WHERE s.call_id = ${CALL_ID}
  ORDER BY s.first_ts, s.sensor, s.stream_id
`;

export const CALL_FINDINGS_SQL = `
  SELECT to_timestamp(f.ts) AS "time", f.type AS "type", f.severity AS "severity", COALESCE(f.copy_to, f.relay) AS "copy to / relay",
         f.sensor AS "sensor", f.confidence AS "confidence", f.summary AS "summary", f.id AS "id"
  FROM ${TABLES.findings} f
  WHERE f.call_id = ${CALL_ID}
  ORDER BY f.ts, f.id
`;

/**
 * Every stored event of the call (signalling, streams, findings and their
 * updates) in capture order, with a one-line detail built from the event
 * body (sensor/schemas/*.v1.json field names).
 */
export const CALL_TIMELINE_SQL = `
  SELECT to_timestamp(e.ts) AS "time", e.type AS "event", e.sensor AS "sensor",
         e.body->>'severity' AS "severity",
         CASE
           WHEN e.type = 'call_started' THEN concat(e.body->>'from', ' -> ', e.body->>'to', ' (', e.body->>'src', ' -> ', e.body->>'dst', ')')
           WHEN e.type IN ('stream_started', 'stream_ended') THEN concat('SSRC ', e.body->>'ssrc', ' ', e.body->>'src', ' -> ', e.body->>'dst',
                COALESCE(', ' || (e.body->>'packets') || ' packets, ' || (e.body->>'lost') || ' lost', ''))
           WHEN e.body->>'summary' IS NOT NULL THEN e.body->>'summary'
           ELSE concat_ws(' ', e.body->>'state', e.body->>'reason', e.body->>'statusCode', e.body->>'finalStatus')
         END AS "detail",
         e.id AS "id"
  FROM ${TABLES.events} e
  WHERE e.call_id = ${CALL_ID}
  ORDER BY e.ts, e.id
  LIMIT 2000
`;

export function callDrilldownDashboard(): dashboard.Dashboard {
  const ids = new PanelIds();
  const d = baseDashboard(DASHBOARD_UIDS.callDrilldown, 'tapwatch / Call drill-down', 'One call: its legs, streams, findings and the timeline of its events.', 'now-24h')
    .withVariable(callIdVariable())
    .withVariable(collectorUrlVariable());

  d.withPanel(
    table(ids, POSTGRES_DS, 'Legs', 'One row per sensor that saw this Call-ID: the signalling path as each sensor saw it.',
      [new SqlQueryBuilder(CALL_LEGS_SQL).refId('A')], { w: 24, h: 6, noValue: 'No sensor saw this Call-ID (pick one in Call-ID above)' })
      .overrideByName('duration', [{ id: 'unit', value: 's' }]),
  );
  d.withPanel(
    table(ids, POSTGRES_DS, 'Streams', 'RTP streams tied to this call. More destinations than the SDP offered is what a copy looks like.',
      [new SqlQueryBuilder(CALL_STREAMS_SQL).refId('A')], { w: 24, h: 8, noValue: 'No RTP stream tied to this call' }),
  );
  d.withPanel(
    table(ids, POSTGRES_DS, 'Findings of this call', 'Click an id for the finding with its evidence in the collector API.',
      [new SqlQueryBuilder(CALL_FINDINGS_SQL).refId('A')], { w: 24, h: 6, noValue: 'No finding on this call' })
      .overrideByName('id', [{ id: 'links', value: [FINDING_API_LINK] }])
      .overrideByName('confidence', [{ id: 'unit', value: 'percentunit' }, { id: 'decimals', value: 0 }]),
  );
  d.withRow(row(ids, 'Timeline'));
  d.withPanel(
    table(ids, POSTGRES_DS, 'Timeline of events and findings', 'Every stored event of the call in capture order, across sensors.',
      [new SqlQueryBuilder(CALL_TIMELINE_SQL).refId('A')], { w: 24, h: 14, noValue: 'No event stored for this Call-ID' })
      .overrideByName('detail', [{ id: 'custom.width', value: 520 }]),
  );
  return d.build();
}
