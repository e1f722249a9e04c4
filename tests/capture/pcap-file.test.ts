import { afterAll, describe, expect, it } from 'vitest';
import { openCaptureFile } from '../../sensor/src/capture/open-file.js';
import { CaptureError } from '../../sensor/src/capture/packet-source.js';
import { collect, frameBytes, pcapFile, removeTempDir, writeTemp, type PcapRecordSpec } from './capture-builders.js';

afterAll(removeTempDir);

const records: PcapRecordSpec[] = [
  { sec: 1700000000, frac: 123456, data: frameBytes(60, 1) },
  { sec: 1700000001, frac: 999999, data: frameBytes(1514, 2), orig: 1514 },
  { sec: 1700000002, frac: 0, data: frameBytes(100, 3), orig: 9000 }, // snaplen-cut frame
];

describe('classic pcap reader', () => {
  for (const le of [true, false]) {
    const order = le ? 'little-endian' : 'big-endian';

    it(`reads a ${order} microsecond file`, async () => {
      const src = openCaptureFile(writeTemp(pcapFile({ le, records })));
      expect(src.kind).toBe('pcap');
      const got = await collect(src);
      expect(got.map((p) => p.frameNumber)).toEqual([1, 2, 3]);
      expect(got[0]).toMatchObject({ tsSec: 1700000000, tsNsec: 123456000, capLength: 60, wireLength: 60, linkType: 1, interfaceId: 0 });
      expect(got[0]!.ts).toBeCloseTo(1700000000.123456, 6);
      expect(got[1]).toMatchObject({ tsSec: 1700000001, tsNsec: 999999000, capLength: 1514 });
      expect(got[2]).toMatchObject({ capLength: 100, wireLength: 9000 });
      expect(got[1]!.hex).toBe(frameBytes(1514, 2).toString('hex'));
      expect(src.warnings).toEqual([]);
      expect(src.stats()).toMatchObject({ packets: 3, bytes: 60 + 1514 + 100, kernelDrops: 0 });
      const prog = src.progress();
      expect(prog.bytesRead).toBe(prog.bytesTotal);
    });

    it(`reads a ${order} nanosecond file`, async () => {
      const nano = records.map((r) => ({ ...r, frac: r.frac * 1000 + 789 }));
      const got = await collect(openCaptureFile(writeTemp(pcapFile({ le, magic: 0xa1b23c4d, records: nano }))));
      expect(got[0]).toMatchObject({ tsSec: 1700000000, tsNsec: 123456789 });
      expect(got[1]).toMatchObject({ tsNsec: 999999789 });
    });

    it(`reads a ${order} Kuznetzov (0xa1b2cd34) file with 24-byte record headers`, async () => {
      const got = await collect(openCaptureFile(writeTemp(pcapFile({ le, magic: 0xa1b2cd34, records }))));
      expect(got).toHaveLength(3);
      expect(got[2]!.hex).toBe(frameBytes(100, 3).toString('hex'));
      expect(got[2]).toMatchObject({ tsSec: 1700000002, capLength: 100, wireLength: 9000 });
    });
  }

  it('masks the FCS bits in the upper half of the link type', async () => {
    // FCS length 4 (in 16-bit units: 2) in bits 28..31 with the F bit (26) set, link type 1.
    const linkType = (2 << 28) | (1 << 26) | 1;
    const got = await collect(openCaptureFile(writeTemp(pcapFile({ le: true, linkType, records }))));
    expect(got[0]!.linkType).toBe(1);
    const raw = await collect(openCaptureFile(writeTemp(pcapFile({ le: false, linkType: 101, records }))));
    expect(raw[0]!.linkType).toBe(101);
  });

  it('delivers every complete packet and warns on a truncated last record', async () => {
    const full = pcapFile({ le: true, records });
    const file = writeTemp(full.subarray(0, full.length - 40));
    const src = openCaptureFile(file);
    const got = await collect(src);
    expect(got).toHaveLength(2);
    expect(src.warnings).toHaveLength(1);
    expect(src.warnings[0]).toMatch(/truncated last record.*frame 3.*100 captured bytes announced, 60 present/);
  });

  it('warns on a partial record header at end of file', async () => {
    const full = pcapFile({ le: false, records });
    const src = openCaptureFile(writeTemp(Buffer.concat([full, Buffer.alloc(7)])));
    const got = await collect(src);
    expect(got).toHaveLength(3);
    expect(src.warnings[0]).toMatch(/truncated record header.*7 of 16 bytes/);
  });

  it('stops on an absurd captured length without allocating for it', async () => {
    const bad = Buffer.concat([pcapFile({ le: true, records: records.slice(0, 1) }), Buffer.from('0000000000000000f0ffff7f00000000', 'hex')]);
    const src = openCaptureFile(writeTemp(bad));
    const got = await collect(src);
    expect(got).toHaveLength(1);
    expect(src.warnings).toHaveLength(1);
    expect(src.warnings[0]).toMatch(/claims 2147483632 captured bytes/);
  });

  it('parses records that straddle chunk boundaries, and records larger than a chunk', async () => {
    const many: PcapRecordSpec[] = [];
    for (let i = 0; i < 300; i++) {
      const len = i % 50 === 7 ? 5000 : 20 + ((i * 37) % 180); // some records much bigger than the 256-byte chunk
      many.push({ sec: 1600000000 + i, frac: i, data: frameBytes(len, i) });
    }
    const file = writeTemp(pcapFile({ le: true, records: many }));
    for (const chunkSize of [64, 256, 1000, 4099]) {
      const src = openCaptureFile(file, { chunkSize, yieldEvery: 7 });
      const got = await collect(src);
      expect(got).toHaveLength(300);
      for (let i = 0; i < 300; i++) {
        expect(got[i]!.hex).toBe(many[i]!.data.toString('hex'));
        expect(got[i]!.tsSec).toBe(1600000000 + i);
      }
      expect(src.warnings).toEqual([]);
    }
  });

  it('stop() from inside onPacket ends run() promptly', async () => {
    const many: PcapRecordSpec[] = Array.from({ length: 10000 }, (_, i) => ({ sec: i, frac: 0, data: frameBytes(40, i) }));
    const src = openCaptureFile(writeTemp(pcapFile({ le: true, records: many })));
    const got = await collect(src, (n) => {
      if (n === 5000) src.stop();
    });
    expect(got).toHaveLength(5000);
  });

  it('stop() from a timer interrupts a long read (the reader yields to the event loop)', async () => {
    const many: PcapRecordSpec[] = Array.from({ length: 50000 }, (_, i) => ({ sec: i, frac: 0, data: frameBytes(16, i) }));
    const src = openCaptureFile(writeTemp(pcapFile({ le: true, records: many })), { yieldEvery: 1000 });
    let yielded = 0;
    const timer = setImmediate(() => {
      yielded = src.stats().packets;
      src.stop();
    });
    const got = await collect(src);
    clearImmediate(timer);
    expect(yielded).toBeGreaterThan(0);
    expect(got.length).toBeLessThan(50000);
    expect(got.length).toBe(yielded);
  });
});

