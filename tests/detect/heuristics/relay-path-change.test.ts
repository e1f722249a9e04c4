import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RelayPathChangeDetector, relayPathChange } from '../../../sensor/src/detect/heuristics/relay-path-change.js';
import { RtpObservation } from '../../../sensor/src/detect/observations.js';
import type { SipObservation } from '../../../sensor/src/detect/observations.js';
import type { SipMessage } from '../../../sensor/src/app/sip/sip-message.js';
import { fakeStream, makeCall, sdpObs, simpleSdp, unitContext } from '../fixtures/relay-unit.js';
import { SCENARIOS, describeRelays, runRelay, tmpDir } from '../fixtures/relay-run.js';
import { forkingScene, hopShiftScene, mixerScene, moveToSipHopScene, transferScene, turnScene } from '../fixtures/relay-scenarios.js';

function setup() {
  const u = unitContext();
  const det = new RelayPathChangeDetector(u.ctx, { ...relayPathChange.defaults });
  const call = makeCall('p1', 0);
  call.state = 'early'; // the initial offer/answer is not renegotiation
  det.onSdp(sdpObs(call, 'caller', simpleSdp('10.1.0.2', 10000), { ts: 0 }));
  det.onSdp(sdpObs(call, 'callee', simpleSdp('10.2.0.2', 20000), { ts: 0.05 }));
  call.state = 'confirmed';
  const stream = fakeStream({ src: '10.1.0.2:10000', dst: '10.2.0.2:20000', ssrc: 0x77, call, firstTs: 0.1 });
  const o = new RtpObservation();
  o.stream = stream;
  let seq = 1000;
  let ts = 0.1;
  /** Feed packets; `dup` also feeds a copy of each with ttl-1 and the same seq (a SPAN double). */
  const feed = (n: number, ttl: number, mac = 0x0200_0a01_0002, dup = false): void => {
    for (let i = 0; i < n; i++) {
      o.seq = seq++ & 0xffff;
      o.ts = ts;
      ts += 0.02;
      o.ttl = ttl;
      o.srcMac = mac;
      det.onRtp(o);
      if (dup) {
        o.ttl = ttl - 1;
        o.srcMac = 0x0200_0000_ff01;
        det.onRtp(o);
      }
    }
  };
  return { ...u, det, call, feed };
}

function reinvite(call: ReturnType<typeof makeCall>, ts: number): SipObservation {
  const msg = { kind: 'request', method: 'INVITE', to: { tag: 'b' } } as unknown as SipMessage;
  return { ts, call, msg, src: '10.1.0.2:5060', dst: '10.2.0.2:5060', srcIp: '10.1.0.2', dstIp: '10.2.0.2', transport: 'udp', digest: 0, retransmission: false, tunnels: [], ttl: 64, ipId: 0, srcMac: -1, dstMac: -1 };
}

