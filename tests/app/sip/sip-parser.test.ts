import { describe, expect, it } from 'vitest';
import { WeirdCounters } from '../../../sensor/src/decode/weird.js';
import {
  canonicalHeaderName, getHeader, getHeaders, getSdpBodies, parseSipMessage, parseSipUri,
} from '../../../sensor/src/app/sip/sip-parser.js';

/** Join lines with CRLF (the message text of the RFCs). */
const crlf = (...lines: string[]): string => lines.join('\r\n');
const parse = (text: string, w?: WeirdCounters, pad = 0) => {
  const b = Buffer.alloc(pad + Buffer.byteLength(text) + pad, 0x7e);
  b.write(text, pad, 'utf8');
  return parseSipMessage(b, pad, Buffer.byteLength(text), w);
};

// RFC 3261 §24.2, F1 then F? style INVITE from Alice through atlanta.com's proxy (two Vias).
const RFC3261_INVITE = crlf(
  'INVITE sip:bob@biloxi.com SIP/2.0',
  'Via: SIP/2.0/UDP bigbox3.site3.atlanta.com;branch=z9hG4bK77ef4c2312983.1',
  'Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8;received=192.0.2.1',
  'Max-Forwards: 69',
  'To: Bob <sip:bob@biloxi.com>',
  'From: Alice <sip:alice@atlanta.com>;tag=1928301774',
  'Call-ID: a84b4c76e66710',
  'CSeq: 314159 INVITE',
  'Contact: <sip:alice@pc33.atlanta.com>',
  'Content-Type: application/sdp',
  'Content-Length: 0',
  '',
  '',
);

const RFC3261_200 = crlf(
  'SIP/2.0 200 OK',
  'Via: SIP/2.0/UDP server10.biloxi.com;branch=z9hG4bKnashds8;received=192.0.2.3',
  'Via: SIP/2.0/UDP bigbox3.site3.atlanta.com;branch=z9hG4bK77ef4c2312983.1;received=192.0.2.2',
  'Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds ;received=192.0.2.1',
  'Record-Route: <sip:server10.biloxi.com;lr>, <sip:bigbox3.site3.atlanta.com;lr>',
  'To: Bob <sip:bob@biloxi.com>;tag=a6c85cf',
  'From: Alice <sip:alice@atlanta.com>;tag=1928301774',
  'Call-ID: a84b4c76e66710@pc33.atlanta.com',
  'CSeq: 314159 INVITE',
  'Contact: <sip:bob@192.0.2.4>',
  'Content-Length: 0',
  '',
  '',
);

// RFC 4475 §3.1.1.1 "wsinv": short tortuous INVITE (whitespace, folding, compact forms, mixed case).
const WSINV = crlf(
  'INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0',
  'TO :',
  ' sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n',
  'from   : "J Rosenberg \\\\\\""       <sip:jdrosen@example.com>',
  '  ;',
  '  tag = 98asjd8',
  'MaX-fOrWaRdS: 0068',
  'Call-ID: wsinv.ndaksdj@192.0.2.1',
  'Content-Length   : 150',
  'cseq: 0009',
  '  INVITE',
  'Via  : SIP  /   2.0',
  ' /UDP',
  '    192.0.2.2;branch=390skdjuw',
  's :',
  'NewFangledHeader:   newfangled value',
  ' continued newfangled value',
  'UnknownHeaderWithUnusualValue: ;;,,;;,;',
  'Content-Type: application/sdp',
  'Route:',
  ' <sip:services.example.com;lr;unknownwith=value;unknown-no-value>',
  'v:  SIP  / 2.0  / TCP     spindle.example.com   ;',
  '  branch  =   z9hG4bK9ikj8  ,',
  ' SIP  /    2.0   / UDP  192.168.255.111   ; branch=',
  ' z9hG4bK30239',
  'm:"Quoted string \\"\\"" <sip:jdrosen@example.com> ; newparam =',
  '      newvalue ;',
  '  secondparam ; q = 0.33',
  '',
  'v=0',
  'o=mhandley 29739 7272939 IN IP4 192.0.2.3',
  's=-',
  'c=IN IP4 192.0.2.4',
  't=0 0',
  'm=audio 49217 RTP/AVP 0 12',
  'm=video 3227 RTP/AVP 31',
  'a=rtpmap:31 LPC',
  '',
);

