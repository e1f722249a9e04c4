import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SigCopyDetector, sigCopyHeuristic } from '../../../sensor/src/detect/heuristics/sig-copy.js';
import { declaredRecordingHeuristic } from '../../../sensor/src/detect/heuristics/declared-recording.js';
import type { HeuristicModule } from '../../../sensor/src/detect/detector.js';
import { Policy } from '../../../sensor/src/detect/policy.js';
import { runSensorOnFile } from '../../lib/run-sensor.js';
import { directDialog, withHeaders } from '../fixtures/sip-pcap.js';
import { expectLabel, expectValidEvents, makeCall, makeContext, runScenario, sipObs } from '../fixtures/sip-harness.js';
import {
  writeDnatPbx,
  writeHepCopy,
  writeProxyForking,
  writeRawTeeCopy,
  writeSiptraceRawCopy,
  writeTunnelPathOnly,
  writeVxlanCopy,
} from '../fixtures/sip-scenarios.js';

const SETTINGS = { ...sigCopyHeuristic.defaults };
const A = '10.0.1.2:5060';
const B = '10.0.2.2:5060';
const X = '10.0.9.9:9060';
const hep = (dst = X, src = '10.0.0.1:5060') => [{ kind: 'hep3', src, dst, id: 2001 }];

function setup(settings = SETTINGS, policy?: Policy) {
  const { ctx, sink } = makeContext(policy);
  const det = new SigCopyDetector(ctx, settings);
  const call = makeCall('c1@10.0.1.2');
  const d = directDialog(A, B, { callId: 'c1@10.0.1.2' });
  return { ctx, sink, det, call, d };
}

