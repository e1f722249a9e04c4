/**
 * HEP/EEP, the Homer Encapsulation Protocol (sipcapture HEP specification
 * "HEP3 Network Protocol Specification" rev. 3; sipcapture/hep-wireshark
 * lua/hep.lua; Kamailio modules/sipcapture/hep.c).
 *
 * HEP v3 is recognised on any UDP or TCP port by its magic:
 *   0: "HEP3"   4: total length (16, whole message)   6: chunks ...
 *   chunk: vendor id (16) | type (16) | length (16, including these 6 bytes) | value
 * Generic chunk types (vendor 0) used here:
 *   1 IP family (8: 2 = IPv4, 10 = IPv6)   2 IP protocol (8)
 *   3/4 IPv4 source/destination (32)       5/6 IPv6 source/destination (128)
 *   7/8 source/destination port (16)       9/10 timestamp seconds/microseconds (32)
 *   11 protocol type (8: 1 SIP, 5 RTCP, 100 log ...)   12 capture agent id (32)
 *   15 payload                              16 zlib-compressed payload
 *
 * HEP v1/v2 have no magic, so they are only tried on ctx.hepPorts
 * (Kamailio hep.c struct hep_hdr / hep_iphdr / hep_ip6hdr / hep_timehdr):
 *   0: version (1 or 2)  1: header length (16 for IPv4, 40 for IPv6)
 *   2: family (2 AF_INET, 10 AF_INET6)   3: IP protocol   4: source port   6: destination port
 *   8: source and destination address (4+4 or 16+16)
 *   v2 only: timestamp seconds (32) | microseconds (32) | capture id (16) | pad (16), in the
 *   sender's byte order (little-endian in practice: captagent and Kamailio copy host integers)
 *   then the payload: at 16 (v1) or 28 (v2) over IPv4; at 40 / 52 over IPv6.
 *
 * After a HEP decode the record's innermost L3/L4 fields are the ones HEP
 * reports for the captured packet (family, addresses, protocol, ports) and
 * the payload is the captured message (for chunk 16 a freshly inflated
 * Buffer). The HEP frame itself goes on the tunnel stack (Hep3 with the
 * capture agent id, or Hep2 with the v2 capture id / 0 for v1).
 *
 * The HEP protocol type (what the payload is: SIP, RTCP, log ...) has no
 * place in PacketRecord yet; it is published in `lastHepProtoType` (read it
 * right after decodeFrame; 0 when the frame held no HEP3, and for v1/v2,
 * which do not carry it and in practice only carry SIP).
 */
import { inflateSync } from 'node:zlib';
import type { DecodeContext } from './context.js';
import { TunnelKind, type PacketRecord } from './packet.js';
import { enterTunnel } from './tunnel.js';

/** HEP3 protocol type of the last decoded frame (0 = none). A live ESM binding: importers see updates. */
export let lastHepProtoType = 0;

/** Same value as `lastHepProtoType`, for callers that prefer a function. */
export function getLastHepProtoType(): number {
  return lastHepProtoType;
}

/** Called by decodeFrame at the start of every frame. */
export function resetHepState(): void {
  lastHepProtoType = 0;
}

export const HEP3_HEADER_LENGTH = 6;
export const HEP3_CHUNK_HEADER_LENGTH = 6;
/** Largest inflated payload accepted from a chunk 16 (a HEP message is one UDP datagram's worth). */
export const HEP_MAX_INFLATED_LENGTH = 65535;

const INFLATE_OPTIONS = { maxOutputLength: HEP_MAX_INFLATED_LENGTH };
const EMPTY = Buffer.alloc(0);

const CHUNK_IP_FAMILY = 1;
const CHUNK_IP_PROTO = 2;
const CHUNK_IPV4_SRC = 3;
const CHUNK_IPV4_DST = 4;
const CHUNK_IPV6_SRC = 5;
const CHUNK_IPV6_DST = 6;
const CHUNK_SRC_PORT = 7;
const CHUNK_DST_PORT = 8;
const CHUNK_PROTO_TYPE = 11;
const CHUNK_CAPTURE_ID = 12;
const CHUNK_PAYLOAD = 15;
const CHUNK_COMPRESSED_PAYLOAD = 16;

const AF_INET = 2;
const AF_INET6 = 10;

