/**
 * LINKTYPE_* values as written in pcap/pcapng headers, from the tcpdump.org
 * registry (https://www.tcpdump.org/linktypes.html, also
 * draft-ietf-opsawg-pcaplinktype). These are the on-file values, not the
 * platform-dependent DLT_* numbers (e.g. DLT_RAW is 12 or 14 depending on the
 * OS, but LINKTYPE_RAW is always 101); libpcap maps DLT to LINKTYPE when it
 * writes a file, and pcap_datalink() on Linux already returns these values for
 * the types listed here.
 */

/** BSD loopback: 4-byte protocol family in host byte order of the capturing machine. */
export const LINKTYPE_NULL = 0;
/** IEEE 802.3 Ethernet. */
export const LINKTYPE_ETHERNET = 1;
/** Raw IP, version taken from the first nibble. */
export const LINKTYPE_RAW = 101;
/** OpenBSD loopback: 4-byte protocol family in network byte order. */
export const LINKTYPE_LOOP = 108;
/** Linux "cooked" capture v1 (16-byte header, `tcpdump -i any`). */
export const LINKTYPE_LINUX_SLL = 113;
/** Raw IPv4, no link header. */
export const LINKTYPE_IPV4 = 228;
/** Raw IPv6, no link header. */
export const LINKTYPE_IPV6 = 229;
/** Linux "cooked" capture v2 (20-byte header, libpcap >= 1.10 `-i any`). */
export const LINKTYPE_LINUX_SLL2 = 276;

/**
 * The pcap file header's linktype field carries, above the low 16 bits, an FCS
 * length (bits 28..31, valid when bit 26 'F' is set) and reserved bits
 * (draft-ietf-opsawg-pcap §4, "LinkType and additional information"). Only
 * the low 16 bits are the link type; the rest must be masked off.
 */
export const LINKTYPE_MASK = 0x0000ffff;
