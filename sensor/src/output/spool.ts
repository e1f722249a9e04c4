/**
 * Disk spool for events the broker could not take yet: JSON Lines segments
 * in one folder, written in order and read back in order (a write-ahead log
 * in the manner of Kafka's own log segments: append-only files, named by a
 * monotonically increasing number, deleted whole once consumed).
 *
 * A segment is deleted only when every event read from it has been acked
 * (delivered to Kafka), so a crash between reading and delivery replays the
 * segment: at-least-once, and downstream stores are idempotent on event id.
 * Each line is one event exactly as the JSONL output writes it, so a spool
 * segment is also a valid `tapwatch explain` input.
 *
 * Segments left by an earlier run are replayed first, then the new ones. The
 * writer never appends to an older run's segment (its last line may be torn);
 * a line that is not JSON when read back is counted and skipped.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/**
 * spool-<seq>-<sub>.jsonl, replayed in (seq, sub) order. New segments take the
 * next seq with sub 0; insertBeforeUnread() slots a segment in between with a
 * higher sub. Sequences start at 10^15 so there is room below the first.
 */
const SEGMENT_RE = /^spool-(\d{16})-(\d{4})\.jsonl$/;
const FIRST_SEQ = 1e15;

export interface SpoolOptions {
  /** Start a new segment past this size (default 8 MiB). */
  segmentBytes: number;
  /** Refuse appends past this many bytes on disk (default 1 GiB); `force` appends still go in. */
  maxBytes: number;
}

export const DEFAULT_SPOOL_OPTIONS: SpoolOptions = { segmentBytes: 8 << 20, maxBytes: 1 << 30 };

/** One segment being read back. */
export class SpoolSegment {
  /** Events handed out and not yet acked. */
  outstanding = 0;
  fullyRead = false;
  cursor = 0;
  lines: string[] | null = null;
  constructor(
    readonly seq: number,
    readonly sub: number,
    readonly path: string,
    public bytes: number,
    public events: number,
  ) {}
}

export class Spool {
  private readonly opts: SpoolOptions;
  /** Segments in order, oldest first; the last may be the one being written. */
  private readonly segments: SpoolSegment[] = [];
  private writeFd: number | null = null;
  private writeSeg: SpoolSegment | null = null;
  private nextSeq = FIRST_SEQ;
  /** Events on disk that have not been read back yet. */
  pending = 0;
  /** Bytes on disk in every segment. */
  bytes = 0;
  /** Events appended in this process. */
  written = 0;
  /** Lines read back that were not JSON (a torn last line after a crash). */
  corrupt = 0;

  constructor(
    readonly dir: string,
    opts: Partial<SpoolOptions> = {},
  ) {
    this.opts = { ...DEFAULT_SPOOL_OPTIONS, ...opts };
    mkdirSync(dir, { recursive: true });
    const found: { seq: number; sub: number; name: string }[] = [];
    for (const name of readdirSync(dir)) {
      const m = SEGMENT_RE.exec(name);
      if (m) found.push({ seq: Number(m[1]), sub: Number(m[2]), name });
    }
    found.sort((a, b) => a.seq - b.seq || a.sub - b.sub);
    for (const f of found) {
      const path = join(dir, f.name);
      const size = statSync(path).size;
      if (size === 0) {
        unlinkSync(path);
        continue;
      }
      const events = countLines(readFileSync(path));
      this.segments.push(new SpoolSegment(f.seq, f.sub, path, size, events));
      this.pending += events;
      this.bytes += size;
      this.nextSeq = Math.max(this.nextSeq, f.seq + 1);
    }
  }

  /** Events in the spool not yet acked (on disk, read or not). */
  get size(): number {
    let n = this.pending;
    for (const s of this.segments) n += s.outstanding;
    return n;
  }

  /**
   * Append one event line (no newline). Returns false, writing nothing, when
   * the spool is at maxBytes and `force` is not set.
   */
  append(line: string, force = false): boolean {
    const len = Buffer.byteLength(line) + 1;
    if (!force && this.bytes + len > this.opts.maxBytes) return false;
    if (this.writeSeg === null || this.writeSeg.bytes >= this.opts.segmentBytes) this.rotate();
    writeSync(this.writeFd!, line + '\n');
    this.writeSeg!.bytes += len;
    this.writeSeg!.events++;
    this.bytes += len;
    this.pending++;
    this.written++;
    return true;
  }

