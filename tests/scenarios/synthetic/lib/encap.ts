/**
 * Wrappers a covert copy travels in (PROTOCOLS.md, "Where a copied packet
 * hides"), each checked against its Wireshark dissector:
 *   GRE (RFC 2784/2890, packet-gre.c), ERSPAN II and III (packet-cisco-erspan.c),
 *   Geneve (RFC 8926, packet-geneve.c), TZSP (packet-tzsp.c),
 *   PacketCable/Cisco LI CCC (RFC 3924, packet-pcli.c), Juniper jmirror
 *   (packet-jmirror.c), HEP3 (sipcapture hep.lua),
 * and the TURN pieces of the TURN scenario: STUN (RFC 8489 §5) ChannelBind
 * (RFC 8656 §11) and ChannelData (RFC 8656 §12).
 */

export const GRE_PROTO_IPV4 = 0x0800;
export const GRE_PROTO_ERSPAN2 = 0x88be;
export const GRE_PROTO_ERSPAN3 = 0x22eb;

/** GRE, no C/K/S bits: 4-byte header then the inner IP packet. */
export function greIp(innerIp: Uint8Array): Buffer {
  const b = Buffer.alloc(4 + innerIp.length);
  b.writeUInt16BE(0, 0);
  b.writeUInt16BE(GRE_PROTO_IPV4, 2);
  b.set(innerIp, 4);
  return b;
}

/** GRE with the S bit (sequence number), as ERSPAN sessions send. */
function greSeq(proto: number, seq: number, rest: Buffer): Buffer {
  const b = Buffer.alloc(8 + rest.length);
  b.writeUInt16BE(0x1000, 0);
  b.writeUInt16BE(proto, 2);
  b.writeUInt32BE(seq >>> 0, 4);
  rest.copy(b, 8);
  return b;
}

/** ERSPAN type II: Ver=1, VLAN, COS, En, T, Session ID (10 bits), Index; then the mirrored Ethernet frame. */
export function erspan2(ethFrame: Uint8Array, sessionId: number, seq: number, vlan = 0): Buffer {
  const h = Buffer.alloc(8 + ethFrame.length);
  h.writeUInt16BE((1 << 12) | (vlan & 0x0fff), 0);
  // COS 0, En 3 (frames kept their original tags), T 0, session id.
  h.writeUInt16BE((3 << 11) | (sessionId & 0x03ff), 2);
  h.writeUInt32BE(0, 4); // reserved 12 bits + index 20 bits
  h.set(ethFrame, 8);
  return greSeq(GRE_PROTO_ERSPAN2, seq, h);
}

/** ERSPAN type III: Ver=2, VLAN, COS, BSO, T, Session ID, 32-bit timestamp, SGT, P/FT/HW ID/D/Gra/O; then Ethernet. */
export function erspan3(ethFrame: Uint8Array, sessionId: number, seq: number, timestampUs: number, hwId = 1): Buffer {
  const h = Buffer.alloc(12 + ethFrame.length);
  h.writeUInt16BE((2 << 12) | 0, 0);
  h.writeUInt16BE(sessionId & 0x03ff, 2);
  h.writeUInt32BE(timestampUs >>> 0, 4);
  h.writeUInt16BE(0, 8); // SGT
  // P=0, FT=0 (Ethernet), HW ID (6 bits), D=0 (ingress), Gra=01 (100 µs? keep 0b01), O=0.
  h.writeUInt16BE(((hwId & 0x3f) << 4) | (1 << 1), 10);
  h.set(ethFrame, 12);
  return greSeq(GRE_PROTO_ERSPAN3, seq, h);
}

/** Geneve (RFC 8926 §3.4): version 0, no options, protocol 0x6558 (Ethernet), VNI. */
export function geneve(ethFrame: Uint8Array, vni: number): Buffer {
  const b = Buffer.alloc(8 + ethFrame.length);
  b[0] = 0;
  b[1] = 0;
  b.writeUInt16BE(0x6558, 2);
  b.writeUInt32BE((vni & 0xffffff) << 8, 4);
  b.set(ethFrame, 8);
  return b;
}

/** TZSP version 1, type 0 (received packet), encapsulation 1 (Ethernet), tag END; then the frame. */
export function tzsp(ethFrame: Uint8Array): Buffer {
  const b = Buffer.alloc(5 + ethFrame.length);
  b[0] = 1;
  b[1] = 0;
  b.writeUInt16BE(1, 2);
  b[4] = 0x01; // TAG_END
  b.set(ethFrame, 5);
  return b;
}

/** PacketCable / Cisco LI: 4-byte CCC ID, then the intercepted IP packet. */
export function pcli(innerIp: Uint8Array, cccId: number): Buffer {
  const b = Buffer.alloc(4 + innerIp.length);
  b.writeUInt32BE(cccId >>> 0, 0);
  b.set(innerIp, 4);
  return b;
}

