/**
 * Regenerates the synthetic labelled scenarios (silent.ts, positive.ts) as
 * <name>.pcap + <name>.json in this directory, and validates each capture with
 * tshark (the decoding oracle, LAB.md): no malformed frame, SIP messages as
 * built, RTP streams listed. The generated files are committed; the captures
 * are deterministic, so `--check` (used by synthetic.test.ts) rebuilds them in
 * a temporary directory and compares bytes.
 *
 *   npx vite-node tests/scenarios/synthetic/build.ts [--out DIR] [--only NAME] [--check] [--no-tshark]
 *   node dist/tests/scenarios/synthetic/build.js ...   (once compiled)
 */
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { findRepoRoot } from '../../fixtures/gen/repo-root.js';
import { haveTshark, parseTsharkOutput } from '../../lib/tshark.js';
import type { SyntheticLabel, SyntheticScenario } from './lib/scenario.js';
import { POSITIVE_SCENARIOS } from './positive.js';
import { SILENT_SCENARIOS } from './silent.js';

const execFileAsync = promisify(execFile);

export const SYNTHETIC_SCENARIOS: SyntheticScenario[] = [...SILENT_SCENARIOS, ...POSITIVE_SCENARIOS];
export const MAX_CAPTURE_BYTES = 300 * 1024;

export function syntheticDir(): string {
  return path.join(findRepoRoot(import.meta.url), 'tests', 'scenarios', 'synthetic');
}

export interface TsharkSummary {
  tshark: string;
  packets: number;
  malformed: number;
  sipMessages: number;
  rtpStreams: Array<{ src: string; dst: string; ssrc: string; payload: string; packets: number; lost: number }>;
}

let cachedVersion: string | null = null;

function tsharkVersion(): string {
  if (cachedVersion === null) {
    const r = spawnSync('tshark', ['--version'], { encoding: 'utf8' });
    cachedVersion = /TShark \(Wireshark\) ([\d.]+)/.exec(r.stdout ?? '')?.[1] ?? 'unknown';
  }
  return cachedVersion;
}

/** tshark arguments for one pass: RTP heuristics on (as the corpus inventory uses), sip,stat, rtp,streams, frame and malformed counts. */
export function tsharkArgs(pcap: string): string[] {
  return ['-n', '-r', pcap, '--enable-heuristic', 'rtp_udp', '-q', '-z', 'sip,stat', '-z', 'rtp,streams', '-z', 'io,stat,0,frame,_ws.malformed'];
}

export function parseTsharkSummary(out: string): TsharkSummary {
  const parsed = parseTsharkOutput(out);
  // io,stat row: "| 0.000 <> 4.463 |    804 | 175821 |      0 |     0 |"
  const row = /\|\s*[\d.]+ <> [\d.]+\s*\|\s*(\d+)\s*\|\s*\d+\s*\|\s*(\d+)\s*\|/.exec(out);
  return {
    tshark: tsharkVersion(),
    packets: row ? Number(row[1]) : -1,
    malformed: row ? Number(row[2]) : -1,
    sipMessages: parsed.sipMessages,
    rtpStreams: parsed.streams.map((s) => ({ src: s.src, dst: s.dst, ssrc: `0x${s.ssrc.toString(16).padStart(8, '0')}`, payload: s.payload, packets: s.packets, lost: s.lost })),
  };
}

