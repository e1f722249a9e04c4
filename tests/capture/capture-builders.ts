/**
 * Byte-level builders for pcap and pcapng test files (draft-ietf-opsawg-pcap,
 * draft-ietf-opsawg-pcapng), and a collector that copies what a PacketSource
 * delivers (the record is reused, so tests must copy).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PacketRecord } from '../../sensor/src/decode/packet.js';
import type { PacketSource } from '../../sensor/src/capture/packet-source.js';

export interface PcapRecordSpec {
  sec: number;
  /** Microseconds, or nanoseconds for nano files. */
  frac: number;
  data: Buffer;
  /** Original length (default data.length). */
  orig?: number;
}

export function u32(v: number, le: boolean): Buffer {
  const b = Buffer.alloc(4);
  if (le) b.writeUInt32LE(v >>> 0);
  else b.writeUInt32BE(v >>> 0);
  return b;
}

export function u16(v: number, le: boolean): Buffer {
  const b = Buffer.alloc(2);
  if (le) b.writeUInt16LE(v);
  else b.writeUInt16BE(v);
  return b;
}

export function u64(v: bigint, le: boolean): Buffer {
  const b = Buffer.alloc(8);
  if (le) b.writeBigUInt64LE(BigInt.asUintN(64, v));
  else b.writeBigUInt64BE(BigInt.asUintN(64, v));
  return b;
}

export function pcapFile(opts: {
  le: boolean;
  magic?: number;
  linkType?: number;
  snaplen?: number;
  records: PcapRecordSpec[];
}): Buffer {
  const { le } = opts;
  const magic = opts.magic ?? 0xa1b2c3d4;
  const kuz = magic === 0xa1b2cd34;
  const parts: Buffer[] = [
    u32(magic, le),
    u16(2, le),
    u16(4, le),
    u32(0, le),
    u32(0, le),
    u32(opts.snaplen ?? 65535, le),
    u32(opts.linkType ?? 1, le),
  ];
  for (const r of opts.records) {
    parts.push(u32(r.sec, le), u32(r.frac, le), u32(r.data.length, le), u32(r.orig ?? r.data.length, le));
    if (kuz) parts.push(u32(7, le), u16(0x0800, le), Buffer.from([0, 0]));
    parts.push(r.data);
  }
  return Buffer.concat(parts);
}

function pad4(b: Buffer): Buffer {
  const rem = b.length % 4;
  return rem === 0 ? b : Buffer.concat([b, Buffer.alloc(4 - rem)]);
}

/** A generic block: type, total length, body (padded), total length. */
export function block(type: number, body: Buffer, le: boolean): Buffer {
  const padded = pad4(body);
  const total = 12 + padded.length;
  return Buffer.concat([u32(type, le), u32(total, le), padded, u32(total, le)]);
}

export function option(code: number, value: Buffer, le: boolean): Buffer {
  return Buffer.concat([u16(code, le), u16(value.length, le), pad4(value)]);
}

export const endOfOptions = (le: boolean): Buffer => Buffer.concat([u16(0, le), u16(0, le)]);

export function shb(le: boolean): Buffer {
  const body = Buffer.concat([u32(0x1a2b3c4d, le), u16(1, le), u16(0, le), u64(-1n, le)]);
  return block(0x0a0d0d0a, body, le);
}

export function idb(le: boolean, linkType: number, snaplen: number, opts: { tsresol?: number; tsoffset?: bigint } = {}): Buffer {
  const o: Buffer[] = [];
  if (opts.tsresol !== undefined) o.push(option(9, Buffer.from([opts.tsresol]), le));
  if (opts.tsoffset !== undefined) o.push(option(14, u64(opts.tsoffset, le), le));
  if (o.length > 0) o.push(endOfOptions(le));
  return block(1, Buffer.concat([u16(linkType, le), u16(0, le), u32(snaplen, le), ...o]), le);
}

export function epb(le: boolean, ifid: number, ts: bigint, data: Buffer, orig = data.length): Buffer {
  const hi = Number(ts >> 32n);
  const lo = Number(ts & 0xffffffffn);
  return block(6, Buffer.concat([u32(ifid, le), u32(hi, le), u32(lo, le), u32(data.length, le), u32(orig, le), pad4(data)]), le);
}

export function opb(le: boolean, ifid: number, ts: bigint, data: Buffer, orig = data.length): Buffer {
  const hi = Number(ts >> 32n);
  const lo = Number(ts & 0xffffffffn);
  return block(
    2,
    Buffer.concat([u16(ifid, le), u16(0, le), u32(hi, le), u32(lo, le), u32(data.length, le), u32(orig, le), pad4(data)]),
    le,
  );
}

export function spb(le: boolean, orig: number, data: Buffer): Buffer {
  return block(3, Buffer.concat([u32(orig, le), pad4(data)]), le);
}

export function isb(le: boolean, ifid: number, recv: bigint, ifdrop: bigint, osdrop: bigint): Buffer {
  return block(
    5,
    Buffer.concat([
      u32(ifid, le),
      u32(0, le),
      u32(0, le),
      option(4, u64(recv, le), le),
      option(5, u64(ifdrop, le), le),
      option(7, u64(osdrop, le), le),
      endOfOptions(le),
    ]),
    le,
  );
}

/** Bytes 0..n-1 with a marker in the first byte, so frames are distinguishable. */
export function frameBytes(n: number, marker: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i + marker) & 0xff;
  if (n > 0) b[0] = marker & 0xff;
  return b;
}

let fileCounter = 0;
const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tapwatch-capture-'));

export function writeTemp(content: Buffer | string, ext = '.pcap'): string {
  const file = path.join(tmpDir, `f${process.pid}-${fileCounter++}${ext}`);
  fs.writeFileSync(file, content);
  return file;
}

export function removeTempDir(): void {
  fs.rmSync(tmpDir, { recursive: true, force: true });
}

export interface Captured {
  frameNumber: number;
  tsSec: number;
  tsNsec: number;
  ts: number;
  capLength: number;
  wireLength: number;
  interfaceId: number;
  linkType: number;
  hex: string;
}

export async function collect(src: PacketSource, onEach?: (n: number) => void): Promise<Captured[]> {
  const out: Captured[] = [];
  const rec = new PacketRecord();
  await src.run(rec, (r) => {
    out.push({
      frameNumber: r.frameNumber,
      tsSec: r.tsSec,
      tsNsec: r.tsNsec,
      ts: r.ts,
      capLength: r.capLength,
      wireLength: r.wireLength,
      interfaceId: r.interfaceId,
      linkType: r.linkType,
      hex: r.frame.toString('hex', r.frameOffset, r.frameOffset + r.capLength),
    });
    onEach?.(out.length);
  });
  return out;
}
