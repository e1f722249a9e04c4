/** The label matcher and the scorer of the evaluation, on hand-built findings. */
import { describe, expect, it } from 'vitest';
import type { FindingEvent, TapwatchEvent } from '../../sensor/src/events/types.js';
import { allowedRelayReasons, assign, matches, mismatch, parseEndpoint, sameEndpoint, type ExpectedFinding } from './match.js';
import { scoreScenario, summarise, evalFailures, formatReport, type ScenarioResult } from './eval.js';
import type { Scenario } from './scenarios.js';

let seq = 0;
function finding(type: FindingEvent['type'], fields: Record<string, unknown>, extra: Partial<FindingEvent> = {}): FindingEvent {
  seq++;
  return {
    v: 1,
    id: `t-${seq}`,
    sensor: 'test',
    type,
    ts: 100.5,
    findingId: `t-f${seq}`,
    severity: 'critical',
    confidence: 0.9,
    callId: 'c1',
    ssrc: 1,
    detectedAt: 100.5,
    firstSeen: 100.2,
    heuristic: { id: 'test-heuristic', version: 1 },
    allowlisted: null,
    evidenceIncomplete: false,
    summary: 'test finding',
    evidence: {},
    ...fields,
    ...extra,
  } as FindingEvent;
}

const dup = (copyTo: string, mode = 'exact', extra: Record<string, unknown> = {}) =>
  finding('duplicate_stream', { copyTo, copyToIp: copyTo.split(':')[0], mode, declared: false, ...extra });

describe('parseEndpoint / sameEndpoint', () => {
  it('reads ip:port, bare ip, [v6]:port, bare v6 and SIP URIs; port 0 means no port', () => {
    expect(parseEndpoint('10.1.2.3:5060')).toEqual({ ip: '10.1.2.3', port: 5060 });
    expect(parseEndpoint('10.1.2.3')).toEqual({ ip: '10.1.2.3', port: null });
    expect(parseEndpoint('10.1.2.3:0')).toEqual({ ip: '10.1.2.3', port: null });
    expect(parseEndpoint('[2001:db8::1]:9060')).toEqual({ ip: '2001:db8::1', port: 9060 });
    expect(parseEndpoint('2001:DB8::1')).toEqual({ ip: '2001:db8::1', port: null });
    expect(parseEndpoint('sip:srs@10.9.9.9:5060;transport=udp')).toEqual({ ip: '10.9.9.9', port: 5060 });
    expect(parseEndpoint('not an address!')).toBeNull();
  });

  it('compares by IP alone when either side has no port, else by ip:port', () => {
    expect(sameEndpoint('10.99.0.8', '10.99.0.8:0')).toBe(true);
    expect(sameEndpoint('10.99.0.8:4789', '10.99.0.8:0')).toBe(true);
    expect(sameEndpoint('10.99.0.8', '10.99.0.8:4789')).toBe(true);
    expect(sameEndpoint('10.99.0.8:4789', '10.99.0.8:4790')).toBe(false);
    expect(sameEndpoint('10.99.0.8', '10.99.0.9')).toBe(false);
  });
});

