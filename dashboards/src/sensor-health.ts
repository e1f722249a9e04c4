/**
 * Sensor health: is each sensor seeing traffic, is it keeping up (kernel and
 * interface drops, producer queue), what it cannot decode (decode errors by
 * name), and how full its tables are (sizes, peaks, evictions). The first row
 * answers the question every empty findings panel raises: a BLIND sensor
 * (alive, capturing nothing) and a SILENT one (no sensor_stats) look the same
 * as a quiet network in every other panel.
 */
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { METRICS, TABLES } from '../../collector/src/names.js';
import { baseDashboard } from './common-parts.js';
import { POSTGRES_DS, PROMETHEUS_DS } from './datasources.js';
import { PanelIds, row, stat, table, text, timeseries } from './panels.js';
import { bySensor, prom, promInstant, promTable, SENSOR_STATE_EXPR, SENSOR_STATE_MAPPINGS, STATS_STALE_SECONDS } from './promql.js';
import { SqlQueryBuilder } from './sql-query.js';
import { DASHBOARD_UIDS } from './uids.js';
import { sensorVariable } from './variables.js';

/** The classes whose packets make calls visible: SIP signalling and RTP/RTCP media. */
const VOIP_CLASSES = 'sip|rtp|rtcp';

/**
 * The latest sensor_stats as stored (one row per sensor), including its
 * warnings, which no metric carries. Seconds are against the database clock.
 */
export const SENSOR_STATS_SQL = `
  SELECT s.sensor AS "sensor",
         to_timestamp(s.last_seen) AS "last event",
         to_timestamp(s.stats_ts) AS "last sensor_stats",
         extract(epoch FROM now()) - s.stats_ts AS "since last stats",
         s.uptime_sec AS "uptime",
         s.packets AS "packets",
         s.packet_rate AS "packet rate",
         s.kernel_drops AS "kernel drops",
         s.if_drops AS "interface drops",
         s.drops_unavailable AS "drops uncountable",
         s.producer_queue AS "producer queue",
         array_to_string(ARRAY(SELECT jsonb_array_elements_text(COALESCE(s.stats->'warnings', '[]'::jsonb))), '; ') AS "warnings"
  FROM ${TABLES.sensors} s
  ORDER BY s.sensor
`;

