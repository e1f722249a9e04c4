/**
 * The `tapwatch` command line, run as a user runs it (bin/tapwatch.js over the
 * compiled dist/ that `npm ci` builds): exit codes, clear errors on bad
 * input, JSONL output, and `explain`.
 */
import { describe, expect, it, beforeAll } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');
const BIN = join(ROOT, 'bin', 'tapwatch.js');

function run(args: string[], input?: string) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', input, cwd: ROOT, timeout: 120_000 });
}

describe('tapwatch CLI', () => {
  let dir = '';
  beforeAll(async () => {
    // Make sure dist/ matches the sources under test (asynchronously: a blocked
    // worker would miss vitest's heartbeats).
    const { status, out } = await new Promise<{ status: number | null; out: string }>((res) => {
      const c = spawn('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT });
      let out = '';
      c.stdout.on('data', (d) => (out += d));
      c.stderr.on('data', (d) => (out += d));
      c.on('close', (code) => res({ status: code, out }));
    });
    expect(status, out).toBe(0);
    dir = mkdtempSync(join(tmpdir(), 'tapwatch-cli-'));
  });

  it('prints usage and exits 2 on an unknown command', () => {
    const r = run(['frobnicate']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown command 'frobnicate'/);
  });

  it('refuses a file that is not a capture with a clear error and exit 1', () => {
    const f = join(dir, 'notes.txt');
    writeFileSync(f, 'this is not a pcap file at all\n');
    const r = run(['sensor', '--read', f, '--format', 'jsonl']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/notes\.txt/);
    expect(r.stderr).toMatch(/not a (pcap|capture)/i);
    expect(r.stdout).toBe('');
  });

  it('reports a missing file and exits 1', () => {
    const r = run(['sensor', '--read', join(dir, 'nope.pcap')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/nope\.pcap/);
  });

  it('rejects bad options with exit 2', () => {
    expect(run(['sensor']).status).toBe(2);
    expect(run(['sensor', '--read', 'x', '--format', 'xml']).status).toBe(2);
    expect(run(['sensor', '--read', 'x', '--bogus']).status).toBe(2);
  });

  it('reads the generated sample as JSONL, warns about a truncated last record, and keeps every complete packet', async () => {
    const { makeSample } = await import('../fixtures/gen/make-sample.js');
    const pcap = join(dir, 'sample.pcap');
    makeSample({ out: pcap });
    const full = run(['sensor', '--read', pcap, '--format', 'jsonl']);
    expect(full.status, full.stderr).toBe(0);
    const events = full.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; packets?: number; final?: boolean });
    const stats = events.filter((e) => e.type === 'sensor_stats').at(-1)!;
    expect(stats.final).toBe(true);
    expect(events.some((e) => e.type === 'call_started')).toBe(true);
    expect(events.filter((e) => e.type === 'stream_ended').length).toBeGreaterThanOrEqual(8);

    // Cut the file in the middle of its last record.
    const bytes = readFileSync(pcap);
    const cut = join(dir, 'cut.pcap');
    writeFileSync(cut, bytes.subarray(0, bytes.length - 7));
    const r = run(['sensor', '--read', cut, '--format', 'jsonl']);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/warning/i);
    const last = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; packets: number }).filter((e) => e.type === 'sensor_stats').at(-1)!;
    expect(last.packets).toBe(stats.packets! - 1);
  });

  it('explain prints the full evidence of a finding given as JSON or in a JSONL file', () => {
    const finding = {
      v: 1, type: 'duplicate_stream', id: 'r-9', ts: 1700000001, sensor: 's1', findingId: 'r-f1', severity: 'critical',
      confidence: 0.97, callId: 'abc@host', ssrc: 0xdeadbeef, detectedAt: 1700000001, firstSeen: 1700000000.5,
      heuristic: { id: 'dup-exact', version: 1 }, allowlisted: null, evidenceIncomplete: false,
      summary: 'RTP of abc@host is copied to 10.66.66.66:40000', evidence: { matchedPackets: 12, original: '10.1.0.1:16384 -> 10.2.0.1:32768' },
      copyTo: '10.66.66.66:40000', copyToIp: '10.66.66.66', mode: 'exact', declared: false,
    };
    const r = run(['explain', JSON.stringify(finding)]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/DUPLICATE MEDIA/);
    expect(r.stdout).toMatch(/10\.66\.66\.66:40000/);
    expect(r.stdout).toMatch(/matchedPackets\s+12/);
    const f = join(dir, 'events.jsonl');
    writeFileSync(f, `{"type":"call_started"}\n${JSON.stringify(finding)}\n`);
    const r2 = run(['explain', f, '--id', 'r-f1']);
    expect(r2.status).toBe(0);
    expect(r2.stdout).toMatch(/dup-exact v1/);
    expect(run(['explain', f, '--id', 'nope']).status).toBe(1);
  });
});
