/**
 * pcapng capture files (draft-ietf-opsawg-pcapng, "PCAP Now Generic";
 * Wireshark wiretap/pcapng.c; libpcap sf-pcapng.c).
 *
 * Every block is type(4) total_length(4) body total_length(4), lengths a
 * multiple of 4. Blocks read here:
 *   SHB 0x0A0D0D0A  starts a section; byte-order magic 0x1A2B3C4D sets the
 *                   byte order of the whole section; interface ids restart.
 *                   Section length may be -1 (unknown): we never use it.
 *   IDB 1           link type, snaplen, options if_tsresol (9) and
 *                   if_tsoffset (14).
 *   EPB 6           interface id, 64-bit timestamp, captured/original length.
 *   SPB 3           interface 0, no timestamp (we reuse the last one seen, as
 *                   Wireshark shows it with no time of its own), original
 *                   length only: captured = min(original, snaplen, space).
 *   OPB 2           obsolete Packet Block (16-bit interface id + drops count).
 *   ISB 5           interface statistics: isb_ifrecv/isb_ifdrop/isb_osdrop
 *                   are kept and reported by stats() (last value per interface).
 * Every other block (NRB, DSB, custom, journal...) is skipped.
 *
 * Same zero-copy scheme as pcap-file.ts (see the comment there for why):
 * blocks are parsed in place in one reused chunk; rec.frame points into it.
 * Timestamps are 64-bit counts of 10^-n or 2^-n seconds; they are split into
 * seconds and nanoseconds exactly with 16-bit-limb long division (a double
 * cannot hold a nanosecond count since 1970), with a fast path when the count
 * fits in 53 bits (microsecond resolution until the year 2255).
 *
 * Malformed input never throws out of run(): a bad block length (not a
 * multiple of 4, below the block's minimum, trailing length different from
 * the leading one) ends reading with a warning; a truncated final block is a
 * warning and reading finishes normally.
 */
import * as fs from 'node:fs';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { PacketRecord } from '../decode/packet.js';
import { CaptureError, type CaptureStats, type PacketSource, type SourceProgress } from './packet-source.js';
import { ChunkReader, DEFAULT_CHUNK_SIZE, DEFAULT_YIELD_EVERY, type FileSourceOptions } from './chunk-reader.js';
import { readU16, readU32 } from './byte-order.js';

export const PCAPNG_BLOCK_SHB = 0x0a0d0d0a;
export const PCAPNG_BLOCK_IDB = 1;
export const PCAPNG_BLOCK_OPB = 2;
export const PCAPNG_BLOCK_SPB = 3;
export const PCAPNG_BLOCK_ISB = 5;
export const PCAPNG_BLOCK_EPB = 6;
export const PCAPNG_BYTE_ORDER_MAGIC = 0x1a2b3c4d;

const OPT_END = 0;
const IF_TSRESOL = 9;
const IF_TSOFFSET = 14;
const ISB_IFRECV = 4;
const ISB_IFDROP = 5;
const ISB_OSDROP = 7;

/** Smallest legal total length of each block we interpret. */
const MIN_SHB = 28;
const MIN_IDB = 20;
const MIN_EPB = 32;
const MIN_OPB = 32;
const MIN_SPB = 16;
const MIN_ISB = 24;

/** No real block is this big; a larger length means a corrupt file (and we would buffer the rest of it). */
const MAX_BLOCK_LENGTH = 128 * 1024 * 1024;

const TWO_POW_32 = 4294967296;

/** Is `head` the start of a pcapng Section Header Block? */
export function isPcapngHeader(head: Buffer): boolean {
  if (head.length < 12 || head.readUInt32LE(0) !== PCAPNG_BLOCK_SHB) return false;
  return head.readUInt32LE(8) === PCAPNG_BYTE_ORDER_MAGIC || head.readUInt32BE(8) === PCAPNG_BYTE_ORDER_MAGIC;
}

// Outputs of divmod64 (module scratch, so the hot path returns two numbers without an object).
let divQuotient = 0;
let divRemainder = 0;

