import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { KeyExposureDetector, keyExposureHeuristic } from '../../../sensor/src/detect/heuristics/key-exposure.js';
import type { HeuristicModule } from '../../../sensor/src/detect/detector.js';
import { runSensorOnFile } from '../../lib/run-sensor.js';
import { sdp } from '../fixtures/sip-pcap.js';
import { expectLabel, expectValidEvents, makeCall, makeContext, runScenario, sdpObs } from '../fixtures/sip-harness.js';
import { KEY_A, writeSdesReuse } from '../fixtures/sip-scenarios.js';

const KEY1 = 'MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwYWI';
const KEY2 = 'YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0NTY';
const A = '10.0.1.2:5060';
const P = '10.0.0.1:5060';
const B = '10.0.2.2:5060';

function setup() {
  const { ctx, sink } = makeContext();
  return { sink, det: new KeyExposureDetector(ctx, { ...keyExposureHeuristic.defaults }) };
}

describe('key-exposure', () => {
  it('reports one finding per (call, leg) with the key hash, never the key', () => {
    const { sink, det } = setup();
    const call = makeCall('k1');
    det.onSdp(sdpObs(call, sdp('10.0.1.2', 10000, { crypto: KEY1 }), 100, A, B, 'caller'));
    det.onSdp(sdpObs(call, sdp('10.0.2.2', 20000, { crypto: KEY2 }), 100.3, B, A, 'callee'));
    // The same SDP again on the same leg (re-INVITE without rekeying): no second finding.
    det.onSdp(sdpObs(call, sdp('10.0.1.2', 10000, { crypto: KEY1 }), 110, A, B, 'caller'));
    const f = sink.ofType('key_exposure');
    expect(f.map((x) => x.leg)).toEqual([`${A} -> ${B}`, `${B} -> ${A}`]);
    expect(f[0]!.keyHash).toMatch(/^[0-9a-f]{16}$/);
    expect(f[0]!.keyHash).not.toBe(f[1]!.keyHash);
    expect(f[0]!.suite).toBe('AES_CM_128_HMAC_SHA1_80');
    expect(f[0]!.severity).toBe('warning');
    expect(f[0]!.confidence).toBe(1);
    expect(f[0]!.reusedOn).toEqual([]);
    expect(f[0]!.evidence.transport).toBe('udp');
    const text = JSON.stringify(sink.events);
    for (const k of [KEY1, KEY2, Buffer.from(KEY1, 'base64').toString('hex')]) expect(text).not.toContain(k);
    expectValidEvents(sink);
  });

  it('is critical when the same key is reused in another call, and updates the earlier leg', () => {
    const { sink, det } = setup();
    det.onSdp(sdpObs(makeCall('k1'), sdp('10.0.1.2', 10000, { crypto: KEY1 }), 100, A, B, 'caller'));
    det.onSdp(sdpObs(makeCall('k2'), sdp('10.0.1.2', 10002, { crypto: KEY1 }), 200, A, '10.0.2.3:5060', 'caller'));
    const f = sink.ofType('key_exposure');
    expect(f).toHaveLength(2);
    expect(f[1]!.severity).toBe('critical');
    expect(f[1]!.reusedOn).toEqual([`k1: ${A} -> ${B}`]);
    expect(f[1]!.evidence.reuseKinds).toEqual(['other-call']);
    // The first finding learns of the reuse (its stored evidence and severity move).
    expect(f[0]!.severity).toBe('critical');
    expect(f[0]!.evidence.reusedOn).toEqual([`k2: ${A} -> 10.0.2.3:5060`]);
  });

  it('is critical when both parties of a call use the same key', () => {
    const { sink, det } = setup();
    const call = makeCall('k1');
    det.onSdp(sdpObs(call, sdp('10.0.1.2', 10000, { crypto: KEY1 }), 100, A, B, 'caller'));
    det.onSdp(sdpObs(call, sdp('10.0.2.2', 20000, { crypto: KEY1 }), 100.2, B, A, 'callee'));
    expect(sink.ofType('key_exposure')[1]!.evidence.reuseKinds).toEqual(['other-party']);
    expect(sink.ofType('key_exposure')[1]!.severity).toBe('critical');
  });

  it('says a proxy forwards the key on each hop, without calling it reuse', () => {
    const { sink, det } = setup();
    const call = makeCall('k1');
    det.onSdp(sdpObs(call, sdp('10.0.1.2', 10000, { crypto: KEY1 }), 100, A, P, 'caller'));
    det.onSdp(sdpObs(call, sdp('10.0.1.2', 10000, { crypto: KEY1 }), 100.001, P, B, 'caller'));
    const f = sink.ofType('key_exposure');
    expect(f).toHaveLength(2);
    expect(f[1]!.reusedOn).toEqual([`${A} -> ${P}`]);
    expect(f[1]!.evidence.reuseKinds).toEqual(['forwarded']);
    expect(f.every((x) => x.severity === 'warning')).toBe(true);
  });

  it('ignores SDP without inline keys, and encrypted transports', () => {
    const { sink, det } = setup();
    const call = makeCall('k1');
    det.onSdp(sdpObs(call, sdp('10.0.1.2', 10000), 100, A, B, 'caller'));
    det.onSdp(sdpObs(call, sdp('10.0.1.2', 10000, { crypto: KEY1 }), 100, A, B, 'caller', 'wss'));
    expect(sink.ofType('key_exposure')).toHaveLength(0);
  });

  it('keeps the key index bounded', () => {
    const { ctx } = makeContext();
    const det = new KeyExposureDetector(ctx, { ...keyExposureHeuristic.defaults, maxKeys: 4, maxLegs: 4 });
    for (let i = 0; i < 20; i++) {
      const key = Buffer.from(`key-number-${i}-padding-padding-pad`).toString('base64');
      det.onSdp(sdpObs(makeCall(`c${i}`), sdp('10.0.1.2', 10000, { crypto: key }), 100 + i, A, B, 'caller'));
    }
    const inner = det as unknown as { keys: Map<string, unknown>; legs: Map<string, unknown> };
    expect(inner.keys.size).toBeLessThanOrEqual(4);
    expect(inner.legs.size).toBeLessThanOrEqual(4);
  });
});

