/**
 * PromQL building blocks shared by the dashboards. Every metric name comes
 * from the collector's METRICS (collector/src/names.ts), never a copied string.
 *
 * Several collectors of one consumer group each expose the same state gauges
 * (they read them from PostgreSQL at scrape time), so per-sensor values are
 * taken with max by (...), never summed across collector instances.
 */
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder, PromQueryFormat } from '@grafana/grafana-foundation-sdk/prometheus';
import { METRICS } from '../../collector/src/names.js';
import { PROMETHEUS_DS } from './datasources.js';

/** The `sensor` dashboard variable as a label matcher (multi-value: Grafana joins the values as a regex alternation). */
export const SENSOR_MATCH = 'sensor=~"$sensor"';

/** `metric{sensor=~"$sensor"}` */
export const bySensor = (metric: string, extra = ''): string => `${metric}{${SENSOR_MATCH}${extra ? `, ${extra}` : ''}}`;

/**
 * A sensor sends sensor_stats every 10 s when live (sensor/src/cli.ts
 * --stats-interval). Six missed intervals means the sensor, its Kafka link or
 * the collector is down, not that the network went quiet.
 */
export const STATS_STALE_SECONDS = 60;

/** Values of the sensor-state expression (see SENSOR_STATE_EXPR). */
export const SENSOR_STATE = { seeing: 0, blind: 1, silent: 2 } as const;

/**
 * The state of each sensor, so that "no findings" is never read as "all is
 * well" while a sensor captures nothing:
 *   0 seeing traffic: sensor_stats arrive and the packet rate is above 0;
 *   1 BLIND: sensor_stats arrive (the sensor is alive) but it captured no packet
 *     between its last two stats (mirror port down, wrong interface, filter);
 *   2 SILENT: no sensor_stats for STATS_STALE_SECONDS (sensor, Kafka or collector down);
 *     its last packet rate is stale and must not be trusted.
 * `> bool` / `== bool` give 0 or 1 per sensor (https://prometheus.io/docs/prometheus/latest/querying/operators/#comparison-binary-operators);
 * both sides carry only the sensor label, so they match one to one.
 */
export const SENSOR_STATE_EXPR =
  `clamp_max(` +
  `(time() - max by (sensor) (${bySensor(METRICS.sensorLastStats)}) > bool ${STATS_STALE_SECONDS}) * ${SENSOR_STATE.silent}` +
  ` + (max by (sensor) (${bySensor(METRICS.sensorPacketRate)}) == bool 0), ${SENSOR_STATE.silent})`;

/** Value mappings that turn SENSOR_STATE_EXPR into words and colours. */
export const SENSOR_STATE_MAPPINGS: dashboard.ValueMapping[] = [
  {
    type: dashboard.MappingType.ValueToText,
    options: {
      [String(SENSOR_STATE.seeing)]: { text: 'seeing traffic', color: 'green', index: 0 },
      [String(SENSOR_STATE.blind)]: { text: 'BLIND: no packets', color: 'red', index: 1 },
      [String(SENSOR_STATE.silent)]: { text: 'SILENT: no stats', color: 'purple', index: 2 },
    },
  },
];

/** A Prometheus target on the tapwatch datasource. */
export function prom(refId: string, expr: string, legend?: string): DataqueryBuilder {
  const q = new DataqueryBuilder().datasource(PROMETHEUS_DS).refId(refId).expr(expr).range();
  return legend === undefined ? q : q.legendFormat(legend);
}

/** An instant Prometheus target, one series per label set (for stats: one tile per series, named by the legend). */
export function promInstant(refId: string, expr: string, legend?: string): DataqueryBuilder {
  const q = new DataqueryBuilder().datasource(PROMETHEUS_DS).refId(refId).expr(expr).instant();
  return legend === undefined ? q : q.legendFormat(legend);
}

/** An instant Prometheus target in table format: labels become columns, the value `Value #<refId>` (for tables). */
export function promTable(refId: string, expr: string): DataqueryBuilder {
  return new DataqueryBuilder().datasource(PROMETHEUS_DS).refId(refId).expr(expr).instant().format(PromQueryFormat.Table);
}
