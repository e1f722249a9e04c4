/**
 * SDP parser (RFC 8866, formerly RFC 4566) plus the attributes listed in
 * sdp-types.ts, and expectedEndpoints(): where the SDP's author expects to
 * receive RTP/RTCP. That is the "expectation" Wireshark's packet-sdp.c registers
 * for RTP (srtp_add_address): classification by signalled address comes first,
 * heuristics second.
 *
 * Liberal in what it accepts: CRLF, LF or CR line ends, trailing spaces, unknown
 * or malformed lines are skipped (malformed ones counted as weirds).
 *
 * PRIVACY (RFC 4568 §8.3, SDES keys in cleartext): the inline key||salt of
 * a=crypto is reduced to a 16-hex-char SHA-256 prefix and the line itself is not
 * kept; a=ice-pwd, k= keys and a=key-mgmt data are dropped. Only the input
 * string (owned by the caller) still contains them.
 */
import { createHash } from 'node:crypto';
import type { WeirdCounters } from '../../decode/weird.js';
import type {
  ExpectedEndpoint, SdpCandidate, SdpConnection, SdpCrypto, SdpDirection, SdpFingerprint, SdpMedia,
  SdpZrtpHash, SessionDescription,
} from './sdp-types.js';

const DIRECTIONS: ReadonlySet<string> = new Set(['sendrecv', 'sendonly', 'recvonly', 'inactive']);

/** Is this address multicast? IPv4 224.0.0.0/4, IPv6 ff00::/8. */
export function isMulticastAddress(address: string): boolean {
  if (address.indexOf(':') >= 0) return /^ff[0-9a-f]{2}:/i.test(address);
  const m = /^(\d{1,3})\./.exec(address);
  if (m === null) return false;
  const first = Number(m[1]);
  return first >= 224 && first <= 239;
}

function toInt(s: string | undefined): number | undefined {
  if (s === undefined || !/^\d{1,10}$/.test(s)) return undefined;
  return Number(s);
}

/** c=<nettype> <addrtype> <address>[/<ttl>][/<number>] (RFC 8866 §5.7). */
function parseConnection(value: string): SdpConnection | null {
  const f = value.trim().split(/\s+/);
  if (f.length < 3) return null;
  const addrType = f[1].toUpperCase();
  const pieces = f[2].split('/');
  const address = pieces[0];
  if (address.length === 0) return null;
  const multicast = isMulticastAddress(address);
  let ttl: number | undefined;
  let numAddresses = 1;
  if (addrType === 'IP4' && multicast) {
    ttl = toInt(pieces[1]);
    numAddresses = toInt(pieces[2]) ?? 1;
  } else if (pieces.length > 1) {
    numAddresses = toInt(pieces[1]) ?? 1; // IPv6 multicast has no TTL, only the count
  }
  return { netType: f[0].toUpperCase(), addrType, address, ttl, numAddresses, multicast };
}

/**
 * a=crypto:<tag> <crypto-suite> <key-params> [<session-params>] (RFC 4568 §9.1).
 * key-params = key-method ":" key-info *(";" key-method ":" key-info);
 * inline key-info = key||salt ["|" lifetime] ["|" MKI ":" length].
 */