// A real INVITE (sngrep_aaa.pcap frame 223, UDP payload of 822 bytes).
const REAL_INVITE =
  'INVITE sip:97239287044@voip.brujula.net SIP/2.0\r\nVia: SIP/2.0/UDP 192.168.1.2:5060;branch=z9hG4bKnp104984053-44ce4a41192.168.1.2;rport\r\nFrom: "arik" <sip:816666@voip.brurjula.net>;tag=6433ef9\r\nTo: <sip:97239287044@voip.brujula.net>\r\nCall-ID: 105090259-446faf7a@192.168.1.2\r\nCSeq: 1 INVITE\r\nUser-Agent: Nero SIPPS IP Phone Version 2.0.51.16\r\nExpires: 120\r\nAccept: application/sdp\r\nContent-Type: application/sdp\r\nContent-Length: 272\r\nContact: <sip:816666@192.168.1.2>\r\nMax-Forwards: 70\r\nAllow: INVITE, ACK, CANCEL, BYE, REFER, OPTIONS, NOTIFY, INFO\r\n\r\nv=0\r\no=SIPPS 105015165 105015162 IN IP4 192.168.1.2\r\ns=SIP call\r\nc=IN IP4 192.168.1.2\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0 8 97 2 3\r\na=rtpmap:0 pcmu/8000\r\na=rtpmap:8 pcma/8000\r\na=rtpmap:97 iLBC/8000\r\na=rtpmap:2 G726-32/8000\r\na=rtpmap:3 GSM/8000\r\na=fmtp:97 mode=20\r\na=sendrecv\r\n';

describe('parseSipMessage: RFC 3261 examples', () => {
  it('parses a request with two Via headers', () => {
    const w = new WeirdCounters();
    const m = parse(RFC3261_INVITE, w, 5)!;
    expect(w.total()).toBe(0);
    expect(m.kind).toBe('request');
    expect(m.method).toBe('INVITE');
    expect(m.requestUri).toBe('sip:bob@biloxi.com');
    expect(m.statusCode).toBe(0);
    expect(m.callId).toBe('a84b4c76e66710');
    expect(m.cseq).toEqual({ seq: 314159, method: 'INVITE' });
    expect(m.from?.displayName).toBe('Alice');
    expect(m.from?.uri).toBe('sip:alice@atlanta.com');
    expect(m.from?.tag).toBe('1928301774');
    expect(m.to?.tag).toBeUndefined();
    expect(m.vias.map((v) => [v.transport, v.host, v.port, v.branch, v.received])).toEqual([
      ['UDP', 'bigbox3.site3.atlanta.com', undefined, 'z9hG4bK77ef4c2312983.1', undefined],
      ['UDP', 'pc33.atlanta.com', undefined, 'z9hG4bKnashds8', '192.0.2.1'],
    ]);
    expect(m.contacts[0].uri).toBe('sip:alice@pc33.atlanta.com');
    expect(m.contentType).toBe('application/sdp');
    expect(m.contentLength).toBe(0);
    expect(m.body.len).toBe(0);
    expect(m.bodyParts).toEqual([]);
    expect(m.headers[0]).toEqual(['via', 'SIP/2.0/UDP bigbox3.site3.atlanta.com;branch=z9hG4bK77ef4c2312983.1']);
    expect(m.headers.length).toBe(10);
  });

  it('parses a response with a multi-valued Record-Route', () => {
    const m = parse(RFC3261_200)!;
    expect(m.kind).toBe('response');
    expect(m.statusCode).toBe(200);
    expect(m.reason).toBe('OK');
    expect(m.method).toBe('');
    expect(m.recordRoutes).toEqual(['sip:server10.biloxi.com;lr', 'sip:bigbox3.site3.atlanta.com;lr']);
    expect(m.vias).toHaveLength(3);
    expect(m.vias[2].received).toBe('192.0.2.1');
    expect(m.to?.tag).toBe('a6c85cf');
  });

  it('parses the real corpus INVITE and locates its SDP body without copying', () => {
    const buf = Buffer.from(REAL_INVITE, 'latin1');
    expect(buf.length).toBe(822);
    const m = parseSipMessage(buf, 0, buf.length)!;
    expect(m.body.buf).toBe(buf);
    expect(m.body.len).toBe(272);
    expect(m.body.off + m.body.len).toBe(822);
    expect(m.vias[0]).toMatchObject({ host: '192.168.1.2', port: 5060, rport: 0 });
    expect(m.from?.displayName).toBe('arik');
    const sdps = getSdpBodies(m);
    expect(sdps).toHaveLength(1);
    expect(sdps[0].startsWith('v=0\r\no=SIPPS')).toBe(true);
    expect(sdps[0].endsWith('a=sendrecv\r\n')).toBe(true);
  });
});

