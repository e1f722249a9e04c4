import { describe, expect, it } from 'vitest';
import { PacketRecord } from '../../sensor/src/decode/packet.js';
import { parseAddr } from '../../sensor/src/decode/address.js';
import { FlowTable, type FlowEvictReason, type FlowTableOptions } from '../../sensor/src/flow/flow-table.js';
import type { Flow } from '../../sensor/src/flow/flow.js';

function rec(src: string, sport: number, dst: string, dport: number, proto = 17, ts = 0, payload = 100, ttl = 64): PacketRecord {
  const r = new PacketRecord();
  r.ipVersion = parseAddr(src, r.srcAddr);
  parseAddr(dst, r.dstAddr);
  r.srcPort = sport;
  r.dstPort = dport;
  r.l4Proto = proto;
  r.ts = ts;
  r.payloadLength = payload;
  r.ttl = ttl;
  return r;
}

function addr(text: string): Uint32Array {
  const a = new Uint32Array(4);
  parseAddr(text, a);
  return a;
}

describe('FlowTable: directions and keys', () => {
  it('maps both directions of an IPv4 UDP conversation to one flow', () => {
    const t = new FlowTable();
    const f1 = t.lookup(rec('10.0.0.2', 5060, '10.0.0.1', 5062, 17, 1, 300, 63))!;
    expect(f1).not.toBeNull();
    expect(t.lastDirection).toBe(0);
    // a is the first packet's source, even though it is the "higher" endpoint.
    expect(f1.aEndpoint()).toBe('10.0.0.2:5060');
    expect(f1.bEndpoint()).toBe('10.0.0.1:5062');
    const f2 = t.lookup(rec('10.0.0.1', 5062, '10.0.0.2', 5060, 17, 2, 200, 60))!;
    expect(f2).toBe(f1);
    expect(t.lastDirection).toBe(1);
    t.lookup(rec('10.0.0.2', 5060, '10.0.0.1', 5062, 17, 3, 50, 62));
    expect(t.lastDirection).toBe(0);
    expect(f1.pktsAB).toBe(2);
    expect(f1.pktsBA).toBe(1);
    expect(f1.bytesAB).toBe(350);
    expect(f1.bytesBA).toBe(200);
    expect(f1.ttlAB).toBe(62);
    expect(f1.ttlBA).toBe(60);
    expect(f1.firstTs).toBe(1);
    expect(f1.lastTs).toBe(3);
    expect(f1.proto).toBe(17);
    expect(t.size).toBe(1);
    expect(t.created).toBe(1);
  });

  it('maps both directions of an IPv6 flow and formats endpoints like tshark', () => {
    const t = new FlowTable();
    const f = t.lookup(rec('2001:db8::1', 5060, '2001:db8::2', 5060, 6))!;
    expect(f.ipVersion).toBe(6);
    expect(f.aEndpoint()).toBe('2001:db8::1:5060');
    expect(f.bEndpoint()).toBe('2001:db8::2:5060');
    expect(t.lookup(rec('2001:db8::2', 5060, '2001:db8::1', 5060, 6))).toBe(f);
    expect(t.lastDirection).toBe(1);
    // Differs only in the last word: another flow.
    const g = t.lookup(rec('2001:db8::1', 5060, '2001:db8::3', 5060, 6))!;
    expect(g).not.toBe(f);
    // Differs only in word 1.
    const k = t.lookup(rec('2001:db8:1::1', 5060, '2001:db8::2', 5060, 6))!;
    expect(k).not.toBe(f);
    expect(t.size).toBe(3);
  });

  it('orders same-address endpoints by port and handles src == dst', () => {
    const t = new FlowTable();
    const f = t.lookup(rec('10.0.0.1', 9000, '10.0.0.1', 8000))!;
    expect(t.lookup(rec('10.0.0.1', 8000, '10.0.0.1', 9000))).toBe(f);
    expect(t.lastDirection).toBe(1);
    const self = t.lookup(rec('10.0.0.1', 7000, '10.0.0.1', 7000))!;
    expect(self).not.toBe(f);
    expect(t.lookup(rec('10.0.0.1', 7000, '10.0.0.1', 7000))).toBe(self);
    expect(t.lastDirection).toBe(0);
  });

  it('separates protocols and IP versions with equal words and ports', () => {
    const t = new FlowTable();
    const udp = t.lookup(rec('10.0.0.1', 1, '10.0.0.2', 2, 17))!;
    const tcp = t.lookup(rec('10.0.0.1', 1, '10.0.0.2', 2, 6))!;
    const r6 = rec('10.0.0.1', 1, '10.0.0.2', 2, 17);
    r6.ipVersion = 6; // same words, but "IPv6" (word 0 only)
    const v6 = t.lookup(r6)!;
    expect(new Set([udp, tcp, v6]).size).toBe(3);
    expect(t.size).toBe(3);
  });

  it('ignores stale words 1..3 of an IPv4 address in the record', () => {
    const t = new FlowTable();
    const f = t.lookup(rec('192.168.1.1', 5060, '192.168.1.2', 5060))!;
    const r = rec('192.168.1.2', 5060, '192.168.1.1', 5060);
    r.srcAddr[1] = 0xdeadbeef; // left over from an earlier IPv6 packet
    r.dstAddr[3] = 7;
    expect(t.lookup(r)).toBe(f);
    expect(f.aAddr[1]).toBe(0);
  });

  it('returns null for records without a transport tuple', () => {
    const t = new FlowTable();
    const r = rec('10.0.0.1', 1, '10.0.0.2', 2);
    r.isFragment = true;
    expect(t.lookup(r)).toBeNull();
    const r2 = rec('10.0.0.1', 1, '10.0.0.2', 2, 0);
    expect(t.lookup(r2)).toBeNull();
    const r3 = new PacketRecord();
    expect(t.lookup(r3)).toBeNull();
    expect(t.size).toBe(0);
  });

  it('lookupTuple finds the flow in either direction, creates on request, does not count packets', () => {
    const t = new FlowTable();
    const a = addr('198.51.100.7');
    const b = addr('203.0.113.9');
    expect(t.lookupTuple(4, 17, a, 40000, b, 3478, 5, false)).toBeNull();
    expect(t.size).toBe(0);
    const f = t.lookupTuple(4, 17, a, 40000, b, 3478, 5, true)!;
    expect(f.aEndpoint()).toBe('198.51.100.7:40000');
    expect(t.lookupTuple(4, 17, b, 3478, a, 40000, 9, false)).toBe(f);
    expect(t.lastDirection).toBe(1);
    expect(f.lastTs).toBe(9);
    expect(f.pktsAB + f.pktsBA).toBe(0);
    expect(t.lookup(rec('203.0.113.9', 3478, '198.51.100.7', 40000))).toBe(f);
    expect(t.lastDirection).toBe(1);
    expect(t.lookupTuple(5, 17, a, 40000, b, 3478, 5, true)).toBeNull();
  });
});

