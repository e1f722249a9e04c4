/**
 * The one packet record that every decoder writes into.
 *
 * Zeek reuses one Packet for every packet (src/iosource/PktSrc.h) and Suricata
 * takes packets from a pool; tapwatch does the same: the capture loop owns one
 * PacketRecord and the decoders overwrite its fields for each frame. Nothing
 * here is allocated per packet. Anything that must outlive the current packet
 * (a flow key, a stream, an event) copies the numbers it needs.
 *
 * Addresses are kept as four 32-bit words (network order folded big-endian),
 * so that flow hashing works on numbers and never builds strings. For IPv4
 * only word 0 is used and words 1..3 are zero; `ipVersion` disambiguates.
 */

/** How deep a tunnel stack may go before we stop decoding (a weird is counted). */
export const MAX_TUNNEL_DEPTH = 8;

/** Kinds of encapsulation recorded in the tunnel stack. Values are stable: they appear in events. */
export const enum TunnelKind {
  None = 0,
  Gre = 1, // RFC 2784/2890, inner IP (or PPP for PPTP-style enhanced GRE, RFC 2637)
  GreTeb = 2, // GRE 0x6558 transparent Ethernet bridging
  ErspanII = 3, // GRE 0x88BE, Cisco ERSPAN type II
  ErspanIII = 4, // GRE 0x22EB, Cisco ERSPAN type III
  Vxlan = 5, // RFC 7348, UDP 4789
  Geneve = 6, // RFC 8926, UDP 6081
  IpInIp = 7, // RFC 2003 (IPv4 in IPv4) and IPv6-in-IPv4/IPv6 (RFC 4213 6in4, RFC 2473)
  Tzsp = 8, // TaZmen Sniffer Protocol, UDP 37008
  Hep2 = 9, // HEP/EEP v2
  Hep3 = 10, // HEP/EEP v3
  EspUdp = 11, // RFC 3948 UDP-encapsulated ESP (opaque without keys)
  GtpU = 12, // 3GPP TS 29.281 GTP-U
  Mpls = 13, // RFC 3032 (recorded for completeness; labels are not a tunnel endpoint)
  PacketCable = 14, // PacketCable / Cisco LI 4-byte CCC ID (RFC 3924)
  Jmirror = 15, // Juniper jmirror
  IpInUdp = 16, // bare IP-in-UDP (bareudp, VPP LI)
  X3 = 17, // ETSI TS 103 221-2 X3 over TCP
  TurnChannel = 18, // TURN ChannelData (RFC 8656 §12) — recorded by the app layer
  TurnSendData = 19, // TURN Send/Data indication
  Rfc4571 = 20, // RTP framed over TCP (RFC 4571)
}

export const TUNNEL_KIND_NAMES: readonly string[] = [
  'none', 'gre', 'gre-teb', 'erspan2', 'erspan3', 'vxlan', 'geneve', 'ip-in-ip', 'tzsp', 'hep2', 'hep3',
  'esp-udp', 'gtp-u', 'mpls', 'packetcable', 'jmirror', 'ip-in-udp', 'x3', 'turn-channel', 'turn-send-data', 'rfc4571',
];

/** One layer of encapsulation: the OUTER headers that carried the inner packet. */
export class TunnelLayer {
  kind: TunnelKind = TunnelKind.None;
  ipVersion = 0;
  readonly srcAddr = new Uint32Array(4);
  readonly dstAddr = new Uint32Array(4);
  /** L4 protocol of the outer packet (17 for UDP tunnels, 47 for GRE, 4/41 for IP-in-IP). */
  l4Proto = 0;
  srcPort = 0;
  dstPort = 0;
  ttl = 0;
  /** Tunnel identifier: VNI, GRE key, ERSPAN session id, HEP capture id, ESP SPI, CCC id... */
  id = 0;

  reset(): void {
    this.kind = TunnelKind.None;
    this.ipVersion = 0;
    this.srcAddr.fill(0);
    this.dstAddr.fill(0);
    this.l4Proto = 0;
    this.srcPort = 0;
    this.dstPort = 0;
    this.ttl = 0;
    this.id = 0;
  }
}

export class PacketRecord {
  // ---- capture ----
  /** Capture time, whole seconds since the epoch. */
  tsSec = 0;
  /** Capture time, nanoseconds within tsSec. */
  tsNsec = 0;
  /** Capture time as float seconds (tsSec + tsNsec/1e9), computed once by the source. */
  ts = 0;
  /** Bytes captured (may be less than wireLength when snaplen cut the frame). */
  capLength = 0;
  wireLength = 0;
  /** Index of the capture interface (pcapng IDB index; 0 for pcap and live). */
  interfaceId = 0;
  /** LINKTYPE_* of the frame (https://www.tcpdump.org/linktypes.html). */
  linkType = 1;
  /** Running frame number, 1-based like tshark's frame.number. */
  frameNumber = 0;
  /** The frame bytes: frame[frameOffset, frameOffset + capLength). Owned by the source; only valid now. */
  frame: Buffer = EMPTY;
  frameOffset = 0;

