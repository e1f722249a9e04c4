/** Call-aware ownership (sensor/src/parallel/shard-key.ts, shard-gate.ts, event-gate.ts). */
import { describe, expect, it } from 'vitest';
import { PacketRecord } from '../../sensor/src/decode/packet.js';
import { parseAddr } from '../../sensor/src/decode/address.js';
import { Call } from '../../sensor/src/calls/call.js';
import { ExpectationTable, type Expectation } from '../../sensor/src/calls/expectations.js';
import { OwnershipIndex, endpointNumber, endpointNumberOfKey, peekSsrc, shardOfCallId } from '../../sensor/src/parallel/shard-key.js';
import { ShardGate } from '../../sensor/src/parallel/shard-gate.js';
import { ShardEventGate } from '../../sensor/src/parallel/event-gate.js';
import type { TapwatchEvent } from '../../sensor/src/events/types.js';

/** A decoded UDP packet as decodeFrame leaves it (innermost addresses). */
function udp(src: string, dst: string, payload: Buffer, ts = 1000): PacketRecord {
  const r = new PacketRecord();
  const [sip, sport] = src.split(/:(?=\d+$)/);
  const [dip, dport] = dst.split(/:(?=\d+$)/);
  r.ipVersion = parseAddr(sip!, r.srcAddr);
  parseAddr(dip!, r.dstAddr);
  r.srcPort = Number(sport);
  r.dstPort = Number(dport);
  r.l4Proto = 17;
  r.payloadBuf = payload;
  r.payloadOffset = 0;
  r.payloadLength = payload.length;
  r.ts = ts;
  return r;
}

function rtp(ssrc: number, seq = 1): Buffer {
  const b = Buffer.alloc(172);
  b[0] = 0x80;
  b[1] = 0; // PCMU
  b.writeUInt16BE(seq, 2);
  b.writeUInt32BE(seq * 160, 4);
  b.writeUInt32BE(ssrc >>> 0, 8);
  return b;
}

function rtcpSr(ssrc: number): Buffer {
  const b = Buffer.alloc(28);
  b[0] = 0x80;
  b[1] = 200;
  b.writeUInt16BE(6, 2);
  b.writeUInt32BE(ssrc >>> 0, 4);
  return b;
}

function expect1(call: Call): Expectation {
  return { call, party: 'caller', media: 'audio', proto: 'RTP/AVP', secure: false, kind: 'rtp', clockRates: new Map(), ts: 0 };
}

/** An index whose expectation table says call `callId` receives media at the given endpoints. */
function withCall(shards: number, callId: string, endpoints: string[]): { idx: OwnershipIndex; call: Call; table: ExpectationTable } {
  const idx = new OwnershipIndex(shards);
  const table = new ExpectationTable();
  idx.attach(table);
  const call = new Call(callId, 0);
  for (const ep of endpoints) table.add(ep, expect1(call));
  return { idx, call, table };
}

/** Call-IDs whose owner is each shard in turn (so every test exercises a non-zero owner too). */
function callIdOwnedBy(shard: number, shards: number): string {
  for (let i = 0; ; i++) {
    const id = `call-${i}@example.test`;
    if (shardOfCallId(id, shards) === shard) return id;
  }
}

describe('shard keys', () => {
  it('numbers endpoints exactly for IPv4 and identically from text and from packet words', () => {
    const w = new Uint32Array(4);
    parseAddr('10.0.0.1', w);
    expect(endpointNumber(4, w, 5004)).toBe(0x0a000001 * 65536 + 5004);
    expect(endpointNumberOfKey('10.0.0.1:5004')).toBe(endpointNumber(4, w, 5004));
    parseAddr('2001:db8::1', w);
    expect(endpointNumberOfKey('2001:db8::1:5004')).toBe(endpointNumber(6, w, 5004));
    expect(endpointNumberOfKey('garbage')).toBe(-1);
  });

  it('peeks the SSRC of RTP and of RTCP (RFC 5761 demultiplexing), nothing else', () => {
    expect(peekSsrc(rtp(0xcafebabe), 0, 172)).toBe(0xcafebabe);
    expect(peekSsrc(rtcpSr(0x11223344), 0, 28)).toBe(0x11223344);
    expect(peekSsrc(Buffer.from('INVITE sip:x SIP/2.0\r\n'), 0, 22)).toBe(-1);
    expect(peekSsrc(Buffer.from([0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 0, 0, 0, 0]), 0, 12)).toBe(-1); // STUN
  });
});

