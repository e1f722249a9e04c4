/**
 * Generic search for copied media hidden inside other UDP/TCP payloads: the
 * lawful-intercept and mirroring wrappers of PROTOCOLS.md ("Where a copied
 * packet hides") that tapwatch does not decode as tunnels:
 *
 *   PacketCable / Cisco LI (RFC 3924, Wireshark packet-pcli.c): 4-byte CCC ID,
 *     IP or RTP at 4; + NTP timestamp: at 12; + case ID: at 20.
 *   Juniper jmirror (packet-jmirror.c, UDP 30030): intercept + session ID, IP at 8.
 *   Nokia LI shim: 8 bytes, then IP (or Ethernet: IP at 22).
 *   Bare IP-in-UDP (bareudp, VPP LI): IP at 0.
 *   ETSI TS 103 221-2 X2/X3 over TCP (packet-li5g.c): Version(2) PDUType(2)
 *     HeaderLength(4) PayloadLength(4) PayloadFormat(2: 5 IPv4, 6 IPv6,
 *     7 Ethernet, 8 RTP) Direction(2) XID(16) CorrelationID(8) [+ TLVs];
 *     payload at HeaderLength. (With TLS, as the spec requires, nothing is visible.)
 *
 * What counts as a hit: an RTP header (RFC 3550 §5.1, version 2, not an RTCP
 * packet type) whose SSRC belongs to an active stream, with a sequence number
 * within ±50 of that stream's and a payload type the stream has used; or an
 * IPv4/IPv6 header carrying UDP whose payload is such an RTP header and
 * whose ports are the stream's. SSRC alone never decides (collisions).
 *
 * Cost: called only for flows the app layer did not classify as SIP or media.
 * Known offsets are tried first, then bytes 0..64; a flow that has not matched
 * for MISSES_BEFORE_SPARSE packets is sampled 1 in SPARSE_EVERY afterwards (an
 * X3 connection carries intercepts that start at any time, so it is never
 * dropped entirely). The SSRC -> stream index is rebuilt from the stream table
 * at most every REBUILD_SEC of capture time (faster when the table changed).
 * Nothing is allocated per packet except on a hit (the observation's strings
 * are formatted once per flow direction).
 */
import type { PacketRecord } from '../decode/packet.js';
import type { Flow } from '../flow/flow.js';
import type { StreamTable } from '../media/stream-table.js';
import type { MediaStream } from '../media/media-stream.js';
import type { EmbeddedRtpObservation } from '../detect/observations.js';
import { rtpDigest } from './media/rtp-digest.js';

/** Offsets (from the start of the outer payload) where known wrappers put the inner IP or RTP header. */
const KNOWN_OFFSETS = [0, 4, 8, 12, 20, 22];
/** Bytes 0..SCAN_LIMIT are searched when no known offset matched. */
const SCAN_LIMIT = 64;
/** Sequence numbers within this distance of the stream's last one count as the same stream. */
const SEQ_SLACK = 50;
const MISSES_BEFORE_SPARSE = 64;
const SPARSE_EVERY = 16;
const REBUILD_SEC = 0.25;
const REBUILD_ON_CHANGE_SEC = 0.02;
const JMIRROR_PORT = 30030;
/** X3 PDUs looked at per TCP segment at most. */
const MAX_X3_PDUS = 16;

class FlowScanState {
  packets = 0;
  misses = 0;
  hits = 0;
  readonly src: [string | null, string | null] = [null, null];
  readonly dst: [string | null, string | null] = [null, null];
  readonly dstIp: [string | null, string | null] = [null, null];
  constructor(readonly flowId: number) {}
}

export class EmbeddedRtpScanner {
  private readonly states = new WeakMap<Flow, FlowScanState>();
  /** SSRC -> the active stream(s) with that SSRC. */
  private readonly bySsrc = new Map<number, MediaStream | MediaStream[]>();
  private builtTs = -1;
  private builtSize = -1;
  /** One reused observation (detectors copy what they keep). */
  private readonly obs: EmbeddedRtpObservation = {
    ts: 0,
    outerSrc: '',
    outerDst: '',
    outerDstIp: '',
    outerProto: 'udp',
    offset: 0,
    embedded: 'rtp',
    wrapper: 'unknown',
    ssrc: 0,
    seq: 0,
    rtpTs: 0,
    digest: 0,
    matched: null,
  };
  /** Packets looked into / hits, for tests and stats. */
  readonly counters = { scanned: 0, hits: 0, sparseSkipped: 0 };

  // Result of the last successful probe.
  private hitStream: MediaStream | null = null;
  private hitRtpOff = 0;
  private hitRtpLen = 0;

  constructor(
    readonly streams: StreamTable,
    private readonly emit: (o: EmbeddedRtpObservation) => void,
  ) {}

