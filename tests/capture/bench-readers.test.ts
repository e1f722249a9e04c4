/**
 * Throughput of the `pcap-parser` package against our zero-copy pcap reader
 * on a generated 1M-packet file. Manual: BENCH_READERS=1 npx vitest run
 * tests/capture/bench-readers.test.ts. Both loops read one byte of every frame
 * so that neither can skip the data. Results go to stdout; the numbers are
 * quoted at the top of sensor/src/capture/pcap-file.ts.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { openCaptureFile } from '../../sensor/src/capture/open-file.js';
import { PacketRecord } from '../../sensor/src/decode/packet.js';

const PACKETS = 1_000_000;
const require = createRequire(import.meta.url);

function writeBenchFile(file: string): number {
  const fd = fs.openSync(file, 'w');
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(65535, 16);
  header.writeUInt32LE(1, 20);
  fs.writeSync(fd, header);
  const chunk = Buffer.alloc(8 * 1024 * 1024);
  let used = 0;
  let total = 24;
  for (let i = 0; i < PACKETS; i++) {
    const len = 60 + (i % 65);
    if (used + 16 + len > chunk.length) {
      fs.writeSync(fd, chunk, 0, used);
      total += used;
      used = 0;
    }
    chunk.writeUInt32LE(1700000000 + Math.floor(i / 1000), used);
    chunk.writeUInt32LE((i % 1000) * 1000, used + 4);
    chunk.writeUInt32LE(len, used + 8);
    chunk.writeUInt32LE(len, used + 12);
    chunk.fill(i & 0xff, used + 16, used + 16 + len);
    used += 16 + len;
  }
  fs.writeSync(fd, chunk, 0, used);
  fs.closeSync(fd);
  return total + used;
}

describe.skipIf(process.env.BENCH_READERS !== '1')('pcap reader throughput (BENCH_READERS=1)', () => {
  it('pcap-parser vs zero-copy reader', async () => {
    const file = path.join(os.tmpdir(), `tapwatch-bench-${process.pid}.pcap`);
    const bytes = writeBenchFile(file);
    try {
      // pcap-parser: stream + EventEmitter, one object per packet.
      const pcapParser = require('pcap-parser') as {
        parse(file: string): { on(ev: string, cb: (arg: { data: Buffer }) => void): void };
      };
      let t0 = process.hrtime.bigint();
      let c0 = process.cpuUsage();
      let count = 0;
      let sum = 0;
      await new Promise<void>((resolve, reject) => {
        const p = pcapParser.parse(file);
        p.on('packet', (pkt) => {
          count++;
          sum += pkt.data[0]!;
        });
        p.on('end', () => resolve());
        p.on('error', (e) => reject(e));
      });
      const parserSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
      let cpu = process.cpuUsage(c0);
      const parserCpu = (cpu.user + cpu.system) / 1e6;
      expect(count).toBe(PACKETS);

      // Ours.
      t0 = process.hrtime.bigint();
      c0 = process.cpuUsage();
      let ours = 0;
      let sum2 = 0;
      const src = openCaptureFile(file);
      await src.run(new PacketRecord(), (rec) => {
        ours++;
        sum2 += rec.frame[rec.frameOffset]!;
      });
      const oursSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
      cpu = process.cpuUsage(c0);
      const oursCpu = (cpu.user + cpu.system) / 1e6;
      expect(ours).toBe(PACKETS);
      expect(sum2).toBe(sum);

      // CPU time as well as wall time: on a shared machine wall time mostly measures the neighbours.
      const fmt = (s: number, c: number): string =>
        `${(PACKETS / s / 1e6).toFixed(2)}M packets/s wall (${s.toFixed(2)} s), ` +
        `${(PACKETS / c / 1e6).toFixed(2)}M packets per CPU-second (${c.toFixed(2)} s CPU)`;
      console.log(`bench-readers: ${PACKETS} packets, ${(bytes / 1e6).toFixed(1)} MB`);
      console.log(`  pcap-parser 0.2.1 : ${fmt(parserSeconds, parserCpu)}`);
      console.log(`  tapwatch pcap-file: ${fmt(oursSeconds, oursCpu)}`);
      console.log(`  speed-up: ${(parserCpu / oursCpu).toFixed(1)}x in CPU time`);
    } finally {
      fs.rmSync(file, { force: true });
    }
  }, 300_000);
});
