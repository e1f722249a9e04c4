/**
 * Findings: the latest findings from PostgreSQL with type, severity, call,
 * copy destination or relay, sensor and confidence. Each row links to the
 * call drill-down (the Call-ID cell) and to the collector's
 * GET /api/findings/:id (the id cell) for the full evidence.
 */
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { TABLES } from '../../collector/src/names.js';
import { baseDashboard, NO_FINDINGS_TEXT } from './common-parts.js';
import { POSTGRES_DS } from './datasources.js';
import { dataLink, PanelIds, row, table, text } from './panels.js';
import { SqlQueryBuilder } from './sql-query.js';
import { DASHBOARD_UIDS, dashboardPath } from './uids.js';
import { collectorUrlVariable, findingTypeVariable, severityVariable } from './variables.js';

/** Rows the findings table shows at most (newest first); narrow the time range or the filters for older ones. */
export const FINDINGS_TABLE_LIMIT = 500;

/**
 * ${var:sqlstring} quotes every selected value and doubles embedded quotes
 * (https://grafana.com/docs/grafana/latest/dashboards/variables/variable-syntax/#sqlstring),
 * so a variable can never break out of the string.
 */
export const LATEST_FINDINGS_SQL = `
  SELECT to_timestamp(f.ts) AS "time",
         f.type AS "type",
         f.severity AS "severity",
         f.call_id AS "call",
         COALESCE(f.copy_to, f.relay) AS "copy to / relay",
         f.sensor AS "sensor",
         f.confidence AS "confidence",
         f.updates AS "updates",
         f.summary AS "summary",
         f.id AS "id"
  FROM ${TABLES.findings} f
  WHERE $__unixEpochFilter(f.ts)
    AND f.type IN (\${type:sqlstring})
    AND f.severity IN (\${severity:sqlstring})
  ORDER BY f.ts DESC, f.id DESC
  LIMIT ${FINDINGS_TABLE_LIMIT}
`;

export const FINDINGS_BY_TYPE_SQL = `
  SELECT f.type AS "type", f.severity AS "severity", count(*) AS "findings", count(DISTINCT f.call_id) AS "calls",
         to_timestamp(max(f.ts)) AS "latest"
  FROM ${TABLES.findings} f
  WHERE $__unixEpochFilter(f.ts)
    AND f.type IN (\${type:sqlstring})
    AND f.severity IN (\${severity:sqlstring})
  GROUP BY f.type, f.severity
  ORDER BY count(*) DESC, f.type, f.severity
`;

/** Colours of the severity cells. */
const SEVERITY_MAPPINGS = [
  {
    type: dashboard.MappingType.ValueToText,
    options: {
      critical: { color: 'red', index: 0 },
      warning: { color: 'orange', index: 1 },
      info: { color: 'blue', index: 2 },
    },
  },
];

/** Link from a Call-ID cell to the call drill-down, keeping the time range. */
export const CALL_DRILLDOWN_LINK = dataLink('Call drill-down', `${dashboardPath(DASHBOARD_UIDS.callDrilldown)}?var-callId=\${__value.raw}&\${__url_time_range}`);
/** Link from a finding id cell to the collector API (full evidence as JSON; needs the bearer token). */
export const FINDING_API_LINK = dataLink('Finding in the collector API (JSON)', '${collector}/api/findings/${__value.raw}', true);

export function findingsDashboard(): dashboard.Dashboard {
  const ids = new PanelIds();
  const d = baseDashboard(DASHBOARD_UIDS.findings, 'tapwatch / Findings', 'The latest findings, with links to the call drill-down and to the collector API.', 'now-24h')
    .withVariable(findingTypeVariable())
    .withVariable(severityVariable())
    .withVariable(collectorUrlVariable());

  d.withPanel(
    table(ids, POSTGRES_DS, 'Latest findings',
      `Newest first, at most ${FINDINGS_TABLE_LIMIT}. Click a call for its drill-down, an id for the finding with its evidence in the collector API.`,
      [new SqlQueryBuilder(LATEST_FINDINGS_SQL).refId('A')],
      { w: 24, h: 14, noValue: NO_FINDINGS_TEXT })
      .overrideByName('call', [{ id: 'links', value: [CALL_DRILLDOWN_LINK] }])
      .overrideByName('id', [{ id: 'links', value: [FINDING_API_LINK] }])
      .overrideByName('severity', [{ id: 'mappings', value: SEVERITY_MAPPINGS }, { id: 'custom.cellOptions', value: { type: 'color-background' } }])
      .overrideByName('confidence', [{ id: 'unit', value: 'percentunit' }, { id: 'decimals', value: 0 }])
      .overrideByName('summary', [{ id: 'custom.width', value: 360 }]),
  );

  d.withRow(row(ids, 'In this time range'));
  d.withPanel(
    table(ids, POSTGRES_DS, 'Findings by type and severity', 'Counts over the selected time range and filters.',
      [new SqlQueryBuilder(FINDINGS_BY_TYPE_SQL).refId('A')], { w: 16, h: 8, noValue: NO_FINDINGS_TEXT })
      .overrideByName('severity', [{ id: 'mappings', value: SEVERITY_MAPPINGS }, { id: 'custom.cellOptions', value: { type: 'color-background' } }]),
  );
  d.withPanel(
    text(ids, 'Reading this table', `
- **copy to / relay**: where the copied media went (\`duplicate_stream\`, \`signaling_copy\`) or the relay it went through (\`unexpected_relay\`).
- **confidence**: the heuristic's own estimate; **updates**: how often the sensor refined the finding since.
- An empty table is only good news when every sensor is **seeing traffic**: see [Sensor health](${dashboardPath(DASHBOARD_UIDS.sensorHealth)}).
- The **id** link opens \`GET /api/findings/:id\` on the collector set in *Collector API* above; the API needs its bearer token.
`, { w: 8, h: 8 }),
  );
  return d.build();
}
