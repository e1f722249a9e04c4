/**
 * Fuzzing the whole pipeline (decode -> flow -> app layer -> calls/streams ->
 * events), in-process through Sensor.processPacket: random frames of random
 * link types and lengths, and mutations of valid frames (bit and byte flips,
 * truncation, length-field corruption, splices, duplicates) taken from
 * frames built here (tests/e2e/synthetic-capture.ts: SIP/SDP over UDP, TCP
 * and IPv6 fragments, RTP, RTCP, RFC 4571, STUN, TURN, DTLS, VXLAN, GRE,
 * HEP3) and, when ../shared/corpus is present, from real public captures.
 *
 * The rule under test is STYLE.md's "decoders NEVER throw on bad input: they
 * count a named weird and return" (Zeek's weirds), extended to every stage:
 * no exception, finish() resolves, every event matches its JSON Schema, the
 * final sensor_stats counts exactly the frames fed, and the flow, stream and
 * call tables never outgrow their configured limits.
 *
 * Bounded by time and count (TAPWATCH_FUZZ_MS, default 8000; TAPWATCH_FUZZ_FRAMES,
 * default 300000). The PRNG seed is TAPWATCH_FUZZ_SEED (default fixed, so a
 * failure reproduces); a failing frame is reported as hex with its seed.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Xorshift32 } from '../fixtures/gen/prng.js';
import { openCaptureFile } from '../../sensor/src/capture/open-file.js';
import { PacketRecord } from '../../sensor/src/decode/packet.js';
import { Sensor } from '../../sensor/src/sensor.js';
import { compileEventValidator } from '../../sensor/src/events/schemas.js';
import type { EventSink, SensorStatsEvent, TapwatchEvent } from '../../sensor/src/events/types.js';
import { buildSyntheticCapture, defaultSecrets } from './synthetic-capture.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const CORPUS = path.resolve(here, '../../../shared/corpus');

const DURATION_MS = Number(process.env.TAPWATCH_FUZZ_MS ?? 8000);
const MAX_FRAMES = Number(process.env.TAPWATCH_FUZZ_FRAMES ?? 300_000);
const SEED = Number(process.env.TAPWATCH_FUZZ_SEED ?? 0x7a9c0de);

// Small limits so that the fuzz run actually reaches them.
const LIMITS = { maxFlows: 2048, maxStreams: 512, maxCalls: 128 };

// Link types (https://www.tcpdump.org/linktypes.html).
const LT_NULL = 0;
const LT_ETHERNET = 1;
const LT_RAW = 101;
const LT_LOOP = 108;
const LT_SLL = 113;
const LT_IPV4 = 228;
const LT_IPV6 = 229;
const LT_SLL2 = 276;
const KNOWN_LINK_TYPES = [LT_NULL, LT_ETHERNET, LT_RAW, LT_LOOP, LT_SLL, LT_IPV4, LT_IPV6, LT_SLL2];

interface Seed {
  linkType: number;
  frame: Buffer;
  source: string;
}

/** The same IP packet under other link layers (RAW, SLL, SLL2, NULL, LOOP, IPV4/IPV6). */
function relink(frame: Buffer, source: string): Seed[] {
  if (frame.length < 15) return [];
  const et = frame.readUInt16BE(12);
  if (et !== 0x0800 && et !== 0x86dd) return [];
  const ip = frame.subarray(14);
  const v6 = et === 0x86dd;
  const sll = Buffer.alloc(16);
  sll.writeUInt16BE(0, 0); // unicast to us
  sll.writeUInt16BE(1, 2); // ARPHRD_ETHER
  sll.writeUInt16BE(6, 4);
  frame.copy(sll, 6, 6, 12);
  sll.writeUInt16BE(et, 14);
  const sll2 = Buffer.alloc(20);
  sll2.writeUInt16BE(et, 0);
  sll2.writeUInt32BE(2, 4);
  sll2.writeUInt16BE(1, 8);
  sll2[11] = 6;
  frame.copy(sll2, 12, 6, 12);
  const nul = Buffer.alloc(4);
  nul.writeUInt32LE(v6 ? 30 : 2, 0); // host byte order AF_INET / AF_INET6 (Darwin/FreeBSD 28/30; Linux-ish 10)
  const loop = Buffer.alloc(4);
  loop.writeUInt32BE(v6 ? 24 : 2, 0);
  return [
    { linkType: LT_RAW, frame: Buffer.from(ip), source: `${source} raw` },
    { linkType: v6 ? LT_IPV6 : LT_IPV4, frame: Buffer.from(ip), source: `${source} ipv4/6` },
    { linkType: LT_SLL, frame: Buffer.concat([sll, ip]), source: `${source} sll` },
    { linkType: LT_SLL2, frame: Buffer.concat([sll2, ip]), source: `${source} sll2` },
    { linkType: LT_NULL, frame: Buffer.concat([nul, ip]), source: `${source} null` },
    { linkType: LT_LOOP, frame: Buffer.concat([loop, ip]), source: `${source} loop` },
  ];
}