  /** Look into the payload of a UDP or TCP packet of a flow that is not media. */
  scan(flow: Flow, dir: 0 | 1, rec: PacketRecord, buf: Buffer, off: number, len: number, proto: 'udp' | 'tcp'): void {
    if (len < 12 || this.streams.active.size === 0) return;
    let st = this.states.get(flow);
    if (st === undefined || st.flowId !== flow.id) {
      st = new FlowScanState(flow.id);
      this.states.set(flow, st);
    }
    st.packets++;
    if (st.misses >= MISSES_BEFORE_SPARSE && st.packets % SPARSE_EVERY !== 0) {
      this.counters.sparseSkipped++;
      return;
    }
    this.refreshIndex(rec.ts);
    if (this.bySsrc.size === 0) return;
    this.counters.scanned++;
    const end = off + len;
    let found = 0;
    if (proto === 'tcp') found = this.scanX3(flow, dir, st, rec, buf, off, end);
    if (found === 0) {
      const ports = flow.aPort === JMIRROR_PORT || flow.bPort === JMIRROR_PORT;
      for (let k = 0; k < KNOWN_OFFSETS.length; k++) {
        const o = KNOWN_OFFSETS[k]!;
        const p = off + o;
        if (p + 12 > end) break;
        const what = this.probe(buf, p, end);
        if (what !== 0) {
          found = 1;
          this.report(flow, dir, st, rec, buf, proto, o, what, wrapperFor(proto, o, what, ports));
          break;
        }
      }
    }
    if (found === 0) {
      const limit = Math.min(end - 12, off + SCAN_LIMIT);
      for (let p = off + 1; p <= limit; p++) {
        const b = buf[p]!;
        // Cheap first-byte filter: RTP version 2, or an IPv4/IPv6 version nibble.
        if ((b & 0xc0) !== 0x80 && (b & 0xf0) !== 0x40 && (b & 0xf0) !== 0x60) continue;
        const what = this.probe(buf, p, end);
        if (what !== 0) {
          found = 1;
          this.report(flow, dir, st, rec, buf, proto, p - off, what, 'unknown');
          break;
        }
      }
    }
    if (found !== 0) {
      st.misses = 0;
      st.hits++;
    } else st.misses++;
  }

  /** ETSI TS 103 221-2 X2/X3 PDUs at the start of a TCP segment (one or several back to back). */
  private scanX3(flow: Flow, dir: 0 | 1, st: FlowScanState, rec: PacketRecord, buf: Buffer, off: number, end: number): number {
    let p = off;
    let hits = 0;
    for (let n = 0; n < MAX_X3_PDUS && p + 40 <= end; n++) {
      const version = (buf[p]! << 8) | buf[p + 1]!;
      const pduType = (buf[p + 2]! << 8) | buf[p + 3]!;
      const hdrLen = buf.readUInt32BE(p + 4);
      const payLen = buf.readUInt32BE(p + 8);
      const format = (buf[p + 12]! << 8) | buf[p + 13]!;
      if (version > 0xff || pduType < 1 || pduType > 3 || hdrLen < 40 || hdrLen > 65535 || payLen > 65535) break;
      const payload = p + hdrLen;
      if (pduType === 2 && payload + 12 <= end) {
        const payEnd = Math.min(end, payload + payLen);
        let at = -1;
        if (format === 8 || format === 5 || format === 6) at = payload;
        else if (format === 7) at = payload + 14; // Ethernet: assume an untagged frame
        if (at >= 0 && at + 12 <= payEnd) {
          const what = this.probe(buf, at, payEnd);
          if (what !== 0) {
            hits++;
            this.report(flow, dir, st, rec, buf, 'tcp', at - off, what, 'x3');
          }
        }
      }
      p = payload + payLen;
    }
    return hits;
  }

  /**
   * Is there an RTP header (1) or an IP packet carrying RTP (2) of an active
   * stream at `p`? On success hitStream/hitRtpOff/hitRtpLen are set.
   */
  private probe(buf: Buffer, p: number, end: number): number {
    const b0 = buf[p]!;
    if ((b0 & 0xc0) === 0x80) return this.probeRtp(buf, p, end, -1, -1) ? 1 : 0;
    const v = b0 >>> 4;
    if (v === 4) {
      const ihl = (b0 & 0x0f) * 4;
      if (ihl < 20 || p + ihl + 8 + 12 > end) return 0;
      if (buf[p + 9] !== 17) return 0;
      // Not a fragment (MF clear, offset zero).
      if (((buf[p + 6]! & 0x3f) | buf[p + 7]!) !== 0) return 0;
      const total = (buf[p + 2]! << 8) | buf[p + 3]!;
      const ipEnd = Math.min(end, p + total);
      return this.probeUdp(buf, p + ihl, ipEnd) ? 2 : 0;
    }
    if (v === 6) {
      if (p + 40 + 8 + 12 > end || buf[p + 6] !== 17) return 0;
      const plen = (buf[p + 4]! << 8) | buf[p + 5]!;
      return this.probeUdp(buf, p + 40, Math.min(end, p + 40 + plen)) ? 2 : 0;
    }
    return 0;
  }

