/**
 * Kernel-side tuning of live capture: libpcap buffer size, snaplen,
 * immediate mode and the default BPF filter, with the reasons for each
 * default (pcap_set_buffer_size(3PCAP), pcap_set_snaplen(3PCAP),
 * pcap_set_immediate_mode(3PCAP), pcap-filter(7)). docs/performance.md says
 * how to size the buffer for a given link.
 */

/**
 * Bytes kept per packet. 65535, not a short VoIP-ish value such as 2048:
 *  - SIP over UDP with a large SDP (many codecs, ICE candidates, SIPREC
 *    metadata, multipart bodies) exceeds 1500 bytes and arrives as IPv4/IPv6
 *    fragments that the sensor reassembles; a short snaplen would cut
 *    fragments and make whole INVITEs unreadable;
 *  - tunnelled copies (VXLAN, GRE/ERSPAN, HEP) add outer headers in front of
 *    the packet they carry, so "enough for RTP" depends on the encapsulation;
 *  - with TPACKET_V3 the kernel copies only the bytes of each frame, not
 *    snaplen, so a large snaplen costs nothing for small packets.
 */
export const DEFAULT_SNAPLEN = 65535;

/**
 * libpcap's kernel buffer (the PACKET_MMAP ring), MiB. It absorbs the time
 * the capture thread is not reading: buffer = rate × mean frame size ×
 * tolerated stall. 64 MiB holds 200,000 packets/s of 214-byte G.711 frames
 * (RTP 160 + 12 + UDP 8 + IPv4 20 + Ethernet 14) plus the kernel's per-frame
 * overhead (~64 bytes of tpacket header and alignment) for about 1.2 s.
 */
export const DEFAULT_BUFFER_MIB = 64;

/**
 * Immediate mode off by default. With it on, Linux libpcap uses TPACKET_V2
 * and wakes the reader for every packet; with it off, TPACKET_V3 hands over
 * whole blocks of packets, which costs far fewer wake-ups and system calls at
 * high rates. The price is latency: a block is delivered when it is full or
 * after READ_TIMEOUT_MS, far below the sensor's detection budget (1 s).
 */
export const DEFAULT_IMMEDIATE = false;

/** Non-immediate mode: longest time the kernel may hold a partly filled block (pcap_set_timeout). */
export const DEFAULT_READ_TIMEOUT_MS = 50;

/**
 * Size the libpcap buffer: `packetsPerSec × meanFrameBytes × stallSec`, plus
 * the kernel's per-frame overhead, in MiB rounded up. A stall is the longest
 * time the reader may not run (garbage collection, a busy core, a burst).
 */
export function recommendedBufferMiB(packetsPerSec: number, meanFrameBytes: number, stallSec: number): number {
  const perFrame = meanFrameBytes + KERNEL_FRAME_OVERHEAD;
  return Math.ceil((packetsPerSec * perFrame * stallSec) / (1024 * 1024));
}

/** tpacket3_hdr + sockaddr_ll, aligned to 16 (linux/if_packet.h); an estimate, good to a few bytes. */
export const KERNEL_FRAME_OVERHEAD = 64;

/**
 * The core of the default filter: everything that can carry a call or a copy
 * of one, and nothing of the bulk of an enterprise link (web, mail, DNS,
 * directory, SSH, all on well-known ports):
 *  - ARP: dup-exact learns which IP a copy's destination MAC belongs to;
 *  - SIP on 5060/5061 over UDP, TCP and SCTP, whatever the other port;
 *  - UDP and TCP whose two ports are both >= 1024: RTP/RTCP/SRTP, STUN/TURN,
 *    DTLS-SRTP, RTP over TCP (RFC 4571), ETSI X2/X3 delivery over TCP,
 *    IPsec NAT-T (4500), GTP-U (2152);
 *  - UDP tunnels by port whatever the source port: VXLAN 4789, Geneve 6081,
 *    TZSP 37008, Juniper jmirror 30030, GTP-U 2152, NAT-T 4500; HEP/EEP 9060;
 *  - GRE (incl. ERSPAN and TEB), IP-in-IP, 6in4, 4in6, over IPv4 and IPv6;
 *  - IPv4 fragments (MF set or a non-zero offset) and IPv6 packets whose
 *    first extension header is a Fragment header: later fragments carry no
 *    ports, and fragmented SIP must reassemble.
 */
const VOIP_BPF_IP =
  'port 5060 or port 5061 or port 9060' +
  ' or (udp and src portrange 1024-65535 and dst portrange 1024-65535)' +
  ' or (tcp and src portrange 1024-65535 and dst portrange 1024-65535)' +
  ' or udp port 4789 or udp port 6081 or udp port 37008 or udp port 30030 or udp port 2152 or udp port 4500' +
  ' or ip proto 47 or ip6 proto 47 or ip proto 4 or ip proto 41 or ip6 proto 4 or ip6 proto 41' +
  ' or (ip and ip[6:2] & 0x3fff != 0) or ip6 proto 44';

const VOIP_BPF_CORE = `arp or ${VOIP_BPF_IP}`;

/**
 * The default live-capture filter: VOIP_BPF_CORE, again inside one
 * 802.1Q/802.1ad tag (`vlan` shifts the offsets of everything after it, so
 * the tagged half needs its own copy of the expression), and every
 * MPLS-labelled frame (ethertypes 0x8847/0x8848), unfiltered: the `mpls`
 * keyword would shift the offsets for the rest of any expression a user
 * appends, so MPLS is matched by ethertype only. Double-tagged (QinQ) frames
 * are not matched: capture with --no-filter, or extend the filter, there.
 */
export const VOIP_BPF_FILTER = `(${VOIP_BPF_CORE}) or (vlan and (${VOIP_BPF_CORE})) or ether proto 0x8847 or ether proto 0x8848`;

/**
 * VOIP_BPF_FILTER without the VLAN and MPLS halves: for the `any` device,
 * where libpcap refuses `vlan` on Linux cooked captures ("no VLAN support for
 * Linux cooked v2") and the kernel has already removed the tag anyway, and
 * as the fallback for link types without Ethernet framing.
 */
export const VOIP_BPF_FILTER_NO_VLAN = VOIP_BPF_CORE;

/** The IP part only: the last fallback, for link types where even `arp` does not compile (raw IP, tun). */
export const VOIP_BPF_FILTER_IP_ONLY = VOIP_BPF_IP;

/**
 * The filters to try, in order, when the user gave none: the full one, then
 * the fallbacks for link types that reject `vlan`/`mpls` or `arp`.
 * `--no-filter` (filter '') captures everything.
 */
export function defaultFilterCandidates(device: string): string[] {
  if (device === 'any') return [VOIP_BPF_FILTER_NO_VLAN, VOIP_BPF_FILTER_IP_ONLY];
  return [VOIP_BPF_FILTER, VOIP_BPF_FILTER_NO_VLAN, VOIP_BPF_FILTER_IP_ONLY];
}