describe('FlowTable: collisions, growth and deletion', () => {
  it('keeps every key findable with an almost full index (long probe chains)', () => {
    const t = new FlowTable({ maxFlows: 15, indexSlots: 16, initialCapacity: 15 });
    const flows: Flow[] = [];
    for (let i = 0; i < 15; i++) flows.push(t.lookup(rec(`10.0.0.${i + 1}`, 1000 + i, '10.0.1.1', 5060))!);
    expect(new Set(flows).size).toBe(15);
    for (let i = 0; i < 15; i++) {
      expect(t.lookup(rec('10.0.1.1', 5060, `10.0.0.${i + 1}`, 1000 + i))).toBe(flows[i]);
      expect(t.lastDirection).toBe(1);
    }
    // Delete every other flow, the rest must still be found (backward shift).
    for (let i = 0; i < 15; i += 2) expect(t.evict(flows[i]!)).toBe(true);
    for (let i = 1; i < 15; i += 2) {
      const a = addr(`10.0.0.${i + 1}`);
      expect(t.lookupTuple(4, 17, a, 1000 + i, addr('10.0.1.1'), 5060, 0, false)?.aPort).toBe(1000 + i);
    }
    for (let i = 0; i < 15; i += 2) {
      expect(t.lookupTuple(4, 17, addr(`10.0.0.${i + 1}`), 1000 + i, addr('10.0.1.1'), 5060, 0, false)).toBeNull();
    }
    expect(t.size).toBe(7);
  });

  it('grows from a tiny initial capacity up to maxFlows', () => {
    const t = new FlowTable({ initialCapacity: 1, maxFlows: 1000 });
    const flows: Flow[] = [];
    for (let i = 0; i < 1000; i++) flows.push(t.lookup(rec(`10.1.${i >> 8}.${i & 255}`, 4000, '10.2.0.1', 5060, 17, i))!);
    expect(t.size).toBe(1000);
    expect(t.evictions.full).toBe(0);
    for (let i = 0; i < 1000; i++) expect(t.lookup(rec('10.2.0.1', 5060, `10.1.${i >> 8}.${i & 255}`, 4000, 17, 2000))).toBe(flows[i]);
  });

  // Randomised comparison against a Map with string keys, in LRU order, including full evictions.
  for (const variant of [
    { name: 'default index', opts: { maxFlows: 255, initialCapacity: 8 } },
    { name: 'index at load ~1', opts: { maxFlows: 255, initialCapacity: 255, indexSlots: 256 } },
    { name: 'exact LRU, sub-second packets', opts: { maxFlows: 255, lruGranularitySec: 0 }, tsStep: 0.001 },
  ] as { name: string; opts: FlowTableOptions; tsStep?: number }[]) {
    it(`matches a reference Map over 100k random operations (${variant.name})`, () => {
      let seed = 12345;
      const rnd = (n: number): number => {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        return (seed >>> 8) % n;
      };
      const evicted: number[] = [];
      const t = new FlowTable({ ...variant.opts, onEvict: (f) => evicted.push(f.id) });
      const universe = 1000;
      const keyAddr = (k: number): Uint32Array => {
        const a = new Uint32Array(4);
        if (k % 3 === 0) {
          a[0] = 0x20010db8;
          a[3] = k >> 2;
        } else a[0] = (0x0a000000 + (k >> 2)) >>> 0;
        return a;
      };
      const other = new Uint32Array(4);
      other[0] = 0x0a000000 + 3;
      const other6 = new Uint32Array([0x20010db8, 0, 0, 3]);
      // Key k: (addr(k), port 1000 + (k & 3)) <-> (other, 5060); k % 3 === 0 is IPv6.
      type Ref = { id: number; aIsK: boolean };
      const ref = new Map<string, Ref>();
      let evictedRef: number[] = [];
      let ts = 0;
      // Plain checks: 100k expect() calls would dominate the run time.
      const check = (ok: boolean, op: number, what: string): void => {
        if (!ok) expect.fail(`mismatch (${what}) at operation ${op}`);
      };
      for (let op = 0; op < 100_000; op++) {
        const k = rnd(universe);
        const v = k % 3 === 0 ? 6 : 4;
        const a = keyAddr(k);
        const o = v === 6 ? other6 : other;
        const port = 1000 + (k & 3);
        const fromK = rnd(2) === 0;
        const key = `${v}|${a.join('.')}|${port}`;
        const choice = rnd(10);
        ts += variant.tsStep ?? 1;
        if (choice < 7) {
          const f = fromK
            ? t.lookupTuple(v, 17, a, port, o, 5060, ts, true)!
            : t.lookupTuple(v, 17, o, 5060, a, port, ts, true)!;
          const r = ref.get(key);
          if (r) {
            ref.delete(key);
            ref.set(key, r);
            check(f.id === r.id, op, 'id');
            check(t.lastDirection === (fromK === r.aIsK ? 0 : 1), op, 'direction');
          } else {
            if (ref.size === 255) {
              const oldest = ref.keys().next().value!;
              evictedRef.push(ref.get(oldest)!.id);
              ref.delete(oldest);
            }
            ref.set(key, { id: f.id, aIsK: fromK });
            check(t.lastDirection === 0, op, 'new direction');
          }
        } else if (choice < 9) {
          const f = t.lookupTuple(v, 17, a, port, o, 5060, ts, false);
          const r = ref.get(key);
          if (r) {
            ref.delete(key);
            ref.set(key, r);
            check(f?.id === r.id, op, 'found id');
          } else check(f === null, op, 'absent');
        } else {
          const f = t.lookupTuple(v, 17, a, port, o, 5060, ts, false);
          const r = ref.get(key);
          check(f?.id === r?.id, op, 'evict id');
          if (f) {
            t.evict(f);
            evictedRef.push(r!.id);
            ref.delete(key);
          }
        }
        check(t.size === ref.size, op, 'size');
        if (evictedRef.length > 0) {
          check(evicted.length === evictedRef.length && evicted.every((x, i) => x === evictedRef[i]), op, 'evicted');
          evicted.length = 0;
          evictedRef = [];
        }
      }
      expect(t.evictions.full).toBeGreaterThan(1000);
      // Final sweep: everything in the reference is findable, with the right id.
      for (const [key, r] of ref) {
        const [vs, as, ps] = key.split('|');
        const a = new Uint32Array(as!.split('.').map(Number));
        const v = Number(vs);
        const f = t.lookupTuple(v, 17, a, Number(ps), v === 6 ? other6 : other, 5060, ts, false);
        expect(f?.id).toBe(r.id);
      }
    });
  }
});

