/**
 * Live capture on an interface, through libpcap (pcap(3PCAP), pcap-filter(7)).
 *
 * Two backends:
 *  - 'tapcap' (default): our own N-API addon, sensor/native/tapcap.c. It
 *    copies up to a few thousand packets per call into one reused Buffer as
 *    [tsSec][tsFrac][caplen][wirelen][bytes padded to 4] records (u32 LE), so
 *    JavaScript runs once per batch. A libuv poll on pcap_get_selectable_fd()
 *    wakes us when packets are readable; stats() reads pcap_stats() for the
 *    kernel's received/dropped/interface-dropped counters. Timestamps are
 *    nanosecond where the kernel offers it (pcap_set_tstamp_precision).
 *  - 'cap': the `cap` npm package. It calls JavaScript once per packet, gives
 *    neither the capture timestamp nor the original length, always uses
 *    snaplen 65535 and promiscuous mode, and has no pcap_stats: timestamps are
 *    taken when the callback runs, wireLength = capLength, and stats() says
 *    dropsUnavailable. Kept as a fallback for hosts where the addon was not
 *    built.
 * Why our own addon rather than the `pcap` package's session.stats(): see the
 * header of tapcap.c (a native capture thread writing into a
 * SharedArrayBuffer ring comes next, and needs a binding we own).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { PacketRecord } from '../decode/packet.js';
import { CaptureError, type CaptureStats, type PacketSource, type SourceProgress } from './packet-source.js';
import { readU32 } from './byte-order.js';
import {
  DEFAULT_BUFFER_MIB,
  DEFAULT_IMMEDIATE,
  DEFAULT_READ_TIMEOUT_MS,
  DEFAULT_SNAPLEN,
  defaultFilterCandidates,
} from './capture-options.js';
import {
  LINKTYPE_ETHERNET,
  LINKTYPE_LINUX_SLL,
  LINKTYPE_NULL,
  LINKTYPE_RAW,
} from './link-types.js';

export interface LiveCaptureOptions {
  /** Interface name, e.g. 'eth0', 'lo', 'any'. */
  device: string;
  /**
   * BPF filter (pcap-filter(7)); compiled with optimisation. Empty: everything.
   * Absent: everything, unless voipFilter is set (the CLI sets it).
   */
  filter?: string;
  /** With no `filter`: use the VoIP default filter (capture-options.ts VOIP_BPF_FILTER, with fallbacks per link type). */
  voipFilter?: boolean;
  /** Bytes kept per packet. Default 65535 (capture-options.ts says why). */
  snaplen?: number;
  /** Kernel ring size in MiB (pcap_set_buffer_size). Default 64 (capture-options.ts: how to size it). */
  bufferSizeMiB?: number;
  /** Default true: a mirror port delivers frames for other MACs. */
  promiscuous?: boolean;
  /** Deliver each packet as it arrives (pcap_set_immediate_mode) rather than a kernel block at a time. Default false. */
  immediate?: boolean;
  /** Default 'tapcap'; falls back to 'cap' with a warning when the addon is not built. */
  backend?: 'tapcap' | 'cap';
}

export { VOIP_BPF_FILTER, VOIP_BPF_FILTER_NO_VLAN, VOIP_BPF_FILTER_IP_ONLY } from './capture-options.js';

/** Packets per native call: amortises the JS<->C transition without monopolising the loop. */
const MAX_PACKETS_PER_DISPATCH = 4096;
/** Batches per wake-up before giving timers and I/O a turn (the fd stays readable, so we are called again). */
const MAX_BATCHES_PER_WAKEUP = 16;
/** Safety net in case a wake-up is missed (e.g. non-immediate mode on an idle link). */
const POLL_FALLBACK_MS = 250;

/** The addon's JavaScript surface (sensor/native/tapcap.c). */
export interface TapcapHandle {
  open(
    device: string,
    opts: { snaplen: number; bufferSize: number; promisc: boolean; immediate: boolean; timeoutMs: number; filter: string },
  ): number;
  dispatch(buffer: Buffer, maxPackets: number): number;
  fd(): number;
  watch(callback: () => void): void;
  unwatch(): void;
  stats(): { received: number; dropped: number; ifDropped: number } | null;
  tstampPrecision(): number;
  lastError(): string;
  /** Start the native capture thread writing into the shared ring (sensor/src/parallel/ring-layout.ts). */
  startRing(ctl: Int32Array, data: Uint8Array, opts?: { statsIntervalMs?: number }): void;
  /** Stop and join it; CTL_CLOSED becomes 1. */
  stopRing(): void;
  close(): void;
}
export interface TapcapAddon {
  Tapcap: new () => TapcapHandle;
  libVersion(): string;
}

const require = createRequire(import.meta.url);
let addonCache: TapcapAddon | null | undefined;
let addonLoadError = '';