/** "HEP3" at buf[off]; the caller guarantees 4 bytes. */
export function isHep3Magic(buf: Buffer, off: number): boolean {
  return buf[off] === 0x48 && buf[off + 1] === 0x45 && buf[off + 2] === 0x50 && buf[off + 3] === 0x33;
}

/** Decode a HEP message at buf[off, end). Returns false (plain UDP/TCP stays) when it is not one. */
export function decodeHep(rec: PacketRecord, ctx: DecodeContext, buf: Buffer, off: number, end: number): boolean {
  if (end - off >= 4 && isHep3Magic(buf, off)) return decodeHep3(rec, ctx, buf, off, end);
  return decodeHep2(rec, ctx, buf, off, end);
}

function readWord(buf: Buffer, o: number): number {
  return (buf[o]! << 24) | (buf[o + 1]! << 16) | (buf[o + 2]! << 8) | buf[o + 3]!;
}

function copyV6(buf: Buffer, o: number, out: Uint32Array): void {
  out[0] = readWord(buf, o);
  out[1] = readWord(buf, o + 4);
  out[2] = readWord(buf, o + 8);
  out[3] = readWord(buf, o + 12);
}

function setV4(buf: Buffer, o: number, out: Uint32Array): void {
  out[0] = readWord(buf, o);
  out[1] = 0;
  out[2] = 0;
  out[3] = 0;
}

function transportOf(proto: number): number {
  return proto === 6 || proto === 17 || proto === 132 ? proto : 0;
}

/** zlib inflate that never throws (the one try/catch of the decoder lives here, off the hot path). */
function inflateBounded(data: Buffer): Buffer | null {
  try {
    return inflateSync(data, INFLATE_OPTIONS);
  } catch {
    return null;
  }
}

function decodeHep3(rec: PacketRecord, ctx: DecodeContext, buf: Buffer, off: number, end: number): boolean {
  if (off + HEP3_HEADER_LENGTH > end) {
    ctx.weirds.weird('truncated_hep3');
    return false;
  }
  const total = (buf[off + 4]! << 8) | buf[off + 5]!;
  if (total < HEP3_HEADER_LENGTH) {
    ctx.weirds.weird('bad_hep3_length');
    return false;
  }
  if (off + total > end) {
    // Over TCP a HEP message may span segments; that needs stream reassembly.
    ctx.weirds.weird('truncated_hep3');
    return false;
  }
  const msgEnd = off + total;
  // Chunks may come in any order: remember where things are, apply after the push.
  let family = 0;
  let proto = 0;
  let srcV4 = -1;
  let dstV4 = -1;
  let srcV6 = -1;
  let dstV6 = -1;
  let srcPort = 0;
  let dstPort = 0;
  let protoType = 0;
  let captureId = 0;
  let payloadOff = -1;
  let payloadLen = 0;
  let compressed = false;
  let p = off + HEP3_HEADER_LENGTH;
  while (p < msgEnd) {
    if (p + HEP3_CHUNK_HEADER_LENGTH > msgEnd) {
      ctx.weirds.weird('bad_hep3_chunk');
      return false;
    }
    const vendor = (buf[p]! << 8) | buf[p + 1]!;
    const type = (buf[p + 2]! << 8) | buf[p + 3]!;
    const length = (buf[p + 4]! << 8) | buf[p + 5]!;
    if (length < HEP3_CHUNK_HEADER_LENGTH || p + length > msgEnd) {
      ctx.weirds.weird('bad_hep3_chunk');
      return false;
    }
    const v = p + HEP3_CHUNK_HEADER_LENGTH;
    const n = length - HEP3_CHUNK_HEADER_LENGTH;
    if (vendor === 0) {
      switch (type) {
        case CHUNK_IP_FAMILY:
          if (n >= 1) family = buf[v]!;
          break;
        case CHUNK_IP_PROTO:
          if (n >= 1) proto = buf[v]!;
          break;
        case CHUNK_IPV4_SRC:
          if (n >= 4) srcV4 = v;
          break;
        case CHUNK_IPV4_DST:
          if (n >= 4) dstV4 = v;
          break;
        case CHUNK_IPV6_SRC:
          if (n >= 16) srcV6 = v;
          break;
        case CHUNK_IPV6_DST:
          if (n >= 16) dstV6 = v;
          break;
        case CHUNK_SRC_PORT:
          if (n >= 2) srcPort = (buf[v]! << 8) | buf[v + 1]!;
          break;
        case CHUNK_DST_PORT:
          if (n >= 2) dstPort = (buf[v]! << 8) | buf[v + 1]!;
          break;
        case CHUNK_PROTO_TYPE:
          if (n >= 1) protoType = buf[v]!;
          break;
        case CHUNK_CAPTURE_ID:
          if (n >= 4) captureId = readWord(buf, v) >>> 0;
          else if (n >= 2) captureId = (buf[v]! << 8) | buf[v + 1]!;
          break;
        case CHUNK_PAYLOAD:
          payloadOff = v;
          payloadLen = n;
          compressed = false;
          break;
        case CHUNK_COMPRESSED_PAYLOAD:
          payloadOff = v;
          payloadLen = n;
          compressed = true;
          break;
        default:
          break;
      }
    }
    p += length;
  }

  if (!enterTunnel(rec, ctx, TunnelKind.Hep3, captureId)) return true;
  lastHepProtoType = protoType;
  if (family === AF_INET6 || (family === 0 && srcV6 >= 0)) {
    rec.ipVersion = 6;
    if (srcV6 >= 0) copyV6(buf, srcV6, rec.srcAddr);
    if (dstV6 >= 0) copyV6(buf, dstV6, rec.dstAddr);
  } else if (family === AF_INET || (family === 0 && srcV4 >= 0)) {
    rec.ipVersion = 4;
    if (srcV4 >= 0) setV4(buf, srcV4, rec.srcAddr);
    if (dstV4 >= 0) setV4(buf, dstV4, rec.dstAddr);
  }
  rec.ipProto = proto;
  rec.l4Proto = transportOf(proto);
  rec.srcPort = srcPort;
  rec.dstPort = dstPort;
  if (payloadOff < 0) {
    rec.payloadBuf = EMPTY;
    rec.payloadOffset = 0;
    rec.payloadLength = 0;
  } else if (!compressed) {
    rec.payloadBuf = buf;
    rec.payloadOffset = payloadOff;
    rec.payloadLength = payloadLen;
  } else {
    const inflated = inflateBounded(buf.subarray(payloadOff, payloadOff + payloadLen));
    if (inflated === null) {
      ctx.weirds.weird('hep_zlib_error');
      rec.payloadBuf = EMPTY;
      rec.payloadOffset = 0;
      rec.payloadLength = 0;
    } else {
      rec.payloadBuf = inflated;
      rec.payloadOffset = 0;
      rec.payloadLength = inflated.length;
    }
  }
  return true;
}

