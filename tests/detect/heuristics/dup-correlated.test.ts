/**
 * dup-correlated: unit tests of the statistics and the pair scorer on
 * hand-built fingerprint rings, end-to-end tests on synthetic captures that
 * must find a copy whose bytes differ (re-encrypted, re-packetised,
 * continuous G.711, VBR through a re-timing relay) or must stay silent (many
 * unrelated calls, the two directions of a call, SBC anchoring, exact copies,
 * hundreds of generated calls), the labelled scenario captures and the
 * shared corpus; and a micro benchmark run only with TAPWATCH_BENCH=1.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FingerprintRing, RING_CAPACITY, RingPool } from '../../../sensor/src/detect/heuristics/correlate-ring.js';
import { PairScore, PairScorer } from '../../../sensor/src/detect/heuristics/correlate-score.js';
import { log10BinomialTail, medianInPlace, pearson, robustStd } from '../../../sensor/src/detect/heuristics/correlate-stats.js';
import { DupCorrelatedDetector, dupCorrelated, isParticipant, type DupCorrelatedSettings } from '../../../sensor/src/detect/heuristics/dup-correlated.js';
import type { DetectorContext, HeuristicModule } from '../../../sensor/src/detect/detector.js';
import { RtpObservation } from '../../../sensor/src/detect/observations.js';
import { Call } from '../../../sensor/src/calls/call.js';
import { compileEventValidator } from '../../../sensor/src/events/schemas.js';
import type { MediaStream } from '../../../sensor/src/media/media-stream.js';
import { generateCalls } from '../../fixtures/gen/synth-calls.js';
import { runSensorOnFile } from '../../lib/run-sensor.js';
import { reEncryptedCopy, repacketisedCopy, speechSource, withNetworkJitter, type RtpPacketSpec } from '../fixtures/correlated-capture.js';
import * as sc from '../fixtures/correlated-scenarios.js';

const REPO = path.resolve(__dirname, '../../..');
const CORPUS = path.resolve(REPO, '../shared/corpus');
const SCENARIOS = path.resolve(REPO, 'tests/scenarios/captures');

function ring(packets: RtpPacketSpec[], opts: { seqBase?: number; tsBase?: number; spf?: number; digest?: (i: number) => number; pt?: number } = {}): FingerprintRing {
  const r = new FingerprintRing();
  packets.forEach((p, i) =>
    r.push(p.t, ((opts.seqBase ?? 0) + i) & 0xffff, ((opts.tsBase ?? 0) + p.k * (opts.spf ?? 160)) >>> 0, opts.pt ?? 0, p.marker, p.size, opts.digest ? opts.digest(i) : i * 7919),
  );
  return r;
}

const src = (seed: number, over: Partial<Parameters<typeof speechSource>[0]> = {}): RtpPacketSpec[] =>
  speechSource({ seed, startSec: 0, durationSec: 12, jitterMs: 0.4, size: 160, ...over });

describe('correlate-stats', () => {
  it('median, robust std, Pearson and the binomial tail', () => {
    expect(medianInPlace(Float64Array.of(5, 1, 4, 2, 3), 5)).toBe(3);
    expect(medianInPlace(Float64Array.of(4, 1, 3, 2), 4)).toBe(2.5);
    // One wild outlier does not move the robust std of a tight cluster.
    expect(robustStd(Float64Array.of(1, 1.1, 0.9, 1.05, 0.95, 1000), 6)).toBeLessThan(0.2);
    expect(pearson(Float64Array.of(1, 2, 3, 4), Float64Array.of(2, 4, 6, 8), 4)).toBeCloseTo(1, 9);
    expect(pearson(Float64Array.of(1, 1, 1, 1), Float64Array.of(2, 4, 6, 8), 4)).toBeNaN();
    // P(X >= 5 | n = 5, p = 0.1) = 1e-5.
    expect(log10BinomialTail(5, 5, 0.1)).toBeCloseTo(-5, 6);
    expect(log10BinomialTail(10, 0, 0.3)).toBe(0);
    expect(log10BinomialTail(20, 1, 0.5)).toBeCloseTo(Math.log10(1 - 0.5 ** 20), 9);
  });

  it('the ring keeps the last RING_CAPACITY packets and the pool caps memory', () => {
    const r = new FingerprintRing();
    for (let i = 0; i < RING_CAPACITY + 10; i++) r.push(i, i, i * 160, 0, false, 160, i);
    expect(r.oldest).toBe(10);
    expect(r.t[FingerprintRing.slot(r.oldest)]).toBe(10);
    expect(r.lastTs).toBe(RING_CAPACITY + 9);
    const pool = new RingPool(2);
    const a = pool.acquire();
    expect(pool.acquire()).not.toBeNull();
    expect(pool.acquire()).toBeNull();
    expect(pool.refused).toBe(1);
    pool.release(a!);
    expect(pool.acquire()).toBe(a);
  });
});

describe('PairScorer', () => {
  const scorer = new PairScorer();
  const out = new PairScore();

  it('a re-encrypted copy inherits the jitter fingerprint: timing passes with the right lag', () => {
    const a = src(1);
    const r = scorer.score(ring(a), ring(reEncryptedCopy(a, 3, 0.05, 2), { seqBase: 999, tsBase: 4242, digest: (i) => -i - 1 }), 12, false, out);
    expect(r.valid).toBe(true);
    expect(r.timingInformative).toBe(true);
    expect(r.timingRatio).toBeLessThan(0.2);
    expect(r.timingPass).toBe(true);
    expect(r.lagSec * 1000).toBeGreaterThan(2.9);
    expect(r.lagSec * 1000).toBeLessThan(3.2);
    expect(r.coverage).toBeGreaterThan(0.95);
    expect(r.tupleAgreement).toBe(1);
    expect(r.identicalPayload).toBe(0);
  });

  it('two independent periodic streams never pass timing (the two jitters add)', () => {
    for (let seed = 10; seed < 40; seed++) {
      const r = scorer.score(ring(src(seed)), ring(src(seed + 100, { startSec: 0.0071 * (seed % 3) })), 12, false, out);
      expect(r.timingPass).toBe(false);
      if (r.timingInformative) expect(r.timingRatio).toBeGreaterThan(0.6);
      expect(r.signalCount()).toBe(0);
    }
  });

  it('exactly periodic streams carry no timing information (generator streams, perfect clocks)', () => {
    const a = src(3, { jitterMs: 0 });
    const r = scorer.score(ring(a), ring(reEncryptedCopy(a, 1, 0, 4)), 12, false, out);
    expect(r.valid).toBe(true);
    expect(r.timingInformative).toBe(false);
    expect(r.timingPass).toBe(false);
  });

  it('a re-packetised copy (20 -> 40 ms) is matched by time, and its talk spurts align', () => {
    const a = src(5, { vad: { talkSec: 1.2, silenceSec: 0.8 } });
    const r = scorer.score(ring(a), ring(repacketisedCopy(a, 15, 0.1, 6, 320), { spf: 320 }), 12, false, out);
    expect(r.copyPtimeSec).toBeCloseTo(0.04, 2);
    expect(r.timingPass).toBe(true);
    expect(r.lagSec * 1000).toBeGreaterThan(14.5);
    expect(r.lagSec * 1000).toBeLessThan(15.6);
    expect(r.eventsMatched).toBeGreaterThanOrEqual(3);
  });

  it('VBR sizes and talk spurts survive a relay that re-times every packet', () => {
    const a = src(7, { vad: { talkSec: 0.8, silenceSec: 0.5 }, vbrMin: 60, vbrMax: 140, durationSec: 12 });
    const copy = withNetworkJitter(reEncryptedCopy(a, 40, 0, 8, 4), 3, 9);
    const r = scorer.score(ring(a), ring(copy, { digest: (i) => -i - 1 }), 12, false, out);
    expect(r.timingPass).toBe(false);
    expect(r.sizeInformative).toBe(true);
    expect(r.sizeCorrelation).toBeGreaterThan(0.95);
    expect(r.sizePass).toBe(true);
    expect(r.eventPass).toBe(true);
    expect(r.signalCount()).toBe(2);
    // Unrelated VBR streams: sizes do not correlate and spurts do not align.
    const u = scorer.score(ring(a), ring(src(70, { vad: { talkSec: 1.2, silenceSec: 0.8 }, vbrMin: 60, vbrMax: 140 })), 12, false, out);
    expect(u.sizePass).toBe(false);
    expect(u.eventPass).toBe(false);
  });

  it('header identity: same SSRC, sequence and timestamp with other payload bytes; identical bytes are flagged instead', () => {
    const a = src(11, { jitterMs: 0 });
    const copy = reEncryptedCopy(a, 0.5, 0, 12);
    const enc = scorer.score(ring(a), ring(copy, { digest: (i) => -i - 1 }), 12, true, out);
    expect(enc.headerIdentical).toBe(1);
    expect(enc.headerPass).toBe(true);
    const same = scorer.score(ring(a), ring(copy), 12, true, out);
    expect(same.identicalPayload).toBe(1);
    expect(same.headerPass).toBe(false);
  });

  it('too few packets: no verdict', () => {
    const a = src(13, { durationSec: 0.5 });
    expect(scorer.score(ring(a), ring(reEncryptedCopy(a, 1, 0, 14)), 1, false, out).valid).toBe(false);
  });
});

describe('isParticipant', () => {
  it('knows SDP endpoints, ICE candidates and SIP hops', () => {
    const c = new Call('x', 0);
    c.hops.add('10.0.0.5');
    c.media.push({ role: 'offer', party: 'caller', ts: 0, media: 'audio', endpoint: '10.1.0.1:16384', proto: 'RTP/AVP', direction: 'sendrecv', payloadTypes: [0], secure: false, keying: 'none', candidates: ['192.0.2.7:3478 relay'] });
    expect(isParticipant(c, '10.0.0.5')).toBe(true);
    expect(isParticipant(c, '10.1.0.1')).toBe(true);
    expect(isParticipant(c, '192.0.2.7')).toBe(true);
    expect(isParticipant(c, '10.1.0.10')).toBe(false);
    expect(isParticipant(c, '10.77.0.9')).toBe(false);
  });
});

/** The module, with a handle on the detector it creates. */
function instrumented(over: Partial<DupCorrelatedSettings> = {}): { mod: HeuristicModule; get: () => DupCorrelatedDetector } {
  let det: DupCorrelatedDetector | null = null;
  const mod: HeuristicModule = {
    ...dupCorrelated,
    create: (ctx, s) => (det = new DupCorrelatedDetector(ctx, { ...(s as DupCorrelatedSettings), ...over })),
  } as HeuristicModule;
  return { mod, get: () => det! };
}

