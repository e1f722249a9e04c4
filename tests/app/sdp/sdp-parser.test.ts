import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { WeirdCounters } from '../../../sensor/src/decode/weird.js';
import { expectedEndpoints, isMulticastAddress, parseSdp } from '../../../sensor/src/app/sdp/sdp-parser.js';

const crlf = (...l: string[]): string => l.join('\r\n') + '\r\n';
/** JSON that also shows Map contents, so nothing can hide inside a Map. */
const dump = (v: unknown): string => JSON.stringify(v, (_k, x) => (x instanceof Map ? [...x.entries()] : x));

describe('parseSdp: RFC 8866 basics', () => {
  const offer = crlf(
    'v=0',
    'o=alice 2890844526 2890844527 IN IP4 host.atlanta.example.com',
    's=Session SDP',
    'c=IN IP4 192.0.2.101',
    'b=AS:128',
    't=0 0',
    'a=sendonly',
    'm=audio 49170 RTP/AVP 0 8 97 101',
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:8 PCMA/8000',
    'a=rtpmap:97 opus/48000/2',
    'a=rtpmap:101 telephone-event/8000',
    'a=fmtp:101 0-15',
    'a=fmtp:97 minptime=10;useinbandfec=1',
    'a=ptime:20',
    'm=video 51372 RTP/AVP 99',
    'c=IN IP6 2001:db8::2',
    'a=rtpmap:99 h263-1998/90000',
    'a=recvonly',
    'a=rtcp:53020 IN IP4 126.16.64.4',
    'm=audio 0 RTP/AVP 0',
  );

  it('parses origin, connection, media, rtpmap, fmtp, bandwidth', () => {
    const w = new WeirdCounters();
    const s = parseSdp(offer, w)!;
    expect(w.total()).toBe(0);
    expect(s.version).toBe(0);
    expect(s.origin).toEqual({ username: 'alice', sessId: '2890844526', sessVersion: '2890844527', netType: 'IN', addrType: 'IP4', address: 'host.atlanta.example.com' });
    expect(s.sessionName).toBe('Session SDP');
    expect(s.connection).toMatchObject({ addrType: 'IP4', address: '192.0.2.101', multicast: false, ttl: undefined });
    expect(s.bandwidths).toEqual([['AS', 128]]);
    expect(s.media).toHaveLength(3);
    const [a, v, off] = s.media;
    expect(a).toMatchObject({ media: 'audio', port: 49170, numPorts: 1, proto: 'RTP/AVP', formats: [0, 8, 97, 101], connectionInherited: true });
    expect(a.rtpmap.get(97)).toEqual({ encoding: 'opus', clockRate: 48000, channels: 2 });
    expect(a.rtpmap.get(0)).toEqual({ encoding: 'PCMU', clockRate: 8000, channels: 1 });
    expect(a.fmtp.get(101)).toBe('0-15');
    expect(a.fmtp.get(97)).toBe('minptime=10;useinbandfec=1');
    expect(a.attributes).toEqual([['ptime', '20']]);
    expect(v.connection).toMatchObject({ addrType: 'IP6', address: '2001:db8::2' });
    expect(v.connectionInherited).toBe(false);
    expect(v.rtcp).toEqual({ port: 53020, address: '126.16.64.4', addrType: 'IP4' });
    expect(off.port).toBe(0);
  });

  it('inherits direction from the session level; media-level overrides', () => {
    const s = parseSdp(offer)!;
    expect(s.direction).toBe('sendonly');
    expect(s.media.map((m) => m.direction)).toEqual(['sendonly', 'recvonly', 'sendonly']);
    const noDir = parseSdp('v=0\r\nc=IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 0\r\n')!;
    expect(noDir.media[0].direction).toBe('sendrecv');
  });

  it('expectedEndpoints: c= + m= port, RTCP at port+1 or a=rtcp, no entry for port 0', () => {
    const eps = expectedEndpoints(parseSdp(offer)!);
    expect(eps.map((e) => [e.mediaIndex, e.source, e.address, e.port, e.rtcpAddress, e.rtcpPort, e.addrType, e.direction])).toEqual([
      [0, 'connection', '192.0.2.101', 49170, '192.0.2.101', 49171, 'IP4', 'sendonly'],
      [1, 'connection', '2001:db8::2', 51372, '126.16.64.4', 53020, 'IP6', 'recvonly'],
    ]);
    expect(eps[0].payloadTypes).toEqual([0, 8, 97, 101]);
  });

  it('is liberal: LF-only, trailing spaces, junk lines, missing v=', () => {
    const w = new WeirdCounters();
    const s = parseSdp('o=- 1 1 IN IP4 10.0.0.1   \nthis is junk\ns=-\nc=IN IP4 10.0.0.1 \nm=audio 5004 RTP/AVP 8  \na=rtpmap:8 PCMA/8000 \n', w)!;
    expect(s.media[0].port).toBe(5004);
    expect(s.media[0].formats).toEqual([8]);
    expect(s.media[0].rtpmap.get(8)?.encoding).toBe('PCMA');
    expect(w.get('sdp_missing_version')).toBe(1);
    expect(w.get('sdp_malformed_line')).toBe(1);
    expect(parseSdp('hello world\nno sdp here', w)).toBeNull();
    expect(w.get('sdp_not_sdp')).toBe(1);
    expect(parseSdp('')).toBeNull();
  });

  it('keeps a malformed m= line as a port-0 section so its attributes stay separate', () => {
    const w = new WeirdCounters();
    const s = parseSdp('v=0\nc=IN IP4 10.0.0.1\nm=audio 5004 RTP/AVP 0\nm=video xx RTP/AVP 96\na=rtpmap:96 VP8/90000\n', w)!;
    expect(w.get('sdp_malformed_media')).toBe(1);
    expect(s.media[0].rtpmap.size).toBe(0);
    expect(s.media[1].port).toBe(0);
    expect(expectedEndpoints(s)).toHaveLength(1);
  });

  it('T.38 image/udptl keeps non-numeric formats as tokens', () => {
    const s = parseSdp(crlf('v=0', 'c=IN IP4 10.35.60.100', 'm=image 15580 udptl t38', 'a=T38FaxVersion:0', 'a=T38FaxRateManagement:transferredTCF'))!;
    expect(s.media[0]).toMatchObject({ media: 'image', proto: 'udptl', formats: [], formatTokens: ['t38'] });
    expect(s.media[0].attributes).toEqual([['t38faxversion', '0'], ['t38faxratemanagement', 'transferredTCF']]);
  });
});