describe('sig-copy: encapsulated copies', () => {
  it('reports a HEP3 copy to a non-hop as soon as the same message is seen plain', () => {
    const { sink, det, call, d } = setup();
    det.onSip(sipObs(call, d.invite, 100, A, B, { digest: 1 }));
    det.onSip(sipObs(call, d.invite, 100.001, A, B, { digest: 1, tunnels: hep() }));
    const f = sink.ofType('signaling_copy');
    expect(f).toHaveLength(1);
    expect(f[0]!.copyTo).toBe(X);
    expect(f[0]!.copyToIp).toBe('10.0.9.9');
    expect(f[0]!.detectedAt).toBe(100.001);
    expect(f[0]!.firstSeen).toBe(100.001);
    expect(f[0]!.severity).toBe('warning');
    expect(f[0]!.evidence.mechanism).toBe('hep3');
    expect(f[0]!.evidence.originalDst).toBe(B);
    expect(f[0]!.evidence.basis).toBe('twin');
    expect(f[0]!.evidence.sdpCopied).toBe(true);
    expectValidEvents(sink);
  });

  it('also reports when the HEP copy comes first, and counts later copies into one finding', () => {
    const { sink, det, call, d } = setup();
    det.onSip(sipObs(call, d.invite, 100, A, B, { digest: 1, tunnels: hep() }));
    expect(sink.ofType('signaling_copy')).toHaveLength(0); // HEP alone could be the sensor's own HEP feed
    det.onSip(sipObs(call, d.invite, 100.0005, A, B, { digest: 1 }));
    det.onSip(sipObs(call, d.ringing, 100.1, B, A, { digest: 2 }));
    det.onSip(sipObs(call, d.ringing, 100.1005, B, A, { digest: 2, tunnels: hep() }));
    const f = sink.ofType('signaling_copy');
    expect(f).toHaveLength(1);
    expect(f[0]!.evidence.messages).toBe(2);
    expect(f[0]!.evidence.offsetSec).toBe(-0.001);
  });

  it('stays silent on a call seen only through HEP (the sensor is the collector), on loopback HEP, and when the collector is a hop', () => {
    const a = setup();
    a.det.onSip(sipObs(a.call, a.d.invite, 100, A, B, { digest: 1, tunnels: hep() }));
    a.det.onSip(sipObs(a.call, a.d.ok, 100.2, B, A, { digest: 2, tunnels: hep() }));
    a.det.flush(200);
    expect(a.sink.ofType('signaling_copy')).toHaveLength(0);

    const b = setup();
    b.det.onSip(sipObs(b.call, b.d.invite, 100, A, B, { digest: 1 }));
    b.det.onSip(sipObs(b.call, b.d.invite, 100.001, A, B, { digest: 1, tunnels: hep('127.0.0.1:9060', '127.0.0.1:40000') }));
    expect(b.sink.ofType('signaling_copy')).toHaveLength(0);

    const c = setup();
    c.det.onSip(sipObs(c.call, c.d.invite, 100, A, B, { digest: 1 }));
    c.det.onSip(sipObs(c.call, c.d.invite, 100.001, A, B, { digest: 1, tunnels: hep('10.0.2.2:9060') })); // B is the request target
    expect(c.sink.ofType('signaling_copy')).toHaveLength(0);
  });

  it('treats a general tunnel as a copy only when the same message was also delivered outside it', () => {
    const vx = (dst: string) => [{ kind: 'vxlan', src: '10.0.0.1:5000', dst, id: 42 }];
    const a = setup();
    a.det.onSip(sipObs(a.call, a.d.invite, 100, A, B, { digest: 1 }));
    // The answer travels only inside the overlay: that is its path, not a copy (sngrep_ipip's shape).
    a.det.onSip(sipObs(a.call, a.d.ok, 100.3, B, A, { digest: 2, tunnels: vx('10.0.7.7:4789') }));
    a.det.flush(200);
    expect(a.sink.ofType('signaling_copy')).toHaveLength(0);

    const b = setup();
    b.det.onSip(sipObs(b.call, b.d.invite, 100, A, B, { digest: 1 }));
    b.det.onSip(sipObs(b.call, b.d.invite, 100.0001, A, B, { digest: 1, tunnels: vx('10.0.7.7:4789') }));
    const f = b.sink.ofType('signaling_copy');
    expect(f.map((x) => x.copyTo)).toEqual(['10.0.7.7:4789']);
    expect(f[0]!.evidence.tunnels).toEqual(vx('10.0.7.7:4789'));
  });

  it('is critical when the copied messages carry SDES keys of the call', () => {
    const { sink, det, call } = setup();
    call.media.push({ role: 'offer', party: 'caller', ts: 100, media: 'audio', endpoint: '10.0.1.2:10000', proto: 'RTP/SAVP', direction: 'sendrecv', payloadTypes: [8], secure: true, keying: 'sdes', candidates: [] });
    const d = directDialog(A, B, { callId: 'c1@10.0.1.2', callerKey: 'QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZn' });
    det.onSip(sipObs(call, d.invite, 100, A, B, { digest: 1 }));
    det.onSip(sipObs(call, d.invite, 100.001, A, B, { digest: 1, tunnels: hep() }));
    const f = sink.ofType('signaling_copy');
    expect(f[0]!.severity).toBe('critical');
    expect(f[0]!.evidence.sdesKeysCopied).toBe(true);
    expect(JSON.stringify(sink.events)).not.toContain('QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZn');
  });

  it('downgrades a copy to a declared recorder and honours the policy allowlist', () => {
    const a = setup();
    a.ctx.recorders.declare('10.0.9.9', 'siprec', 'rs-1', 90);
    a.det.onSip(sipObs(a.call, a.d.invite, 100, A, B, { digest: 1 }));
    a.det.onSip(sipObs(a.call, a.d.invite, 100.001, A, B, { digest: 1, tunnels: hep() }));
    const f = a.sink.ofType('signaling_copy')[0]!;
    expect(f.severity).toBe('info');
    expect(f.allowlisted?.rule).toBe('declared-recorder');

    const policy = new Policy({ authorised: [{ name: 'homer', role: 'collector', cidr: '10.0.9.0/24', ports: [9060], action: 'silence' }] });
    const b = setup(SETTINGS, policy);
    b.det.onSip(sipObs(b.call, b.d.invite, 100, A, B, { digest: 1 }));
    b.det.onSip(sipObs(b.call, b.d.invite, 100.001, A, B, { digest: 1, tunnels: hep() }));
    expect(b.sink.ofType('signaling_copy')).toHaveLength(0);
  });

  it('ignores messages outside a dialog (REGISTER, OPTIONS)', () => {
    const { sink, det } = setup();
    const reg = 'REGISTER sip:example.test SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.1.2:5060;branch=z9hG4bK-r\r\nFrom: <sip:a@example.test>;tag=1\r\nTo: <sip:a@example.test>\r\nCall-ID: r1\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n';
    det.onSip(sipObs(null, reg, 100, A, B, { digest: 9 }));
    det.onSip(sipObs(null, reg, 100.001, A, B, { digest: 9, tunnels: hep() }));
    det.onSip(sipObs(null, reg, 100.002, A, X, { digest: 9 }));
    det.flush(200);
    expect(sink.ofType('signaling_copy')).toHaveLength(0);
  });
});

