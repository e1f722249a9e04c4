/**
 * Frame builders for the end-to-end tests: whole frames (allocated freely,
 * this is test setup, not the hot path) for every protocol the sensor core
 * decodes, so the fuzz and privacy tests run without ../shared/corpus.
 *
 * Followed specs: Ethernet II; IPv4 (RFC 791, checksum RFC 1071, fragments
 * §3.2); IPv6 (RFC 8200, Fragment header §4.5, UDP checksum §8.1); UDP
 * (RFC 768); TCP (RFC 9293); SIP (RFC 3261) with SDP (RFC 8866) and SDES
 * a=crypto (RFC 4568); RTP (RFC 3550 §5.1); RTCP SR/SDES/APP (RFC 3550
 * §6.4.1, §6.5, §6.7); RTP over TCP framing (RFC 4571); STUN (RFC 8489);
 * TURN ChannelData and Send indication (RFC 8656 §11-12); DTLS 1.2
 * ClientHello (RFC 6347 §4.1, §4.2.2); VXLAN (RFC 7348); GRE (RFC 2784);
 * HEP3 (sipcapture "HEP3 Network Protocol Specification" rev. 3).
 *
 * The SIP/SDP and RTP pieces live in tests/fixtures/gen too; this kit adds
 * what those do not cover (SDES keys, SIP over TCP, tunnels, fragments, STUN,
 * TURN, DTLS, RTCP) and keeps its own tiny L2-L4 builders so a tunnel can
 * wrap a bare IP packet.
 */

export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;

// ------------------------------------------------------------------ addresses

function isV6(ip: string): boolean {
  return ip.includes(':');
}

export function ipBytes(ip: string): Buffer {
  if (!isV6(ip)) return Buffer.from(ip.split('.').map(Number));
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, ''];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

function sum16(buf: Buffer, sum = 0): number {
  for (let i = 0; i + 1 < buf.length; i += 2) sum += buf.readUInt16BE(i);
  if (buf.length & 1) sum += buf[buf.length - 1]! << 8;
  return sum;
}

function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 65536);
  return ~sum & 0xffff;
}

// ------------------------------------------------------------------ L2-L4

export function ethernet(etherType: number, payload: Buffer, srcMac = '02:00:00:00:00:01', dstMac = '02:00:00:00:00:02'): Buffer {
  const h = Buffer.alloc(14);
  Buffer.from(dstMac.split(':').map((x) => parseInt(x, 16))).copy(h, 0);
  Buffer.from(srcMac.split(':').map((x) => parseInt(x, 16))).copy(h, 6);
  h.writeUInt16BE(etherType, 12);
  return Buffer.concat([h, payload]);
}

export interface Ipv4Options {
  id?: number;
  ttl?: number;
  /** Fragment offset in bytes (multiple of 8). */
  fragOffset?: number;
  moreFragments?: boolean;
  dontFragment?: boolean;
}

/** A whole IPv4 packet (20-byte header) around an L4 payload. */
export function ipv4(src: string, dst: string, proto: number, l4: Buffer, o: Ipv4Options = {}): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + l4.length, 2);
  h.writeUInt16BE((o.id ?? 0x1234) & 0xffff, 4);
  const frag = ((o.fragOffset ?? 0) >> 3) | (o.moreFragments ? 0x2000 : 0) | (o.dontFragment ? 0x4000 : 0);
  h.writeUInt16BE(frag, 6);
  h[8] = o.ttl ?? 64;
  h[9] = proto;
  ipBytes(src).copy(h, 12);
  ipBytes(dst).copy(h, 16);
  h.writeUInt16BE(fold(sum16(h)), 10);
  return Buffer.concat([h, l4]);
}

/** A whole IPv6 packet (no extension headers unless `nextHeader` says so). */
export function ipv6(src: string, dst: string, nextHeader: number, payload: Buffer, hopLimit = 64): Buffer {
  const h = Buffer.alloc(40);
  h.writeUInt32BE(0x60000000, 0);
  h.writeUInt16BE(payload.length, 4);
  h[6] = nextHeader;
  h[7] = hopLimit;
  ipBytes(src).copy(h, 8);
  ipBytes(dst).copy(h, 24);
  return Buffer.concat([h, payload]);
}

