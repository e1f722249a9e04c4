/**
 * One consumed Kafka message, independent of the Kafka client, and the
 * decision the collector makes about it: a valid event, a valid fingerprint,
 * or a dead letter with a reason. Validation uses the sensor's JSON Schemas
 * compiled once at boot (sensor/src/events/schemas.ts).
 */
import type { TapwatchEvent } from '../../../sensor/src/events/types.js';
import type { EventValidator } from '../../../sensor/src/events/schemas.js';
import { FINGERPRINT_TYPE, type FingerprintValidator, type StreamFingerprint } from './fingerprint.js';

export interface InMessage {
  topic: string;
  partition: number;
  offset: number;
  key: Buffer | string | null;
  value: Buffer | null;
  /** Producer timestamp in ms, when the broker reports one. */
  timestamp?: number;
}

/** Why a message went to the dead-letter topic (also the label of the invalid-events counter). */
export type DeadLetterReason = 'empty' | 'too_large' | 'json' | 'schema' | 'store';

export interface DeadLetter {
  message: InMessage;
  reason: DeadLetterReason;
  /** Short, safe text: the first schema error, or the parse error. */
  error: string;
}

export type Decoded =
  | { kind: 'event'; event: TapwatchEvent; raw: string; message: InMessage }
  | { kind: 'fingerprint'; fingerprint: StreamFingerprint; message: InMessage }
  | { kind: 'dead'; dead: DeadLetter };

/** Largest message accepted; the schemas cap every field, so a bigger one is not a sensor's. */
export const MAX_MESSAGE_BYTES = 1 << 20;

export interface Validators {
  events: EventValidator;
  fingerprints: FingerprintValidator;
}

export function decodeMessage(message: InMessage, validators: Validators): Decoded {
  const dead = (reason: DeadLetterReason, error: string): Decoded => ({ kind: 'dead', dead: { message, reason, error } });
  const value = message.value;
  if (value === null || value.length === 0) return dead('empty', 'message has no value');
  if (value.length > MAX_MESSAGE_BYTES) return dead('too_large', `message of ${value.length} bytes exceeds ${MAX_MESSAGE_BYTES}`);
  const raw = value.toString('utf8');
  // PostgreSQL text and jsonb cannot hold NUL; such a message would fail the
  // whole batch's transaction on every redelivery, so it is a dead letter now.
  if (raw.includes('\\u0000') || raw.includes('\0')) return dead('schema', 'message contains a NUL character');
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    return dead('json', `malformed JSON: ${(err as Error).message}`.slice(0, 200));
  }
  if (typeof parsed === 'object' && parsed !== null && (parsed as { type?: unknown }).type === FINGERPRINT_TYPE) {
    const error = validators.fingerprints.validate(parsed);
    return error === null ? { kind: 'fingerprint', fingerprint: parsed as StreamFingerprint, message } : dead('schema', error);
  }
  const error = validators.events.validate(parsed);
  if (error !== null) return dead('schema', error.slice(0, 300));
  return { kind: 'event', event: parsed as TapwatchEvent, raw, message };
}

/** Kafka headers of a dead letter: the original value and key travel unchanged, the context in headers. */
export function deadLetterHeaders(d: DeadLetter): Record<string, string> {
  return {
    'tapwatch-dlq-reason': d.reason,
    'tapwatch-dlq-error': d.error,
    'tapwatch-origin-topic': d.message.topic,
    'tapwatch-origin-partition': String(d.message.partition),
    'tapwatch-origin-offset': String(d.message.offset),
  };
}

/** Where dead letters go; resolves only once the broker acknowledged every one. */
export interface DeadLetterSink {
  send(letters: DeadLetter[]): Promise<void>;
}
