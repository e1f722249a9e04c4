/**
 * Cross-sensor duplicate detection from per-stream fingerprints.
 *
 * A covert copy may leave the network at another edge than the original, so
 * no single sensor sees both. Each sensor publishes, per RTP stream, a compact
 * fingerprint on the `tapwatch.fingerprints` topic: SSRC, sequence and RTP
 * timestamp ranges, and rolling digests over blocks of packets. No payload,
 * no keys. Digests follow the "aligning header tuples" idea of
 * shared/design/PROTOCOLS.md: the header digest covers (seq, RTP timestamp,
 * marker, payload type, payload length) and survives re-encryption; the
 * payload digest covers the payload bytes and matches only verbatim copies.
 *
 * Blocks are aligned on the 16-bit RTP sequence number (RFC 3550 §5.1):
 * block start = seq - seq % blockSize, so two sensors that started observing
 * at different packets still cut the same blocks. A block digest is only
 * comparable when both sides saw every packet of it (n === blockSize).
 *
 * Partitioning: the producer keys each fingerprint by fingerprintKey(ssrc),
 * so every fingerprint of one SSRC lands in one partition and is processed
 * by one collector of the group, serially; the join (a lookup in the
 * fingerprints table inside the batch's transaction) cannot race with
 * another instance.
 */
import { createHash } from 'node:crypto';
import { Ajv, type ValidateFunction } from 'ajv';
import type { DuplicateStreamFinding, Severity } from '../../../sensor/src/events/types.js';
import { COLLECTOR_HEURISTIC_ID } from '../names.js';

export const FINGERPRINT_TYPE = 'stream_fingerprint' as const;

export interface FingerprintBlock {
  /** First sequence number of the block (multiple of blockSize, 0..65535). */
  seq: number;
  /** Packets of the block this sensor saw. */
  n: number;
  /** 16 hex digits: digest over the header tuples of the block's packets, in sequence order. */
  header: string;
  /** 16 hex digits over the payload hashes, or null when not computed (e.g. policy). */
  payload: string | null;
}

export interface StreamFingerprint {
  v: 1;
  type: typeof FINGERPRINT_TYPE;
  /** Unique message id, like an event id. */
  id: string;
  ts: number;
  sensor: string;
  streamId: string;
  ssrc: number;
  /** Inner (RTP) endpoints "ip:port". */
  src: string;
  dst: string;
  /** Outer destination when the packets arrived inside a tunnel or wrapper, else null. */
  outerDst: string | null;
  callId: string | null;
  classifiedBy: 'sdp' | 'heuristic';
  firstTs: number;
  lastTs: number;
  packets: number;
  seqFirst: number;
  seqLast: number;
  rtpTsFirst: number;
  rtpTsLast: number;
  blockSize: number;
  /** The most recent blocks (rolling window), oldest first. */
  blocks: FingerprintBlock[];
}

const hex16 = { type: 'string', pattern: '^[0-9a-f]{16}$' } as const;
const u32 = { type: 'integer', minimum: 0, maximum: 4294967295 } as const;
const endpoint = { type: 'string', minLength: 1, maxLength: 64 } as const;

/** JSON Schema (draft-07) of a fingerprint message. */
export const fingerprintSchema = {
  $id: 'https://tapwatch.dev/schemas/stream_fingerprint.v1.json',
  type: 'object',
  additionalProperties: false,
  required: ['v', 'type', 'id', 'ts', 'sensor', 'streamId', 'ssrc', 'src', 'dst', 'outerDst', 'callId', 'classifiedBy', 'firstTs', 'lastTs', 'packets', 'seqFirst', 'seqLast', 'rtpTsFirst', 'rtpTsLast', 'blockSize', 'blocks'],
  properties: {
    v: { const: 1 },
    type: { const: FINGERPRINT_TYPE },
    id: { type: 'string', minLength: 1, maxLength: 128 },
    ts: { type: 'number', minimum: 0 },
    sensor: { type: 'string', minLength: 1, maxLength: 128 },
    streamId: { type: 'string', minLength: 1, maxLength: 128 },
    ssrc: u32,
    src: endpoint,
    dst: endpoint,
    outerDst: { anyOf: [{ type: 'null' }, endpoint] },
    callId: { type: ['string', 'null'], maxLength: 512 },
    classifiedBy: { enum: ['sdp', 'heuristic'] },
    firstTs: { type: 'number', minimum: 0 },
    lastTs: { type: 'number', minimum: 0 },
    packets: { type: 'integer', minimum: 0 },
    seqFirst: { type: 'integer', minimum: 0, maximum: 65535 },
    seqLast: { type: 'integer', minimum: 0, maximum: 65535 },
    rtpTsFirst: u32,
    rtpTsLast: u32,
    blockSize: { type: 'integer', minimum: 4, maximum: 4096 },
    blocks: {
      type: 'array',
      maxItems: 64,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['seq', 'n', 'header', 'payload'],
        properties: {
          seq: { type: 'integer', minimum: 0, maximum: 65535 },
          n: { type: 'integer', minimum: 0, maximum: 4096 },
          header: hex16,
          payload: { anyOf: [{ type: 'null' }, hex16] },
        },
      },
    },
  },
} as const;

