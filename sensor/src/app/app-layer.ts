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

  constructor(
    private readonly calls: CallTable,
    private readonly streams: StreamTable,
    private readonly weirds: WeirdCounters,
  ) {}

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
    } else this.counters.other++;
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
    this.calls.onSipMessage(msg, this.sipContext(flow, dir, rec, 'udp'));
  }

  private sipContext(flow: Flow, dir: 0 | 1, rec: PacketRecord, transport: string): SipContext {
    const srcIp = formatAddr(flow.ipVersion, dir === 0 ? flow.aAddr : flow.bAddr);
    const dstIp = formatAddr(flow.ipVersion, dir === 0 ? flow.bAddr : flow.aAddr);
    const srcPort = dir === 0 ? flow.aPort : flow.bPort;
    const dstPort = dir === 0 ? flow.bPort : flow.aPort;
    if (flow.proto === 132) transport = 'sctp';
    return {
      ts: rec.ts,
      src: `${srcIp}:${srcPort}`,
      dst: `${dstIp}:${dstPort}`,
      srcIp,
      dstIp,
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
      } else this.counters.other++;
    } else if (b0 <= 3) {
      const st = this.stun;
      if (decodeStun(st, buf, off, len)) {
        this.counters.stun++;
        // RFC 8656 §10-11: Send and Data indications carry the peer datagram in DATA.
        if (st.dataLength > 0) {
          const ib = buf[st.dataOffset]!;
          if (ib >= 128 && ib <= 191) this.onRtpOrRtcp(flow, dir, rec, buf, st.dataOffset, st.dataLength, MediaTransport.TurnIndication);
        }
      } else this.counters.other++;
    } else if (b0 >= 20 && b0 <= 63) {
      this.counters.dtls++;
    } else if (b0 >= 16 && b0 <= 19) {
      this.counters.zrtp++;
    } else {
      this.counters.other++;
    }
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
    this.streams.onRtp(flow, dir, h.ssrc, h.sequence, h.timestamp, h.payloadType, h.marker, len, rec.ts, rec.ttl, transport, this.describeTunnels);
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
      framer.push(buf, off, len, (mb, mo, ml) => this.onSipStreamMessage(flow, dir, rec, mb, mo, ml), this.weirds);
    } else if (app === FlowApp.TurnTcp || app === FlowApp.RtpTcp) {
      const queues = (flow.appState ??= [null, null]) as Array<TcpByteQueue | null>;
      const q = (queues[dir] ??= new TcpByteQueue(256 * 1024));
      this.onMediaStream(flow, dir, rec, q, buf, off, len, app);
    }
  }

  private classifyTcp(flow: Flow, buf: Buffer, off: number, len: number): FlowApp {
    if (looksLikeSip(buf, off, len) || startsWithHttpUpgrade(buf, off, len)) return FlowApp.SipTcp;
    // SIP over TCP can start with CRLF keep-alives.
    if (buf[off] === 13 || buf[off] === 10) return FlowApp.Unknown;
    if (turnTcpFrameLength(buf, off, len) !== -1) return FlowApp.TurnTcp;
    const e = this.calls.expectations;
    if (e.get(flow.aEndpoint()) || e.get(flow.bEndpoint())) return FlowApp.RtpTcp;
    return FlowApp.Other;
  }

  private onSipStreamMessage(flow: Flow, dir: 0 | 1, rec: PacketRecord, buf: Buffer, off: number, len: number): void {
    this.counters.sip++;
    const msg = parseSipMessage(buf, off, len, this.weirds);
    if (!msg) return;
    const framers = flow.appState as Array<SipStreamFramer | null>;
    const ws = framers[dir]?.mode === 'websocket' || framers[dir ^ 1]?.mode === 'websocket';
    this.calls.onSipMessage(msg, this.sipContext(flow, dir, rec, ws ? 'ws' : 'tcp'));
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
