/**
 * UDP-encapsulated ESP (RFC 3948 §2; Wireshark packet-udp.c "udpencap"),
 * UDP 4500 by default. The first bytes of the UDP payload tell three things
 * apart:
 *   1 byte 0xFF                   NAT-keepalive (RFC 3948 §2.3)
 *   4 zero bytes (non-ESP marker)  IKE follows (RFC 3948 §2.2)
 *   anything else                 ESP: SPI (32) | sequence number (32) | encrypted payload ...
 *
 * Model chosen: without keys the ESP payload is opaque, so there is no inner
 * packet to decode. The outer UDP stays the innermost packet (the flow stage
 * keeps tracking it by its real 5-tuple, and tshark shows the same without
 * keys); its payload is the whole ESP packet starting at the SPI, and
 * nothing is pushed on the tunnel stack (an EspUdp layer with an empty inner
 * packet would make "innermost" mean "nothing"). classifyUdpEncap and
 * espSpi let the app layer name the payload and key it by SPI.
 */
import type { DecodeContext } from './context.js';
import type { PacketRecord } from './packet.js';

export const UDPENCAP_KEEPALIVE = 1;
export const UDPENCAP_IKE = 2;
export const UDPENCAP_ESP = 3;

/** What an RFC 3948 UDP payload carries: UDPENCAP_* (0 when too short to be anything). */
export function classifyUdpEncap(buf: Buffer, off: number, len: number): number {
  if (len === 1 && buf[off] === 0xff) return UDPENCAP_KEEPALIVE;
  if (len < 4) return 0;
  if ((buf[off]! | buf[off + 1]! | buf[off + 2]! | buf[off + 3]!) === 0) return UDPENCAP_IKE;
  return len >= 8 ? UDPENCAP_ESP : 0;
}

/** The SPI of an ESP packet at buf[off] (caller checked classifyUdpEncap === UDPENCAP_ESP). */
export function espSpi(buf: Buffer, off: number): number {
  return ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
}

/**
 * Recognise the payload; the record is left as the outer UDP packet whatever
 * it is (see above). Returns true when the payload was a UDP-encap message,
 * so that no other port-based decoder is tried on it.
 */
export function decodeEspUdp(_rec: PacketRecord, ctx: DecodeContext, buf: Buffer, off: number, end: number): boolean {
  const kind = classifyUdpEncap(buf, off, end - off);
  if (kind === 0) {
    if (end - off > 1) ctx.weirds.weird('truncated_esp');
    return false;
  }
  return true;
}
