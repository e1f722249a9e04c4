/**
 * Live capture end to end: two network namespaces joined by a veth pair, a
 * real SIP call between them (sipp from Debian's sip-tester, RFC 3261 INVITE /
 * 200 / ACK / BYE with an RFC 4566 SDP offer and answer), G.711 A-law RTP
 * (RFC 3550) played from pcaps in both directions, and the real CLI
 * (`tapwatch sensor --interface`) capturing on the caller's veth from inside
 * its namespace. Once with the `cap` backend and once with our `tapcap`
 * addon (skipped when it is not built), whose pcap_stats() drop counters
 * must be available and zero.
 *
 * Needs root, `ip netns` and sipp; skipped with the reason otherwise.
 * Network rule: traffic only between the namespaces this test creates;
 * afterAll kills the PIDs it started and deletes the namespaces.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NetnsLab, listNamespaces, netnsAvailable } from '../lib/netns.js';
import { runSippCall, sippAvailable } from '../lib/sipp.js';
import type { TapwatchEvent } from '../../sensor/src/events/types.js';
import { ensureSensorBuilt } from './ensure-built.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(here, '../..');
const BIN = path.join(ROOT, 'bin', 'tapwatch.js');
const TAPCAP_ADDON = path.join(ROOT, 'sensor', 'native', 'build', 'Release', 'tapcap.node');

const UAC_IP = '10.10.9.1';
const UAS_IP = '10.10.9.2';
const UAC_MEDIA = `${UAC_IP}:10000`;
const UAS_MEDIA = `${UAS_IP}:20000`;
/** SSRCs of the audio pcaps runSippCall plays: sipp's bundled g711a.pcap (caller) and the generated one (callee). */
const UAC_SSRC = 0xdee0ee8f;
const UAS_SSRC = 0xb0b0b0b0;
const CALL_MS = 2500;

function skipReason(): string {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'not root';
  if (!netnsAvailable()) return '`ip netns` unavailable';
  if (!sippAvailable()) return 'sipp (sip-tester) or its g711a.pcap missing';
  return '';
}
const SKIP = skipReason();

interface SensorRun {
  child: ChildProcess;
  stdout: string[];
  stderr: string;
  /** Resolves when the first sensor_stats line arrived (capture open, pipeline running). */
  ready: Promise<void>;
  exited: Promise<number | null>;
}