describe('matches', () => {
  it('requires the type and every given field', () => {
    const f = dup('10.99.0.7:40000');
    expect(matches({ type: 'duplicate_stream' }, f)).toBe(true);
    expect(matches({ type: 'duplicate_stream', mode: 'exact', copyTo: '10.99.0.7:40000' }, f)).toBe(true);
    expect(matches({ type: 'duplicate_stream', mode: 'encapsulated' }, f)).toBe(false);
    expect(matches({ type: 'duplicate_stream', copyTo: '10.99.0.7:40001' }, f)).toBe(false);
    expect(matches({ type: 'signaling_copy', copyTo: '10.99.0.7:40000' }, f)).toBe(false);
    expect(matches({ type: 'duplicate_stream', declared: true }, f)).toBe(false);
    expect(matches({ type: 'duplicate_stream', declared: false }, f)).toBe(true);
  });

  it('accepts the next-hop MAC for a label that names copyToMac, and only then', () => {
    const f = dup('02:00:00:00:03:02');
    expect(matches({ type: 'duplicate_stream', copyTo: '10.10.3.2', copyToMac: '02:00:00:00:03:02' }, f)).toBe(true);
    expect(matches({ type: 'duplicate_stream', copyTo: '10.10.3.2', copyToMac: '02:00:00:00:03:03' }, f)).toBe(false);
    expect(matches({ type: 'duplicate_stream', copyTo: '10.10.3.2' }, f)).toBe(false);
    expect(matches({ type: 'duplicate_stream', copyTo: '10.10.3.2', copyToMac: '02:00:00:00:03:02' }, dup('10.10.3.2:20000'))).toBe(true);
  });

  it('treats notCritical as a severity bound', () => {
    expect(matches({ type: 'duplicate_stream', notCritical: true }, dup('1.2.3.4:5'))).toBe(false);
    expect(matches({ type: 'duplicate_stream', notCritical: true }, dup('1.2.3.4:5', 'exact', { severity: 'info' }))).toBe(true);
  });

  it('compares reason only on unexpected_relay, accepting "a or b: comment" alternatives', () => {
    const relay = finding('unexpected_relay', { relay: '10.10.4.2:30000', relayIp: '10.10.4.2', reason: 'unsignaled_endpoint' });
    expect(allowedRelayReasons('path_change or unsignaled_endpoint: B receives ...')).toEqual(new Set(['path_change', 'unsignaled_endpoint']));
    expect(allowedRelayReasons('free text about why')).toBeNull();
    expect(matches({ type: 'unexpected_relay', relay: '10.10.4.2:30000', reason: 'path_change or unsignaled_endpoint: why' }, relay)).toBe(true);
    expect(matches({ type: 'unexpected_relay', reason: 'path_change' }, relay)).toBe(false);
    expect(mismatch({ type: 'unexpected_relay', reason: 'path_change' }, relay)).toMatch(/reason/);
    // On other types reason is a comment for people.
    expect(matches({ type: 'duplicate_stream', reason: 'nft dup: the same IP packet...' }, dup('1.2.3.4:5'))).toBe(true);
  });

  it('matches declared_recording kind (label alias: method) and recorder', () => {
    const rec = finding('declared_recording', { kind: 'siprec', recorder: 'sip:srs@10.10.3.2:5060' });
    expect(matches({ type: 'declared_recording', method: 'siprec', recorder: '10.10.3.2:5060' }, rec)).toBe(true);
    expect(matches({ type: 'declared_recording', kind: 'p-dcs-laes' }, rec)).toBe(false);
    expect(matches({ type: 'declared_recording', recorder: '10.10.3.3' }, rec)).toBe(false);
  });

  it('matches key_exposure by suite', () => {
    const k = finding('key_exposure', { leg: 'a -> b', keyHash: 'abcd', suite: 'AES_CM_128_HMAC_SHA1_80', reusedOn: [] });
    expect(matches({ type: 'key_exposure', suite: 'AES_CM_128_HMAC_SHA1_80', method: 'sdes' }, k)).toBe(true);
    expect(matches({ type: 'key_exposure', suite: 'AEAD_AES_128_GCM' }, k)).toBe(false);
  });
});

describe('assign', () => {
  it('gives two alike expectations two distinct findings', () => {
    const e: ExpectedFinding[] = [{ type: 'key_exposure' }, { type: 'key_exposure' }];
    const k = () => finding('key_exposure', { leg: 'x', keyHash: 'h', suite: 's', reusedOn: [] });
    expect(assign(e, [k()])).toEqual([0, -1]);
    expect(assign(e, [k(), k()]).sort()).toEqual([0, 1]);
  });

  it('finds the matching that a greedy pass would miss', () => {
    // e0 accepts either finding, e1 only the first: greedy e0 -> f0 would leave e1 without one.
    const e: ExpectedFinding[] = [{ type: 'duplicate_stream' }, { type: 'duplicate_stream', copyTo: '10.0.0.1' }];
    const f = [dup('10.0.0.1:1'), dup('10.0.0.2:1')];
    expect(assign(e, f)).toEqual([1, 0]);
  });

  it('serves required entries before optional ones', () => {
    const e: ExpectedFinding[] = [{ type: 'duplicate_stream', optional: true }, { type: 'duplicate_stream' }];
    expect(assign(e, [dup('1.1.1.1:1')])).toEqual([-1, 0]);
  });
});

function scenario(label: Partial<Scenario['label']>, mustBeSilent = false): Scenario {
  return { name: 's', source: 'synthetic', pcap: '/dev/null', mustBeSilent, label: { name: 's', mustFind: [], mustNotFind: [], ...label } };
}