function parseCrypto(value: string): SdpCrypto | null {
  const f = value.trim().split(/\s+/);
  if (f.length < 3) return null;
  const tag = toInt(f[0]);
  if (tag === undefined) return null;
  const keyParams = f[2].split(';').filter((k) => k.length > 0);
  const first = keyParams[0];
  const colon = first.indexOf(':');
  if (colon <= 0) return null;
  const keyMethod = first.slice(0, colon).toLowerCase();
  const info = first.slice(colon + 1).split('|');
  const material = Buffer.from(info[0], 'base64');
  const keyHash = createHash('sha256').update(material).digest('hex').slice(0, 16);
  material.fill(0); // do not leave the decoded key lying around in memory longer than needed
  let lifetime: string | undefined;
  let mki: string | undefined;
  for (let i = 1; i < info.length; i++) {
    if (info[i].indexOf(':') >= 0) mki = info[i];
    else if (info[i].length > 0) lifetime = info[i];
  }
  const sessionParams: string[] = [];
  for (let i = 3; i < f.length; i++) {
    const p = f[i];
    // FEC_KEY=inline:... (RFC 4568 §6.3.6) carries key material: keep its name only.
    if (/inline:/i.test(p) || p.indexOf('|') >= 0) sessionParams.push(p.split('=')[0]);
    else sessionParams.push(p);
  }
  const out: SdpCrypto = { tag, suite: f[1], keyHash, keyMethod, keyCount: keyParams.length, sessionParams };
  if (lifetime !== undefined) out.lifetime = lifetime;
  if (mki !== undefined) out.mki = mki;
  return out;
}

/** a=candidate:<foundation> <component> <transport> <priority> <addr> <port> typ <type> [raddr x] [rport y] *(ext) (RFC 8839 §5.1). */
function parseCandidate(value: string): SdpCandidate | null {
  const f = value.trim().split(/\s+/);
  if (f.length < 8 || f[6].toLowerCase() !== 'typ') return null;
  const component = toInt(f[1]);
  const priority = toInt(f[3]);
  const port = toInt(f[5]);
  if (component === undefined || priority === undefined || port === undefined || port > 65535) return null;
  const c: SdpCandidate = {
    foundation: f[0],
    component,
    transport: f[2].toLowerCase(),
    priority,
    address: f[4],
    port,
    type: f[7].toLowerCase(),
    raddr: undefined,
    rport: undefined,
    tcpType: undefined,
  };
  for (let i = 8; i + 1 < f.length; i += 2) {
    const k = f[i].toLowerCase();
    if (k === 'raddr') c.raddr = f[i + 1];
    else if (k === 'rport') c.rport = toInt(f[i + 1]);
    else if (k === 'tcptype') c.tcpType = f[i + 1].toLowerCase();
  }
  return c;
}

function newMedia(media: string, port: number, numPorts: number, proto: string, tokens: string[]): SdpMedia {
  const formats: number[] = [];
  for (const t of tokens) {
    const n = toInt(t);
    if (n !== undefined && n <= 127) formats.push(n);
  }
  return {
    media, port, numPorts, proto, formats, formatTokens: tokens,
    connection: undefined, connectionInherited: false, direction: 'sendrecv',
    rtpmap: new Map(), fmtp: new Map(), rtcp: undefined, rtcpMux: false,
    crypto: [], fingerprints: [], setup: undefined, zrtpHash: undefined, candidates: [],
    iceUfrag: undefined, ssrcs: [], ssrcGroups: [], mid: undefined, label: undefined,
    bandwidths: [], keyLineMethod: undefined, attributes: [],
  };
}

/** What a media section set itself, to resolve inheritance from the session level at the end. */
interface MediaExplicit {
  direction: SdpDirection | undefined;
  setup: boolean;
  iceUfrag: boolean;
  zrtp: boolean;
}

