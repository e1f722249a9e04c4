/**
 * Every public capture in <repo>/../shared/corpus read through openCaptureFile
 * and compared with Wireshark's readers: the packet count and the first and
 * last frame.time_epoch (to the microsecond) from `tshark`, and the packet
 * count again from `capinfos`.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { openCaptureFile } from '../../sensor/src/capture/open-file.js';
import { PacketRecord } from '../../sensor/src/decode/packet.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const corpusDir = path.resolve(repoRoot, '../shared/corpus');
const haveCorpus = fs.existsSync(corpusDir);
const haveCapinfos = spawnSync('capinfos', ['-h'], { encoding: 'utf8' }).status === 0;
const haveTshark = spawnSync('tshark', ['-v'], { encoding: 'utf8' }).status === 0;

const files = haveCorpus
  ? fs
      .readdirSync(corpusDir)
      .filter((f) => /\.(pcap|pcapng|cap)$/.test(f))
      .sort()
  : [];

/** "1228468937.630923" -> [1228468937, 630923] (microseconds, truncated). */
function epochToMicros(text: string): [number, number] {
  const [sec, frac = ''] = text.trim().split('.');
  return [Number(sec), Number((frac + '000000').slice(0, 6))];
}

interface Summary {
  count: number;
  first: [number, number];
  last: [number, number];
  warnings: string[];
  frameNumbersOk: boolean;
}

async function summarise(file: string): Promise<Summary> {
  const src = openCaptureFile(file);
  const rec = new PacketRecord();
  let count = 0;
  let frameNumbersOk = true;
  let first: [number, number] = [0, 0];
  let last: [number, number] = [0, 0];
  await src.run(rec, (r) => {
    count++;
    if (r.frameNumber !== count) frameNumbersOk = false;
    const t: [number, number] = [r.tsSec, Math.floor(r.tsNsec / 1000)];
    if (count === 1) first = t;
    last = t;
  });
  return { count, first, last, warnings: src.warnings, frameNumbersOk };
}

/** tshark's frame.time_epoch for every frame (no dissection: only the frame layer is needed). */
function tsharkEpochs(file: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn('tshark', ['-n', '-r', file, '-T', 'fields', '-e', 'frame.time_epoch', '--disable-protocol', 'ALL'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => (out += d));
    child.on('error', reject);
    child.on('close', () => resolve(out.split('\n').filter((l) => l.trim() !== '')));
  });
}

/** Run tshark over every file, a few at a time (its start-up dominates). */
async function tsharkAll(names: string[]): Promise<Map<string, string[]>> {
  const result = new Map<string, string[]>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < names.length) {
      const name = names[next++]!;
      result.set(name, await tsharkEpochs(path.join(corpusDir, name)));
    }
  };
  await Promise.all(Array.from({ length: Math.max(2, os.cpus().length) }, worker));
  return result;
}

describe.skipIf(!haveCorpus || !haveTshark)('capture readers agree with tshark on the public corpus', () => {
  if (!haveCorpus) console.warn(`capture corpus test skipped: ${corpusDir} is absent`);
  else if (!haveTshark) console.warn('capture corpus test skipped: tshark is not installed');

  let oracle = new Map<string, string[]>();
  beforeAll(async () => {
    oracle = await tsharkAll(files);
  }, 300_000);

  it('found the corpus files', () => {
    expect(files.length).toBeGreaterThan(10);
  });

  for (const name of files) {
    it(`${name}: packet count, first and last frame.time_epoch match tshark`, async () => {
      const file = path.join(corpusDir, name);
      const lines = oracle.get(name)!;
      const s = await summarise(file);
      expect(s.warnings, 'a corpus file read with warnings').toEqual([]);
      expect(s.frameNumbersOk).toBe(true);
      expect(s.count).toBe(lines.length);
      if (s.count > 0) {
        expect(s.first).toEqual(epochToMicros(lines[0]!));
        expect(s.last).toEqual(epochToMicros(lines[lines.length - 1]!));
      }
      if (haveCapinfos) {
        // Independent count from capinfos (its earliest/latest are not used: capinfos 4.0
        // mis-orders timestamps past 2038 in unsigned pcap files).
        const ci = spawnSync('capinfos', ['-c', '-T', '-r', '-M', file], { encoding: 'utf8' });
        expect(Number(ci.stdout.trim().split('\t')[1])).toBe(s.count);
      }
    });
  }
});
