/**
 * dup-encapsulated end to end: synthetic captures where a call's RTP is also
 * sent inside GRE, ERSPAN II/III, Geneve, TZSP, HEP3, PacketCable, jmirror,
 * bare IP-in-UDP and ETSI X3 over TCP (tests/detect/fixtures/dup-wrap.ts),
 * the labelled copy_vxlan_mirred capture, and the look-alikes that must stay
 * silent (RFC 7198 duplication, SSRC collision, the sensor's own tunnel feed).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runSensorOnFile } from '../../lib/run-sensor.js';
import { dupEncapsulated } from '../../../sensor/src/detect/heuristics/dup-encapsulated.js';
import { dupExact } from '../../../sensor/src/detect/heuristics/dup-exact.js';
import { Policy } from '../../../sensor/src/detect/policy.js';
import { makeDupCapture, type WrapKind } from '../fixtures/dup-wrap.js';
import { DupEncapsulatedDetector, DUP_ENCAPSULATED_DEFAULTS } from '../../../sensor/src/detect/heuristics/dup-encapsulated.js';
import { announce, makeContext, makeStream, newCall, rtp } from '../fixtures/dup-obs.js';

const HEURISTICS = [dupExact, dupEncapsulated];
let dir = '';
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-dupenc-'));
});
afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const FOUND: Array<[WrapKind, string]> = [
  ['gre', 'gre'],
  ['erspan2', 'erspan2'],
  ['erspan3', 'erspan3'],
  ['geneve', 'geneve'],
  ['tzsp', 'tzsp'],
  ['hep3', 'hep3'],
  ['packetcable', 'packetcable'],
  ['jmirror', 'jmirror'],
  ['x3-ip', 'x3'],
  ['x3-rtp', 'x3'],
];

describe('dup-encapsulated on synthetic wrapped copies', () => {
  for (const [kind, encapsulation] of FOUND) {
    it(`finds a copy inside ${kind}`, async () => {
      const cap = makeDupCapture({ out: path.join(dir, `${kind}.pcap`), kind });
      const sink = await runSensorOnFile(cap.out, { heuristics: HEURISTICS });
      const found = sink.ofType('duplicate_stream');
      expect(found, JSON.stringify(found.map((f) => f.copyTo))).toHaveLength(1);
      const f = found[0]!;
      expect(f.mode).toBe('encapsulated');
      expect(f.copyTo).toBe(cap.expectCopyTo);
      expect(f.copyToIp).toBe('192.0.2.99');
      expect(f.declared).toBe(false);
      expect(f.severity).toBe('critical');
      expect(f.callId).toBe(cap.callId);
      expect(f.ssrc).toBe(cap.original.ssrc);
      expect(f.evidence.encapsulation).toBe(encapsulation);
      expect(f.evidence.originalDst).toBe(`${cap.original.dstIp}:${cap.original.dstPort}`);
      expect(f.confidence).toBeGreaterThanOrEqual(0.9);
      // Within one second of the first copy.
      expect(f.detectedAt - cap.firstCopyTs).toBeLessThanOrEqual(1);
      expect(f.detectedAt - f.firstSeen).toBeLessThanOrEqual(1);
    });
  }

  // A payload whose first byte falls in an RFC 7983 media range (0x45 = IPv4 looks like TURN
  // ChannelData; a CCC ID 0x00000001 looks like STUN) pins the flow as media; the app layer hands
  // such undecodable media payloads to the EmbeddedRtpScanner.
  for (const kind of ['ip-in-udp', 'packetcable-small-id'] as WrapKind[]) {
    it(`finds a copy inside ${kind} on a flow pinned as media`, async () => {
      const cap = makeDupCapture({ out: path.join(dir, `${kind}.pcap`), kind });
      const sink = await runSensorOnFile(cap.out, { heuristics: HEURISTICS });
      const f = sink.ofType('duplicate_stream');
      expect(f.map((x) => [x.mode, x.copyTo])).toEqual([['encapsulated', cap.expectCopyTo]]);
    });
  }

  it('names the whole tunnel stack of a GRE copy in the evidence, with port 0', async () => {
    const cap = makeDupCapture({ out: path.join(dir, 'gre2.pcap'), kind: 'gre' });
    const sink = await runSensorOnFile(cap.out, { heuristics: HEURISTICS });
    const f = sink.ofType('duplicate_stream')[0]!;
    const tunnels = f.evidence.tunnels as Array<{ kind: string; dst: string }>;
    expect(tunnels[0]).toMatchObject({ kind: 'gre', dst: '192.0.2.99:0' });
    expect(f.evidence.matchedPackets).toBeGreaterThan(100);
  });

  it('stays silent when the tunnel is the sensor’s own feed (policy.sensorTunnels)', async () => {
    const cap = makeDupCapture({ out: path.join(dir, 'feed.pcap'), kind: 'erspan2' });
    const policy = new Policy({ sensorTunnels: [{ cidr: '192.0.2.99/32' }] });
    const sink = await runSensorOnFile(cap.out, { heuristics: HEURISTICS, policy });
    expect(sink.ofType('duplicate_stream')).toHaveLength(0);
  });

  it('downgrades a copy to an authorised collector to info', async () => {
    const cap = makeDupCapture({ out: path.join(dir, 'hep-auth.pcap'), kind: 'hep3' });
    const policy = new Policy({ authorised: [{ name: 'homer', role: 'collector', cidr: '192.0.2.99/32', why: 'HOMER capture server' }] });
    const sink = await runSensorOnFile(cap.out, { heuristics: HEURISTICS, policy });
    const f = sink.ofType('duplicate_stream')[0]!;
    expect(f.severity).toBe('info');
    expect(f.allowlisted?.rule).toBe('homer');
  });

  for (const kind of ['rfc7198', 'ssrc-collision'] as WrapKind[]) {
    it(`stays silent on ${kind}`, async () => {
      const cap = makeDupCapture({ out: path.join(dir, `${kind}.pcap`), kind });
      const sink = await runSensorOnFile(cap.out, { heuristics: HEURISTICS });
      expect(sink.ofType('duplicate_stream')).toHaveLength(0);
      // The look-alike traffic really is there.
      expect(sink.ofType('stream_started').length).toBeGreaterThanOrEqual(kind === 'ssrc-collision' ? 3 : 2);
    });
  }
});

describe('dup-encapsulated with hand-built observations', () => {
  function setup() {
    const { ctx, sink } = makeContext();
    const d = new DupEncapsulatedDetector(ctx, { ...DUP_ENCAPSULATED_DEFAULTS });
    const call = newCall('e1');
    announce(ctx, call, '10.0.0.2:20000');
    const s = makeStream('10.0.0.1:10000', '10.0.0.2:20000', 0x4242, call);
    return { ctx, d, s, findings: () => sink.ofType('duplicate_stream') };
  }

  it('plain original + VXLAN copy of the same packets: one finding, copy named by the tunnel', () => {
    const { d, s, findings } = setup();
    for (let i = 0; i < 5; i++) {
      d.onRtp(rtp(s, { ts: 10 + i * 0.02, seq: i, ipId: i }));
      d.onRtp(rtp(s, { ts: 10 + i * 0.02 + 0.0001, seq: i, ipId: i, tunnelKind: 'vxlan', tunnelDst: '203.0.113.9:4789' }));
    }
    expect(findings()).toHaveLength(1);
    expect(findings()[0]).toMatchObject({ mode: 'encapsulated', copyTo: '203.0.113.9:4789', copyToIp: '203.0.113.9', callId: 'e1', severity: 'critical' });
    // Reported on the third match.
    expect(findings()[0]!.detectedAt).toBeCloseTo(10.0401, 3);
  });

  it('the copy may arrive before the original', () => {
    const { d, s, findings } = setup();
    for (let i = 0; i < 5; i++) {
      d.onRtp(rtp(s, { ts: 10 + i * 0.02, seq: i, ipId: i, tunnelKind: 'gre', tunnelDst: '203.0.113.9:0' }));
      d.onRtp(rtp(s, { ts: 10 + i * 0.02 + 0.0001, seq: i, ipId: i }));
    }
    expect(findings().map((f) => f.copyTo)).toEqual(['203.0.113.9:0']);
  });

  it('stays silent for a stream seen only inside one tunnel, and for two tunnels at the same depth', () => {
    const { d, s, findings } = setup();
    for (let i = 0; i < 20; i++) {
      d.onRtp(rtp(s, { ts: 10 + i * 0.02, seq: i, tunnelKind: 'erspan2', tunnelDst: '198.51.100.1:0' }));
      d.onRtp(rtp(s, { ts: 10 + i * 0.02 + 0.0001, seq: i, tunnelKind: 'erspan3', tunnelDst: '198.51.100.2:0' }));
    }
    d.flush(20);
    expect(findings()).toHaveLength(0);
  });

  it('embedded copies: reported after the threshold, confirmed by digest when the original bytes were seen', () => {
    const { d, s, findings } = setup();
    for (let i = 0; i < 4; i++) {
      const o = rtp(s, { ts: 10 + i * 0.02, seq: i });
      d.onRtp(o);
      d.onEmbeddedRtp({ ts: o.ts + 0.001, outerSrc: '192.0.2.1:40000', outerDst: '192.0.2.99:6000', outerDstIp: '192.0.2.99', outerProto: 'udp', offset: 4, embedded: 'ip', wrapper: 'packetcable', ssrc: s.ssrc, seq: i, rtpTs: o.rtpTs, digest: o.digest, matched: s });
    }
    const f = findings();
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({ copyTo: '192.0.2.99:6000', mode: 'encapsulated' });
    expect(f[0]!.confidence).toBeGreaterThanOrEqual(0.9);
    expect(f[0]!.evidence).toMatchObject({ wrapper: 'packetcable', embeddedAt: 4, bytesConfirmed: 3 });
  });

  it('embedded copies whose bytes differ get a lower confidence', () => {
    const { d, s, findings } = setup();
    for (let i = 0; i < 4; i++) {
      const o = rtp(s, { ts: 10 + i * 0.02, seq: i });
      d.onRtp(o);
      d.onEmbeddedRtp({ ts: o.ts + 0.001, outerSrc: '192.0.2.1:41000', outerDst: '192.0.2.99:5000', outerDstIp: '192.0.2.99', outerProto: 'tcp', offset: 40, embedded: 'rtp', wrapper: 'x3', ssrc: s.ssrc, seq: i, rtpTs: o.rtpTs, digest: 12345 + i, matched: s });
    }
    expect(findings()[0]!.confidence).toBe(DUP_ENCAPSULATED_DEFAULTS.embeddedUnconfirmedConfidence);
  });
});

const CAPTURES = path.resolve(__dirname, '../../scenarios/captures');

describe('dup-encapsulated on the labelled scenario captures', () => {
  it('copy_vxlan_mirred: VXLAN copy to 10.10.3.2:4789 within 1 s', async () => {
    const sink = await runSensorOnFile(path.join(CAPTURES, 'copy_vxlan_mirred.pcap'), { heuristics: HEURISTICS });
    const found = sink.ofType('duplicate_stream');
    expect(found).toHaveLength(1);
    const f = found[0]!;
    expect(f.mode).toBe('encapsulated');
    expect(f.copyTo).toBe('10.10.3.2:4789');
    expect(f.evidence.originalSrc).toBe('10.10.1.2:10000');
    expect(f.evidence.originalDst).toBe('10.10.2.2:20000');
    expect(f.ssrc).toBe(0xdee0ee8f);
    expect(f.detectedAt - f.firstSeen).toBeLessThanOrEqual(1);
    expect((f.evidence.tunnels as Array<{ kind: string; id: number }>)[0]).toMatchObject({ kind: 'vxlan', id: 42 });
  });
});