/** Parse SDP text. Returns null (weird 'sdp_not_sdp') when no "x=value" line is found at all. */
export function parseSdp(text: string, weirds?: WeirdCounters): SessionDescription | null {
  const sdp: SessionDescription = {
    version: 0, origin: undefined, sessionName: '', connection: undefined, direction: undefined,
    groups: [], fingerprints: [], setup: undefined, iceUfrag: undefined, iceLite: false, zrtpHash: undefined,
    crypto: [], bandwidths: [], keyLineMethod: undefined, attributes: [], media: [],
  };
  const explicit: MediaExplicit[] = [];
  let cur: SdpMedia | undefined;
  let curExplicit: MediaExplicit | undefined;
  let sawLine = false;
  const malformed = (name: string): void => {
    weirds?.weird(name);
  };

  const lines = text.split(/\r\n|\n|\r/);
  for (let li = 0; li < lines.length; li++) {
    const line = lines[li].trim();
    if (line.length < 2) continue;
    const type = line.charCodeAt(0);
    if (line.charCodeAt(1) !== 0x3d || type < 0x61 || type > 0x7a) {
      malformed('sdp_malformed_line');
      continue;
    }
    const value = line.slice(2);
    if (!sawLine) {
      sawLine = true;
      if (type !== 0x76) weirds?.weird('sdp_missing_version');
    }
    switch (line[0]) {
      case 'v':
        sdp.version = toInt(value.trim()) ?? 0;
        break;
      case 'o': {
        const f = value.trim().split(/\s+/);
        if (f.length < 6) malformed('sdp_malformed_origin');
        else sdp.origin = { username: f[0], sessId: f[1], sessVersion: f[2], netType: f[3], addrType: f[4].toUpperCase(), address: f[5] };
        break;
      }
      case 's':
        if (cur === undefined) sdp.sessionName = value;
        break;
      case 'c': {
        const c = parseConnection(value);
        if (c === null) malformed('sdp_malformed_connection');
        else if (cur === undefined) sdp.connection ??= c;
        else cur.connection ??= c; // several c= for layered multicast: keep the first
        break;
      }
      case 'b': {
        const colon = value.indexOf(':');
        const bw = colon > 0 ? toInt(value.slice(colon + 1).trim()) : undefined;
        if (bw === undefined) malformed('sdp_malformed_bandwidth');
        else (cur ?? sdp).bandwidths.push([value.slice(0, colon).trim().toUpperCase(), bw]);
        break;
      }
      case 'k': {
        // never keep the key, only how it was conveyed
        const colon = value.indexOf(':');
        (cur ?? sdp).keyLineMethod = (colon >= 0 ? value.slice(0, colon) : value).trim().toLowerCase();
        break;
      }
      case 'm': {
        const f = value.trim().split(/\s+/);
        const portPieces = (f[1] ?? '').split('/');
        const port = toInt(portPieces[0]);
        if (f.length < 3 || port === undefined || port > 65535) {
          malformed('sdp_malformed_media');
          // keep the section so its attributes do not leak into the previous one; port 0 = no media
          cur = newMedia(f[0] ?? '', 0, 1, f[2] ?? '', []);
        } else {
          cur = newMedia(f[0].toLowerCase(), port, toInt(portPieces[1]) ?? 1, f[2], f.slice(3));
        }
        curExplicit = { direction: undefined, setup: false, iceUfrag: false, zrtp: false };
        sdp.media.push(cur);
        explicit.push(curExplicit);
        break;
      }
      case 'a': {
        const colon = value.indexOf(':');
        const name = (colon >= 0 ? value.slice(0, colon) : value).trim().toLowerCase();
        const arg = colon >= 0 ? value.slice(colon + 1).trim() : '';
        parseAttribute(sdp, cur, curExplicit, name, arg, malformed);
        break;
      }
      default:
        break; // t=, r=, z=, i=, u=, e=, p=: not needed
    }
  }
  if (!sawLine) {
    weirds?.weird('sdp_not_sdp');
    return null;
  }

  // Inheritance from the session level (RFC 8866 §5: media-level values override).
  for (let i = 0; i < sdp.media.length; i++) {
    const m = sdp.media[i];
    const ex = explicit[i];
    if (m.connection === undefined && sdp.connection !== undefined) {
      m.connection = sdp.connection;
      m.connectionInherited = true;
    }
    m.direction = ex.direction ?? sdp.direction ?? 'sendrecv';
    if (m.fingerprints.length === 0 && sdp.fingerprints.length > 0) m.fingerprints = sdp.fingerprints.slice();
    if (!ex.setup) m.setup = sdp.setup;
    if (!ex.iceUfrag) m.iceUfrag = sdp.iceUfrag;
    if (!ex.zrtp) m.zrtpHash = sdp.zrtpHash;
  }
  return sdp;
}

