/**
 * The stream table: RTP streams keyed by (flow, direction, SSRC), with RFC
 * 3550 statistics, idle timeouts and a hard size limit.
 *
 * Streams hang off their flow (flow.streams, usually one or two entries), and
 * the flow caches the last stream of each direction (flow.s0 / flow.s1), so
 * the per-packet lookup is one field read and one SSRC compare; only an SSRC
 * change walks the short array. No hashing, no key building. A global Set
 * lets housekeeping expire streams by capture time.
 *
 * Classification follows Wireshark: an SDP expectation first; otherwise the
 * per-packet heuristic has already accepted the packet, and the stream is
 * reported once it is *confirmed* — two packets in sequence, or any packet of
 * a flow that already carries a confirmed stream — so that one-off noise that
 * happens to look like RTP does not become a stream.
 */
import type { CallTable } from '../calls/call-table.js';
import type { Expectation } from '../calls/expectations.js';
import type { EventEmitter } from '../events/emitter.js';
import type { TunnelSummary } from '../events/types.js';
import type { Flow } from '../flow/flow.js';
import { clockRateOf } from '../app/media/rtp-clock.js';
import { MEDIA_TRANSPORT_NAMES, MediaStream, MediaTransport } from './media-stream.js';
import { FingerprintPublisher, type FingerprintPublisherOptions } from './fingerprint-publisher.js';

export interface StreamTableOptions {
  maxStreams: number;
  /** A stream with no packet for this long is ended as 'idle'. */
  idleTimeoutSec: number;
  /** Cross-sensor fingerprints (only computed when a sink takes them). */
  fingerprints?: Partial<FingerprintPublisherOptions>;
}

export const DEFAULT_STREAM_TABLE_OPTIONS: StreamTableOptions = { maxStreams: 200_000, idleTimeoutSec: 60 };

/** Flow-level facts the media layer marks on a flow it has seen keying on. */
export interface FlowMediaState {
  confirmed: boolean;
  dtls: boolean;
  zrtp: boolean;
}

export interface StreamListener {
  streamStarted(s: MediaStream): void;
  streamEnded(s: MediaStream): void;
}

export class StreamTable {
  readonly active = new Set<MediaStream>();
  listener: StreamListener | null = null;
  readonly evictions = { idle: 0, full: 0 };
  /** Streams never confirmed and dropped without an event (heuristic noise). */
  rejected = 0;
  /** Non-null only when a sink takes fingerprints: the app layer feeds it each RTP packet. */
  readonly fingerprints: FingerprintPublisher | null;
  private nextN = 0;
  private readonly opts: StreamTableOptions;

  constructor(
    private readonly events: EventEmitter,
    private readonly calls: CallTable,
    opts: Partial<StreamTableOptions> = {},
  ) {
    this.opts = { ...DEFAULT_STREAM_TABLE_OPTIONS, ...opts };
    this.fingerprints = events.wantsFingerprints ? new FingerprintPublisher(events, this.opts.fingerprints) : null;
  }

  get size(): number {
    return this.active.size;
  }

  /**
   * Account one RTP packet. `tunnels` is only called when a stream is created.
   * Hot path: a linear scan of the flow's streams, then numeric updates.
   */
  onRtp(
    flow: Flow,
    dir: 0 | 1,
    ssrc: number,
    seq: number,
    rtpTs: number,
    payloadType: number,
    marker: boolean,
    bytes: number,
    ts: number,
    ttl: number,
    transport: MediaTransport,
    describeTunnels: () => TunnelSummary[],
  ): MediaStream | null {
    // One-entry cache per direction: the last stream this direction carried.
    // Without it every packet walks flow.streams (its array object, its
    // elements and each candidate stream: several cache misses with thousands of flows).
    let s = (dir === 0 ? flow.s0 : flow.s1) as MediaStream | null;
    if (s === null || s.ssrc !== ssrc) {
      s = null;
      const list = flow.streams as MediaStream[];
      for (let i = 0; i < list.length; i++) {
        const c = list[i]!;
        // The transport is not part of the key: a TURN client that moves from
        // Send indications to ChannelData after ChannelBind (RFC 8656 §12)
        // continues the same stream, as tshark counts it.
        if (c.ssrc === ssrc && c.dir === dir) {
          s = c;
          break;
        }
      }
      if (s === null) {
        s = this.create(flow, dir, ssrc, transport, ts, describeTunnels);
        if (s === null) return null;
      }
      if (dir === 0) flow.s0 = s;
      else flow.s1 = s;
    }
    if (s.call === null && s.expectationGeneration !== this.calls.expectations.generation) this.classify(s);

    const pt = payloadType;
    if (s.packets === 0) {
      s.firstTs = ts;
      s.firstPayloadType = pt;
    } else if (!s.confirmed) {
      const d = (seq - s.lastSeq) & 0xffff;
      if (d >= 1 && d <= 100) s.confirmed = true;
    }
    s.packets++;
    s.bytes += bytes;
    s.lastTs = ts;
    s.ttl = ttl;
    s.addPayloadType(pt);
    let rate = s.clockRate;
    if (pt !== s.firstPayloadType || rate === 0) rate = this.clockRateFor(s, pt);
    s.update(seq, rtpTs, ts, pt, rate, marker);
    if (!s.started && (s.confirmed || s.classifiedBy === 'sdp' || this.flowConfirmed(flow))) this.start(s);
    return s;
  }

