/**
 * Overview: findings over time, open critical findings, whether each sensor is
 * actually seeing traffic, active calls and streams, the sensor fleet and the
 * collector's consumer lag. One screen for "is anything being copied, and
 * would we know if it were".
 */
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { METRICS, TABLES } from '../../collector/src/names.js';
import type { SEVERITIES } from '../../collector/src/routes/schemas.js';
import { baseDashboard, NO_FINDINGS_TEXT } from './common-parts.js';
import { POSTGRES_DS, PROMETHEUS_DS } from './datasources.js';
import { PanelIds, row, stat, table, text, timeseries } from './panels.js';
import { bySensor, prom, promInstant, promTable, SENSOR_STATE_EXPR, SENSOR_STATE_MAPPINGS, STATS_STALE_SECONDS } from './promql.js';
import { SqlQueryBuilder } from './sql-query.js';
import { DASHBOARD_UIDS, dashboardPath } from './uids.js';
import { sensorVariable } from './variables.js';

const CRITICAL: (typeof SEVERITIES)[number] = 'critical';

/**
 * A critical finding is "open" while the call it concerns is still in progress
 * on some sensor (the copy may still be running), or when it names no call.
 * The time range bounds it, so an old call that never ended ages out.
 */
export const OPEN_CRITICAL_SQL = `
  SELECT count(*) AS "open critical findings"
  FROM ${TABLES.findings} f
  WHERE f.severity = '${CRITICAL}'
    AND $__unixEpochFilter(f.ts)
    AND (f.call_id IS NULL OR EXISTS (SELECT 1 FROM ${TABLES.calls} c WHERE c.call_id = f.call_id AND NOT c.ended))
`;

