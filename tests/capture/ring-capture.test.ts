/**
 * The native ring producer (sensor/native/tapcap.c startRing/stopRing) end to
 * end: a veth pair between two network namespaces this test creates, known
 * frames replayed onto one end with tcpreplay, a capture thread on the other
 * end writing into SharedArrayBuffers laid out as sensor/src/parallel/
 * ring-layout.ts says, and a minimal reader (below, written from the layout
 * alone) that checks every record: header fields, bytes, 8-byte alignment,
 * wrap markers, timestamps, kernel counters in the control block.
 *
 * The capture runs in a child node process started with `ip netns exec`,
 * because libpcap opens the device in the caller's network namespace.
 * Needs root, `ip netns`, tcpreplay and the built addon; skipped otherwise.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NetnsLab, netnsAvailable } from '../lib/netns.js';
import { pcapFile } from './capture-builders.js';
import { udpFrame } from '../e2e/frame-kit.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(here, '../..');
const ADDON = path.join(ROOT, 'sensor', 'native', 'build', 'Release', 'tapcap.node');
const LAYOUT = path.join(ROOT, 'sensor', 'src', 'parallel', 'ring-layout.ts');

function skipReason(): string {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'not root';
  if (!netnsAvailable()) return '`ip netns` unavailable';
  if (spawnSync('tcpreplay', ['--version']).status !== 0) return 'tcpreplay missing';
  if (!existsSync(ADDON)) return 'tapcap addon not built (node sensor/native/build.mjs)';
  return '';
}
const SKIP = skipReason();

/**
 * The child: open the device with tapcap, start the ring, read every record
 * until told to stop (SIGTERM), then print what it read as JSON. The reader
 * follows ring-layout.ts; its constants are imported from there by the
 * parent and passed in, so a change of the contract breaks this test.
 */
const CHILD = String.raw`
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const [addonPath, device, ringBytes, pauseMs, layoutJson] = process.argv.slice(2);
const L = JSON.parse(layoutJson);
const { Tapcap } = require(addonPath);
const t = new Tapcap();
const linkType = t.open(device, { snaplen: 65535, bufferSize: 8 << 20, promisc: true, immediate: true, timeoutMs: 100, filter: 'udp' });
const ctl = new Int32Array(new SharedArrayBuffer(L.CONTROL_INT32S * 4));
const data = new Uint8Array(new SharedArrayBuffer(Number(ringBytes)));
const dv = new DataView(data.buffer);
ctl[L.CTL_CONSUMERS] = 1;
const READ = L.CTL_READ_BASE; // consumer 0
t.startRing(ctl, data, { statsIntervalMs: 50 });
const got = [];
let misaligned = 0, wraps = 0, badHeader = 0;
let read = 0;
let stopping = false;
let paused = Number(pauseMs) > 0;
if (paused) setTimeout(() => { paused = false; }, Number(pauseMs));
process.on('SIGTERM', () => { stopping = true; });
console.log('READY ' + linkType);
function drain() {
  const write = Atomics.load(ctl, L.CTL_WRITE) >>> 0;
  const mask = data.length - 1;
  while (read !== write) {
    const off = read & mask;
    if (off % L.RECORD_ALIGN !== 0) misaligned++;
    const rb = dv.getUint32(off, true);
    if (rb === L.WRAP_MARKER) { wraps++; read = (read + (data.length - off)) >>> 0; continue; }
    const capLen = dv.getUint32(off + 4, true);
    if (rb !== ((L.RECORD_HEADER_BYTES + capLen + L.RECORD_ALIGN - 1) & ~(L.RECORD_ALIGN - 1)) || off + rb > data.length) { badHeader++; break; }
    got.push({
      capLen, origLen: dv.getUint32(off + 8, true), tsSec: dv.getUint32(off + 12, true), tsNsec: dv.getUint32(off + 16, true),
      linkType: dv.getUint32(off + 20, true),
      hex: Buffer.from(data.buffer, off + L.RECORD_HEADER_BYTES, capLen).toString('hex'),
    });
    read = (read + rb) >>> 0;
  }
  Atomics.store(ctl, READ, read | 0);
}
async function loop() {
  for (;;) {
    if (!paused) drain();
    if (stopping) break;
    await new Promise((r) => setTimeout(r, L.CONSUMER_WAIT_MS));
  }
  t.stopRing();
  drain();
  const out = {
    got, misaligned, wraps, badHeader, closed: Atomics.load(ctl, L.CTL_CLOSED),
    packets: ctl[L.CTL_PACKETS] >>> 0, ringDrops: ctl[L.CTL_RING_DROPS] >>> 0, bytesLo: ctl[L.CTL_BYTES_LO] >>> 0,
    kernelReceived: ctl[L.CTL_KERNEL_RECEIVED] >>> 0, kernelDrops: ctl[L.CTL_KERNEL_DROPS] >>> 0, ifDrops: ctl[L.CTL_IF_DROPS] >>> 0,
    statsAfterStop: t.stats(),
  };
  t.close();
  process.stdout.write('RESULT ' + JSON.stringify(out) + '\n');
}
loop();
`;

interface ChildResult {
  got: Array<{ capLen: number; origLen: number; tsSec: number; tsNsec: number; linkType: number; hex: string }>;
  misaligned: number;
  wraps: number;
  badHeader: number;
  closed: number;
  packets: number;
  ringDrops: number;
  bytesLo: number;
  kernelReceived: number;
  kernelDrops: number;
  ifDrops: number;
}