describe('media ownership', () => {
  for (const shards of [2, 3, 4, 8]) {
    it(`puts a call's RTP and RTCP, both directions, on the Call-ID's shard (N=${shards})`, () => {
      const owner = shards - 1;
      const id = callIdOwnedBy(owner, shards);
      const { idx, call } = withCall(shards, id, ['10.0.0.1:4000', '10.0.0.1:4001', '10.0.0.2:6000']);
      expect(idx.route(udp('10.0.0.1:4000', '10.0.0.2:6000', rtp(0x1111)))).toBe(owner);
      expect(idx.lastReason).toBe('sdp');
      expect(idx.route(udp('10.0.0.2:6000', '10.0.0.1:4000', rtp(0x2222)))).toBe(owner);
      expect(idx.route(udp('10.0.0.2:6001', '10.0.0.1:4001', rtcpSr(0x2222)))).toBe(owner);
      // Media keeps the call alive on every shard alike (capture time).
      expect(call.lastMediaTs).toBe(1000);
    });
  }

  it('sends an exact copy to another address (same SSRC) to the original call owner', () => {
    for (let owner = 0; owner < 4; owner++) {
      const id = callIdOwnedBy(owner, 4);
      const { idx } = withCall(4, id, ['10.0.0.1:4000', '10.0.0.2:6000']);
      expect(idx.route(udp('10.0.0.1:4000', '10.0.0.2:6000', rtp(0xabcdef01)))).toBe(owner);
      // nft dup / TEE: same source, another destination.
      expect(idx.route(udp('10.0.0.1:4000', '192.0.2.99:7000', rtp(0xabcdef01, 2)))).toBe(owner);
      // NAT-ed copy: nothing in common with the original but the SSRC.
      expect(idx.route(udp('198.51.100.7:31000', '192.0.2.99:7002', rtp(0xabcdef01, 3)))).toBe(owner);
      expect(idx.lastReason).toBe('ssrc-map');
    }
  });

  it('keeps a whole unsignalled flow (both directions, different SSRCs) on one shard', () => {
    const idx = new OwnershipIndex(4);
    const seen = new Set<number>();
    for (let i = 0; i < 50; i++) {
      const a = idx.route(udp(`10.9.0.${i}:5000`, '10.8.0.1:6000', rtp(0x1000 + i)));
      const b = idx.route(udp('10.8.0.1:6000', `10.9.0.${i}:5000`, rtp(0x9000 + i)));
      expect(b).toBe(a);
      seen.add(a);
    }
    // ...and spreads different flows over the shards.
    expect(seen.size).toBe(4);
  });

  it('re-decides a pinned flow after it was idle (capture time), never by wall clock', () => {
    const idx = new OwnershipIndex(2);
    const s1 = idx.route(udp('10.1.0.1:5000', '10.1.0.2:6000', rtp(1), 100));
    expect(idx.route(udp('10.1.0.1:5000', '10.1.0.2:6000', rtp(1), 150))).toBe(s1);
    expect(idx.lastReason).toBe('pinned');
    idx.route(udp('10.1.0.1:5000', '10.1.0.2:6000', rtp(1), 400));
    expect(idx.lastReason).not.toBe('pinned');
  });

  it('mirrors expectation removals (call gone: its endpoints no longer attract media)', () => {
    const id = callIdOwnedBy(1, 2);
    const { idx, call, table } = withCall(2, id, ['10.0.0.1:4000']);
    expect(idx.endpoints).toBe(1);
    table.removeCall(call);
    expect(idx.endpoints).toBe(0);
  });

  it('is deterministic: two indexes fed the same packets decide the same', () => {
    const a = new OwnershipIndex(3);
    const b = new OwnershipIndex(3);
    for (let i = 0; i < 500; i++) {
      const r = udp(`10.2.${i % 7}.1:${5000 + (i % 13)}`, `10.3.0.${i % 5}:6000`, rtp(i % 17, i), 1000 + i);
      expect(a.route(r)).toBe(b.route(r));
    }
  });
});

