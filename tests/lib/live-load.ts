/**
 * Live load lab: a veth pair between two network namespaces that the caller
 * creates through this helper (`tx` sends, `cap` captures), tcpreplay driving
 * a capture onto veth-tx at a set packet rate (`--pps`, LAB.md), and the real
 * CLI (`tapwatch sensor --interface veth-cap`) capturing on the other end.
 * Used by tests/e2e/live-load.test.ts, tests/e2e/live-fuzz.test.ts,
 * tests/bench/bench-live.ts and tests/bench/soak.ts.
 *
 * What is measured, and where each number comes from:
 *  - sent: tcpreplay's own "Actual: N packets" line, cross-checked against
 *    the tx counter of veth-tx (/sys/class/net/IF/statistics);
 *  - received: veth-cap's rx counter, and the sensor's final sensor_stats
 *    (packets, kernelDrops, ifDrops, ringDrops when the backend reports it);
 *  - CPU: utime + stime of the sensor process from /proc/PID/stat, read
 *    inside its namespace's view (PIDs are global, so the host view works).
 * Network rule: nothing leaves the namespaces; teardown kills only PIDs the
 * lab started and deletes its namespaces.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NetnsLab, netnsAvailable } from './netns.js';

export const TX_IF = 'veth-tx';
export const CAP_IF = 'veth-cap';

export interface SensorStatsLine {
  type: 'sensor_stats';
  final: boolean;
  packets: number;
  bytes: number;
  kernelReceived: number;
  kernelDrops: number;
  ifDrops: number;
  ringDrops?: number;
  health?: string;
  decodeErrors: Record<string, number>;
  classified: Record<string, number>;
  tables: Record<string, number>;
  evictions: Record<string, number>;
  sip: Record<string, number>;
  memory: { rss: number; heapUsed: number; peakRss: number };
  uptimeSec: number;
  ts: number;
}

export interface SensorProcess {
  child: ChildProcess;
  pid: number;
  /** Every sensor_stats line so far, parsed. */
  stats: SensorStatsLine[];
  /** Every other event line, unparsed, when keepEvents; else only findings. */
  events: string[];
  stderr(): string;
  /** Resolves at the first sensor_stats (capture open, pipeline running). */
  ready: Promise<void>;
  exited: Promise<number | null>;
  /** SIGTERM, wait for the final sensor_stats and the exit. */
  stop(timeoutMs?: number): Promise<SensorStatsLine>;
}

export interface SensorOptions {
  bin: string;
  sensorId: string;
  backend?: 'ring' | 'tapcap' | 'cap';
  workers?: number;
  statsIntervalSec?: number;
  /** Keep every event line (tests that look for findings); findings are always kept. */
  keepEvents?: boolean;
  extraArgs?: string[];
}

/** Clock ticks per second for /proc/PID/stat (getconf CLK_TCK; 100 on Linux). */
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** CPU seconds (user + system) a process has used so far, from /proc/PID/stat; children included once they were reaped. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime, stime, cutime, cstime are fields 14-17 (1-based), i.e. 11-14 here.
    return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / CLK_TCK;
  } catch {
    return NaN;
  }
}

/** Resident set size in bytes, from /proc/PID/status. */
export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

export class LiveLoadLab {
  readonly lab: NetnsLab;

  constructor(tag: string) {
    this.lab = new NetnsLab(tag);
    this.lab.ns('tx');
    this.lab.ns('cap');
    this.lab.link('tx', TX_IF, 'cap', CAP_IF, { mac1: '02:00:00:00:7e:01', mac2: '02:00:00:00:7e:02' });
  }

  /** Interface counters (rx/tx packets and drops) of one end. */
  ifCounters(side: 'tx' | 'cap'): { rxPackets: number; txPackets: number; rxDropped: number; txDropped: number } {
    const dev = side === 'tx' ? TX_IF : CAP_IF;
    const read = (name: string): number => Number(this.lab.exec(side, ['cat', `/sys/class/net/${dev}/statistics/${name}`]).stdout.trim());
    return { rxPackets: read('rx_packets'), txPackets: read('tx_packets'), rxDropped: read('rx_dropped'), txDropped: read('tx_dropped') };
  }