function syntheticSeeds(): Seed[] {
  const seeds: Seed[] = [];
  for (const f of buildSyntheticCapture(defaultSecrets()).frames) {
    seeds.push({ linkType: f.linkType, frame: f.frame, source: `synthetic ${f.label}` });
  }
  // A few of every kind under the other link layers.
  const byLabel = new Map<string, Buffer>();
  for (const f of buildSyntheticCapture(defaultSecrets()).frames) if (!byLabel.has(f.label)) byLabel.set(f.label, f.frame);
  for (const [label, frame] of byLabel) seeds.push(...relink(frame, `synthetic ${label}`));
  return seeds;
}

/** Up to `perFile` frames of every corpus capture (the start of each, then a stride), copied out. */
async function corpusSeeds(perFile = 250): Promise<Seed[]> {
  if (!existsSync(CORPUS)) return [];
  const seeds: Seed[] = [];
  const files = readdirSync(CORPUS)
    .filter((f) => /\.(pcap|pcapng)$/.test(f))
    .filter((f) => statSync(path.join(CORPUS, f)).size < 3_000_000)
    .sort();
  for (const f of files) {
    const src = openCaptureFile(path.join(CORPUS, f));
    const rec = new PacketRecord();
    let n = 0;
    let kept = 0;
    await src.run(rec, (r) => {
      n++;
      if (kept >= perFile) return;
      if (n <= perFile / 2 || n % 37 === 0) {
        seeds.push({ linkType: r.linkType, frame: Buffer.from(r.frame.subarray(r.frameOffset, r.frameOffset + r.capLength)), source: `${f}#${r.frameNumber}` });
        kept++;
      }
    });
  }
  return seeds;
}

/** Offsets of the 16-bit length fields of the outer L3/L4 headers (and IHL / data offset bytes), for targeted corruption. */
function lengthFields(frame: Buffer, len: number, linkType: number): Array<[offset: number, width: 1 | 2]> {
  const out: Array<[number, 1 | 2]> = [];
  let ip = -1;
  if (linkType === LT_ETHERNET && len >= 14) {
    let et = frame.readUInt16BE(12);
    ip = 14;
    if (et === 0x8100 && len >= 18) {
      et = frame.readUInt16BE(16);
      ip = 18;
    }
    if (et !== 0x0800 && et !== 0x86dd) ip = -1;
  } else if (linkType === LT_RAW || linkType === LT_IPV4 || linkType === LT_IPV6) ip = 0;
  else if (linkType === LT_SLL) ip = 16;
  else if (linkType === LT_SLL2) ip = 20;
  else if (linkType === LT_NULL || linkType === LT_LOOP) ip = 4;
  if (ip < 0 || ip + 20 > len) return out;
  let l4 = -1;
  let proto = 0;
  if (frame[ip]! >> 4 === 4) {
    out.push([ip, 1], [ip + 2, 2], [ip + 6, 2]);
    l4 = ip + (frame[ip]! & 0x0f) * 4;
    proto = frame[ip + 9]!;
  } else if (frame[ip]! >> 4 === 6 && ip + 40 <= len) {
    out.push([ip + 4, 2]);
    l4 = ip + 40;
    proto = frame[ip + 6]!;
    if (proto === 44 && l4 + 8 <= len) {
      out.push([l4 + 2, 2]);
      proto = frame[l4]!;
      l4 += 8;
    }
  }
  if (l4 < 0 || l4 + 8 > len) return out;
  if (proto === 17) {
    out.push([l4 + 4, 2]);
    // Length fields that sit a few bytes into common UDP payloads: STUN (2), ChannelData (2),
    // RTCP (2), HEP3 (4), RTP CC/X bits (0), DTLS record length (11), VXLAN flags (0).
    for (const d of [0, 2, 4, 11, 12]) if (l4 + 8 + d + 1 < len) out.push([l4 + 8 + d, 2]);
  } else if (proto === 6 && l4 + 20 <= len) {
    out.push([l4 + 12, 1]);
    for (const d of [0, 2]) if (l4 + 20 + d + 1 < len) out.push([l4 + 20 + d, 2]);
  } else if (proto === 47) {
    out.push([l4, 2], [l4 + 2, 2]);
  }
  return out;
}