describe('parseSdp: hold and multicast', () => {
  it('hold with c=0.0.0.0 and a=sendonly gives no connection endpoint', () => {
    const s = parseSdp(crlf('v=0', 'o=- 1 2 IN IP4 10.0.0.1', 's=-', 'c=IN IP4 0.0.0.0', 't=0 0', 'm=audio 5004 RTP/AVP 0', 'a=sendonly'))!;
    expect(s.media[0].direction).toBe('sendonly');
    expect(s.media[0].connection?.address).toBe('0.0.0.0');
    expect(expectedEndpoints(s)).toEqual([]);
  });

  it('IPv4 multicast c= with TTL and count; IPv6 multicast with count', () => {
    const s = parseSdp(crlf('v=0', 'c=IN IP4 224.2.36.42/127/3', 'm=audio 49170 RTP/AVP 0', 'm=video 51372 RTP/AVP 31', 'c=IN IP6 FF15::101/3'))!;
    expect(s.connection).toEqual({ netType: 'IN', addrType: 'IP4', address: '224.2.36.42', ttl: 127, numAddresses: 3, multicast: true });
    expect(s.media[1].connection).toEqual({ netType: 'IN', addrType: 'IP6', address: 'FF15::101', ttl: undefined, numAddresses: 3, multicast: true });
    const eps = expectedEndpoints(s);
    expect(eps.map((e) => [e.address, e.multicast])).toEqual([['224.2.36.42', true], ['FF15::101', true]]);
    expect(isMulticastAddress('239.255.255.250')).toBe(true);
    expect(isMulticastAddress('240.0.0.1')).toBe(false);
    expect(isMulticastAddress('223.1.1.1')).toBe(false);
    expect(isMulticastAddress('fe80::1')).toBe(false);
  });
});