describe('parseSipMessage: RFC 4475 torture cases', () => {
  it('wsinv: whitespace, folding, compact and mixed-case names', () => {
    const w = new WeirdCounters();
    const m = parse(WSINV, w)!;
    expect(m).not.toBeNull();
    expect(w.toJSON()).toEqual({});
    expect(m.requestUri).toBe('sip:vivekg@chair-dnrc.example.com;unknownparam');
    expect(m.to?.uri).toBe('sip:vivekg@chair-dnrc.example.com');
    expect(m.to?.tag).toBe('1918181833n');
    expect(m.from?.displayName).toBe('J Rosenberg \\"');
    expect(m.from?.tag).toBe('98asjd8');
    expect(m.cseq).toEqual({ seq: 9, method: 'INVITE' });
    expect(m.contentLength).toBe(150);
    expect(m.body.len).toBe(150);
    expect(m.vias.map((v) => `${v.protocol}/${v.transport} ${v.host} ${v.branch}`)).toEqual([
      'SIP/2.0/UDP 192.0.2.2 390skdjuw',
      'SIP/2.0/TCP spindle.example.com z9hG4bK9ikj8',
      'SIP/2.0/UDP 192.168.255.111 z9hG4bK30239',
    ]);
    expect(m.routes).toEqual(['sip:services.example.com;lr;unknownwith=value;unknown-no-value']);
    expect(m.contacts).toHaveLength(1);
    expect(m.contacts[0].displayName).toBe('Quoted string ""');
    expect({ ...m.contacts[0].params }).toEqual({ newparam: 'newvalue', secondparam: '', q: '0.33' });
    expect(getHeader(m, 'Subject')).toBe('');
    expect(getHeader(m, 'newfangledheader')).toBe('newfangled value continued newfangled value');
    expect(getHeader(m, 'max-forwards')).toBe('0068');
    expect(m.headers.filter((h) => h[0] === 'via')).toHaveLength(2); // "Via" and "v" header lines
    expect(getSdpBodies(m)[0]).toContain('a=rtpmap:31 LPC');
  });

  it('expands every compact form to its long name', () => {
    const pairs: Array<[string, string]> = [
      ['i', 'call-id'], ['f', 'from'], ['t', 'to'], ['v', 'via'], ['m', 'contact'], ['l', 'content-length'],
      ['c', 'content-type'], ['k', 'supported'], ['s', 'subject'], ['e', 'content-encoding'], ['o', 'event'],
      ['r', 'refer-to'], ['b', 'referred-by'], ['u', 'allow-events'], ['x', 'session-expires'], ['a', 'accept-contact'],
      ['j', 'reject-contact'], ['d', 'request-disposition'], ['y', 'identity'], ['n', 'identity-info'],
    ];
    for (const [short, long] of pairs) {
      expect(canonicalHeaderName(short)).toBe(long);
      expect(canonicalHeaderName(short.toUpperCase())).toBe(long);
    }
    expect(canonicalHeaderName('X-Siptrace-Fromip')).toBe('x-siptrace-fromip');
  });

  it('parses an all-compact message with LF-only line ends', () => {
    const text = [
      'NOTIFY sip:a@192.0.2.5:5070 SIP/2.0',
      'v: SIP/2.0/TCP 192.0.2.9:5060;branch=z9hG4bK1;rport=5061;received=198.51.100.2',
      'f: <sip:b@example.com>;tag=x1',
      't: "A" <sip:a@example.com>;tag=y2',
      'i: cid-1',
      'CSeq: 2 NOTIFY',
      'o: refer;id=7',
      'k: 100rel, Timer ,replaces',
      'c: message/sipfrag;version=2.0',
      'l: 16',
      '',
      'SIP/2.0 200 OK\r\n',
    ].join('\n');
    const w = new WeirdCounters();
    const m = parse(text, w)!;
    expect(w.total()).toBe(0);
    expect(m.callId).toBe('cid-1');
    expect(m.vias[0]).toMatchObject({ transport: 'TCP', host: '192.0.2.9', port: 5060, rport: 5061, received: '198.51.100.2' });
    expect(m.to?.displayName).toBe('A');
    expect(m.supported).toEqual(['100rel', 'timer', 'replaces']);
    expect(getHeader(m, 'event')).toBe('refer;id=7');
    expect(m.contentType).toBe('message/sipfrag');
    expect(m.contentTypeParams['version']).toBe('2.0');
    expect(m.body.len).toBe(16);
    expect(m.bodyParts).toEqual([{ contentType: 'message/sipfrag', contentDisposition: '', off: m.body.off, len: 16 }]);
  });

  it('keeps commas inside quotes and <> when splitting Contact, and IPv6 hosts', () => {
    const m = parse(crlf(
      'REGISTER sip:[2001:db8::1] SIP/2.0',
      'Via: SIP/2.0/UDP [2001:db8::9:1]:5070;branch=z9hG4bKas3;rport',
      'Via: SIP/2.0/TLS [2001:db8::7];branch=z9hG4bK2, SIP/2.0/WSS abc.invalid;branch=z9hG4bK3',
      'From: "Doe, John" <sip:john@example.com>;tag=9',
      'To: "Doe, John" <sip:john@example.com>',
      'Call-ID: r1',
      'CSeq: 1 REGISTER',
      'Contact: "Doe, John" <sip:john@[2001:db8::2]:5070;transport=tcp>;expires=60, <sip:a,b@host.example>;q=0.5',
      'Contact: *',
      'Content-Length: 0',
      '', ''))!;
    expect(m.vias.map((v) => [v.transport, v.host, v.port])).toEqual([
      ['UDP', '2001:db8::9:1', 5070], ['TLS', '2001:db8::7', undefined], ['WSS', 'abc.invalid', undefined],
    ]);
    expect(m.vias[0].rport).toBe(0);
    expect(m.from?.displayName).toBe('Doe, John');
    expect(m.contacts.map((c) => c.uri)).toEqual(['sip:john@[2001:db8::2]:5070;transport=tcp', 'sip:a,b@host.example', '*']);
    expect(m.contacts[0].params['expires']).toBe('60');
    expect(m.contacts[1].params['q']).toBe('0.5');
    expect(m.contacts[2].star).toBe(true);
    const u = parseSipUri(m.contacts[0].uri)!;
    expect(u).toMatchObject({ scheme: 'sip', user: 'john', host: '2001:db8::2', port: 5070 });
    expect(u.params['transport']).toBe('tcp');
  });

  it('accepts unknown methods and keeps header order, including P-DCS-LAES and X-Siptrace', () => {
    const m = parse(crlf(
      'FOOBAR sip:x@example.com SIP/2.0',
      'Via: SIP/2.0/UDP h;branch=z9hG4bK1',
      'X-Siptrace-Fromip: udp:192.0.2.1:5060',
      'P-DCS-LAES: 192.0.2.200:1234',
      'x-siptrace-toip: udp:192.0.2.2:5060',
      'Call-ID: c', 'CSeq: 5 FOOBAR', 'From: <sip:a@b>;tag=1', 'To: <sip:x@example.com>',
      '', ''))!;
    expect(m.method).toBe('FOOBAR');
    expect(getHeader(m, 'p-dcs-laes')).toBe('192.0.2.200:1234');
    expect(m.headers.map((h) => h[0]).filter((n) => n.startsWith('x-siptrace-'))).toEqual(['x-siptrace-fromip', 'x-siptrace-toip']);
    expect(getHeaders(m, 'VIA')).toEqual(['SIP/2.0/UDP h;branch=z9hG4bK1']);
    expect(m.contentLength).toBeUndefined();
  });
});