export function overviewDashboard(): dashboard.Dashboard {
  const ids = new PanelIds();
  const d = baseDashboard(DASHBOARD_UIDS.overview, 'tapwatch / Overview', 'Findings, sensor state, active calls and streams, the sensor fleet and consumer lag.')
    .withVariable(sensorVariable());

  d.withRow(row(ids, 'Findings'));
  d.withPanel(
    timeseries(ids, PROMETHEUS_DS, 'Findings over time by type and severity',
      'Findings stored by the collector (first delivery only), per type and severity, summed over the collectors of the group.',
      [prom('A', `sum by (type, severity) (increase(${bySensor(METRICS.findings)}[$__rate_interval]))`, '{{type}} / {{severity}}')],
      { w: 14, h: 8, stack: true, min: 0, unit: 'short', noValue: NO_FINDINGS_TEXT }),
  );
  d.withPanel(
    stat(ids, POSTGRES_DS, 'Open critical findings',
      'Critical findings in the time range whose call is still in progress on some sensor (or that name no call). All sensors. Click for the findings table.',
      [new SqlQueryBuilder(OPEN_CRITICAL_SQL).refId('A')],
      { w: 5, h: 8, steps: [[null, 'green'], [1, 'red']], colorBackground: true, noValue: '0' })
      .links([new dashboard.DashboardLinkBuilder('Critical findings').url(`${dashboardPath(DASHBOARD_UIDS.findings)}?var-severity=${CRITICAL}&\${__url_time_range}`)]),
  );
  d.withPanel(
    stat(ids, PROMETHEUS_DS, 'Critical findings in range',
      'Critical findings stored during the selected time range.',
      [promInstant('A', `sum(increase(${bySensor(METRICS.findings, `severity="${CRITICAL}"`)}[$__range]))`)],
      { w: 5, h: 8, steps: [[null, 'green'], [1, 'red']], noValue: '0', unit: 'short' }),
  );

  d.withRow(row(ids, 'Are the sensors seeing traffic?'));
  d.withPanel(
    stat(ids, PROMETHEUS_DS, 'Sensor state',
      `seeing traffic: sensor_stats arrive and packets are captured. BLIND: sensor_stats arrive but no packet was captured between the last two (mirror port, interface or filter). SILENT: no sensor_stats for ${STATS_STALE_SECONDS} s (sensor, Kafka or collector down). A blind or silent sensor raises no findings.`,
      [promInstant('A', SENSOR_STATE_EXPR, '{{sensor}}')],
      { w: 16, h: 6, mappings: SENSOR_STATE_MAPPINGS, showNames: true, colorBackground: true, noValue: 'NO SENSOR has sent sensor_stats: nothing is being watched', steps: [[null, 'green'], [1, 'red']] }),
  );
  d.withPanel(
    text(ids, 'No findings is not "all clear"', `
A sensor raises a finding only about traffic it captures. **Zero findings with a BLIND or SILENT sensor means nothing was watched**, not that nothing happened.

- **BLIND**: the sensor is running but captured no packet — check the SPAN/mirror session, the interface and the capture filter.
- **SILENT**: no \`sensor_stats\` for ${STATS_STALE_SECONDS} s — the sensor, its Kafka link or the collector is down; its last numbers are stale.

Details: [Sensor health](${dashboardPath(DASHBOARD_UIDS.sensorHealth)}) · all findings: [Findings](${dashboardPath(DASHBOARD_UIDS.findings)})
`, { w: 8, h: 6 }),
  );

  d.withRow(row(ids, 'Calls and streams'));
  d.withPanel(
    stat(ids, PROMETHEUS_DS, 'Active calls', 'Calls started and not ended, all sensors.', [prom('A', `max(${METRICS.activeCalls})`)], { w: 4, h: 6, unit: 'short', noValue: 'no data from the collector' }),
  );
  d.withPanel(
    stat(ids, PROMETHEUS_DS, 'Active streams', 'RTP streams started and not ended, all sensors.', [prom('A', `max(${METRICS.activeStreams})`)], { w: 4, h: 6, unit: 'short', noValue: 'no data from the collector' }),
  );
  d.withPanel(
    timeseries(ids, PROMETHEUS_DS, 'Active calls and streams', 'Calls and RTP streams in progress (from the collector database, the same on every collector).', [
      prom('A', `max(${METRICS.activeCalls})`, 'calls'),
      prom('B', `max(${METRICS.activeStreams})`, 'streams'),
    ], { w: 16, h: 6, min: 0, unit: 'short' }),
  );

  d.withRow(row(ids, 'Sensor fleet'));
  d.withPanel(
    timeseries(ids, PROMETHEUS_DS, 'Packet rate', 'Packets per second between the two latest sensor_stats of each sensor. A line at 0 is a blind sensor.',
      [prom('A', `max by (sensor) (${bySensor(METRICS.sensorPacketRate)})`, '{{sensor}}')], { w: 12, h: 8, min: 0, unit: 'pps' }),
  );
  d.withPanel(
    timeseries(ids, PROMETHEUS_DS, 'Kernel drops', 'Packets the kernel dropped before the sensor read them, since the sensor started (latest sensor_stats). A rising line means the sensor cannot keep up: findings may be missed.',
      [prom('A', `max by (sensor) (${bySensor(METRICS.sensorKernelDrops)})`, '{{sensor}}')], { w: 12, h: 8, min: 0, unit: 'short' }),
  );
  d.withPanel(
    timeseries(ids, PROMETHEUS_DS, 'Producer queue', 'Events each sensor holds for Kafka and has not delivered yet (latest sensor_stats). Growing: the sensor cannot reach Kafka.',
      [prom('A', `max by (sensor) (${bySensor(METRICS.sensorProducerQueue)})`, '{{sensor}}')], { w: 12, h: 8, min: 0, unit: 'short' }),
  );
  d.withPanel(
    table(ids, PROMETHEUS_DS, 'Last seen', 'Per sensor: its state, seconds since its latest event and since its latest sensor_stats (capture clock of the sensor against the Prometheus clock).', [
      promTable('A', SENSOR_STATE_EXPR),
      promTable('B', `time() - max by (sensor) (${bySensor(METRICS.sensorLastSeen)})`),
      promTable('C', `time() - max by (sensor) (${bySensor(METRICS.sensorLastStats)})`),
    ], { w: 12, h: 8, noValue: 'No sensor has reported yet' })
      .withTransformation({ id: 'merge', options: {} })
      .withTransformation({
        id: 'organize',
        options: {
          excludeByName: { Time: true },
          renameByName: { sensor: 'Sensor', 'Value #A': 'State', 'Value #B': 'Since last event', 'Value #C': 'Since last sensor_stats' },
          indexByName: { sensor: 0, 'Value #A': 1, 'Value #B': 2, 'Value #C': 3 },
        },
      })
      .overrideByName('State', [{ id: 'mappings', value: SENSOR_STATE_MAPPINGS }, { id: 'custom.cellOptions', value: { type: 'color-background' } }])
      .overrideByName('Since last event', [{ id: 'unit', value: 's' }])
      .overrideByName('Since last sensor_stats', [
        { id: 'unit', value: 's' },
        { id: 'thresholds', value: { mode: 'absolute', steps: [{ value: null, color: 'green' }, { value: STATS_STALE_SECONDS, color: 'red' }] } },
        { id: 'custom.cellOptions', value: { type: 'color-text' } },
      ]),
  );

  d.withRow(row(ids, 'Collector'));
  d.withPanel(
    timeseries(ids, PROMETHEUS_DS, 'Consumer lag', 'Messages the collector group has not consumed yet, per topic (high watermark minus committed offset).',
      [prom('A', `sum by (topic) (max by (topic, partition) (${METRICS.consumerLag}))`, '{{topic}}')], { w: 12, h: 8, min: 0, unit: 'short' }),
  );
  d.withPanel(
    timeseries(ids, PROMETHEUS_DS, 'Events stored per second', 'Valid events stored for the first time, by type; dead-lettered messages by reason.', [
      prom('A', `sum by (type) (rate(${METRICS.eventsIngested}[$__rate_interval]))`, '{{type}}'),
      prom('B', `sum by (reason) (rate(${METRICS.eventsInvalid}[$__rate_interval]))`, 'dead letter: {{reason}}'),
    ], { w: 12, h: 8, min: 0, unit: 'ops' }),
  );
  return d.build();
}