function pseudoSum(src: string, dst: string, proto: number, len: number): number {
  return sum16(ipBytes(src)) + sum16(ipBytes(dst)) + proto + (len & 0xffff) + Math.floor(len / 65536);
}

export function udp(src: string, sport: number, dst: string, dport: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt16BE(8 + payload.length, 4);
  const seg = Buffer.concat([h, payload]);
  let c = fold(sum16(seg, pseudoSum(src, dst, 17, seg.length)));
  if (c === 0) c = 0xffff;
  seg.writeUInt16BE(c, 6);
  return seg;
}

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;

export function tcp(src: string, sport: number, dst: string, dport: number, seq: number, ack: number, flags: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt32BE(seq >>> 0, 4);
  h.writeUInt32BE(ack >>> 0, 8);
  h[12] = 5 << 4;
  h[13] = flags;
  h.writeUInt16BE(65535, 14);
  const seg = Buffer.concat([h, payload]);
  seg.writeUInt16BE(fold(sum16(seg, pseudoSum(src, dst, 6, seg.length))), 16);
  return seg;
}

/** IP packet (v4 or v6 by the address text) carrying `l4` of protocol `proto`. */
export function ipPacket(src: string, dst: string, proto: number, l4: Buffer, o: Ipv4Options = {}): Buffer {
  return isV6(src) ? ipv6(src, dst, proto, l4, o.ttl) : ipv4(src, dst, proto, l4, o);
}

/** Ethernet frame holding IP/UDP. */
export function udpFrame(src: string, sport: number, dst: string, dport: number, payload: Buffer, o: Ipv4Options = {}): Buffer {
  const ip = ipPacket(src, dst, 17, udp(src, sport, dst, dport, payload), o);
  return ethernet(isV6(src) ? 0x86dd : 0x0800, ip);
}

/** Ethernet frame holding IP/TCP. */
export function tcpFrame(src: string, sport: number, dst: string, dport: number, seq: number, ack: number, flags: number, payload: Buffer): Buffer {
  const ip = ipPacket(src, dst, 6, tcp(src, sport, dst, dport, seq, ack, flags, payload));
  return ethernet(isV6(src) ? 0x86dd : 0x0800, ip);
}

/**
 * Split a whole IPv4 packet (20-byte header) into fragments of at most
 * `chunk` payload bytes (rounded down to 8), as Ethernet frames.
 */
export function ipv4Fragments(packet: Buffer, chunk: number): Buffer[] {
  const src = `${packet[12]}.${packet[13]}.${packet[14]}.${packet[15]}`;
  const dst = `${packet[16]}.${packet[17]}.${packet[18]}.${packet[19]}`;
  const body = packet.subarray(20);
  const step = Math.max(8, chunk & ~7);
  const out: Buffer[] = [];
  for (let off = 0; off < body.length; off += step) {
    const part = body.subarray(off, Math.min(body.length, off + step));
    out.push(ethernet(0x0800, ipv4(src, dst, packet[9]!, part, { id: packet.readUInt16BE(4), ttl: packet[8], fragOffset: off, moreFragments: off + step < body.length })));
  }
  return out;
}

/** Split a whole IPv6 packet (no extension headers) into fragments with a Fragment header (RFC 8200 §4.5). */
export function ipv6Fragments(packet: Buffer, chunk: number, id = 0x5eed): Buffer[] {
  const next = packet[6]!;
  const hop = packet[7]!;
  const body = packet.subarray(40);
  const step = Math.max(8, chunk & ~7);
  const out: Buffer[] = [];
  for (let off = 0; off < body.length; off += step) {
    const part = body.subarray(off, Math.min(body.length, off + step));
    const fh = Buffer.alloc(8);
    fh[0] = next;
    fh.writeUInt16BE(off | (off + step < body.length ? 1 : 0), 2);
    fh.writeUInt32BE(id, 4);
    const h = Buffer.from(packet.subarray(0, 40));
    h.writeUInt16BE(8 + part.length, 4);
    h[6] = 44;
    h[7] = hop;
    out.push(ethernet(0x86dd, Buffer.concat([h, fh, part])));
  }
  return out;
}

// ------------------------------------------------------------------ tunnels