describe('sig-copy: raw copies', () => {
  it('reports the same message delivered to an extra IP that never takes part, after the grace', () => {
    const { sink, det, call, d } = setup();
    det.onSip(sipObs(call, d.invite, 100, A, B, { digest: 1 }));
    det.onSip(sipObs(call, d.invite, 100.0002, A, '10.0.9.9:5060', { digest: 1, retransmission: true }));
    expect(sink.ofType('signaling_copy')).toHaveLength(0); // not yet: it may still answer
    det.onSip(sipObs(call, d.trying, 100.01, B, A, { digest: 2 }));
    det.onTick(100.4);
    expect(sink.ofType('signaling_copy')).toHaveLength(0);
    det.onTick(100.6);
    const f = sink.ofType('signaling_copy');
    expect(f).toHaveLength(1);
    expect(f[0]!.copyTo).toBe('10.0.9.9:5060');
    expect(f[0]!.evidence.mechanism).toBe('raw');
    expect(f[0]!.evidence.originalDst).toBe(B);
    expect(f[0]!.detectedAt - f[0]!.firstSeen).toBeLessThan(1);
  });

  it('drops a readdressed destination that answers (DNAT to a PBX)', () => {
    const { sink, det, call, d } = setup();
    det.onSip(sipObs(call, d.invite, 100, A, B, { digest: 1 }));
    det.onSip(sipObs(call, d.invite, 100.0002, A, '10.0.5.5:5060', { digest: 1 }));
    det.onSip(sipObs(call, d.trying, 100.01, '10.0.5.5:5060', A, { digest: 2 }));
    det.onTick(101);
    det.flush(102);
    expect(sink.ofType('signaling_copy')).toHaveLength(0);
  });

  it('does not count an error response from the copy target as taking part', () => {
    const { sink, det, call, d } = setup();
    det.onSip(sipObs(call, d.invite, 100, A, B, { digest: 1 }));
    det.onSip(sipObs(call, d.invite, 100.0002, A, '10.0.9.9:5060', { digest: 1 }));
    det.onSip(sipObs(call, d.trying, 100.001, B, A, { digest: 2 }));
    const err = d.trying.replace('100 Trying', '481 Call/Transaction Does Not Exist');
    det.onSip(sipObs(call, err, 100.002, '10.0.9.9:5060', A, { digest: 3 }));
    det.onTick(101);
    expect(sink.ofType('signaling_copy').map((f) => f.copyTo)).toEqual(['10.0.9.9:5060']);
  });

  it('stays silent on retransmissions and SPAN doubles (same message, same path)', () => {
    const { sink, det, call, d } = setup();
    for (let i = 0; i < 4; i++) det.onSip(sipObs(call, d.invite, 100 + i * 0.5, A, B, { digest: 1, retransmission: i > 0 }));
    det.onTick(110);
    det.flush(111);
    expect(sink.ofType('signaling_copy')).toHaveLength(0);
  });

  it('needs a delivery to a real hop: two unknown destinations are not enough to tell which is the copy', () => {
    const { sink, det, call } = setup();
    const d = directDialog(A, 'proxy.example.test:5060', { callId: 'c1@10.0.1.2' });
    det.onSip(sipObs(call, d.invite, 100, A, '10.0.3.3:5060', { digest: 1 }));
    det.onSip(sipObs(call, d.invite, 100.001, A, '10.0.4.4:5060', { digest: 1 }));
    det.flush(200);
    expect(sink.ofType('signaling_copy')).toHaveLength(0);
  });

  it('is decided by the first RTP packet after the grace (no wait for the next tick)', () => {
    const { sink, det, call, d } = setup();
    det.onSip(sipObs(call, d.invite, 100, A, B, { digest: 1 }));
    det.onSip(sipObs(call, d.invite, 100.0002, A, '10.0.9.9:5060', { digest: 1 }));
    det.onSip(sipObs(call, d.trying, 100.01, B, A, { digest: 2 }));
    det.onRtp({ ts: 100.3 } as never);
    expect(sink.ofType('signaling_copy')).toHaveLength(0);
    det.onRtp({ ts: 100.52 } as never);
    expect(sink.ofType('signaling_copy')).toHaveLength(1);
  });

  it('marks copies carrying X-Siptrace headers as declared (configurable)', () => {
    for (const declared of [true, false]) {
      const { sink, det, call, d } = setup({ ...SETTINGS, siptraceDeclared: declared });
      det.onSip(sipObs(call, d.invite, 100, A, B, { digest: 1 }));
      det.onSip(sipObs(call, d.trying, 100.01, B, A, { digest: 2 }));
      const copy = withHeaders(d.invite, [['X-Siptrace-Fromip', `udp:${A}`], ['X-Siptrace-Toip', `udp:${B}`]]);
      det.onSip(sipObs(call, copy, 100.02, '10.0.0.1:5060', '10.0.9.9:5060', { digest: 1 }));
      det.flush(101);
      const f = sink.ofType('signaling_copy')[0]!;
      expect(f.severity).toBe(declared ? 'info' : 'warning');
      expect(f.allowlisted?.rule ?? null).toBe(declared ? 'declared-siptrace' : null);
      expect(f.evidence.siptraceHeaders).toBe(true);
    }
  });

  it('keeps memory bounded: call state goes after the call ends and lingers', () => {
    const { det, call, d } = setup({ ...SETTINGS, lingerSec: 5 });
    det.onSip(sipObs(call, d.invite, 100, A, B, { digest: 1 }));
    expect(det.trackedCalls).toBe(1);
    det.onCallEnded(call);
    det.onTick(103);
    expect(det.trackedCalls).toBe(1);
    det.onTick(106);
    expect(det.trackedCalls).toBe(0);
    const many = setup({ ...SETTINGS, maxCalls: 10 });
    for (let i = 0; i < 50; i++) many.det.onSip(sipObs(makeCall(`k${i}`), d.invite, 100 + i, A, B, { digest: i }));
    expect(many.det.trackedCalls).toBeLessThanOrEqual(10);
  });
});

