import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RelayUnsignaledDetector, relayUnsignaled } from '../../../sensor/src/detect/heuristics/relay-unsignaled.js';
import { makeCall, fakeStream, sdpObs, simpleSdp, unitContext } from '../fixtures/relay-unit.js';
import { SCENARIOS, describeRelays, runRelay, tmpDir } from '../fixtures/relay-run.js';
import { forkingScene, mixerScene, moveToSipHopScene, sbcScene, transferScene, turnScene, unannouncedSourceScene } from '../fixtures/relay-scenarios.js';

function setup(policy = {}) {
  const u = unitContext(policy);
  const det = new RelayUnsignaledDetector(u.ctx, { ...relayUnsignaled.defaults });
  const call = makeCall('c1');
  det.onSdp(sdpObs(call, 'caller', simpleSdp('10.1.0.2', 10000)));
  det.onSdp(sdpObs(call, 'callee', simpleSdp('10.2.0.2', 20000)));
  return { ...u, det, call };
}

describe('relay-unsignaled (unit)', () => {
  it('reports a call SSRC arriving at an announced endpoint from an unannounced one (ssrc continuity: critical)', () => {
    const { det, call, sink } = setup();
    const orig = fakeStream({ src: '10.1.0.2:10000', dst: '10.2.0.2:20000', ssrc: 7, call, firstTs: 100.1 });
    const relayed = fakeStream({ src: '10.4.0.2:30000', dst: '10.2.0.2:20000', ssrc: 7, call, firstTs: 102, packets: 12 });
    det.onStreamStarted(orig);
    det.onStreamStarted(relayed);
    det.onTick(103);
    const f = sink.ofType('unexpected_relay');
    expect(f).toHaveLength(1);
    expect(f[0]!.relay).toBe('10.4.0.2:30000');
    expect(f[0]!.relayIp).toBe('10.4.0.2');
    expect(f[0]!.reason).toBe('unsignaled_endpoint');
    expect(f[0]!.severity).toBe('critical');
    expect(f[0]!.evidence.situation).toBe('ssrc_continuity');
    expect(f[0]!.evidence.sameSsrcOnAnnouncedPath).toBe('10.1.0.2:10000->10.2.0.2:20000');
    expect(f[0]!.callId).toBe('c1');
    expect(f[0]!.ssrc).toBe(7);
  });

  it('waits for persistence: fewer than minPackets is not judged yet', () => {
    const { det, call, sink } = setup();
    const s = fakeStream({ src: '10.4.0.2:30000', dst: '10.2.0.2:20000', ssrc: 9, call, packets: 3 });
    det.onStreamStarted(s);
    det.onTick(103);
    expect(sink.ofType('unexpected_relay')).toHaveLength(0);
    (s as { packets: number }).packets = 40;
    det.onTick(104);
    expect(sink.ofType('unexpected_relay')).toHaveLength(1);
  });

  it('treats ICE candidates and their raddr as announced', () => {
    const { det, call, sink } = setup();
    det.onSdp(sdpObs(call, 'caller', simpleSdp('10.1.0.2', 10000, ['candidate:1 1 udp 100 198.51.100.9 49152 typ relay raddr 203.0.113.7 rport 50000'])));
    det.onStreamStarted(fakeStream({ src: '198.51.100.9:49152', dst: '10.2.0.2:20000', ssrc: 1, call }));
    det.onStreamStarted(fakeStream({ src: '203.0.113.7:50000', dst: '10.2.0.2:20000', ssrc: 2, call }));
    det.onTick(103);
    expect(sink.ofType('unexpected_relay')).toHaveLength(0);
  });

  it('stays silent when neither endpoint is announced exactly (anchor leg or copy), or the stream has no call', () => {
    const { det, call, sink } = setup();
    // Known address, other port, to an unknown host: the other leg of a media anchor.
    det.onStreamStarted(fakeStream({ src: '10.2.0.2:20002', dst: '10.7.0.9:4800', ssrc: 3, call }));
    det.onStreamStarted(fakeStream({ src: '10.4.0.2:30000', dst: '10.2.0.2:20000', ssrc: 4, call: null }));
    det.onTick(103);
    expect(sink.ofType('unexpected_relay')).toHaveLength(0);
    expect(det.counts.unattributable).toBe(1);
  });

  it('explains NAT: private address announced, public source from the start', () => {
    const u = unitContext();
    const det = new RelayUnsignaledDetector(u.ctx, { ...relayUnsignaled.defaults });
    const call = makeCall('nat');
    det.onSdp(sdpObs(call, 'caller', simpleSdp('192.168.1.10', 10000)));
    det.onSdp(sdpObs(call, 'callee', simpleSdp('203.0.113.2', 20000)));
    det.onStreamStarted(fakeStream({ src: '198.51.100.99:30000', dst: '203.0.113.2:20000', ssrc: 5, call }));
    det.onTick(103);
    expect(u.sink.ofType('unexpected_relay')).toHaveLength(0);
    expect(det.counts.natExplained).toBe(1);
  });

  it('an authorised relay (policy) is downgraded to info with the rule named', () => {
    const { det, call, sink } = setup({ authorised: [{ name: 'dc-relay', role: 'relay', cidr: '10.4.0.0/24', why: 'media relay of the DC' }] });
    det.onStreamStarted(fakeStream({ src: '10.1.0.2:10000', dst: '10.2.0.2:20000', ssrc: 7, call, firstTs: 100.1 }));
    det.onStreamStarted(fakeStream({ src: '10.4.0.2:30000', dst: '10.2.0.2:20000', ssrc: 7, call }));
    det.onTick(103);
    const f = sink.ofType('unexpected_relay');
    expect(f).toHaveLength(1);
    expect(f[0]!.severity).toBe('info');
    expect(f[0]!.allowlisted?.rule).toBe('dc-relay');
  });

  it('a stream from a host announced by another call (transfer target) is not unsignaled', () => {
    const { ctx, det, call, sink } = setup();
    const other = makeCall('c2');
    ctx.calls.expectations.add('10.3.0.2:40000', { call: other, party: 'callee', media: 'audio', proto: 'RTP/AVP', secure: false, kind: 'rtp', clockRates: new Map(), ts: 100 });
    det.onStreamStarted(fakeStream({ src: '10.1.0.2:10000', dst: '10.3.0.2:40000', ssrc: 8, call }));
    det.onTick(103);
    expect(sink.ofType('unexpected_relay')).toHaveLength(0);
  });
});

