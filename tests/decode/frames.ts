/**
 * Byte-literal frame builders for the decode tests. Each helper returns a
 * Buffer built from hex, so a test reads as the packet it describes.
 * Checksums are left 0: the decoders do not verify them.
 */
import { decodeFrame, defaultDecodeContext } from '../../sensor/src/decode/decode-frame.js';
import type { DecodeContext, Defragmenter } from '../../sensor/src/decode/context.js';
import { PacketRecord } from '../../sensor/src/decode/packet.js';
import { WeirdCounters } from '../../sensor/src/decode/weird.js';
import { formatAddr } from '../../sensor/src/decode/address.js';

export const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
export const cat = (...parts: Buffer[]): Buffer => Buffer.concat(parts);
const u16 = (n: number): string => (n & 0xffff).toString(16).padStart(4, '0');
const u8 = (n: number): string => (n & 0xff).toString(16).padStart(2, '0');

export const MAC_DST = '020000000001';
export const MAC_SRC = '020000000002';

export function eth(etherType: number, payload: Buffer): Buffer {
  return cat(hex(MAC_DST + MAC_SRC + u16(etherType)), payload);
}

export function vlanTag(tpid: number, vid: number, inner: number): Buffer {
  return hex(u16(tpid) + u16(vid) + u16(inner));
}

function v4(addr: string): string {
  return addr
    .split('.')
    .map((x) => u8(Number(x)))
    .join('');
}

export interface Ipv4Opts {
  src?: string;
  dst?: string;
  ttl?: number;
  id?: number;
  checksum?: number;
  options?: Buffer;
  totalLength?: number;
  flagsFrag?: number;
}

export function ipv4(proto: number, payload: Buffer, o: Ipv4Opts = {}): Buffer {
  const options = o.options ?? Buffer.alloc(0);
  const ihl = 5 + options.length / 4;
  const total = o.totalLength ?? 20 + options.length + payload.length;
  const h =
    u8(0x40 | ihl) +
    '00' +
    u16(total) +
    u16(o.id ?? 0x1234) +
    u16(o.flagsFrag ?? 0x4000) +
    u8(o.ttl ?? 64) +
    u8(proto) +
    u16(o.checksum ?? 0xbeef) +
    v4(o.src ?? '10.0.0.1') +
    v4(o.dst ?? '10.0.0.2');
  return cat(hex(h), options, payload);
}

export const V6_SRC = '20010db8000000000000000000000001';
export const V6_DST = '20010db8000000000000000000000002';

export function ipv6(next: number, payload: Buffer, o: { hopLimit?: number; payloadLength?: number; src?: string; dst?: string } = {}): Buffer {
  const h =
    '60000000' + u16(o.payloadLength ?? payload.length) + u8(next) + u8(o.hopLimit ?? 64) + (o.src ?? V6_SRC) + (o.dst ?? V6_DST);
  return cat(hex(h), payload);
}

export function udp(sport: number, dport: number, payload: Buffer, length?: number): Buffer {
  return cat(hex(u16(sport) + u16(dport) + u16(length ?? payload.length + 8) + '0000'), payload);
}

export function tcp(sport: number, dport: number, payload: Buffer, o: { seq?: number; ack?: number; flags?: number; options?: Buffer } = {}): Buffer {
  const options = o.options ?? Buffer.alloc(0);
  const doff = 5 + options.length / 4;
  const seq = (o.seq ?? 1000).toString(16).padStart(8, '0');
  const ack = (o.ack ?? 2000).toString(16).padStart(8, '0');
  return cat(hex(u16(sport) + u16(dport) + seq + ack + u8(doff << 4) + u8(o.flags ?? 0x18) + 'ffff00000000'), options, payload);
}

/** A 12-byte RTP header + 160 bytes of PCMA silence. */
export const RTP = cat(hex('80080001000000a0deadbeef'), Buffer.alloc(160, 0xd5));
export const SIP = Buffer.from('INVITE sip:bob@example.com SIP/2.0\r\nCall-ID: x\r\n\r\n');

export const ETH_IPV4_UDP_RTP = (): Buffer => eth(0x0800, ipv4(17, udp(40000, 50000, RTP)));

export interface Decoded {
  rec: PacketRecord;
  weirds: WeirdCounters;
  ctx: DecodeContext;
}

export function newCtx(defrag: Defragmenter | null = null): DecodeContext {
  return defaultDecodeContext(new WeirdCounters(), defrag);
}

export function decodeBytes(frame: Buffer, linkType = 1, ctx: DecodeContext = newCtx(), rec = new PacketRecord()): Decoded {
  rec.frame = frame;
  rec.frameOffset = 0;
  rec.capLength = frame.length;
  rec.wireLength = frame.length;
  rec.linkType = linkType;
  decodeFrame(rec, ctx);
  return { rec, weirds: ctx.weirds, ctx };
}

export function src(rec: PacketRecord): string {
  return formatAddr(rec.ipVersion, rec.srcAddr);
}
export function dst(rec: PacketRecord): string {
  return formatAddr(rec.ipVersion, rec.dstAddr);
}
export function payload(rec: PacketRecord): Buffer {
  return rec.payloadBuf.subarray(rec.payloadOffset, rec.payloadOffset + rec.payloadLength);
}
export function tunnelSummary(rec: PacketRecord): string[] {
  const out: string[] = [];
  for (let i = 0; i < rec.tunnelDepth; i++) {
    const t = rec.tunnels[i]!;
    out.push(`${t.kind}:${t.id}:${formatAddr(t.ipVersion, t.srcAddr)}>${formatAddr(t.ipVersion, t.dstAddr)}:${t.l4Proto}`);
  }
  return out;
}

/**
 * Everything a decode leaves in the record, as one string (payload as the
 * bytes themselves and as an offset relative to the frame start), for
 * comparing two decodes of the same bytes.
 */
export function stateOf(rec: PacketRecord): string {
  const inFrame = rec.payloadBuf === rec.frame;
  const tunnels: string[] = [];
  for (let i = 0; i < rec.tunnelDepth; i++) {
    const t = rec.tunnels[i]!;
    tunnels.push([t.kind, t.id, t.ipVersion, [...t.srcAddr], [...t.dstAddr], t.l4Proto, t.srcPort, t.dstPort, t.ttl].join('/'));
  }
  return JSON.stringify([
    rec.vlanCount, rec.vlanId, rec.mplsLabelCount, rec.ethOffset < 0 ? -1 : rec.ethOffset - rec.frameOffset,
    rec.ipVersion, [...rec.srcAddr], [...rec.dstAddr], rec.ttl, rec.ipId, rec.ipChecksum, rec.ipProto, rec.ipLength,
    rec.isFragment, rec.reassembled, rec.l4Proto, rec.srcPort, rec.dstPort, rec.tcpSeq, rec.tcpAck, rec.tcpFlags,
    inFrame ? rec.payloadOffset - rec.frameOffset : -1, rec.payloadLength,
    rec.payloadBuf.subarray(rec.payloadOffset, rec.payloadOffset + rec.payloadLength).toString('hex'),
    tunnels,
  ]);
}
