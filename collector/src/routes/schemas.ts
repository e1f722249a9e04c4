/**
 * JSON Schemas of the HTTP API, compiled once at boot by fastify and turned
 * into the OpenAPI document served at /docs. Response schemas also decide
 * what is serialised: a column added to a query never leaks by accident.
 */
import { FINDING_TYPES } from '../../../sensor/src/events/types.js';

export const SEVERITIES = ['info', 'warning', 'critical'] as const;

const nullable = (type: string): { type: string[] } => ({ type: [type, 'null'] });

export const errorResponse = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: { code: { type: 'string' }, message: { type: 'string' }, requestId: { type: 'string' } },
    },
  },
} as const;

export const findingSummarySchema = {
  type: 'object',
  required: ['id', 'findingId', 'type', 'severity', 'sensor', 'callId', 'ssrc', 'copyTo', 'relay', 'ts'],
  properties: {
    id: { type: 'string', description: 'Event id of the finding (unique).' },
    findingId: { type: 'string', description: 'Stable finding id (finding_updated events refer to it).' },
    type: { type: 'string', enum: [...FINDING_TYPES] },
    severity: { type: 'string', enum: [...SEVERITIES] },
    confidence: { type: 'number' },
    sensor: { type: 'string' },
    callId: nullable('string'),
    ssrc: nullable('integer'),
    copyTo: { ...nullable('string'), description: 'Where the copy goes (duplicate_stream, signaling_copy).' },
    relay: { ...nullable('string'), description: 'The unexpected relay (unexpected_relay).' },
    summary: { type: 'string' },
    ts: { type: 'number', description: 'Detection time, epoch seconds.' },
    firstSeen: { type: 'number' },
    updates: { type: 'integer' },
  },
} as const;

export function listFindingsQuerySchema(maxPageSize: number, defaultPageSize: number) {
  return {
    type: 'object',
    additionalProperties: false,
    properties: {
      type: { type: 'string', enum: [...FINDING_TYPES] },
      severity: { type: 'string', enum: [...SEVERITIES] },
      sensor: { type: 'string', minLength: 1, maxLength: 128 },
      callId: { type: 'string', minLength: 1, maxLength: 512 },
      since: { type: 'number', minimum: 0, maximum: 1e11, description: 'Epoch seconds, inclusive.' },
      until: { type: 'number', minimum: 0, maximum: 1e11, description: 'Epoch seconds, exclusive.' },
      limit: { type: 'integer', minimum: 1, maximum: maxPageSize, default: defaultPageSize },
      cursor: { type: 'string', minLength: 1, maxLength: 700, pattern: '^[A-Za-z0-9_-]+$', description: 'The `next` value of the previous page.' },
    },
  } as const;
}

export const idParamSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 128, pattern: '^[\\x21-\\x7e]+$' } },
} as const;

export const callIdParamSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['callId'],
  properties: { callId: { type: 'string', minLength: 1, maxLength: 512 } },
} as const;

export const sensorSchema = {
  type: 'object',
  properties: {
    sensor: { type: 'string' },
    firstSeen: { type: 'number' },
    lastSeen: { type: 'number', description: 'Capture time of the sensor\'s latest event, epoch seconds.' },
    statsTs: nullable('number'),
    uptimeSec: nullable('number'),
    packets: nullable('integer'),
    packetRate: { ...nullable('number'), description: 'Packets per second between the two latest sensor_stats.' },
    kernelDrops: nullable('integer'),
    ifDrops: nullable('integer'),
    dropsUnavailable: nullable('boolean'),
    producerQueue: { ...nullable('integer'), description: 'Kafka producer queue length, when the sensor reports it.' },
  },
} as const;
