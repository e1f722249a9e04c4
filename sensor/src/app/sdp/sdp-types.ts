/**
 * Session Description types (RFC 8866, which obsoletes RFC 4566), with the
 * attributes tapwatch needs to know where media is expected and how it is
 * protected: RFC 3605 rtcp, RFC 5761 rtcp-mux, RFC 4568 crypto (hashed, see
 * SdpCrypto), RFC 8122 fingerprint, RFC 4145 setup, RFC 6189 zrtp-hash,
 * RFC 8839 ICE candidates, RFC 5576 ssrc / ssrc-group, RFC 5888 / RFC 9143
 * group and mid, RFC 4574 label.
 *
 * PRIVACY: nothing in these types holds key material. SDES keys are reduced to
 * a short hash; ice-pwd, k= lines and key-mgmt data are never stored.
 */

export interface SdpOrigin {
  username: string;
  sessId: string;
  sessVersion: string;
  netType: string;
  addrType: string;
  address: string;
}

export interface SdpConnection {
  netType: string;
  /** 'IP4' or 'IP6' (upper-cased), or whatever the line said. */
  addrType: string;
  /** The address without /ttl and /count suffixes. */
  address: string;
  /** IPv4 multicast TTL (c=IN IP4 224.2.1.1/127). */
  ttl: number | undefined;
  /** Number of consecutive multicast addresses (the /n suffix), default 1. */
  numAddresses: number;
  /** 224.0.0.0/4 or ff00::/8. */
  multicast: boolean;
}

export type SdpDirection = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

export interface SdpRtpMap {
  encoding: string;
  clockRate: number;
  /** Encoding parameters (channels for audio); 1 when not given. */
  channels: number;
}

/**
 * RFC 4568 a=crypto. The inline key||salt is NEVER kept: keyHash is the first
 * 16 hex characters of SHA-256 over the base64-decoded key material of the first
 * key-param, enough to show the same key reused across legs.
 */
export interface SdpCrypto {
  tag: number;
  suite: string;
  keyHash: string;
  /** Key method of the first key-param (normally 'inline'). */
  keyMethod: string;
  /** e.g. "2^20", when given. */
  lifetime?: string;
  /** "value:length", when given. */
  mki?: string;
  /** Number of key-params on the line (several keys with MKIs). */
  keyCount: number;
  /** Session parameters (UNENCRYPTED_SRTP, KDR=...); any carrying key material is reduced to its name. */
  sessionParams: string[];
}

export interface SdpFingerprint {
  /** Lower-cased hash function, e.g. 'sha-256'. */
  hashFunc: string;
  /** Upper-cased colon-separated hex as on the wire. */
  value: string;
}

export interface SdpZrtpHash {
  version: string;
  /** Lower-cased hex. */
  hash: string;
}

export interface SdpCandidate {
  foundation: string;
  component: number;
  /** Lower-cased: 'udp' or 'tcp'. */
  transport: string;
  priority: number;
  address: string;
  port: number;
  /** host / srflx / prflx / relay. */
  type: string;
  raddr: string | undefined;
  rport: number | undefined;
  /** tcptype for TCP candidates (active/passive/so). */
  tcpType: string | undefined;
}

export interface SdpSsrc {
  ssrc: number;
  attribute: string;
  value: string;
}

export interface SdpSsrcGroup {
  semantics: string;
  ssrcs: number[];
}

export interface SdpGroup {
  semantics: string;
  mids: string[];
}

export interface SdpRtcp {
  port: number;
  address: string | undefined;
  addrType: string | undefined;
}

export interface SdpMedia {
  /** audio / video / application / image / text / message. */
  media: string;
  port: number;
  /** The /n suffix of the port, default 1. */
  numPorts: number;
  /** As written, e.g. RTP/AVP, RTP/SAVP, UDP/TLS/RTP/SAVPF, udptl, TCP/RTP/AVP. */
  proto: string;
  /** RTP payload types (numeric fmt tokens only). */
  formats: number[];
  /** All fmt tokens as written (e.g. "t38", "webrtc-datachannel"). */
  formatTokens: string[];
  /** Media-level c=, or the session-level one inherited; undefined if neither. */
  connection: SdpConnection | undefined;
  /** True when `connection` came from the session level. */
  connectionInherited: boolean;
  /** Media-level direction, else session-level, else 'sendrecv'. */
  direction: SdpDirection;
  rtpmap: Map<number, SdpRtpMap>;
  fmtp: Map<number, string>;
  rtcp: SdpRtcp | undefined;
  rtcpMux: boolean;
  crypto: SdpCrypto[];
  /** Media-level fingerprints, else the session-level ones. */
  fingerprints: SdpFingerprint[];
  /** RFC 4145 setup: active / passive / actpass / holdconn (media-level, else session-level). */
  setup: string | undefined;
  zrtpHash: SdpZrtpHash | undefined;
  candidates: SdpCandidate[];
  /** ICE ufrag (media-level, else session-level). ice-pwd is never stored. */
  iceUfrag: string | undefined;
  ssrcs: SdpSsrc[];
  ssrcGroups: SdpSsrcGroup[];
  mid: string | undefined;
  label: string | undefined;
  /** b= lines as [bwtype, value]. */
  bandwidths: Array<[string, number]>;
  /** k= line present (RFC 4566 §5.12, obsolete): only its method is kept, never the key. */
  keyLineMethod: string | undefined;
  /** Other a= lines as [name, value] ('' for property attributes), excluding anything secret. */
  attributes: Array<[string, string]>;
}

export interface SessionDescription {
  version: number;
  origin: SdpOrigin | undefined;
  sessionName: string;
  /** Session-level c=. */
  connection: SdpConnection | undefined;
  /** Session-level direction attribute, if any (media inherit it). */
  direction: SdpDirection | undefined;
  groups: SdpGroup[];
  fingerprints: SdpFingerprint[];
  setup: string | undefined;
  iceUfrag: string | undefined;
  iceLite: boolean;
  zrtpHash: SdpZrtpHash | undefined;
  /** Session-level a=crypto (not allowed by RFC 4568 but seen in the wild), hashed. */
  crypto: SdpCrypto[];
  bandwidths: Array<[string, number]>;
  keyLineMethod: string | undefined;
  /** Other session-level a= lines as [name, value]. */
  attributes: Array<[string, string]>;
  media: SdpMedia[];
}

/** Where an SDP's author expects to receive media (see expectedEndpoints()). */
export interface ExpectedEndpoint {
  /** Index of the m= line. */
  mediaIndex: number;
  media: string;
  mid: string | undefined;
  proto: string;
  direction: SdpDirection;
  /** 'connection' = c= address + m= port; 'candidate' = an ICE candidate. */
  source: 'connection' | 'candidate';
  address: string;
  port: number;
  addrType: string;
  multicast: boolean;
  /** Where RTCP is expected (same port when rtcp-mux); undefined for candidate entries. */
  rtcpPort: number | undefined;
  rtcpAddress: string | undefined;
  rtcpMux: boolean;
  /** ICE candidate details (source === 'candidate'). */
  candidateType: string | undefined;
  component: number | undefined;
  transport: string | undefined;
  /** RTP payload types of the m= line. */
  payloadTypes: number[];
}