/** tshark's view of a capture, in one tshark run. */
export function tsharkSummary(pcap: string): TsharkSummary {
  const r = spawnSync('tshark', tsharkArgs(pcap), { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`tshark failed on ${pcap}: ${r.stderr}`);
  return parseTsharkSummary(r.stdout);
}

/** The same, without blocking (tests run several at once). */
export async function tsharkSummaryAsync(pcap: string): Promise<TsharkSummary> {
  const { stdout } = await execFileAsync('tshark', tsharkArgs(pcap), { encoding: 'utf8', maxBuffer: 64 << 20 });
  return parseTsharkSummary(stdout);
}

export interface BuildResult {
  name: string;
  pcap: string;
  json: string;
  packets: number;
  bytes: number;
  label: SyntheticLabel & { tshark?: TsharkSummary };
}

/** Build one scenario into `dir`; with `tshark`, add tshark's summary to the label and fail on malformed frames. */
export function buildScenario(s: SyntheticScenario, dir: string, opts: { tshark?: boolean } = {}): BuildResult {
  const built = s.build();
  const pcap = path.join(dir, `${s.name}.pcap`);
  const json = path.join(dir, `${s.name}.json`);
  const { packets, bytes } = built.cap.write(pcap);
  if (bytes > MAX_CAPTURE_BYTES) throw new Error(`${s.name}: ${bytes} bytes, over the ${MAX_CAPTURE_BYTES}-byte budget`);
  const label: SyntheticLabel & { tshark?: TsharkSummary } = { name: s.name, generatedBy: 'tests/scenarios/synthetic/build.ts', ...built.label };
  if (opts.tshark) {
    const t = tsharkSummary(pcap);
    if (t.malformed > 0) throw new Error(`${s.name}: tshark reports ${t.malformed} malformed frame(s)`);
    if (t.packets !== packets) throw new Error(`${s.name}: tshark read ${t.packets} frames, wrote ${packets}`);
    label.tshark = t;
  }
  fs.writeFileSync(json, JSON.stringify(label, null, 2) + '\n');
  return { name: s.name, pcap, json, packets, bytes, label };
}

/** Labels compared without the tshark block (which depends on the installed tshark). */
export function labelWithoutTshark(text: string): unknown {
  const l = JSON.parse(text) as Record<string, unknown>;
  delete l.tshark;
  return l;
}

/** Rebuild into a temporary directory and list every committed file that differs (empty: in sync). */
export function checkCommitted(dir = syntheticDir(), only: string[] = []): string[] {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-synth-'));
  const problems: string[] = [];
  try {
    for (const s of SYNTHETIC_SCENARIOS) {
      if (only.length && !only.includes(s.name)) continue;
      const r = buildScenario(s, tmp);
      const committedPcap = path.join(dir, `${s.name}.pcap`);
      const committedJson = path.join(dir, `${s.name}.json`);
      if (!fs.existsSync(committedPcap) || !fs.readFileSync(committedPcap).equals(fs.readFileSync(r.pcap))) problems.push(`${s.name}.pcap`);
      if (!fs.existsSync(committedJson) || JSON.stringify(labelWithoutTshark(fs.readFileSync(committedJson, 'utf8'))) !== JSON.stringify(labelWithoutTshark(fs.readFileSync(r.json, 'utf8')))) {
        problems.push(`${s.name}.json`);
      }
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return problems;
}

function main(argv: string[]): number {
  let out = syntheticDir();
  const only: string[] = [];
  let check = false;
  let tshark = true;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--out') out = path.resolve(argv[++i] ?? '.');
    else if (a === '--only') only.push(argv[++i] ?? '');
    else if (a === '--check') check = true;
    else if (a === '--no-tshark') tshark = false;
    else if (a === '--') continue;
    else {
      process.stderr.write('usage: build [--out DIR] [--only NAME]... [--check] [--no-tshark]\n');
      return 2;
    }
  }
  if (check) {
    const p = checkCommitted(out, only);
    process.stdout.write(p.length ? `out of date: ${p.join(', ')}\n` : 'synthetic scenarios are in sync with their builders\n');
    return p.length ? 1 : 0;
  }
  if (tshark && !haveTshark()) {
    process.stderr.write('tshark not found: install it or pass --no-tshark\n');
    return 2;
  }
  fs.mkdirSync(out, { recursive: true });
  for (const s of SYNTHETIC_SCENARIOS) {
    if (only.length && !only.includes(s.name)) continue;
    const r = buildScenario(s, out, { tshark });
    const t = r.label.tshark;
    process.stdout.write(
      `${s.name.padEnd(34)} ${String(r.packets).padStart(5)} pkts ${String(Math.round(r.bytes / 1024)).padStart(4)} KiB` +
        (t ? `  tshark: ${t.sipMessages} SIP, ${t.rtpStreams.length} RTP streams, ${t.malformed} malformed` : '') +
        '\n',
    );
  }
  return 0;
}

/** Run directly (node dist/...) or through vite-node, which puts itself in argv[1]. */
const invokedDirectly = process.argv[1] !== undefined && (import.meta.url === pathToFileURL(process.argv[1]).href || /vite-node(\.m?js)?$/.test(process.argv[1]));
if (invokedDirectly) process.exitCode = main(process.argv.slice(2));
