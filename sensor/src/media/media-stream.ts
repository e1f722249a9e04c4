/**
 * One RTP stream: an SSRC in one direction of one transport flow (tshark's
 * rtpstream_id: addresses, ports and SSRC). SSRC alone is never a key:
 * unrelated flows can share one (RFC 3550 §8.1 collisions, and the corpus has
 * the same SSRC on two ports).
 *
 * Memory budget: ~40 numeric/reference fields plus an RtpStats of ~20 numbers,
 * about 400-600 bytes of V8 heap per stream — within the 1 KB per active
 * stream target (measured by `npm run bench`, printed as bytes per stream).
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