/** VXLAN (RFC 7348): outer UDP to 4789, 8-byte header with the I flag, then the inner Ethernet frame. */
export function vxlanFrame(outerSrc: string, outerDst: string, vni: number, innerEthernet: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h[0] = 0x08;
  h.writeUInt32BE((vni & 0xffffff) << 8, 4);
  return udpFrame(outerSrc, 40000 + (vni & 0xff), outerDst, 4789, Buffer.concat([h, innerEthernet]));
}

/** GRE (RFC 2784) without options, protocol type IPv4 or IPv6, around a bare inner IP packet. */
export function greFrame(outerSrc: string, outerDst: string, innerIp: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt16BE((innerIp[0]! >> 4) === 6 ? 0x86dd : 0x0800, 2);
  return ethernet(0x0800, ipv4(outerSrc, outerDst, 47, Buffer.concat([h, innerIp])));
}

function hepChunk(type: number, value: Buffer): Buffer {
  const h = Buffer.alloc(6);
  h.writeUInt16BE(0, 0);
  h.writeUInt16BE(type, 2);
  h.writeUInt16BE(6 + value.length, 4);
  return Buffer.concat([h, value]);
}

function u8(n: number): Buffer {
  return Buffer.from([n]);
}
function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}
function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** HEP3 message (IPv4 captured packet) carrying `payload`; protoType 1 = SIP, 5 = RTCP. Sent over UDP to 9060. */
export function hep3Frame(
  agentSrc: string,
  collector: string,
  inner: { src: string; sport: number; dst: string; dport: number; proto: number },
  protoType: number,
  payload: Buffer,
  tsSec = 1_700_000_000,
): Buffer {
  const chunks = Buffer.concat([
    hepChunk(1, u8(2)),
    hepChunk(2, u8(inner.proto)),
    hepChunk(3, ipBytes(inner.src)),
    hepChunk(4, ipBytes(inner.dst)),
    hepChunk(7, u16(inner.sport)),
    hepChunk(8, u16(inner.dport)),
    hepChunk(9, u32(tsSec)),
    hepChunk(10, u32(0)),
    hepChunk(11, u8(protoType)),
    hepChunk(12, u32(2001)),
    hepChunk(15, payload),
  ]);
  const h = Buffer.alloc(6);
  h.write('HEP3', 0, 'latin1');
  h.writeUInt16BE(6 + chunks.length, 4);
  return udpFrame(agentSrc, 39060, collector, 9060, Buffer.concat([h, chunks]));
}

// ------------------------------------------------------------------ media

export function rtp(ssrc: number, seq: number, ts: number, pt: number, payload: Buffer, marker = false): Buffer {
  const h = Buffer.alloc(12);
  h[0] = 0x80;
  h[1] = (marker ? 0x80 : 0) | (pt & 0x7f);
  h.writeUInt16BE(seq & 0xffff, 2);
  h.writeUInt32BE(ts >>> 0, 4);
  h.writeUInt32BE(ssrc >>> 0, 8);
  return Buffer.concat([h, payload]);
}

function pad4(b: Buffer): Buffer {
  return b.length % 4 === 0 ? b : Buffer.concat([b, Buffer.alloc(4 - (b.length % 4))]);
}

/** RTCP compound: SR (RFC 3550 §6.4.1) + SDES CNAME (§6.5) [+ APP (§6.7) carrying `appData`]. */
export function rtcpCompound(ssrc: number, cname: string, appData?: Buffer): Buffer {
  const sr = Buffer.alloc(28);
  sr[0] = 0x80;
  sr[1] = 200;
  sr.writeUInt16BE(6, 2);
  sr.writeUInt32BE(ssrc >>> 0, 4);
  sr.writeUInt32BE(0xe8d4a510, 8);
  sr.writeUInt32BE(0x10000000, 12);
  sr.writeUInt32BE(160_000, 16);
  sr.writeUInt32BE(100, 20);
  sr.writeUInt32BE(16_000, 24);
  const item = Buffer.concat([u8(1), u8(cname.length), Buffer.from(cname, 'latin1'), u8(0)]);
  const chunk = pad4(Buffer.concat([u32(ssrc), item]));
  const sdesHdr = Buffer.alloc(4);
  sdesHdr[0] = 0x81;
  sdesHdr[1] = 202;
  sdesHdr.writeUInt16BE(chunk.length / 4, 2);
  const parts = [sr, sdesHdr, chunk];
  if (appData) {
    const data = pad4(appData);
    const app = Buffer.alloc(12);
    app[0] = 0x80;
    app[1] = 204;
    app.writeUInt16BE(2 + data.length / 4, 2);
    app.writeUInt32BE(ssrc >>> 0, 4);
    app.write('TWAP', 8, 'latin1');
    parts.push(app, data);
  }
  return Buffer.concat(parts);
}

