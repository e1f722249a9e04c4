/**
 * Per-stream fingerprints (sensor/src/media/stream-fingerprint.ts and
 * fingerprint-publisher.ts): block alignment, order independence, the
 * sequence wrap, and — through the whole sensor on a byte-literal capture —
 * equal digests for a verbatim copy, equal header but different payload
 * digests for a re-encrypted copy, valid messages by the collector's own
 * schema, and none of it reaching the event sinks.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DigestSlab, FINGERPRINT_BLOCK_SIZE, FINGERPRINT_WINDOW_BLOCKS } from '../../sensor/src/media/stream-fingerprint.js';
import { Sensor } from '../../sensor/src/sensor.js';
import { openCaptureFile } from '../../sensor/src/capture/open-file.js';
import type { EventSink, TapwatchEvent } from '../../sensor/src/events/types.js';
import { compileFingerprintValidator, matchFingerprints, type StreamFingerprint } from '../../collector/src/ingest/fingerprint.js';
import { rtp, udpFrame, vxlanFrame } from '../e2e/frame-kit.js';
import { writeSyntheticPcap, type SyntheticFrame } from '../e2e/synthetic-capture.js';

const B = FINGERPRINT_BLOCK_SIZE;

/** A deterministic header tuple + payload hash for packet `seq` of a test stream. */
function tuple(seq: number): [number, number, boolean, number, number, number] {
  const s = seq & 0xffff;
  return [s, (s * 160 + 12345) >>> 0, s % 50 === 0, 0, 160, Math.imul(s + 1, 0x9e3779b1) >>> 0];
}

/** One stream's record in its own slab, with the accessors the tests read. */
class OneStream {
  constructor(
    readonly slab = new DigestSlab(1),
    readonly rec = slab.alloc(null),
  ) {}
  add(seq: number, rtpTs: number, marker: boolean, pt: number, len: number, payloadHash: number): void {
    this.slab.add(this.rec, seq, rtpTs, marker, pt, len, payloadHash);
  }
  blocks(withPayload = true) {
    return this.slab.blocks(this.rec, withPayload);
  }
  completeBlocks(): number {
    return this.slab.completeBlocks(this.rec);
  }
  get packets(): number {
    return this.slab.summary(this.rec).packets;
  }
  get tooLate(): number {
    return this.slab.summary(this.rec).tooLate;
  }
  get seqFirst(): number {
    return this.slab.summary(this.rec).seqFirst;
  }
  get seqLast(): number {
    return this.slab.summary(this.rec).seqLast;
  }
}

function feed(d: OneStream, seqs: number[], payloadSalt = 0): OneStream {
  for (const q of seqs) {
    const t = tuple(q);
    d.add(t[0], t[1], t[2], t[3], t[4], (t[5] ^ payloadSalt) >>> 0);
  }
  return d;
}

const range = (from: number, count: number): number[] => Array.from({ length: count }, (_, i) => (from + i) & 0xffff);