  // ---- link layer ----
  /** Number of 802.1Q/802.1ad tags seen on the innermost Ethernet header. */
  vlanCount = 0;
  /** Innermost VLAN id, or -1. */
  vlanId = -1;
  mplsLabelCount = 0;
  /** Offset in `frame` of the innermost Ethernet header, or -1 (used for SPAN double detection by MAC). */
  ethOffset = -1;

  // ---- network layer (innermost) ----
  /** 0 when the frame carried no IP that we could decode; 4 or 6 otherwise. */
  ipVersion = 0;
  readonly srcAddr = new Uint32Array(4);
  readonly dstAddr = new Uint32Array(4);
  /** IPv4 TTL or IPv6 hop limit. */
  ttl = 0;
  /** IPv4 identification field (or the IPv6 fragment id when a fragment header is present). */
  ipId = 0;
  /** IPv4 header checksum (0 for IPv6). Together with ipId it identifies one packet on the wire. */
  ipChecksum = 0;
  /** Upper-layer protocol number (after IPv6 extension headers). */
  ipProto = 0;
  /** Total length of the innermost IP packet in bytes (header + payload) as reassembled. */
  ipLength = 0;
  /** True when this record holds an IP fragment that is not (yet) reassembled; L4 fields are then unset. */
  isFragment = false;
  /** True when the L4 payload came from fragment reassembly (payloadBuf is then a fresh buffer). */
  reassembled = false;

  // ---- transport layer (innermost) ----
  /** 17 UDP, 6 TCP, 132 SCTP; 0 when no transport header was decoded. */
  l4Proto = 0;
  srcPort = 0;
  dstPort = 0;
  tcpSeq = 0;
  tcpAck = 0;
  /** TCP flags byte (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10). */
  tcpFlags = 0;

  /** The application payload: payloadBuf[payloadOffset, payloadOffset + payloadLength). */
  payloadBuf: Buffer = EMPTY;
  payloadOffset = 0;
  payloadLength = 0;

  // ---- tunnels (outermost first) ----
  tunnelDepth = 0;
  readonly tunnels: TunnelLayer[] = Array.from({ length: MAX_TUNNEL_DEPTH }, () => new TunnelLayer());

  /** Reset the per-packet decode state (capture fields are set by the source). */
  resetDecode(): void {
    this.vlanCount = 0;
    this.vlanId = -1;
    this.mplsLabelCount = 0;
    this.ethOffset = -1;
    this.ipVersion = 0;
    this.ttl = 0;
    this.ipId = 0;
    this.ipChecksum = 0;
    this.ipProto = 0;
    this.ipLength = 0;
    this.isFragment = false;
    this.reassembled = false;
    this.l4Proto = 0;
    this.srcPort = 0;
    this.dstPort = 0;
    this.tcpSeq = 0;
    this.tcpAck = 0;
    this.tcpFlags = 0;
    this.payloadBuf = EMPTY;
    this.payloadOffset = 0;
    this.payloadLength = 0;
    this.tunnelDepth = 0;
  }

  /**
   * Push the current (outer) L3/L4 fields onto the tunnel stack before the
   * decoder overwrites them with the inner packet. Returns false (and the
   * caller counts a weird) when the stack is full.
   */
  pushTunnel(kind: TunnelKind, id: number): boolean {
    if (this.tunnelDepth >= MAX_TUNNEL_DEPTH) return false;
    const t = this.tunnels[this.tunnelDepth++]!;
    t.kind = kind;
    t.ipVersion = this.ipVersion;
    t.srcAddr.set(this.srcAddr);
    t.dstAddr.set(this.dstAddr);
    t.l4Proto = this.l4Proto;
    t.srcPort = this.srcPort;
    t.dstPort = this.dstPort;
    t.ttl = this.ttl;
    t.id = id >>> 0;
    // The inner packet starts afresh.
    this.ipVersion = 0;
    this.srcAddr.fill(0);
    this.dstAddr.fill(0);
    this.l4Proto = 0;
    this.srcPort = 0;
    this.dstPort = 0;
    this.isFragment = false;
    this.vlanCount = 0;
    this.vlanId = -1;
    return true;
  }
}

const EMPTY = Buffer.alloc(0);