/**
 * Find sensor/native/build/Release/tapcap.node from this file, whether it runs
 * from sensor/src/capture (tests) or dist/sensor/src/capture (built).
 * TAPCAP_ADDON overrides the path.
 */
export function loadTapcapAddon(): TapcapAddon | null {
  if (addonCache !== undefined) return addonCache;
  const candidates: string[] = [];
  if (process.env.TAPCAP_ADDON) candidates.push(process.env.TAPCAP_ADDON);
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    candidates.push(path.join(dir, 'sensor/native/build/Release/tapcap.node'));
    candidates.push(path.join(dir, 'native/build/Release/tapcap.node'));
    dir = path.dirname(dir);
  }
  addonLoadError = 'tapcap.node not found (build it with `node sensor/native/build.mjs`)';
  for (const file of candidates) {
    if (!fs.existsSync(file)) continue;
    try {
      addonCache = require(file) as TapcapAddon;
      return addonCache;
    } catch (err) {
      addonLoadError = `cannot load ${file}: ${(err as Error).message}`;
    }
  }
  addonCache = null;
  return null;
}

function liveError(device: string, err: unknown): CaptureError {
  const e = err as Error & { code?: string };
  const detail = e.code && e.code !== 'ELIVE' ? ` [${e.code}]` : '';
  const ce = new CaptureError(`cannot capture on ${device}: ${e.message}${detail}`, 'ELIVE');
  ce.cause = err;
  return ce;
}

/** An open tapcap handle and what was chosen for it. */
export interface OpenedTapcap {
  handle: TapcapHandle;
  linkType: number;
  /** The filter in force ('' for none). */
  filter: string;
  warnings: string[];
}

/**
 * Open `opts.device` with the addon, applying the options and their
 * defaults. With no filter and voipFilter set, tries the default VoIP filter
 * and its fallbacks for link types that reject `vlan`/`mpls` or `arp`.
 * Throws CaptureError('ELIVE').
 */
export function openTapcap(addon: TapcapAddon, opts: LiveCaptureOptions): OpenedTapcap {
  const warnings: string[] = [];
  const candidates = opts.filter !== undefined ? [opts.filter] : opts.voipFilter ? defaultFilterCandidates(opts.device) : [''];
  const settings = {
    snaplen: opts.snaplen ?? DEFAULT_SNAPLEN,
    bufferSize: Math.round((opts.bufferSizeMiB ?? DEFAULT_BUFFER_MIB) * 1024 * 1024),
    promisc: opts.promiscuous ?? true,
    immediate: opts.immediate ?? DEFAULT_IMMEDIATE,
    timeoutMs: DEFAULT_READ_TIMEOUT_MS,
  };
  let lastErr: unknown = null;
  for (let i = 0; i < candidates.length; i++) {
    const handle = new addon.Tapcap();
    try {
      const linkType = handle.open(opts.device, { ...settings, filter: candidates[i]! });
      if (i > 0) warnings.push(`${opts.device}: link type ${linkType} rejects part of the default filter; using a reduced VoIP filter`);
      return { handle, linkType, filter: candidates[i]!, warnings };
    } catch (err) {
      lastErr = err;
      // Only a default filter that does not compile for this link type is worth another try.
      if ((err as { code?: string }).code !== 'EFILTER' || opts.filter !== undefined) break;
    }
  }
  throw liveError(opts.device, lastErr);
}

/** Open a live capture. Throws CaptureError('ELIVE') when the interface cannot be opened or the filter does not compile. */
export function openLiveCapture(opts: LiveCaptureOptions): PacketSource {
  const backend = opts.backend ?? 'tapcap';
  if (backend === 'tapcap') {
    const addon = loadTapcapAddon();
    if (addon !== null) return new TapcapLiveSource(addon, opts);
    const src = new CapLiveSource(opts);
    src.warnings.push(`tapcap addon unavailable (${addonLoadError}); using the cap backend without kernel drop counters`);
    return src;
  }
  return new CapLiveSource(opts);
}

function emptyStats(dropsUnavailable: boolean): CaptureStats {
  return { packets: 0, bytes: 0, kernelReceived: 0, kernelDrops: 0, ifDrops: 0, dropsUnavailable };
}

class TapcapLiveSource implements PacketSource {
  readonly kind = 'live' as const;
  readonly name: string;
  /** The BPF filter in force ('' for none). */
  readonly filter: string;
  readonly warnings: string[] = [];
  readonly linkType: number;
  private readonly handle: TapcapHandle;
  private readonly nsPerUnit: number;
  private readonly batch: Buffer;
  private readonly counters = emptyStats(false);
  private open = true;
  private stopped = false;
  private running = false;
  private finish: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private rec: PacketRecord | null = null;
  private onPacket: ((rec: PacketRecord) => void) | null = null;