/** (hi * 2^32 + lo) / d for 1 <= d <= 2^32, exact while the quotient stays below 2^53. */
function divmod64(hi: number, lo: number, d: number): void {
  if (hi < 0x200000) {
    // The whole value fits in 53 bits: one exact double division.
    const v = hi * TWO_POW_32 + lo;
    let q = Math.floor(v / d);
    let r = v - q * d;
    if (r < 0) {
      q--;
      r += d;
    } else if (r >= d) {
      q++;
      r -= d;
    }
    divQuotient = q;
    divRemainder = r;
    return;
  }
  // Schoolbook division over four 16-bit limbs; every partial value stays below 2^48.
  let q = 0;
  let r = 0;
  for (let i = 0; i < 4; i++) {
    const limb = i === 0 ? hi >>> 16 : i === 1 ? hi & 0xffff : i === 2 ? lo >>> 16 : lo & 0xffff;
    const cur = r * 65536 + limb;
    let qi = Math.floor(cur / d);
    r = cur - qi * d;
    if (r < 0) {
      qi--;
      r += d;
    } else if (r >= d) {
      qi++;
      r -= d;
    }
    q = q * 65536 + qi;
  }
  divQuotient = q;
  divRemainder = r;
}

/** Per-interface timestamp arithmetic, fixed when the IDB is read. */
class InterfaceInfo {
  linkType = 1;
  snaplen = 0;
  /** 10^n or 2^n units per second. */
  unitsPerSecond = 1e6;
  /** n when the resolution is 2^-n, else -1. */
  binaryExponent = -1;
  /** For decimal resolutions finer than 1 ns: units per second / 1e9. */
  decimalAbove9 = 0;
  /** Multiplier from a fraction in units to nanoseconds (exact for 10^-n, n <= 9, and 2^-n). */
  nsPerUnit = 1000;
  /** if_tsoffset, seconds. */
  offsetSeconds = 0;
  // Last Interface Statistics Block values.
  ifRecv = 0;
  ifDrop = 0;
  osDrop = 0;

  /** Apply if_tsresol; returns an error text for a resolution we cannot represent. */
  setResolution(raw: number): string | null {
    const exponent = raw & 0x7f;
    if (raw & 0x80) {
      if (exponent > 52) return `if_tsresol 2^-${exponent} is too fine`;
      this.binaryExponent = exponent;
      this.unitsPerSecond = 2 ** exponent;
      this.nsPerUnit = 1e9 / this.unitsPerSecond;
      this.decimalAbove9 = 0;
    } else {
      if (exponent > 15) return `if_tsresol 10^-${exponent} is too fine`;
      this.binaryExponent = -1;
      this.unitsPerSecond = 10 ** exponent;
      if (exponent <= 9) {
        this.nsPerUnit = 10 ** (9 - exponent);
        this.decimalAbove9 = 0;
      } else {
        this.nsPerUnit = 0;
        this.decimalAbove9 = 10 ** (exponent - 9);
      }
    }
    return null;
  }

  /** Split the 64-bit timestamp into rec.tsSec/tsNsec/ts. */
  setTimestamp(rec: PacketRecord, hi: number, lo: number): void {
    let sec: number;
    let frac: number;
    const bexp = this.binaryExponent;
    if (bexp >= 0) {
      if (bexp <= 32) {
        const unit = this.unitsPerSecond;
        sec = hi * (TWO_POW_32 / unit) + Math.floor(lo / unit);
        frac = lo % unit;
      } else {
        const d = 2 ** (bexp - 32);
        sec = Math.floor(hi / d);
        frac = (hi - sec * d) * TWO_POW_32 + lo;
      }
      rec.tsNsec = Math.floor(frac * this.nsPerUnit);
    } else if (this.decimalAbove9 === 0) {
      divmod64(hi, lo, this.unitsPerSecond);
      sec = divQuotient;
      rec.tsNsec = divRemainder * this.nsPerUnit;
    } else {
      // Finer than 1 ns: divide by 1e9 units first, then by the rest.
      divmod64(hi, lo, 1e9);
      const extra = this.decimalAbove9;
      sec = Math.floor(divQuotient / extra);
      frac = (divQuotient - sec * extra) * 1e9 + divRemainder;
      rec.tsNsec = Math.floor(frac / extra);
    }
    sec += this.offsetSeconds;
    rec.tsSec = sec;
    rec.ts = sec + rec.tsNsec / 1e9;
  }
}

