import { describe, expect, it } from 'vitest';
import { RelayZrtpHashDetector, relayZrtpHash, verifyZrtpHash } from '../../../sensor/src/detect/heuristics/relay-zrtp-hash.js';
import type { ZrtpObservation } from '../../../sensor/src/detect/observations.js';
import type { Call } from '../../../sensor/src/calls/call.js';
import { makeCall, sdpObs, simpleSdp, unitContext } from '../fixtures/relay-unit.js';

const H_A = 'a'.repeat(64);
const H_B = '0123456789abcdef'.repeat(4);

function zrtpObs(call: Call | null, src: string, helloHash: string, mitm = false): ZrtpObservation {
  return { ts: 101, src, dst: '10.1.0.2:10000', call, helloHash, version: '1.10', mitm };
}

function setup() {
  const u = unitContext();
  const det = new RelayZrtpHashDetector(u.ctx, { ...relayZrtpHash.defaults });
  const call = makeCall('z1');
  det.onSdp(sdpObs(call, 'caller', simpleSdp('10.1.0.2', 10000, [`zrtp-hash:1.10 ${H_A}`])));
  det.onSdp(sdpObs(call, 'callee', simpleSdp('10.2.0.2', 20000, [`zrtp-hash:1.10 ${H_B}`])));
  return { ...u, det, call };
}

describe('relay-zrtp-hash (unit)', () => {
  it('the Hello of the announcing party matches its a=zrtp-hash: silent', () => {
    const { det, call, sink } = setup();
    det.onZrtp(zrtpObs(call, '10.2.0.2:20000', H_B.toUpperCase()));
    expect(sink.ofType('unexpected_relay')).toHaveLength(0);
    expect(det.counts.matched).toBe(1);
  });

  it('a Hello that hashes differently is a critical zrtp_hash_mismatch naming the sender', () => {
    const { det, call, sink } = setup();
    det.onZrtp(zrtpObs(call, '10.2.0.2:20000', 'f'.repeat(64)));
    const f = sink.ofType('unexpected_relay');
    expect(f).toHaveLength(1);
    expect(f[0]!.reason).toBe('zrtp_hash_mismatch');
    expect(f[0]!.relay).toBe('10.2.0.2:20000');
    expect(f[0]!.severity).toBe('critical');
    expect(f[0]!.evidence.announcedHashes).toEqual([H_B]);
    expect(f[0]!.evidence.mitmFlag).toBe(false);
  });

  it('the M flag (declared trusted MiTM) downgrades to warning and says so', () => {
    const { det, call, sink } = setup();
    det.onZrtp(zrtpObs(call, '10.2.0.2:20000', 'f'.repeat(64), true));
    const f = sink.ofType('unexpected_relay');
    expect(f).toHaveLength(1);
    expect(f[0]!.severity).toBe('warning');
    expect(f[0]!.evidence.mitmFlag).toBe(true);
    expect(f[0]!.confidence).toBeLessThan(0.9);
  });

  it('no zrtp-hash announced, or no call: nothing', () => {
    const { det, sink } = setup();
    const c2 = makeCall('z2');
    det.onSdp(sdpObs(c2, 'callee', simpleSdp('10.6.0.2', 20000)));
    det.onZrtp(zrtpObs(c2, '10.6.0.2:20000', H_B));
    det.onZrtp(zrtpObs(null, '10.6.0.2:20000', H_B));
    expect(sink.ofType('unexpected_relay')).toHaveLength(0);
    expect(det.counts.noHash).toBe(1);
    expect(det.counts.noCall).toBe(1);
  });

  it('verifyZrtpHash uses the endpoint, then the address, then the whole call', () => {
    const k = [
      { party: 'caller' as const, endpoints: new Set(['10.1.0.2:10000']), ips: new Set(['10.1.0.2']), hashFunc: 'sha-256', value: H_A.toUpperCase(), version: '1.10', ts: 0 },
      { party: 'callee' as const, endpoints: new Set(['10.2.0.2:20000']), ips: new Set(['10.2.0.2']), hashFunc: 'sha-256', value: H_B.toUpperCase(), version: '1.10', ts: 0 },
    ];
    // From A's endpoint with B's hash: mismatch for that endpoint.
    const v = verifyZrtpHash(k, '10.1.0.2:10000', H_B);
    expect(v.verdict).toBe('mismatch');
    if (v.verdict === 'mismatch') expect(v.party).toBe('caller');
    expect(verifyZrtpHash(k, '10.2.0.2:30000', H_B).verdict).toBe('match');
    expect(verifyZrtpHash(k, '198.51.100.1:4000', H_A).verdict).toBe('match');
  });
});