  startSensor(o: SensorOptions): SensorProcess {
    const args = [
      o.bin, 'sensor', '--interface', CAP_IF, '--format', 'jsonl', '--stats-interval', String(o.statsIntervalSec ?? 1),
      '--sensor-id', o.sensorId, '--no-progress',
      ...(o.backend ? ['--capture-backend', o.backend] : []),
      ...(o.workers !== undefined ? ['--workers', String(o.workers)] : []),
      ...(o.extraArgs ?? []),
    ];
    const child = this.lab.bgPiped('cap', [process.execPath, ...args]);
    const pid = child.pid!;
    const stats: SensorStatsLine[] = [];
    const events: string[] = [];
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      if (stderr.length < 1 << 20) stderr += d.toString('utf8');
    });
    let partial = '';
    let onStats: (() => void) | null = null;
    child.stdout!.on('data', (d: Buffer) => {
      partial += d.toString('utf8');
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        if (line.startsWith('{"v":1,') || line.startsWith('{')) {
          if (line.includes('"type":"sensor_stats"')) {
            stats.push(JSON.parse(line) as SensorStatsLine);
            onStats?.();
          } else if (o.keepEvents || line.includes('"findingId"')) {
            events.push(line);
          }
        }
      }
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`sensor printed no sensor_stats within 20 s; stderr: ${stderr}`)), 20_000);
      onStats = () => {
        clearTimeout(timer);
        onStats = null;
        resolve();
      };
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`sensor exited (${code}) before its first sensor_stats; stderr: ${stderr}`));
      });
    });
    ready.catch(() => undefined);
    const lab = this.lab;
    return {
      child,
      pid,
      stats,
      events,
      stderr: () => stderr,
      ready,
      exited,
      async stop(timeoutMs = 30_000): Promise<SensorStatsLine> {
        lab.kill(child, 'SIGTERM');
        const code = await lab.waitExit(child, timeoutMs);
        if (code !== 0) throw new Error(`sensor exited with ${code}; stderr: ${stderr}`);
        const last = stats[stats.length - 1];
        if (!last?.final) throw new Error(`no final sensor_stats; stderr: ${stderr}`);
        return last;
      },
    };
  }

  /**
   * tcpreplay FILE onto veth-tx at `pps` packets/s (0: as fast as possible).
   * `limit` caps the packets sent, `loop` repeats the file. Returns what
   * tcpreplay says it sent, and its failures.
   */
  replay(file: string, o: { pps?: number; limit?: number; loop?: number; preload?: boolean; timeoutMs?: number }): Promise<ReplayResult> {
    const argv = ['tcpreplay', '-i', TX_IF];
    if (o.pps && o.pps > 0) argv.push('--pps', String(o.pps));
    else argv.push('--topspeed');
    if (o.limit) argv.push('--limit', String(o.limit));
    if (o.loop !== undefined) argv.push('--loop', String(o.loop));
    if (o.preload) argv.push('--preload-pcap');
    argv.push(file);
    const child = this.lab.bgPiped('tx', argv);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const started = Date.now();
    return this.lab.waitExit(child, o.timeoutMs ?? 600_000).then((code) => {
      if (code !== 0) throw new Error(`tcpreplay exited ${code}: ${out}`);
      return parseTcpreplay(out, (Date.now() - started) / 1000);
    });
  }
}

export interface ReplayResult {
  sent: number;
  bytes: number;
  seconds: number;
  failed: number;
  /** Rate achieved, packets/s. */
  pps: number;
  raw: string;
}

/** tcpreplay's summary: "Actual: 1000 packets (214000 bytes) sent in 0.01 seconds", "Failed packets: 0". */
export function parseTcpreplay(out: string, wallSec: number): ReplayResult {
  const m = /Actual:\s+(\d+) packets \((\d+) bytes\) sent in ([\d.]+) seconds/.exec(out);
  const f = /Failed packets:\s+(\d+)/.exec(out);
  if (!m) throw new Error(`cannot parse tcpreplay output: ${out}`);
  const seconds = Number(m[3]) || wallSec;
  return { sent: Number(m[1]), bytes: Number(m[2]), seconds, failed: f ? Number(f[1]) : 0, pps: Number(m[1]) / seconds, raw: out };
}

/** True when tcpreplay is installed. */
/**
 * Why a live lab test cannot run here ('' when it can): it needs root,
 * `ip netns` and tcpreplay. Under CI everything is installed, so a skip
 * there shows up as skipped tests in the summary.
 */
export function liveLabSkipReason(): string {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'not root';
  if (!netnsAvailable()) return '`ip netns` unavailable';
  if (!tcpreplayAvailable()) return 'tcpreplay missing';
  return '';
}

export function tcpreplayAvailable(): boolean {
  return spawnSync('tcpreplay', ['--version']).status === 0;
}

/** mergecap (Wireshark) merges captures by timestamp. */
export function mergecap(out: string, inputs: string[]): void {
  const r = spawnSync('mergecap', ['-F', 'pcap', '-w', out, ...inputs], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mergecap failed: ${r.stderr}`);
}

export function ensureDir(p: string): string {
  fs.mkdirSync(path.dirname(p), { recursive: true });
  return p;
}

// NetnsLab.bg sends output to a file; the load lab needs pipes. Added here, not in netns.ts (another file's owner).
declare module './netns.js' {
  interface NetnsLab {
    bgPiped(ns: string, argv: string[]): ChildProcess;
  }
}
NetnsLab.prototype.bgPiped = function bgPiped(this: NetnsLab, ns: string, argv: string[]): ChildProcess {
  const child = spawn('ip', ['netns', 'exec', this.nsName(ns), ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error(`could not start ${argv[0]} in ${this.nsName(ns)}`);
  // Track the PID the way bg() does, so kill()/teardown() reach it.
  const children = (this as unknown as { children: Map<number, ChildProcess> }).children;
  const pid = child.pid;
  children.set(pid, child);
  child.on('exit', () => children.delete(pid));
  return child;
};
