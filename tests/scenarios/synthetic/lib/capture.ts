/**
 * A small in-memory capture for the synthetic labelled scenarios: hosts with
 * their own MAC, TTL and IPv4 identification counter (RFC 791; Linux
 * increments it per packet, so two sends of one payload differ in IP ID while
 * a switch's or router's copy of one packet keeps it), frames added at
 * capture times in any order, written sorted as a classic microsecond pcap
 * (tests/fixtures/gen/pcap-writer.ts).
 *
 * Frames are built with tests/fixtures/gen/frames.ts (Ethernet II, IPv4,
 * UDP with RFC 768 checksums), plus a raw IPv4 writer for GRE (RFC 2784),
 * which frames.ts does not cover. These captures are a few hundred KB, so
 * allocating per frame is fine here.
 */
import {
  checksumAdd,
  checksumFinish,
  ipv4Bytes,
  macForIp,
  makeFrameSpec,
  udpPayloadOffset,
  writeUdpFrameWithPayload,
} from '../../../fixtures/gen/frames.js';
import { PcapWriter } from '../../../fixtures/gen/pcap-writer.js';

export class Host {
  readonly ipBytes: Uint8Array;
  mac: Uint8Array;
  ipId: number;
  ttl = 64;

  constructor(
    readonly ip: string,
    opts: { mac?: Uint8Array; ipId?: number; ttl?: number } = {},
  ) {
    this.ipBytes = ipv4Bytes(ip);
    this.mac = opts.mac ?? macForIp(this.ipBytes);
    // A per-host starting IP ID, so hosts do not share one sequence.
    this.ipId = opts.ipId ?? (this.ipBytes[3]! * 251 + this.ipBytes[2]! * 17) & 0xffff;
    if (opts.ttl !== undefined) this.ttl = opts.ttl;
  }

  /** Next IPv4 identification value of this host. */
  nextIpId(): number {
    const id = this.ipId;
    this.ipId = (id + 1) & 0xffff;
    return id;
  }
}

/** Multicast MAC for an IPv4 group (RFC 1112 §6.4: 01:00:5e + low 23 bits). */
export function multicastMac(ip: string): Uint8Array {
  const b = ipv4Bytes(ip);
  return Uint8Array.of(0x01, 0x00, 0x5e, b[1]! & 0x7f, b[2]!, b[3]!);
}

export function mac(text: string): Uint8Array {
  return Uint8Array.from(text.split(':').map((h) => parseInt(h, 16)));
}

export interface FrameOptions {
  ttl?: number;
  ipId?: number;
  srcMac?: Uint8Array;
  dstMac?: Uint8Array;
  tos?: number;
}

const scratch = Buffer.alloc(70000);

/** Ethernet/IPv4/UDP frame from `src` to `dstIp`; uses and advances src's IP ID unless given. */
export function udpFrame(src: Host, sport: number, dst: Host | string, dport: number, payload: Uint8Array, o: FrameOptions = {}): Buffer {
  const dstIp = typeof dst === 'string' ? dst : dst.ip;
  const dstBytes = ipv4Bytes(dstIp);
  const spec = makeFrameSpec({
    srcIp: src.ipBytes,
    dstIp: dstBytes,
    srcPort: sport,
    dstPort: dport,
    srcMac: o.srcMac ?? src.mac,
    dstMac: o.dstMac ?? (typeof dst === 'string' ? macForIp(dstBytes) : dst.mac),
    ttl: o.ttl ?? src.ttl,
    ipId: o.ipId ?? src.nextIpId(),
    tos: o.tos ?? 0,
  });
  if (udpPayloadOffset(spec) + payload.length > scratch.length) throw new Error('udpFrame: payload too large');
  const len = writeUdpFrameWithPayload(scratch, 0, spec, payload);
  return Buffer.from(scratch.subarray(0, len));
}

/** Ethernet/IPv4 frame carrying `payload` as protocol `proto` (47 = GRE). */
export function ipv4Frame(src: Host, dstIp: string, proto: number, payload: Uint8Array, o: FrameOptions = {}): Buffer {
  const frame = Buffer.alloc(14 + 20 + payload.length);
  const dstBytes = ipv4Bytes(dstIp);
  frame.set(o.dstMac ?? macForIp(dstBytes), 0);
  frame.set(o.srcMac ?? src.mac, 6);
  frame.writeUInt16BE(0x0800, 12);
  const ip = 14;
  frame[ip] = 0x45;
  frame[ip + 1] = o.tos ?? 0;
  frame.writeUInt16BE(20 + payload.length, ip + 2);
  frame.writeUInt16BE(o.ipId ?? src.nextIpId(), ip + 4);
  frame.writeUInt16BE(0x4000, ip + 6);
  frame[ip + 8] = o.ttl ?? src.ttl;
  frame[ip + 9] = proto;
  frame.set(src.ipBytes, ip + 12);
  frame.set(dstBytes, ip + 16);
  frame.writeUInt16BE(checksumFinish(checksumAdd(frame, ip, 20, 0)), ip + 10);
  frame.set(payload, 34);
  return frame;
}

