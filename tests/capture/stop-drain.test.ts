/**
 * A clean stop loses nothing that reached the interface before it. With
 * immediate mode off (the default), libpcap's TPACKET_V3 ring hands packets
 * over a block at a time, and a partly filled block only when its timeout
 * (the read timeout, 50 ms) expires: a sensor that closed the handle at once
 * on SIGTERM lost the last packets it had been sent, such as a call's BYE
 * and its 200 OK. Both capture paths now read the kernel once more after the
 * block timeout before closing (sensor/src/capture/live-capture.ts,
 * sensor/native/tapcap.c ring_thread_main).
 *
 * A short burst is replayed onto a veth inside namespaces this test creates,
 * and the sensor is stopped the moment tcpreplay returns: its final
 * sensor_stats must count every packet. Needs root, `ip netns`, tcpreplay.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LiveLoadLab, liveLabSkipReason } from '../lib/live-load.js';
import { generateCalls } from '../fixtures/gen/synth-calls.js';
import { ensureSensorBuilt } from '../e2e/ensure-built.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'bin', 'tapwatch.js');

const SKIP = liveLabSkipReason();

let dir = '';
let burst = '';
let burstPackets = 0;

beforeAll(() => {
  if (SKIP) return;
  ensureSensorBuilt(ROOT);
  dir = mkdtempSync(path.join(os.tmpdir(), 'tw-stop-drain-'));
  burst = path.join(dir, 'burst.pcap');
  // A few short calls: SIP, SDP and RTP, ending with BYE / 200 OK.
  burstPackets = generateCalls({ path: burst, calls: 4, concurrency: 4, callDurationSec: 1, startTs: 1_700_000_000, seed: 5, describe: false }).packets;
}, 60_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(SKIP !== '')(`stopping a live capture${SKIP ? ` (skipped: ${SKIP})` : ''}`, () => {
  for (const backend of ['tapcap', 'ring'] as const) {
    it(`${backend}: SIGTERM right after the last packet still counts every packet sent`, async () => {
      const load = new LiveLoadLab(`sd${backend}`);
      try {
        const sensor = load.startSensor({ bin: BIN, sensorId: `stop-drain-${backend}`, backend, workers: 1, statsIntervalSec: 1, keepEvents: true });
        await sensor.ready;
        const replay = await load.replay(burst, { pps: 5000, timeoutMs: 60_000 });
        expect(replay.sent).toBe(burstPackets);
        // No pause: the last packets are still in the kernel's partly filled block.
        const last = await sensor.stop();
        expect(last.packets + last.kernelDrops + last.ifDrops + (last.ringDrops ?? 0)).toBe(replay.sent);
        expect(last.packets).toBe(replay.sent);
        // The calls' BYEs were among the last packets: every call ended by BYE, none by timeout.
        const ended = sensor.events.map((l) => JSON.parse(l) as { type: string; reason?: string }).filter((e) => e.type === 'call_ended');
        expect(ended.map((e) => e.reason)).toEqual(['bye', 'bye', 'bye', 'bye']);
      } finally {
        load.lab.teardown();
      }
    }, 90_000);
  }
});
