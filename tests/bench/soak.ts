/**
 * Soak (`npm run soak`, not part of CI): the live sensor under steady load
 * for a long time, with calls starting and ending all the time; memory and
 * table sizes must stay flat, and every call that ended must be evicted.
 *
 * Lab: tests/lib/live-load.ts (veth between two namespaces, tcpreplay onto
 * one end, `tapwatch sensor --interface` on the other). The load is a
 * synthetic capture of many short calls (500 concurrent G.711 calls of 4 s:
 * one call starts and one ends about every 9 ms; tests/fixtures/gen/
 * synth-calls.ts) replayed in a loop at half the zero-drop rate that
 * `npm run bench:live` measured (read from .cache/bench/bench-live.json, or
 * --pps). Each loop replays the same Call-IDs and SSRCs some 20 s later,
 * after their calls ended: to the sensor, new calls with old names.
 *
 * After the load, a trickle of 10 packets/s for longer than the call linger
 * (32 s) and the stream idle timeout (60 s) advances capture time
 * (housekeeping runs on capture time) so every ended call and its streams
 * can leave the tables; the last stats must then show no calls.
 *
 *   npm run soak                                   # 30 minutes
 *   node dist/tests/bench/soak.js --minutes 3 [--pps N] [--workers N] [--backend ring|tapcap|cap]
 *        [--svg docs/img/soak-rss.svg]
 *
 * Prints RSS and table sizes every --sample-sec (default 10) seconds, a
 * verdict on flatness, and writes the plot as SVG (hand-written polylines).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { findRepoRoot } from '../fixtures/gen/repo-root.js';
import { generateCalls } from '../fixtures/gen/synth-calls.js';
import { PcapWriter } from '../fixtures/gen/pcap-writer.js';
import { LiveLoadLab, cpuSeconds, rssBytes, tcpreplayAvailable, type SensorStatsLine } from '../lib/live-load.js';
import { netnsAvailable } from '../lib/netns.js';

const ROOT = findRepoRoot(import.meta.url);
const BIN = path.join(ROOT, 'bin', 'tapwatch.js');
const CALL_LINGER_SEC = 32;
/** Stream idle timeout (media/stream-table.ts): streams of ended calls leave after it. */
const STREAM_IDLE_SEC = 60;
/** Trickle after the load: past the call linger and the stream idle timeout, in capture time. */
const TRICKLE_SEC = Math.max(CALL_LINGER_SEC, STREAM_IDLE_SEC) + 8;
/** RSS may vary this much (share of the median) over the second half of the run and still count as flat. */
const FLAT_TOLERANCE = 0.15;

interface SoakArgs {
  minutes: number;
  pps: number;
  workers: number;
  backend: 'ring' | 'tapcap' | 'cap';
  sampleSec: number;
  svg: string;
}

export interface Sample {
  t: number;
  rss: number;
  calls: number;
  streams: number;
  flows: number;
  packets: number;
  drops: number;
  cpu: number;
}

function zeroDropRateFromBench(): number | null {
  try {
    const j = JSON.parse(fs.readFileSync(path.join(ROOT, '.cache', 'bench', 'bench-live.json'), 'utf8')) as {
      summary: Array<{ config: { workers: number }; best: number }>;
    };
    const best = Math.max(...j.summary.map((s) => s.best));
    return best > 0 ? best : null;
  } catch {
    return null;
  }
}

function parseArgs(argv: string[]): SoakArgs {
  const a: SoakArgs = { minutes: 30, pps: 0, workers: 1, backend: 'tapcap', sampleSec: 10, svg: path.join(ROOT, 'docs', 'img', 'soak-rss.svg') };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = argv[++i];
    if (v === undefined) throw new Error(`${k} needs a value`);
    if (k === '--minutes') a.minutes = Number(v);
    else if (k === '--pps') a.pps = Number(v);
    else if (k === '--workers') a.workers = Number(v);
    else if (k === '--backend') a.backend = v as SoakArgs['backend'];
    else if (k === '--sample-sec') a.sampleSec = Number(v);
    else if (k === '--svg') a.svg = path.resolve(v);
    else throw new Error(`unknown argument ${k}`);
  }
  if (a.pps <= 0) {
    const zero = zeroDropRateFromBench();
    a.pps = zero !== null ? Math.round(zero / 2) : 25_000;
  }
  return a;
}

function soakCapture(): string {
  const file = path.join(ROOT, '.cache', 'bench', 'soak-calls-v1.pcap');
  if (!fs.existsSync(file)) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    generateCalls({ path: file + '.tmp', calls: 2500, concurrency: 500, callDurationSec: 4, durationJitter: 0.25, seed: 23, describe: false });
    fs.renameSync(file + '.tmp', file);
  }
  return file;
}