/** The IP packet of an untagged Ethernet frame. */
export function ipPacketOf(frame: Buffer): Buffer {
  return frame.subarray(14);
}

/** The UDP payload of an untagged Ethernet/IPv4 (no options)/UDP frame. */
export function udpPayloadOf(frame: Buffer): Buffer {
  return frame.subarray(14 + 20 + 8);
}

/**
 * The same IP packet forwarded one hop by a router: TTL - 1 (IPv4 header
 * checksum updated, RFC 1624), new MACs, same IP ID and UDP checksum (TTL is
 * not in the pseudo-header). `dstIp` rewrites the destination too (DNAT),
 * which changes both checksums.
 */
export function forwarded(frame: Buffer, srcMac: Uint8Array, dstMac: Uint8Array, opts: { ttlDelta?: number; dstIp?: string; dstPort?: number } = {}): Buffer {
  const f = Buffer.from(frame);
  f.set(dstMac, 0);
  f.set(srcMac, 6);
  const ip = 14;
  f[ip + 8] = f[ip + 8]! - (opts.ttlDelta ?? 1);
  if (opts.dstIp) f.set(ipv4Bytes(opts.dstIp), ip + 16);
  if (opts.dstPort !== undefined) f.writeUInt16BE(opts.dstPort, ip + 20 + 2);
  f.writeUInt16BE(0, ip + 10);
  f.writeUInt16BE(checksumFinish(checksumAdd(f, ip, 20, 0)), ip + 10);
  if (opts.dstIp || opts.dstPort !== undefined) {
    // Recompute the UDP checksum over the pseudo-header (RFC 768).
    const u = ip + 20;
    const udpLen = f.readUInt16BE(u + 4);
    f.writeUInt16BE(0, u + 6);
    let sum = checksumAdd(f, ip + 12, 8, 0) + 17 + udpLen;
    sum = checksumAdd(f, u, udpLen, sum);
    let c = checksumFinish(sum);
    if (c === 0) c = 0xffff;
    f.writeUInt16BE(c, u + 6);
  }
  return f;
}

/**
 * Split an untagged Ethernet/IPv4 frame whose IP packet exceeds `mtu` into
 * RFC 791 fragments (offsets in 8-byte units, MF on all but the last, DF
 * cleared, header checksum per fragment), as a host's stack does for a large
 * SIP message over UDP. Smaller frames come back unchanged.
 */
export function fragmentFrame(frame: Buffer, mtu = 1500): Buffer[] {
  const ip = 14;
  const ihl = (frame[ip]! & 0x0f) * 4;
  const total = frame.readUInt16BE(ip + 2);
  if (total <= mtu) return [frame];
  const data = frame.subarray(ip + ihl, ip + total);
  const chunk = (mtu - ihl) & ~7;
  const out: Buffer[] = [];
  for (let off = 0; off < data.length; off += chunk) {
    const part = data.subarray(off, Math.min(off + chunk, data.length));
    const more = off + chunk < data.length;
    const f = Buffer.alloc(ip + ihl + part.length);
    frame.copy(f, 0, 0, ip + ihl);
    f.writeUInt16BE(ihl + part.length, ip + 2);
    f.writeUInt16BE((more ? 0x2000 : 0) | (off / 8), ip + 6);
    f.writeUInt16BE(0, ip + 10);
    f.writeUInt16BE(checksumFinish(checksumAdd(f, ip, ihl, 0)), ip + 10);
    part.copy(f, ip + ihl);
    out.push(f);
  }
  return out;
}

interface Timed {
  us: number;
  order: number;
  frame: Buffer;
}

/** Frames at capture times (seconds after `baseTs`), written in time order. */
export class Capture {
  private readonly frames: Timed[] = [];

  constructor(readonly baseTs: number) {}

  /** Absolute capture time (epoch seconds, µs resolution) of relative time t. */
  abs(t: number): number {
    return (Math.round(this.baseTs * 1e6) + Math.round(t * 1e6)) / 1e6;
  }

  add(t: number, frame: Buffer): void {
    if (!(t >= 0)) throw new Error(`Capture.add: bad time ${t}`);
    this.frames.push({ us: Math.round(t * 1e6), order: this.frames.length, frame });
  }

  get length(): number {
    return this.frames.length;
  }

  write(path: string): { packets: number; bytes: number } {
    const sorted = [...this.frames].sort((a, b) => a.us - b.us || a.order - b.order);
    const w = new PcapWriter(path);
    const base = Math.round(this.baseTs * 1e6);
    for (const f of sorted) {
      const us = base + f.us;
      w.writePacket(Math.floor(us / 1e6), (us % 1e6) * 1000, f.frame, 0, f.frame.length);
    }
    w.close();
    return { packets: w.packets, bytes: w.bytes };
  }
}