describe('parseSipMessage: body length and bad input', () => {
  const head = crlf('MESSAGE sip:u@example.com SIP/2.0', 'Via: SIP/2.0/UDP h;branch=z9hG4bK1', 'Call-ID: c', 'CSeq: 1 MESSAGE',
    'From: <sip:a@b>;tag=1', 'To: <sip:u@example.com>', 'Content-Type: text/plain');

  it('without Content-Length on UDP the body is the rest of the datagram', () => {
    const m = parse(head + '\r\n\r\nhello world')!;
    expect(m.contentLength).toBeUndefined();
    expect(m.body.len).toBe(11);
    expect(m.body.buf.toString('utf8', m.body.off, m.body.off + m.body.len)).toBe('hello world');
  });

  it('Content-Length shorter than the datagram limits the body', () => {
    const m = parse(head + '\r\nContent-Length: 5\r\n\r\nhello world')!;
    expect(m.body.len).toBe(5);
    expect(m.bodyParts[0]).toMatchObject({ contentType: 'text/plain', len: 5 });
  });

  it('Content-Length larger than the datagram is a weird; the message is kept with the bytes present', () => {
    const w = new WeirdCounters();
    const m = parse(head + '\r\nContent-Length: 50\r\n\r\nhello world', w);
    expect(m).not.toBeNull();
    expect(m!.body.len).toBe('hello world'.length);
    expect(w.get('sip_truncated_body')).toBe(1);
  });

  it('malformed start lines give null and a weird', () => {
    for (const bad of ['INVITE sip:a@b\r\n\r\n', 'HELLO WORLD FOO\r\n\r\n', 'SIP/2.0 2000 OK\r\n\r\n', 'INVITE sip:a@b SIP/3.0\r\n\r\n', 'INVITE  noscheme SIP/2.0\r\n\r\n']) {
      const w = new WeirdCounters();
      expect(parse(bad, w), bad).toBeNull();
      expect(w.get('sip_malformed_start_line'), bad).toBe(1);
    }
  });

  it('skips a malformed header line with a weird but keeps the message', () => {
    const w = new WeirdCounters();
    const m = parse(head + '\r\nthis line has no colon\r\n\r\n', w)!;
    expect(m).not.toBeNull();
    expect(w.get('sip_malformed_header')).toBe(1);
    expect(m.callId).toBe('c');
  });

  it('counts a bad Content-Length and a missing blank line', () => {
    const w = new WeirdCounters();
    const m = parse(head + '\r\nContent-Length: ten\r\n', w)!;
    expect(w.get('sip_bad_content_length')).toBe(1);
    expect(w.get('sip_missing_blank_line')).toBe(1);
    expect(m.body.len).toBe(0);
  });

  it('never throws on garbage or any truncation of a valid message', () => {
    const w = new WeirdCounters();
    const whole = Buffer.from(WSINV, 'utf8');
    for (let n = 1; n <= whole.length; n++) expect(() => parseSipMessage(whole, 0, n, w)).not.toThrow();
    let seed = 12345;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    for (let k = 0; k < 300; k++) {
      const b = Buffer.from(RFC3261_200, 'latin1');
      for (let j = 0; j < 8; j++) b[rnd() % b.length] = rnd();
      expect(() => parseSipMessage(b, 0, b.length, w)).not.toThrow();
    }
    expect(parseSipMessage(whole, 10, 0, w)).toBeNull();
    expect(parseSipMessage(whole, whole.length - 2, 10, w)).toBeNull();
  });
});

