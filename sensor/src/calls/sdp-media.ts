/**
 * Turns one SDP body into what the call table keeps: MediaOffer summaries for
 * events (no keys: only whether SRTP/SDES/DTLS/ZRTP was negotiated) and the
 * endpoints where media is expected (RFC 3264 §5: an SDP says where its
 * author wants to RECEIVE), normalised so that they compare equal to the
 * "ip:port" strings the stream table formats from packets.
 */
import { formatEndpoint, parseAddr } from '../decode/address.js';
import type { MediaOffer } from '../events/types.js';
import { expectedEndpoints, parseSdp } from '../app/sdp/sdp-parser.js';
import type { SdpMedia, SessionDescription } from '../app/sdp/sdp-types.js';

export interface DescribedEndpoint {
  key: string;
  media: string;
  proto: string;
  secure: boolean;
  kind: 'rtp' | 'rtcp' | 'candidate' | 'udptl' | 'other';
  clockRates: Map<number, number>;
}

export interface DescribedSdp {
  offers: MediaOffer[];
  endpoints: DescribedEndpoint[];
  sdp: SessionDescription | null;
}

const scratch = new Uint32Array(4);

/** Canonical "ip:port" (RFC 5952 text for IPv6), or null for hold/unspecified addresses. */
export function endpointKey(address: string, port: number): string | null {
  const v = parseAddr(address, scratch);
  if (v === 0 || port <= 0 || port > 65535) return null;
  if (v === 4 && scratch[0] === 0) return null; // c=0.0.0.0: RFC 3264 §8.4 hold
  if (v === 6 && scratch[0] === 0 && scratch[1] === 0 && scratch[2] === 0 && scratch[3] === 0) return null;
  return formatEndpoint(v, scratch, port);
}

function isSecure(m: SdpMedia): boolean {
  return /SAVP/i.test(m.proto) || m.crypto.length > 0 || m.zrtpHash !== undefined;
}

function keyingOf(m: SdpMedia): MediaOffer['keying'] {
  if (m.crypto.length > 0) return 'sdes';
  if (m.fingerprints.length > 0 && /TLS/i.test(m.proto)) return 'dtls';
  if (m.zrtpHash !== undefined) return 'zrtp';
  return 'none';
}

function kindOf(proto: string): DescribedEndpoint['kind'] {
  if (/udptl/i.test(proto)) return 'udptl';
  if (/RTP/i.test(proto)) return 'rtp';
  return 'other';
}

export function describeSdp(text: string, role: 'offer' | 'answer', party: 'caller' | 'callee', ts: number): DescribedSdp {
  const sdp = parseSdp(text);
  if (!sdp) return { offers: [], endpoints: [], sdp: null };
  const offers: MediaOffer[] = [];
  const endpoints: DescribedEndpoint[] = [];
  const expected = expectedEndpoints(sdp);
  for (let i = 0; i < sdp.media.length; i++) {
    const m = sdp.media[i]!;
    const secure = isSecure(m);
    const clockRates = new Map<number, number>();
    for (const [pt, r] of m.rtpmap) clockRates.set(pt, r.clockRate);
    const mine = expected.filter((e) => e.mediaIndex === i);
    const conn = mine.find((e) => e.source === 'connection');
    offers.push({
      role,
      party,
      ts,
      media: m.media,
      endpoint: conn ? (endpointKey(conn.address, conn.port) ?? `${conn.address}:${conn.port}`) : `${m.connection?.address ?? ''}:${m.port}`,
      proto: m.proto,
      direction: m.direction,
      payloadTypes: m.formats.slice(0, 32),
      secure,
      keying: keyingOf(m),
      candidates: m.candidates.slice(0, 16).map((c) => `${c.address}:${c.port} ${c.type}`),
    });
    for (const e of mine) {
      const kind = e.source === 'candidate' ? 'candidate' : kindOf(e.proto);
      const key = endpointKey(e.address, e.port);
      if (key) endpoints.push({ key, media: m.media, proto: m.proto, secure, kind, clockRates });
      if (e.source === 'connection' && e.rtcpPort !== undefined && !e.rtcpMux && kind === 'rtp') {
        const rk = endpointKey(e.rtcpAddress ?? e.address, e.rtcpPort);
        if (rk) endpoints.push({ key: rk, media: m.media, proto: m.proto, secure, kind: 'rtcp', clockRates });
      }
    }
  }
  return { offers, endpoints, sdp };
}