/** One UDP frame between high ports that carries nothing the sensor tracks: the trickle that moves capture time on. */
function trickleCapture(): string {
  const file = path.join(ROOT, '.cache', 'bench', 'soak-trickle.pcap');
  const w = new PcapWriter(file);
  const f = Buffer.alloc(14 + 20 + 8 + 18);
  Buffer.from('020000007e02020000007e010800', 'hex').copy(f, 0);
  f[14] = 0x45;
  f.writeUInt16BE(20 + 8 + 18, 16);
  f[22] = 64;
  f[23] = 17;
  Buffer.from([10, 98, 0, 1, 10, 98, 0, 2]).copy(f, 26);
  f.writeUInt16BE(40000, 34);
  f.writeUInt16BE(40001, 36);
  f.writeUInt16BE(8 + 18, 38);
  w.writePacket(1_700_000_000, 0, f, 0, f.length);
  w.close();
  return file;
}

/** A hand-written SVG: RSS (MiB) and the call table over time. */
export function soakSvg(samples: Sample[], title: string): string {
  const W = 800;
  const H = 360;
  const L = 60;
  const R = 60;
  const T = 40;
  const B = 50;
  const tMax = Math.max(1, ...samples.map((s) => s.t));
  const rssMax = Math.max(1, ...samples.map((s) => s.rss / 1048576)) * 1.15;
  const callsMax = Math.max(1, ...samples.map((s) => s.calls)) * 1.15;
  const x = (t: number): number => L + ((W - L - R) * t) / tMax;
  const yR = (mib: number): number => H - B - ((H - T - B) * mib) / rssMax;
  const yC = (c: number): number => H - B - ((H - T - B) * c) / callsMax;
  const line = (pts: Array<[number, number]>): string => pts.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(' ');
  const ticks: string[] = [];
  for (let i = 0; i <= 4; i++) {
    const mib = (rssMax * i) / 4;
    const calls = (callsMax * i) / 4;
    const yy = yR(mib);
    ticks.push(`<line x1="${L}" y1="${yy.toFixed(1)}" x2="${W - R}" y2="${yy.toFixed(1)}" stroke="#ddd"/>`);
    ticks.push(`<text x="${L - 6}" y="${(yy + 4).toFixed(1)}" text-anchor="end">${mib.toFixed(0)}</text>`);
    ticks.push(`<text x="${W - R + 6}" y="${(yy + 4).toFixed(1)}" fill="#c60">${calls.toFixed(0)}</text>`);
    const tt = (tMax * i) / 4;
    ticks.push(`<text x="${x(tt).toFixed(1)}" y="${H - B + 18}" text-anchor="middle">${(tt / 60).toFixed(1)}</text>`);
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">
<rect width="${W}" height="${H}" fill="white"/>
<text x="${W / 2}" y="22" text-anchor="middle" font-size="14">${title}</text>
${ticks.join('\n')}
<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#333"/>
<line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#333"/>
<text x="${W / 2}" y="${H - 12}" text-anchor="middle">minutes</text>
<text x="16" y="${H / 2}" transform="rotate(-90 16 ${H / 2})" text-anchor="middle" fill="#036">RSS (MiB)</text>
<text x="${W - 14}" y="${H / 2}" transform="rotate(90 ${W - 14} ${H / 2})" text-anchor="middle" fill="#c60">calls in table</text>
<polyline fill="none" stroke="#036" stroke-width="2" points="${line(samples.map((s) => [x(s.t), yR(s.rss / 1048576)]))}"/>
<polyline fill="none" stroke="#c60" stroke-width="1.5" stroke-dasharray="4 3" points="${line(samples.map((s) => [x(s.t), yC(s.calls)]))}"/>
</svg>
`;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
};

async function main(): Promise<void> {
  if (process.getuid?.() !== 0 || !netnsAvailable() || !tcpreplayAvailable()) {
    console.error('soak needs root, `ip netns` and tcpreplay');
    process.exit(2);
  }
  const a = parseArgs(process.argv.slice(2));
  const capture = soakCapture();
  const trickle = trickleCapture();
  const load = new LiveLoadLab('soak');
  const samples: Sample[] = [];
  let exitCode = 0;
  try {
    const sensor = load.startSensor({ bin: BIN, sensorId: 'soak', backend: a.backend, workers: a.workers, statsIntervalSec: Math.min(5, a.sampleSec) });
    await sensor.ready;
    console.log(`soak: ${a.minutes} min at ${a.pps.toLocaleString('en-US')} packets/s (${a.backend}, --workers ${a.workers}), ${os.availableParallelism()} cores, load average ${os.loadavg()[0]!.toFixed(2)}`);
    console.log('   min     RSS MiB   calls  streams    flows      packets   drops');
    const started = Date.now();
    const replay = load.replay(capture, { pps: a.pps, limit: Math.round(a.pps * a.minutes * 60), loop: 0, preload: true, timeoutMs: (a.minutes * 60 + 600) * 1000 });
    let replayDone = false;
    void replay.then(() => (replayDone = true), () => (replayDone = true));
    const sample = (): void => {
      const st: SensorStatsLine | undefined = sensor.stats[sensor.stats.length - 1];
      if (!st) return;
      const s: Sample = {
        t: (Date.now() - started) / 1000,
        rss: rssBytes(sensor.pid),
        calls: st.tables.calls,
        streams: st.tables.streams,
        flows: st.tables.flows,
        packets: st.packets,
        drops: st.kernelDrops + st.ifDrops + (st.ringDrops ?? 0),
        cpu: cpuSeconds(sensor.pid),
      };
      samples.push(s);
      console.log(
        `${(s.t / 60).toFixed(1).padStart(6)}  ${(s.rss / 1048576).toFixed(1).padStart(9)}  ${String(s.calls).padStart(6)}  ${String(s.streams).padStart(7)}  ${String(s.flows).padStart(7)}  ${String(s.packets).padStart(11)}  ${String(s.drops).padStart(6)}`,
      );
    };
    while (!replayDone) {
      await new Promise((r) => setTimeout(r, a.sampleSec * 1000));
      sample();
    }
    const sent = await replay;
    console.log(`load done: tcpreplay sent ${sent.sent.toLocaleString('en-US')} packets at ${Math.round(sent.pps).toLocaleString('en-US')}/s`);
    // Move capture time past the call linger so every ended call can be evicted.
    await load.replay(trickle, { pps: 10, loop: TRICKLE_SEC * 10, timeoutMs: 180_000 });
    await new Promise((r) => setTimeout(r, 6000));
    sample();
    const lastPeriodic = sensor.stats[sensor.stats.length - 1]!;
    const last = await sensor.stop(120_000);

    // Verdicts: flat RSS over the second half of the load, tables bounded, ended calls gone.
    const loadSamples = samples.filter((s) => s.t <= sent.seconds + 1);
    const half = loadSamples.slice(Math.floor(loadSamples.length / 2));
    const rssMed = median(half.map((s) => s.rss));
    const rssSpread = (Math.max(...half.map((s) => s.rss)) - Math.min(...half.map((s) => s.rss))) / rssMed;
    const firstHalfCalls = median(loadSamples.slice(0, Math.floor(loadSamples.length / 2)).map((s) => s.calls));
    const secondHalfCalls = median(half.map((s) => s.calls));
    const flat = rssSpread <= FLAT_TOLERANCE;
    const callsFlat = secondHalfCalls <= firstHalfCalls * (1 + FLAT_TOLERANCE) + 10;
    const evicted = lastPeriodic.tables.calls === 0;
    const drops = last.kernelDrops + last.ifDrops + (last.ringDrops ?? 0);
    console.log(`\nRSS over the second half: median ${(rssMed / 1048576).toFixed(1)} MiB, spread ${(rssSpread * 100).toFixed(1)} % -> ${flat ? 'FLAT' : 'NOT FLAT'} (tolerance ${FLAT_TOLERANCE * 100} %)`);
    console.log(`calls in table: median ${firstHalfCalls} (first half) vs ${secondHalfCalls} (second half) -> ${callsFlat ? 'FLAT' : 'GROWING'}; peak ${last.tables.peakCalls}`);
    console.log(`after the linger: ${lastPeriodic.tables.calls} calls, ${lastPeriodic.tables.streams} streams, ${lastPeriodic.tables.flows} flows in the tables -> ${evicted ? 'every ended call evicted' : 'CALLS LEFT BEHIND'}`);
    console.log(`calls seen ${last.sip.inviteDialogs ?? 'n/a'}, evictions ${JSON.stringify(last.evictions)}, drops ${drops}, packets ${last.packets.toLocaleString('en-US')}, sent ${(sent.sent + TRICKLE_SEC * 10).toLocaleString('en-US')}`);
    fs.mkdirSync(path.dirname(a.svg), { recursive: true });
    fs.writeFileSync(a.svg, soakSvg(samples, `tapwatch soak: ${a.minutes} min at ${a.pps.toLocaleString('en-US')} packets/s, RSS and calls in table`));
    fs.writeFileSync(path.join(ROOT, '.cache', 'bench', 'soak.json'), JSON.stringify({ args: a, samples, last }, null, 2) + '\n');
    console.log(`plot: ${path.relative(ROOT, a.svg)}`);
    if (!flat || !callsFlat || !evicted) exitCode = 1;
  } finally {
    load.lab.teardown();
  }
  process.exit(exitCode);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