export class PcapngFileSource implements PacketSource {
  readonly kind = 'pcapng' as const;
  readonly warnings: string[] = [];

  private readonly reader: ChunkReader;
  private readonly yieldEvery: number;
  /** Every interface of every section, in file order (rec.interfaceId indexes this, like Wireshark's frame.interface_id). */
  private readonly interfaces: InterfaceInfo[] = [];
  /** Index in `interfaces` of the current section's interface 0. */
  private sectionBase = 0;
  private le = true;
  private stopRequested = false;
  private started = false;
  private fdOpen = true;
  private packets = 0;
  private bytes = 0;

  /** Takes ownership of `fd`. Throws CaptureError ENOTCAPTURE (open time only) when the file does not start with an SHB. */
  constructor(
    readonly name: string,
    private readonly fd: number,
    fileSize: number,
    header: Buffer,
    opts: FileSourceOptions = {},
  ) {
    if (!isPcapngHeader(header)) {
      throw new CaptureError(
        `${name}: not a pcapng file (first bytes ${header.subarray(0, 12).toString('hex')})`,
        'ENOTCAPTURE',
      );
    }
    this.reader = new ChunkReader(fd, 0, opts.chunkSize ?? DEFAULT_CHUNK_SIZE, fileSize);
    this.yieldEvery = Math.max(1, opts.yieldEvery ?? DEFAULT_YIELD_EVERY);
  }

  /** Link type of each interface seen so far (global index). */
  interfaceLinkTypes(): number[] {
    return this.interfaces.map((i) => i.linkType);
  }

