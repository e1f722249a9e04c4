/**
 * dup-exact: unit tests with hand-built observations (tests/detect/fixtures/dup-obs.ts)
 * for every judgement the heuristic makes, then end to end over the labelled
 * scenario captures, the bundled sample and the public corpus.
 */
import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DupExactDetector, DUP_EXACT_DEFAULTS, dupExact } from '../../../sensor/src/detect/heuristics/dup-exact.js';
import { dupEncapsulated } from '../../../sensor/src/detect/heuristics/dup-encapsulated.js';
import { HEURISTICS as REGISTERED } from '../../../sensor/src/detect/registry.js';
import type { DuplicateStreamFinding } from '../../../sensor/src/events/types.js';
import type { MediaStream } from '../../../sensor/src/media/media-stream.js';
import { runSensorOnFile } from '../../lib/run-sensor.js';
import { makeSample } from '../../fixtures/gen/make-sample.js';
import { announce, mac, makeContext, makeStream, newCall, reverseStream, rtp } from '../fixtures/dup-obs.js';

function setup() {
  const { ctx, sink } = makeContext();
  const d = new DupExactDetector(ctx, { ...DUP_EXACT_DEFAULTS });
  const findings = () => sink.ofType('duplicate_stream') as DuplicateStreamFinding[];
  return { ctx, sink, d, findings };
}

/** Send `n` packets on `orig`, each followed `delay` s later by the same packet on `copy`. */
function copyStream(d: DupExactDetector, orig: MediaStream, copy: MediaStream, n: number, delay = 0.0003, t0 = 100): void {
  for (let i = 0; i < n; i++) {
    const ts = t0 + i * 0.02;
    d.onRtp(rtp(orig, { ts, seq: 1000 + i, ipId: i }));
    d.onRtp(rtp(copy, { ts: ts + delay, seq: 1000 + i, ipId: 500 + i }));
  }
}

