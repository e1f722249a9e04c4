/**
 * Which Kafka topic each event goes to, and its key.
 *
 * Findings (and their updates) go to their own topic so that alerting reads a
 * small, important stream; everything else (calls, streams, sensor_stats) is
 * telemetry. The key is the call (its Call-ID, or the stream when there is no
 * call): Kafka keeps one key in one partition, in order (Kafka documentation,
 * "Producers: the client controls which partition it publishes messages to"),
 * so every event of a call reaches a consumer in the order it was emitted.
 */
import { FINDING_TYPES, type TapwatchEvent } from '../events/types.js';

export const DEFAULT_FINDINGS_TOPIC = 'tapwatch.findings';
export const DEFAULT_TELEMETRY_TOPIC = 'tapwatch.telemetry';
/** Media fingerprints exchanged between collectors (the collector owns its format). */
export const FINGERPRINTS_TOPIC = 'tapwatch.fingerprints';
/** Dead letters: events the collector could not ingest (the collector writes them). */
export const DLQ_TOPIC = 'tapwatch.dlq';

export interface TopicNames {
  findings: string;
  telemetry: string;
}

export const DEFAULT_TOPICS: TopicNames = { findings: DEFAULT_FINDINGS_TOPIC, telemetry: DEFAULT_TELEMETRY_TOPIC };

const FINDING_EVENT_TYPES: ReadonlySet<string> = new Set<string>([...FINDING_TYPES, 'finding_updated']);

export function isFindingEvent(type: string): boolean {
  return FINDING_EVENT_TYPES.has(type);
}

export function topicFor(event: Pick<TapwatchEvent, 'type'>, topics: TopicNames = DEFAULT_TOPICS): string {
  return FINDING_EVENT_TYPES.has(event.type) ? topics.findings : topics.telemetry;
}

/**
 * The partition key: the call's Call-ID; else the stream id; else the finding
 * id (a finding with no call); else the sensor (sensor_stats).
 */
export function keyFor(event: TapwatchEvent): string {
  const e = event as { callId?: string | null; streamId?: string; findingId?: string };
  if (e.callId) return e.callId;
  if (e.streamId) return e.streamId;
  if (e.findingId) return e.findingId;
  return event.sensor;
}