export interface FingerprintValidator {
  validate(msg: unknown): string | null;
}

/** Compiled once at boot, like the event schemas. */
export function compileFingerprintValidator(): FingerprintValidator {
  const ajv = new Ajv({ allErrors: false, strict: true, allowUnionTypes: true });
  const fn: ValidateFunction = ajv.compile(fingerprintSchema);
  return {
    validate(msg: unknown): string | null {
      if (fn(msg)) return null;
      const e = fn.errors?.[0];
      return e ? `${FINGERPRINT_TYPE}${e.instancePath} ${e.message ?? 'invalid'}` : `${FINGERPRINT_TYPE} invalid`;
    },
  };
}

/** Kafka message key of a fingerprint: all fingerprints of one SSRC share a partition. */
export function fingerprintKey(ssrc: number): string {
  return (ssrc >>> 0).toString(16).padStart(8, '0');
}

/** Where the stream's packets actually go: the tunnel's outer destination when wrapped. */
export function effectiveDst(fp: Pick<StreamFingerprint, 'dst' | 'outerDst'>): string {
  return fp.outerDst ?? fp.dst;
}

export interface FingerprintMatch {
  original: StreamFingerprint;
  copy: StreamFingerprint;
  /** Complete blocks present on both sides. */
  compared: number;
  /** Of those, blocks whose header digests are equal. */
  headerMatches: number;
  /** Of those, blocks whose payload digests are equal too. */
  payloadMatches: number;
  mode: 'exact' | 'correlated';
}

/** RTP timestamps wrap at 2^32; ranges are compared modulo that. */
function rtpRangesOverlap(a: StreamFingerprint, b: StreamFingerprint): boolean {
  const span = (x: StreamFingerprint): number => (x.rtpTsLast - x.rtpTsFirst + 4294967296) % 4294967296;
  const off = (b.rtpTsFirst - a.rtpTsFirst + 4294967296) % 4294967296;
  // b starts inside a, or a starts inside b.
  return off <= span(a) || 4294967296 - off <= span(b);
}

/**
 * Decides whether a and b (different sensors, same SSRC) are an original and
 * its copy. The same stream seen by two sensors on its way to the same
 * destination is NOT a copy: the effective destinations must differ.
 */
export function matchFingerprints(a: StreamFingerprint, b: StreamFingerprint, windowSec: number, minBlocks = 1): FingerprintMatch | null {
  if (a.sensor === b.sensor || a.ssrc !== b.ssrc || a.blockSize !== b.blockSize) return null;
  if (effectiveDst(a) === effectiveDst(b)) return null;
  if (a.firstTs > b.lastTs + windowSec || b.firstTs > a.lastTs + windowSec) return null;
  if (!rtpRangesOverlap(a, b)) return null;
  const bySeq = new Map<number, FingerprintBlock>();
  for (const blk of b.blocks) if (blk.n === b.blockSize) bySeq.set(blk.seq, blk);
  let compared = 0;
  let headerMatches = 0;
  let payloadMatches = 0;
  for (const blk of a.blocks) {
    if (blk.n !== a.blockSize) continue;
    const other = bySeq.get(blk.seq);
    if (!other) continue;
    compared++;
    if (other.header !== blk.header) continue;
    headerMatches++;
    if (blk.payload !== null && blk.payload === other.payload) payloadMatches++;
  }
  if (headerMatches < minBlocks || headerMatches * 2 <= compared) return null;
  const [original, copy] = pickOriginal(a, b);
  return { original, copy, compared, headerMatches, payloadMatches, mode: payloadMatches === headerMatches ? 'exact' : 'correlated' };
}

