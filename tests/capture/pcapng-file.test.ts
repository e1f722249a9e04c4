import { afterAll, describe, expect, it } from 'vitest';
import { openCaptureFile } from '../../sensor/src/capture/open-file.js';
import {
  block,
  collect,
  epb,
  frameBytes,
  idb,
  isb,
  opb,
  removeTempDir,
  shb,
  spb,
  u32,
  writeTemp,
} from './capture-builders.js';

afterAll(removeTempDir);

const SEC = 1700000000n;

/** Three interfaces: microseconds (default), nanoseconds, and 2^-10 s; then EPB/SPB/OPB and blocks to skip. */
function multiInterfaceFile(le: boolean): { file: Buffer; frames: Buffer[] } {
  const frames = [frameBytes(60, 1), frameBytes(61, 2), frameBytes(62, 3), frameBytes(200, 4), frameBytes(63, 5), frameBytes(64, 6)];
  const file = Buffer.concat([
    shb(le),
    idb(le, 1, 0), // interface 0: Ethernet, no tsresol option -> 10^-6
    block(4, Buffer.from('0100040001020304', 'hex'), le), // NRB-ish, skipped
    idb(le, 101, 65535, { tsresol: 9 }), // interface 1: raw IP, ns
    idb(le, 113, 100, { tsresol: 0x80 | 10 }), // interface 2: SLL, 2^-10 s, snaplen 100
    epb(le, 0, SEC * 1000000n + 123456n, frames[0]!),
    epb(le, 1, SEC * 1000000000n + 987654321n, frames[1]!, 1500),
    epb(le, 2, SEC * 1024n + 512n, frames[2]!),
    block(0x00000bad, Buffer.concat([u32(32473, le), Buffer.from('custom!!')]), le), // custom block, skipped
    spb(le, 1000, frames[3]!), // SPB on interface 0: captured = min(1000, snaplen 0 = none, 200 space) = 200
    opb(le, 1, SEC * 1000000000n + 5n, frames[4]!),
    isb(le, 1, 1234n, 5n, 7n),
    block(0x12345678, Buffer.alloc(20), le), // unknown block type, skipped
    epb(le, 0, (SEC + 1n) * 1000000n, frames[5]!),
  ]);
  return { file, frames };
}