const INTERESTING_8 = [0x00, 0x01, 0x02, 0x0f, 0x10, 0x3f, 0x40, 0x45, 0x60, 0x7f, 0x80, 0x81, 0xc8, 0xfe, 0xff];

/** Keeps nothing but counts and schema failures, so a 300k-frame run stays small. */
class ValidatingSink implements EventSink {
  private readonly validator = compileEventValidator();
  readonly counts = new Map<string, number>();
  readonly invalid: string[] = [];
  invalidCount = 0;
  lastStats: SensorStatsEvent | null = null;
  write(e: TapwatchEvent): void {
    this.counts.set(e.type, (this.counts.get(e.type) ?? 0) + 1);
    const err = this.validator.validate(JSON.parse(JSON.stringify(e)));
    if (err !== null) {
      this.invalidCount++;
      if (this.invalid.length < 10) this.invalid.push(`${err}: ${JSON.stringify(e).slice(0, 400)}`);
    }
    if (e.type === 'sensor_stats') this.lastStats = e;
  }
  async flush(): Promise<void> {}
}

describe('fuzz: random and mutated frames through the whole pipeline', () => {
  it(`never throws, emits only schema-valid events and stays bounded (seed ${SEED}, ${DURATION_MS} ms / ${MAX_FRAMES} frames)`, async () => {
    const synthetic = syntheticSeeds();
    const corpus = await corpusSeeds();
    const seeds = [...synthetic, ...corpus];
    expect(synthetic.length).toBeGreaterThan(300);

    const sink = new ValidatingSink();
    const sensor = new Sensor(
      {
        sensorId: 'fuzz',
        statsIntervalSec: 0,
        maxFlows: LIMITS.maxFlows,
        streams: { maxStreams: LIMITS.maxStreams },
        calls: { maxCalls: LIMITS.maxCalls },
      },
      [sink],
    );
    const rng = new Xorshift32(SEED);
    const rec = new PacketRecord();
    // One big buffer: frames are placed at an offset with random bytes after
    // them, as the file readers hand over a chunk (decoders must respect capLength).
    const work = Buffer.alloc(70_000);
    const maxTables = { flows: 0, streams: 0, calls: 0, expectations: 0 };
    let fed = 0;
    let failure: { error: unknown; frame: string; linkType: number; how: string } | null = null;
    let ts = 1_700_000_000;
    const modes = { random: 0, mutated: 0, valid: 0 };
    const started = Date.now();

    const feed = (off: number, len: number, linkType: number, how: string): void => {
      // Mostly monotonic capture time, with rare jumps both ways (housekeeping and idle expiry).
      const r = rng.below(10_000);
      if (r === 0) ts -= rng.below(100);
      else if (r === 1) ts += 200 + rng.below(1000);
      else ts += rng.below(2000) / 1e6;
      rec.tsSec = Math.floor(ts);
      rec.tsNsec = Math.floor((ts - rec.tsSec) * 1e9);
      rec.ts = rec.tsSec + rec.tsNsec / 1e9;
      rec.frame = work;
      rec.frameOffset = off;
      rec.capLength = len;
      // Occasionally a lying capture header: wire length shorter, or a capLength past the buffer.
      const q = rng.below(1000);
      rec.wireLength = q === 0 ? rng.below(len + 1) : len + (q < 50 ? rng.below(1500) : 0);
      if (q === 1) rec.capLength = work.length - off + 1 + rng.below(100);
      rec.linkType = linkType;
      rec.interfaceId = 0;
      rec.frameNumber = ++fed;
      try {
        sensor.processPacket(rec);
      } catch (error) {
        failure ??= { error, frame: work.subarray(off, off + Math.min(len, 2000)).toString('hex'), linkType, how };
      }
    };

    while (fed < MAX_FRAMES && failure === null) {
      if ((fed & 1023) === 0) {
        if (Date.now() - started > DURATION_MS) break;
        maxTables.flows = Math.max(maxTables.flows, sensor.flows.size);
        maxTables.streams = Math.max(maxTables.streams, sensor.streams.size);
        maxTables.calls = Math.max(maxTables.calls, sensor.calls.calls.size);
        maxTables.expectations = Math.max(maxTables.expectations, sensor.calls.expectations.size);
      }
      const off = rng.below(4) === 0 ? rng.below(64) : 0;
      const mode = rng.below(100);
      if (mode < 15) {
        // (a) purely random bytes, random link type (known or not), random length.
        modes.random++;
        const linkType = rng.below(8) === 0 ? rng.below(0x10000) : KNOWN_LINK_TYPES[rng.below(KNOWN_LINK_TYPES.length)]!;
        const len = rng.below(10) === 0 ? rng.below(9000) : rng.below(1600);
        rng.fillBytes(work, off, len + 64);
        feed(off, len, linkType, 'random');
        continue;
      }
      const seed = seeds[rng.below(seeds.length)]!;
      let len = seed.frame.length;
      seed.frame.copy(work, off);
      rng.fillBytes(work, off + len, 64);
      if (mode < 25) {
        // Valid frames keep flows, calls and streams alive, so the mutants hit stateful paths.
        modes.valid++;
        feed(off, len, seed.linkType, `valid ${seed.source}`);
        continue;
      }
      // (b) mutations of a valid frame: 1-4 operations.
      modes.mutated++;
      const ops: string[] = [];
      const nOps = 1 + rng.below(4);
      for (let k = 0; k < nOps && len > 0; k++) {
        const op = rng.below(8);
        if (op === 0) {
          const flips = 1 + rng.below(8);
          for (let i = 0; i < flips; i++) {
            const at = off + rng.below(len);
            work[at] = work[at]! ^ (1 << rng.below(8));
          }
          ops.push('bitflip');
        } else if (op === 1) {
          work[off + rng.below(len)] = INTERESTING_8[rng.below(INTERESTING_8.length)]!;
          ops.push('byte');
        } else if (op === 2) {
          len = rng.below(len + 1);
          ops.push('truncate');
        } else if (op === 3 || op === 4) {
          const fields = lengthFields(work.subarray(off), len, seed.linkType);
          if (fields.length === 0) continue;
          const [fo, width] = fields[rng.below(fields.length)]!;
          const choices = [0, 1, 7, 8, 20, len - 1, len, len + 1, 0xffff, rng.below(0x10000)];
          const v = choices[rng.below(choices.length)]! & (width === 2 ? 0xffff : 0xff);
          if (width === 2) work.writeUInt16BE(v, off + fo);
          else work[off + fo] = v;
          ops.push(`length@${fo}`);
        } else if (op === 5) {
          // Corrupt a SIP Content-Length value in place.
          const at = work.subarray(off, off + len).indexOf('Content-Length: ');
          if (at < 0) continue;
          const digits = ['0', '9', '99999', '-1', ' '][rng.below(5)]!;
          work.write(digits, off + at + 16, Math.min(digits.length, len - at - 16), 'latin1');
          ops.push('content-length');
        } else if (op === 6) {
          // Splice: the tail of another valid frame over this one.
          const other = seeds[rng.below(seeds.length)]!.frame;
          const from = rng.below(other.length);
          const to = rng.below(len);
          const n = Math.min(other.length - from, work.length - off - to - 64);
          other.copy(work, off + to, from, from + n);
          len = Math.max(len, to + n);
          ops.push('splice');
        } else {
          // Random bytes appended (a longer frame than its headers say).
          const extra = rng.below(256);
          rng.fillBytes(work, off + len, extra + 64);
          len += extra;
          ops.push('extend');
        }
      }
      feed(off, len, seed.linkType, `${ops.join('+')} of ${seed.source}`);
      // Sometimes the same mutant twice in a row (SPAN doubles, retransmissions).
      if (rng.below(20) === 0) feed(off, len, seed.linkType, `duplicate ${ops.join('+')} of ${seed.source}`);
    }

    if (failure !== null) {
      const f = failure as { error: unknown; frame: string; linkType: number; how: string };
      const e = f.error as Error;
      throw new Error(`processPacket threw on frame ${fed} (seed ${SEED}, ${f.how}, linkType ${f.linkType}): ${e?.stack ?? String(e)}\nframe hex: ${f.frame}`);
    }
    const beforeFlush = { flows: sensor.flows.size, streams: sensor.streams.size, calls: sensor.calls.calls.size };
    await expect(sensor.finish()).resolves.toBeUndefined();
    const elapsed = Date.now() - started;

    const stats = sink.lastStats;
    const report = {
      seed: SEED,
      frames: fed,
      elapsedMs: elapsed,
      seeds: { synthetic: synthetic.length, corpus: corpus.length },
      modes,
      events: Object.fromEntries(sink.counts),
      maxTables,
      beforeFlush,
      peak: stats?.tables,
      evictions: stats?.evictions,
      weirdKinds: stats ? Object.keys(stats.decodeErrors).length : 0,
      heapMiB: Math.round(process.memoryUsage().heapUsed / 1048576),
    };
    console.log(`fuzz report: ${JSON.stringify(report)}`);

    expect(sink.invalid, `${sink.invalidCount} events failed their schema`).toEqual([]);
    expect(stats).not.toBeNull();
    expect(stats!.final).toBe(true);
    expect(stats!.packets).toBe(fed);
    expect(fed).toBeGreaterThan(10_000);
    // Bounded: the tables never outgrew their limits, sampled during the run and as the sensor's own peaks.
    expect(maxTables.flows).toBeLessThanOrEqual(LIMITS.maxFlows);
    expect(maxTables.streams).toBeLessThanOrEqual(LIMITS.maxStreams);
    expect(maxTables.calls).toBeLessThanOrEqual(LIMITS.maxCalls);
    expect(stats!.tables.peakFlows).toBeLessThanOrEqual(LIMITS.maxFlows);
    expect(stats!.tables.peakStreams).toBeLessThanOrEqual(LIMITS.maxStreams);
    expect(stats!.tables.peakCalls).toBeLessThanOrEqual(LIMITS.maxCalls);
    // Expectations belong to calls (at most maxMediaPerCall SDP snapshots of a few endpoints each).
    expect(maxTables.expectations).toBeLessThanOrEqual(LIMITS.maxCalls * 32 * 8);
    // finish() ends everything.
    expect([stats!.tables.flows, stats!.tables.streams, stats!.tables.calls]).toEqual([0, 0, 0]);
    // The fuzzer did reach the interesting states: weirds were counted and real calls and streams were seen.
    expect(report.weirdKinds).toBeGreaterThan(10);
    expect(sink.counts.get('call_started') ?? 0).toBeGreaterThan(0);
    expect(sink.counts.get('stream_ended') ?? 0).toBeGreaterThan(0);
  }, 120_000);
});