describe('parseSdp: SDES crypto privacy (RFC 4568)', () => {
  // RFC 4568 §9.1 example keys
  const KEY1 = 'WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz';
  const KEY2 = 'KZ4nOtWBQmQJrYs1GRF+n4yTbY3oDNbUgSHbUcoB';
  const FEC = 'QUJjZGVmMTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5';
  const text = crlf(
    'v=0', 'o=sam 2890844526 2890842807 IN IP4 10.47.16.5', 's=SRTP Discussion', 'c=IN IP4 168.2.17.12', 't=2854678930 2854679000',
    'm=audio 49170 RTP/SAVP 0',
    `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${KEY1}|2^20|1:4 FEC_ORDER=FEC_SRTP FEC_KEY=inline:${FEC}|2^20|1:4`,
    `a=crypto:2 F8_128_HMAC_SHA1_80 inline:${KEY2}|2^20|1:4;inline:${KEY1}|2^20|2:4`,
    'a=crypto:x broken',
  );
  const hashOf = (b64: string) => createHash('sha256').update(Buffer.from(b64, 'base64')).digest('hex').slice(0, 16);

  it('stores suite, tag, lifetime, MKI and a key hash only', () => {
    const w = new WeirdCounters();
    const s = parseSdp(text, w)!;
    const c = s.media[0].crypto;
    expect(c).toHaveLength(2);
    expect(c[0]).toEqual({
      tag: 1, suite: 'AES_CM_128_HMAC_SHA1_80', keyHash: hashOf(KEY1), keyMethod: 'inline', lifetime: '2^20', mki: '1:4',
      keyCount: 1, sessionParams: ['FEC_ORDER=FEC_SRTP', 'FEC_KEY'],
    });
    expect(c[1]).toMatchObject({ tag: 2, suite: 'F8_128_HMAC_SHA1_80', keyHash: hashOf(KEY2), keyCount: 2 });
    expect(c[0].keyHash).toMatch(/^[0-9a-f]{16}$/);
    expect(w.get('sdp_malformed_crypto')).toBe(1);
    expect(s.media[0].attributes).toEqual([]);
  });

  it('the key material appears nowhere in the result (raw, base64 or hex)', () => {
    const json = dump(parseSdp(text)!);
    for (const k of [KEY1, KEY2, FEC]) {
      const raw = Buffer.from(k, 'base64');
      expect(json).not.toContain(k);
      expect(json).not.toContain(k.slice(0, 12));
      expect(json).not.toContain(raw.toString('hex'));
      expect(json).not.toContain(raw.toString('hex').slice(0, 16));
      expect(json).not.toContain(raw.toString('hex').toUpperCase().slice(0, 16));
      expect(json).not.toContain(JSON.stringify(raw.toString('latin1')).slice(1, 12));
    }
    expect(json).not.toContain('inline:');
    expect(json).not.toContain('a=crypto');
  });
});