/**
 * The original is the leg the call's signalling announced (classified by SDP,
 * not tunnelled); failing that, the one seen first; ties by sensor name so
 * the answer does not depend on arrival order.
 */
export function originalScore(x: Pick<StreamFingerprint, 'classifiedBy' | 'outerDst'>): number {
  return (x.classifiedBy === 'sdp' ? 2 : 0) + (x.outerDst === null ? 1 : 0);
}

function pickOriginal(a: StreamFingerprint, b: StreamFingerprint): [StreamFingerprint, StreamFingerprint] {
  const sa = originalScore(a);
  const sb = originalScore(b);
  if (sa !== sb) return sa > sb ? [a, b] : [b, a];
  if (a.firstTs !== b.firstTs) return a.firstTs < b.firstTs ? [a, b] : [b, a];
  return a.sensor < b.sensor ? [a, b] : [b, a];
}

function ipOf(endpointText: string): string {
  // "ip:port" with IPv6 unbracketed: the port is after the last colon.
  const i = endpointText.lastIndexOf(':');
  return i > 0 ? endpointText.slice(0, i) : endpointText;
}

/**
 * The duplicate_stream finding for a match. Its id depends only on the copy
 * stream (sensor, stream id, SSRC): a re-join (a newer fingerprint,
 * redelivery, the original also seen by a second sensor on its path) hits
 * the same primary key and stores nothing new. One copy, one finding.
 */
export function crossSensorFinding(m: FingerprintMatch): DuplicateStreamFinding {
  const { original: o, copy: c } = m;
  const key = createHash('sha256').update(`${c.sensor}\0${c.streamId}\0${c.ssrc}`).digest('hex').slice(0, 24);
  const copyTo = effectiveDst(c);
  const severity: Severity = o.callId !== null || c.callId !== null ? 'critical' : 'warning';
  const ratio = m.compared === 0 ? 0 : m.headerMatches / m.compared;
  const ts = Math.max(o.lastTs, c.lastTs);
  return {
    v: 1,
    type: 'duplicate_stream',
    id: `xs-${key}`,
    ts,
    sensor: c.sensor,
    findingId: `xs-${key}`,
    severity,
    confidence: Math.round((0.5 + 0.5 * ratio) * 1000) / 1000,
    callId: o.callId ?? c.callId,
    ssrc: o.ssrc,
    detectedAt: ts,
    firstSeen: Math.min(o.firstTs, c.firstTs),
    heuristic: { id: COLLECTOR_HEURISTIC_ID, version: 1 },
    allowlisted: null,
    evidenceIncomplete: false,
    summary: `RTP stream SSRC 0x${fingerprintKey(o.ssrc)} seen at sensor ${o.sensor} towards ${effectiveDst(o)} is also delivered to ${copyTo}, seen at sensor ${c.sensor} (${m.headerMatches}/${m.compared} packet blocks match${m.mode === 'exact' ? ', payload identical' : ''}).`,
    evidence: {
      sensors: [o.sensor, c.sensor],
      originalSensor: o.sensor,
      copySensor: c.sensor,
      originalStreamId: o.streamId,
      copyStreamId: c.streamId,
      originalSrc: o.src,
      originalDst: effectiveDst(o),
      copySrc: c.src,
      copyDst: c.dst,
      copyOuterDst: c.outerDst,
      originalFingerprintId: o.id,
      copyFingerprintId: c.id,
      blockSize: o.blockSize,
      blocksCompared: m.compared,
      headerBlocksMatched: m.headerMatches,
      payloadBlocksMatched: m.payloadMatches,
      originalPackets: o.packets,
      copyPackets: c.packets,
      offsetSec: Math.round((c.firstTs - o.firstTs) * 1e6) / 1e6,
    },
    copyTo,
    copyToIp: ipOf(copyTo),
    mode: m.mode,
    declared: false,
  };
}
