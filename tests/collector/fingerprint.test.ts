import { describe, expect, it } from 'vitest';
import { compileEventValidator } from '../../sensor/src/events/schemas.js';
import {
  compileFingerprintValidator,
  crossSensorFinding,
  fingerprintKey,
  matchFingerprints,
} from '../../collector/src/ingest/fingerprint.js';
import { fingerprint } from './fixtures.js';

const W = 300;

describe('cross-sensor fingerprint join', () => {
  const original = fingerprint({ id: 'fa', sensor: 'edge-a', streamId: 'sa', dst: '10.0.0.2:4000', callId: 'c1', classifiedBy: 'sdp' });
  const copy = fingerprint({ id: 'fb', sensor: 'edge-b', streamId: 'sb', dst: '10.0.0.2:4000', outerDst: '203.0.113.9:4789' });

  it('matches a verbatim copy leaving through another sensor, and names both sensors', () => {
    const m = matchFingerprints(copy, original, W);
    expect(m).not.toBeNull();
    expect(m!.original.sensor).toBe('edge-a');
    expect(m!.copy.sensor).toBe('edge-b');
    expect(m!.mode).toBe('exact');
    expect(m!.compared).toBe(4);
    const f = crossSensorFinding(m!);
    expect(f.copyTo).toBe('203.0.113.9:4789');
    expect(f.copyToIp).toBe('203.0.113.9');
    expect(f.evidence.sensors).toEqual(['edge-a', 'edge-b']);
    expect(f.severity).toBe('critical');
    // The finding is a valid duplicate_stream event (same contract as the sensor's).
    expect(compileEventValidator().validate(f)).toBeNull();
  });

  it('gives the same finding id whichever side arrives first', () => {
    expect(crossSensorFinding(matchFingerprints(copy, original, W)!).id).toBe(crossSensorFinding(matchFingerprints(original, copy, W)!).id);
  });

  it('does not call the same stream seen by two sensors on its path a copy', () => {
    const onPath = fingerprint({ id: 'fc', sensor: 'core', streamId: 'sc', dst: '10.0.0.2:4000' });
    expect(matchFingerprints(original, onPath, W)).toBeNull();
  });

  it('reports a re-encrypted copy (headers align, payload differs) as correlated', () => {
    const reenc = fingerprint({ id: 'fd', sensor: 'edge-b', streamId: 'sd', dst: '198.51.100.4:6000', payloadContent: 'other' });
    const m = matchFingerprints(original, reenc, W);
    expect(m?.mode).toBe('correlated');
    expect(m?.payloadMatches).toBe(0);
  });

  it('rejects unrelated streams that share an SSRC, other SSRCs, far-apart times and the same sensor', () => {
    expect(matchFingerprints(original, fingerprint({ id: 'x', sensor: 'edge-b', streamId: 's', dst: '1.2.3.4:5', content: 'unrelated' }), W)).toBeNull();
    expect(matchFingerprints(original, { ...copy, ssrc: 5 }, W)).toBeNull();
    expect(matchFingerprints(original, { ...copy, firstTs: copy.firstTs + 10_000, lastTs: copy.lastTs + 10_000 }, W)).toBeNull();
    expect(matchFingerprints(original, { ...copy, sensor: 'edge-a' }, W)).toBeNull();
  });

  it('compares only blocks both sensors saw completely', () => {
    const partial = { ...copy, blocks: copy.blocks.map((b) => ({ ...b, n: 10 })) };
    expect(matchFingerprints(original, partial, W)).toBeNull();
  });

  it('keys fingerprints by SSRC so one SSRC always lands in one partition', () => {
    expect(fingerprintKey(0xabcdef01)).toBe('abcdef01');
    expect(fingerprintKey(1)).toBe('00000001');
  });

  it('validates fingerprint messages against their schema (no payload field allowed)', () => {
    const v = compileFingerprintValidator();
    expect(v.validate(original)).toBeNull();
    expect(v.validate({ ...original, payload: 'AAAA' })).toMatch(/additional/);
    expect(v.validate({ ...original, blocks: [{ seq: 0, n: 64, header: 'zz', payload: null }] })).toMatch(/header/);
  });
});