describe('pcapng reader', () => {
  for (const le of [true, false]) {
    const order = le ? 'little-endian' : 'big-endian';
    it(`reads a ${order} section with three interfaces of different tsresol, EPB/SPB/OPB, skipping other blocks`, async () => {
      const { file, frames } = multiInterfaceFile(le);
      const src = openCaptureFile(writeTemp(file, '.pcap')); // a pcapng named .pcap: sniffed by magic
      expect(src.kind).toBe('pcapng');
      const got = await collect(src);
      expect(src.warnings).toEqual([]);
      expect(got).toHaveLength(6);
      expect(got.map((p) => p.frameNumber)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(got.map((p) => p.interfaceId)).toEqual([0, 1, 2, 0, 1, 0]);
      expect(got.map((p) => p.linkType)).toEqual([1, 101, 113, 1, 101, 1]);
      expect(got[0]).toMatchObject({ tsSec: 1700000000, tsNsec: 123456000, capLength: 60, wireLength: 60 });
      expect(got[1]).toMatchObject({ tsSec: 1700000000, tsNsec: 987654321, capLength: 61, wireLength: 1500 });
      expect(got[2]).toMatchObject({ tsSec: 1700000000, tsNsec: 500000000 }); // 512/1024 s
      expect(got[2]!.ts).toBe(1700000000.5);
      // SPB: interface 0, reuses the last timestamp (the 2^-10 one), length bounded by the block.
      expect(got[3]).toMatchObject({ tsSec: 1700000000, tsNsec: 500000000, capLength: 200, wireLength: 1000 });
      expect(got[4]).toMatchObject({ tsSec: 1700000000, tsNsec: 5, interfaceId: 1 });
      expect(got[5]).toMatchObject({ tsSec: 1700000001, tsNsec: 0 });
      for (let i = 0; i < 6; i++) expect(got[i]!.hex).toBe(frames[i]!.toString('hex'));
      expect(src.stats()).toMatchObject({ packets: 6, kernelReceived: 1234, ifDrops: 5, kernelDrops: 7 });
    });
  }

  it('bounds an SPB by the interface snaplen', async () => {
    const le = true;
    const file = Buffer.concat([shb(le), idb(le, 1, 50), epb(le, 0, 42n, frameBytes(40, 9)), spb(le, 300, frameBytes(80, 8))]);
    const got = await collect(openCaptureFile(writeTemp(file)));
    expect(got[1]).toMatchObject({ capLength: 50, wireLength: 300, tsSec: 0, tsNsec: 42000 });
    expect(got[1]!.hex).toBe(frameBytes(80, 8).subarray(0, 50).toString('hex'));
  });

  it('splits nanosecond, picosecond and large timestamps exactly, and applies if_tsoffset', async () => {
    const le = false;
    const file = Buffer.concat([
      shb(le),
      idb(le, 1, 0, { tsresol: 9 }),
      idb(le, 1, 0, { tsresol: 12 }),
      idb(le, 1, 0, { tsresol: 6, tsoffset: 3600n }),
      idb(le, 1, 0, { tsresol: 3 }),
      epb(le, 0, 4102444799999999999n, frameBytes(20, 1)), // 2099-12-31T23:59:59.999999999
      epb(le, 1, 12345678901234567890n, frameBytes(20, 2)), // 2^64 picoseconds is only 213 days
      epb(le, 2, 10n * 1000000n + 1n, frameBytes(20, 3)),
      epb(le, 3, 1700000000999n, frameBytes(20, 4)),
    ]);
    const got = await collect(openCaptureFile(writeTemp(file)));
    expect(got[0]).toMatchObject({ tsSec: 4102444799, tsNsec: 999999999 });
    expect(got[1]).toMatchObject({ tsSec: 12345678, tsNsec: 901234567 });
    expect(got[2]).toMatchObject({ tsSec: 3610, tsNsec: 1000 });
    expect(got[3]).toMatchObject({ tsSec: 1700000000, tsNsec: 999000000 });
  });

  it('numbers interfaces across sections and follows each section byte order', async () => {
    const file = Buffer.concat([
      shb(true),
      idb(true, 1, 0),
      epb(true, 0, 1n, frameBytes(30, 1)),
      shb(false),
      idb(false, 101, 0, { tsresol: 9 }),
      idb(false, 228, 0),
      epb(false, 1, 2000000n, frameBytes(31, 2)),
      epb(false, 0, 7n, frameBytes(32, 3)),
    ]);
    const got = await collect(openCaptureFile(writeTemp(file)));
    expect(got.map((p) => [p.interfaceId, p.linkType])).toEqual([
      [0, 1],
      [2, 228],
      [1, 101],
    ]);
    expect(got[1]).toMatchObject({ tsSec: 2, tsNsec: 0 });
    expect(got[2]).toMatchObject({ tsSec: 0, tsNsec: 7 });
  });

  it('warns on a truncated final block and delivers every complete packet', async () => {
    const { file } = multiInterfaceFile(true);
    const src = openCaptureFile(writeTemp(file.subarray(0, file.length - 10)));
    const got = await collect(src);
    expect(got).toHaveLength(5);
    expect(src.warnings).toHaveLength(1);
    expect(src.warnings[0]).toMatch(/truncated last block \(type 6\)/);
  });

  it('warns on a truncated block header', async () => {
    const { file } = multiInterfaceFile(true);
    const src = openCaptureFile(writeTemp(Buffer.concat([file, Buffer.alloc(6)])));
    const got = await collect(src);
    expect(got).toHaveLength(6);
    expect(src.warnings[0]).toMatch(/truncated block header/);
  });

  const le = true;
  const good = Buffer.concat([shb(le), idb(le, 1, 0), epb(le, 0, 1n, frameBytes(40, 1))]);
  const malformed: Array<[string, Buffer, RegExp]> = [
    ['length not a multiple of 4', Buffer.concat([u32(6, le), u32(30, le), Buffer.alloc(24)]), /invalid length 30/],
    ['length below 12', Buffer.concat([u32(6, le), u32(8, le), Buffer.alloc(24)]), /invalid length 8/],
    ['mismatched trailing length', Buffer.concat([u32(6, le), u32(36, le), Buffer.alloc(24), u32(40, le)]), /trailing length 40 does not match 36/],
    ['EPB captured length beyond the block', epb(le, 0, 2n, frameBytes(40, 2)).fill(0xff, 20, 21), /do not fit/],
    ['EPB on an undeclared interface', epb(le, 5, 2n, frameBytes(40, 2)), /interface 5/],
  ];
  for (const [what, bad, message] of malformed) {
    it(`stops cleanly with a warning on ${what}`, async () => {
      const src = openCaptureFile(writeTemp(Buffer.concat([good, bad, epb(le, 0, 3n, frameBytes(40, 3))])));
      const got = await collect(src);
      expect(got).toHaveLength(1);
      expect(src.warnings).toHaveLength(1);
      expect(src.warnings[0]).toMatch(message);
    });
  }

  it('parses blocks that straddle chunk boundaries and blocks larger than the chunk', async () => {
    const parts: Buffer[] = [shb(true), idb(true, 1, 0, { tsresol: 9 })];
    const frames: Buffer[] = [];
    for (let i = 0; i < 200; i++) {
      const f = frameBytes(i % 40 === 3 ? 3000 : 1 + ((i * 53) % 300), i);
      frames.push(f);
      parts.push(i % 3 === 0 ? spb(true, f.length, f) : epb(true, 0, BigInt(i) * 1000000000n + BigInt(i), f));
    }
    const file = writeTemp(Buffer.concat(parts));
    for (const chunkSize of [64, 200, 1024]) {
      const src = openCaptureFile(file, { chunkSize, yieldEvery: 5 });
      const got = await collect(src);
      expect(src.warnings).toEqual([]);
      expect(got).toHaveLength(200);
      for (let i = 0; i < 200; i++) expect(got[i]!.hex).toBe(frames[i]!.toString('hex'));
      expect(got[199]).toMatchObject({ tsSec: 199, tsNsec: 199 - 0 }); // 199 % 3 != 0: an EPB
      const p = src.progress();
      expect(p.bytesRead).toBe(p.bytesTotal);
    }
  });
});
