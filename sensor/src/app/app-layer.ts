/**
 * The application layer: decides what each flow carries and hands payloads to
 * the right parser. Like Wireshark, a flow is classified once and pinned
 * ("once a conversation is recognised it is pinned"), so later packets skip
 * the guessing: SIP by its start line, media by the RFC 7983 first byte
 * (RTP/RTCP 128-191, STUN 0-3, ZRTP 16-19, DTLS 20-63, TURN ChannelData 64-79).
 *
 * Parsers here see payload bytes; what they produce (SIP messages, RTP
 * header numbers) goes to the call and stream tables, which never see bytes.
 */
import type { PacketRecord } from '../decode/packet.js';
import { TUNNEL_KIND_NAMES } from '../decode/packet.js';
import { formatAddr, formatEndpoint } from '../decode/address.js';
import type { WeirdCounters } from '../decode/weird.js';
import type { Flow } from '../flow/flow.js';
import type { CallTable, SipContext } from '../calls/call-table.js';
import type { StreamTable } from '../media/stream-table.js';
import { MediaTransport } from '../media/media-stream.js';
import type { TunnelSummary } from '../events/types.js';
import { looksLikeSip } from './sip/sip-probe.js';
import { parseSipMessage } from './sip/sip-parser.js';
import { SipStreamFramer } from './sip/sip-stream-framer.js';
import { RtpHeader, decodeRtp, looksLikeRtp } from './media/rtp.js';
import { looksLikeRtcp } from './media/rtcp.js';
import { StunRecord, ChannelDataRecord, decodeStun, decodeChannelData, turnTcpFrameLength, rfc4571FrameLength } from './media/stun.js';
import { TcpByteQueue } from './tcp-byte-queue.js';
import { EmbeddedRtpScanner } from './embedded-rtp.js';
import { rtpDigest, sampledDigest } from './media/rtp-digest.js';
import { ShedDecision, type LoadShedder } from '../parallel/load-shedder.js';
import { DtlsFacts, certificateFingerprint, walkDtlsRecords } from './media/dtls.js';
import { ZrtpRecord, decodeZrtp, zrtpHelloHash, zrtpVersionString } from './media/zrtp.js';
import type { DetectionEngine } from '../detect/engine.js';
import { RtpObservation, type SipObservation } from '../detect/observations.js';
import type { Policy } from '../detect/policy.js';
import type { SipMessage } from './sip/sip-message.js';
import type { Call } from '../calls/call.js';

/** Seed of the payload hash shared by the detectors and the fingerprints. */
const PAYLOAD_DIGEST_SEED = 0x51;

/** What a flow carries, pinned after the first decisive packet. */
export const enum FlowApp {
  Unknown = 0,
  Sip = 1,
  Media = 2,
  Other = 3,
  SipTcp = 4,
  TurnTcp = 5,
  RtpTcp = 6,
}

/** Per-flow state of a UDP media flow (only allocated when DTLS or ZRTP shows up). */
interface MediaFlowState {
  dtls: [DtlsFacts | null, DtlsFacts | null];
  dtls13Reported: [boolean, boolean];
  zrtpHelloSeen: [boolean, boolean];
}

function newMediaFlowState(): MediaFlowState {
  return { dtls: [null, null], dtls13Reported: [false, false], zrtpHelloSeen: [false, false] };
}

/**
 * Identity of a SIP message for copy detection: the same transaction and
 * message seen on two paths has the same digest (RFC 3261 §17.1.3 matching
 * keys: branch, CSeq, method; plus the start line, tags and body length).
 */