describe('dup-exact: copies to another destination', () => {
  it('reports a byte-identical copy to an address no SDP announced, within the settle time', () => {
    const { ctx, d, findings } = setup();
    const call = newCall('c1');
    announce(ctx, call, '10.0.0.2:20000');
    const orig = makeStream('10.0.0.1:10000', '10.0.0.2:20000', 0x1234, call);
    const copy = makeStream('10.0.0.1:10000', '10.66.66.66:40000', 0x1234);
    copyStream(d, orig, copy, 30);
    const f = findings();
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({ copyTo: '10.66.66.66:40000', copyToIp: '10.66.66.66', mode: 'exact', declared: false, severity: 'critical', callId: 'c1', ssrc: 0x1234 });
    expect(f[0]!.detectedAt - f[0]!.firstSeen).toBeLessThanOrEqual(1);
    expect(f[0]!.detectedAt - f[0]!.firstSeen).toBeGreaterThanOrEqual(DUP_EXACT_DEFAULTS.dstSettleSec);
    expect(f[0]!.evidence).toMatchObject({ originalDst: '10.0.0.2:20000', copyDst: '10.66.66.66:40000', ttlOriginal: 64, ttlCopy: 64 });
    expect(f[0]!.evidence.offsetMs).toBeCloseTo(0.3, 3);
    expect((f[0]!.evidence.digests as string[])[0]).toMatch(/^[0-9a-f]{8}$/);
  });

  it('picks the unannounced leg as the copy even when the copy was seen first', () => {
    const { ctx, d, findings } = setup();
    const call = newCall('c2');
    announce(ctx, call, '10.0.0.2:20000');
    const copy = makeStream('10.0.0.1:10000', '10.66.66.66:40000', 0x99);
    const orig = makeStream('10.0.0.1:10000', '10.0.0.2:20000', 0x99, call);
    copyStream(d, copy, orig, 30);
    expect(findings().map((f) => f.copyTo)).toEqual(['10.66.66.66:40000']);
  });

  it('updates the finding instead of repeating it', () => {
    const { ctx, d, sink, findings } = setup();
    const call = newCall('c3');
    announce(ctx, call, '10.0.0.2:20000');
    const orig = makeStream('10.0.0.1:10000', '10.0.0.2:20000', 0x77, call);
    const copy = makeStream('10.0.0.1:10000', '10.66.66.66:40000', 0x77);
    copyStream(d, orig, copy, 500);
    d.onTick(200);
    d.flush(200);
    ctx.findings.flush(200);
    expect(findings()).toHaveLength(1);
    const updates = sink.ofType('finding_updated');
    expect(updates.length).toBeGreaterThan(0);
    expect(updates.at(-1)!.evidence.matchedPackets).toBe(500);
  });

  it('is silent when both legs are announced in SDP (SBC / B2BUA anchoring)', () => {
    const { ctx, d, findings } = setup();
    const leg1 = newCall('leg1');
    const leg2 = newCall('leg2');
    announce(ctx, leg1, '10.0.0.9:30000');
    announce(ctx, leg2, '10.0.0.2:20000');
    const a = makeStream('10.0.0.1:10000', '10.0.0.9:30000', 0x55, leg1);
    const b = makeStream('10.0.0.9:30002', '10.0.0.2:20000', 0x55, leg2);
    copyStream(d, a, b, 60);
    d.flush(200);
    expect(findings()).toHaveLength(0);
  });

  it('is silent on a relay chain through an unannounced middle node', () => {
    const { ctx, d, findings } = setup();
    const call = newCall('c4');
    announce(ctx, call, '10.0.0.2:20000');
    const a = makeStream('10.0.0.1:10000', '10.0.0.7:30000', 0x56);
    const b = makeStream('10.0.0.7:30000', '10.0.0.2:20000', 0x56, call);
    copyStream(d, a, b, 60);
    d.flush(200);
    expect(findings()).toHaveLength(0);
  });

  it('reports an endpoint that forwards what it receives to a third party', () => {
    const { ctx, d, findings } = setup();
    const call = newCall('c5');
    announce(ctx, call, '10.0.0.1:10000');
    const inbound = makeStream('10.0.0.2:20000', '10.0.0.1:10000', 0x57, call);
    const fwd = makeStream('10.0.0.1:10104', '203.0.113.5:4000', 0x57);
    copyStream(d, inbound, fwd, 60, 0.04);
    expect(findings().map((f) => f.copyTo)).toEqual(['203.0.113.5:4000']);
  });

  it('is silent when the alleged copy target sends media back (a gateway leg)', () => {
    const { ctx, d, findings } = setup();
    const call = newCall('c6');
    announce(ctx, call, '10.0.0.2:20000');
    const orig = makeStream('10.0.0.1:10000', '10.0.0.2:20000', 0x58, call);
    const leg = makeStream('10.0.0.1:10000', '10.0.0.8:4800', 0x58);
    reverseStream(leg, 0x59);
    copyStream(d, orig, leg, 60);
    d.flush(200);
    expect(findings()).toHaveLength(0);
  });

  it('is silent for the same peer on another port (RFC 7198 group:DUP) and for multicast paging', () => {
    const { ctx, d, findings } = setup();
    const call = newCall('c7');
    announce(ctx, call, '10.0.0.2:20000');
    const orig = makeStream('10.0.0.1:10000', '10.0.0.2:20000', 0x60, call);
    const dup = makeStream('10.0.0.1:10000', '10.0.0.2:20002', 0x60);
    copyStream(d, orig, dup, 40);
    const orig2 = makeStream('10.0.0.1:10010', '10.0.0.2:20010', 0x61, call);
    const page = makeStream('10.0.0.1:10010', '239.1.1.1:5000', 0x61);
    copyStream(d, orig2, page, 40, 0.0003, 300);
    d.flush(400);
    expect(findings()).toHaveLength(0);
  });

  it('never matches on SSRC alone (collision with other payload)', () => {
    const { ctx, d, findings } = setup();
    const call = newCall('c8');
    announce(ctx, call, '10.0.0.2:20000');
    const orig = makeStream('10.0.0.1:10000', '10.0.0.2:20000', 0x62, call);
    const other = makeStream('198.51.100.1:5000', '198.51.100.2:5002', 0x62);
    for (let i = 0; i < 60; i++) {
      d.onRtp(rtp(orig, { ts: 100 + i * 0.02, seq: 1000 + i }));
      d.onRtp(rtp(other, { ts: 100 + i * 0.02 + 0.001, seq: 1000 + i, digest: 0xabc000 + i }));
    }
    d.flush(200);
    expect(findings()).toHaveLength(0);
  });

  it('reports a copy to a declared recorder as declared, info', () => {
    const { ctx, d, findings } = setup();
    const call = newCall('c9');
    announce(ctx, call, '10.0.0.2:20000');
    ctx.recorders.declare('10.10.3.2', 'siprec', 'rec-1', 99);
    const orig = makeStream('10.0.0.1:10000', '10.0.0.2:20000', 0x63, call);
    const rec = makeStream('10.0.0.1:10100', '10.10.3.2:30000', 0x63);
    copyStream(d, orig, rec, 30, 0.06);
    const f = findings();
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({ copyTo: '10.10.3.2:30000', declared: true, severity: 'info' });
    expect(f[0]!.allowlisted).not.toBeNull();
  });
});

