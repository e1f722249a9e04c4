/**
 * One RTP stream: an SSRC in one direction of one transport flow (tshark's
 * rtpstream_id: addresses, ports and SSRC). SSRC alone is never a key:
 * unrelated flows can share one (RFC 3550 §8.1 collisions, and the corpus has
 * the same SSRC on two ports).
 *
 * Memory budget (target: <= 1 KB of state per active stream, counting the
 * stream, its share of the flow and its share of the call). Measured with
 * --expose-gc heapUsed deltas, Node 20 x64 (no pointer compression):
 *   - the stream itself: ~900 B of heap. The object (~45 fields of RtpStats
 *     and MediaStream, ~390 B); ~11 doubles that V8 keeps in separate 16-byte
 *     heap boxes (~180 B: every double field is boxed); its entry in the
 *     table's `active` Set; the `tunnels` array; and the flow.streams backing
 *     store (a first push allocates room for 17 entries, ~150 B, shared by
 *     the flow's streams). src/dst are the flow's cached endpoint strings.
 *   - its flow: ~495 B of heap + ~140 B of table arrays (flow-table.ts), shared
 *     by the one or two streams of the flow;
 *   - its call: on the 2M-packet bench capture (2 streams and 2 flows per call,
 *     SIP flow included, detection off) heapUsed / streams in the table is
 *     ~5.1 KB, i.e. ~3.7 KB per stream is call and SIP state: the Call's five
 *     Sets (hops, dsts, tags, expectation keys, retransmission keys), media
 *     offers, four expectations per call, Call-ID sets, and header strings
 *     that are slices of whole SIP header texts (V8 sliced strings keep their
 *     parent text alive).
 * So stream + flow share is ~1.2 KB (two streams per flow) to ~1.4 KB (one),
 * already a little over the target, and the call side puts the total at ~5 KB.
 * Next steps, in order of payoff:
 * copy retained SIP strings out of their message text (or parse header
 * values straight from the bytes), keep RtpStats' doubles in a typed-array
 * slab instead of boxed fields (also saves ~5 cache misses per packet), and
 * size flow.streams for two entries.
 */
import type { Call } from '../calls/call.js';
import type { Flow } from '../flow/flow.js';
import { RtpStats } from '../app/media/rtp-stats.js';
import type { TunnelSummary } from '../events/types.js';

/** How the RTP reached the sensor inside its flow (tshark reports the outer endpoints in every case). */
export const enum MediaTransport {
  Udp = 0,
  Tcp = 1, // RFC 4571 framing
  TurnChannel = 2, // RFC 8656 ChannelData
  TurnIndication = 3, // RFC 8656 Send/Data indication DATA attribute
}

export const MEDIA_TRANSPORT_NAMES = ['udp', 'tcp', 'turn-channel', 'turn-indication'] as const;

/**
 * The stream IS its RTP statistics (it extends RtpStats rather than holding
 * one): one object per stream instead of two, so the per-packet path touches
 * one cache line fewer — the sensor is memory-bound with thousands of streams.
 */
export class MediaStream extends RtpStats {
  /** Monotone stream number; the event id is `${flowId}-${dir}-${ssrc}-${n}`. */
  readonly n: number;
  readonly flowId: number;
  readonly src: string;
  readonly dst: string;
  call: Call | null = null;
  classifiedBy: 'sdp' | 'heuristic' = 'heuristic';
  /** Expectation-table generation at the last lookup; a change allows one more lookup. */
  expectationGeneration = -1;
  /** SRTP known from SDP, keying seen on the flow, or payload entropy. */
  encrypted = false;
  /** Emitted stream_started (SDP-classified, or heuristic and confirmed). */
  started = false;
  /** Enough in-sequence packets that this is RTP and not noise that passed the per-packet test. */
  confirmed = false;
  packets = 0;
  bytes = 0;
  firstTs = 0;
  lastTs = 0;
  ttl = 0;
  firstPayloadType = -1;
  /** Payload types seen, as a 128-bit set in four words. */
  pt0 = 0;
  pt1 = 0;
  pt2 = 0;
  pt3 = 0;
  clockRate = 0;
  tunnels: TunnelSummary[];
  /** Record of this stream's rolling block digests in the publisher's slab (fingerprint-publisher.ts); -1 when none. */
  digestRecord = -1;

  /** RFC 3550 statistics of the stream (the stream itself; see the class comment). */
  get stats(): RtpStats {
    return this;
  }

  constructor(
    n: number,
    readonly flow: Flow,
    readonly dir: 0 | 1,
    readonly ssrc: number,
    readonly transport: MediaTransport,
    tunnels: TunnelSummary[],
  ) {
    super();
    this.n = n;
    this.flowId = flow.id;
    // Formatted once per stream, never per packet.
    this.src = dir === 0 ? flow.aEndpoint() : flow.bEndpoint();
    this.dst = dir === 0 ? flow.bEndpoint() : flow.aEndpoint();
    this.tunnels = tunnels;
  }

  get streamId(): string {
    return `${this.flowId}-${this.dir}-${this.ssrc.toString(16)}-${this.n}`;
  }

  addPayloadType(pt: number): void {
    const bit = 1 << (pt & 31);
    switch (pt >>> 5) {
      case 0: this.pt0 |= bit; break;
      case 1: this.pt1 |= bit; break;
      case 2: this.pt2 |= bit; break;
      default: this.pt3 |= bit; break;
    }
  }

  payloadTypes(): number[] {
    const out: number[] = [];
    const words = [this.pt0, this.pt1, this.pt2, this.pt3];
    for (let w = 0; w < 4; w++) for (let b = 0; b < 32; b++) if (words[w]! & (1 << b)) out.push(w * 32 + b);
    return out;
  }
}