/** Starts `tapwatch sensor --interface` inside a namespace of the lab (`ip netns exec` execs, so the PID is node's). */
function startSensor(lab: NetnsLab, ns: string, dev: string, backend: 'cap' | 'tapcap', started: ChildProcess[]): SensorRun {
  const child = spawn(
    'ip',
    ['netns', 'exec', lab.nsName(ns), process.execPath, BIN, 'sensor', '--interface', dev, '--format', 'jsonl',
      '--capture-backend', backend, '--stats-interval', '1', '--sensor-id', `e2e-live-${backend}`],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  started.push(child);
  const run: SensorRun = { child, stdout: [], stderr: '', ready: Promise.resolve(), exited: Promise.resolve(null) };
  run.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  run.ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sensor (${backend}) printed no sensor_stats within 15 s; stderr: ${run.stderr}`)), 15_000);
    let partial = '';
    child.stdout!.on('data', (d: Buffer) => {
      partial += d.toString('utf8');
      const lines = partial.split('\n');
      partial = lines.pop()!;
      for (const l of lines) {
        if (!l) continue;
        run.stdout.push(l);
        if (l.includes('"type":"sensor_stats"')) {
          clearTimeout(timer);
          resolve();
        }
      }
    });
    child.stderr!.on('data', (d: Buffer) => (run.stderr += d.toString('utf8')));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`sensor (${backend}) exited (${code}) before its first sensor_stats; stderr: ${run.stderr}`));
    });
  });
  return run;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe.skipIf(SKIP !== '')(`live capture on a veth between two namespaces${SKIP ? ` (skipped: ${SKIP})` : ''}`, () => {
  const started: ChildProcess[] = [];
  let lab: NetnsLab;
  let tmp: string;

  beforeAll(() => {
    console.log(`live-capture: ${ensureSensorBuilt(ROOT)}`);
    tmp = mkdtempSync(path.join(os.tmpdir(), 'tw-live-'));
    lab = new NetnsLab('live');
    lab.ns('a');
    lab.ns('b');
    lab.link('a', 'veth0', 'b', 'veth0');
    lab.addr('a', 'veth0', `${UAC_IP}/24`);
    lab.addr('b', 'veth0', `${UAS_IP}/24`);
  });

  afterAll(() => {
    for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    lab?.teardown();
    if (lab) expect(listNamespaces().filter((n) => n.startsWith(lab.prefix))).toEqual([]);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  /** One call captured by one backend; returns the parsed events and the exit code. */
  async function captureOneCall(backend: 'cap' | 'tapcap'): Promise<{ events: TapwatchEvent[]; exit: number | null; stderr: string; uacLog: string }> {
    const work = path.join(tmp, backend);
    mkdirSync(work);
    const sensor = startSensor(lab, 'a', 'veth0', backend, started);
    await sensor.ready;
    const t0 = Date.now();
    const call = await runSippCall({ lab, workDir: work, uacNs: 'a', uacIp: UAC_IP, uasNs: 'b', uasIp: UAS_IP, durationMs: CALL_MS });
    const uacLog = existsSync(call.uacLog) ? readFileSync(call.uacLog, 'utf8').slice(-2000) : '';
    expect(call.uacExit, `sipp UAC failed:\n${uacLog}`).toBe(0);
    // Let the last packets through the capture and one stats period pass.
    await sleep(1200);
    sensor.child.kill('SIGINT');
    const timeout = sleep(20_000).then(() => 'timeout' as const);
    const exit = await Promise.race([sensor.exited, timeout]);
    if (exit === 'timeout') throw new Error(`sensor (${backend}) still running 20 s after SIGINT; stderr: ${sensor.stderr}`);
    console.log(`live-capture ${backend}: call + capture took ${Date.now() - t0} ms, ${sensor.stdout.length} events`);
    const events = sensor.stdout.map((l) => JSON.parse(l) as TapwatchEvent);
    return { events, exit, stderr: sensor.stderr, uacLog };
  }

  function assertCallAndStreams(events: TapwatchEvent[]): void {
    const of = <T extends TapwatchEvent['type']>(t: T): Extract<TapwatchEvent, { type: T }>[] =>
      events.filter((e): e is Extract<TapwatchEvent, { type: T }> => e.type === t);
    // sipp's Call-ID is `[call_number]-[pid]@[local_ip]`.
    const starts = of('call_started');
    expect(starts.map((e) => e.callId)).toEqual([expect.stringMatching(new RegExp(`^1-\\d+@${UAC_IP.replace(/\./g, '\\.')}$`))]);
    const callId = starts[0]!.callId;
    expect(starts[0]).toMatchObject({ transport: 'udp', src: `${UAC_IP}:5060`, dst: `${UAS_IP}:5060` });
    const ended = of('call_ended').filter((e) => e.callId === callId);
    expect(ended).toHaveLength(1);
    expect(ended[0]).toMatchObject({ reason: 'bye', state: 'terminated' });
    expect(ended[0]!.answerTs).not.toBeNull();
    expect(ended[0]!.durationSec).toBeGreaterThan(CALL_MS / 1000 - 1);

    for (const [src, dst, ssrc] of [[UAC_MEDIA, UAS_MEDIA, UAC_SSRC], [UAS_MEDIA, UAC_MEDIA, UAS_SSRC]] as const) {
      const s = of('stream_ended').filter((e) => e.src === src && e.dst === dst);
      expect(s, `stream ${src} -> ${dst}`).toHaveLength(1);
      expect(s[0]).toMatchObject({ ssrc, callId, classifiedBy: 'sdp', transport: 'udp' });
      // 30 ms (caller) or 20 ms (callee) packets for about CALL_MS.
      expect(s[0]!.packets).toBeGreaterThan(CALL_MS / 30 / 2);
      expect(s[0]!.payloadTypes).toContain(8);
    }
    const stats = of('sensor_stats');
    expect(stats.length).toBeGreaterThanOrEqual(2);
    expect(stats.slice(0, -1).every((s) => !s.final)).toBe(true);
    const last = stats[stats.length - 1]!;
    expect(events[events.length - 1]).toBe(last);
    expect(last.final).toBe(true);
    expect(last.packets).toBeGreaterThan(100);
    expect(last.sip.inviteDialogs).toBe(1);
  }

  it('cap backend: reports the sipp call, both RTP streams and final stats', async () => {
    const r = await captureOneCall('cap');
    expect(r.exit, r.stderr).toBe(0);
    assertCallAndStreams(r.events);
    const last = r.events[r.events.length - 1] as Extract<TapwatchEvent, { type: 'sensor_stats' }>;
    // The cap package has no pcap_stats(): the sensor must say so rather than report 0 drops.
    expect(last.dropsUnavailable).toBe(true);
  }, 90_000);

  it.skipIf(!existsSync(TAPCAP_ADDON))(
    `tapcap backend: same call, and kernel drop counters available and zero${existsSync(TAPCAP_ADDON) ? '' : ' (skipped: addon not built; node sensor/native/build.mjs)'}`,
    async () => {
      const r = await captureOneCall('tapcap');
      expect(r.exit, r.stderr).toBe(0);
      expect(r.stderr).not.toMatch(/tapcap addon unavailable/);
      assertCallAndStreams(r.events);
      const last = r.events[r.events.length - 1] as Extract<TapwatchEvent, { type: 'sensor_stats' }>;
      expect(last.dropsUnavailable).toBe(false);
      expect(last.kernelDrops).toBe(0);
      expect(last.ifDrops).toBe(0);
      expect(last.kernelReceived).toBeGreaterThanOrEqual(last.packets);
    },
    90_000,
  );
});