describe('dup-exact: the same IP packet to another next hop (nft dup / TEE)', () => {
  const ROUTER_IN = mac(0x0101);
  const ROUTER_OUT_B = mac(0x0201);
  const ROUTER_OUT_TAP = mac(0x0301);
  const HOST_A = mac(0x0102);
  const HOST_B = mac(0x0202);
  const TAP = mac(0x0302);

  function lab(withReverse = true) {
    const s = setup();
    const call = newCall('l2');
    announce(s.ctx, call, '10.10.2.2:20000');
    const ab = makeStream('10.10.1.2:10000', '10.10.2.2:20000', 0xdee0ee8f, call);
    const ba = makeStream('10.10.2.2:20000', '10.10.1.2:10000', 0xb0b0b0b0, call);
    if (withReverse) s.d.onRtp(rtp(ba, { ts: 99, seq: 1, ipId: 7, srcMac: HOST_B, dstMac: ROUTER_OUT_B }));
    return { ...s, ab, ba };
  }

  it('finds copies handed to a MAC that is not the destination station and does not forward', () => {
    const { d, ab, findings } = lab();
    for (let i = 0; i < 40; i++) {
      const ts = 100 + i * 0.03;
      d.onRtp(rtp(ab, { ts, seq: 500 + i, ipId: 0x5000 + i, ttl: 64, srcMac: HOST_A, dstMac: ROUTER_IN }));
      d.onRtp(rtp(ab, { ts: ts + 0.00002, seq: 500 + i, ipId: 0x5000 + i, ttl: 63, srcMac: ROUTER_OUT_TAP, dstMac: TAP }));
    }
    const f = findings();
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({ mode: 'exact', copyTo: '02:00:00:00:03:02', severity: 'critical', callId: 'l2' });
    expect(f[0]!.evidence).toMatchObject({ copyDstMac: '02:00:00:00:03:02', ttlOriginal: 64, ttlCopy: 63, delivery: 'next-hop' });
    expect(f[0]!.detectedAt - f[0]!.firstSeen).toBeLessThanOrEqual(1);
  });

  it('names the copy by IP once the MAC is known (ARP or the host’s own traffic)', () => {
    const { d, ab, findings } = lab();
    d.learnMacIp(TAP, '10.10.3.2');
    for (let i = 0; i < 10; i++) {
      const ts = 100 + i * 0.03;
      d.onRtp(rtp(ab, { ts, seq: 500 + i, ipId: 0x5000 + i, ttl: 64, srcMac: HOST_A, dstMac: ROUTER_IN }));
      d.onRtp(rtp(ab, { ts: ts + 0.00002, seq: 500 + i, ipId: 0x5000 + i, ttl: 63, srcMac: ROUTER_OUT_TAP, dstMac: TAP }));
    }
    const f = findings();
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({ copyTo: '10.10.3.2:20000', copyToIp: '10.10.3.2' });
    // Reported as soon as the threshold is reached: no need to wait for resolution.
    expect(f[0]!.detectedAt - f[0]!.firstSeen).toBeLessThan(0.1);
  });

  it('is silent on SPAN doubles (ingress and egress of the same router)', () => {
    const { d, ab, findings } = lab();
    for (let i = 0; i < 60; i++) {
      const ts = 100 + i * 0.03;
      d.onRtp(rtp(ab, { ts, seq: 500 + i, ipId: 0x5000 + i, ttl: 64, srcMac: HOST_A, dstMac: ROUTER_IN }));
      d.onRtp(rtp(ab, { ts: ts + 0.00001, seq: 500 + i, ipId: 0x5000 + i, ttl: 63, srcMac: ROUTER_OUT_B, dstMac: HOST_B }));
    }
    d.flush(200);
    expect(findings()).toHaveLength(0);
  });

  it('finds the copy among full SPAN doubles (original egress also mirrored)', () => {
    const { d, ab, findings } = lab();
    for (let i = 0; i < 20; i++) {
      const ts = 100 + i * 0.03;
      d.onRtp(rtp(ab, { ts, seq: 500 + i, ipId: 0x5000 + i, ttl: 64, srcMac: HOST_A, dstMac: ROUTER_IN }));
      d.onRtp(rtp(ab, { ts: ts + 0.00001, seq: 500 + i, ipId: 0x5000 + i, ttl: 63, srcMac: ROUTER_OUT_B, dstMac: HOST_B }));
      d.onRtp(rtp(ab, { ts: ts + 0.00002, seq: 500 + i, ipId: 0x5000 + i, ttl: 63, srcMac: ROUTER_OUT_TAP, dstMac: TAP }));
    }
    d.flush(200);
    expect(findings().map((f) => f.copyTo)).toEqual(['02:00:00:00:03:02']);
  });

  it('stays silent when it cannot know where the destination lives (no traffic from it)', () => {
    const { d, ab, findings } = lab(false);
    for (let i = 0; i < 60; i++) {
      const ts = 100 + i * 0.03;
      d.onRtp(rtp(ab, { ts, seq: 500 + i, ipId: 0x5000 + i, ttl: 64, srcMac: HOST_A, dstMac: ROUTER_IN }));
      d.onRtp(rtp(ab, { ts: ts + 0.00001, seq: 500 + i, ipId: 0x5000 + i, ttl: 63, srcMac: ROUTER_OUT_B, dstMac: HOST_B }));
    }
    d.flush(200);
    expect(findings()).toHaveLength(0);
  });

  it('ignores a time-shifted duplicate of the same stream to the same MAC (RFC 7198)', () => {
    const { d, ab, findings } = lab();
    for (let i = 0; i < 60; i++) {
      const ts = 100 + i * 0.02;
      d.onRtp(rtp(ab, { ts, seq: 500 + i, ipId: 0x5000 + 2 * i, srcMac: HOST_A, dstMac: ROUTER_IN }));
      d.onRtp(rtp(ab, { ts: ts + 0.02, seq: 500 + i, ipId: 0x5001 + 2 * i, srcMac: HOST_A, dstMac: ROUTER_IN }));
    }
    d.flush(200);
    expect(findings()).toHaveLength(0);
  });
});

