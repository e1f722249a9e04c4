/**
 * Live capture through the native capture thread (sensor/native/tapcap.c
 * startRing): a pthread loops pcap_dispatch and writes every packet into the
 * shared ring of sensor/src/parallel/ring-layout.ts. No JavaScript runs per
 * packet, nor per kernel batch, on the capture side; a JavaScript stall (GC,
 * a slow heuristic, a busy core) is absorbed by the ring as well as by the
 * kernel buffer, and a full ring is counted (CTL_RING_DROPS), never silent.
 *
 *  - NativeRingProducer: the producer alone, for the worker_threads shards
 *    (parallel-sensor.ts) that consume the same ring.
 *  - RingLiveSource: a PacketSource for one in-process consumer (the main
 *    thread reads the ring): `--capture-backend ring`.
 */
import type { PacketRecord } from '../decode/packet.js';
import { createRing, type RingBuffers } from '../parallel/ring-producer.js';
import { RingConsumer } from '../parallel/ring-consumer.js';
import { CTL_CLOSED, CTL_RING_DROPS } from '../parallel/ring-layout.js';
import { CaptureError, type CaptureStats, type PacketSource, type SourceProgress } from './packet-source.js';
import { loadTapcapAddon, openTapcap, type LiveCaptureOptions, type TapcapHandle } from './live-capture.js';

/** How often the capture thread copies pcap_stats into the control block (ms). */
const KERNEL_STATS_INTERVAL_MS = 100;

/** Capture counters plus the ring's own drops. */
export interface RingCaptureStats extends CaptureStats {
  /** Packets the ring had no room for (the slowest consumer was behind). */
  ringDrops: number;
}

export class NativeRingProducer {
  readonly name: string;
  readonly linkType: number;
  /** The BPF filter in force ('' for none). */
  readonly filter: string;
  readonly warnings: string[] = [];
  private readonly handle: TapcapHandle;
  private ctl: Int32Array | null = null;
  private open = true;
  private running = false;
  private last = { received: 0, dropped: 0, ifDropped: 0 };

  /** Opens the device (throws CaptureError ELIVE when it cannot, or when the addon is not built). */
  constructor(opts: LiveCaptureOptions) {
    this.name = opts.device;
    const addon = loadTapcapAddon();
    if (addon === null) throw new CaptureError(`cannot capture on ${opts.device} with the native ring: the tapcap addon is not built`, 'ELIVE');
    const opened = openTapcap(addon, opts);
    this.handle = opened.handle;
    this.linkType = opened.linkType;
    this.filter = opened.filter;
    this.warnings.push(...opened.warnings);
  }

  /** Start the capture thread. CTL_CONSUMERS must already be set (createRing does). */
  start(ring: RingBuffers): void {
    if (this.running || !this.open) throw new Error(`${this.name}: native ring producer already started or closed`);
    this.ctl = new Int32Array(ring.control);
    this.handle.startRing(this.ctl, new Uint8Array(ring.data), { statsIntervalMs: KERNEL_STATS_INTERVAL_MS });
    this.running = true;
  }

  /** Stop the thread (it drains the kernel buffer and sets CTL_CLOSED), keep the last kernel counters, close the handle. */
  stop(): void {
    if (!this.open) return;
    if (this.running) this.handle.stopRing();
    this.running = false;
    this.refresh();
    this.handle.close();
    this.open = false;
  }

  private refresh(): void {
    if (!this.open) return;
    const s = this.handle.stats();
    if (s !== null) this.last = s;
  }

  /** Kernel counters as doubles (the control block holds them modulo 2^32) and the ring's drops. */
  kernelStats(): { received: number; dropped: number; ifDropped: number; ringDrops: number } {
    this.refresh();
    const ringDrops = this.ctl === null ? 0 : Atomics.load(this.ctl, CTL_RING_DROPS) >>> 0;
    return { ...this.last, ringDrops };
  }
}

/** Records per poll before the loop checks for stop() and yields to timers and I/O. */
const RECORDS_PER_POLL = 4096;
/** Polls per turn of the event loop while the ring has data. */
const POLLS_PER_TURN = 8;
/**
 * Sleep between polls of an empty ring (ms): the native producer cannot wake
 * JavaScript, so an idle consumer polls. It starts at 1 ms and doubles while
 * the ring stays empty, up to 8 ms: at 200,000 packets/s of G.711 that is
 * about 400 KB of backlog, nothing for a 64 MiB ring, and an idle sensor
 * wakes 125 times a second instead of 1,000.
 */
const IDLE_SLEEP_MIN_MS = 1;
const IDLE_SLEEP_MAX_MS = 8;
/** Ring size of the single-consumer source: as large as the default libpcap buffer, which it stands behind. */
export const RING_LIVE_SOURCE_BYTES = 64 * 1024 * 1024;

/** A live PacketSource whose capture runs on the native thread and whose one consumer is this thread. */
export class RingLiveSource implements PacketSource {
  readonly kind = 'live' as const;
  readonly name: string;
  readonly linkType: number;
  readonly filter: string;
  private readonly producer: NativeRingProducer;
  private readonly ring: RingBuffers;
  private readonly consumer: RingConsumer;
  private stopped = false;
  private running = false;
  private bytes = 0;

  constructor(opts: LiveCaptureOptions, ringBytes = RING_LIVE_SOURCE_BYTES) {
    this.producer = new NativeRingProducer(opts);
    this.name = opts.device;
    this.linkType = this.producer.linkType;
    this.filter = this.producer.filter;
    this.ring = createRing(1, ringBytes);
    this.consumer = new RingConsumer(this.ring, 0);
  }

  get warnings(): string[] {
    return this.producer.warnings;
  }

  run(rec: PacketRecord, onPacket: (rec: PacketRecord) => void): Promise<void> {
    if (this.running || this.stopped) {
      this.producer.warnings.push(`${this.name}: run() called on a source that already ran`);
      return Promise.resolve();
    }
    this.running = true;
    this.producer.start(this.ring);
    const consumer = this.consumer;
    const ctl = new Int32Array(this.ring.control);
    const count = (r: PacketRecord): void => {
      this.bytes += r.capLength;
      onPacket(r);
    };
    let idleSleep = IDLE_SLEEP_MIN_MS;
    return new Promise<void>((resolve) => {
      const turn = (): void => {
        let got = 0;
        for (let i = 0; i < POLLS_PER_TURN; i++) {
          const n = consumer.poll(rec, count, RECORDS_PER_POLL);
          got += n;
          if (n < RECORDS_PER_POLL) break;
        }
        if (this.stopped && Atomics.load(ctl, CTL_CLOSED) === 1 && consumer.backlog() === 0) {
          resolve();
          return;
        }
        if (got > 0) {
          idleSleep = IDLE_SLEEP_MIN_MS;
          setImmediate(turn);
        } else {
          setTimeout(turn, idleSleep);
          idleSleep = Math.min(IDLE_SLEEP_MAX_MS, idleSleep * 2);
        }
      };
      turn();
    });
  }

  /** Stop capturing; run() resolves once what the thread captured has been delivered. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.producer.stop();
  }

  stats(): RingCaptureStats {
    const k = this.producer.kernelStats();
    return {
      packets: this.consumer.packets,
      bytes: this.bytes,
      kernelReceived: k.received,
      kernelDrops: k.dropped,
      ifDrops: k.ifDropped,
      dropsUnavailable: false,
      ringDrops: k.ringDrops,
    };
  }

  progress(): SourceProgress {
    return { bytesRead: this.bytes, bytesTotal: 0 };
  }
}
