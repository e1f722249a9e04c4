/**
 * The parallel sensor end to end: `--workers 2` (and 3) yields the same set of
 * events as the single-threaded sensor over labelled scenarios and corpus
 * captures (ignoring order, run-dependent ids and sensor_stats:
 * normalize.ts), and its one sensor_stats counts packets once.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureSensorBuilt } from '../e2e/ensure-built.js';
import { loadScenarioSet, repoRoot, type Scenario } from '../eval/scenarios.js';
import type { SensorStatsEvent, TapwatchEvent } from '../../sensor/src/events/types.js';
import { compareScenario } from './compare-workers.js';
import { runParallelOnFile, runSingleOnFile } from './run-parallel.js';
import { normalizeEvents } from './normalize.js';
import { compileEventValidator } from '../../sensor/src/events/schemas.js';
import { openCaptureFile } from '../../sensor/src/capture/open-file.js';
import { Sensor } from '../../sensor/src/sensor.js';
import { ParallelSensor } from '../../sensor/src/parallel/parallel-sensor.js';
import { CollectingSink } from '../lib/run-sensor.js';
import { PacketRecord } from '../../sensor/src/decode/packet.js';

/** Takes stream fingerprints too (as the Kafka sink does), so the sensor computes them. */
class FingerprintSink extends CollectingSink {
  readonly fingerprints: Array<{ streamId: string; ssrc: number; src: string; dst: string }> = [];
  fingerprint(fp: { streamId: string; ssrc: number; src: string; dst: string }): void {
    this.fingerprints.push(JSON.parse(JSON.stringify(fp)) as { streamId: string; ssrc: number; src: string; dst: string });
  }
}

const ROOT = repoRoot();
/** A spread of what must stay on one shard: exact, tunnelled and wrapped copies, SIP copies over HEP, SIPREC, TCP/WebSocket SIP, DTLS/STUN, SRTP. */
const NAMES = [
  'copy_nft_dup',
  'copy_vxlan_mirred',
  'copy_jmirror',
  'hep_siptrace',
  'declared_siprec',
  'key_exposure_sdes',
  'relay_dnat_midcall',
  'silent_span_switch_doubles',
  'heplify_sip_tcp_websocket.pcap',
  'heplify_rtp_rtcp_sip_ipv4_udp.pcap',
  'ndpi_stun_signal.pcapng',
  'sample',
];

let scenarios: Scenario[] = [];
let tmp = '';

beforeAll(() => {
  ensureSensorBuilt(ROOT);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tapwatch-par-'));
  scenarios = loadScenarioSet({ sampleDir: tmp }).filter((s) => NAMES.some((n) => s.name === n));
  return () => fs.rmSync(tmp, { recursive: true, force: true });
}, 300_000);

