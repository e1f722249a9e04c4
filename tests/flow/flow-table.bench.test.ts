/**
 * Flow table micro-benchmark (skipped unless BENCH_FLOW=1):
 *   BENCH_FLOW=1 NODE_OPTIONS=--expose-gc npx vitest run tests/flow/flow-table.bench.test.ts
 * 100k concurrent IPv4 UDP flows, 10M lookups of existing flows through one
 * reused PacketRecord (as the capture loop does), plus heap bytes per flow.
 */
import { describe, expect, it } from 'vitest';
import { PacketRecord } from '../../sensor/src/decode/packet.js';
import { FlowTable } from '../../sensor/src/flow/flow-table.js';

const FLOWS = 100_000;
const LOOKUPS = 10_000_000;

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) {
    g();
    g();
  }
}

describe.skipIf(process.env.BENCH_FLOW !== '1')('FlowTable benchmark', () => {
  it(`${FLOWS} flows, ${LOOKUPS} lookups`, () => {
    // Tuple i: 10.x.y.z:(10000 + i % 50000) <-> 192.168.0.(i % 200):5060..5063
    const srcA = new Uint32Array(FLOWS);
    const dstA = new Uint32Array(FLOWS);
    const sp = new Uint16Array(FLOWS);
    const dp = new Uint16Array(FLOWS);
    for (let i = 0; i < FLOWS; i++) {
      srcA[i] = (0x0a000000 + i * 7) >>> 0;
      dstA[i] = (0xc0a80000 + (i % 200)) >>> 0;
      sp[i] = 10000 + (i % 50000);
      dp[i] = 5060 + (i & 3);
    }
    const r = new PacketRecord();
    r.ipVersion = 4;
    r.l4Proto = 17;
    r.payloadLength = 172;
    r.ttl = 64;

    gc();
    const m0 = process.memoryUsage();
    const t = new FlowTable();
    for (let i = 0; i < FLOWS; i++) {
      r.srcAddr[0] = srcA[i]!;
      r.dstAddr[0] = dstA[i]!;
      r.srcPort = sp[i]!;
      r.dstPort = dp[i]!;
      r.ts = i * 1e-5;
      t.lookup(r);
    }
    gc();
    const m1 = process.memoryUsage();
    expect(t.size).toBe(FLOWS);
    const heapPerFlow = (m1.heapUsed - m0.heapUsed) / FLOWS;
    const abPerFlow = (m1.arrayBuffers - m0.arrayBuffers) / FLOWS;

    // Pseudo-random order over the flows, alternating directions.
    const order = new Uint32Array(1 << 20);
    let seed = 1;
    for (let i = 0; i < order.length; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      order[i] = (seed >>> 8) % FLOWS;
    }
    // CPU time, not wall time: the build machine is shared and wall time is noisy.
    const cpuNs = (c0: NodeJS.CpuUsage): number => {
      const c = process.cpuUsage(c0);
      return (c.user + c.system) * 1000;
    };
    /** n lookups over flows order[k] % span (span = FLOWS: uniform over all; small span: hot working set). */
    const run = (n: number, span: number, doLookup: boolean): number => {
      let hits = 0;
      const c0 = process.cpuUsage();
      for (let k = 0; k < n; k++) {
        const i = order[k & (order.length - 1)]! % span;
        if (k & 1) {
          r.srcAddr[0] = dstA[i]!;
          r.dstAddr[0] = srcA[i]!;
          r.srcPort = dp[i]!;
          r.dstPort = sp[i]!;
        } else {
          r.srcAddr[0] = srcA[i]!;
          r.dstAddr[0] = dstA[i]!;
          r.srcPort = sp[i]!;
          r.dstPort = dp[i]!;
        }
        r.ts = 1 + k * 1e-7;
        if (doLookup) {
          if (t.lookup(r) !== null) hits++;
        } else hits += r.srcPort & 1;
      }
      const ns = cpuNs(c0) / n;
      if (doLookup) expect(hits).toBe(n);
      return ns;
    };
    // Dependent-load latency of this machine over a 16 MiB array: the random-order
    // figure below is a chain of ~4 such misses (index slot, record, flows[] slot, Flow).
    const chase = (): number => {
      const n = (16 << 20) >> 2;
      const next = new Int32Array(n);
      const perm = new Int32Array(n);
      for (let i = 0; i < n; i++) perm[i] = i;
      for (let i = n - 1; i > 0; i--) {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        const j = (seed >>> 4) % (i + 1);
        const x = perm[i]!;
        perm[i] = perm[j]!;
        perm[j] = x;
      }
      for (let i = 0; i < n; i++) next[perm[i]!] = perm[(i + 1) % n]!;
      let x = 0;
      const c0 = process.cpuUsage();
      for (let k = 0; k < 2_000_000; k++) x = next[x]!;
      const ns = cpuNs(c0) / 2_000_000;
      expect(x).toBeGreaterThanOrEqual(0);
      return ns;
    };
    run(1_000_000, FLOWS, true); // warm up (JIT)
    const base = run(LOOKUPS, FLOWS, false);
    const per = run(LOOKUPS, FLOWS, true);
    const hot = run(LOOKUPS, 1000, true);
    const miss = chase();
    expect(t.size).toBe(FLOWS);
    expect(t.created).toBe(FLOWS);

    console.log(
      `[flow bench] ${LOOKUPS} lookups, CPU time: ${per.toFixed(1)} ns/lookup uniformly random over ${FLOWS} flows, ` +
        `${hot.toFixed(1)} ns/lookup over a hot set of 1000 of them (record setup ${base.toFixed(1)} ns included); ` +
        `a dependent cache miss over 16 MiB costs ${miss.toFixed(1)} ns here; ` +
        `memory: ${heapPerFlow.toFixed(0)} B heap + ${abPerFlow.toFixed(0)} B array buffers per flow` +
        `${(globalThis as { gc?: unknown }).gc ? '' : ' (no --expose-gc: memory figure is noisy)'}`,
    );
    expect(hot).toBeLessThan(per + 1);
  }, 120_000);
});