  constructor(addon: TapcapAddon, opts: LiveCaptureOptions) {
    this.name = opts.device;
    const snaplen = opts.snaplen ?? DEFAULT_SNAPLEN;
    const opened = openTapcap(addon, opts);
    this.handle = opened.handle;
    this.linkType = opened.linkType;
    this.filter = opened.filter;
    this.warnings.push(...opened.warnings);
    this.nsPerUnit = this.handle.tstampPrecision() === 1e9 ? 1 : 1000;
    // Room for a full batch of small packets, and always for one maximal packet.
    this.batch = Buffer.allocUnsafe(Math.max(4 * 1024 * 1024, 16 + ((snaplen + 3) & ~3)));
  }

  run(rec: PacketRecord, onPacket: (rec: PacketRecord) => void): Promise<void> {
    if (this.running || this.stopped) {
      this.warnings.push(`${this.name}: run() called on a source that already ran`);
      return Promise.resolve();
    }
    this.running = true;
    this.rec = rec;
    this.onPacket = onPacket;
    return new Promise<void>((resolve) => {
      this.finish = resolve;
      const drain = (): void => this.drain();
      this.handle.watch(drain);
      this.timer = setInterval(drain, POLL_FALLBACK_MS);
      drain();
    });
  }

  /** Read what the kernel has, in batches; deliver each packet to onPacket. */
  private drain(): void {
    const rec = this.rec!;
    const onPacket = this.onPacket!;
    const buf = this.batch;
    const nsPerUnit = this.nsPerUnit;
    const linkType = this.linkType;
    const c = this.counters;
    for (let batch = 0; batch < MAX_BATCHES_PER_WAKEUP && !this.stopped; batch++) {
      const n = this.handle.dispatch(buf, MAX_PACKETS_PER_DISPATCH);
      if (n === 0) return; // kernel ring empty for now
      if (n < 0) {
        this.warnings.push(`${this.name}: capture failed: ${this.handle.lastError()}`);
        this.close();
        return;
      }
      let p = 0;
      for (let i = 0; i < n; i++) {
        const tsSec = readU32(buf, p, true);
        const tsNsec = readU32(buf, p + 4, true) * nsPerUnit;
        const capLength = readU32(buf, p + 8, true);
        rec.tsSec = tsSec;
        rec.tsNsec = tsNsec;
        rec.ts = tsSec + tsNsec / 1e9;
        rec.capLength = capLength;
        rec.wireLength = readU32(buf, p + 12, true);
        rec.interfaceId = 0;
        rec.linkType = linkType;
        rec.frameNumber = ++c.packets;
        rec.frame = buf;
        rec.frameOffset = p + 16;
        c.bytes += capLength;
        p += 16 + ((capLength + 3) & ~3);
        onPacket(rec);
        if (this.stopped) return;
      }
    }
  }

  /**
   * Stop capturing. A running capture first drains what the kernel holds:
   * with TPACKET_V3 (immediate mode off) the last packets before a SIGTERM sit
   * in a partly filled block that the kernel hands over only when the block
   * timeout (the read timeout) expires, so read once more after one timeout
   * plus a margin before closing; otherwise a call's BYE could be lost.
   */
  stop(): void {
    if (this.stopped || this.stopping) return;
    if (!this.running || !this.open) {
      this.close();
      return;
    }
    this.stopping = true;
    this.drain();
    setTimeout(() => {
      this.drain();
      this.close();
    }, DEFAULT_READ_TIMEOUT_MS + 20);
  }

  private stopping = false;

  private close(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    if (this.open) {
      this.refreshKernelCounters();
      this.handle.unwatch();
      this.handle.close();
      this.open = false;
    }
    const finish = this.finish;
    this.finish = null;
    if (finish !== null) finish();
  }

  private refreshKernelCounters(): void {
    if (!this.open) return;
    const s = this.handle.stats();
    if (s === null) return;
    this.counters.kernelReceived = s.received;
    this.counters.kernelDrops = s.dropped;
    this.counters.ifDrops = s.ifDropped;
  }

  stats(): CaptureStats {
    this.refreshKernelCounters();
    return { ...this.counters };
  }

  progress(): SourceProgress {
    return { bytesRead: this.counters.bytes, bytesTotal: 0 };
  }
}

/** cap's link type names (cap/src/binding.cc) back to LINKTYPE_* numbers. */
function capLinkType(name: string): number {
  switch (name) {
    case 'ETHERNET':
      return LINKTYPE_ETHERNET;
    case 'NULL':
      return LINKTYPE_NULL;
    case 'RAW':
      return LINKTYPE_RAW;
    case 'LINKTYPE_LINUX_SLL':
      return LINKTYPE_LINUX_SLL;
    case 'IEEE802_11_RADIO':
      return 127;
    default: {
      const m = /Unknown linktype (\d+)/.exec(name);
      // On Linux pcap_datalink() already returns LINKTYPE values for the rest (e.g. 276 SLL2).
      return m ? Number(m[1]) : LINKTYPE_ETHERNET;
    }
  }
}