  async run(rec: PacketRecord, onPacket: (rec: PacketRecord) => void): Promise<void> {
    if (this.started) {
      this.warnings.push(`${this.name}: run() called twice; a file source can be read once`);
      return;
    }
    this.started = true;
    const r = this.reader;
    const yieldEvery = this.yieldEvery;
    let buf = r.buf;
    let pos = r.pos;
    let end = r.end;
    let le = this.le;
    let sinceYield = 0;
    // SPB carries no timestamp: it gets the last one seen.
    let lastSec = 0;
    let lastNsec = 0;
    let lastTs = 0;
    try {
      while (!this.stopRequested) {
        if (end - pos < 12) {
          r.pos = pos;
          const avail = r.fill(12);
          buf = r.buf;
          pos = r.pos;
          end = r.end;
          if (avail < 12) {
            if (avail > 0) this.warn(`truncated block header at byte ${r.fileOffset - avail} (${avail} bytes)`);
            break;
          }
        }
        const blockAt = r.fileOffset - (end - pos);
        const type = readU32(buf, pos, le);
        if (type === PCAPNG_BLOCK_SHB) {
          // The SHB type reads the same in both orders; its byte-order magic sets the section's order.
          if (readU32(buf, pos + 8, true) === PCAPNG_BYTE_ORDER_MAGIC) le = true;
          else if (readU32(buf, pos + 8, false) === PCAPNG_BYTE_ORDER_MAGIC) le = false;
          else {
            this.warn(`section header at byte ${blockAt} has a bad byte-order magic; stopped`);
            break;
          }
          this.le = le;
        }
        const total = readU32(buf, pos + 4, le);
        if (total < 12 || (total & 3) !== 0 || total > MAX_BLOCK_LENGTH) {
          this.warn(`block type ${type} at byte ${blockAt} has an invalid length ${total}; stopped`);
          break;
        }
        if (end - pos < total) {
          r.pos = pos;
          const avail = r.fill(total);
          buf = r.buf;
          pos = r.pos;
          end = r.end;
          if (avail < total) {
            this.warn(`truncated last block (type ${type}) at byte ${blockAt}: ${total} bytes announced, ${avail} present`);
            break;
          }
        }
        if (readU32(buf, pos + total - 4, le) !== total) {
          this.warn(
            `block type ${type} at byte ${blockAt}: trailing length ${readU32(buf, pos + total - 4, le)} ` +
              `does not match ${total}; stopped`,
          );
          break;
        }

        let dataAt = 0;
        let capLength = -1;
        let wireLength = 0;
        let iface: InterfaceInfo | undefined;
        let globalId = 0;
        if (type === PCAPNG_BLOCK_EPB || type === PCAPNG_BLOCK_OPB) {
          if (total < MIN_EPB) {
            this.warn(`packet block at byte ${blockAt} is too short (${total}); stopped`);
            break;
          }
          const localId = type === PCAPNG_BLOCK_EPB ? readU32(buf, pos + 8, le) : readU16(buf, pos + 8, le);
          globalId = this.sectionBase + localId;
          iface = this.interfaces[globalId];
          if (iface === undefined) {
            this.warn(`packet block at byte ${blockAt} names interface ${localId}, which was not described; stopped`);
            break;
          }
          capLength = readU32(buf, pos + 20, le);
          wireLength = readU32(buf, pos + 24, le);
          if (capLength > total - MIN_EPB) {
            this.warn(`packet block at byte ${blockAt}: ${capLength} captured bytes do not fit in a ${total}-byte block; stopped`);
            break;
          }
          iface.setTimestamp(rec, readU32(buf, pos + 12, le), readU32(buf, pos + 16, le));
          lastSec = rec.tsSec;
          lastNsec = rec.tsNsec;
          lastTs = rec.ts;
          dataAt = pos + 28;
        } else if (type === PCAPNG_BLOCK_SPB) {
          if (total < MIN_SPB) {
            this.warn(`simple packet block at byte ${blockAt} is too short (${total}); stopped`);
            break;
          }
          globalId = this.sectionBase;
          iface = this.interfaces[globalId];
          if (iface === undefined || this.interfaces.length === this.sectionBase) {
            this.warn(`simple packet block at byte ${blockAt} before any interface description; stopped`);
            break;
          }
          wireLength = readU32(buf, pos + 8, le);
          capLength = Math.min(wireLength, total - MIN_SPB);
          if (iface.snaplen > 0 && capLength > iface.snaplen) capLength = iface.snaplen;
          rec.tsSec = lastSec;
          rec.tsNsec = lastNsec;
          rec.ts = lastTs;
          dataAt = pos + 12;
        } else if (type === PCAPNG_BLOCK_IDB) {
          if (total < MIN_IDB) {
            this.warn(`interface description block at byte ${blockAt} is too short (${total}); stopped`);
            break;
          }
          this.readInterface(buf, pos, total, le, blockAt);
        } else if (type === PCAPNG_BLOCK_SHB) {
          if (total < MIN_SHB) {
            this.warn(`section header block at byte ${blockAt} is too short (${total}); stopped`);
            break;
          }
          const major = readU16(buf, pos + 12, le);
          if (major !== 1) {
            this.warn(`section at byte ${blockAt} has unsupported version ${major}.${readU16(buf, pos + 14, le)}; stopped`);
            break;
          }
          this.sectionBase = this.interfaces.length;
        } else if (type === PCAPNG_BLOCK_ISB) {
          if (total >= MIN_ISB) this.readInterfaceStatistics(buf, pos, total, le);
        }
        // Anything else (NRB, DSB, custom, journal, unknown): skipped.

        pos += total;
        if (capLength >= 0) {
          rec.capLength = capLength;
          rec.wireLength = wireLength;
          rec.interfaceId = globalId;
          rec.linkType = iface!.linkType;
          rec.frameNumber = ++this.packets;
          rec.frame = buf;
          rec.frameOffset = dataAt;
          this.bytes += capLength;
          onPacket(rec);
        }
        if (++sinceYield >= yieldEvery) {
          sinceYield = 0;
          r.pos = pos;
          await yieldToEventLoop();
        }
      }
      if (r.readError !== null) this.warn(`read error: ${r.readError}`);
    } finally {
      r.pos = pos;
      this.closeFd();
    }
  }