export function sensorHealthDashboard(): dashboard.Dashboard {
  const ids = new PanelIds();
  const d = baseDashboard(DASHBOARD_UIDS.sensorHealth, 'tapwatch / Sensor health', 'Is each sensor seeing traffic; drops, decode errors by name, table sizes and evictions.')
    .withVariable(sensorVariable());

  d.withRow(row(ids, 'Is each sensor seeing traffic?'));
  d.withPanel(
    stat(ids, PROMETHEUS_DS, 'Sensor state',
      `seeing traffic / BLIND (sensor_stats arrive, no packet captured) / SILENT (no sensor_stats for ${STATS_STALE_SECONDS} s).`,
      [promInstant('A', SENSOR_STATE_EXPR, '{{sensor}}')],
      { w: 12, h: 6, mappings: SENSOR_STATE_MAPPINGS, showNames: true, colorBackground: true, noValue: 'NO SENSOR has sent sensor_stats: nothing is being watched', steps: [[null, 'green'], [1, 'red']] }),
  );
  d.withPanel(
    stat(ids, PROMETHEUS_DS, 'Since last sensor_stats', `Seconds since each sensor's latest sensor_stats (every 10 s when live). Red after ${STATS_STALE_SECONDS} s.`,
      [promInstant('A', `time() - max by (sensor) (${bySensor(METRICS.sensorLastStats)})`, '{{sensor}}')],
      { w: 6, h: 6, unit: 's', showNames: true, steps: [[null, 'green'], [STATS_STALE_SECONDS / 2, 'orange'], [STATS_STALE_SECONDS, 'red']], noValue: 'no sensor_stats' }),
  );
  d.withPanel(
    stat(ids, PROMETHEUS_DS, 'Drops countable?', 'Some captures cannot count drops (no kernel statistics). There, a drop count of 0 proves nothing.',
      [promInstant('A', `max by (sensor) (${bySensor(METRICS.sensorDropsUnavailable)})`, '{{sensor}}')],
      {
        w: 6, h: 6, showNames: true, colorBackground: true, noValue: 'no sensor_stats',
        mappings: [{ type: dashboard.MappingType.ValueToText, options: { '0': { text: 'counted', color: 'green', index: 0 }, '1': { text: 'NOT COUNTED', color: 'orange', index: 1 } } }],
      }),
  );
  d.withPanel(
    timeseries(ids, PROMETHEUS_DS, 'Packet rate', 'Packets per second between the two latest sensor_stats. Flat at 0 = BLIND.',
      [prom('A', `max by (sensor) (${bySensor(METRICS.sensorPacketRate)})`, '{{sensor}}')],
      { w: 12, h: 8, min: 0, unit: 'pps', steps: [[null, 'red'], [0.001, 'green']] }),
  );
  d.withPanel(
    timeseries(ids, PROMETHEUS_DS, 'SIP and RTP packets per second', 'Packets classified as SIP, RTP or RTCP. Packets but no SIP/RTP for long: the mirror shows the wrong VLAN or ports; the sensor is blind to calls.',
      [prom('A', `max by (sensor, class) (rate(${bySensor(METRICS.sensorClassifiedPackets, `class=~"${VOIP_CLASSES}"`)}[$__rate_interval]))`, '{{sensor}} {{class}}')],
      { w: 12, h: 8, min: 0, unit: 'pps' }),
  );
  d.withPanel(
    text(ids, 'Blind, silent or quiet?', `
- **BLIND** — \`sensor_stats\` keep arriving but the packet rate is 0: the sensor runs and captures nothing (SPAN session, cable, interface, capture filter). It will raise **no findings**.
- **SILENT** — no \`sensor_stats\` for ${STATS_STALE_SECONDS} s: the sensor, its Kafka link or the collector is down. Its last packet rate and drops are **stale**.
- **Quiet** — packets flow but no SIP/RTP: no calls right now, or the mirror shows the wrong traffic.
- **Drops NOT COUNTED** — a drop count of 0 proves nothing on that capture.
`, { w: 24, h: 5 }),
  );

  d.withRow(row(ids, 'Keeping up: drops and producer queue'));
  d.withPanel(
    timeseries(ids, PROMETHEUS_DS, 'Kernel and interface drops', 'Packets dropped by the kernel (socket buffer) and by the interface, since the sensor started (latest sensor_stats).', [
      prom('A', `max by (sensor) (${bySensor(METRICS.sensorKernelDrops)})`, '{{sensor}} kernel'),
      prom('B', `max by (sensor) (${bySensor(METRICS.sensorInterfaceDrops)})`, '{{sensor}} interface'),
    ], { w: 12, h: 8, min: 0, unit: 'short' }),
  );
  d.withPanel(
    timeseries(ids, PROMETHEUS_DS, 'Producer queue', 'Events held by the sensor for Kafka and not delivered yet.',
      [prom('A', `max by (sensor) (${bySensor(METRICS.sensorProducerQueue)})`, '{{sensor}}')], { w: 12, h: 8, min: 0, unit: 'short' }),
  );

  d.withRow(row(ids, 'Decode errors'));
  d.withPanel(
    timeseries(ids, PROMETHEUS_DS, 'Decode errors per second by name', 'Malformed or unsupported input the sensor counted and skipped (sensor/src/decode/weird.ts names), summed over the selected sensors.',
      [prom('A', `sum by (name) (max by (sensor, name) (rate(${bySensor(METRICS.sensorDecodeErrors)}[$__rate_interval])))`, '{{name}}')],
      { w: 14, h: 8, min: 0, unit: 'ops', stack: true }),
  );
  d.withPanel(
    table(ids, PROMETHEUS_DS, 'Decode errors since sensor start', 'Per sensor and name, from the latest sensor_stats.',
      [promTable('A', `max by (sensor, name) (${bySensor(METRICS.sensorDecodeErrors)})`)], { w: 10, h: 8, noValue: 'No decode errors reported' })
      .withTransformation({ id: 'organize', options: { excludeByName: { Time: true }, renameByName: { Value: 'errors' } } })
      .sortBy([new common.TableSortByFieldStateBuilder().displayName('errors').desc(true)]),
  );

  d.withRow(row(ids, 'Tables and evictions'));
  d.withPanel(
    timeseries(ids, PROMETHEUS_DS, 'Table entries', 'Flows, streams, calls and SDP expectations the sensor tracks now.',
      [prom('A', `max by (sensor, table) (${bySensor(METRICS.sensorTableEntries)})`, '{{sensor}} {{table}}')], { w: 8, h: 8, min: 0, unit: 'short' }),
  );
  d.withPanel(
    timeseries(ids, PROMETHEUS_DS, 'Table peaks', 'The most entries each table held since the sensor started.',
      [prom('A', `max by (sensor, table) (${bySensor(METRICS.sensorTablePeakEntries)})`, '{{sensor}} {{table}}')], { w: 8, h: 8, min: 0, unit: 'short' }),
  );
  d.withPanel(
    timeseries(ids, PROMETHEUS_DS, 'Evictions per second', 'Entries removed by idle timeout (normal) or because the table was full (state lost: calls or streams may be missed).',
      [prom('A', `max by (sensor, table, reason) (rate(${bySensor(METRICS.sensorEvictions)}[$__rate_interval]))`, '{{sensor}} {{table}} {{reason}}')],
      { w: 8, h: 8, min: 0, unit: 'ops' })
      .overrideByRegexp('.* full$', [{ id: 'color', value: { mode: 'fixed', fixedColor: 'red' } }]),
  );

  d.withRow(row(ids, 'Latest sensor_stats'));
  d.withPanel(
    table(ids, POSTGRES_DS, 'Latest sensor_stats per sensor', 'As stored by the collector, with the warnings the sensor reported. All sensors.',
      [new SqlQueryBuilder(SENSOR_STATS_SQL).refId('A')], { w: 24, h: 8, noValue: 'No sensor has reported yet' })
      .overrideByName('since last stats', [
        { id: 'unit', value: 's' },
        { id: 'thresholds', value: { mode: 'absolute', steps: [{ value: null, color: 'green' }, { value: STATS_STALE_SECONDS, color: 'red' }] } },
        { id: 'custom.cellOptions', value: { type: 'color-text' } },
      ])
      .overrideByName('uptime', [{ id: 'unit', value: 's' }])
      .overrideByName('packet rate', [{ id: 'unit', value: 'pps' }]),
  );
  return d.build();
}
