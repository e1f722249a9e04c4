/**
 * What the decoders need besides the bytes: the weird counters, the IP
 * defragmenter (flow/ owns it; decoders hand it fragments and continue with
 * the reassembled datagram) and the UDP ports that announce tunnels.
 */
import type { WeirdCounters } from './weird.js';

export interface Defragmenter {
  /**
   * Add one fragment. `buf[off, off+len)` is the fragment's payload (after the
   * IP header and, for IPv6, after the fragment header). `fragOffset` is in
   * bytes. Returns the complete reassembled L4 datagram as a fresh Buffer when
   * this fragment completes it, else null. Never throws; bounded in memory and
   * time (it counts weirds such as 'frag_overlap', 'frag_timeout', 'frag_table_full').
   */
  add(
    ipVersion: number,
    src: Uint32Array,
    dst: Uint32Array,
    proto: number,
    id: number,
    fragOffset: number,
    moreFragments: boolean,
    buf: Buffer,
    off: number,
    len: number,
    ts: number,
  ): Buffer | null;
}

export interface DecodeContext {
  weirds: WeirdCounters;
  defrag: Defragmenter | null;
  /** UDP destination ports decoded as VXLAN (default [4789]). */
  vxlanPorts: number[];
  /** UDP ports decoded as Geneve (default [6081]). */
  genevePorts: number[];
  /** UDP ports decoded as TZSP (default [37008]). */
  tzspPorts: number[];
  /** UDP/TCP ports on which HEP v2 is recognised (v3 is recognised anywhere by its "HEP3" magic). Default [9060]. */
  hepPorts: number[];
  /** UDP ports of UDP-encapsulated ESP (default [4500]). */
  espUdpPorts: number[];
  /** UDP ports of GTP-U (default [2152]). */
  gtpuPorts: number[];
}