function parseAttribute(
  sdp: SessionDescription,
  cur: SdpMedia | undefined,
  ex: MediaExplicit | undefined,
  name: string,
  arg: string,
  malformed: (weird: string) => void,
): void {
  if (DIRECTIONS.has(name)) {
    if (cur === undefined || ex === undefined) sdp.direction = name as SdpDirection;
    else ex.direction = name as SdpDirection;
    return;
  }
  switch (name) {
    case 'ice-pwd':
      return; // PRIVACY: never kept
    case 'key-mgmt': {
      // RFC 4567: MIKEY data may carry keys; keep only the protocol id
      const proto = arg.split(/\s+/)[0] ?? '';
      (cur ?? sdp).attributes.push(['key-mgmt', proto.toLowerCase()]);
      return;
    }
    case 'crypto': {
      const c = parseCrypto(arg);
      if (c === null) malformed('sdp_malformed_crypto');
      else (cur ?? sdp).crypto.push(c);
      return;
    }
    case 'fingerprint': {
      const f = arg.split(/\s+/);
      if (f.length < 2) malformed('sdp_malformed_fingerprint');
      else {
        const fp: SdpFingerprint = { hashFunc: f[0].toLowerCase(), value: f[1].toUpperCase() };
        (cur ?? sdp).fingerprints.push(fp);
      }
      return;
    }
    case 'setup':
      if (cur !== undefined && ex !== undefined) {
        cur.setup = arg.toLowerCase();
        ex.setup = true;
      } else sdp.setup = arg.toLowerCase();
      return;
    case 'zrtp-hash': {
      const f = arg.split(/\s+/);
      if (f.length < 2) {
        malformed('sdp_malformed_zrtp_hash');
        return;
      }
      const z: SdpZrtpHash = { version: f[0], hash: f[1].toLowerCase() };
      if (cur !== undefined && ex !== undefined) {
        cur.zrtpHash = z;
        ex.zrtp = true;
      } else sdp.zrtpHash = z;
      return;
    }
    case 'ice-ufrag':
      if (cur !== undefined && ex !== undefined) {
        cur.iceUfrag = arg;
        ex.iceUfrag = true;
      } else sdp.iceUfrag = arg;
      return;
    case 'ice-lite':
      sdp.iceLite = true;
      return;
    case 'group': {
      const f = arg.split(/\s+/).filter((s) => s.length > 0);
      if (f.length === 0) malformed('sdp_malformed_group');
      else sdp.groups.push({ semantics: f[0].toUpperCase(), mids: f.slice(1) });
      return;
    }
    default:
      break;
  }
  if (cur === undefined) {
    sdp.attributes.push([name, arg]);
    return;
  }
  switch (name) {
    case 'rtpmap': {
      // <payload type> <encoding name>/<clock rate>[/<encoding parameters>]
      const m = /^(\d{1,3})\s+([^/\s]+)\/(\d+)(?:\/(\d+))?/.exec(arg);
      if (m === null) malformed('sdp_malformed_rtpmap');
      else cur.rtpmap.set(Number(m[1]), { encoding: m[2], clockRate: Number(m[3]), channels: m[4] !== undefined ? Number(m[4]) : 1 });
      return;
    }
    case 'fmtp': {
      const m = /^(\d{1,3})\s+(.*)$/s.exec(arg);
      if (m !== null) cur.fmtp.set(Number(m[1]), m[2]);
      else cur.attributes.push([name, arg]); // e.g. udptl / non-RTP formats
      return;
    }
    case 'rtcp': {
      // a=rtcp:<port> [<nettype> <addrtype> <connection-address>] (RFC 3605)
      const f = arg.split(/\s+/);
      const port = toInt(f[0]);
      if (port === undefined || port > 65535) malformed('sdp_malformed_rtcp');
      else cur.rtcp = { port, address: f[3], addrType: f[2]?.toUpperCase() };
      return;
    }
    case 'rtcp-mux':
      cur.rtcpMux = true;
      return;
    case 'candidate': {
      const c = parseCandidate(arg);
      if (c === null) malformed('sdp_malformed_candidate');
      else cur.candidates.push(c);
      return;
    }
    case 'ssrc': {
      // a=ssrc:<ssrc-id> <attribute>[:<value>] (RFC 5576 §4.1)
      const m = /^(\d{1,10})\s+([^:\s]+)(?::(.*))?$/s.exec(arg);
      if (m === null || Number(m[1]) > 0xffffffff) malformed('sdp_malformed_ssrc');
      else cur.ssrcs.push({ ssrc: Number(m[1]), attribute: m[2].toLowerCase(), value: (m[3] ?? '').trim() });
      return;
    }
    case 'ssrc-group': {
      const f = arg.split(/\s+/).filter((s) => s.length > 0);
      const ssrcs: number[] = [];
      for (let i = 1; i < f.length; i++) {
        const n = toInt(f[i]);
        if (n !== undefined && n <= 0xffffffff) ssrcs.push(n);
      }
      if (f.length === 0) malformed('sdp_malformed_ssrc_group');
      else cur.ssrcGroups.push({ semantics: f[0].toUpperCase(), ssrcs });
      return;
    }
    case 'mid':
      cur.mid = arg;
      return;
    case 'label':
      cur.label = arg;
      return;
    default:
      cur.attributes.push([name, arg]);
  }
}

