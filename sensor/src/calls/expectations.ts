/**
 * Where SDP said media will arrive (Wireshark's packet-sdp.c registers the
 * RTP address and port it expects; classification by expectation comes first
 * and heuristics only second). Keys are "ip:port" strings as formatEndpoint
 * prints them; lookups happen once per new stream, never per packet.
 */
import type { Call } from './call.js';

export interface Expectation {
  call: Call;
  party: 'caller' | 'callee';
  media: string;
  proto: string;
  /** SRTP profile or keying was negotiated for this endpoint. */
  secure: boolean;
  /** 'rtp' | 'rtcp' | 'candidate' | 'udptl' (T.38) | 'other'. */
  kind: 'rtp' | 'rtcp' | 'candidate' | 'udptl' | 'other';
  /** Clock rates of dynamic payload types from a=rtpmap (RFC 4566 §6). */
  clockRates: Map<number, number>;
  ts: number;
}

export class ExpectationTable {
  private readonly byEndpoint = new Map<string, Expectation>();
  /** Bumped on every change so streams can cheaply tell whether a re-lookup may help. */
  generation = 0;
  /**
   * Told of every endpoint that enters or leaves the table (the parallel
   * sensor's ownership index mirrors it with numeric keys so that routing a
   * media packet builds no string). Null, and free, when single-threaded.
   */
  observer: { added(key: string, e: Expectation): void; removed(key: string, e: Expectation): void } | null = null;

  constructor(private readonly maxEntries = 1 << 20) {}

  get size(): number {
    return this.byEndpoint.size;
  }

  add(key: string, e: Expectation): void {
    if (this.byEndpoint.size >= this.maxEntries && !this.byEndpoint.has(key)) {
      // Oldest-first eviction: Map iterates in insertion order.
      const first = this.byEndpoint.entries().next();
      if (!first.done) {
        this.byEndpoint.delete(first.value[0]);
        this.observer?.removed(first.value[0], first.value[1]);
      }
    }
    // The latest SDP for an endpoint wins (re-INVITE, port reuse by an SBC).
    this.byEndpoint.delete(key);
    this.byEndpoint.set(key, e);
    e.call.expectationKeys.add(key);
    this.observer?.added(key, e);
    this.generation++;
  }

  get(key: string): Expectation | undefined {
    return this.byEndpoint.get(key);
  }

  /** Remove every expectation still owned by this call. */
  removeCall(call: Call): void {
    for (const key of call.expectationKeys) {
      const e = this.byEndpoint.get(key);
      if (e && e.call === call) {
        this.byEndpoint.delete(key);
        this.observer?.removed(key, e);
      }
    }
    call.expectationKeys.clear();
    this.generation++;
  }
}
