/**
 * StreamTable's per-direction stream cache on the flow (flow.s0 / flow.s1):
 * SSRC changes, both directions, and a stream that ended while its flow lives
 * on must never be found again through the cache.
 */
import { describe, expect, it } from 'vitest';
import { PacketRecord } from '../../sensor/src/decode/packet.js';
import { FlowTable } from '../../sensor/src/flow/flow-table.js';
import { StreamTable } from '../../sensor/src/media/stream-table.js';
import { CallTable } from '../../sensor/src/calls/call-table.js';
import { EventEmitter } from '../../sensor/src/events/emitter.js';
import type { TapwatchEvent } from '../../sensor/src/events/types.js';

function setup() {
  const events: TapwatchEvent[] = [];
  const em = new EventEmitter('test', [{ write: (e) => void events.push(e), flush: async () => {} }]);
  const calls = new CallTable(em);
  const streams = new StreamTable(em, calls, { idleTimeoutSec: 5 });
  const flows = new FlowTable();
  const r = new PacketRecord();
  r.ipVersion = 4;
  r.l4Proto = 17;
  r.srcAddr[0] = 0x0a000001;
  r.dstAddr[0] = 0x0a000002;
  r.payloadLength = 172;
  const packet = (dir: 0 | 1, ssrc: number, seq: number, ts: number) => {
    r.srcPort = dir === 0 ? 4000 : 5000;
    r.dstPort = dir === 0 ? 5000 : 4000;
    if (dir === 1) [r.srcAddr[0], r.dstAddr[0]] = [0x0a000002, 0x0a000001];
    else [r.srcAddr[0], r.dstAddr[0]] = [0x0a000001, 0x0a000002];
    r.ts = ts;
    const f = flows.lookup(r)!;
    return streams.onRtp(f, flows.lastDirection, ssrc, seq, seq * 160, 0, false, 172, ts, 64, 0, () => []);
  };
  return { events, streams, packet };
}

describe('StreamTable per-direction cache', () => {
  it('keeps streams apart by direction and SSRC, also when SSRCs alternate', () => {
    const { streams, packet } = setup();
    const a = packet(0, 0x1111, 1, 1)!;
    const b = packet(1, 0x1111, 1, 1.01)!; // same SSRC, other direction: another stream
    const c = packet(0, 0x2222, 50, 1.02)!;
    expect(new Set([a, b, c]).size).toBe(3);
    for (let i = 2; i < 10; i++) {
      expect(packet(0, 0x1111, i, 1 + i * 0.02)).toBe(a);
      expect(packet(0, 0x2222, 49 + i, 1 + i * 0.02)).toBe(c);
      expect(packet(1, 0x1111, i, 1 + i * 0.02)).toBe(b);
    }
    expect(a.packets).toBe(9);
    expect(c.packets).toBe(9);
    expect(b.packets).toBe(9);
    expect(streams.size).toBe(3);
  });

  it('starts a new stream when the same SSRC returns after its stream ended', () => {
    const { streams, packet, events } = setup();
    const a = packet(0, 0x1111, 1, 1)!;
    packet(0, 0x1111, 2, 1.02);
    packet(1, 0x9999, 7, 1.03); // keeps the flow alive
    streams.expire(10); // both idle for >= 5 s: ended
    expect(streams.size).toBe(0);
    const again = packet(0, 0x1111, 3, 10.5)!;
    expect(again).not.toBe(a);
    expect(again.packets).toBe(1);
    expect(a.packets).toBe(2);
    expect(events.filter((e) => e.type === 'stream_ended').length).toBe(2);
  });
});
