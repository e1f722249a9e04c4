/**
 * FlowTable internals that the public API must not reveal: lastTs kept in the
 * flow's table record (and readable on the Flow while it is in the table,
 * after a resize and inside the eviction callback), the (slot, hash) index
 * surviving growth and deletion, and the LRU tick derived from lastTs.
 */
import { describe, expect, it } from 'vitest';
import { PacketRecord } from '../../sensor/src/decode/packet.js';
import { FlowTable } from '../../sensor/src/flow/flow-table.js';
import type { Flow } from '../../sensor/src/flow/flow.js';

function rec(i: number, ts: number): PacketRecord {
  const r = new PacketRecord();
  r.ipVersion = 4;
  r.srcAddr[0] = 0x0a000000 + i;
  r.dstAddr[0] = 0xc0a80001;
  r.srcPort = 10000 + (i % 1000);
  r.dstPort = 5004;
  r.l4Proto = 17;
  r.ts = ts;
  r.payloadLength = 172;
  return r;
}

describe('FlowTable record layout', () => {
  it('keeps every flow findable with the right lastTs across several resizes', () => {
    const t = new FlowTable({ initialCapacity: 4 });
    const flows: Flow[] = [];
    for (let i = 0; i < 3000; i++) flows.push(t.lookup(rec(i, 100 + i / 1000))!);
    for (let i = 0; i < 3000; i += 7) {
      expect(t.lookup(rec(i, 200 + i))).toBe(flows[i]);
    }
    for (let i = 0; i < 3000; i++) {
      expect(flows[i]!.lastTs).toBe(i % 7 === 0 ? 200 + i : 100 + i / 1000);
      expect(flows[i]!.firstTs).toBe(100 + i / 1000);
    }
    expect(t.size).toBe(3000);
  });

  it('shows lastTs to the eviction callback and resets it on recycle', () => {
    const seen: Array<[number, number]> = [];
    const t = new FlowTable({ udpIdleTimeoutSec: 10, onEvict: (f) => seen.push([f.id, f.lastTs]) });
    const a = t.lookup(rec(1, 5))!;
    const aId = a.id;
    t.lookup(rec(1, 7.25));
    const b = t.lookup(rec(2, 30))!;
    expect(t.expire(30)).toBe(1);
    expect(seen).toEqual([[aId, 7.25]]);
    expect(a.lastTs).toBe(0); // back in the spare pool, reset
    expect(b.lastTs).toBe(30);
    // The recycled object serves a new flow with its own times.
    const c = t.lookup(rec(3, 31))!;
    expect(c).toBe(a);
    expect(c.lastTs).toBe(31);
    expect(t.lookup(rec(2, 32))).toBe(b);
    expect(b.lastTs).toBe(32);
  });

  it('keeps probe chains intact when flows in the middle of a chain are removed', () => {
    // A tiny index forces long chains; removing from the middle must not lose later members.
    const t = new FlowTable({ maxFlows: 64, initialCapacity: 64, indexSlots: 65, udpIdleTimeoutSec: 1, lruGranularitySec: 0 });
    const flows: Flow[] = [];
    for (let i = 0; i < 60; i++) flows.push(t.lookup(rec(i, i < 30 ? 0 : 10))!);
    expect(t.expire(5)).toBe(30); // the first 30 are idle
    for (let i = 30; i < 60; i++) expect(t.lookup(rec(i, 11))).toBe(flows[i]);
    expect(t.size).toBe(30);
  });

  it('evicts by LRU tick order when full (tick derived from lastTs)', () => {
    const evicted: number[] = [];
    const t = new FlowTable({ maxFlows: 3, initialCapacity: 3, onEvict: (f) => evicted.push(f.aPort) });
    t.lookup(rec(1, 1.1));
    t.lookup(rec(2, 2.1));
    t.lookup(rec(3, 3.1));
    t.lookup(rec(1, 4.5)); // flow 1 moves to the head (new tick)
    t.lookup(rec(4, 5.1)); // full: evicts the LRU, flow 2
    expect(evicted).toEqual([10002]);
  });
});