describe('openCaptureFile errors', () => {
  it('rejects a text file with ENOTCAPTURE naming the file and the bytes', () => {
    const file = writeTemp('Hello, this is not a capture\n', '.pcap');
    let err: unknown;
    try {
      openCaptureFile(file);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CaptureError);
    expect((err as CaptureError).code).toBe('ENOTCAPTURE');
    expect((err as CaptureError).message).toContain(file);
    expect((err as CaptureError).message).toContain('48656c6c6f'); // "Hello"
  });

  it('rejects an empty file with ENOTCAPTURE', () => {
    const file = writeTemp(Buffer.alloc(0));
    expect(() => openCaptureFile(file)).toThrowError(/empty/);
    try {
      openCaptureFile(file);
    } catch (e) {
      expect((e as CaptureError).code).toBe('ENOTCAPTURE');
    }
  });

  it('rejects a pcap magic with a truncated file header', () => {
    const file = writeTemp(pcapFile({ le: true, records: [] }).subarray(0, 10));
    expect(() => openCaptureFile(file)).toThrowError(CaptureError);
  });

  it('reports a missing file as EOPEN', () => {
    try {
      openCaptureFile('/nonexistent/dir/x.pcap');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(CaptureError);
      expect((e as CaptureError).code).toBe('EOPEN');
      expect((e as CaptureError).message).toContain('/nonexistent/dir/x.pcap');
    }
  });

  it('reads an empty capture (header only) with no packets and no warnings', async () => {
    const src = openCaptureFile(writeTemp(pcapFile({ le: true, records: [] })));
    expect(await collect(src)).toEqual([]);
    expect(src.warnings).toEqual([]);
  });
});
