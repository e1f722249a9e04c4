/** Valid events of every kind the collector stores (they pass sensor/schemas). */
import type {
  CallEndedEvent,
  CallStartedEvent,
  CallUpdatedEvent,
  DuplicateStreamFinding,
  FindingUpdatedEvent,
  KeyExposureFinding,
  SensorStatsEvent,
  StreamEndedEvent,
  StreamStartedEvent,
  UnexpectedRelayFinding,
} from '../../sensor/src/events/types.js';
import { createHash } from 'node:crypto';
import type { StreamFingerprint } from '../../collector/src/ingest/fingerprint.js';

const T0 = 1_700_000_000;

export function callStarted(id: string, callId: string, sensor = 's1', ts = T0): CallStartedEvent {
  return { v: 1, type: 'call_started', id, ts, sensor, callId, from: 'sip:alice@a.example', to: 'sip:bob@b.example', transport: 'udp', src: '10.0.0.1:5060', dst: '10.0.0.2:5060' };
}

export function callUpdated(id: string, callId: string, sensor = 's1', ts = T0 + 1): CallUpdatedEvent {
  return { v: 1, type: 'call_updated', id, ts, sensor, callId, state: 'confirmed', reason: 'answered', statusCode: 200, media: [] };
}

export function callEnded(id: string, callId: string, sensor = 's1', ts = T0 + 60): CallEndedEvent {
  return {
    v: 1, type: 'call_ended', id, ts, sensor, callId, state: 'terminated', reason: 'bye', finalStatus: 200, startTs: T0, answerTs: T0 + 1,
    durationSec: 59, sipMessages: 7,
  };
}

export function streamStarted(id: string, streamId: string, callId: string | null, sensor = 's1', ts = T0 + 1.5): StreamStartedEvent {
  return {
    v: 1, type: 'stream_started', id, ts, sensor, streamId, ssrc: 0x11223344, src: '10.0.0.1:4000', dst: '10.0.0.2:4000', callId, payloadType: 8,
    encrypted: false, classifiedBy: 'sdp', transport: 'udp', tunnels: [], ttl: 64,
  };
}

export function streamEnded(id: string, streamId: string, callId: string | null, sensor = 's1', ts = T0 + 59): StreamEndedEvent {
  return {
    v: 1, type: 'stream_ended', id, ts, sensor, streamId, ssrc: 0x11223344, src: '10.0.0.1:4000', dst: '10.0.0.2:4000', packets: 2900, bytes: 498800,
    lost: 3, duplicates: 0, reordered: 1, callId, payloadTypes: [8], encrypted: false, classifiedBy: 'sdp', transport: 'udp', firstTs: T0 + 1.5,
    lastTs: T0 + 59, jitterMs: 1.2, maxJitterMs: 4.5, ttl: 64, reason: 'call_ended',
  };
}

export function sensorStats(id: string, sensor: string, ts: number, uptimeSec: number, packets: number, kernelDrops = 0): SensorStatsEvent {
  return {
    v: 1, type: 'sensor_stats', id, ts, sensor, final: false, uptimeSec, packets, bytes: packets * 200, kernelReceived: packets, kernelDrops,
    ifDrops: 0, dropsUnavailable: false, decodeErrors: {},
    classified: { sip: 0, rtp: packets, rtcp: 0, stun: 0, dtls: 0, zrtp: 0, other: 0, nonIp: 0, fragments: 0 },
    sip: { messages: 0, requests: 0, responses: 0, retransmissions: 0, callIds: 0, inviteDialogs: 0 },
    tables: { flows: 1, streams: 1, calls: 0, expectations: 0, peakFlows: 1, peakStreams: 1, peakCalls: 0 },
    evictions: { flowsIdle: 0, flowsFull: 0, streamsIdle: 0, streamsFull: 0, callsIdle: 0, callsFull: 0 },
    memory: { rss: 1e8, heapUsed: 5e7, peakRss: 1e8 }, warnings: [],
  };
}