/** Juniper jmirror: 4-byte intercept ID, 4-byte session ID, then the IP packet. */
export function jmirror(innerIp: Uint8Array, interceptId: number, sessionId: number): Buffer {
  const b = Buffer.alloc(8 + innerIp.length);
  b.writeUInt32BE(interceptId >>> 0, 0);
  b.writeUInt32BE(sessionId >>> 0, 4);
  b.set(innerIp, 8);
  return b;
}

function hepChunk(type: number, data: Buffer): Buffer {
  const b = Buffer.alloc(6 + data.length);
  b.writeUInt16BE(0, 0); // generic vendor
  b.writeUInt16BE(type, 2);
  b.writeUInt16BE(6 + data.length, 4);
  data.copy(b, 6);
  return b;
}

function u8(v: number): Buffer {
  return Buffer.of(v & 0xff);
}

function u16(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v & 0xffff);
  return b;
}

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
}

function ip4(text: string): Buffer {
  return Buffer.from(text.split('.').map(Number));
}

/** HEP3 (EEP v3) of one captured SIP datagram, as Kamailio siptrace / heplify send it. */
export function hep3(o: { srcIp: string; dstIp: string; sport: number; dport: number; tsSec: number; tsUsec: number; payload: Buffer; agentId: number; protoType?: number }): Buffer {
  const chunks = [
    hepChunk(0x0001, u8(2)), // IP family: AF_INET
    hepChunk(0x0002, u8(17)), // IP protocol: UDP
    hepChunk(0x0003, ip4(o.srcIp)),
    hepChunk(0x0004, ip4(o.dstIp)),
    hepChunk(0x0007, u16(o.sport)),
    hepChunk(0x0008, u16(o.dport)),
    hepChunk(0x0009, u32(o.tsSec)),
    hepChunk(0x000a, u32(o.tsUsec)),
    hepChunk(0x000b, u8(o.protoType ?? 1)), // 1 = SIP
    hepChunk(0x000c, u32(o.agentId)),
    hepChunk(0x000f, o.payload),
  ];
  const body = Buffer.concat(chunks);
  const head = Buffer.alloc(6);
  head.write('HEP3', 0, 'ascii');
  head.writeUInt16BE(6 + body.length, 4);
  return Buffer.concat([head, body]);
}

const STUN_MAGIC = 0x2112a442;

function stunAttr(type: number, value: Buffer): Buffer {
  const padded = (value.length + 3) & ~3;
  const b = Buffer.alloc(4 + padded);
  b.writeUInt16BE(type, 0);
  b.writeUInt16BE(value.length, 2);
  value.copy(b, 4);
  return b;
}

/** XOR-MAPPED/PEER/RELAYED-ADDRESS value for IPv4 (RFC 8489 §14.2). */
export function xorAddress(ip: string, port: number): Buffer {
  const b = Buffer.alloc(8);
  b[1] = 0x01;
  b.writeUInt16BE((port ^ (STUN_MAGIC >>> 16)) & 0xffff, 2);
  b.writeUInt32BE((ip4(ip).readUInt32BE(0) ^ STUN_MAGIC) >>> 0, 4);
  return b;
}

/** A STUN message: type, 96-bit transaction id from `txn`, attributes [type, value]. */
export function stun(type: number, txn: number, attrs: Array<[number, Buffer]>): Buffer {
  const body = Buffer.concat(attrs.map(([t, v]) => stunAttr(t, v)));
  const h = Buffer.alloc(20);
  h.writeUInt16BE(type, 0);
  h.writeUInt16BE(body.length, 2);
  h.writeUInt32BE(STUN_MAGIC, 4);
  h.writeUInt32BE(0x74617077, 8); // "tapw"
  h.writeUInt32BE(0x61746368, 12); // "atch"
  h.writeUInt32BE(txn >>> 0, 16);
  return Buffer.concat([h, body]);
}

export const STUN_ATTR = { XOR_MAPPED_ADDRESS: 0x0020, CHANNEL_NUMBER: 0x000c, LIFETIME: 0x000d, XOR_PEER_ADDRESS: 0x0012, XOR_RELAYED_ADDRESS: 0x0016, REQUESTED_TRANSPORT: 0x0019, SOFTWARE: 0x8022 };
export const STUN_TYPE = { ALLOCATE: 0x0003, ALLOCATE_OK: 0x0103, CHANNEL_BIND: 0x0009, CHANNEL_BIND_OK: 0x0109, BINDING: 0x0001, BINDING_OK: 0x0101, CREATE_PERMISSION: 0x0008, CREATE_PERMISSION_OK: 0x0108 };

/** TURN ChannelData (RFC 8656 §12.4): channel number, length, data; padded to 4 over UDP is optional (§12.5), we do not pad. */
export function channelData(channel: number, data: Buffer): Buffer {
  const b = Buffer.alloc(4 + data.length);
  b.writeUInt16BE(channel, 0);
  b.writeUInt16BE(data.length, 2);
  data.copy(b, 4);
  return b;
}
