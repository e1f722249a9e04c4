/**
 * What detectors see: typed observations built by the app layer and the call
 * and stream tables. No raw bytes cross this boundary (Suricata's rule:
 * detection never parses) — only header fields, digests, endpoints and the
 * call and stream objects. Per-packet observations are ONE reused object each;
 * a detector that keeps anything copies the numbers it needs.
 */
import type { Call } from '../calls/call.js';
import type { MediaStream } from '../media/media-stream.js';
import type { SipMessage } from '../app/sip/sip-message.js';
import type { SessionDescription } from '../app/sdp/sdp-types.js';
import type { MediaOffer, TunnelSummary } from '../events/types.js';

/** One RTP packet, after the stream table accounted it. */
export class RtpObservation {
  stream!: MediaStream;
  /** Capture time, seconds. */
  ts = 0;
  seq = 0;
  rtpTs = 0;
  payloadType = 0;
  marker = false;
  /** Bytes of the RTP packet (header + payload + padding). */
  length = 0;
  payloadLength = 0;
  csrcCount = 0;
  /**
   * 32-bit digest of the RTP header and payload bytes. Equal digests on two
   * streams mean the same packet bytes (within hash collisions, which the
   * detectors guard against by also comparing SSRC, sequence and timestamp).
   */
  digest = 0;
  /** 32-bit digest of the payload only (a relay that rewrites SSRC/seq keeps it). */
  payloadDigest = 0;
  ipId = 0;
  ipChecksum = 0;
  ttl = 0;
  /** Source and destination MAC as numbers (48-bit, exact in a double), -1 when unknown. */
  srcMac = -1;
  dstMac = -1;
  /**
   * Tunnels around this packet that are NOT the sensor's own feed (policy),
   * outermost first; 0 for a plain packet.
   */
  tunnelDepth = 0;
  /** How the RTP reached the sensor inside its flow: 0 udp, 1 tcp, 2 turn-channel, 3 turn-indication. */
  transport = 0;
  /** Outermost non-feed tunnel's kind name and destination "ip:port" (port 0 when none), or '' — computed lazily. */
  tunnelKind = '';
  tunnelDst = '';
  tunnelDstIp = '';
  /** Lazily describes the whole tunnel stack of the current packet (allocates; call once per finding). */
  describeTunnels: () => TunnelSummary[] = () => [];
}

/** One SIP message, after the call table processed it. */
export interface SipObservation {
  ts: number;
  call: Call | null;
  msg: SipMessage;
  /** Packet endpoints "ip:port" and IPs of the (inner) SIP message. */
  src: string;
  dst: string;
  srcIp: string;
  dstIp: string;
  transport: string;
  /** Digest of the message identity (start line, Call-ID, CSeq, Via branch, From/To tags, body length). */
  digest: number;
  retransmission: boolean;
  /** Tunnels around the message that are not the sensor's own feed. */
  tunnels: TunnelSummary[];
  /** IP header facts of the (inner) packet, to tell a TEE/nft-dup copy (same packet, other next hop) from a SPAN double. */
  ttl: number;
  ipId: number;
  /** Source and destination MAC as 48-bit numbers, -1 when the frame has no Ethernet header. */
  srcMac: number;
  dstMac: number;
}

/** One SDP body seen in a SIP message of a call. */
export interface SdpObservation {
  ts: number;
  call: Call;
  party: 'caller' | 'callee';
  role: 'offer' | 'answer';
  sdp: SessionDescription;
  offers: MediaOffer[];
  /** The SIP message's endpoints: the leg this SDP travelled on. */
  src: string;
  dst: string;
  transport: string;
  method: string;
  statusCode: number;
}

/** A DTLS certificate seen on a media flow (DTLS 1.2 sends it in clear). */
export interface DtlsObservation {
  ts: number;
  /** The flow endpoints: sender of the certificate, and receiver. */
  src: string;
  dst: string;
  /** The call whose SDP announced either endpoint, if any. */
  call: Call | null;
  /** 'sha-256' -> upper-case colon hex, for every hash function an SDP of the call uses. */
  fingerprints: Map<string, string>;
  /** DTLS 1.3 seen: the certificate is encrypted and cannot be verified. */
  dtls13: boolean;
}

/** A ZRTP Hello seen on a media flow. */
export interface ZrtpObservation {
  ts: number;
  src: string;
  dst: string;
  call: Call | null;
  /** SHA-256 of the Hello message as a=zrtp-hash defines it (RFC 6189 §8.1), lower-case hex. */
  helloHash: string;
  version: string;
  /** The M flag: a declared trusted MiTM (PBX). */
  mitm: boolean;
}

/**
 * An RTP packet (or IP packet carrying RTP) found embedded at a small offset
 * inside another UDP or TCP payload that is not itself media: a lawful-
 * intercept or mirroring encapsulation (PacketCable/CCC, jmirror, IP-in-UDP,
 * X3...). The outer endpoints are where the copy goes.
 */
export interface EmbeddedRtpObservation {
  ts: number;
  /** Outer flow endpoints. */
  outerSrc: string;
  outerDst: string;
  outerDstIp: string;
  outerProto: 'udp' | 'tcp';
  /** Byte offset of the embedded RTP (or IP) header inside the outer payload. */
  offset: number;
  /** What was recognised at the offset: 'rtp' or 'ip'. */
  embedded: 'rtp' | 'ip';
  /** A name for the wrapper when the offset/port fits a known one: 'packetcable', 'jmirror', 'x3', 'ip-in-udp', 'unknown'. */
  wrapper: string;
  ssrc: number;
  seq: number;
  rtpTs: number;
  digest: number;
  /** The stream the embedded packet duplicates, when one matches (same SSRC, seq close). */
  matched: MediaStream | null;
}

/**
 * An ARP packet's sender (RFC 826: sender hardware and protocol address):
 * which IP a MAC belongs to, so that a copy handed to another next hop
 * (nft dup, iptables TEE) can be named by IP, not only by MAC.
 */
export interface ArpObservation {
  ts: number;
  /** Sender MAC as a 48-bit number. */
  mac: number;
  ip: string;
}