describe('relay-path-change (unit)', () => {
  it('reports a persistent TTL drop on one 5-tuple with no renegotiation', () => {
    const { det, feed, sink } = setup();
    feed(50, 64);
    feed(9, 61, 0x0200_0000_9901);
    expect(sink.ofType('unexpected_relay')).toHaveLength(0);
    feed(1, 61, 0x0200_0000_9901);
    const f = sink.ofType('unexpected_relay');
    expect(f).toHaveLength(1);
    expect(f[0]!.reason).toBe('path_change');
    expect(f[0]!.relay).toBe('10.1.0.2:10000');
    expect(f[0]!.evidence.ttlBefore).toBe(64);
    expect(f[0]!.evidence.ttlAfter).toBe(61);
    expect(f[0]!.evidence.hopsAdded).toBe(3);
    expect(f[0]!.evidence.previousHopMacAfter).toBe('02:00:00:00:99:01');
    expect(f[0]!.severity).toBe('warning');
  });

  it('single outliers and interleaved old-TTL packets are not a shift', () => {
    const { det, feed, sink } = setup();
    for (let i = 0; i < 30; i++) {
      feed(5, 64);
      feed(3, 61);
    }
    expect(sink.ofType('unexpected_relay')).toHaveLength(0);
    expect(det.counts.hopShifts).toBe(0);
  });

  it('SPAN doubles (same seq, TTL one lower) never shift the path, but a real shift under doubles is still seen', () => {
    const { feed, sink } = setup();
    feed(200, 64, undefined, true);
    expect(sink.ofType('unexpected_relay')).toHaveLength(0);
    feed(20, 60, 0x0200_0000_9901, true);
    expect(sink.ofType('unexpected_relay')).toHaveLength(1);
  });

  it('a re-INVITE shortly before the shift explains it', () => {
    const { det, feed, sink, call } = setup();
    feed(50, 64);
    det.onSip(reinvite(call, 0.9));
    feed(30, 61);
    expect(sink.ofType('unexpected_relay')).toHaveLength(0);
    expect(det.counts.explained).toBe(1);
  });

  it('a TTL rise (a hop removed) is not reported by default', () => {
    const { feed, sink } = setup();
    feed(50, 61);
    feed(30, 62);
    expect(sink.ofType('unexpected_relay')).toHaveLength(0);
  });

  it('ignores packets inside a non-feed tunnel and streams without a call', () => {
    const { det, sink } = setup();
    const o = new RtpObservation();
    o.stream = fakeStream({ src: '10.1.0.2:10000', dst: '10.2.0.2:20000', ssrc: 1, call: null });
    for (let i = 0; i < 40; i++) {
      o.seq = i;
      o.ttl = i < 10 ? 64 : 50;
      det.onRtp(o);
    }
    expect(sink.ofType('unexpected_relay')).toHaveLength(0);
  });
});

const dir = tmpDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('relay-path-change (end to end)', () => {
  it('finds a hop shift with no re-INVITE', async () => {
    const { relays } = await runRelay(hopShiftScene(path.join(dir, 'hop.pcap'), { shift: true }), [relayPathChange as never]);
    expect(relays, describeRelays(relays)).toHaveLength(1);
    expect(relays[0]!.reason).toBe('path_change');
    expect(relays[0]!.relay).toBe('10.1.0.2:10000');
    expect(relays[0]!.evidence.kind).toBe('hop_shift');
  });

  it('finds a hop shift under SPAN doubles', async () => {
    const { relays } = await runRelay(hopShiftScene(path.join(dir, 'hop-span.pcap'), { shift: true, spanDoubles: true }), [relayPathChange as never]);
    expect(relays, describeRelays(relays)).toHaveLength(1);
  });

  it('finds the SSRC moving to a SIP hop that never announced media', async () => {
    const { relays } = await runRelay(moveToSipHopScene(path.join(dir, 'move.pcap')));
    expect(relays, describeRelays(relays)).toHaveLength(1);
    expect(relays[0]!.reason).toBe('path_change');
    expect(relays[0]!.relay).toBe('10.0.0.5:7000');
    expect(relays[0]!.evidence.kind).toBe('five_tuple_move');
  });

  const silent: Array<[string, (p: string) => string]> = [
    ['hop shift after a re-INVITE', (p) => hopShiftScene(p, { shift: true, reinvite: true })],
    ['synthetic SPAN doubles', (p) => hopShiftScene(p, { shift: false, spanDoubles: true })],
    ['forking with early media', forkingScene],
    ['transfer by REFER', transferScene],
    ['conference mixer with CSRC', mixerScene],
    ['TURN relay announced in candidates', turnScene],
  ];
  for (const [name, build] of silent) {
    it(`silent: ${name}`, async () => {
      const { relays } = await runRelay(build(path.join(dir, `${name.replace(/\W+/g, '_')}.pcap`)), [relayPathChange as never]);
      expect(relays, describeRelays(relays)).toHaveLength(0);
    });
  }

  for (const name of ['span_doubles', 'reinvite_hold', 'normal_call']) {
    it(`silent: ${name}.pcap`, async () => {
      const { relays } = await runRelay(path.join(SCENARIOS, `${name}.pcap`), [relayPathChange as never]);
      expect(relays, describeRelays(relays)).toHaveLength(0);
    });
  }
});