  private flowConfirmed(flow: Flow): boolean {
    const list = flow.streams as MediaStream[];
    for (let i = 0; i < list.length; i++) if (list[i]!.started) return true;
    return false;
  }

  private clockRateFor(s: MediaStream, pt: number): number {
    const e = this.expectationOf(s);
    const dyn = e?.clockRates.get(pt);
    const rate = dyn ?? clockRateOf(pt);
    if (pt === s.firstPayloadType) s.clockRate = rate;
    return rate;
  }

  private expectationOf(s: MediaStream): Expectation | undefined {
    const ex = this.calls.expectations;
    return ex.get(s.dst) ?? ex.get(s.src);
  }

  private classify(s: MediaStream): void {
    s.expectationGeneration = this.calls.expectations.generation;
    // The receiver's endpoint is what SDP announces (RFC 4566 c=/m=); a
    // symmetric-RTP sender uses the same port, so the source may match too.
    const e = this.expectationOf(s);
    if (e && e.kind !== 'udptl' && e.kind !== 'other') {
      s.call = e.call;
      s.classifiedBy = 'sdp';
      if (e.secure) s.encrypted = true;
      s.clockRate = 0;
    }
  }

  private create(
    flow: Flow,
    dir: 0 | 1,
    ssrc: number,
    transport: MediaTransport,
    ts: number,
    describeTunnels: () => TunnelSummary[],
  ): MediaStream | null {
    if (this.active.size >= this.opts.maxStreams) {
      const oldest = this.active.values().next();
      if (oldest.done) return null;
      this.evictions.full++;
      this.end(oldest.value, 'evicted');
    }
    const s = new MediaStream(++this.nextN, flow, dir, ssrc, transport, describeTunnels());
    (flow.streams as MediaStream[]).push(s);
    this.active.add(s);
    void ts;
    return s;
  }

  private start(s: MediaStream): void {
    s.started = true;
    this.listener?.streamStarted(s);
    this.events.emit({
      type: 'stream_started',
      ts: s.firstTs,
      streamId: s.streamId,
      ssrc: s.ssrc,
      src: s.src,
      dst: s.dst,
      callId: s.call?.callId ?? null,
      payloadType: s.firstPayloadType,
      encrypted: s.encrypted,
      classifiedBy: s.classifiedBy,
      transport: MEDIA_TRANSPORT_NAMES[s.transport],
      tunnels: s.tunnels,
      ttl: s.ttl,
    });
  }

  /** End one stream: emit stream_ended if it was ever reported, and unlink it. */
  end(s: MediaStream, reason: string): void {
    if (!this.active.delete(s)) return;
    const list = s.flow.streams as MediaStream[];
    // The flow may have been recycled; only unlink from the flow it belongs to.
    if (s.flow.id === s.flowId) {
      const i = list.indexOf(s);
      if (i >= 0) list.splice(i, 1);
      if (s.flow.s0 === s) s.flow.s0 = null;
      if (s.flow.s1 === s) s.flow.s1 = null;
    }
    // Final fingerprint (started streams only) and the digest record back to the slab.
    if (s.digestRecord >= 0) this.fingerprints?.streamEnded(s);
    if (!s.started) {
      this.rejected++;
      return;
    }
    this.listener?.streamEnded(s);
    this.events.emit({
      type: 'stream_ended',
      ts: s.lastTs,
      streamId: s.streamId,
      ssrc: s.ssrc,
      src: s.src,
      dst: s.dst,
      packets: s.packets,
      bytes: s.bytes,
      lost: s.stats.lost,
      duplicates: s.stats.duplicates,
      reordered: s.stats.reordered,
      callId: s.call?.callId ?? null,
      payloadTypes: s.payloadTypes(),
      encrypted: s.encrypted,
      classifiedBy: s.classifiedBy,
      transport: MEDIA_TRANSPORT_NAMES[s.transport],
      firstTs: s.firstTs,
      lastTs: s.lastTs,
      jitterMs: round3(s.stats.jitterMs),
      maxJitterMs: round3(s.stats.maxJitterMs),
      ttl: s.ttl,
      reason,
    });
  }

  /** End every stream of a flow that is going away. */
  endFlow(flow: Flow, reason: string): void {
    const list = (flow.streams as MediaStream[]).slice();
    for (const s of list) this.end(s, reason);
  }

  expire(now: number): void {
    const limit = this.opts.idleTimeoutSec;
    for (const s of this.active) {
      // Calls learn of media activity here, once a second, not on every packet.
      const c = s.call;
      if (c !== null && s.lastTs > c.lastMediaTs) c.lastMediaTs = s.lastTs;
      // Periodic fingerprints ride on the same once-a-second walk, not on the packet path.
      if (s.digestRecord >= 0) this.fingerprints?.tick(s, now);
      if (now - s.lastTs >= limit) {
        this.evictions.idle++;
        this.end(s, 'idle');
      }
    }
  }

  flush(): void {
    for (const s of [...this.active]) this.end(s, 'end_of_input');
  }
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