function decodeHep2(rec: PacketRecord, ctx: DecodeContext, buf: Buffer, off: number, end: number): boolean {
  if (off + 16 > end) return false;
  const version = buf[off]!;
  if (version !== 1 && version !== 2) return false;
  const headerLength = buf[off + 1]!;
  const family = buf[off + 2]!;
  let ipVersion: number;
  if (family === AF_INET && headerLength === 16) ipVersion = 4;
  else if (family === AF_INET6 && headerLength === 40) ipVersion = 6;
  else return false; // not HEP after all: some other protocol on the HEP port
  const p = off + headerLength + (version === 2 ? 12 : 0);
  if (p > end) {
    ctx.weirds.weird('truncated_hep2');
    return false;
  }
  const captureId = version === 2 ? buf[off + headerLength + 8]! | (buf[off + headerLength + 9]! << 8) : 0;
  if (!enterTunnel(rec, ctx, TunnelKind.Hep2, captureId)) return true;
  const proto = buf[off + 3]!;
  rec.ipVersion = ipVersion;
  if (ipVersion === 4) {
    setV4(buf, off + 8, rec.srcAddr);
    setV4(buf, off + 12, rec.dstAddr);
  } else {
    copyV6(buf, off + 8, rec.srcAddr);
    copyV6(buf, off + 24, rec.dstAddr);
  }
  rec.ipProto = proto;
  rec.l4Proto = transportOf(proto);
  rec.srcPort = (buf[off + 4]! << 8) | buf[off + 5]!;
  rec.dstPort = (buf[off + 6]! << 8) | buf[off + 7]!;
  rec.payloadBuf = buf;
  rec.payloadOffset = p;
  rec.payloadLength = end - p;
  return true;
}
