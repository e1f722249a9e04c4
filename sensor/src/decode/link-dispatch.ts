/**
 * EtherType dispatch: the table that hands a payload to the decoder
 * registered for its EtherType (Zeek registers these in
 * scripts/base/packet-protocols/ethernet/main.zeek and looks them up in
 * src/packet_analysis/Dispatcher.h).
 *
 * Ethernet, VLAN, MPLS, PPPoE, PPP and the GRE/Geneve/SLL payload types all
 * name what follows by EtherType, so they share this one table. It is a
 * `switch` on the number (V8 compiles it to a jump table / binary search;
 * no closure, no Map lookup per packet). Link layers return the next
 * EtherType with the new offset in `cursor`, and the loop continues; IP ends
 * the loop. The loop terminates because every link decoder advances by at
 * least 4 bytes; re-entry from inside a tunnel payload goes through
 * enterTunnel, which bounds the recursion.
 */
import type { DecodeContext } from './context.js';
import { cursor } from './cursor.js';
import { decodeEthernet } from './ethernet.js';
import {
  ETH_ARP,
  ETH_IPV4,
  ETH_IPV6,
  ETH_MIN_ETHERTYPE,
  ETH_MPLS_MULTICAST,
  ETH_MPLS_UNICAST,
  ETH_PPP,
  ETH_PPPOE_DISCOVERY,
  ETH_PPPOE_SESSION,
  ETH_QINQ,
  ETH_QINQ_OLD,
  ETH_TEB,
  ETH_VLAN,
} from './ethertypes.js';
import { decodeIpv4 } from './ipv4.js';
import { decodeIpv6 } from './ipv6.js';
import { decodeMpls } from './mpls.js';
import type { PacketRecord } from './packet.js';
import { decodePpp } from './ppp.js';
import { decodePppoeSession } from './pppoe.js';
import { decodeVlan } from './vlan.js';

/** Decode the payload `buf[off, end)` whose type is `etherType`, down to the innermost packet. */
export function decodeEtherType(
  rec: PacketRecord,
  ctx: DecodeContext,
  buf: Buffer,
  off: number,
  end: number,
  etherType: number,
): void {
  for (;;) {
    cursor.end = end;
    switch (etherType) {
      case ETH_IPV4:
        decodeIpv4(rec, ctx, buf, off, end);
        return;
      case ETH_IPV6:
        decodeIpv6(rec, ctx, buf, off, end);
        return;
      case ETH_VLAN:
      case ETH_QINQ:
      case ETH_QINQ_OLD:
        etherType = decodeVlan(rec, ctx, buf, off, end);
        break;
      case ETH_MPLS_UNICAST:
      case ETH_MPLS_MULTICAST:
        etherType = decodeMpls(rec, ctx, buf, off, end);
        break;
      case ETH_PPPOE_SESSION:
        etherType = decodePppoeSession(rec, ctx, buf, off, end);
        break;
      case ETH_PPP:
        etherType = decodePpp(rec, ctx, buf, off, end);
        break;
      case ETH_TEB:
        etherType = decodeEthernet(rec, ctx, buf, off, end);
        break;
      case ETH_ARP:
      case ETH_PPPOE_DISCOVERY:
        // Ordinary, well-formed traffic that carries nothing we decode.
        return;
      default:
        // Negative: a layer said stop (and counted its own weird if any).
        // Below 0x0600: an IEEE 802.3 length field; LLC frames (STP, CDP,
        // LACP ...) carry nothing we decode. Anything else is a type we do
        // not know: not malformed, but worth a count.
        if (etherType >= ETH_MIN_ETHERTYPE) ctx.weirds.weird('unhandled_ethertype');
        return;
    }
    off = cursor.off;
    end = cursor.end;
  }
}

/** Ethernet II frame at `off`: the header, then whatever its EtherType says. */
export function decodeEthernetFrame(rec: PacketRecord, ctx: DecodeContext, buf: Buffer, off: number, end: number): void {
  const etherType = decodeEthernet(rec, ctx, buf, off, end);
  if (etherType < 0) return;
  decodeEtherType(rec, ctx, buf, cursor.off, end, etherType);
}

/** An IP packet with no link header (LINKTYPE_RAW, GTP-U, TZSP raw): the version nibble decides. */
export function decodeRawIp(rec: PacketRecord, ctx: DecodeContext, buf: Buffer, off: number, end: number): void {
  if (off >= end) {
    ctx.weirds.weird('truncated_ip');
    return;
  }
  const version = buf[off]! >> 4;
  if (version === 4) decodeIpv4(rec, ctx, buf, off, end);
  else if (version === 6) decodeIpv6(rec, ctx, buf, off, end);
  else ctx.weirds.weird('bad_ip_version');
}