  /**
   * Write events that are older than every unread one (a producer's
   * unacknowledged and in-memory backlog at exit) as a segment replayed
   * before the unread segments, and after those already being read back.
   */
  insertBeforeUnread(lines: string[]): void {
    if (lines.length === 0) return;
    let i = this.segments.findIndex((s) => !s.fullyRead && s.cursor === 0 && s.lines === null);
    if (i < 0) i = this.segments.length;
    const prev = i > 0 ? this.segments[i - 1]! : null;
    let seq = prev ? prev.seq : (this.segments[0]?.seq ?? this.nextSeq) - 1;
    let sub = prev ? prev.sub + 1 : 0;
    if (sub > 9999) {
      seq++;
      sub = 0;
    }
    const path = this.segmentPath(seq, sub);
    const text = lines.join('\n') + '\n';
    const fd = openSync(path, 'a');
    writeSync(fd, text);
    fsyncSync(fd);
    closeSync(fd);
    const seg = new SpoolSegment(seq, sub, path, Buffer.byteLength(text), lines.length);
    seg.bytes = Buffer.byteLength(text);
    this.segments.splice(i, 0, seg);
    this.bytes += seg.bytes;
    this.pending += lines.length;
    this.written += lines.length;
  }

  /**
   * Up to `max` events from the oldest unread segment, with that segment, for
   * ack() once each is delivered. Null when nothing is pending.
   */
  read(max: number): { lines: string[]; segment: SpoolSegment } | null {
    const seg = this.segments.find((s) => !s.fullyRead);
    if (seg === undefined) return null;
    if (seg === this.writeSeg) this.closeWriter();
    if (seg.lines === null) {
      const text = readFileSync(seg.path, 'utf8');
      const lines: string[] = [];
      for (const l of text.split('\n')) {
        if (l.length === 0) continue;
        if (!isJsonObject(l)) {
          this.corrupt++;
          continue;
        }
        lines.push(l);
      }
      // The count from the directory scan (or appends) becomes the real one.
      this.pending -= seg.events - lines.length;
      seg.events = lines.length;
      seg.lines = lines;
    }
    const out = seg.lines.slice(seg.cursor, seg.cursor + max);
    seg.cursor += out.length;
    seg.outstanding += out.length;
    this.pending -= out.length;
    if (seg.cursor >= seg.lines.length) {
      seg.fullyRead = true;
      seg.lines = null;
      this.maybeDelete(seg);
    }
    return { lines: out, segment: seg };
  }

  /** One event read from `seg` is delivered (or given up): the segment goes once all are. */
  ack(seg: SpoolSegment): void {
    seg.outstanding--;
    this.maybeDelete(seg);
  }

  /** Make appended data durable (on exit, and before a segment is read back). */
  sync(): void {
    if (this.writeFd !== null) fsyncSync(this.writeFd);
  }

  close(): void {
    this.closeWriter();
  }

  private maybeDelete(seg: SpoolSegment): void {
    if (!seg.fullyRead || seg.outstanding > 0) return;
    const i = this.segments.indexOf(seg);
    if (i < 0) return;
    this.segments.splice(i, 1);
    this.bytes -= seg.bytes;
    try {
      unlinkSync(seg.path);
    } catch {
      /* already gone: nothing to replay */
    }
  }

  private rotate(): void {
    this.closeWriter();
    const seq = this.nextSeq++;
    const path = this.segmentPath(seq, 0);
    this.writeFd = openSync(path, 'a');
    this.writeSeg = new SpoolSegment(seq, 0, path, 0, 0);
    this.segments.push(this.writeSeg);
  }

  private segmentPath(seq: number, sub: number): string {
    return join(this.dir, `spool-${String(seq).padStart(16, '0')}-${String(sub).padStart(4, '0')}.jsonl`);
  }

  private closeWriter(): void {
    if (this.writeFd === null) return;
    fsyncSync(this.writeFd);
    closeSync(this.writeFd);
    this.writeFd = null;
    this.writeSeg = null;
  }
}

function countLines(buf: Buffer): number {
  let n = 0;
  for (let i = 0; i < buf.length; i++) if (buf[i] === 0x0a) n++;
  // A torn last line without its newline still counts as a (corrupt) line.
  if (buf.length > 0 && buf[buf.length - 1] !== 0x0a) n++;
  return n;
}

function isJsonObject(line: string): boolean {
  if (line.charCodeAt(0) !== 0x7b /* { */) return false;
  try {
    JSON.parse(line);
    return true;
  } catch {
    return false;
  }
}
