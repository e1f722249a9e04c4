/**
 * Entry point of the decode stage: one captured frame -> the innermost
 * packet's L3/L4 fields and payload in the reused PacketRecord, with every
 * encapsulation passed on the way recorded on its tunnel stack.
 *
 * Dispatch on the link type (https://www.tcpdump.org/linktypes.html), then
 * EtherType (link-dispatch.ts), IP protocol (ip-dispatch.ts) and UDP port
 * (udp.ts), as Zeek's packet_analysis does. Decoding never throws and never
 * reads outside frame[frameOffset, frameOffset + capLength): malformed input
 * is counted in ctx.weirds and decoding stops at the last good layer.
 */
import {
  LINKTYPE_ETHERNET,
  LINKTYPE_IPV4,
  LINKTYPE_IPV6,
  LINKTYPE_LINUX_SLL,
  LINKTYPE_LINUX_SLL2,
  LINKTYPE_LOOP,
  LINKTYPE_MASK,
  LINKTYPE_NULL,
  LINKTYPE_RAW,
} from '../capture/link-types.js';
import type { DecodeContext, Defragmenter } from './context.js';
import { resetHepState } from './hep.js';
import { decodeIpv4 } from './ipv4.js';
import { decodeIpv6 } from './ipv6.js';
import { decodeEthernetFrame, decodeRawIp } from './link-dispatch.js';
import { decodeLoop, decodeNull } from './null-loop.js';
import type { PacketRecord } from './packet.js';
import { decodeSll, decodeSll2 } from './sll.js';
import { syncPortTable } from './udp-ports.js';
import type { WeirdCounters } from './weird.js';

/** DLT_RAW as some BSDs number it in live captures (LINKTYPE_RAW is the on-file value). */
export const DLT_RAW_BSD_12 = 12;
export const DLT_RAW_BSD_14 = 14;

export const DEFAULT_VXLAN_PORTS: readonly number[] = [4789];
export const DEFAULT_GENEVE_PORTS: readonly number[] = [6081];
export const DEFAULT_TZSP_PORTS: readonly number[] = [37008];
export const DEFAULT_HEP_PORTS: readonly number[] = [9060];
export const DEFAULT_ESP_UDP_PORTS: readonly number[] = [4500];
export const DEFAULT_GTPU_PORTS: readonly number[] = [2152];

/** A DecodeContext with the standard tunnel ports (fresh arrays: callers may edit them). */
export function defaultDecodeContext(weirds: WeirdCounters, defrag: Defragmenter | null = null): DecodeContext {
  return {
    weirds,
    defrag,
    vxlanPorts: [...DEFAULT_VXLAN_PORTS],
    genevePorts: [...DEFAULT_GENEVE_PORTS],
    tzspPorts: [...DEFAULT_TZSP_PORTS],
    hepPorts: [...DEFAULT_HEP_PORTS],
    espUdpPorts: [...DEFAULT_ESP_UDP_PORTS],
    gtpuPorts: [...DEFAULT_GTPU_PORTS],
  };
}

export function decodeFrame(rec: PacketRecord, ctx: DecodeContext): void {
  rec.resetDecode();
  resetHepState();
  syncPortTable(ctx);
  const buf = rec.frame;
  const off = rec.frameOffset;
  let end = off + rec.capLength;
  if (end > buf.length) {
    ctx.weirds.weird('capture_length_exceeds_buffer');
    end = buf.length;
  }
  switch (rec.linkType & LINKTYPE_MASK) {
    case LINKTYPE_ETHERNET:
      decodeEthernetFrame(rec, ctx, buf, off, end);
      return;
    case LINKTYPE_LINUX_SLL:
      decodeSll(rec, ctx, buf, off, end);
      return;
    case LINKTYPE_LINUX_SLL2:
      decodeSll2(rec, ctx, buf, off, end);
      return;
    case LINKTYPE_RAW:
    case DLT_RAW_BSD_12:
    case DLT_RAW_BSD_14:
      decodeRawIp(rec, ctx, buf, off, end);
      return;
    case LINKTYPE_IPV4:
      decodeIpv4(rec, ctx, buf, off, end);
      return;
    case LINKTYPE_IPV6:
      decodeIpv6(rec, ctx, buf, off, end);
      return;
    case LINKTYPE_NULL:
      decodeNull(rec, ctx, buf, off, end);
      return;
    case LINKTYPE_LOOP:
      decodeLoop(rec, ctx, buf, off, end);
      return;
    default:
      ctx.weirds.weird('unhandled_link_type');
      return;
  }
}