const modules: HeuristicModule[] = [declaredRecordingHeuristic, sigCopyHeuristic];

describe('sig-copy: synthetic captures', () => {
  for (const [name, write] of [
    ['raw TEE+DNAT copy to a non-hop', writeRawTeeCopy],
    ['raw Kamailio siptrace copies (X-Siptrace headers)', writeSiptraceRawCopy],
    ['SIP copied into VXLAN', writeVxlanCopy],
    ['SIP copied into HEP3', writeHepCopy],
    ['a tunnel that is the only path', writeTunnelPathOnly],
    ['a Record-Routing proxy forking to two contacts, SPAN doubles', writeProxyForking],
    ['a PBX behind DNAT seen on both sides', writeDnatPbx],
  ] as const) {
    it(name, async () => {
      const { sink, label, recorders } = await runScenario(write, modules);
      expectLabel(sink, label, recorders);
    });
  }

  it('reports the raw copy within 1 s of capture time', async () => {
    const { sink } = await runScenario(writeRawTeeCopy, modules);
    const f = sink.ofType('signaling_copy')[0]!;
    expect(f.detectedAt - f.firstSeen).toBeLessThanOrEqual(1);
    expect(f.evidence.messages).toBeGreaterThanOrEqual(5);
  });
});

const SCEN = path.resolve(__dirname, '../../scenarios/captures');

describe.skipIf(!fs.existsSync(SCEN))('sig-copy: labelled scenario captures', () => {
  const labels = fs.existsSync(SCEN) ? fs.readdirSync(SCEN).filter((f) => f.endsWith('.json')) : [];
  for (const l of labels) {
    it(l.replace('.json', ''), async () => {
      const label = JSON.parse(fs.readFileSync(path.join(SCEN, l), 'utf8')) as { mustFind: Array<{ type: string; copyTo?: string }>; mustNotFind: string[] };
      const sink = await runSensorOnFile(path.join(SCEN, l.replace('.json', '.pcap')), { heuristics: modules });
      expectValidEvents(sink);
      const got = sink.ofType('signaling_copy');
      const want = label.mustFind.filter((m) => m.type === 'signaling_copy');
      if (label.mustNotFind.includes('signaling_copy')) expect(got).toEqual([]);
      for (const w of want) {
        const f = got.find((g) => g.copyTo === w.copyTo);
        expect(f, `signaling_copy to ${w.copyTo}`).toBeDefined();
        expect(f!.detectedAt - f!.firstSeen).toBeLessThanOrEqual(1);
      }
      expect(got.length).toBe(want.length);
    });
  }
});

const CORPUS = path.resolve(__dirname, '../../../../shared/corpus');

describe.skipIf(!fs.existsSync(CORPUS))('sig-copy: real captures (../shared/corpus) stay silent', () => {
  it('has no signaling_copy on any corpus capture', async () => {
    const files = fs.readdirSync(CORPUS).filter((f) => /\.pcap(ng)?$/.test(f));
    expect(files.length).toBeGreaterThan(10);
    for (const f of files) {
      const sink = await runSensorOnFile(path.join(CORPUS, f), { heuristics: modules });
      expect(sink.ofType('signaling_copy'), f).toEqual([]);
    }
  });
});
