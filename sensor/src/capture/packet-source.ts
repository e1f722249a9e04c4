/**
 * One interface for every packet source: classic pcap files, pcapng files and
 * live interfaces. A source fills the shared PacketRecord's capture fields
 * (ts*, capLength, wireLength, interfaceId, linkType, frameNumber, frame,
 * frameOffset) and calls onPacket synchronously; the record and the frame
 * bytes are only valid during that call.
 */
import type { PacketRecord } from '../decode/packet.js';

export interface CaptureStats {
  /** Frames handed to onPacket. */
  packets: number;
  /** Bytes captured (sum of capLength). */
  bytes: number;
  /** libpcap ps_recv (live only; 0 for files). */
  kernelReceived: number;
  /** libpcap ps_drop: dropped by the kernel for lack of buffer space (live only). */
  kernelDrops: number;
  /** libpcap ps_ifdrop: dropped by the interface/driver (live only). */
  ifDrops: number;
  /** True when the backend cannot report kernel counters at all. */
  dropsUnavailable: boolean;
  /** Packets the shared ring had no room for (native ring capture and the parallel sensor only). */
  ringDrops?: number;
}

export interface SourceProgress {
  bytesRead: number;
  /** Total bytes when known (files), else 0. */
  bytesTotal: number;
}

export interface PacketSource {
  readonly kind: 'pcap' | 'pcapng' | 'live';
  /** Human-readable name: file path or interface name. */
  readonly name: string;
  /**
   * Deliver every packet to onPacket, then resolve. File sources read in
   * large chunks and yield to the event loop every few thousand packets so
   * that signals and timers still run. Resolves at end of input or after stop().
   */
  run(rec: PacketRecord, onPacket: (rec: PacketRecord) => void): Promise<void>;
  /** Ask run() to finish as soon as possible (SIGINT/SIGTERM). */
  stop(): void;
  stats(): CaptureStats;
  progress(): SourceProgress;
  /** Non-fatal problems found while reading (e.g. a truncated last record). */
  readonly warnings: string[];
}

/** A file that is not a capture, or a live interface that cannot be opened. */
export class CaptureError extends Error {
  constructor(
    message: string,
    readonly code: 'ENOTCAPTURE' | 'EOPEN' | 'EREAD' | 'ELIVE',
  ) {
    super(message);
    this.name = 'CaptureError';
  }
}
