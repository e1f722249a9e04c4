/**
 * Micro-benchmark of the per-packet cost of cross-sensor fingerprints
 * (sensor/src/media/stream-fingerprint.ts): the block digest update alone,
 * and with the payload hash the app layer computes for it (rtp-digest.ts,
 * 160-byte G.711 payloads). Packets are spread round-robin over many streams
 * so that the digest state is not always in L1, as on a busy sensor.
 *
 *   npx tsc -p tsconfig.build.json && node dist/tests/bench/bench-fingerprint.js [--streams N] [--packets N]
 */
import { parseArgs } from 'node:util';
import { DigestSlab } from '../../sensor/src/media/stream-fingerprint.js';
import { sampledDigest } from '../../sensor/src/app/media/rtp-digest.js';

const { values } = parseArgs({ options: { streams: { type: 'string' }, packets: { type: 'string' } } });
const STREAMS = Number(values.streams ?? 2000);
const PACKETS = Number(values.packets ?? 20_000_000);

const payload = Buffer.alloc(2048);
for (let i = 0; i < payload.length; i++) payload[i] = (i * 131 + 7) & 0xff;

function run(label: string, withPayloadHash: boolean): number {
  const slab = new DigestSlab();
  const records = Array.from({ length: STREAMS }, () => slab.alloc(null));
  const seqs = new Uint16Array(STREAMS);
  for (let i = 0; i < STREAMS; i++) seqs[i] = (i * 7919) & 0xffff;
  let sink = 0;
  // CPU time of this process, not wall time: the benchmark machine is shared.
  const t0 = process.cpuUsage();
  for (let p = 0; p < PACKETS; p++) {
    const i = p % STREAMS;
    const seq = seqs[i]!;
    seqs[i] = (seq + 1) & 0xffff;
    const off = (seq & 1023) + 12;
    const h = withPayloadHash ? sampledDigest(payload, off, 160, 0x51) : Math.imul(seq, 0x9e3779b1) >>> 0;
    slab.add(records[i]!, seq, seq * 160, false, 0, 160, h);
    sink ^= h;
  }
  const used = process.cpuUsage(t0);
  const ns = ((used.user + used.system) * 1000) / PACKETS;
  let blocks = 0;
  for (const r of records) blocks += slab.completeBlocks(r);
  console.log(`${label}: ${ns.toFixed(1)} ns/packet CPU (${STREAMS} streams, ${PACKETS} packets, ${blocks} complete blocks, ${sink & 1})`);
  return ns;
}

// First pass warms the JIT; the second is reported.
run('warm-up, block digests only', false);
run('block digests only', false);
run('warm-up, payload hash + block digests', true);
run('payload hash + block digests', true);