const modules: HeuristicModule[] = [keyExposureHeuristic];

describe('key-exposure: captures', () => {
  it('synthetic: a static key reused across calls', async () => {
    const { sink, label, recorders } = await runScenario(writeSdesReuse, modules);
    expectLabel(sink, label, recorders);
    const f = sink.ofType('key_exposure');
    expect(f).toHaveLength(4); // two legs per call
    // The later leg names the earlier one at once; the earlier one learns it through an update.
    expect(f.filter((x) => x.reusedOn.length > 0)).toHaveLength(1);
    const reused = f.filter((x) => (x.evidence.reusedOn as string[]).length > 0);
    expect(reused).toHaveLength(2);
    expect(reused.every((x) => x.severity === 'critical')).toBe(true);
    const updates = sink.ofType('finding_updated').filter((u) => u.findingType === 'key_exposure');
    expect(updates.some((u) => u.severity === 'critical' && (u.evidence.reusedOn as string[]).length === 1)).toBe(true);
    expect(new Set(reused.map((x) => x.keyHash)).size).toBe(1);
    expect(JSON.stringify(sink.events)).not.toContain(KEY_A);
  });

  const SCEN = path.resolve(__dirname, '../../scenarios/captures');
  it.skipIf(!fs.existsSync(path.join(SCEN, 'key_exposure_sdes.json')))('key_exposure_sdes: both legs, no secret marker in any event', async () => {
    const label = JSON.parse(fs.readFileSync(path.join(SCEN, 'key_exposure_sdes.json'), 'utf8')) as { secretMarkers: string[] };
    const sink = await runSensorOnFile(path.join(SCEN, 'key_exposure_sdes.pcap'), { heuristics: modules });
    expectValidEvents(sink);
    const f = sink.ofType('key_exposure');
    expect(f.map((x) => x.leg).sort()).toEqual(['10.10.1.2:5060 -> 10.10.2.2:5060', '10.10.2.2:5060 -> 10.10.1.2:5060']);
    expect(f.every((x) => x.suite === 'AES_CM_128_HMAC_SHA1_80')).toBe(true);
    const text = JSON.stringify(sink.events);
    expect(label.secretMarkers.length).toBeGreaterThan(0);
    for (const s of label.secretMarkers) expect(text).not.toContain(s);
  });

  it.skipIf(!fs.existsSync(SCEN))('stays silent on the scenarios without SDES', async () => {
    for (const n of ['normal_call', 'span_doubles', 'hep_siptrace', 'siprec_declared', 'reinvite_hold', 'copy_nft_dup']) {
      const sink = await runSensorOnFile(path.join(SCEN, `${n}.pcap`), { heuristics: modules });
      expect(sink.ofType('key_exposure'), n).toEqual([]);
    }
  });

  const CORPUS = path.resolve(__dirname, '../../../../shared/corpus');
  it.skipIf(!fs.existsSync(CORPUS))('stays silent on the real captures (no cleartext a=crypto in ../shared/corpus)', async () => {
    for (const f of fs.readdirSync(CORPUS).filter((x) => /\.pcap(ng)?$/.test(x))) {
      const sink = await runSensorOnFile(path.join(CORPUS, f), { heuristics: modules });
      expect(sink.ofType('key_exposure'), f).toEqual([]);
    }
  });
});
