/**
 * Dashboard variables shared by several dashboards. Queries of query
 * variables are listed by collectQueries() (queries.ts) like panel queries.
 */
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { METRICS, TABLES } from '../../collector/src/names.js';
import { SEVERITIES } from '../../collector/src/routes/schemas.js';
import { FINDING_TYPES } from '../../sensor/src/events/types.js';
import { POSTGRES_DS, PROMETHEUS_DS } from './datasources.js';
import { tidySql } from './sql-query.js';

/** The series whose `sensor` label lists every sensor the collector has heard from. */
export const SENSOR_VARIABLE_METRIC = METRICS.sensorLastSeen;

/**
 * `sensor`: every sensor known to the collector, multi-value, "All" by default.
 * allValue `.*` keeps `sensor=~"$sensor"` short with many sensors (Grafana would
 * otherwise expand All to an alternation of every value).
 */
export function sensorVariable(): dashboard.QueryVariableBuilder {
  return new dashboard.QueryVariableBuilder('sensor')
    .label('Sensor')
    .datasource(PROMETHEUS_DS)
    .query(`label_values(${SENSOR_VARIABLE_METRIC}, sensor)`)
    .definition(`label_values(${SENSOR_VARIABLE_METRIC}, sensor)`)
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .allValue('.*')
    .current({ selected: true, text: ['All'], value: ['$__all'] });
}

/** `severity`: the severities of the collector API (collector/src/routes/schemas.ts). */
export function severityVariable(): dashboard.CustomVariableBuilder {
  return new dashboard.CustomVariableBuilder('severity')
    .label('Severity')
    .values(SEVERITIES.join(','))
    .allowCustomValue(false)
    .multi(true)
    .includeAll(true)
    .current({ selected: true, text: ['All'], value: ['$__all'] });
}

/** `type`: the finding types of the sensor's event contract (sensor/src/events/types.ts). */
export function findingTypeVariable(): dashboard.CustomVariableBuilder {
  return new dashboard.CustomVariableBuilder('type')
    .label('Finding type')
    .values(FINDING_TYPES.join(','))
    .allowCustomValue(false)
    .multi(true)
    .includeAll(true)
    .current({ selected: true, text: ['All'], value: ['$__all'] });
}

/**
 * `callId`: the calls seen in the time range, newest first; any other Call-ID
 * can be typed in (allowCustomValue), and the findings table links here with
 * ?var-callId=<id>.
 */
export const CALL_ID_VARIABLE_SQL = tidySql(`
  SELECT call_id AS __value, call_id || ' (' || to_char(to_timestamp(max(last_ts)), 'YYYY-MM-DD HH24:MI:SS') || ')' AS __text
  FROM ${TABLES.calls}
  WHERE $__unixEpochFilter(last_ts)
  GROUP BY call_id
  ORDER BY max(last_ts) DESC
  LIMIT 500
`);

export function callIdVariable(): dashboard.QueryVariableBuilder {
  return new dashboard.QueryVariableBuilder('callId')
    .label('Call-ID')
    .datasource(POSTGRES_DS)
    .query(CALL_ID_VARIABLE_SQL)
    .definition(CALL_ID_VARIABLE_SQL)
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .allowCustomValue(true)
    .multi(false)
    .includeAll(false);
}

/**
 * `collector`: base URL of the collector's HTTP API, for links to
 * GET /api/findings/:id. The API wants a bearer token (collector/src/plugins/auth.ts),
 * so in a browser the link works through a proxy that adds it, or with a token-holding client.
 */
export const COLLECTOR_URL_DEFAULT = 'http://127.0.0.1:8080';

export function collectorUrlVariable(): dashboard.TextBoxVariableBuilder {
  return new dashboard.TextBoxVariableBuilder('collector')
    .label('Collector API')
    .description('Base URL of the tapwatch collector API (links to /api/findings/:id).')
    .defaultValue(COLLECTOR_URL_DEFAULT)
    .current({ selected: true, text: COLLECTOR_URL_DEFAULT, value: COLLECTOR_URL_DEFAULT });
}
