/**
 * Kafka topic names the collector consumes and produces. The sensor's Kafka
 * output owns the names (sensor/src/output/topics.ts); this is the one place
 * the collector reads them from. The collector owns the fingerprint format
 * (ingest/fingerprint.ts) and writes the dead-letter topic.
 */
import { DEFAULT_FINDINGS_TOPIC, DEFAULT_TELEMETRY_TOPIC, DLQ_TOPIC, FINGERPRINTS_TOPIC } from '../../sensor/src/output/topics.js';

export const TOPICS = {
  findings: DEFAULT_FINDINGS_TOPIC,
  telemetry: DEFAULT_TELEMETRY_TOPIC,
  dlq: DLQ_TOPIC,
  fingerprints: FINGERPRINTS_TOPIC,
} as const;