  stop(): void {
    this.stopRequested = true;
  }

  /** Packet counts, plus the kernel counters recorded in Interface Statistics Blocks (summed over interfaces). */
  stats(): CaptureStats {
    let recv = 0;
    let osDrop = 0;
    let ifDrop = 0;
    for (const i of this.interfaces) {
      recv += i.ifRecv;
      osDrop += i.osDrop;
      ifDrop += i.ifDrop;
    }
    return {
      packets: this.packets,
      bytes: this.bytes,
      kernelReceived: recv,
      kernelDrops: osDrop,
      ifDrops: ifDrop,
      dropsUnavailable: false,
    };
  }

  progress(): SourceProgress {
    const r = this.reader;
    return { bytesRead: r.fileOffset - (r.end - r.pos), bytesTotal: r.fileSize };
  }

  private warn(text: string): void {
    this.warnings.push(`${this.name}: ${text}`);
  }

  private readInterface(buf: Buffer, pos: number, total: number, le: boolean, blockAt: number): void {
    const info = new InterfaceInfo();
    info.linkType = readU16(buf, pos + 8, le);
    info.snaplen = readU32(buf, pos + 12, le);
    const optsEnd = pos + total - 4;
    let p = pos + 16;
    while (p + 4 <= optsEnd) {
      const code = readU16(buf, p, le);
      const len = readU16(buf, p + 2, le);
      if (code === OPT_END) break;
      if (p + 4 + len > optsEnd) {
        this.warn(`interface ${this.interfaces.length} (byte ${blockAt}): option ${code} overruns the block; rest ignored`);
        break;
      }
      if (code === IF_TSRESOL && len >= 1) {
        const problem = info.setResolution(buf[p + 4]);
        if (problem !== null) this.warn(`interface ${this.interfaces.length}: ${problem}; using microseconds`);
      } else if (code === IF_TSOFFSET && len >= 8) {
        // Signed 64-bit seconds, in the section's byte order.
        const hi = readU32(buf, le ? p + 8 : p + 4, le) | 0;
        const lo = readU32(buf, le ? p + 4 : p + 8, le);
        info.offsetSeconds = hi * TWO_POW_32 + lo;
      }
      p += 4 + ((len + 3) & ~3);
    }
    this.interfaces.push(info);
  }

  private readInterfaceStatistics(buf: Buffer, pos: number, total: number, le: boolean): void {
    const info = this.interfaces[this.sectionBase + readU32(buf, pos + 8, le)];
    if (info === undefined) return;
    const optsEnd = pos + total - 4;
    let p = pos + 20;
    while (p + 4 <= optsEnd) {
      const code = readU16(buf, p, le);
      const len = readU16(buf, p + 2, le);
      if (code === OPT_END || p + 4 + len > optsEnd) break;
      if (len >= 8 && (code === ISB_IFRECV || code === ISB_IFDROP || code === ISB_OSDROP)) {
        const hi = readU32(buf, le ? p + 8 : p + 4, le);
        const lo = readU32(buf, le ? p + 4 : p + 8, le);
        const value = hi * TWO_POW_32 + lo;
        if (code === ISB_IFRECV) info.ifRecv = value;
        else if (code === ISB_IFDROP) info.ifDrop = value;
        else info.osDrop = value;
      }
      p += 4 + ((len + 3) & ~3);
    }
  }

  private closeFd(): void {
    if (!this.fdOpen) return;
    this.fdOpen = false;
    try {
      fs.closeSync(this.fd);
    } catch {
      // Already closed: nothing to release.
    }
  }
}