/** RFC 4571: a 16-bit length in front of each RTP/RTCP packet on a TCP stream. */
export function rfc4571(packet: Buffer): Buffer {
  return Buffer.concat([u16(packet.length), packet]);
}

function stunAttr(type: number, value: Buffer): Buffer {
  return Buffer.concat([u16(type), u16(value.length), pad4(value)]);
}

/** STUN message (RFC 8489 §5): type, length, magic cookie, transaction id, attributes. */
export function stun(type: number, txid: Buffer, attrs: Array<[number, Buffer]>): Buffer {
  const body = Buffer.concat(attrs.map(([t, v]) => stunAttr(t, v)));
  const h = Buffer.alloc(20);
  h.writeUInt16BE(type, 0);
  h.writeUInt16BE(body.length, 2);
  h.writeUInt32BE(0x2112a442, 4);
  txid.copy(h, 8, 0, 12);
  return Buffer.concat([h, body]);
}

export const STUN_BINDING_REQUEST = 0x0001;
export const STUN_SEND_INDICATION = 0x0016;
export const STUN_ATTR_USERNAME = 0x0006;
export const STUN_ATTR_XOR_PEER_ADDRESS = 0x0012;
export const STUN_ATTR_DATA = 0x0013;
export const STUN_ATTR_SOFTWARE = 0x8022;

export function xorPeerAddressV4(ip: string, port: number): Buffer {
  const b = Buffer.alloc(8);
  b[1] = 0x01;
  b.writeUInt16BE(port ^ 0x2112, 2);
  const a = ipBytes(ip);
  const cookie = u32(0x2112a442);
  for (let i = 0; i < 4; i++) b[4 + i] = a[i]! ^ cookie[i]!;
  return b;
}

/** TURN ChannelData (RFC 8656 §12): channel number 0x4000-0x4FFF, length, data. */
export function channelData(channel: number, data: Buffer): Buffer {
  return Buffer.concat([u16(channel), u16(data.length), data]);
}

/** DTLS 1.2 record carrying one ClientHello handshake message (RFC 6347). */
export function dtlsClientHello(random: Buffer): Buffer {
  // use_srtp (RFC 5764 §4.1.1): profiles length 2, SRTP_AES128_CM_HMAC_SHA1_80, empty MKI.
  const useSrtp = Buffer.concat([u16(0x000e), u16(5), u16(2), u16(0x0001), u8(0)]);
  const body = Buffer.concat([
    u16(0xfefd),
    random.subarray(0, 32),
    u8(0), // session id length
    u8(0), // cookie length
    u16(4),
    u16(0xc02b),
    u16(0xc02f),
    u8(1),
    u8(0), // null compression
    u16(useSrtp.length),
    useSrtp,
  ]);
  const hs = Buffer.alloc(12);
  hs[0] = 1;
  hs.writeUIntBE(body.length, 1, 3);
  hs.writeUInt16BE(0, 4);
  hs.writeUIntBE(0, 6, 3);
  hs.writeUIntBE(body.length, 9, 3);
  const msg = Buffer.concat([hs, body]);
  const rec = Buffer.alloc(13);
  rec[0] = 22;
  rec.writeUInt16BE(0xfeff, 1);
  rec.writeUInt16BE(0, 3);
  rec.writeUIntBE(0, 5, 6);
  rec.writeUInt16BE(msg.length, 11);
  return Buffer.concat([rec, msg]);
}

// ------------------------------------------------------------------ SIP

export interface SipEndpoint {
  user: string;
  ip: string;
  sipPort: number;
  rtpPort: number;
  /** base64 inline key (key||salt, 30 bytes) for a=crypto; switches the profile to RTP/SAVP. */
  cryptoKey?: string;
}

export interface SipDialog {
  callId: string;
  transport: 'UDP' | 'TCP';
  caller: SipEndpoint;
  callee: SipEndpoint;
}

function hostport(ip: string, port: number): string {
  return isV6(ip) ? `[${ip}]:${port}` : `${ip}:${port}`;
}