function isUnspecified(address: string): boolean {
  return address === '0.0.0.0' || address === '::' || address === '0:0:0:0:0:0:0:0';
}

/**
 * Where the SDP's author expects to RECEIVE media: per m= line with port != 0,
 * the c= address and m= port (RTCP on port+1, or a=rtcp, or the same port with
 * rtcp-mux), plus one entry per ICE candidate address:port (media may arrive
 * there too). Unspecified addresses (c=0.0.0.0 hold, RFC 3264 §8.4) yield no
 * connection entry: nothing can be sent there.
 */
export function expectedEndpoints(sdp: SessionDescription): ExpectedEndpoint[] {
  const out: ExpectedEndpoint[] = [];
  for (let i = 0; i < sdp.media.length; i++) {
    const m = sdp.media[i];
    if (m.port === 0) continue; // rejected or disabled stream (RFC 3264 §6)
    const c = m.connection;
    if (c !== undefined && !isUnspecified(c.address)) {
      out.push({
        mediaIndex: i, media: m.media, mid: m.mid, proto: m.proto, direction: m.direction,
        source: 'connection', address: c.address, port: m.port, addrType: c.addrType, multicast: c.multicast,
        rtcpPort: m.rtcpMux ? m.port : m.rtcp !== undefined ? m.rtcp.port : m.port + 1,
        rtcpAddress: m.rtcpMux ? c.address : m.rtcp?.address ?? c.address,
        rtcpMux: m.rtcpMux,
        candidateType: undefined, component: undefined, transport: undefined,
        payloadTypes: m.formats,
      });
    }
    for (const cand of m.candidates) {
      if (cand.port === 0) continue;
      out.push({
        mediaIndex: i, media: m.media, mid: m.mid, proto: m.proto, direction: m.direction,
        source: 'candidate', address: cand.address, port: cand.port,
        addrType: cand.address.indexOf(':') >= 0 ? 'IP6' : 'IP4', multicast: isMulticastAddress(cand.address),
        rtcpPort: undefined, rtcpAddress: undefined, rtcpMux: m.rtcpMux,
        candidateType: cand.type, component: cand.component, transport: cand.transport,
        payloadTypes: m.formats,
      });
    }
  }
  return out;
}
