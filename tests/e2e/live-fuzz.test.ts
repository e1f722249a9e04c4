/**
 * A malformed-packet flood through live capture: tcpreplay sends frames onto
 * a veth inside network namespaces this test creates (tests/lib/live-load.ts),
 * the real CLI captures them on the other end with --no-filter (so every
 * frame reaches the decoders), and the sensor must neither crash nor grow
 * without bound, and must name what it saw.
 *
 * Two floods, each a few seconds, the whole file well under 60 s:
 *  1. Eleven kinds of malformed frame, each built so that it raises exactly
 *     one named weird (decode/weird.ts) — truncated IPv4/UDP/TCP/VXLAN/GRE,
 *     bad IPv4 version/header length/total length, an IPv4 total length
 *     beyond the capture, a UDP length mismatch, an unhandled ethertype. The
 *     in-process check below proves the mapping; live, sensor_stats must
 *     count exactly N of each: the named counters account for every bad
 *     packet, and the sensor's packet count equals what tcpreplay sent.
 *     (A twelfth kind, a truncated VLAN tag, is checked in process only:
 *     Linux drops it before any packet socket sees it.)
 *  2. Random mutations (bit flips, truncation, length-field corruption,
 *     splices) of valid SIP, RTP, RTCP, STUN, VXLAN, GRE and fragment
 *     frames (a fixed PRNG seed, so a failure reproduces): no crash, the
 *     packet count equals what was sent, RSS stays bounded.
 * Needs root, `ip netns` and tcpreplay; the in-process check always runs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LiveLoadLab, liveLabSkipReason, rssBytes } from '../lib/live-load.js';
import { pcapFile } from '../capture/capture-builders.js';
import { Xorshift32 } from '../fixtures/gen/prng.js';
import { Sensor } from '../../sensor/src/sensor.js';
import { PacketRecord } from '../../sensor/src/decode/packet.js';
import { CollectingSink } from '../lib/run-sensor.js';
import type { SensorStatsEvent } from '../../sensor/src/events/types.js';
import { ethernet, greFrame, ipv4, ipv4Fragments, rtp, rtcpCompound, sipDialog, udp, udpFrame, vxlanFrame } from './frame-kit.js';
import { ensureSensorBuilt } from './ensure-built.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(here, '../..');
const BIN = path.join(ROOT, 'bin', 'tapwatch.js');
const PER_KIND = 1500;
const RANDOM_FRAMES = 60_000;
const RATE = 20_000;
/** RSS ceiling for the sensor process under the flood (its tables are bounded; a leak would pass it). */
const RSS_LIMIT = 600 * 1024 * 1024;

const SKIP = liveLabSkipReason();

const A = '10.99.0.1';
const B = '10.99.0.2';
const ETH_IPV4 = 0x0800;

/** An IPv4 header alone with chosen fields (checksum left 0: the sensor does not verify it). */
function ipHeader(first: number, totalLength: number, proto: number): Buffer {
  const h = Buffer.alloc(20);
  h[0] = first;
  h.writeUInt16BE(totalLength, 2);
  h[8] = 64;
  h[9] = proto;
  Buffer.from([10, 99, 0, 1]).copy(h, 12);
  Buffer.from([10, 99, 0, 2]).copy(h, 16);
  return h;
}

/** Each kind of malformed frame and the one weird it must raise. Frames are >= 14 bytes (the veth needs an Ethernet header). */
export const MALFORMED_KINDS: Array<{ weird: string; build: (i: number) => Buffer; live?: false }> = [
  { weird: 'truncated_ipv4', build: () => ethernet(ETH_IPV4, ipHeader(0x45, 40, 17).subarray(0, 12)) },
  { weird: 'bad_ipv4_version', build: () => ethernet(ETH_IPV4, Buffer.concat([ipHeader(0x65, 28, 17), Buffer.alloc(8)])) },
  { weird: 'bad_ipv4_header_length', build: () => ethernet(ETH_IPV4, Buffer.concat([ipHeader(0x43, 28, 17), Buffer.alloc(8)])) },
  { weird: 'bad_ipv4_total_length', build: () => ethernet(ETH_IPV4, Buffer.concat([ipHeader(0x45, 12, 17), Buffer.alloc(8)])) },
  // Protocol 253 (RFC 3692 experimentation): no transport decoder runs after the IP weird.
  { weird: 'ipv4_total_length_exceeds_capture', build: () => ethernet(ETH_IPV4, Buffer.concat([ipHeader(0x45, 1400, 253), Buffer.alloc(40)])) },
  { weird: 'truncated_udp', build: () => ethernet(ETH_IPV4, Buffer.concat([ipHeader(0x45, 24, 17), Buffer.from([0x13, 0xc4, 0x13, 0xc4])])) },
  {
    weird: 'udp_length_mismatch',
    build: (i) => {
      const seg = udp(A, 40000 + (i % 100), B, 40000, Buffer.alloc(20, 0x55));
      seg.writeUInt16BE(200, 4);
      return ethernet(ETH_IPV4, ipv4(A, B, 17, seg));
    },
  },
  { weird: 'truncated_tcp', build: () => ethernet(ETH_IPV4, Buffer.concat([ipHeader(0x45, 30, 6), Buffer.alloc(10)])) },
  // Not sent live: Linux drops an 802.1Q frame too short for its tag (skb_vlan_untag in
  // __netif_receive_skb_core) before any packet socket sees it, so no capture on Linux can count it.
  { weird: 'truncated_vlan', build: () => ethernet(0x8100, Buffer.from([0x00, 0x05])), live: false },
  { weird: 'unhandled_ethertype', build: (i) => ethernet(0x88b5, Buffer.alloc(46, i & 0xff)) },
  { weird: 'truncated_vxlan', build: (i) => udpFrame(A, 40000 + (i % 100), B, 4789, Buffer.from([0x08, 0, 0, 0])) },
  { weird: 'truncated_gre', build: () => ethernet(ETH_IPV4, ipv4(A, B, 47, Buffer.from([0x00, 0x00]))) },
];