describe('dup-correlated end to end (synthetic captures)', () => {
  let dir = '';
  const validator = compileEventValidator();
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tapwatch-dupcorr-'));
  });
  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function run(build: (p: string) => sc.BuiltScenario, name: string) {
    const b = build(path.join(dir, `${name}.pcap`));
    const h = instrumented();
    const sink = await runSensorOnFile(b.path, { heuristics: [h.mod] });
    for (const e of sink.events) {
      if (e.type === 'duplicate_stream' || e.type === 'finding_updated') expect(validator.validate(e)).toBeNull();
    }
    return { b, sink, findings: sink.ofType('duplicate_stream'), det: h.get() };
  }

  it('finds a re-encrypted copy within 10 s with confidence >= 0.7', async () => {
    const { b, findings } = await run(sc.reEncryptedScenario, 'reenc');
    expect(findings).toHaveLength(1);
    const f = findings[0]!;
    expect(f.mode).toBe('correlated');
    expect(f.copyTo).toBe(sc.COPY_TO);
    expect(f.copyToIp).toBe(sc.COPY_IP);
    expect(f.callId).toBe(b.callIds[0]);
    expect(f.ssrc).toBe(0x11111111);
    expect(f.declared).toBe(false);
    expect(f.confidence).toBeGreaterThanOrEqual(0.7);
    expect(f.detectedAt - b.copyStartTs!).toBeLessThanOrEqual(10);
    expect(f.firstSeen).toBeCloseTo(b.copyStartTs!, 3);
    expect(f.heuristic).toEqual({ id: 'dup-correlated', version: 1 });
    const ev = f.evidence as Record<string, unknown>;
    expect(ev.signals).toContain('timing');
    expect(ev.lagMs as number).toBeGreaterThan(1.5);
    expect(ev.lagMs as number).toBeLessThan(2.6);
    expect((ev.copy as Record<string, unknown>).ssrc).toBe(0xc0ffee01);
    expect((ev.original as Record<string, unknown>).dst).toBe('10.2.0.1:32768');
    expect(ev.packetsCompared as number).toBeGreaterThan(40);
  });

  it('finds a re-packetised copy (ptime 20 -> 40 ms) sent by a relay', async () => {
    const { b, findings } = await run(sc.repacketisedScenario, 'repack');
    expect(findings).toHaveLength(1);
    expect(findings[0]!.copyTo).toBe(sc.COPY_TO);
    expect(findings[0]!.detectedAt - b.copyStartTs!).toBeLessThanOrEqual(10);
    expect((findings[0]!.evidence as Record<string, number>).copyPtimeMs).toBeCloseTo(40, 0);
  });

  it('finds a copy of continuous G.711 on timing alone, with a lower confidence', async () => {
    const { b, findings } = await run(sc.continuousScenario, 'cont');
    expect(findings).toHaveLength(1);
    expect(findings[0]!.detectedAt - b.copyStartTs!).toBeLessThanOrEqual(10);
    expect(findings[0]!.confidence).toBeLessThan(0.7);
    expect(findings[0]!.severity).toBe('warning');
    expect((findings[0]!.evidence as Record<string, unknown>).signals).toEqual(['timing']);
  });

  it('finds a VBR copy through a re-timing relay by sizes and talk spurts', async () => {
    const { findings } = await run(sc.vbrRetimedScenario, 'vbr');
    expect(findings).toHaveLength(1);
    const ev = findings[0]!.evidence as Record<string, unknown>;
    expect(ev.signals).toEqual(expect.arrayContaining(['sizes', 'talk-spurts']));
    expect(ev.signals).not.toContain('timing');
  });

  it('stays silent on 50 unrelated calls plus 50 unsignalled one-way streams (every one a candidate), over three seeds', async () => {
    for (const seed of [1000, 2000, 3000]) {
      const b = sc.unrelatedScenario(path.join(dir, `unrelated-${seed}.pcap`), 50, 50, seed);
      const h = instrumented();
      // Closest any unrelated pair came to each threshold.
      const near = { windows: 0, minTimingRatio: Infinity, minEventLog10P: 0, maxSizeCorrelation: -1, signals: 0 };
      const mod: HeuristicModule = {
        ...h.mod,
        create: (ctx, st) => {
          const d = h.mod.create(ctx, st) as DupCorrelatedDetector;
          d.scoreListener = (_o, _c, r) => {
            near.windows++;
            if (r.timingInformative) near.minTimingRatio = Math.min(near.minTimingRatio, r.timingRatio);
            if (r.eventsOrig >= 3 && r.eventsCopy >= 3) near.minEventLog10P = Math.min(near.minEventLog10P, r.eventLog10P);
            if (r.sizeInformative) near.maxSizeCorrelation = Math.max(near.maxSizeCorrelation, r.sizeCorrelation);
            near.signals += r.signalCount();
          };
          return d;
        },
      };
      const sink = await runSensorOnFile(b.path, { heuristics: [mod] });
      expect(sink.ofType('duplicate_stream')).toHaveLength(0);
      // The test means something only if the unsignalled streams were really compared with the calls.
      const det = h.get();
      expect(det.stats.candidates).toBe(50);
      expect(det.stats.evaluations).toBeGreaterThan(1000);
      console.log(`unrelated seed ${seed}: ${JSON.stringify(near)}`);
      expect(near.signals).toBe(0);
      expect(near.minTimingRatio).toBeGreaterThan(0.5);
      expect(near.minEventLog10P).toBeGreaterThan(-4);
      expect(near.maxSizeCorrelation).toBeLessThan(0.5);
    }
  });

  it('stays silent on the two directions of a call whose answerer echoes its timing', async () => {
    const { findings } = await run(sc.natTwoDirectionsScenario, 'nat');
    expect(findings).toHaveLength(0);
  });

  it('stays silent on an SBC-anchored call (legs announced in SDP), and when one leg is unsignalled but two-way', async () => {
    expect((await run((p) => sc.sbcAnchoredScenario(p), 'sbc')).findings).toHaveLength(0);
    const hidden = await run((p) => sc.sbcAnchoredScenario(p, true), 'sbc-hidden');
    expect(hidden.findings).toHaveLength(0);
    expect(hidden.det.stats.rejectedConversations).toBeGreaterThan(0);
  });

  /** A stand-in for another heuristic that acts on the first tick after the call exists. */
  function helper(act: (ctx: DetectorContext, call: { callId: string }, now: number) => void): HeuristicModule {
    return {
      id: 'test-helper',
      version: 1,
      defaults: { enabled: true },
      create: (ctx) => {
        let done = false;
        return {
          id: 'test-helper',
          version: 1,
          onTick: (now: number) => {
            const call = ctx.calls.calls.values().next().value;
            if (done || call === undefined) return;
            done = true;
            act(ctx, call, now);
          },
        };
      },
    };
  }

  it('does not repeat a copy that an exact/encapsulated heuristic already reported for the same (call, copyTo)', async () => {
    const b = sc.reEncryptedScenario(path.join(dir, 'reenc-exact.pcap'));
    const exact = helper((ctx, call, now) => {
      ctx.findings.report({
        type: 'duplicate_stream', party: sc.COPY_TO, callId: call.callId, ssrc: 1, severity: 'critical', confidence: 1, firstSeen: now, detectedAt: now,
        heuristic: { id: 'dup-exact', version: 1 }, summary: 'exact', evidence: {}, fields: { copyTo: sc.COPY_TO, copyToIp: sc.COPY_IP, mode: 'exact', declared: false },
        partyIp: sc.COPY_IP, partyPort: sc.COPY_PORT,
      });
    });
    const h = instrumented();
    const sink = await runSensorOnFile(b.path, { heuristics: [exact, h.mod] });
    const f = sink.ofType('duplicate_stream');
    expect(f).toHaveLength(1);
    expect(f[0]!.mode).toBe('exact');
    expect(h.get().stats.skippedExact).toBeGreaterThan(0);
  });

  it('marks a copy to a declared recorder as declared (info, allowlisted)', async () => {
    const b = sc.reEncryptedScenario(path.join(dir, 'reenc-declared.pcap'));
    const siprec = helper((ctx, call, now) => ctx.recorders.declare(sc.COPY_IP, 'siprec', call.callId, now));
    const sink = await runSensorOnFile(b.path, { heuristics: [siprec, dupCorrelated] });
    const f = sink.ofType('duplicate_stream');
    expect(f).toHaveLength(1);
    expect(f[0]!.declared).toBe(true);
    expect(f[0]!.severity).toBe('info');
    expect(f[0]!.allowlisted?.rule).toBe('declared-siprec');
  });

  it('leaves byte-identical copies to dup-exact, and is silent on hundreds of generated calls', async () => {
    const p = path.join(dir, 'synth.pcap');
    generateCalls({ path: p, calls: 300, concurrency: 100, callDurationSec: 8, seed: 7, extras: { duplicateTo: { callIndex: 3, ip: '10.66.66.66', port: 40000 } } });
    const h = instrumented();
    const sink = await runSensorOnFile(p, { heuristics: [h.mod] });
    expect(sink.ofType('duplicate_stream')).toHaveLength(0);
    expect(h.get().stats.candidates).toBeGreaterThan(0);
  });
});

