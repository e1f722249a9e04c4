/**
 * EtherType values the decoders dispatch on (IEEE 802 numbers registry,
 * https://standards-oui.ieee.org/ethertype/eth.txt; Wireshark epan/etypes.h).
 * GRE, Geneve, SLL and PPP (after mapping) all name their payload by
 * EtherType, so one dispatch table serves every link-ish layer.
 */
export const ETH_IPV4 = 0x0800;
export const ETH_ARP = 0x0806;
export const ETH_IPV6 = 0x86dd;
/** IEEE 802.1Q customer VLAN tag. */
export const ETH_VLAN = 0x8100;
/** IEEE 802.1ad service VLAN tag (QinQ outer). */
export const ETH_QINQ = 0x88a8;
/** Pre-standard QinQ outer tag used by some vendors. */
export const ETH_QINQ_OLD = 0x9100;
export const ETH_MPLS_UNICAST = 0x8847;
export const ETH_MPLS_MULTICAST = 0x8848;
/** RFC 2516 PPPoE discovery stage (nothing to decode for us). */
export const ETH_PPPOE_DISCOVERY = 0x8863;
/** RFC 2516 PPPoE session stage: PPP follows. */
export const ETH_PPPOE_SESSION = 0x8864;
/** Transparent Ethernet bridging: an Ethernet frame follows (GRE, Geneve, NVGRE). */
export const ETH_TEB = 0x6558;
/** PPP (RFC 2637 enhanced GRE / PPTP carries PPP with this protocol type). */
export const ETH_PPP = 0x880b;
/** Cisco ERSPAN type I/II over GRE. */
export const ETH_ERSPAN_II = 0x88be;
/** Cisco ERSPAN type III over GRE. */
export const ETH_ERSPAN_III = 0x22eb;
/** Smallest value that is an EtherType; below it the field of an Ethernet header is an 802.3 length. */
export const ETH_MIN_ETHERTYPE = 0x0600;