interface CapInstance {
  open(device: string, filter: string, bufSize: number, buffer: Buffer): string;
  on(event: 'packet', cb: (nbytes: number, truncated: boolean) => void): void;
  removeAllListeners(event?: string): void;
  close(): boolean;
}

/**
 * Every Cap object ever created, kept alive on purpose. cap 0.2.1's C++
 * destructor is unsafe: when open() fails after pcap_create (bad filter,
 * missing device) it calls uv_poll_stop on a never-initialised uv_poll_t, and
 * after a successful open()/close() it frees a uv_poll_t that was stopped but
 * never uv_close()d, leaving a dangling entry in libuv's handle queue. Either
 * way a later GC crashes the process ("free(): invalid pointer"). A handle is
 * a few hundred bytes and live captures are opened a handful of times per
 * process, so never freeing them is the cheap fix.
 */
const capInstancesNeverFreed: unknown[] = [];

class CapLiveSource implements PacketSource {
  readonly kind = 'live' as const;
  readonly name: string;
  readonly warnings: string[] = [];
  readonly linkType!: number;
  /** The BPF filter in force ('' for none). */
  readonly filter!: string;
  private readonly cap!: CapInstance;
  private readonly buffer: Buffer;
  private readonly counters = emptyStats(true);
  private stopped = false;
  private running = false;
  private finish: (() => void) | null = null;

  constructor(opts: LiveCaptureOptions) {
    this.name = opts.device;
    let CapCtor: new () => CapInstance;
    try {
      CapCtor = (require('cap') as { Cap: new () => CapInstance }).Cap;
    } catch (err) {
      throw liveError(opts.device, err);
    }
    if (opts.snaplen !== undefined && opts.snaplen !== DEFAULT_SNAPLEN) {
      this.warnings.push(`cap backend: snaplen is fixed at 65535 (asked for ${opts.snaplen})`);
    }
    if (opts.promiscuous === false) this.warnings.push('cap backend: always opens in promiscuous mode');
    if (opts.immediate === true) this.warnings.push('cap backend: immediate mode is always on');
    this.buffer = Buffer.alloc(65535);
    const candidates = opts.filter !== undefined ? [opts.filter] : opts.voipFilter ? defaultFilterCandidates(opts.device) : [''];
    let lastErr: unknown = null;
    for (let i = 0; i < candidates.length; i++) {
      const cap = new CapCtor();
      capInstancesNeverFreed.push(cap);
      try {
        const name = cap.open(opts.device, candidates[i]!, Math.round((opts.bufferSizeMiB ?? DEFAULT_BUFFER_MIB) * 1024 * 1024), this.buffer);
        this.cap = cap;
        this.linkType = capLinkType(name);
        this.filter = candidates[i]!;
        if (i > 0) this.warnings.push(`${opts.device}: link type rejects part of the default filter; using a reduced VoIP filter`);
        return;
      } catch (err) {
        lastErr = err;
        if (opts.filter !== undefined || !/filter|syntax|support/i.test((err as Error).message)) break;
      }
    }
    throw liveError(opts.device, lastErr);
  }

  run(rec: PacketRecord, onPacket: (rec: PacketRecord) => void): Promise<void> {
    if (this.running || this.stopped) {
      this.warnings.push(`${this.name}: run() called on a source that already ran`);
      return Promise.resolve();
    }
    this.running = true;
    const buffer = this.buffer;
    const linkType = this.linkType;
    const c = this.counters;
    const origin = performance.timeOrigin;
    return new Promise<void>((resolve) => {
      this.finish = resolve;
      this.cap.on('packet', (nbytes: number) => {
        if (this.stopped) return;
        // cap hands over no pcap timestamp: the arrival time in JS is the best we have.
        const ms = origin + performance.now();
        const tsSec = Math.floor(ms / 1000);
        rec.tsSec = tsSec;
        rec.tsNsec = Math.floor((ms - tsSec * 1000) * 1e6);
        rec.ts = ms / 1000;
        rec.capLength = nbytes;
        rec.wireLength = nbytes; // cap does not report the original length
        rec.interfaceId = 0;
        rec.linkType = linkType;
        rec.frameNumber = ++c.packets;
        rec.frame = buffer;
        rec.frameOffset = 0;
        c.bytes += nbytes;
        onPacket(rec);
      });
    });
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.cap.removeAllListeners('packet');
    this.cap.close();
    const finish = this.finish;
    this.finish = null;
    if (finish !== null) finish();
  }

  stats(): CaptureStats {
    return { ...this.counters };
  }

  progress(): SourceProgress {
    return { bytesRead: this.counters.bytes, bytesTotal: 0 };
  }
}
