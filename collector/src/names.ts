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
  /** Gauge: calls started and not ended (all sensors). */
  activeCalls: 'tapwatch_collector_active_calls',
  /** Gauge: streams started and not ended (all sensors). */
  activeStreams: 'tapwatch_collector_active_streams',
  /** Counter: duplicate_stream findings made by joining fingerprints across sensors. */
  crossSensorDuplicates: 'tapwatch_collector_cross_sensor_duplicates_total',
  /** Counter{route,status}: HTTP requests answered. */
  httpRequests: 'tapwatch_collector_http_requests_total',
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
