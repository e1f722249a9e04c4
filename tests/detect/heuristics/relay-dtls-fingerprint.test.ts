import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RelayDtlsFingerprintDetector, relayDtlsFingerprint, verifyFingerprint } from '../../../sensor/src/detect/heuristics/relay-dtls-fingerprint.js';
import type { DtlsObservation } from '../../../sensor/src/detect/observations.js';
import type { Call } from '../../../sensor/src/calls/call.js';
import { makeCall, sdpObs, simpleSdp, unitContext } from '../fixtures/relay-unit.js';
import { describeRelays, runRelay, tmpDir } from '../fixtures/relay-run.js';
import { dtlsScene } from '../fixtures/relay-scenarios.js';

const FP_B = '3A:5B:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD';
const FP_OTHER = 'DE:AD:BE:EF:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD';

function dtlsObs(call: Call | null, src: string, sha256: string, dtls13 = false): DtlsObservation {
  const fingerprints = new Map<string, string>();
  if (sha256) fingerprints.set('sha-256', sha256);
  return { ts: 101, src, dst: '10.1.0.2:10000', call, fingerprints, dtls13 };
}

function setup() {
  const u = unitContext();
  const det = new RelayDtlsFingerprintDetector(u.ctx, { ...relayDtlsFingerprint.defaults });
  const call = makeCall('d1');
  det.onSdp(sdpObs(call, 'caller', simpleSdp('10.1.0.2', 10000, [`fingerprint:sha-256 ${FP_OTHER}`], 'UDP/TLS/RTP/SAVP')));
  det.onSdp(sdpObs(call, 'callee', simpleSdp('10.2.0.2', 20000, [`fingerprint:sha-256 ${FP_B}`], 'UDP/TLS/RTP/SAVP')));
  return { ...u, det, call };
}

describe('relay-dtls-fingerprint (unit)', () => {
  it('a certificate matching the announcing party is fine (case and separators do not matter)', () => {
    const { det, call, sink } = setup();
    det.onDtls(dtlsObs(call, '10.2.0.2:20000', FP_B.toLowerCase()));
    expect(sink.ofType('unexpected_relay')).toHaveLength(0);
    expect(det.counts.matched).toBe(1);
  });

  it('a certificate that differs from the leg\'s a=fingerprint is a critical finding naming the sender', () => {
    const { det, call, sink } = setup();
    const mitm = 'AB:'.repeat(31) + 'AB';
    det.onDtls(dtlsObs(call, '10.2.0.2:20000', mitm));
    const f = sink.ofType('unexpected_relay');
    expect(f).toHaveLength(1);
    expect(f[0]!.reason).toBe('dtls_fingerprint_mismatch');
    expect(f[0]!.relay).toBe('10.2.0.2:20000');
    expect(f[0]!.severity).toBe('critical');
    expect(f[0]!.evidence.announcedBy).toBe('callee');
    expect(f[0]!.evidence.observedFingerprint).toBe(mitm);
    expect(f[0]!.evidence.announcedFingerprints).toEqual([FP_B.replace(/:/g, '')]);
  });

  it('the other party\'s certificate sent from this party\'s endpoint is still a mismatch, flagged as such', () => {
    const { det, call, sink } = setup();
    det.onDtls(dtlsObs(call, '10.2.0.2:20000', FP_OTHER));
    const f = sink.ofType('unexpected_relay');
    expect(f).toHaveLength(1);
    expect(f[0]!.evidence.matchesOtherPartysFingerprint).toBe(true);
  });

  it('DTLS 1.3 (no certificate in clear) is "cannot verify": no finding', () => {
    const { det, call, sink } = setup();
    det.onDtls(dtlsObs(call, '10.2.0.2:20000', '', true));
    expect(sink.ofType('unexpected_relay')).toHaveLength(0);
    expect(det.counts.cannotVerify).toBe(1);
  });

  it('no call, or no a=fingerprint to compare with: nothing to say', () => {
    const { det, sink } = setup();
    det.onDtls(dtlsObs(null, '10.2.0.2:20000', FP_OTHER));
    const u2 = makeCall('nofp');
    det.onSdp(sdpObs(u2, 'callee', simpleSdp('10.6.0.2', 20000)));
    det.onDtls(dtlsObs(u2, '10.6.0.2:20000', FP_OTHER));
    expect(sink.ofType('unexpected_relay')).toHaveLength(0);
    expect(det.counts.noCall).toBe(1);
    expect(det.counts.noFingerprint).toBe(1);
  });

  it('verifyFingerprint falls back from endpoint to address to the whole call', () => {
    const { call } = setup();
    void call;
    const announced = [{ party: 'callee' as const, endpoints: new Set(['10.2.0.2:20000']), ips: new Set(['10.2.0.2']), hashFunc: 'sha-256', value: FP_B.replace(/:/g, ''), version: '', ts: 0 }];
    const certs = new Map([['sha-256', FP_B]]);
    expect(verifyFingerprint(announced, '10.2.0.2:20000', certs).verdict).toBe('match');
    expect(verifyFingerprint(announced, '10.2.0.2:40000', certs).verdict).toBe('match');
    const v = verifyFingerprint(announced, '203.0.113.9:40000', new Map([['sha-256', FP_OTHER]]));
    expect(v.verdict).toBe('mismatch');
    if (v.verdict === 'mismatch') expect(v.scope).toBe('call');
    expect(verifyFingerprint(announced, '10.2.0.2:20000', new Map([['sha-1', 'AA']])).verdict).toBe('no_fingerprint');
  });
});

const dir = tmpDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function makeDer(name: string): Buffer {
  const out = path.join(dir, `${name}.der`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${name}`, '-days', '1', '-outform', 'DER', '-keyout', path.join(dir, `${name}.key`), '-out', out], { stdio: 'ignore' });
  return fs.readFileSync(out);
}

function sha256Fingerprint(der: Buffer): string {
  return createHash('sha256').update(der).digest('hex').toUpperCase().match(/../g)!.join(':');
}

let hasOpenssl = true;
try {
  execFileSync('openssl', ['version'], { stdio: 'ignore' });
} catch {
  hasOpenssl = false;
}

describe.skipIf(!hasOpenssl)('relay-dtls-fingerprint (end to end, DTLS 1.2 Certificate in a synthetic capture)', () => {
  it('matching certificate: silent; a different certificate: dtls_fingerprint_mismatch', async () => {
    const bob = makeDer('bob');
    const mitm = makeDer('mitm');
    const ok = await runRelay(dtlsScene(path.join(dir, 'dtls-ok.pcap'), { announcedFingerprint: sha256Fingerprint(bob), sentDer: bob }));
    expect(ok.relays, describeRelays(ok.relays)).toHaveLength(0);
    const bad = await runRelay(dtlsScene(path.join(dir, 'dtls-bad.pcap'), { announcedFingerprint: sha256Fingerprint(bob), sentDer: mitm }));
    expect(bad.relays, describeRelays(bad.relays)).toHaveLength(1);
    const f = bad.relays[0]!;
    expect(f.reason).toBe('dtls_fingerprint_mismatch');
    expect(f.relay).toBe('10.2.0.2:20000');
    expect(f.callId).toBe('dtls@test');
    expect(f.evidence.observedFingerprint).toBe(sha256Fingerprint(mitm));
    expect(f.evidence.dtlsVersion).toBe('1.2');
  });
});