describe('multipart bodies (RFC 2046, SIPREC RFC 7866)', () => {
  const sdp = crlf('v=0', 'o=SRS 2890844526 2890844526 IN IP4 198.51.100.1', 's=-', 'c=IN IP4 198.51.100.1', 't=0 0',
    'm=audio 12240 RTP/AVP 0 4 8', 'a=sendonly', 'a=label:1', 'm=audio 12242 RTP/AVP 0 4 8', 'a=sendonly', 'a=label:2');
  const xml = crlf('<?xml version="1.0" encoding="UTF-8"?>', "<recording xmlns='urn:ietf:params:xml:ns:recording:1'>",
    '<datamode>complete</datamode>', '</recording>');
  const body = crlf('--foobar', 'Content-Type: application/SDP', '', sdp, '--foobar', 'Content-Type: application/rs-metadata+xml',
    'Content-Disposition: recording-session', '', xml, '--foobar--', '');
  const siprec = (ct: string): string => crlf(
    'INVITE sip:recorder@example.com SIP/2.0',
    'Via: SIP/2.0/TCP src.example.com;branch=z9hG4bKdf6b622b648d9',
    'From: <sip:2000@example.com>;tag=35e195d2-947d-4585-946f-09839247',
    'To: <sip:recorder@example.com>',
    'Call-ID: d253c800-b0d1ea39-4a7dd-3f0e20a',
    'Session-ID: ab30317f1a784dc48ff824d0d3715d86',
    ' ;remote=00000000000000000000000000000000',
    'CSeq: 101 INVITE',
    'Max-Forwards: 70',
    'Require: siprec',
    'Accept: application/sdp, application/rs-metadata,',
    ' application/rs-metadata-request',
    'Contact: <sip:2000@src.example.com>;+sip.src',
    `Content-Type: ${ct}`,
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body);

  it('splits the SIPREC INVITE into SDP and metadata parts', () => {
    const w = new WeirdCounters();
    const m = parse(siprec('multipart/mixed;boundary=foobar'), w, 3)!;
    expect(w.total()).toBe(0);
    expect(m.require).toEqual(['siprec']);
    expect('+sip.src' in m.contacts[0].params).toBe(true);
    expect(getHeader(m, 'session-id')).toBe('ab30317f1a784dc48ff824d0d3715d86 ;remote=00000000000000000000000000000000');
    expect(m.contentType).toBe('multipart/mixed');
    expect(m.bodyParts.map((p) => [p.contentType, p.contentDisposition])).toEqual([
      ['application/sdp', ''], ['application/rs-metadata+xml', 'recording-session'],
    ]);
    const text = (i: number) => m.body.buf.toString('utf8', m.bodyParts[i].off, m.bodyParts[i].off + m.bodyParts[i].len);
    expect(text(0)).toBe(sdp);
    expect(text(1)).toBe(xml);
    expect(getSdpBodies(m)).toEqual([sdp]);
  });

  it('accepts a quoted boundary and flattens nested multipart/alternative', () => {
    expect(parse(siprec('multipart/mixed; boundary="foobar"'))!.bodyParts).toHaveLength(2);
    const inner = crlf('--in', 'Content-Type: application/sdp', '', 'v=0', 'm=audio 1 RTP/AVP 0', '--in', 'Content-Type: text/plain', '', 'hi', '--in--');
    const outer = crlf('--out', 'Content-Type: multipart/alternative; boundary=in', '', inner, '--out', 'Content-Type: application/isup', 'Content-Disposition: signal;handling=optional', '', 'xx', '--out--', '');
    const m = parse(crlf('INFO sip:a@b SIP/2.0', 'Call-ID: n', 'Content-Type: multipart/mixed;boundary=out', `Content-Length: ${outer.length}`, '', outer))!;
    expect(m.bodyParts.map((p) => p.contentType)).toEqual(['application/sdp', 'text/plain', 'application/isup']);
    expect(m.bodyParts[2].contentDisposition).toBe('signal');
    expect(getSdpBodies(m)).toEqual(['v=0\r\nm=audio 1 RTP/AVP 0']);
  });

  it('counts a multipart body without its delimiter', () => {
    const w = new WeirdCounters();
    const m = parse(crlf('INFO sip:a@b SIP/2.0', 'Call-ID: n', 'Content-Type: multipart/mixed;boundary=zz', '', 'no parts here'), w)!;
    expect(w.get('sip_malformed_multipart')).toBe(1);
    expect(m.bodyParts).toEqual([]);
  });

  it('treats an untyped body that starts with v= as SDP', () => {
    const m = parse(crlf('SIP/2.0 200 OK', 'Call-ID: q', '', 'v=0', 's=-'))!;
    expect(getSdpBodies(m)).toEqual(['v=0\r\ns=-']);
  });
});