const LIVE_KINDS = MALFORMED_KINDS.filter((k) => k.live !== false);

/** Valid frames of many kinds: the seeds that the random flood mutates. */
function seedFrames(): Buffer[] {
  const seeds: Buffer[] = [];
  const d = sipDialog({
    callId: 'fuzz-live-1@10.99.0.1',
    transport: 'UDP',
    caller: { ip: A, sipPort: 5060, rtpPort: 40000, user: 'alice' },
    callee: { ip: B, sipPort: 5060, rtpPort: 40002, user: 'bob' },
  });
  for (const m of [...d.setup, ...d.teardown]) {
    seeds.push(m.from === 'caller' ? udpFrame(A, 5060, B, 5060, m.bytes) : udpFrame(B, 5060, A, 5060, m.bytes));
  }
  for (let s = 0; s < 4; s++) seeds.push(udpFrame(A, 40000, B, 40002, rtp(0xabc00000 + s, 100 + s, 160 * s, 0, Buffer.alloc(160, 0xd5))));
  seeds.push(udpFrame(A, 40001, B, 40003, rtcpCompound(0xabc00000, 'alice@fuzz')));
  seeds.push(vxlanFrame('10.99.1.1', '10.99.1.2', 42, udpFrame(A, 40000, B, 40002, rtp(0xabc00000, 7, 1120, 0, Buffer.alloc(160, 0xd5)))));
  seeds.push(greFrame('10.99.1.1', '10.99.1.2', ipv4(A, B, 17, udp(A, 40000, B, 40002, rtp(0xabc00000, 8, 1280, 8, Buffer.alloc(160, 0x55))))));
  const big = ipv4(A, B, 17, udp(A, 5060, B, 5060, Buffer.alloc(1800, 0x41)), { id: 0x4242 });
  for (const frag of ipv4Fragments(big, 1400)) seeds.push(ethernet(ETH_IPV4, frag));
  return seeds;
}

/** One mutation of a seed: the kinds fuzz-pipeline.test.ts uses, minus link-type changes (the veth is Ethernet). */
function mutate(rng: Xorshift32, seeds: Buffer[]): Buffer {
  const f = Buffer.from(seeds[rng.below(seeds.length)]!);
  const op = rng.below(5);
  if (op === 0) {
    for (let k = 0; k < 1 + rng.below(4); k++) f[14 + rng.below(f.length - 14)]! ^= 1 << rng.below(8);
  } else if (op === 1) {
    return f.subarray(0, 14 + rng.below(f.length - 13));
  } else if (op === 2) {
    // A length or offset field of the IP or UDP header.
    const at = [16, 17, 14, 38, 39][rng.below(5)]!;
    if (at < f.length) f[at] = rng.below(256);
  } else if (op === 3) {
    const other = seeds[rng.below(seeds.length)]!;
    const cut = 14 + rng.below(Math.max(1, Math.min(f.length, other.length) - 14));
    return Buffer.concat([f.subarray(0, cut), other.subarray(cut)]);
  } else {
    for (let k = 14; k < f.length; k++) if (rng.below(16) === 0) f[k] = rng.below(256);
  }
  return f;
}

function writePcap(file: string, frames: Buffer[]): void {
  writeFileSync(file, pcapFile({ le: true, records: frames.map((data, i) => ({ sec: 1_700_000_000 + Math.floor(i / 1000), frac: (i % 1000) * 1000, data })) }));
}