describe('parseSdp: WebRTC / DTLS-SRTP / ICE', () => {
  const PWD = 'asd88fgpdd777uzjYhagZg';
  const text = crlf(
    'v=0', 'o=- 4611731400430051336 2 IN IP4 127.0.0.1', 's=-', 't=0 0',
    'a=group:BUNDLE 0 1',
    'a=msid-semantic: WMS stream',
    'a=fingerprint:sha-256 19:E2:1C:3B:4B:9F:81:E6:B8:5C:F4:A5:A8:D8:73:04:BB:05:2F:70:9F:04:A9:0E:05:E9:26:33:E8:70:88:A2',
    'a=setup:actpass',
    'a=ice-ufrag:8hhY',
    `a=ice-pwd:${PWD}`,
    'm=audio 54400 UDP/TLS/RTP/SAVPF 111 0',
    'c=IN IP4 203.0.113.141',
    'a=rtcp:9 IN IP4 0.0.0.0',
    'a=candidate:1467250027 1 udp 2122260223 192.168.0.196 46243 typ host generation 0',
    'a=candidate:435653019 1 tcp 1845501695 192.168.0.196 9 typ host tcptype active generation 0',
    'a=candidate:1853887674 1 udp 1518280447 203.0.113.141 54400 typ srflx raddr 192.168.0.196 rport 46243 generation 0',
    'a=candidate:2157334355 1 udp 33562367 198.51.100.7 62511 typ relay raddr 203.0.113.141 rport 54400',
    'a=candidate:bad',
    'a=mid:0',
    'a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level',
    'a=sendrecv',
    'a=rtcp-mux',
    'a=rtpmap:111 opus/48000/2',
    'a=fmtp:111 minptime=10;useinbandfec=1',
    'a=ssrc:3570614608 cname:4TOk42mSjXCkVIa6',
    'a=ssrc:3570614608 msid:stream track',
    'm=video 54400 UDP/TLS/RTP/SAVPF 96 97',
    'c=IN IP4 203.0.113.141',
    'a=setup:passive',
    'a=ice-ufrag:Vid0',
    `a=ice-pwd:${PWD}`,
    'a=fingerprint:sha-1 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB',
    'a=mid:1',
    'a=rtcp-mux',
    'a=rtpmap:96 VP8/90000',
    'a=rtpmap:97 rtx/90000',
    'a=fmtp:97 apt=96',
    'a=ssrc-group:FID 2231627014 632943048',
    'a=ssrc:2231627014 cname:4TOk42mSjXCkVIa6',
    'a=ssrc:632943048 cname:4TOk42mSjXCkVIa6',
  );

  it('parses groups, fingerprints, setup, ufrag with inheritance and never keeps ice-pwd', () => {
    const w = new WeirdCounters();
    const s = parseSdp(text, w)!;
    expect(s.groups).toEqual([{ semantics: 'BUNDLE', mids: ['0', '1'] }]);
    const [a, v] = s.media;
    expect(a.fingerprints).toEqual([{ hashFunc: 'sha-256', value: '19:E2:1C:3B:4B:9F:81:E6:B8:5C:F4:A5:A8:D8:73:04:BB:05:2F:70:9F:04:A9:0E:05:E9:26:33:E8:70:88:A2' }]);
    expect(v.fingerprints).toEqual([{ hashFunc: 'sha-1', value: '4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB' }]);
    expect([a.setup, v.setup]).toEqual(['actpass', 'passive']);
    expect([a.iceUfrag, v.iceUfrag]).toEqual(['8hhY', 'Vid0']);
    expect([a.mid, v.mid]).toEqual(['0', '1']);
    expect(a.rtcpMux && v.rtcpMux).toBe(true);
    expect(a.attributes).toEqual([['extmap', '1 urn:ietf:params:rtp-hdrext:ssrc-audio-level']]);
    expect(s.attributes).toEqual([['msid-semantic', 'WMS stream']]);
    expect(w.get('sdp_malformed_candidate')).toBe(1);
    const json = dump(s);
    expect(json).not.toContain(PWD);
    expect(json).not.toContain('ice-pwd');
  });

  it('parses candidates incl. srflx/relay raddr/rport and tcptype', () => {
    const c = parseSdp(text)!.media[0].candidates;
    expect(c.map((x) => [x.type, x.transport, x.address, x.port])).toEqual([
      ['host', 'udp', '192.168.0.196', 46243], ['host', 'tcp', '192.168.0.196', 9], ['srflx', 'udp', '203.0.113.141', 54400], ['relay', 'udp', '198.51.100.7', 62511],
    ]);
    expect(c[3]).toEqual({ foundation: '2157334355', component: 1, transport: 'udp', priority: 33562367, address: '198.51.100.7', port: 62511, type: 'relay', raddr: '203.0.113.141', rport: 54400, tcpType: undefined });
    expect(c[1].tcpType).toBe('active');
    expect(c[2].raddr).toBe('192.168.0.196');
  });

  it('parses ssrc attributes and ssrc-group FID', () => {
    const [a, v] = parseSdp(text)!.media;
    expect(a.ssrcs).toEqual([
      { ssrc: 3570614608, attribute: 'cname', value: '4TOk42mSjXCkVIa6' }, { ssrc: 3570614608, attribute: 'msid', value: 'stream track' },
    ]);
    expect(v.ssrcGroups).toEqual([{ semantics: 'FID', ssrcs: [2231627014, 632943048] }]);
    expect(v.rtpmap.get(97)?.encoding).toBe('rtx');
    expect(v.fmtp.get(97)).toBe('apt=96');
  });

  it('expectedEndpoints lists the c= address (rtcp-mux: same port) and every candidate', () => {
    const eps = expectedEndpoints(parseSdp(text)!).filter((e) => e.mediaIndex === 0);
    expect(eps[0]).toMatchObject({ source: 'connection', address: '203.0.113.141', port: 54400, rtcpPort: 54400, rtcpMux: true, proto: 'UDP/TLS/RTP/SAVPF', mid: '0' });
    expect(eps.slice(1).map((e) => [e.source, e.candidateType, e.transport, e.address, e.port, e.component])).toEqual([
      ['candidate', 'host', 'udp', '192.168.0.196', 46243, 1], ['candidate', 'host', 'tcp', '192.168.0.196', 9, 1],
      ['candidate', 'srflx', 'udp', '203.0.113.141', 54400, 1], ['candidate', 'relay', 'udp', '198.51.100.7', 62511, 1],
    ]);
  });
});