const dir = tmpDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('relay-unsignaled (end to end)', () => {
  it('relay_dnat_midcall: finds relay 10.10.4.2:30000 with reason unsignaled_endpoint', async () => {
    const { relays } = await runRelay(path.join(SCENARIOS, 'relay_dnat_midcall.pcap'));
    expect(relays, describeRelays(relays)).toHaveLength(1);
    const f = relays[0]!;
    expect(f.relay).toBe('10.10.4.2:30000');
    expect(f.reason).toBe('unsignaled_endpoint');
    expect(f.severity).toBe('critical');
    expect(f.confidence).toBeGreaterThanOrEqual(0.9);
    expect(f.ssrc).toBe(0xdee0ee8f);
    expect(f.evidence.ttl).toBe(62);
    // The relay starts about 1.9 s into the capture; the finding comes within the next second or two.
    expect(f.detectedAt - f.firstSeen).toBeLessThan(2);
  });

  it('from_start relay (public SDP address, media from another public host) is reported as warning', async () => {
    const { relays } = await runRelay(unannouncedSourceScene(path.join(dir, 'from-start.pcap'), { nat: false }));
    expect(relays, describeRelays(relays)).toHaveLength(1);
    expect(relays[0]!.relay).toBe('198.51.100.99:30000');
    expect(relays[0]!.severity).toBe('warning');
    expect(relays[0]!.evidence.situation).toBe('from_start');
  });

  const silent: Array<[string, (p: string) => string]> = [
    ['NAT (private SDP address, public media source)', (p) => unannouncedSourceScene(p, { nat: true })],
    ['forking with early media', forkingScene],
    ['transfer by REFER', transferScene],
    ['conference mixer with CSRC', mixerScene],
    ['TURN relay announced in candidates', turnScene],
    ['SBC anchoring announced in SDP', (p) => sbcScene(p, { secureLeg1: false })],
    ['media moved to a SIP hop (path_change, not unsignaled)', moveToSipHopScene],
  ];
  for (const [name, build] of silent) {
    it(`silent: ${name}`, async () => {
      const { relays } = await runRelay(build(path.join(dir, `${name.replace(/\W+/g, '_')}.pcap`)), [relayUnsignaled as never]);
      expect(relays, describeRelays(relays)).toHaveLength(0);
    });
  }
});