/** The malformed kinds interleaved, PER_KIND of each. */
function malformedFlood(): Buffer[] {
  const frames: Buffer[] = [];
  for (let i = 0; i < PER_KIND; i++) for (const k of LIVE_KINDS) frames.push(k.build(i));
  return frames;
}

describe('malformed frame kinds (in process)', () => {
  it('each kind raises exactly its own named weird, once per frame', async () => {
    for (const kind of MALFORMED_KINDS) {
      const sink = new CollectingSink();
      const sensor = new Sensor({ sensorId: 'fuzz-kinds', statsIntervalSec: 0 }, [sink]);
      for (let i = 0; i < 10; i++) {
        const f = kind.build(i);
        const rec = new PacketRecord();
        rec.tsSec = 1_700_000_000;
        rec.tsNsec = i * 1000;
        rec.ts = rec.tsSec + rec.tsNsec / 1e9;
        rec.capLength = f.length;
        rec.wireLength = f.length;
        rec.interfaceId = 0;
        rec.linkType = 1;
        rec.frameNumber = i + 1;
        rec.frame = f;
        rec.frameOffset = 0;
        sensor.processPacket(rec);
      }
      await sensor.finish();
      const stats = sink.ofType('sensor_stats').pop() as SensorStatsEvent;
      expect(stats.decodeErrors, kind.weird).toEqual({ [kind.weird]: 10 });
    }
  });
});

let dir = '';
const labs: LiveLoadLab[] = [];
beforeAll(() => {
  if (SKIP) return;
  ensureSensorBuilt(ROOT);
  dir = mkdtempSync(path.join(os.tmpdir(), 'tw-live-fuzz-'));
});
afterAll(() => {
  for (const l of labs) l.lab.teardown();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function flood(tag: string, frames: Buffer[]): Promise<{ sent: number; last: import('../lib/live-load.js').SensorStatsLine; maxRss: number; stats: import('../lib/live-load.js').SensorStatsLine[] }> {
  const file = path.join(dir, `${tag}.pcap`);
  writePcap(file, frames);
  const load = new LiveLoadLab(tag);
  labs.push(load);
  const sensor = load.startSensor({ bin: BIN, sensorId: `live-fuzz-${tag}`, workers: 1, statsIntervalSec: 1, extraArgs: ['--no-filter'] });
  await sensor.ready;
  let maxRss = 0;
  const sampler = setInterval(() => {
    const r = rssBytes(sensor.pid);
    if (r > maxRss) maxRss = r;
  }, 200);
  try {
    const replay = await load.replay(file, { pps: RATE, preload: true, timeoutMs: 50_000 });
    expect(replay.failed).toBe(0);
    await new Promise((r) => setTimeout(r, 1000));
    expect(sensor.child.exitCode, `sensor died: ${sensor.stderr()}`).toBeNull();
    const last = await sensor.stop();
    return { sent: replay.sent, last, maxRss, stats: sensor.stats };
  } finally {
    clearInterval(sampler);
    load.lab.teardown();
  }
}

describe.skipIf(SKIP !== '')(`malformed-packet flood through live capture${SKIP ? ` (skipped: ${SKIP})` : ''}`, () => {
  it(`counts every malformed frame under its name (${LIVE_KINDS.length} kinds x ${PER_KIND})`, async () => {
    const frames = malformedFlood();
    const { sent, last, maxRss } = await flood('fzk', frames);
    expect(sent).toBe(frames.length);
    expect(last.kernelDrops + last.ifDrops + (last.ringDrops ?? 0)).toBe(0);
    expect(last.packets).toBe(sent);
    const want = Object.fromEntries(LIVE_KINDS.map((k) => [k.weird, PER_KIND]));
    expect(last.decodeErrors).toEqual(want);
    expect(maxRss).toBeLessThan(RSS_LIMIT);
  }, 60_000);

  it(`survives ${RANDOM_FRAMES.toLocaleString('en-US')} random mutations of valid VoIP frames with bounded memory`, async () => {
    const rng = new Xorshift32(0x11fe);
    const seeds = seedFrames();
    const frames: Buffer[] = [];
    for (let i = 0; i < RANDOM_FRAMES; i++) frames.push(mutate(rng, seeds));
    const { sent, last, maxRss, stats } = await flood('fzr', frames);
    expect(sent).toBe(frames.length);
    expect(last.kernelDrops + last.ifDrops + (last.ringDrops ?? 0)).toBe(0);
    expect(last.packets).toBe(sent);
    expect(Object.values(last.decodeErrors).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect(maxRss).toBeLessThan(RSS_LIMIT);
    // Tables stay within their limits and do not only grow: the last stats are not above the peak seen mid-run.
    const peakFlows = Math.max(...stats.map((s) => s.tables.flows));
    expect(last.tables.flows).toBeLessThanOrEqual(peakFlows);
  }, 60_000);
});
