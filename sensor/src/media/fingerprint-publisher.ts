/**
 * Publishes a stream_fingerprint (collector/src/ingest/fingerprint.ts owns
 * the format) for every reported RTP stream: every `intervalSec` seconds of
 * capture time while new complete blocks keep arriving, and once more when
 * the stream ends. Each message carries the whole rolling window
 * (stream-fingerprint.ts), because the collector keeps only the latest
 * fingerprint of each (sensor, stream) and joins it with the other sensors'
 * latest: with a 10 s window and a 5 s period, two sensors' latest
 * fingerprints of one stream always share several complete blocks.
 *
 * Exists only when a sink consumes fingerprints (the Kafka output, unless
 * --no-fingerprints): otherwise the stream table holds null and the packet
 * path does not hash anything ("a disabled feature becomes a noop at
 * configuration time").
 *
 * Privacy: a fingerprint holds endpoints, counters, sequence and timestamp
 * ranges and 64-bit digests; no payload byte and no key material.
 */
import type { StreamFingerprint } from '../../../collector/src/ingest/fingerprint.js';
import type { EventEmitter } from '../events/emitter.js';
import type { TunnelSummary } from '../events/types.js';
import type { MediaStream } from './media-stream.js';
import { DigestSlab, FINGERPRINT_BLOCK_SIZE } from './stream-fingerprint.js';

export interface FingerprintPublisherOptions {
  /** Seconds of capture time between two fingerprints of an active stream (default 5). */
  intervalSec: number;
  /** Publish payload digests (default true); false publishes them as null. */
  payloadDigests: boolean;
}

export const DEFAULT_FINGERPRINT_OPTIONS: FingerprintPublisherOptions = { intervalSec: 5, payloadDigests: true };

/** The fingerprint without its envelope (v, type, id, sensor), which the emitter stamps. */
export type FingerprintBody = Omit<StreamFingerprint, 'v' | 'type' | 'id' | 'sensor'>;

export class FingerprintPublisher {
  /** Fingerprints handed to the emitter. */
  published = 0;
  /** Every fingerprinted stream's digests, one record each (stream-fingerprint.ts). */
  readonly slab = new DigestSlab();
  private readonly opts: FingerprintPublisherOptions;

  constructor(
    private readonly events: EventEmitter,
    opts: Partial<FingerprintPublisherOptions> = {},
  ) {
    this.opts = { ...DEFAULT_FINGERPRINT_OPTIONS, ...opts };
  }

  /**
   * Per RTP packet, after the stream table accounted it. `describeTunnels`
   * (the tunnels that are not the sensor's own feed) is called once per
   * stream, when its digest record is allocated.
   */
  onRtp(
    s: MediaStream,
    seq: number,
    rtpTs: number,
    marker: boolean,
    payloadType: number,
    payloadLength: number,
    payloadHash: number,
    describeTunnels: () => TunnelSummary[],
  ): void {
    let rec = s.digestRecord;
    if (rec < 0) {
      // The outermost copy layer is where the packets are really delivered.
      const outer = describeTunnels()[0]?.dst;
      rec = s.digestRecord = this.slab.alloc(outer ? outer : null);
    }
    this.slab.add(rec, seq, rtpTs, marker, payloadType, payloadLength, payloadHash);
  }

  /** Housekeeping (once a second of capture time): publish when due and something new is complete. */
  tick(s: MediaStream, now: number): void {
    const rec = s.digestRecord;
    if (rec < 0 || !s.started || this.slab.completedSincePublish(rec) === 0) return;
    if (now - (this.slab.lastPublishedTs(rec) || s.firstTs) < this.opts.intervalSec) return;
    this.publish(s, rec, now);
  }

  /** The stream ends (idle, evicted, end of input): its final fingerprint if it was reported, and its record is freed. */
  streamEnded(s: MediaStream): void {
    const rec = s.digestRecord;
    if (rec < 0) return;
    if (s.started && this.slab.summary(rec).packets > 0) this.publish(s, rec, Math.max(s.lastTs, this.slab.lastPublishedTs(rec)));
    s.digestRecord = -1;
    this.slab.release(rec);
  }

  /** The message body for a stream now. */
  build(s: MediaStream, rec: number, ts: number): FingerprintBody {
    const d = this.slab.summary(rec);
    return {
      ts,
      streamId: s.streamId,
      ssrc: s.ssrc >>> 0,
      src: s.src,
      dst: s.dst,
      outerDst: d.outerDst,
      callId: s.call?.callId ?? null,
      classifiedBy: s.classifiedBy,
      firstTs: s.firstTs,
      lastTs: s.lastTs,
      packets: s.packets,
      seqFirst: d.seqFirst,
      seqLast: d.seqLast,
      rtpTsFirst: d.rtpTsFirst,
      rtpTsLast: d.rtpTsLast,
      blockSize: FINGERPRINT_BLOCK_SIZE,
      blocks: this.slab.blocks(rec, this.opts.payloadDigests),
    };
  }

  private publish(s: MediaStream, rec: number, ts: number): void {
    this.events.fingerprint(this.build(s, rec, ts));
    this.slab.markPublished(rec, ts);
    this.published++;
  }
}
