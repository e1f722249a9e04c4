/**
 * Every name the collector exposes to the outside: Prometheus metric names,
 * PostgreSQL table names and the Kafka consumer group. The dashboards
 * (dashboards/src) import these instead of copying strings, so a rename
 * breaks the build rather than a panel. Prometheus naming follows
 * https://prometheus.io/docs/practices/naming/ (unit suffix, `_total` for counters).
 */

/** Prefix shared by every collector metric. */
export const METRIC_PREFIX = 'tapwatch_collector_';

export const METRICS = {
  /** Counter{type,severity,sensor}: findings stored (first delivery only). */
  findings: 'tapwatch_collector_findings_total',
  /** Counter{type}: valid events newly stored (redeliveries are not counted). */
  eventsIngested: 'tapwatch_collector_events_ingested_total',
  /** Counter{type}: redelivered events that were already stored. */
  eventsDuplicate: 'tapwatch_collector_events_duplicate_total',
  /** Counter{reason}: messages sent to the dead-letter topic (reason: json | schema | too_large). */
  eventsInvalid: 'tapwatch_collector_events_invalid_total',
  /** Counter: consumed batches committed to Kafka after the database commit. */
  batchesCommitted: 'tapwatch_collector_batches_committed_total',
  /** Histogram: seconds spent storing one batch (validation + transaction). */
  batchSeconds: 'tapwatch_collector_batch_seconds',
  /** Gauge{topic,partition}: high watermark minus committed offset. */
  consumerLag: 'tapwatch_collector_consumer_lag_messages',
  /** Gauge{sensor}: packets/s between the last two sensor_stats of each sensor. */
  sensorPacketRate: 'tapwatch_collector_sensor_packet_rate',
  /** Gauge{sensor}: kernel drops reported in the latest sensor_stats. */
  sensorKernelDrops: 'tapwatch_collector_sensor_kernel_drops',
  /** Gauge{sensor}: the sensor's Kafka producer queue length in its latest sensor_stats (0 when not reported). */
  sensorProducerQueue: 'tapwatch_collector_sensor_producer_queue',
  /** Gauge{sensor}: epoch seconds of the sensor's latest event. */
  sensorLastSeen: 'tapwatch_collector_sensor_last_seen_seconds',
  /**
   * Gauge{sensor}: capture time (epoch seconds) of the sensor's latest sensor_stats. A sensor
   * sends sensor_stats (every 10 s live) even when it captures nothing, so this moving while
   * the packet rate is 0 means "alive but blind"; this standing still means "sensor or pipeline down".
   */
  sensorLastStats: 'tapwatch_collector_sensor_last_stats_seconds',
  /** Counter{sensor}: packets captured since the sensor started, from its latest sensor_stats (resets with the sensor). */
  sensorPackets: 'tapwatch_collector_sensor_packets_total',
  /** Counter{sensor,class}: packets per classification (sip, rtp, rtcp, stun, dtls, zrtp, other, non_ip, fragments), from the latest sensor_stats. */
  sensorClassifiedPackets: 'tapwatch_collector_sensor_classified_packets_total',
  /** Counter{sensor,name}: decode errors by name (the sensor's weird counters), from the latest sensor_stats. */
  sensorDecodeErrors: 'tapwatch_collector_sensor_decode_errors_total',
  /** Gauge{sensor,table}: entries in the sensor's tables (flows, streams, calls, expectations), latest sensor_stats. */
  sensorTableEntries: 'tapwatch_collector_sensor_table_entries',
  /** Gauge{sensor,table}: peak entries of the sensor's tables (flows, streams, calls) since it started. */
  sensorTablePeakEntries: 'tapwatch_collector_sensor_table_peak_entries',
  /** Counter{sensor,table,reason}: table evictions (table: flows | streams | calls; reason: idle | full), from the latest sensor_stats. */
  sensorEvictions: 'tapwatch_collector_sensor_evictions_total',
  /** Gauge{sensor}: interface drops in the latest sensor_stats. */
  sensorInterfaceDrops: 'tapwatch_collector_sensor_interface_drops',
  /** Gauge{sensor}: 1 when the sensor's capture cannot count drops, so a drop gauge of 0 proves nothing. */
  sensorDropsUnavailable: 'tapwatch_collector_sensor_drops_unavailable',
  /** Gauge{sensor}: packets the sensor's shared ring dropped (native ring capture, --workers), latest sensor_stats; absent when it has no ring. */
  sensorRingDrops: 'tapwatch_collector_sensor_ring_drops',
  /**
   * Gauge{sensor,state}: 1 for the capture health in the latest sensor_stats (state: ok | blind |
   * dropping | overloaded, judged by the sensor over its last stats interval), 0 for the others.
   */
  sensorHealth: 'tapwatch_collector_sensor_health',
  /**
   * Gauge{finding_id,type,severity,sensor,call_id,copy_to,relay,parties}, always 1: the most
   * recent open critical/warning findings (at most OPEN_FINDINGS_LIMIT, stored within
   * OPEN_FINDINGS_WINDOW_SEC), so an alert can name the call, its parties and the copy
   * destination or relay (deploy/prometheus/rules/tapwatch.rules.yml, TapwatchOpenFinding).
   */
  openFindingInfo: 'tapwatch_collector_open_finding_info',
  /** Gauge: calls started and not ended (all sensors). */
  activeCalls: 'tapwatch_collector_active_calls',
  /** Gauge: streams started and not ended (all sensors). */
  activeStreams: 'tapwatch_collector_active_streams',
  /** Counter: duplicate_stream findings made by joining fingerprints across sensors. */
  crossSensorDuplicates: 'tapwatch_collector_cross_sensor_duplicates_total',
  /** Counter{route,status}: HTTP requests answered. */
  httpRequests: 'tapwatch_collector_http_requests_total',
  /** Counter{status,kind}: Slack webhook messages (status: sent | failed | rejected; kind: finding | summary), notify/slack.ts. */
  slackMessages: 'tapwatch_collector_slack_messages_total',
  /** Counter: Slack webhook requests retried after a 5xx, 429 or timeout. */
  slackRetries: 'tapwatch_collector_slack_retries_total',
  /** Counter{reason}: new findings not sent to Slack on their own (reason: severity | duplicate | summarized). */
  slackFindingsSkipped: 'tapwatch_collector_slack_findings_skipped_total',
  /** Gauge: findings waiting for the Slack rate limit. */
  slackQueue: 'tapwatch_collector_slack_queue_findings',
} as const;

export type MetricName = (typeof METRICS)[keyof typeof METRICS];

/** PostgreSQL tables owned by the collector (created by store/migrations). */
export const TABLES = {
  /** Every stored event, keyed by event id: the idempotency key and the call timeline. */
  events: 'events',
  /** One row per finding event, evidence as JSONB, updated by finding_updated. */
  findings: 'findings',
  /** One row per (sensor, call id). */
  calls: 'calls',
  /** One row per (sensor, stream id). */
  streams: 'streams',
  /** One row per sensor: last seen, packet rate, drops. */
  sensors: 'sensors',
  /** Latest per-stream fingerprint of each (sensor, stream id), for the cross-sensor join. */
  fingerprints: 'fingerprints',
  /** Migration bookkeeping. */
  schemaMigrations: 'schema_migrations',
} as const;

/** Default Kafka consumer group of the collector. */
export const DEFAULT_GROUP_ID = 'tapwatch-collector';

/** Sensor name used on findings the collector makes itself (cross-sensor join). */
export const COLLECTOR_HEURISTIC_ID = 'collector.cross_sensor_fingerprint';