function sipDigest(m: SipMessage): number {
  const key = `${m.method}|${m.statusCode}|${m.callId ?? ''}|${m.cseq?.seq ?? ''}|${m.cseq?.method ?? ''}|${m.vias[0]?.branch ?? ''}|${m.from?.tag ?? ''}|${m.to?.tag ?? ''}|${m.body.len}`;
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

interface SctpReassembly {
  chunks: [Buffer[], Buffer[]];
  bytes: [number, number];
}

/** Ports whose traffic tshark hands to a well-known dissector; never guessed as media. */
const NON_MEDIA_PORTS = new Set([53, 67, 68, 69, 123, 137, 138, 161, 162, 389, 500, 514, 520, 546, 547, 1900, 5353, 5355, 1812, 1813]);

export interface AppCounters {
  sip: number;
  rtp: number;
  rtcp: number;
  stun: number;
  dtls: number;
  zrtp: number;
  other: number;
}

export class AppLayer {
  readonly counters: AppCounters = { sip: 0, rtp: 0, rtcp: 0, stun: 0, dtls: 0, zrtp: 0, other: 0 };
  private readonly rtp = new RtpHeader();
  private readonly stun = new StunRecord();
  private readonly channel = new ChannelDataRecord();
  /** The packet being processed; set by onUdp/onTcp so the tunnel describer needs no closure. */
  private rec: PacketRecord | null = null;
  private readonly describeTunnels = (): TunnelSummary[] => describeTunnels(this.rec);

  private readonly rtpObs = new RtpObservation();
  /** Searches non-media payloads for embedded copies of known RTP (only when a detector listens). */
  readonly embedded: EmbeddedRtpScanner | null;
  private readonly zrtp = new ZrtpRecord();
  /** Parallel sensor under overload (parallel/load-shedder.ts); null otherwise: one check per RTP packet. */
  shed: LoadShedder | null = null;

  constructor(
    private readonly calls: CallTable,
    private readonly streams: StreamTable,
    private readonly weirds: WeirdCounters,
    private readonly detection: DetectionEngine | null = null,
    private readonly policy: Policy | null = null,
  ) {
    this.rtpObs.describeTunnels = () => this.effectiveTunnels();
    this.embedded = detection?.wantsEmbedded ? new EmbeddedRtpScanner(streams, (o) => detection.embedded(o)) : null;
  }

  // ------------------------------------------------------------------ UDP

  onUdp(flow: Flow, dir: 0 | 1, rec: PacketRecord): void {
    const buf = rec.payloadBuf;
    const off = rec.payloadOffset;
    const len = rec.payloadLength;
    this.rec = rec;
    let app = flow.app;
    if (app === FlowApp.Unknown) {
      if (len === 0) return;
      app = flow.app = this.classifyUdp(flow, buf, off, len);
    }
    if (app === FlowApp.Media) this.onMediaDatagram(flow, dir, rec, buf, off, len, MediaTransport.Udp);
    else if (app === FlowApp.Sip) this.onSipDatagram(flow, dir, rec, buf, off, len);
    else if (len > 0 && isUpperAscii(buf[off]!) && looksLikeSip(buf, off, len)) {
      // A flow pinned as "other" (e.g. keep-alive noise on 5060 before the first
      // REGISTER) turns out to carry SIP: re-pin it. The uppercase first byte
      // keeps the probe off nearly every non-SIP packet.
      flow.app = FlowApp.Sip;
      this.onSipDatagram(flow, dir, rec, buf, off, len);
    } else {
      this.counters.other++;
      if (this.embedded !== null && len >= 16) this.embedded.scan(flow, dir, rec, buf, off, len, 'udp');
    }
  }

  private classifyUdp(flow: Flow, buf: Buffer, off: number, len: number): FlowApp {
    if (looksLikeSip(buf, off, len)) return FlowApp.Sip;
    if (NON_MEDIA_PORTS.has(flow.aPort) || NON_MEDIA_PORTS.has(flow.bPort)) return FlowApp.Other;
    const b0 = buf[off]!;
    // RFC 7983 §7: the first byte separates the protocols that share a media port.
    if (b0 >= 128 && b0 <= 191) return FlowApp.Media;
    if (b0 <= 3 || (b0 >= 16 && b0 <= 79)) return FlowApp.Media;
    // SIP keep-alives (RFC 5626 CRLF) on a SIP port: wait for a real message.
    if ((flow.aPort === 5060 || flow.bPort === 5060) && (b0 === 13 || b0 === 10)) return FlowApp.Unknown;
    return FlowApp.Other;
  }

  private onSipDatagram(flow: Flow, dir: 0 | 1, rec: PacketRecord, buf: Buffer, off: number, len: number): void {
    if (!looksLikeSip(buf, off, len)) {
      // Keep-alives and garbage on a SIP flow.
      return;
    }
    this.counters.sip++;
    const msg = parseSipMessage(buf, off, len, this.weirds);
    if (!msg) return;
    const ctx = this.sipContext(flow, dir, rec, 'udp');
    const call = this.calls.onSipMessage(msg, ctx);
    this.observeSip(msg, call ?? null, ctx, rec);
  }

  private observeSip(msg: SipMessage, call: Call | null, ctx: SipContext, rec: PacketRecord): void {
    if (!this.detection) return;
    const o: SipObservation = {
      ts: ctx.ts,
      call,
      msg,
      src: ctx.src,
      dst: ctx.dst,
      srcIp: ctx.srcIp,
      dstIp: ctx.dstIp,
      transport: ctx.transport,
      digest: sipDigest(msg),
      retransmission: this.calls.lastWasRetransmission,
      tunnels: this.effectiveTunnels(rec),
      ttl: rec.ttl,
      ipId: rec.ipId,
      srcMac: -1,
      dstMac: -1,
    };
    const mac = this.rtpObs;
    this.fillMacs(mac, rec);
    o.srcMac = mac.srcMac;
    o.dstMac = mac.dstMac;
    this.detection.sip(o);
  }

  private sipContext(flow: Flow, dir: 0 | 1, rec: PacketRecord, transport: string): SipContext {
    // The flow formats (and caches) its endpoints once, not per message.
    if (flow.proto === 132) transport = 'sctp';
    return {
      ts: rec.ts,
      src: dir === 0 ? flow.aEndpoint() : flow.bEndpoint(),
      dst: dir === 0 ? flow.bEndpoint() : flow.aEndpoint(),
      srcIp: dir === 0 ? flow.aIp() : flow.bIp(),
      dstIp: dir === 0 ? flow.bIp() : flow.aIp(),
      transport: rec.tunnelDepth > 0 ? `${transport}/${TUNNEL_KIND_NAMES[rec.tunnels[rec.tunnelDepth - 1]!.kind]}` : transport,
    };
  }

  /**
   * One media datagram (or one framed message from a TCP media stream).
   * `transport` says how it arrived; RTP found inside TURN keeps the outer
   * flow's endpoints, as tshark reports them.
   */
  private onMediaDatagram(flow: Flow, dir: 0 | 1, rec: PacketRecord, buf: Buffer, off: number, len: number, transport: MediaTransport): void {
    if (len < 1) return;
    const b0 = buf[off]!;
    if (b0 >= 128 && b0 <= 191) {
      this.onRtpOrRtcp(flow, dir, rec, buf, off, len, transport);
    } else if (b0 >= 64 && b0 <= 79) {
      // RFC 8656 §12: ChannelData, 4-byte header then the peer's datagram.
      const ch = this.channel;
      if (decodeChannelData(ch, buf, off, len, transport === MediaTransport.Tcp)) {
        this.counters.stun++;
        if (ch.dataLength > 0) {
          const ib = buf[ch.dataOffset]!;
          if (ib >= 128 && ib <= 191) this.onRtpOrRtcp(flow, dir, rec, buf, ch.dataOffset, ch.dataLength, MediaTransport.TurnChannel);
        }
      } else this.otherMediaPayload(flow, dir, rec, buf, off, len, transport);
    } else if (b0 <= 3) {
      const st = this.stun;
      if (decodeStun(st, buf, off, len)) {
        this.counters.stun++;
        // RFC 8656 §10-11: Send and Data indications carry the peer datagram in DATA.
        if (st.dataLength > 0) {
          const ib = buf[st.dataOffset]!;
          if (ib >= 128 && ib <= 191) this.onRtpOrRtcp(flow, dir, rec, buf, st.dataOffset, st.dataLength, MediaTransport.TurnIndication);
        }
      } else this.otherMediaPayload(flow, dir, rec, buf, off, len, transport);
    } else if (b0 >= 20 && b0 <= 63) {
      this.counters.dtls++;
      if (this.detection) this.onDtls(flow, dir, rec, buf, off, len);
    } else if (b0 >= 16 && b0 <= 19) {
      this.counters.zrtp++;
      if (this.detection) this.onZrtp(flow, dir, rec, buf, off, len);
    } else {
      this.otherMediaPayload(flow, dir, rec, buf, off, len, transport);
    }
  }

  /**
   * A datagram on a media-looking flow that is none of the media protocols:
   * bare IP-in-UDP (first byte 0x45) or an intercept header with a small ID
   * (first byte 0x00) land here, so the embedded-copy search looks too.
   */
  private otherMediaPayload(flow: Flow, dir: 0 | 1, rec: PacketRecord, buf: Buffer, off: number, len: number, transport: MediaTransport): void {
    this.counters.other++;
    if (this.embedded !== null && transport === MediaTransport.Udp && len >= 16) this.embedded.scan(flow, dir, rec, buf, off, len, 'udp');
  }

  /** Frames without IP: learn MAC -> IP from ARP (RFC 826) when a detector wants it. */
  onNonIp(rec: PacketRecord): void {
    const det = this.detection;
    if (det === null || !det.wantsArp || rec.ethOffset < 0) return;
    const f = rec.frame;
    const end = rec.frameOffset + rec.capLength;
    // The ethertype follows the MACs and any 802.1Q tags.
    let p = rec.ethOffset + 12;
    while (p + 4 <= end && (f[p] === 0x81 || f[p] === 0x88 || f[p] === 0x91) && (f[p + 1] === 0x00 || f[p + 1] === 0xa8)) p += 4;
    if (p + 2 + 28 > end || f[p] !== 0x08 || f[p + 1] !== 0x06) return;
    const a = p + 2;
    // htype 1 (Ethernet), ptype 0x0800, hlen 6, plen 4
    if (f[a] !== 0 || f[a + 1] !== 1 || f[a + 2] !== 8 || f[a + 3] !== 0 || f[a + 4] !== 6 || f[a + 5] !== 4) return;
    const sha = a + 8;
    const mac = ((f[sha]! << 8) | f[sha + 1]!) * 4294967296 + (((f[sha + 2]! << 24) | (f[sha + 3]! << 16) | (f[sha + 4]! << 8) | f[sha + 5]!) >>> 0);
    const spa = a + 14;
    if (f[spa] === 0 && f[spa + 1] === 0 && f[spa + 2] === 0 && f[spa + 3] === 0) return; // ARP probe (RFC 5227): no sender address yet
    det.arp({ ts: rec.ts, mac, ip: `${f[spa]}.${f[spa + 1]}.${f[spa + 2]}.${f[spa + 3]}` });
  }

  private onRtpOrRtcp(flow: Flow, dir: 0 | 1, rec: PacketRecord, buf: Buffer, off: number, len: number, transport: MediaTransport): void {
    // RFC 5761 §4: with RTP/RTCP multiplexing, PT 192-223 (marker bit included) is RTCP.
    const b1 = len > 1 ? buf[off + 1]! : 0;
    if (b1 >= 192 && b1 <= 223) {
      if (looksLikeRtcp(buf, off, len)) this.counters.rtcp++;
      else this.counters.other++;
      return;
    }
    if (!looksLikeRtp(buf, off, len)) {
      this.counters.other++;
      return;
    }
    const h = this.rtp;
    if (!decodeRtp(h, buf, off, len)) {
      this.counters.other++;
      return;
    }
    this.counters.rtp++;
    const s = this.streams.onRtp(flow, dir, h.ssrc, h.sequence, h.timestamp, h.payloadType, h.marker, len, rec.ts, rec.ttl, transport, this.describeTunnels);
    // Overload: optional work for streams of unsuspicious calls goes first (never the counting above).
    const shed = this.shed !== null && s !== null && this.shed.level !== 0 ? this.shed.decide(s, h.sequence) : ShedDecision.Full;
    // Cross-sensor fingerprints (null unless a sink takes them): header tuple and a payload hash, never payload bytes.
    // The payload hash is computed once for both consumers (-1: not yet).
    const fp = this.streams.fingerprints;
    let payloadDigest = -1;
    if (s !== null && fp !== null && shed === ShedDecision.Full) {
      payloadDigest = sampledDigest(buf, h.payloadOffset, h.payloadLength, PAYLOAD_DIGEST_SEED);
      // `| 0`: int32 travels as a small integer, a uint32 above 2^31 would be boxed per call.
      fp.onRtp(s, h.sequence, h.timestamp | 0, h.marker, h.payloadType, h.payloadLength, payloadDigest | 0, this.rtpObs.describeTunnels);
    }
    const det = this.detection;
    if (s === null || det === null || !det.wantsRtp || shed === ShedDecision.Count) return;
    const o = this.rtpObs;
    o.stream = s;
    o.ts = rec.ts;
    o.seq = h.sequence;
    o.rtpTs = h.timestamp;
    o.payloadType = h.payloadType;
    o.marker = h.marker;
    o.length = len;
    o.payloadLength = h.payloadLength;
    o.csrcCount = h.csrcCount;
    o.digest = rtpDigest(buf, off, len);
    o.payloadDigest = payloadDigest >= 0 ? payloadDigest : sampledDigest(buf, h.payloadOffset, h.payloadLength, PAYLOAD_DIGEST_SEED);
    o.ipId = rec.ipId;
    o.ipChecksum = rec.ipChecksum;
    o.ttl = rec.ttl;
    o.transport = transport;
    this.fillMacs(o, rec);
    this.fillTunnel(o, rec);
    det.rtp(o);
  }

  /** Source/destination MAC of the innermost Ethernet header in the frame, as 48-bit numbers. */
  private fillMacs(o: RtpObservation, rec: PacketRecord): void {
    const e = rec.ethOffset;
    if (e < 0 || e + 12 > rec.frameOffset + rec.capLength) {
      o.dstMac = -1;
      o.srcMac = -1;
      return;
    }
    const f = rec.frame;
    o.dstMac = ((f[e]! << 8) | f[e + 1]!) * 4294967296 + (((f[e + 2]! << 24) | (f[e + 3]! << 16) | (f[e + 4]! << 8) | f[e + 5]!) >>> 0);
    o.srcMac = ((f[e + 6]! << 8) | f[e + 7]!) * 4294967296 + (((f[e + 8]! << 24) | (f[e + 9]! << 16) | (f[e + 10]! << 8) | f[e + 11]!) >>> 0);
  }

  /** The first tunnel layer that is not the sensor's own mirror feed (policy), if any. */
  private firstCopyLayer(rec: PacketRecord): number {
    const p = this.policy;
    for (let i = 0; i < rec.tunnelDepth; i++) {
      const t = rec.tunnels[i]!;
      if (p && p.hasSensorTunnels && p.isSensorTunnel(TUNNEL_KIND_NAMES[t.kind] ?? '', t.ipVersion, t.dstAddr, t.srcAddr)) continue;
      return i;
    }
    return -1;
  }

  private fillTunnel(o: RtpObservation, rec: PacketRecord): void {
    const first = rec.tunnelDepth === 0 ? -1 : this.firstCopyLayer(rec);
    if (first < 0) {
      o.tunnelDepth = 0;
      if (o.tunnelKind !== '') {
        o.tunnelKind = '';
        o.tunnelDst = '';
        o.tunnelDstIp = '';
      }
      return;
    }
    const t = rec.tunnels[first]!;
    o.tunnelDepth = rec.tunnelDepth - first;
    o.tunnelKind = TUNNEL_KIND_NAMES[t.kind] ?? String(t.kind);
    // Formatted per tunnelled packet: copies inside tunnels are rare, and the
    // detector needs the destination to name the copy.
    o.tunnelDstIp = formatAddr(t.ipVersion, t.dstAddr);
    o.tunnelDst = `${o.tunnelDstIp}:${t.dstPort}`;
  }

  /** The tunnel stack minus the sensor's own feed layers. */
  private effectiveTunnels(rec: PacketRecord | null = this.rec): TunnelSummary[] {
    if (!rec || rec.tunnelDepth === 0) return [];
    const first = this.firstCopyLayer(rec);
    if (first < 0) return [];
    return describeTunnels(rec).slice(first);
  }

  /** DTLS on a media flow (RFC 5764): keep the certificate of each direction and report it once. */
  private onDtls(flow: Flow, dir: 0 | 1, rec: PacketRecord, buf: Buffer, off: number, len: number): void {
    const st = ((flow.appState as MediaFlowState | null) ??= newMediaFlowState());
    const facts = (st.dtls[dir] ??= new DtlsFacts());
    const had = facts.certificate !== null;
    walkDtlsRecords(buf, off, len, facts, this.weirds);
    if ((had || facts.certificate === null) && !(facts.sawDtls13 && !st.dtls13Reported[dir])) return;
    if (facts.sawDtls13) st.dtls13Reported[dir] = true;
    const src = dir === 0 ? flow.aEndpoint() : flow.bEndpoint();
    const dst = dir === 0 ? flow.bEndpoint() : flow.aEndpoint();
    const call = this.callOfEndpoints(src, dst);
    const fingerprints = new Map<string, string>();
    if (facts.certificate) for (const hf of ['sha-256', 'sha-1', 'sha-384', 'sha-512']) fingerprints.set(hf, certificateFingerprint(facts.certificate, hf));
    this.detection!.dtls({ ts: rec.ts, src, dst, call, fingerprints, dtls13: facts.sawDtls13 });
  }

  private onZrtp(flow: Flow, dir: 0 | 1, rec: PacketRecord, buf: Buffer, off: number, len: number): void {
    const z = this.zrtp;
    if (!decodeZrtp(z, buf, off, len, this.weirds) || z.messageType !== 1 /* Hello */) return;
    const st = ((flow.appState as MediaFlowState | null) ??= newMediaFlowState());
    if (st.zrtpHelloSeen[dir]) return;
    st.zrtpHelloSeen[dir] = true;
    const src = dir === 0 ? flow.aEndpoint() : flow.bEndpoint();
    const dst = dir === 0 ? flow.bEndpoint() : flow.aEndpoint();
    this.detection!.zrtp({
      ts: rec.ts,
      src,
      dst,
      call: this.callOfEndpoints(src, dst),
      helloHash: zrtpHelloHash(buf, off, len),
      version: zrtpVersionString(z.version),
      mitm: z.mitm,
    });
  }

  private callOfEndpoints(a: string, b: string): Call | null {
    const e = this.calls.expectations;
    return e.get(a)?.call ?? e.get(b)?.call ?? null;
  }

  // ------------------------------------------------------------------ SCTP

  /**
   * SIP over SCTP (RFC 4168): each SCTP user message is one SIP message. Walk
   * the chunks (RFC 9260 §3.2) and parse every unfragmented DATA chunk
   * (B and E flags both set); fragmented user messages are counted and skipped.
   */
  onSctp(flow: Flow, dir: 0 | 1, rec: PacketRecord): void {
    this.rec = rec;
    const buf = rec.payloadBuf;
    let off = rec.payloadOffset;
    const end = off + rec.payloadLength;
    while (off + 4 <= end) {
      const type = buf[off]!;
      const flags = buf[off + 1]!;
      const clen = (buf[off + 2]! << 8) | buf[off + 3]!;
      if (clen < 4 || off + clen > end) {
        this.weirds.weird('sctp_bad_chunk_length');
        return;
      }
      if (type === 0 /* DATA */ && clen > 16) {
        const dOff = off + 16;
        const dLen = clen - 16;
        if ((flags & 0x03) === 0x03) {
          this.onSctpMessage(flow, dir, rec, buf, dOff, dLen);
        } else {
          // RFC 9260 §6.9: a user message split over DATA chunks, B(egin)=0x02, E(nd)=0x01,
          // in TSN order within one stream. Reassemble per direction, bounded.
          const parts = ((flow.appState as SctpReassembly | null) ??= { chunks: [[], []], bytes: [0, 0] });
          if (flags & 0x02) {
            parts.chunks[dir] = [];
            parts.bytes[dir] = 0;
          }
          if (parts.bytes[dir]! + dLen > 65535) {
            this.weirds.weird('sctp_reassembly_overflow');
            parts.chunks[dir] = [];
            parts.bytes[dir] = 0;
          } else {
            parts.chunks[dir]!.push(Buffer.from(buf.subarray(dOff, dOff + dLen)));
            parts.bytes[dir]! += dLen;
            if (flags & 0x01) {
              const whole = Buffer.concat(parts.chunks[dir]!);
              parts.chunks[dir] = [];
              parts.bytes[dir] = 0;
              this.onSctpMessage(flow, dir, rec, whole, 0, whole.length);
            }
          }
        }
      }
      off += (clen + 3) & ~3;
    }
  }

  private onSctpMessage(flow: Flow, dir: 0 | 1, rec: PacketRecord, buf: Buffer, off: number, len: number): void {
    if (looksLikeSip(buf, off, len)) this.onSipDatagram(flow, dir, rec, buf, off, len);
    else this.counters.other++;
  }

  // ------------------------------------------------------------------ TCP

  /** In-order bytes of one direction of a TCP flow, from the reassembler. */
  onTcpData(flow: Flow, dir: 0 | 1, rec: PacketRecord, buf: Buffer, off: number, len: number): void {
    this.rec = rec;
    if (len <= 0) {
      // The reassembler's gap signal: bytes were lost here, so any partial
      // message buffered in this direction is garbage. Resynchronise.
      const st = flow.appState as Array<SipStreamFramer | TcpByteQueue | null> | null;
      const x = st?.[dir];
      if (x instanceof SipStreamFramer) x.reset();
      else if (x instanceof TcpByteQueue) x.clear();
      return;
    }
    let app = flow.app;
    if (app === FlowApp.Unknown) {
      app = flow.app = this.classifyTcp(flow, buf, off, len);
      if (app === FlowApp.Unknown) return;
    }
    if (app === FlowApp.SipTcp) {
      const framers = (flow.appState ??= [null, null]) as Array<SipStreamFramer | null>;
      const framer = (framers[dir] ??= new SipStreamFramer());
      // The framer calls back synchronously; the bound callback reads the
      // current flow and direction from fields instead of a fresh closure.
      this.tcpFlow = flow;
      this.tcpDir = dir;
      framer.push(buf, off, len, this.onFramedSip, this.weirds);
      this.tcpFlow = null;
    } else if (app === FlowApp.TurnTcp || app === FlowApp.RtpTcp) {
      const queues = (flow.appState ??= [null, null]) as Array<TcpByteQueue | null>;
      const q = (queues[dir] ??= new TcpByteQueue(256 * 1024));
      this.onMediaStream(flow, dir, rec, q, buf, off, len, app);
    }
  }

  private classifyTcp(flow: Flow, buf: Buffer, off: number, len: number): FlowApp {
    // SIP over TCP may arrive cut anywhere: a first segment holding only
    // "INVITE sip:b@10.4", or (sensor started mid-connection) the middle of a
    // message. The stream framer resynchronises on the next start line, so
    // lean towards SIP whenever the bytes could be it.
    if (looksLikeSip(buf, off, len) || startsWithHttpUpgrade(buf, off, len) || startsWithSipMethod(buf, off, len)) return FlowApp.SipTcp;
    if (isSipPort(flow.aPort) || isSipPort(flow.bPort)) return FlowApp.SipTcp;
    if (containsSipStartLine(buf, off, len)) return FlowApp.SipTcp;
    // SIP over TCP can start with CRLF keep-alives.
    if (buf[off] === 13 || buf[off] === 10) return FlowApp.Unknown;
    if (turnTcpFrameLength(buf, off, len) !== -1) return FlowApp.TurnTcp;
    const e = this.calls.expectations;
    if (e.get(flow.aEndpoint()) || e.get(flow.bEndpoint())) return FlowApp.RtpTcp;
    return FlowApp.Other;
  }

  private tcpFlow: Flow | null = null;
  private tcpDir: 0 | 1 = 0;
  private readonly onFramedSip = (mb: Buffer, mo: number, ml: number): void => {
    if (this.tcpFlow !== null && this.rec !== null) this.onSipStreamMessage(this.tcpFlow, this.tcpDir, this.rec, mb, mo, ml);
  };

  private onSipStreamMessage(flow: Flow, dir: 0 | 1, rec: PacketRecord, buf: Buffer, off: number, len: number): void {
    this.counters.sip++;
    const msg = parseSipMessage(buf, off, len, this.weirds);
    if (!msg) return;
    const framers = flow.appState as Array<SipStreamFramer | null>;
    const ws = framers[dir]?.mode === 'websocket' || framers[dir ^ 1]?.mode === 'websocket';
    const ctx = this.sipContext(flow, dir, rec, ws ? 'ws' : 'tcp');
    const call = this.calls.onSipMessage(msg, ctx);
    this.observeSip(msg, call ?? null, ctx, rec);
  }

  private onMediaStream(flow: Flow, dir: 0 | 1, rec: PacketRecord, q: TcpByteQueue, buf: Buffer, off: number, len: number, app: FlowApp): void {
    q.append(buf, off, len);
    for (;;) {
      const qb = q.buffer;
      const qo = q.start;
      const avail = q.length;
      if (avail === 0) break;
      if (app === FlowApp.TurnTcp) {
        const n = turnTcpFrameLength(qb, qo, avail);
        if (n === 0) break;
        if (n < 0) {
          this.weirds.weird('turn_tcp_desync');
          q.clear();
          break;
        }
        this.onMediaDatagram(flow, dir, rec, qb, qo, n, MediaTransport.Tcp);
        q.consume(n);
      } else {
        // RFC 4571 §2: a 16-bit length, then one RTP or RTCP packet.
        const n = rfc4571FrameLength(qb, qo, avail);
        if (n === 0) break;
        if (n < 0) {
          this.weirds.weird('rfc4571_desync');
          q.clear();
          break;
        }
        this.onRtpOrRtcp(flow, dir, rec, qb, qo + 2, n - 2, MediaTransport.Tcp);
        q.consume(n);
      }
    }
  }
}

/**
 * RFC 7118 §4: SIP over WebSocket starts with an HTTP/1.1 GET carrying
 * `Upgrade: websocket` (and `Sec-WebSocket-Protocol: sip`). Plain HTTP on the
 * same ports is not SIP. Runs once per TCP flow, so a bounded string search is fine.
 */
const SIP_METHODS = ['INVITE ', 'ACK ', 'BYE ', 'CANCEL ', 'OPTIONS ', 'REGISTER ', 'PRACK ', 'SUBSCRIBE ', 'NOTIFY ', 'PUBLISH ', 'INFO ', 'REFER ', 'MESSAGE ', 'UPDATE ', 'SIP/2.0 '].map(
  (m) => Buffer.from(m, 'latin1'),
);

/** The chunk starts with a SIP method (or "SIP/2.0 ") even if the request line is cut short. */
function startsWithSipMethod(buf: Buffer, off: number, len: number): boolean {
  for (const m of SIP_METHODS) {
    if (len < m.length) continue;
    if (buf.compare(m, 0, m.length, off, off + m.length) === 0) return true;
  }
  return false;
}

/** A SIP start line somewhere in the chunk (mid-message pickup). Once per TCP flow. */
function containsSipStartLine(buf: Buffer, off: number, len: number): boolean {
  const text = buf.toString('latin1', off, off + Math.min(len, 8192));
  return /(^|\n)(SIP\/2\.0 \d{3} |[A-Z]{3,12} (sips?|tel):[^\r\n]* SIP\/2\.0\r?$)/m.test(text);
}

/** RFC 3261 §19.1.2 default ports for SIP and SIPS. */
function isSipPort(p: number): boolean {
  return p === 5060 || p === 5061;
}

function isUpperAscii(b: number): boolean {
  return b >= 0x41 && b <= 0x5a;
}

function startsWithHttpUpgrade(buf: Buffer, off: number, len: number): boolean {
  if (!(len >= 4 && buf[off] === 0x47 && buf[off + 1] === 0x45 && buf[off + 2] === 0x54 && buf[off + 3] === 0x20)) return false;
  const head = buf.toString('latin1', off, off + Math.min(len, 4096)).toLowerCase();
  return head.includes('upgrade: websocket') || head.includes('sec-websocket-protocol: sip');
}

/** Summarise the tunnel stack of the current packet (once per new stream). */
export function describeTunnels(rec: PacketRecord | null): TunnelSummary[] {
  if (!rec || rec.tunnelDepth === 0) return [];
  const out: TunnelSummary[] = [];
  for (let i = 0; i < rec.tunnelDepth; i++) {
    const t = rec.tunnels[i]!;
    out.push({
      kind: TUNNEL_KIND_NAMES[t.kind] ?? String(t.kind),
      src: t.ipVersion ? formatEndpoint(t.ipVersion, t.srcAddr, t.srcPort) : '',
      dst: t.ipVersion ? formatEndpoint(t.ipVersion, t.dstAddr, t.dstPort) : '',
      id: t.id,
    });
  }
  return out;
}