describe('parallel sensor', () => {
  it('finds the selected scenarios', () => {
    expect(scenarios.map((s) => s.name).sort()).toEqual([...NAMES].filter((n) => scenarios.some((s) => s.name === n)).sort());
    expect(scenarios.length).toBeGreaterThanOrEqual(8);
  });

  for (const workers of [2, 3]) {
    it(`--workers ${workers} emits the same events as one thread`, async () => {
      const failures: string[] = [];
      let findings = 0;
      for (const s of scenarios) {
        const r = await compareScenario(s, workers);
        if (!r.same) failures.push(`${s.name}: only single ${r.onlySingle.length} ${r.onlySingle[0]?.slice(0, 300)} / only parallel ${r.onlyParallel.length} ${r.onlyParallel[0]?.slice(0, 300)}`);
        findings += r.events;
      }
      expect(failures).toEqual([]);
      expect(findings).toBeGreaterThan(50);
    });
  }

  it('reports copies found on one shard: an nft-dup copy is still a duplicate_stream with 2 workers', async () => {
    const s = scenarios.find((x) => x.name === 'copy_nft_dup')!;
    const sink = await runParallelOnFile(s.pcap, 2);
    expect(sink.ofType('duplicate_stream').length).toBeGreaterThan(0);
    // Each call is reported once, not once per shard.
    const started = sink.ofType('call_started').map((e) => e.callId);
    expect(new Set(started).size).toBe(started.length);
  });

  it('a file replay through a tiny ring (many wraps, the reader waiting on the shards) loses nothing', async () => {
    const s = scenarios.find((x) => x.name === 'sample')!;
    const single = normalizeEvents((await runSingleOnFile(s.pcap)).events);
    const sink = await runParallelOnFile(s.pcap, 2, {}, { ringBytes: 16 * 1024 });
    expect(normalizeEvents(sink.events)).toEqual(single);
    expect((sink.ofType('sensor_stats')[0] as SensorStatsEvent).ringDrops).toBe(0);
  });

  it('emits one sensor_stats that counts packets once and shows the ring and the shards', async () => {
    const s = scenarios.find((x) => x.name === 'sample')!;
    const single = (await runSingleOnFile(s.pcap)).ofType('sensor_stats');
    const par = (await runParallelOnFile(s.pcap, 2)).ofType('sensor_stats');
    expect(par).toHaveLength(1);
    const a = single[single.length - 1]! as SensorStatsEvent;
    const b = par[0]! as SensorStatsEvent;
    expect(b.final).toBe(true);
    expect(b.packets).toBe(a.packets);
    expect(b.bytes).toBe(a.bytes);
    expect(b.classified).toEqual(a.classified);
    expect(b.sip).toEqual(a.sip);
    expect(b.decodeErrors).toEqual(a.decodeErrors);
    expect(b.workers).toBe(2);
    expect(b.ringDrops).toBe(0);
    expect(b.shed).toEqual({ digests: 0, correlation: 0, detection: 0 });
    expect(b.tables.peakCalls).toBe(a.tables.peakCalls);
    // The new fields are in the published schema (the collector validates with it).
    const v = compileEventValidator();
    expect(v.validate(b)).toBeNull();
  });

  it('under overload drops into CTL_RING_DROPS, sheds in order, and marks findings incomplete', async () => {
    const s = scenarios.find((x) => x.name === 'sample')!;
    // A 64 KiB ring in live ('drop') mode: the file is read far faster than the shards start and work.
    const sink = await runParallelOnFile(s.pcap, 2, {}, { whenFull: 'drop', ringBytes: 64 * 1024 });
    const stats = sink.ofType('sensor_stats');
    expect(stats).toHaveLength(1);
    const st = stats[0]! as SensorStatsEvent;
    const single = (await runSingleOnFile(s.pcap)).ofType('sensor_stats')[0]! as SensorStatsEvent;
    expect(st.ringDrops).toBeGreaterThan(0);
    // Every captured packet is either in the ring (packets) or counted as a ring drop.
    expect(st.packets + st.ringDrops!).toBe(single.packets);
    expect(st.shed!.digests + st.shed!.correlation + st.shed!.detection).toBeGreaterThan(0);
    // Signalling is never shed: every call that was signalled in what reached the ring is reported.
    for (const f of sink.events.filter((e) => 'findingId' in e && e.type !== 'finding_updated')) {
      expect((f as { evidenceIncomplete: boolean }).evidenceIncomplete).toBe(true);
    }
  });

  it('tells every shard of kernel drops: findings say evidenceIncomplete, sensor_stats reports them', async () => {
    const s = scenarios.find((x) => x.name === 'copy_nft_dup')!;
    const sink = new CollectingSink();
    const par = new ParallelSensor({ workers: 2, statsIntervalSec: 0, whenFull: 'wait', ringBytes: 4 * 1024 * 1024, sensor: { sensorId: 'test' } }, [sink]);
    const src = openCaptureFile(s.pcap);
    await par.runWith(
      () => src.run(new PacketRecord(), (r) => void par.producer.push(r.frame, r.frameOffset, r.capLength, r.wireLength, r.tsSec, r.tsNsec, r.linkType)),
      () => ({ ...src.stats(), kernelReceived: 1000, kernelDrops: 3, ifDrops: 0 }),
    );
    const findings = sink.events.filter((e) => 'findingId' in e && e.type !== 'finding_updated') as Array<{ evidenceIncomplete: boolean }>;
    expect(findings.length).toBeGreaterThan(0);
    expect(findings.every((f) => f.evidenceIncomplete)).toBe(true);
    const st = sink.ofType('sensor_stats')[0]!;
    expect(st.kernelDrops).toBe(3);
    expect(st.ringDrops).toBe(0);
  });

  it('forwards stream fingerprints from the shards to the sinks that take them', async () => {
    const s = scenarios.find((x) => x.name === 'sample')!;
    const single = new FingerprintSink();
    await new Sensor({ sensorId: 'test', statsIntervalSec: 0 }, [single]).run(openCaptureFile(s.pcap));
    const par = new FingerprintSink();
    await new ParallelSensor({ workers: 2, statsIntervalSec: 0, whenFull: 'wait', sensor: { sensorId: 'test' } }, [par]).run(openCaptureFile(s.pcap));
    expect(single.fingerprints.length).toBeGreaterThan(0);
    const key = (f: { ssrc: number; src: string; dst: string }): string => `${f.ssrc}|${f.src}|${f.dst}`;
    expect(par.fingerprints.map(key).sort()).toEqual(single.fingerprints.map(key).sort());
    // Stream ids carry the shard, so two shards never mint the same one.
    expect(par.fingerprints.every((f) => /-w[01]$/.test(f.streamId))).toBe(true);
  });

  it('the CLI runs --workers 2 on a file with the same events, and rejects a bad count', () => {
    const s = scenarios.find((x) => x.name === 'copy_vxlan_mirred')!;
    const bin = path.join(ROOT, 'bin', 'tapwatch.js');
    const one = spawnSync(process.execPath, [bin, 'sensor', '--read', s.pcap, '--format', 'jsonl'], { encoding: 'utf8', timeout: 120_000 });
    const two = spawnSync(process.execPath, [bin, 'sensor', '--read', s.pcap, '--format', 'jsonl', '--workers', '2'], { encoding: 'utf8', timeout: 120_000 });
    expect(one.status, one.stderr).toBe(0);
    expect(two.status, two.stderr).toBe(0);
    const parse = (out: string): TapwatchEvent[] => out.trim().split('\n').map((l) => JSON.parse(l) as TapwatchEvent);
    const e1 = parse(one.stdout);
    const e2 = parse(two.stdout);
    expect(normalizeEvents(e2)).toEqual(normalizeEvents(e1));
    const stats = e2.filter((e) => e.type === 'sensor_stats') as SensorStatsEvent[];
    expect(stats).toHaveLength(1);
    expect(stats[0]!.workers).toBe(2);
    // Event ids stay unique and `${runId}-${n}` shaped.
    const ids = e2.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every((id) => /^[0-9a-f]+-\d+$/.test(id))).toBe(true);
    const bad = spawnSync(process.execPath, [bin, 'sensor', '--read', s.pcap, '--workers', '0'], { encoding: 'utf8', timeout: 60_000 });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--workers/);
  });
});
