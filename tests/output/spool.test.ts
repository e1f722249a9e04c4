/**
 * The disk spool behind the Kafka output: events come back in the order they
 * were written, across segments and across runs; a segment is deleted only
 * once every event read from it is acked; a torn last line is skipped and
 * counted; a backlog inserted at exit is replayed before the unread segments.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { appendFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Spool } from '../../sensor/src/output/spool.js';

const line = (i: number): string => JSON.stringify({ id: `r-${i}`, type: 'call_started' });
const ids = (lines: string[]): string[] => lines.map((l) => (JSON.parse(l) as { id: string }).id);

let dir = '';
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function readAll(sp: Spool, batch = 3): string[] {
  const out: string[] = [];
  for (let b = sp.read(batch); b !== null; b = sp.read(batch)) {
    out.push(...b.lines);
    for (let i = 0; i < b.lines.length; i++) sp.ack(b.segment);
  }
  return out;
}

describe('Spool', () => {
  it('reads back in write order across segments, and deletes acked segments', () => {
    dir = mkdtempSync(path.join(tmpdir(), 'tapwatch-spool-'));
    const sp = new Spool(dir, { segmentBytes: 100 });
    for (let i = 1; i <= 20; i++) expect(sp.append(line(i))).toBe(true);
    expect(sp.pending).toBe(20);
    expect(readdirSync(dir).length).toBeGreaterThan(3);
    const first = sp.read(5)!;
    expect(ids(first.lines)).toEqual(['r-1', 'r-2', 'r-3'].slice(0, first.lines.length));
    // Not acked yet: the segment stays on disk.
    const files = readdirSync(dir).length;
    expect(sp.size).toBe(20);
    for (let i = 0; i < first.lines.length; i++) sp.ack(first.segment);
    expect(readdirSync(dir).length).toBe(files - 1);
    const rest = readAll(sp);
    expect(ids([...first.lines, ...rest])).toEqual(Array.from({ length: 20 }, (_, i) => `r-${i + 1}`));
    expect(sp.pending).toBe(0);
    expect(sp.size).toBe(0);
    expect(readdirSync(dir)).toEqual([]);
    sp.close();
  });

  it('replays what an earlier run left, then new events; skips a torn line', () => {
    dir = mkdtempSync(path.join(tmpdir(), 'tapwatch-spool-'));
    const a = new Spool(dir);
    for (let i = 1; i <= 4; i++) a.append(line(i));
    a.close();
    // A crash mid-write leaves half a line.
    const seg = readdirSync(dir)[0]!;
    appendFileSync(path.join(dir, seg), '{"id":"r-5","ty');
    const b = new Spool(dir);
    expect(b.pending).toBe(5);
    b.append(line(6));
    expect(ids(readAll(b))).toEqual(['r-1', 'r-2', 'r-3', 'r-4', 'r-6']);
    expect(b.corrupt).toBe(1);
    b.close();
  });

  it('refuses appends past maxBytes unless forced', () => {
    dir = mkdtempSync(path.join(tmpdir(), 'tapwatch-spool-'));
    const sp = new Spool(dir, { maxBytes: 100 });
    expect(sp.append(line(1))).toBe(true);
    expect(sp.append(line(2))).toBe(true);
    expect(sp.append(line(3))).toBe(false);
    expect(sp.append(line(3), true)).toBe(true);
    expect(ids(readAll(sp))).toEqual(['r-1', 'r-2', 'r-3']);
    sp.close();
  });

  it('inserts an exit backlog after segments being read and before unread ones, also for the next run', () => {
    dir = mkdtempSync(path.join(tmpdir(), 'tapwatch-spool-'));
    const sp = new Spool(dir, { segmentBytes: 60 });
    for (let i = 1; i <= 6; i++) sp.append(line(i));
    const taken = sp.read(1)!; // r-1 read, not acked: its segment stays
    expect(ids(taken.lines)).toEqual(['r-1']);
    sp.insertBeforeUnread([line(100), line(101)]);
    sp.close();
    // Next run: the read-but-unacked segment replays whole, then the backlog, then the rest.
    const next = new Spool(dir);
    const all = ids(readAll(next));
    expect(all.indexOf('r-100')).toBeGreaterThan(all.indexOf('r-1'));
    expect(all.indexOf('r-101')).toBe(all.indexOf('r-100') + 1);
    expect(all.slice(all.indexOf('r-101') + 1)).toEqual(['r-3', 'r-4', 'r-5', 'r-6'].filter((x) => !all.slice(0, all.indexOf('r-100')).includes(x)));
    expect(new Set(all)).toEqual(new Set(['r-1', 'r-2', 'r-3', 'r-4', 'r-5', 'r-6', 'r-100', 'r-101']));
    next.close();
  });
});