export function duplicateFinding(id: string, o: Partial<DuplicateStreamFinding> = {}): DuplicateStreamFinding {
  return {
    v: 1, type: 'duplicate_stream', id, ts: T0 + 10, sensor: 's1', findingId: `f-${id}`, severity: 'critical', confidence: 0.9, callId: 'call-1',
    ssrc: 0x11223344, detectedAt: T0 + 10, firstSeen: T0 + 2, heuristic: { id: 'dup.exact', version: 1 }, allowlisted: null,
    evidenceIncomplete: false, summary: 'media copied', evidence: { copyPackets: 100, tunnels: [{ kind: 'vxlan', src: '10.9.9.1', dst: '10.9.9.2', id: 42 }] },
    copyTo: '192.0.2.66:5004', copyToIp: '192.0.2.66', mode: 'exact', declared: false, ...o,
  };
}

export function relayFinding(id: string, o: Partial<UnexpectedRelayFinding> = {}): UnexpectedRelayFinding {
  return {
    v: 1, type: 'unexpected_relay', id, ts: T0 + 20, sensor: 's2', findingId: `f-${id}`, severity: 'warning', confidence: 0.7, callId: 'call-2',
    ssrc: null, detectedAt: T0 + 20, firstSeen: T0 + 3, heuristic: { id: 'relay.unsignaled', version: 1 }, allowlisted: null,
    evidenceIncomplete: false, summary: 'relay', evidence: {}, relay: '198.51.100.7:3478', relayIp: '198.51.100.7', reason: 'unsignaled_endpoint', ...o,
  };
}

export function keyFinding(id: string, o: Partial<KeyExposureFinding> = {}): KeyExposureFinding {
  return {
    v: 1, type: 'key_exposure', id, ts: T0 + 30, sensor: 's1', findingId: `f-${id}`, severity: 'info', confidence: 1, callId: 'call-3', ssrc: null,
    detectedAt: T0 + 30, firstSeen: T0 + 30, heuristic: { id: 'key.sdes', version: 1 }, allowlisted: null, evidenceIncomplete: false,
    summary: 'key in clear', evidence: {}, leg: '10.0.0.1:5060 -> 10.0.0.2:5060', keyHash: 'abcdef0123456789', suite: 'AES_CM_128_HMAC_SHA1_80',
    reusedOn: [], ...o,
  };
}

export function findingUpdated(id: string, findingId: string, updates: number, o: Partial<FindingUpdatedEvent> = {}): FindingUpdatedEvent {
  return {
    v: 1, type: 'finding_updated', id, ts: T0 + 40 + updates, sensor: 's1', findingId, findingType: 'duplicate_stream', severity: 'critical',
    confidence: 0.99, callId: 'call-1', updates, evidenceIncomplete: false, changes: {}, evidence: { copyPackets: 100 * (updates + 1) }, ...o,
  };
}

const h16 = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 16);

/**
 * A fingerprint of SSRC `ssrc` with `blocks` complete blocks starting at
 * sequence `seq0`; `content` seeds the digests (same content = same packets).
 */
export function fingerprint(o: {
  id: string; sensor: string; streamId: string; dst: string; outerDst?: string | null; callId?: string | null; classifiedBy?: 'sdp' | 'heuristic';
  ssrc?: number; seq0?: number; blocks?: number; content?: string; payloadContent?: string; firstTs?: number;
}): StreamFingerprint {
  const blockSize = 64;
  const seq0 = o.seq0 ?? 128;
  const n = o.blocks ?? 4;
  const blocks = [];
  for (let i = 0; i < n; i++) {
    const seq = (seq0 + i * blockSize) & 0xffff;
    blocks.push({ seq, n: blockSize, header: h16(`h:${o.content ?? 'x'}:${seq}`), payload: h16(`p:${o.payloadContent ?? o.content ?? 'x'}:${seq}`) });
  }
  const firstTs = o.firstTs ?? T0 + 2;
  return {
    v: 1, type: 'stream_fingerprint', id: o.id, ts: firstTs + n * 1.28, sensor: o.sensor, streamId: o.streamId, ssrc: o.ssrc ?? 0xabcdef01,
    src: '10.0.0.1:4000', dst: o.dst, outerDst: o.outerDst ?? null, callId: o.callId ?? null, classifiedBy: o.classifiedBy ?? 'heuristic', firstTs,
    lastTs: firstTs + n * 1.28, packets: n * blockSize, seqFirst: seq0, seqLast: (seq0 + n * blockSize - 1) & 0xffff, rtpTsFirst: 16000,
    rtpTsLast: 16000 + n * blockSize * 160, blockSize, blocks,
  };
}