  private probeUdp(buf: Buffer, u: number, end: number): boolean {
    const sport = (buf[u]! << 8) | buf[u + 1]!;
    const dport = (buf[u + 2]! << 8) | buf[u + 3]!;
    const ulen = (buf[u + 4]! << 8) | buf[u + 5]!;
    if (ulen < 8 + 12) return false;
    const rtpEnd = Math.min(end, u + ulen);
    const r = u + 8;
    if ((buf[r]! & 0xc0) !== 0x80) return false;
    return this.probeRtp(buf, r, rtpEnd, sport, dport);
  }

  private probeRtp(buf: Buffer, r: number, end: number, sport: number, dport: number): boolean {
    if (r + 12 > end) return false;
    const pt = buf[r + 1]! & 0x7f;
    if (pt >= 72 && pt <= 76) return false; // RTCP SR/RR/SDES/BYE/APP (RFC 5761 §4)
    const ssrc = buf.readUInt32BE(r + 8);
    const e = this.bySsrc.get(ssrc);
    if (e === undefined) return false;
    const seq = (buf[r + 2]! << 8) | buf[r + 3]!;
    let best: MediaStream | null = null;
    if (Array.isArray(e)) {
      for (let i = 0; i < e.length; i++) if (fits(e[i]!, seq, pt, sport, dport)) best = e[i]!;
    } else if (fits(e, seq, pt, sport, dport)) best = e;
    if (best === null) return false;
    this.hitStream = best;
    this.hitRtpOff = r;
    this.hitRtpLen = end - r;
    return true;
  }

  private report(flow: Flow, dir: 0 | 1, st: FlowScanState, rec: PacketRecord, buf: Buffer, proto: 'udp' | 'tcp', offset: number, what: number, wrapper: string): void {
    const o = this.obs;
    if (st.src[dir] === null) {
      st.src[dir] = dir === 0 ? flow.aEndpoint() : flow.bEndpoint();
      const d = dir === 0 ? flow.bEndpoint() : flow.aEndpoint();
      st.dst[dir] = d;
      st.dstIp[dir] = d.slice(0, d.lastIndexOf(':'));
    }
    const r = this.hitRtpOff;
    o.ts = rec.ts;
    o.outerSrc = st.src[dir]!;
    o.outerDst = st.dst[dir]!;
    o.outerDstIp = st.dstIp[dir]!;
    o.outerProto = proto;
    o.offset = offset;
    o.embedded = what === 2 ? 'ip' : 'rtp';
    o.wrapper = wrapper;
    o.ssrc = buf.readUInt32BE(r + 8);
    o.seq = (buf[r + 2]! << 8) | buf[r + 3]!;
    o.rtpTs = buf.readUInt32BE(r + 4);
    o.digest = rtpDigest(buf, r, this.hitRtpLen);
    o.matched = this.hitStream;
    this.counters.hits++;
    this.emit(o);
  }

  private refreshIndex(ts: number): void {
    const size = this.streams.active.size;
    const age = ts - this.builtTs;
    if (this.builtTs >= 0 && age >= 0 && age < REBUILD_SEC && (size === this.builtSize || age < REBUILD_ON_CHANGE_SEC)) return;
    this.builtTs = ts;
    this.builtSize = size;
    const m = this.bySsrc;
    m.clear();
    for (const s of this.streams.active) {
      const e = m.get(s.ssrc);
      if (e === undefined) m.set(s.ssrc, s);
      else if (Array.isArray(e)) {
        if (e.length < 8) e.push(s);
      } else m.set(s.ssrc, [e, s]);
    }
  }
}

/** Could this RTP header (seq, pt, inner ports or -1) be a packet of stream s? */
function fits(s: MediaStream, seq: number, pt: number, sport: number, dport: number): boolean {
  if (s.lastSeq >= 0) {
    const d = (seq - s.lastSeq) & 0xffff;
    if (d > SEQ_SLACK && d < 0x10000 - SEQ_SLACK) return false;
  }
  // A payload type the stream has used (dynamic PT changes need the stream to have seen them once).
  const bit = 1 << (pt & 31);
  const w = pt >>> 5;
  const word = w === 0 ? s.pt0 : w === 1 ? s.pt1 : w === 2 ? s.pt2 : s.pt3;
  if ((word & bit) === 0) return false;
  if (sport >= 0) {
    const f = s.flow;
    if (f.id !== s.flowId) return false;
    const sp = s.dir === 0 ? f.aPort : f.bPort;
    const dp = s.dir === 0 ? f.bPort : f.aPort;
    if (sp !== sport || dp !== dport) return false;
  }
  return true;
}

function wrapperFor(proto: 'udp' | 'tcp', offset: number, what: number, jmirrorPort: boolean): string {
  if (proto === 'udp') {
    if (offset === 8 && jmirrorPort) return 'jmirror';
    if (offset === 0 && what === 2) return 'ip-in-udp';
    if (offset === 4 || offset === 12 || offset === 20) return 'packetcable';
    if (offset === 8 || offset === 22) return 'li-shim';
  }
  return 'unknown';
}