describe('parseSdp: ZRTP, DUP, SIPREC labels, setup', () => {
  it('parses zrtp-hash (session-level inherited, media-level wins)', () => {
    const s = parseSdp(crlf('v=0', 'a=zrtp-hash:1.10 FE30EFD3A1E4A8D7F5C1A3D2B9E7C2A1F0D4E3B2C1A0F9E8D7C6B5A4F3E2D1C0', 'c=IN IP4 10.0.0.1',
      'm=audio 4000 RTP/AVP 0', 'm=audio 4002 RTP/AVP 0', 'a=zrtp-hash:1.10 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff'))!;
    expect(s.media[0].zrtpHash).toEqual({ version: '1.10', hash: 'fe30efd3a1e4a8d7f5c1a3d2b9e7c2a1f0d4e3b2c1a0f9e8d7c6b5a4f3e2d1c0' });
    expect(s.media[1].zrtpHash?.hash).toBe('00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff');
  });

  it('parses RFC 7198 duplication: group:DUP and ssrc-group:DUP', () => {
    const s = parseSdp(crlf('v=0', 'c=IN IP4 192.0.2.1', 'a=group:DUP S1a S1b',
      'm=video 30000 RTP/AVP 100', 'a=mid:S1a', 'a=ssrc-group:DUP 1000 1010', 'a=ssrc:1000 cname:x', 'a=ssrc:1010 cname:x',
      'm=video 30002 RTP/AVP 101', 'a=mid:S1b'))!;
    expect(s.groups).toEqual([{ semantics: 'DUP', mids: ['S1a', 'S1b'] }]);
    expect(s.media[0].ssrcGroups).toEqual([{ semantics: 'DUP', ssrcs: [1000, 1010] }]);
    expect(s.media.map((m) => m.mid)).toEqual(['S1a', 'S1b']);
  });

  it('parses SIPREC labels and setup/connection (RFC 4145)', () => {
    const s = parseSdp(crlf('v=0', 'c=IN IP4 198.51.100.1', 'm=audio 12240 RTP/AVP 0', 'a=sendonly', 'a=label:1',
      'm=audio 12242 RTP/AVP 0', 'a=sendonly', 'a=label:2', 'm=application 9 TCP/TLS/BFCP *', 'a=setup:active', 'a=connection:new'))!;
    expect(s.media.map((m) => m.label)).toEqual(['1', '2', undefined]);
    expect(s.media[2]).toMatchObject({ proto: 'TCP/TLS/BFCP', setup: 'active', formatTokens: ['*'] });
    expect(s.media[2].attributes).toEqual([['connection', 'new']]);
    expect(s.media[0].setup).toBeUndefined();
  });

  it('drops k= keys and key-mgmt data, keeping only their method', () => {
    const s = parseSdp(crlf('v=0', 'c=IN IP4 10.0.0.1', 'm=audio 4000 RTP/SAVP 0', 'k=base64:c2VjcmV0a2V5MTIz', 'a=key-mgmt:mikey AQAFgM0XflABAAAAAAAAAAAAAAsAyO'))!;
    expect(s.media[0].keyLineMethod).toBe('base64');
    expect(s.media[0].attributes).toEqual([['key-mgmt', 'mikey']]);
    const json = dump(s);
    expect(json).not.toContain('c2VjcmV0a2V5MTIz');
    expect(json).not.toContain('AQAFgM0XflABAAAA');
  });

  it('never throws on mangled input', () => {
    const base = crlf('v=0', 'o=- 1 1 IN IP4 1.2.3.4', 'c=IN IP4 1.2.3.4/x/y', 'm=audio 1/2 RTP/AVP 0 1 2', 'a=rtpmap:0', 'a=fmtp:', 'a=rtcp:', 'a=ssrc:99999999999 x', 'a=ssrc-group:', 'a=group:', 'a=crypto:', 'a=fingerprint:', 'a=zrtp-hash:', 'a=candidate:1 2 3 4 5 6 typ', 'b=AS', 'm=', 'c=');
    for (let n = 0; n <= base.length; n++) expect(() => parseSdp(base.slice(0, n), new WeirdCounters())).not.toThrow();
  });
});