export function sdpBody(p: SipEndpoint, sessionId: number): string {
  const t = isV6(p.ip) ? 'IP6' : 'IP4';
  const lines = [
    'v=0',
    `o=${p.user} ${sessionId} ${sessionId} IN ${t} ${p.ip}`,
    's=tapwatch e2e',
    `c=IN ${t} ${p.ip}`,
    't=0 0',
    `m=audio ${p.rtpPort} ${p.cryptoKey ? 'RTP/SAVP' : 'RTP/AVP'} 8 101`,
    'a=rtpmap:8 PCMA/8000',
    'a=rtpmap:101 telephone-event/8000',
  ];
  if (p.cryptoKey) lines.push(`a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${p.cryptoKey}`);
  lines.push('a=ptime:20', 'a=sendrecv');
  return lines.join('\r\n') + '\r\n';
}

function sipMessage(start: string, headers: string[], body = '', contentType = 'application/sdp'): Buffer {
  const all = [...headers];
  if (body) all.push(`Content-Type: ${contentType}`);
  all.push(`Content-Length: ${Buffer.byteLength(body)}`);
  return Buffer.from(`${start}\r\n${all.join('\r\n')}\r\n\r\n${body}`, 'utf8');
}

export interface SipMsg {
  from: 'caller' | 'callee';
  bytes: Buffer;
}

/**
 * INVITE (offer) / 100 / 180 / 200 (answer) / ACK, then BYE / 200 — the BYE
 * pair is returned separately so media can go in between. `extra` requests
 * (e.g. an in-dialog MESSAGE) go after the ACK.
 */
export function sipDialog(d: SipDialog, extraBody?: { contentType: string; body: string }): { setup: SipMsg[]; teardown: SipMsg[] } {
  const c = d.caller;
  const e = d.callee;
  const cu = `sip:${c.user}@${hostport(c.ip, c.sipPort)}`;
  const eu = `sip:${e.user}@${hostport(e.ip, e.sipPort)}`;
  const via = (branch: string): string => `Via: SIP/2.0/${d.transport} ${hostport(c.ip, c.sipPort)};branch=z9hG4bK${branch}`;
  const from = `From: "${c.user}" <${cu}>;tag=ftag${d.callId.length}`;
  const toNoTag = `To: <${eu}>`;
  const to = `${toNoTag};tag=ttag42`;
  const cid = `Call-ID: ${d.callId}`;
  const resp = (status: string, branch: string, cseq: string, tagged: boolean, body = ''): Buffer =>
    sipMessage(`SIP/2.0 ${status}`, [via(branch), from, tagged ? to : toNoTag, cid, `CSeq: ${cseq}`, `Contact: <${eu}>`], body);
  const setup: SipMsg[] = [
    { from: 'caller', bytes: sipMessage(`INVITE ${eu} SIP/2.0`, [via('inv1'), 'Max-Forwards: 70', from, toNoTag, cid, 'CSeq: 1 INVITE', `Contact: <${cu}>`], sdpBody(c, 1001)) },
    { from: 'callee', bytes: resp('100 Trying', 'inv1', '1 INVITE', false) },
    { from: 'callee', bytes: resp('180 Ringing', 'inv1', '1 INVITE', true) },
    { from: 'callee', bytes: resp('200 OK', 'inv1', '1 INVITE', true, sdpBody(e, 2002)) },
    { from: 'caller', bytes: sipMessage(`ACK ${eu} SIP/2.0`, [via('ack1'), 'Max-Forwards: 70', from, to, cid, 'CSeq: 1 ACK']) },
  ];
  if (extraBody) {
    setup.push({
      from: 'caller',
      bytes: sipMessage(`MESSAGE ${eu} SIP/2.0`, [via('msg1'), 'Max-Forwards: 70', from, to, cid, 'CSeq: 2 MESSAGE'], extraBody.body, extraBody.contentType),
    });
    setup.push({ from: 'callee', bytes: resp('200 OK', 'msg1', '2 MESSAGE', true) });
  }
  const teardown: SipMsg[] = [
    { from: 'caller', bytes: sipMessage(`BYE ${eu} SIP/2.0`, [via('bye1'), 'Max-Forwards: 70', from, to, cid, 'CSeq: 3 BYE']) },
    { from: 'callee', bytes: resp('200 OK', 'bye1', '3 BYE', true) },
  ];
  return { setup, teardown };
}