describe('shard gate', () => {
  it('admits SIP on every shard and media only on its owner', () => {
    const shards = 3;
    const id = callIdOwnedBy(2, shards);
    const gates = [0, 1, 2].map((i) => {
      const t = new ExpectationTable();
      const g = new ShardGate({ index: i, count: shards }, t);
      t.add('10.0.0.1:4000', expect1(new Call(id, 0)));
      return g;
    });
    const invite = Buffer.from(`INVITE sip:bob@example.test SIP/2.0\r\nCall-ID: ${id}\r\n\r\n`);
    for (const g of gates) expect(g.admit(udp('10.0.0.1:5060', '10.0.0.2:5060', invite))).toBe(true);
    const media = gates.map((g) => g.admit(udp('10.0.0.2:6000', '10.0.0.1:4000', rtp(7))));
    expect(media).toEqual([false, false, true]);
    expect(gates[2]!.counts).toEqual({ owned: 1, shared: 1, skipped: 0 });
  });

  it('asks non-owners to search "other" payloads for embedded copies, not media', () => {
    const g = new ShardGate({ index: 0, count: 2 }, new ExpectationTable());
    // Find a jmirror-like flow owned by shard 1.
    for (let p = 30000; p < 30100; p++) {
      const wrapped = Buffer.alloc(60, 0);
      wrapped[8] = 0x45;
      if (!g.admit(udp(`10.7.0.1:${p}`, '10.99.0.13:30030', wrapped))) {
        expect(g.scanOnly).toBe(true);
        break;
      }
    }
    // A TURN Data indication (STUN, magic cookie) carries relayed RTP the owner decodes as media: not scanned elsewhere.
    const stun = Buffer.alloc(60, 0);
    stun.writeUInt16BE(0x0117, 0);
    stun.writeUInt32BE(0x2112a442, 4);
    let stunChecked = false;
    for (let p = 30000; p < 30100 && !stunChecked; p++) {
      if (!g.admit(udp(`10.7.0.2:${p}`, '10.99.0.15:3478', stun))) {
        expect(g.scanOnly).toBe(false);
        stunChecked = true;
      }
    }
    expect(stunChecked).toBe(true);
    for (let p = 30000; p < 30100; p++) {
      if (!g.admit(udp(`10.7.0.1:${p}`, '10.99.0.14:7000', Buffer.alloc(60, 0x30) /* DTLS range */))) {
        expect(g.scanOnly).toBe(false);
        return;
      }
    }
    throw new Error('no flow owned by the other shard found');
  });
});

describe('event gate', () => {
  const shards = 2;
  const id = callIdOwnedBy(1, shards);
  const base = { v: 1 as const, id: 'x', sensor: 's', ts: 1 };
  const finding = (heuristic: string, findingId: string, evidence: Record<string, string> = {}) =>
    ({ ...base, type: 'signaling_copy', findingId, callId: id, ssrc: null, heuristic: { id: heuristic, version: 1 }, evidence }) as unknown as TapwatchEvent;

  it('reports call events and signalling findings on the owner only', () => {
    const owner = new ShardEventGate(1, shards);
    const other = new ShardEventGate(0, shards);
    const started = { ...base, type: 'call_started', callId: id } as unknown as TapwatchEvent;
    expect(owner.pass(started)).toBe(true);
    expect(other.pass(started)).toBe(false);
    expect(owner.pass(finding('sig-copy', 'f1'))).toBe(true);
    expect(other.pass(finding('sig-copy', 'f1'))).toBe(false);
    // Its updates follow the finding.
    const upd = { ...base, type: 'finding_updated', findingId: 'f1', callId: id } as unknown as TapwatchEvent;
    expect(other.pass(upd)).toBe(false);
    expect(owner.pass(upd)).toBe(true);
  });

  it('passes media-driven findings and stream events wherever they arise; never sensor_stats', () => {
    const other = new ShardEventGate(0, shards);
    expect(other.pass(finding('dup-exact', 'f2'))).toBe(true);
    expect(other.pass(finding('relay-crypto-stripped', 'f3', { correlation: 'stream' }))).toBe(true);
    expect(other.pass(finding('relay-crypto-stripped', 'f4', { correlation: 'sdp_legs' }))).toBe(false);
    expect(other.pass({ ...base, type: 'stream_started', callId: id } as unknown as TapwatchEvent)).toBe(true);
    expect(other.pass({ ...base, type: 'sensor_stats' } as unknown as TapwatchEvent)).toBe(false);
  });
});