describe('scoreScenario', () => {
  const copyLabel = { mustFind: [{ type: 'duplicate_stream', mode: 'exact', copyTo: '10.99.0.7:40000' }] as ExpectedFinding[], mustNotFind: ['unexpected_relay'] as Scenario['label']['mustNotFind'] };

  it('scores a match with both delays, and flags an exact copy reported later than 1 s', () => {
    const ok = scoreScenario(scenario(copyLabel), [dup('10.99.0.7:40000')], [100.0]);
    expect(ok.missing).toEqual([]);
    expect(ok.matched[0]!.delayFirstSeen).toBeCloseTo(0.3);
    expect(ok.matched[0]!.delayCopy).toBeCloseTo(0.5);
    expect(ok.matched[0]!.late).toBe(false);
    const late = scoreScenario(scenario(copyLabel), [dup('10.99.0.7:40000', 'exact', { detectedAt: 101.6 })], [100.0]);
    expect(late.matched[0]!.late).toBe(true);
    const corr = scoreScenario(scenario({ mustFind: [{ type: 'duplicate_stream' }] }), [dup('10.99.0.7:40000', 'correlated', { detectedAt: 105 })], [100.0]);
    expect(corr.matched[0]!.late).toBe(false);
  });

  it('counts forbidden types and extra findings of demanded types as false positives, others as tolerated', () => {
    const events: TapwatchEvent[] = [
      dup('10.99.0.7:40000'),
      dup('10.99.0.8:1'),
      finding('unexpected_relay', { relay: '1.2.3.4:5', relayIp: '1.2.3.4', reason: 'path_change' }),
      finding('key_exposure', { leg: 'x', keyHash: 'h', suite: 's', reusedOn: [] }),
    ];
    const r = scoreScenario(scenario(copyLabel), events, [null]);
    expect(r.matched).toHaveLength(1);
    expect(r.falsePositives.map((f) => f.type).sort()).toEqual(['duplicate_stream', 'unexpected_relay']);
    expect(r.tolerated.map((f) => f.type)).toEqual(['key_exposure']);
  });

  it('on a must-be-silent capture every finding is a false positive unless allowlisted with a justification', () => {
    const f = dup('10.1.1.1:1');
    const s = scenario({ name: 'corpus.pcap', mustNotFind: ['duplicate_stream'] }, true);
    s.name = 'corpus.pcap';
    expect(scoreScenario(s, [f], []).falsePositives).toHaveLength(1);
    const allow = [{ file: 'corpus.pcap', type: 'duplicate_stream' as const, copyTo: '10.1.1.1', justification: 'shown true: frames 10-20 are ...' }];
    const r = scoreScenario(s, [f], [], allow);
    expect(r.falsePositives).toHaveLength(0);
    expect(r.allowlisted).toHaveLength(1);
  });

  it('reports secret markers that leak into the output', () => {
    const f = dup('10.99.0.7:40000', 'exact', { summary: 'key inline:SECRETKEY123 seen' });
    const r = scoreScenario(scenario({ ...copyLabel, secretMarkers: ['SECRETKEY123', 'OTHER'] }), [f], [null]);
    expect(r.leaks).toEqual(['SECRETKEY123']);
  });

  it('ignores events that are not findings', () => {
    const ev = { v: 1, id: 'x', sensor: 't', type: 'call_started', ts: 1, callId: 'c', from: 'a', to: 'b', transport: 'udp', src: 's', dst: 'd' } as TapwatchEvent;
    const r = scoreScenario(scenario(copyLabel), [ev], [null]);
    expect(r.findings).toHaveLength(0);
    expect(r.missing).toHaveLength(1);
  });
});

describe('summarise / evalFailures', () => {
  it('computes recall and precision and fails on misses and false positives', () => {
    const a = { ...scoreScenario(scenario({ mustFind: [{ type: 'duplicate_stream' }, { type: 'signaling_copy' }] }), [dup('1.1.1.1:1')], [null, null]), error: null, elapsedMs: 1 } as ScenarioResult;
    const b = { ...scoreScenario(scenario({ mustNotFind: ['duplicate_stream'] }), [dup('2.2.2.2:2')], []), error: null, elapsedMs: 1 } as ScenarioResult;
    const t = summarise([a, b]);
    expect(t.recall).toBeCloseTo(0.5);
    expect(t.precision).toBeCloseTo(0.5);
    expect(t.falsePositivesOnSilent).toBe(1);
    const report = { heuristics: [], results: [a, b], totals: t };
    expect(evalFailures(report)).toHaveLength(2);
    const text = formatReport(report);
    expect(text).toContain('recall:    50.0%');
    expect(text).toContain('MISSING  signaling_copy');
    expect(text).toContain('RESULT: FAIL');
  });

  it('passes an empty evaluation (nothing expected, nothing found)', () => {
    const r = { ...scoreScenario(scenario({}), [], []), error: null, elapsedMs: 1 } as ScenarioResult;
    const report = { heuristics: [], results: [r], totals: summarise([r]) };
    expect(evalFailures(report)).toEqual([]);
    expect(formatReport(report)).toContain('RESULT: PASS');
  });
});