describe('dup-correlated on real and labelled captures', () => {
  const files = (d: string) => (fs.existsSync(d) ? fs.readdirSync(d).filter((f) => /\.(pcap|pcapng)$/.test(f)).map((f) => path.join(d, f)) : []);

  it.skipIf(!fs.existsSync(SCENARIOS))('is silent on every labelled scenario capture (none contains a re-encoded copy)', async () => {
    for (const f of files(SCENARIOS)) {
      const sink = await runSensorOnFile(f, { heuristics: [dupCorrelated] });
      expect(sink.ofType('duplicate_stream'), path.basename(f)).toHaveLength(0);
    }
  });

  describe.skipIf(!fs.existsSync(CORPUS))('shared corpus (../shared/corpus)', () => {
    it('is silent on every capture', async () => {
      for (const f of files(CORPUS)) {
        const sink = await runSensorOnFile(f, { heuristics: [dupCorrelated] });
        expect(sink.ofType('duplicate_stream'), path.basename(f)).toHaveLength(0);
      }
    });
  });
});

describe.skipIf(!process.env.TAPWATCH_BENCH)('dup-correlated micro benchmark (TAPWATCH_BENCH=1)', () => {
  it('reports CPU per packet and per pair evaluation', () => {
    const call = new Call('bench', 0);
    const fakeStream = (n: number, callOf: Call | null): MediaStream =>
      ({ n, src: `10.0.0.${n}:4000`, dst: `10.9.0.${n}:5000`, call: callOf, flow: { id: n, streams: [] }, flowId: n, dir: 0, ssrc: n, started: true, firstTs: 0, lastTs: 0 }) as unknown as MediaStream;
    const ctx = {
      calls: { calls: new Map([['bench', call]]), expectations: new Map() },
      streams: { active: new Set<MediaStream>() },
      policy: { isPagingGroup: () => false },
      findings: { find: () => undefined, report: () => null },
      recorders: { lookup: () => undefined },
    } as unknown as DetectorContext;
    const det = dupCorrelated.create(ctx, dupCorrelated.defaults) as DupCorrelatedDetector;
    const tracked = fakeStream(1, null);
    det.onStreamStarted(tracked);
    const untracked = fakeStream(2, call);
    const o = new RtpObservation();
    const N = 5_000_000;
    const time = (s: MediaStream): number => {
      o.stream = s;
      const c0 = process.cpuUsage();
      for (let i = 0; i < N; i++) {
        o.ts = i * 0.02;
        o.seq = i & 0xffff;
        o.rtpTs = (i * 160) >>> 0;
        o.payloadLength = 160;
        o.payloadDigest = i;
        det.onRtp(o);
      }
      const c = process.cpuUsage(c0);
      return ((c.user + c.system) * 1000) / N;
    };
    time(tracked);
    const nsTracked = time(tracked);
    const nsUntracked = time(untracked);
    const heap0 = process.memoryUsage().heapUsed;
    time(tracked);
    const heapGrowth = process.memoryUsage().heapUsed - heap0;

    const scorer = new PairScorer();
    const out = new PairScore();
    const a = src(1, { vad: undefined });
    const ra = ring(a);
    const rb = ring(reEncryptedCopy(a, 2, 0.05, 2));
    const rc = ring(src(99));
    for (let i = 0; i < 300; i++) scorer.score(ra, rb, 12, false, out);
    const c0 = process.cpuUsage();
    const M = 3000;
    for (let i = 0; i < M; i++) scorer.score(ra, i & 1 ? rb : rc, 12, false, out);
    const c = process.cpuUsage(c0);
    const usPerPair = (c.user + c.system) / M;
    console.log(
      `dup-correlated: onRtp ${nsTracked.toFixed(1)} ns/packet (tracked stream), ${nsUntracked.toFixed(1)} ns/packet (untracked), heap growth over ${N} packets ${(heapGrowth / 1024).toFixed(0)} KiB; ` +
        `pair evaluation ${usPerPair.toFixed(1)} us (500-packet window) -> ${((usPerPair * dupCorrelated.defaults.maxPairsPerTick) / 1000).toFixed(1)} ms per tick at maxPairsPerTick=${dupCorrelated.defaults.maxPairsPerTick}`,
    );
    expect(nsTracked).toBeLessThan(200);
  });
});