/** Fisher-Yates with a fixed LCG, so the test is reproducible. */
function shuffled<T>(xs: T[], seed = 7): T[] {
  const out = xs.slice();
  let r = seed;
  for (let i = out.length - 1; i > 0; i--) {
    r = (Math.imul(r, 1103515245) + 12345) >>> 0;
    const j = r % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe('DigestSlab', () => {
  it('aligns blocks on seq - seq % 32 and counts distinct packets', () => {
    const d = feed(new OneStream(), range(100, 100));
    const blocks = d.blocks();
    expect(blocks.map((b) => b.seq)).toEqual([96, 128, 160, 192]);
    expect(blocks.map((b) => b.n)).toEqual([28, 32, 32, 8]);
    for (const b of blocks) {
      expect(b.header).toMatch(/^[0-9a-f]{16}$/);
      expect(b.payload).toMatch(/^[0-9a-f]{16}$/);
    }
    expect(d.completeBlocks()).toBe(2);
    expect(d.packets).toBe(100);
    // A duplicated packet changes neither the count nor the digest.
    const before = JSON.stringify(d.blocks());
    feed(d, [130, 131, 199]);
    expect(JSON.stringify(d.blocks())).toBe(before);
    expect(d.packets).toBe(100);
  });

  it('gives the same digests whatever the arrival order inside the window', () => {
    const seqs = range(1000, 6 * B);
    const inOrder = feed(new OneStream(), seqs).blocks();
    const outOfOrder = feed(new OneStream(), shuffled(seqs)).blocks();
    expect(outOfOrder).toEqual(inOrder);
    // Local reordering (pairs swapped), as a real network does it.
    const swapped = seqs.slice();
    for (let i = 0; i + 1 < swapped.length; i += 2) [swapped[i], swapped[i + 1]] = [swapped[i + 1]!, swapped[i]!];
    expect(feed(new OneStream(), swapped).blocks()).toEqual(inOrder);
  });

  it('distinguishes blocks that differ in any header field or in the payload', () => {
    const base = feed(new OneStream(), range(64, B)).blocks()[0]!;
    const variants: Array<(t: ReturnType<typeof tuple>) => ReturnType<typeof tuple>> = [
      (t) => [t[0], t[1] + 1, t[2], t[3], t[4], t[5]],
      (t) => [t[0], t[1], !t[2], t[3], t[4], t[5]],
      (t) => [t[0], t[1], t[2], 8, t[4], t[5]],
      (t) => [t[0], t[1], t[2], t[3], t[4] + 1, t[5]],
    ];
    for (const v of variants) {
      const d = new OneStream();
      for (const q of range(64, B)) {
        const t = q === 70 ? v(tuple(q)) : tuple(q);
        d.add(t[0], t[1], t[2], t[3], t[4], t[5]);
      }
      const b = d.blocks()[0]!;
      expect(b.header).not.toBe(base.header);
      expect(b.payload).toBe(base.payload);
    }
    const p = feed(new OneStream(), range(64, B), 0x5a5a).blocks()[0]!;
    expect(p.header).toBe(base.header);
    expect(p.payload).not.toBe(base.payload);
  });

  it('cuts the same blocks across the 65535 -> 0 wrap whichever packet a sensor saw first', () => {
    const a = feed(new OneStream(), range(65500, 200)).blocks();
    const b = feed(new OneStream(), range(65515, 185)).blocks();
    // Oldest first, across the wrap.
    // 65500 + 199 = 65699 = 163 after the wrap.
    expect(a.map((x) => x.seq)).toEqual([65472, 65504, 0, 32, 64, 96, 128, 160]);
    expect(a.map((x) => x.n)).toEqual([4, 32, 32, 32, 32, 32, 32, 4]);
    const complete = (xs: typeof a) => xs.filter((x) => x.n === B);
    // b missed the start of block 65504; every block both saw completely is identical.
    expect(complete(b).map((x) => x.seq)).toEqual([0, 32, 64, 96, 128]);
    expect(complete(b)).toEqual(complete(a).filter((x) => x.seq !== 65504));
    const d = feed(new OneStream(), range(65500, 200));
    expect([d.seqFirst, d.seqLast]).toEqual([65500, (65500 + 199) & 0xffff]);
  });

  it('keeps a rolling window of the newest blocks and drops packets older than it', () => {
    const d = feed(new OneStream(), range(0, 40 * B));
    const blocks = d.blocks();
    expect(blocks).toHaveLength(FINGERPRINT_WINDOW_BLOCKS);
    expect(blocks[0]!.seq).toBe((40 - FINGERPRINT_WINDOW_BLOCKS) * B);
    expect(blocks[blocks.length - 1]!.seq).toBe(39 * B);
    // A straggler from block 0 is far too late: counted and ignored.
    feed(d, [5]);
    expect(d.tooLate).toBe(1);
    expect(d.blocks()).toEqual(blocks);
    // The window's blocks equal those of a sensor that only saw its tail.
    expect(feed(new OneStream(), range((40 - FINGERPRINT_WINDOW_BLOCKS) * B, FINGERPRINT_WINDOW_BLOCKS * B)).blocks()).toEqual(blocks);
  });

  it('keeps records apart, grows, and hands out a released record clean', () => {
    const slab = new DigestSlab(2);
    const recs = Array.from({ length: 9 }, () => slab.alloc(null));
    expect(new Set(recs).size).toBe(9);
    expect(slab.capacity).toBeGreaterThanOrEqual(9);
    recs.forEach((rec, k) => {
      for (const q of range(k * 1000, 2 * B)) {
        const t = tuple(q);
        slab.add(rec, t[0], t[1], t[2], t[3], t[4], t[5]);
      }
    });
    recs.forEach((rec, k) => {
      expect(slab.blocks(rec)).toEqual(feed(new OneStream(), range(k * 1000, 2 * B)).blocks());
      expect(slab.summary(rec).packets).toBe(2 * B);
    });
    slab.release(recs[3]!);
    const again = slab.alloc('203.0.113.1:4789');
    expect(again).toBe(recs[3]);
    expect(slab.blocks(again)).toEqual([]);
    expect(slab.summary(again)).toMatchObject({ packets: 0, outerDst: '203.0.113.1:4789' });
    expect(slab.size).toBe(9);
  });

  it('publishes null payload digests when asked to', () => {
    expect(feed(new OneStream(), range(0, B)).blocks(false)[0]!.payload).toBeNull();
  });
});

// ------------------------------------------------------------ whole sensor

class FingerprintSink implements EventSink {
  readonly events: TapwatchEvent[] = [];
  readonly fingerprints: StreamFingerprint[] = [];
  write(e: TapwatchEvent): void {
    this.events.push(e);
  }
  async flush(): Promise<void> {}
  fingerprint(fp: StreamFingerprint): void {
    this.fingerprints.push(fp);
  }
}

class EventsOnlySink implements EventSink {
  readonly events: TapwatchEvent[] = [];
  write(e: TapwatchEvent): void {
    this.events.push(e);
  }
  async flush(): Promise<void> {}
}

const T0 = 1_700_000_000;
const SSRC = 0x5eed1234;
const PAYLOAD_MARK = 'PAYLOADMARK-';

/**
 * One 12 s G.711 stream 10.0.0.1:4000 -> 10.0.0.2:5000 (600 packets starting
 * at seq 65400, so it wraps), an exact copy of each packet to
 * 198.51.100.7:6000, and a "re-encrypted" copy to 198.51.100.8:6002 (same
 * RTP header, other payload bytes). Two pairs of packets of the original
 * arrive swapped.
 */
function buildCapture(file: string, tunnelledFile: string): void {
  const frames: SyntheticFrame[] = [];
  const tunnelled: SyntheticFrame[] = [];
  const n = 600;
  const order = Array.from({ length: n }, (_, i) => i);
  for (const i of [101, 333]) [order[i], order[i + 1]] = [order[i + 1]!, order[i]!];
  for (let k = 0; k < n; k++) {
    const i = order[k]!;
    const seq = (65400 + i) & 0xffff;
    const ts = T0 + k * 0.02;
    const payload = Buffer.alloc(160, 0x55);
    payload.write(`${PAYLOAD_MARK}${i}`, 0, 'latin1');
    payload.writeUInt32BE(Math.imul(i + 7, 0x9e3779b1) >>> 0, 156);
    const pkt = rtp(SSRC, seq, 8000 + i * 160, 0, payload, i === 0);
    const reenc = rtp(SSRC, seq, 8000 + i * 160, 0, Buffer.from(payload.map((b, j) => b ^ ((j * 31 + i) & 0xff))), i === 0);
    frames.push({ ts, linkType: 1, frame: udpFrame('10.0.0.1', 4000, '10.0.0.2', 5000, pkt), label: 'orig' });
    frames.push({ ts: ts + 0.0002, linkType: 1, frame: udpFrame('10.0.0.1', 4000, '198.51.100.7', 6000, pkt), label: 'copy' });
    frames.push({ ts: ts + 0.0004, linkType: 1, frame: udpFrame('10.0.0.1', 4000, '198.51.100.8', 6002, reenc), label: 'reenc' });
    // What another sensor sees of a VXLAN-wrapped copy: only the tunnel.
    tunnelled.push({ ts: ts + 0.0003, linkType: 1, frame: vxlanFrame('10.9.9.1', '203.0.113.9', 42, udpFrame('10.0.0.1', 4000, '10.0.0.2', 5000, pkt)), label: 'vxlan' });
  }
  writeSyntheticPcap(file, frames);
  writeSyntheticPcap(tunnelledFile, tunnelled);
}

describe('fingerprints through the sensor', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tw-fp-'));
  const file = path.join(dir, 'copies.pcap');
  const tunnelledFile = path.join(dir, 'vxlan-copy.pcap');
  buildCapture(file, tunnelledFile);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function run(sinks: EventSink[], capture = file): Promise<Sensor> {
    const sensor = new Sensor({ sensorId: 'edge-test', statsIntervalSec: 0, detect: false }, sinks);
    await sensor.run(openCaptureFile(capture));
    return sensor;
  }

  it('publishes schema-valid fingerprints: equal digests for the exact copy, equal headers only for the re-encrypted one', async () => {
    const sink = new FingerprintSink();
    const sensor = await run([sink]);
    // Every ended stream gave its digest record back.
    expect(sensor.streams.fingerprints!.slab.size).toBe(0);
    expect(sensor.streams.fingerprints!.published).toBe(sink.fingerprints.length);
    const validator = compileFingerprintValidator();
    for (const fp of sink.fingerprints) expect(validator.validate(fp)).toBeNull();
    expect(new Set(sink.fingerprints.map((f) => f.id)).size).toBe(sink.fingerprints.length);

    const byDst = new Map<string, StreamFingerprint[]>();
    for (const fp of sink.fingerprints) byDst.set(fp.dst, [...(byDst.get(fp.dst) ?? []), fp]);
    expect([...byDst.keys()].sort()).toEqual(['10.0.0.2:5000', '198.51.100.7:6000', '198.51.100.8:6002']);
    // 12 s of capture, 5 s period: two periodic fingerprints and a final one per stream.
    for (const list of byDst.values()) expect(list.length).toBe(3);

    const last = (dst: string) => byDst.get(dst)!.at(-1)!;
    const orig = last('10.0.0.2:5000');
    const copy = last('198.51.100.7:6000');
    const reenc = last('198.51.100.8:6002');
    expect(orig.ssrc).toBe(SSRC);
    expect(orig.packets).toBe(600);
    expect(orig.blockSize).toBe(B);
    expect(orig.blocks).toHaveLength(FINGERPRINT_WINDOW_BLOCKS);
    expect([orig.seqFirst, orig.seqLast]).toEqual([65400, (65400 + 599) & 0xffff]);
    expect(orig.outerDst).toBeNull();
    const complete = orig.blocks.filter((b) => b.n === B);
    expect(complete.length).toBeGreaterThanOrEqual(FINGERPRINT_WINDOW_BLOCKS - 1);

    expect(copy.blocks).toEqual(orig.blocks);
    expect(reenc.blocks.map((b) => b.header)).toEqual(orig.blocks.map((b) => b.header));
    for (let i = 0; i < orig.blocks.length; i++) expect(reenc.blocks[i]!.payload).not.toBe(orig.blocks[i]!.payload);

    // The collector's join, as if each stream had been seen by another sensor.
    const asSensor = (fp: StreamFingerprint, sensor: string) => ({ ...fp, sensor });
    expect(matchFingerprints(asSensor(orig, 'a'), asSensor(copy, 'b'), 300)?.mode).toBe('exact');
    expect(matchFingerprints(asSensor(orig, 'a'), asSensor(reenc, 'b'), 300)?.mode).toBe('correlated');

    // No payload byte travels: neither the marker text nor its hex form.
    const text = JSON.stringify(sink.fingerprints);
    expect(text).not.toContain(PAYLOAD_MARK);
    expect(text).not.toContain(Buffer.from(PAYLOAD_MARK).toString('hex'));
    expect(text).not.toContain(Buffer.from(PAYLOAD_MARK).toString('base64').slice(0, 12));
    // Fingerprints never reach the event stream (JSONL output stays as it was).
    expect(sink.events.some((e) => (e.type as string) === 'stream_fingerprint')).toBe(false);
  });

  it('computes nothing when no sink takes fingerprints, and emits the same events either way', async () => {
    const plain = new EventsOnlySink();
    const sensor = await run([plain]);
    expect(sensor.streams.fingerprints).toBeNull();
    expect(sensor.events.counts.get('stream_fingerprint')).toBeUndefined();
    const withFp = new FingerprintSink();
    await run([withFp]);
    const strip = (es: TapwatchEvent[]) => es.filter((e) => e.type !== 'sensor_stats').map((e) => JSON.stringify({ ...e, id: '' }));
    expect(strip(withFp.events)).toEqual(strip(plain.events));
  });

  it('names the tunnel destination of a copy that arrives wrapped, with the same digests as the original', async () => {
    const plain = new FingerprintSink();
    await run([plain]);
    const wrapped = new FingerprintSink();
    await run([wrapped], tunnelledFile);
    const copy = wrapped.fingerprints.at(-1)!;
    expect(compileFingerprintValidator().validate(copy)).toBeNull();
    expect(copy.dst).toBe('10.0.0.2:5000');
    expect(copy.outerDst).toMatch(/^203\.0\.113\.9(:4789)?$/);
    const orig = plain.fingerprints.filter((f) => f.dst === '10.0.0.2:5000').at(-1)!;
    expect(copy.blocks).toEqual(orig.blocks);
    // The collector sees two deliveries to different places: a copy.
    const m = matchFingerprints({ ...orig, sensor: 'a' }, { ...copy, sensor: 'b' }, 300);
    expect(m?.copy.sensor).toBe('b');
    expect(m?.mode).toBe('exact');
  });
});