// ------------------------------------------------------------------ end to end

const CAPTURES = path.resolve(__dirname, '../../scenarios/captures');
const MINE = [dupExact, dupEncapsulated];

describe('dup-exact on the labelled scenario captures', () => {
  it('copy_nft_dup: finds the nft dup copy to the tap host (next hop 02:00:00:00:03:02) within 1 s', async () => {
    const sink = await runSensorOnFile(path.join(CAPTURES, 'copy_nft_dup.pcap'), { heuristics: MINE });
    const found = sink.ofType('duplicate_stream');
    expect(found).toHaveLength(1);
    const f = found[0]!;
    expect(f.mode).toBe('exact');
    // The tap host's IP (10.10.3.2) is only in an ARP exchange 3.7 s in, which the sensor does not decode yet:
    // the copy is named by its next-hop MAC (label copyToMac).
    expect([f.copyToIp, f.evidence.copyDstMac]).toEqual(expect.arrayContaining(['02:00:00:00:03:02']));
    expect(f.copyTo === '02:00:00:00:03:02' || f.copyToIp === '10.10.3.2').toBe(true);
    expect(f.evidence.originalSrc).toBe('10.10.1.2:10000');
    expect(f.evidence.originalDst).toBe('10.10.2.2:20000');
    expect(f.ssrc).toBe(0xdee0ee8f);
    expect(f.severity).toBe('critical');
    expect(f.detectedAt - f.firstSeen).toBeLessThanOrEqual(1);
  });

  for (const name of ['normal_call', 'span_doubles', 'reinvite_hold', 'relay_dnat_midcall', 'hep_siptrace', 'key_exposure_sdes']) {
    it(`${name}: no duplicate_stream`, async () => {
      const sink = await runSensorOnFile(path.join(CAPTURES, `${name}.pcap`), { heuristics: MINE });
      expect(sink.ofType('duplicate_stream')).toHaveLength(0);
      expect(sink.ofType('stream_started').length).toBeGreaterThanOrEqual(2);
    });
  }

  it('siprec_declared: copies to the SIPREC recorder are declared, info — never critical', async () => {
    // Works with the dup heuristics alone (they recognise the SIPREC INVITE themselves); when the
    // declared-recording heuristic is registered, run the whole registry too (ctx.recorders filled by it).
    const withRegistry = [...REGISTERED.filter((m) => !MINE.some((x) => x.id === m.id)), ...MINE];
    for (const mods of REGISTERED.some((m) => m.id === 'declared-recording') ? [MINE, withRegistry] : [MINE]) {
      const sink = await runSensorOnFile(path.join(CAPTURES, 'siprec_declared.pcap'), { heuristics: mods });
      const found = sink.ofType('duplicate_stream');
      expect(found.map((f) => f.copyTo).sort()).toEqual(['10.10.3.2:30000', '10.10.3.2:30004']);
      for (const f of found) {
        expect(f.declared).toBe(true);
        expect(f.severity).toBe('info');
      }
    }
  });

  it('the bundled sample: exact copy to 10.66.66.66:40000', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-sample-'));
    try {
      const s = makeSample({ out: path.join(dir, 'sample.pcap') });
      const sink = await runSensorOnFile(path.join(dir, 'sample.pcap'), { heuristics: MINE });
      const found = sink.ofType('duplicate_stream');
      expect(found).toHaveLength(1);
      const want = s.expectedFindings[0]!;
      expect(found[0]).toMatchObject({ mode: 'exact', copyTo: want.copyTo, callId: want.callId, ssrc: want.original.ssrc, declared: false, severity: 'critical' });
      expect(found[0]!.evidence.originalDst).toBe(want.original.dst);
      expect(found[0]!.detectedAt - found[0]!.firstSeen).toBeLessThanOrEqual(1);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

const CORPUS = path.resolve(__dirname, '../../../../shared/corpus');

describe.skipIf(!fs.existsSync(CORPUS))('duplicate heuristics on the public corpus', () => {
  const files = fs.existsSync(CORPUS) ? fs.readdirSync(CORPUS).filter((f) => /\.pcap(ng)?$/.test(f)) : [];
  it('report no duplicate_stream on any of the real captures', async () => {
    const hits: string[] = [];
    for (const f of files) {
      const sink = await runSensorOnFile(path.join(CORPUS, f), { heuristics: MINE });
      for (const e of sink.ofType('duplicate_stream')) hits.push(`${f}: ${e.copyTo}`);
    }
    expect(hits).toEqual([]);
  }, 120_000);
});