describe('parseSipUri', () => {
  it('parses sip, sips, tel and IPv6 references', () => {
    expect(parseSipUri('sip:alice@atlanta.com;transport=TCP;lr')).toMatchObject({ scheme: 'sip', user: 'alice', host: 'atlanta.com', port: undefined });
    expect(parseSipUri('sip:alice@atlanta.com;transport=TCP;lr')!.params).toEqual(Object.assign(Object.create(null), { transport: 'TCP', lr: '' }));
    expect(parseSipUri('SIPS:[2001:DB8::1]:5061')).toMatchObject({ scheme: 'sips', user: '', host: '2001:db8::1', port: 5061 });
    expect(parseSipUri('tel:+1-201-555-0123;phone-context=example.com')).toMatchObject({ scheme: 'tel', user: '+1-201-555-0123', host: '' });
    const withPw = parseSipUri('sip:bob:secret@biloxi.com:5070?subject=project%20x&priority=urgent')!;
    expect(withPw).toMatchObject({ user: 'bob', host: 'biloxi.com', port: 5070 });
    expect(JSON.stringify(withPw)).not.toContain('secret');
    expect(withPw.headers['priority']).toBe('urgent');
    expect(parseSipUri('sip:+12125551212;phone-context=x@gw.example.com;user=phone')).toMatchObject({ user: '+12125551212;phone-context=x', host: 'gw.example.com' });
    expect(parseSipUri('sip:1001@10.0.0.1;x-nearend;x-refci=123')!.params['x-refci']).toBe('123');
  });

  it('returns null for malformed URIs', () => {
    for (const bad of ['', 'nocolon', ':x', 'sip:[2001:db8::1', 'sip:host:99999', 'sip:host:abc']) expect(parseSipUri(bad), bad).toBeNull();
  });

  it('keeps "__proto__" as a plain parameter name', () => {
    const u = parseSipUri('sip:h;__proto__=x')!;
    expect(u.params['__proto__']).toBe('x');
    expect(({} as Record<string, unknown>)['x']).toBeUndefined();
  });
});