/** Frames of many sizes (60 .. 1400 bytes) with a sequence number in the payload, so each is unique. */
function knownFrames(n: number): Buffer[] {
  const frames: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const size = 18 + ((i * 397) % 1360);
    const payload = Buffer.alloc(size);
    payload.writeUInt32BE(i, 0);
    for (let j = 4; j < size; j++) payload[j] = (i + j) & 0xff;
    frames.push(udpFrame('10.77.0.1', 40000 + (i % 7), '10.77.0.2', 50000, payload));
  }
  return frames;
}

const dirs: string[] = [];
const labs: NetnsLab[] = [];
afterAll(() => {
  for (const lab of labs) lab.teardown();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function captureThroughRing(frames: Buffer[], ringBytes: number, pauseMs: number, pps: number): Promise<ChildResult> {
  const layout = await import(LAYOUT);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tw-ring-'));
  dirs.push(dir);
  const pcap = path.join(dir, 'known.pcap');
  writeFileSync(pcap, pcapFile({ le: true, records: frames.map((data, i) => ({ sec: 1_700_000_000, frac: i, data })) }));
  const script = path.join(dir, 'ring-child.mjs');
  writeFileSync(script, CHILD);
  const lab = new NetnsLab(`ring${labs.length}`);
  labs.push(lab);
  lab.ns('tx');
  lab.ns('cap');
  lab.link('tx', 'veth-tx', 'cap', 'veth-cap');
  const child = spawn('ip', ['netns', 'exec', lab.nsName('cap'), process.execPath, script, ADDON, 'veth-cap', String(ringBytes), String(pauseMs), JSON.stringify(layout)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ring child not ready: ${err}`)), 10_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('READY')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  await ready;
  const sentAt = Date.now() / 1000;
  lab.exec('tx', ['tcpreplay', '-q', '-i', 'veth-tx', '--pps', String(pps), pcap]);
  // Let the kernel hand over the last frames and the paused reader catch up.
  await new Promise((r) => setTimeout(r, Math.max(300, pauseMs + 300)));
  child.kill('SIGTERM');
  const code = await exited;
  expect(code, err).toBe(0);
  const line = out.split('\n').find((l) => l.startsWith('RESULT '));
  expect(line, `no result; stderr: ${err}`).toBeDefined();
  const res = JSON.parse(line!.slice(7)) as ChildResult;
  // Capture timestamps are the kernel's receive time: within the run, nanosecond field in range.
  for (const g of res.got) {
    expect(g.tsSec).toBeGreaterThanOrEqual(Math.floor(sentAt) - 1);
    expect(g.tsSec).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000));
    expect(g.tsNsec).toBeLessThan(1e9);
  }
  return res;
}

describe.skipIf(SKIP !== '')(`native capture thread into the shared ring${SKIP ? ` (skipped: ${SKIP})` : ''}`, () => {
  it('delivers every frame intact, in order, aligned, across many wraps, with kernel stats in the control block', async () => {
    const frames = knownFrames(3000);
    // 64 KiB ring, ~2.1 MB of records: the ring wraps about 30 times.
    const res = await captureThroughRing(frames, 64 * 1024, 0, 3000);
    expect(res.badHeader).toBe(0);
    expect(res.misaligned).toBe(0);
    expect(res.ringDrops).toBe(0);
    expect(res.kernelDrops).toBe(0);
    expect(res.closed).toBe(1);
    expect(res.wraps).toBeGreaterThan(10);
    expect(res.got.length).toBe(frames.length);
    expect(res.packets).toBe(frames.length);
    // The kernel saw what we read (the filter is `udp`, and only our frames are UDP here).
    expect(res.kernelReceived).toBe(frames.length);
    expect(res.ifDrops).toBe(0);
    let bytes = 0;
    for (let i = 0; i < frames.length; i++) {
      const g = res.got[i]!;
      expect(g.linkType).toBe(1);
      expect(g.capLen).toBe(frames[i]!.length);
      expect(g.origLen).toBe(frames[i]!.length);
      if (g.hex !== frames[i]!.toString('hex')) expect.fail(`frame ${i} differs`);
      bytes += g.capLen;
    }
    expect(res.bytesLo).toBe(bytes >>> 0);
    // Timestamps never go backwards.
    for (let i = 1; i < res.got.length; i++) {
      const a = res.got[i - 1]!;
      const b = res.got[i]!;
      expect(b.tsSec * 1e9 + b.tsNsec).toBeGreaterThanOrEqual(a.tsSec * 1e9 + a.tsNsec);
    }
  }, 60_000);

  it('drops and counts when the slowest consumer does not keep up; every frame is either read or counted', async () => {
    const frames = knownFrames(1500);
    // 16 KiB ring and a reader that sleeps for the first 1.5 s: most frames cannot fit.
    const res = await captureThroughRing(frames, 16 * 1024, 1500, 2000);
    expect(res.badHeader).toBe(0);
    expect(res.ringDrops).toBeGreaterThan(0);
    expect(res.got.length + res.ringDrops).toBe(frames.length);
    expect(res.packets).toBe(res.got.length);
    expect(res.kernelDrops).toBe(0);
    // What was read is intact: each record matches the frame its sequence number names.
    for (const g of res.got) {
      const seq = parseInt(g.hex.slice(42 * 2, 42 * 2 + 8), 16);
      expect(g.hex).toBe(frames[seq]!.toString('hex'));
    }
  }, 60_000);
});
