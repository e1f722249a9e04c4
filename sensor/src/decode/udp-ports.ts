/**
 * Which UDP/TCP ports announce a tunnel: one byte per port, one bit per
 * tunnel kind, built from the DecodeContext's port lists.
 *
 * Checking six port lists with Array.includes for both ports of every UDP
 * packet would cost a dozen calls per packet; a 64 KiB table turns it into
 * two indexed loads (Wireshark's "decode as" port tables and Zeek's
 * likely_server_ports play the same role). The table is rebuilt when
 * decodeFrame sees a different context object; after changing the port
 * arrays of a context already in use, call refreshPortTable(ctx).
 * There is one table per process: decoding with two contexts alternately
 * works but rebuilds the table at every switch.
 */
import type { DecodeContext } from './context.js';

export const PORT_VXLAN = 0x01;
export const PORT_GENEVE = 0x02;
export const PORT_TZSP = 0x04;
export const PORT_HEP = 0x08;
export const PORT_ESP = 0x10;
export const PORT_GTPU = 0x20;

/** portClass[port] = OR of PORT_* bits. Read by the UDP and TCP decoders. */
export const portClass = new Uint8Array(65536);

let seenCtx: DecodeContext | null = null;

/**
 * Rebuild the table from `ctx`. decodeFrame does this by itself the first
 * time it sees a context object; call it after changing the port arrays of a
 * context that is already in use.
 */
export function refreshPortTable(ctx: DecodeContext): void {
  portClass.fill(0);
  const lists = [ctx.vxlanPorts, ctx.genevePorts, ctx.tzspPorts, ctx.hepPorts, ctx.espUdpPorts, ctx.gtpuPorts];
  const bits = [PORT_VXLAN, PORT_GENEVE, PORT_TZSP, PORT_HEP, PORT_ESP, PORT_GTPU];
  for (let i = 0; i < lists.length; i++) {
    for (const port of lists[i]!) {
      if (Number.isInteger(port) && port >= 0 && port <= 65535) portClass[port] |= bits[i]!;
    }
  }
  seenCtx = ctx;
}

/**
 * Per-frame check: one identity comparison. (Comparing the six arrays and
 * their lengths as well cost about 10 ns per frame, a quarter of the whole
 * Ethernet/IPv4/UDP decode, for a configuration that changes once a run.)
 */
export function syncPortTable(ctx: DecodeContext): void {
  if (ctx !== seenCtx) refreshPortTable(ctx);
}
