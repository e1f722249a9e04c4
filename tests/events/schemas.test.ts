import { describe, expect, it } from 'vitest';
import { compileEventValidator, loadEventSchemas } from '../../sensor/src/events/schemas.js';

const base = { v: 1, id: 'r-1', ts: 1700000000.5, sensor: 's1' };

describe('event JSON Schemas', () => {
  const v = compileEventValidator();

  it('has one versioned schema per event type', () => {
    expect(Object.keys(loadEventSchemas()).sort()).toEqual(
      ['call_ended', 'call_started', 'call_updated', 'sensor_stats', 'stream_ended', 'stream_started', 'duplicate_stream', 'signaling_copy', 'unexpected_relay', 'key_exposure', 'declared_recording', 'finding_updated'].sort(),
    );
  });

  it('accepts a valid stream_ended and rejects missing or extra fields', () => {
    const ok = {
      ...base,
      type: 'stream_ended',
      streamId: '1-0-abc-1',
      ssrc: 0xdeadbeef,
      src: '10.1.1.1:10000',
      dst: '10.2.2.2:10000',
      packets: 10,
      bytes: 1720,
      lost: -2,
      duplicates: 2,
      reordered: 0,
      callId: null,
      payloadTypes: [8],
      encrypted: true,
      classifiedBy: 'heuristic',
      transport: 'udp',
      firstTs: 1,
      lastTs: 2,
      jitterMs: 0.5,
      maxJitterMs: 1,
      ttl: 64,
      reason: 'end_of_input',
    };
    expect(v.validate(ok)).toBeNull();
    const { packets: _p, ...missing } = ok;
    expect(v.validate(missing)).toMatch(/packets/);
    expect(v.validate({ ...ok, payload: 'AAAA' })).toMatch(/additional/);
    expect(v.validate({ ...ok, ssrc: -1 })).toMatch(/ssrc/);
  });

  it('rejects unknown types and non-objects', () => {
    expect(v.validate({ ...base, type: 'nope' })).toMatch(/unknown event type/);
    expect(v.validate('x')).toMatch(/not an object/);
    expect(v.validate({ ...base })).toMatch(/no type|unknown/);
  });

  it('call_updated media entries cannot carry key material fields', () => {
    const e = {
      ...base,
      type: 'call_updated',
      callId: 'c1',
      state: 'confirmed',
      reason: 'answered',
      statusCode: 200,
      media: [
        {
          role: 'answer', party: 'callee', ts: 1, media: 'audio', endpoint: '10.0.0.1:4000', proto: 'RTP/SAVP',
          direction: 'sendrecv', payloadTypes: [0], secure: true, keying: 'sdes', candidates: [],
        },
      ],
    };
    expect(v.validate(e)).toBeNull();
    (e.media[0] as Record<string, unknown>).crypto = 'inline:abc';
    expect(v.validate(e)).toMatch(/additional/);
  });
});
