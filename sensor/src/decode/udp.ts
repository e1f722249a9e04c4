/**
 * UDP header (RFC 768; Wireshark packet-udp.c) and the UDP-port tunnel
 * dispatch.
 *
 *   0: source port   2: destination port   4: length (header + data)   6: checksum
 *
 * The length field is used but clamped to the bytes the IP layer delivered.
 * It disagrees with them when it is below 8, when it is shorter than the IP
 * payload, or when it is longer although the frame was not cut by snaplen:
 * 'udp_length_mismatch'. (A frame cut by snaplen was already counted by the
 * IP layer.)
 *
 * Tunnels: a payload starting with "HEP3" is HEP on any port; otherwise the
 * port table (udp-ports.ts) says which tunnel decoders to try, destination
 * port first, then source port. VXLAN and Geneve are matched on the
 * destination port only (their source port is a flow hash, RFC 7348 §5,
 * RFC 8926 §3.3). A tunnel decoder that finds no valid header leaves the
 * packet as plain UDP.
 */
import type { DecodeContext } from './context.js';
import { decodeEspUdp } from './esp-udp.js';
import { decodeGeneve } from './geneve.js';
import { decodeGtpu } from './gtpu.js';
import { decodeHep, isHep3Magic } from './hep.js';
import type { PacketRecord } from './packet.js';
import { decodeTzsp } from './tzsp.js';
import { PORT_ESP, PORT_GENEVE, PORT_GTPU, PORT_HEP, PORT_TZSP, PORT_VXLAN, portClass } from './udp-ports.js';
import { decodeVxlan } from './vxlan.js';

export const UDP_HEADER_LENGTH = 8;

export function decodeUdp(rec: PacketRecord, ctx: DecodeContext, buf: Buffer, off: number, end: number): void {
  if (off + UDP_HEADER_LENGTH > end) {
    ctx.weirds.weird('truncated_udp');
    return;
  }
  const srcPort = (buf[off]! << 8) | buf[off + 1]!;
  const dstPort = (buf[off + 2]! << 8) | buf[off + 3]!;
  const length = (buf[off + 4]! << 8) | buf[off + 5]!;
  const available = end - off;
  if (length !== available) {
    if (length < UDP_HEADER_LENGTH) {
      ctx.weirds.weird('udp_length_mismatch');
    } else if (length < available) {
      ctx.weirds.weird('udp_length_mismatch');
      end = off + length;
    } else if (rec.capLength >= rec.wireLength) {
      ctx.weirds.weird('udp_length_mismatch');
    }
  }
  rec.l4Proto = 17;
  rec.srcPort = srcPort;
  rec.dstPort = dstPort;
  const payloadOff = off + UDP_HEADER_LENGTH;
  rec.payloadBuf = buf;
  rec.payloadOffset = payloadOff;
  rec.payloadLength = end - payloadOff;

  const dstClass = portClass[dstPort]!;
  const srcClass = portClass[srcPort]!;
  if (end - payloadOff >= 4 && isHep3Magic(buf, payloadOff)) {
    decodeHep(rec, ctx, buf, payloadOff, end);
    return;
  }
  if ((dstClass | srcClass) === 0) return; // the common case: no tunnel port
  if (dstClass !== 0 && decodeUdpTunnel(rec, ctx, buf, payloadOff, end, dstClass, true)) return;
  // Source port: only the kinds not already tried on the destination port
  // (GTP-U and RFC 3948 use the same port on both sides).
  const srcOnly = srcClass & ~dstClass;
  if (srcOnly !== 0) decodeUdpTunnel(rec, ctx, buf, payloadOff, end, srcOnly, false);
}

/** Try the tunnel decoders named by `cls`; true when one of them took the payload. */
function decodeUdpTunnel(
  rec: PacketRecord,
  ctx: DecodeContext,
  buf: Buffer,
  off: number,
  end: number,
  cls: number,
  isDestination: boolean,
): boolean {
  if (isDestination && (cls & PORT_VXLAN) !== 0 && decodeVxlan(rec, ctx, buf, off, end)) return true;
  if (isDestination && (cls & PORT_GENEVE) !== 0 && decodeGeneve(rec, ctx, buf, off, end)) return true;
  if ((cls & PORT_GTPU) !== 0 && decodeGtpu(rec, ctx, buf, off, end)) return true;
  if ((cls & PORT_TZSP) !== 0 && decodeTzsp(rec, ctx, buf, off, end)) return true;
  if ((cls & PORT_HEP) !== 0 && decodeHep(rec, ctx, buf, off, end)) return true;
  if ((cls & PORT_ESP) !== 0 && decodeEspUdp(rec, ctx, buf, off, end)) return true;
  return false;
}
