/**
 * The parallel sensor on a live interface: `tapwatch sensor --interface lo
 * --workers 2` inside a network namespace this test creates, the generated
 * sample capture replayed onto that loopback with tcpreplay, SIGINT, then the
 * same calls and streams as the single-threaded file replay, one final
 * sensor_stats with workers=2, no ring drops, and periodic stats on the way.
 *
 * Needs root, `ip netns` and tcpreplay; skipped with the reason otherwise.
 * Network rule: traffic only inside the namespace; afterAll kills the PIDs it
 * started and deletes the namespace.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NetnsLab, listNamespaces, netnsAvailable } from '../lib/netns.js';
import { ensureSensorBuilt } from '../e2e/ensure-built.js';
import { repoRoot } from '../eval/scenarios.js';
import type { SensorStatsEvent, TapwatchEvent } from '../../sensor/src/events/types.js';
import { runSingleOnFile } from './run-parallel.js';

const ROOT = repoRoot();
const BIN = path.join(ROOT, 'bin', 'tapwatch.js');
const TAPCAP_ADDON = path.join(ROOT, 'sensor', 'native', 'build', 'Release', 'tapcap.node');

function skipReason(): string {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'not root';
  if (!netnsAvailable()) return '`ip netns` unavailable';
  if (spawnSync('tcpreplay', ['--version']).error) return 'tcpreplay missing';
  return '';
}
const SKIP = skipReason();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe.skipIf(SKIP !== '')(`parallel sensor on a live interface${SKIP ? ` (skipped: ${SKIP})` : ''}`, () => {
  const started: ChildProcess[] = [];
  let lab: NetnsLab;
  let tmp = '';
  let sample = '';

  beforeAll(() => {
    ensureSensorBuilt(ROOT);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-par-live-'));
    sample = path.join(tmp, 'sample.pcap');
    const gen = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'tests', 'fixtures', 'gen', 'make-sample.js'), '--out', sample], { encoding: 'utf8' });
    expect(gen.status, gen.stderr).toBe(0);
    lab = new NetnsLab('par');
    lab.ns('a');
    lab.exec('a', ['ip', 'link', 'set', 'lo', 'up']);
  }, 300_000);

  afterAll(() => {
    for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    lab?.teardown();
    if (lab) expect(listNamespaces().filter((n) => n.startsWith(lab.prefix))).toEqual([]);
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  // tapcap: the JavaScript producer fed by the addon's callbacks; ring: the native capture thread writes the shards' ring.
  for (const backend of ['tapcap', 'ring'] as const) {
  it.skipIf(!fs.existsSync(TAPCAP_ADDON))(`--capture-backend ${backend}: captures with 2 worker shards and reports what one thread reports from the file`, async () => {
    const child = spawn(
      'ip',
      ['netns', 'exec', lab.nsName('a'), process.execPath, BIN, 'sensor', '--interface', 'lo', '--workers', '2', '--capture-backend', backend, '--format', 'jsonl', '--stats-interval', '1', '--filter', 'udp'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    started.push(child);
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString('utf8')));
    const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    // Capture is open once the first periodic sensor_stats appears.
    for (let i = 0; i < 150 && !out.includes('"sensor_stats"'); i++) await sleep(100);
    expect(out, err).toContain('"sensor_stats"');
    const replay = lab.tryExec('a', ['tcpreplay', '-i', 'lo', '--pps', '2000', sample]);
    expect(replay.status, replay.stderr).toBe(0);
    await sleep(1500);
    child.kill('SIGINT');
    expect(await exited, err).toBe(0);

    const events = out.trim().split('\n').map((l) => JSON.parse(l) as TapwatchEvent);
    const stats = events.filter((e) => e.type === 'sensor_stats') as SensorStatsEvent[];
    const final = stats.filter((s) => s.final);
    expect(final).toHaveLength(1);
    expect(stats.length).toBeGreaterThan(1);
    const f = final[0]!;
    expect(f.workers).toBe(2);
    expect(f.ringDrops).toBe(0);
    expect(f.dropsUnavailable || f.kernelDrops === 0).toBe(true);

    const single = (await runSingleOnFile(sample)).events;
    expect(f.packets).toBe((single.find((e) => e.type === 'sensor_stats') as SensorStatsEvent).packets);
    const calls = (evs: TapwatchEvent[]): string[] => evs.filter((e) => e.type === 'call_started').map((e) => (e as { callId: string }).callId).sort();
    const streams = (evs: TapwatchEvent[]): string[] =>
      evs.filter((e) => e.type === 'stream_ended').map((e) => { const s = e as { src: string; dst: string; ssrc: number; packets: number }; return `${s.src}>${s.dst}#${s.ssrc}:${s.packets}`; }).sort();
    expect(calls(events)).toEqual(calls(single));
    expect(calls(events).length).toBeGreaterThan(0);
    expect(streams(events)).toEqual(streams(single));
  });
  }
});