describe('FlowTable: expiry, eviction and the spare pool', () => {
  it('expires idle flows by capture time with per-protocol timeouts', () => {
    const reasons: [number, FlowEvictReason][] = [];
    const t = new FlowTable({ udpIdleTimeoutSec: 60, tcpIdleTimeoutSec: 300, onEvict: (f, r) => reasons.push([f.aPort, r]) });
    t.lookup(rec('10.0.0.1', 1, '10.0.0.9', 9, 17, 0));
    t.lookup(rec('10.0.0.1', 2, '10.0.0.9', 9, 6, 0));
    t.lookup(rec('10.0.0.1', 3, '10.0.0.9', 9, 17, 50));
    t.lookup(rec('10.0.0.1', 4, '10.0.0.9', 9, 17, 10));
    t.lookup(rec('10.0.0.9', 9, '10.0.0.1', 4, 17, 55)); // reply keeps port-4 flow alive
    expect(t.expire(59)).toBe(0);
    expect(t.expire(61)).toBe(1);
    expect(reasons).toEqual([[1, 'idle']]);
    expect(t.expire(112)).toBe(1);
    expect(reasons[1]).toEqual([3, 'idle']);
    expect(t.expire(116)).toBe(1);
    expect(reasons[2]).toEqual([4, 'idle']);
    expect(t.size).toBe(1);
    expect(t.expire(299)).toBe(0);
    expect(t.expire(300)).toBe(1);
    expect(reasons[3]).toEqual([2, 'idle']);
    expect(t.evictions.idle).toBe(4);
    expect(t.size).toBe(0);
  });

  it('evicts the least recently used flow when full and counts it', () => {
    const reasons: [number, FlowEvictReason][] = [];
    const t = new FlowTable({ maxFlows: 3, onEvict: (f, r) => reasons.push([f.aPort, r]) });
    const a = t.lookup(rec('10.0.0.1', 1, '10.0.0.9', 9, 17, 1))!;
    t.lookup(rec('10.0.0.1', 2, '10.0.0.9', 9, 6, 2)); // TCP list
    t.lookup(rec('10.0.0.1', 3, '10.0.0.9', 9, 17, 3));
    t.lookup(rec('10.0.0.9', 9, '10.0.0.1', 1, 17, 4)); // touch a
    const d = t.lookup(rec('10.0.0.1', 4, '10.0.0.9', 9, 17, 5))!;
    expect(reasons).toEqual([[2, 'full']]); // the TCP flow was the oldest across both lists
    expect(t.evictions.full).toBe(1);
    expect(t.size).toBe(3);
    t.lookup(rec('10.0.0.1', 5, '10.0.0.9', 9, 17, 6));
    expect(reasons[1]).toEqual([3, 'full']);
    expect(t.lookup(rec('10.0.0.1', 1, '10.0.0.9', 9, 17, 7))).toBe(a);
    expect(t.lookupTuple(4, 17, d.aAddr, 4, d.bAddr, 9, 7, false)).toBe(d);
    expect(t.evictions.full).toBe(2);
    expect(t.created).toBe(5);
  });

  it('orders the LRU by tick: exact with granularity 0, per second by default', () => {
    for (const [g, expectEvicted] of [
      [0, 2],
      [1, 1],
    ] as const) {
      const evicted: number[] = [];
      const t = new FlowTable({ maxFlows: 2, lruGranularitySec: g, onEvict: (f) => evicted.push(f.aPort) });
      t.lookup(rec('10.0.0.1', 1, '10.0.0.9', 9, 17, 100.1));
      t.lookup(rec('10.0.0.1', 2, '10.0.0.9', 9, 17, 100.2));
      t.lookup(rec('10.0.0.1', 1, '10.0.0.9', 9, 17, 100.3)); // same second as its creation
      t.lookup(rec('10.0.0.1', 3, '10.0.0.9', 9, 17, 100.4));
      expect(evicted).toEqual([expectEvicted]);
    }
  });

  it('recycles evicted Flow objects through the spare pool with fields reset', () => {
    const t = new FlowTable({ maxFlows: 2 });
    const f = t.lookup(rec('10.0.0.1', 1, '10.0.0.9', 9, 17, 1))!;
    f.app = 3;
    f.appState = { x: 1 };
    f.streams.push('s');
    const streams = f.streams;
    const firstId = f.id;
    expect(t.evict(f)).toBe(true);
    expect(t.evict(f)).toBe(false); // already gone
    expect(t.spareCount).toBe(1);
    const g = t.lookup(rec('2001:db8::5', 7, '2001:db8::6', 8, 6, 2))!;
    expect(g).toBe(f); // same object from the spare pool
    expect(t.spareCount).toBe(0);
    expect(g.id).toBeGreaterThan(firstId);
    expect(g.app).toBe(0);
    expect(g.appState).toBeNull();
    expect(g.tcp).toBeNull();
    expect(g.streams).toBe(streams);
    expect(g.streams.length).toBe(0);
    expect(g.pktsAB).toBe(1);
    expect(g.aEndpoint()).toBe('2001:db8::5:7');
    expect(t.evictions.end).toBe(1);
  });

  it('flush evicts every flow with reason end', () => {
    const reasons: FlowEvictReason[] = [];
    const t = new FlowTable({ onEvict: (_f, r) => reasons.push(r) });
    for (let i = 0; i < 10; i++) t.lookup(rec('10.0.0.1', i + 1, '10.0.0.2', 80, i % 2 ? 6 : 17, i));
    expect(t.flush()).toBe(10);
    expect(reasons).toEqual(Array(10).fill('end'));
    expect(t.size).toBe(0);
    expect(t.lookupTuple(4, 17, addr('10.0.0.1'), 1, addr('10.0.0.2'), 80, 0, false)).toBeNull();
  });

  it('lets onEvict read the flow intact', () => {
    let seen = '';
    const t = new FlowTable({ maxFlows: 1, onEvict: (f) => (seen = `${f.aEndpoint()} ${f.pktsAB}`) });
    t.lookup(rec('10.0.0.1', 1, '10.0.0.2', 2));
    t.lookup(rec('10.0.0.1', 1, '10.0.0.2', 2));
    t.lookup(rec('10.0.0.3', 3, '10.0.0.2', 2));
    expect(seen).toBe('10.0.0.1:1 2');
  });
});
