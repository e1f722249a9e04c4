/**
 * Positive synthetic scenarios: covert copies, relays and declarations that
 * the real software of tests/scenarios/*.sh cannot produce on these machines
 * (no gretap/erspan/geneve in the kernel, no LI gateway), each labelled with
 * the finding tapwatch must report. Wrappers follow PROTOCOLS.md ("Where a
 * copied packet hides"); lib/encap.ts cites the dissector of each.
 *
 * Every copy starts 1 s into the media (copyStartTs in the label), so the
 * evaluation measures detection delay from the copy's first packet.
 */
import { Capture, Host, forwarded, ipPacketOf, ipv4Frame, mac, udpFrame } from './lib/capture.js';
import { inDialog, party, sendSip, simpleCall, type Party, type SentPacket } from './lib/call.js';
import { erspan2, erspan3, geneve, greIp, hep3, jmirror, pcli, tzsp } from './lib/encap.js';
import { allBut, baseTs, hex, type Built, type SyntheticScenario } from './lib/scenario.js';
import { audio, multipart, nameAddr, requestText, responseText, sdp, uri, via, type SipRequest } from './lib/sip-text.js';
import { sendStream } from './lib/rtp.js';

/** The router on the path that makes the copies (its own address is the outer source of tunnelled copies). */
const ROUTER_IP = '10.20.0.1';
const ROUTER_MAC = mac('02:00:00:00:00:01');
const COPY_AFTER_SEC = 1.0;

interface CopyContext {
  cap: Capture;
  router: Host;
  /** Capture time of the first copy (relative), set by the copier. */
  first: number | null;
}

type Copier = (ctx: CopyContext, p: SentPacket) => void;

interface CopyScenarioSpec {
  n: number;
  callId: string;
  copier: Copier;
  description: string;
  covers: string;
  copyTo: string;
  mode: 'exact' | 'encapsulated';
  copyRole: string;
  encapsulation: string;
}

/** The media start of simpleCall with t0 0.1 and the default ring time (0.4 s): INVITE + ring + 20 ms. */
const MEDIA_START = 0.1 + 0.4 + 0.02;

function copyCall(spec: CopyScenarioSpec): Built {
  const cap = new Capture(baseTs(spec.n));
  const A = new Host('10.20.1.10');
  const B = new Host('10.20.2.20');
  const ctx: CopyContext = { cap, router: new Host(ROUTER_IP, { mac: ROUTER_MAC }), first: null };
  const a = party(A, 'alice', 16000, 0x10000001 + spec.n, 'acopy');
  const b = party(B, 'bob', 26000, 0x20000001 + spec.n, 'bcopy');
  const copyFrom = MEDIA_START + COPY_AFTER_SEC;
  const call = simpleCall(cap, {
    callId: spec.callId,
    caller: a,
    callee: b,
    t0: 0.1,
    mediaSec: 4,
    callerStream: {
      onPacket: (p) => {
        if (p.t >= copyFrom) spec.copier(ctx, p);
      },
    },
  });
  if (Math.abs(call.mediaStart - MEDIA_START) > 1e-9) throw new Error('copyCall: media start moved');
  if (ctx.first === null) throw new Error('copyCall: no copy made');
  return {
    cap,
    label: {
      description: spec.description,
      covers: spec.covers,
      calls: 1,
      streams: [
        { src: '10.20.1.10:16000', dst: '10.20.2.20:26000', ssrc: hex(a.ssrc), role: 'A->B' },
        { src: '10.20.2.20:26000', dst: '10.20.1.10:16000', ssrc: hex(b.ssrc), role: 'B->A' },
        { src: spec.copyRole.startsWith('exact') ? '10.20.1.10:16000' : ROUTER_IP, dst: spec.copyTo, ssrc: hex(a.ssrc), role: spec.copyRole },
      ],
      mustFind: [
        {
          type: 'duplicate_stream',
          mode: spec.mode,
          copyTo: spec.copyTo,
          encapsulation: spec.encapsulation,
          copiedStream: '10.20.1.10:16000->10.20.2.20:26000',
          copyStartTs: cap.abs(ctx.first),
        },
      ],
      mustNotFind: allBut('duplicate_stream'),
    },
  };
}

function note(ctx: CopyContext, t: number): void {
  if (ctx.first === null || t < ctx.first) ctx.first = t;
}

// ---------------------------------------------------------------- copies

const dnatCopy: Copier = (ctx, p) => {
  // iptables TEE + DNAT on the router: the same IP packet, destination rewritten to the collector, forwarded one hop.
  const t = p.t + 0.00004;
  ctx.cap.add(t, forwarded(p.frame, ROUTER_MAC, mac('02:00:0a:63:00:07'), { dstIp: '10.99.0.7', dstPort: 40000 }));
  note(ctx, t);
};

function greCopier(wrap: (p: SentPacket, seq: number) => Buffer): Copier {
  let seq = 0;
  return (ctx, p) => {
    const t = p.t + 0.00005;
    ctx.cap.add(t, ipv4Frame(ctx.router, '10.99.0.8', 47, wrap(p, seq++)));
    note(ctx, t);
  };
}

function udpCopier(dst: string, sport: number, dport: number, wrap: (p: SentPacket, seq: number) => Buffer): Copier {
  let seq = 0;
  return (ctx, p) => {
    const t = p.t + 0.00005;
    ctx.cap.add(t, udpFrame(ctx.router, sport, dst, dport, wrap(p, seq++)));
    note(ctx, t);
  };
}

const COPIES: Array<Omit<CopyScenarioSpec, 'n'> & { name: string }> = [
  {
    name: 'copy_dnat_exact',
    callId: 'copy-dnat@10.20.1.10',
    copier: dnatCopy,
    description:
      'Plain G.711 call A -> B; from 1 s into the media the router also sends every A -> B RTP packet to 10.99.0.7:40000 (iptables TEE + DNAT): the same IP packet (source 10.20.1.10:16000, same IP ID and RTP bytes) with the destination rewritten, TTL 63. 10.99.0.7 appears in no SIP or SDP.',
    covers: 'exact copy via DNAT',
    copyTo: '10.99.0.7:40000',
    mode: 'exact',
    copyRole: 'exact copy of A->B, destination rewritten to 10.99.0.7:40000',
    encapsulation: 'none',
  },
  {
    name: 'copy_gre',
    callId: 'copy-gre@10.20.1.10',
    copier: greCopier((p) => greIp(ipPacketOf(p.frame))),
    description:
      'Plain G.711 call A -> B; from 1 s into the media the router 10.20.0.1 tunnels a copy of every A -> B RTP packet to 10.99.0.8 in plain GRE (RFC 2784, protocol 0x0800): the inner IP packet is byte-identical to the original.',
    covers: 'GRE copy',
    copyTo: '10.99.0.8',
    mode: 'encapsulated',
    copyRole: 'GRE (IP) copy of A->B to 10.99.0.8',
    encapsulation: 'gre',
  },
  {
    name: 'copy_erspan2',
    callId: 'copy-erspan2@10.20.1.10',
    copier: greCopier((p, seq) => erspan2(p.frame, 101, seq)),
    description:
      'Plain G.711 call A -> B; from 1 s into the media the router 10.20.0.1 mirrors every A -> B frame to 10.99.0.8 as ERSPAN type II (GRE 0x88BE with sequence numbers, session 101): the original Ethernet frame follows the 8-byte ERSPAN header.',
    covers: 'ERSPAN II copy',
    copyTo: '10.99.0.8',
    mode: 'encapsulated',
    copyRole: 'ERSPAN II copy of A->B to 10.99.0.8',
    encapsulation: 'erspan2',
  },
  {
    name: 'copy_erspan3',
    callId: 'copy-erspan3@10.20.1.10',
    copier: greCopier((p, seq) => erspan3(p.frame, 202, seq, Math.round(p.t * 1e6))),
    description:
      'Plain G.711 call A -> B; from 1 s into the media the router 10.20.0.1 mirrors every A -> B frame to 10.99.0.8 as ERSPAN type III (GRE 0x22EB, session 202, 12-byte header with timestamp, no optional subheader): the original Ethernet frame follows.',
    covers: 'ERSPAN III copy',
    copyTo: '10.99.0.8',
    mode: 'encapsulated',
    copyRole: 'ERSPAN III copy of A->B to 10.99.0.8',
    encapsulation: 'erspan3',
  },
  {
    name: 'copy_geneve',
    callId: 'copy-geneve@10.20.1.10',
    copier: udpCopier('10.99.0.11', 49321, 6081, (p) => geneve(p.frame, 4242)),
    description:
      'Plain G.711 call A -> B; from 1 s into the media the router 10.20.0.1 sends a Geneve copy (RFC 8926, UDP 6081, VNI 4242, protocol 0x6558) of every A -> B frame to 10.99.0.11:6081.',
    covers: 'Geneve copy',
    copyTo: '10.99.0.11:6081',
    mode: 'encapsulated',
    copyRole: 'Geneve copy of A->B to 10.99.0.11:6081',
    encapsulation: 'geneve',
  },
  {
    name: 'copy_tzsp',
    callId: 'copy-tzsp@10.20.1.10',
    copier: udpCopier('10.99.0.12', 37008, 37008, (p) => tzsp(p.frame)),
    description:
      'Plain G.711 call A -> B; from 1 s into the media the router 10.20.0.1 streams every A -> B frame to 10.99.0.12:37008 as TZSP (version 1, received packet, encapsulation Ethernet), as a MikroTik packet sniffer does.',
    covers: 'TZSP copy',
    copyTo: '10.99.0.12:37008',
    mode: 'encapsulated',
    copyRole: 'TZSP copy of A->B to 10.99.0.12:37008',
    encapsulation: 'tzsp',
  },
  {
    name: 'copy_pcli_ccc',
    callId: 'copy-ccc@10.20.1.10',
    copier: udpCopier('10.99.0.9', 50123, 9999, (p) => pcli(ipPacketOf(p.frame), 0x00c0ffee)),
    description:
      'Plain G.711 call A -> B; from 1 s into the media the router 10.20.0.1 delivers every A -> B IP packet to 10.99.0.9:9999 in PacketCable / Cisco LI (RFC 3924) form: a 4-byte CCC ID (0x00c0ffee) followed by the intercepted IP packet, over UDP to a provisioned port.',
    covers: 'PacketCable CCC copy',
    copyTo: '10.99.0.9:9999',
    mode: 'encapsulated',
    copyRole: 'PacketCable CCC copy of A->B to 10.99.0.9:9999',
    encapsulation: 'packetcable',
  },
  {
    name: 'copy_jmirror',
    callId: 'copy-jmirror@10.20.1.10',
    copier: udpCopier('10.99.0.13', 30030, 30030, (p) => jmirror(ipPacketOf(p.frame), 0x0000beef, 7)),
    description:
      'Plain G.711 call A -> B; from 1 s into the media the router 10.20.0.1 sends every A -> B IP packet to 10.99.0.13:30030 as Juniper jmirror: 4-byte intercept ID, 4-byte session ID, then the IP packet.',
    covers: 'jmirror copy',
    copyTo: '10.99.0.13:30030',
    mode: 'encapsulated',
    copyRole: 'jmirror copy of A->B to 10.99.0.13:30030',
    encapsulation: 'jmirror',
  },
];

// ---------------------------------------------------------------- HEP3 copy of SIP

/** A capture that also sends a HEP3 copy of every SIP datagram (UDP port 5060) to 10.99.0.10:9060, as a host agent does. */
class HepCapture extends Capture {
  first: number | null = null;
  private readonly agent = new Host('10.20.1.10');

  override add(t: number, frame: Buffer): void {
    super.add(t, frame);
    const sport = frame.readUInt16BE(34);
    const dport = frame.readUInt16BE(36);
    if (sport !== 5060 && dport !== 5060) return;
    const ip = (o: number) => `${frame[o]}.${frame[o + 1]}.${frame[o + 2]}.${frame[o + 3]}`;
    const abs = this.abs(t);
    const payload = frame.subarray(42);
    const hep = hep3({ srcIp: ip(26), dstIp: ip(30), sport, dport, tsSec: Math.floor(abs), tsUsec: Math.round((abs % 1) * 1e6), payload, agentId: 2001 });
    const ht = t + 0.00015;
    // Sent from A's host (a capture agent such as heplify), so A's IP ID counter advances too.
    super.add(ht, udpFrame(this.agent, 47123, '10.99.0.10', 9060, hep));
    if (this.first === null) this.first = ht;
  }
}

function sigcopyHep3(): Built {
  const cap = new HepCapture(baseTs(30));
  const A = new Host('10.20.1.10');
  const B = new Host('10.20.2.20');
  const a = party(A, 'alice', 16000, 0x30000001, 'ahep');
  const b = party(B, 'bob', 26000, 0x30000002, 'bhep');
  simpleCall(cap, { callId: 'hep3-1@10.20.1.10', caller: a, callee: b, t0: 0.1, mediaSec: 4 });
  return {
    cap,
    label: {
      description:
        'Plain G.711 call A -> B; a capture agent on A sends a HEP3 copy (proto type 1 = SIP, capture id 2001) of every SIP message of the call, both directions, to 10.99.0.10:9060, a host that appears in no SIP or SDP.',
      covers: 'HEP3 copy of SIP',
      calls: 1,
      streams: [
        { src: '10.20.1.10:16000', dst: '10.20.2.20:26000', ssrc: hex(a.ssrc), role: 'A->B' },
        { src: '10.20.2.20:26000', dst: '10.20.1.10:16000', ssrc: hex(b.ssrc), role: 'B->A' },
      ],
      mustFind: [{ type: 'signaling_copy', encapsulation: 'hep3', copyTo: '10.99.0.10:9060', copyStartTs: cap.abs(cap.first!) }],
      mustNotFind: allBut('signaling_copy'),
    },
  };
}

// ---------------------------------------------------------------- SIPREC

function siprecDeclared(): Built {
  const cap = new Capture(baseTs(31));
  const A = new Host('10.20.1.10');
  const B = new Host('10.20.2.20');
  const SRS = '10.99.0.20';
  const a = party(A, 'alice', 16000, 0x31000001, 'arec');
  const b = party(B, 'bob', 26000, 0x31000002, 'brec');
  const fwd: Array<{ t: number; rtp: Buffer; label: 1 | 2 }> = [];
  const call = simpleCall(cap, {
    callId: 'siprec-call@10.20.1.10',
    caller: a,
    callee: b,
    t0: 0.1,
    mediaSec: 4,
    callerStream: { onPacket: (p) => fwd.push({ t: p.t, rtp: p.rtp, label: 1 }) },
    calleeStream: { onPacket: (p) => fwd.push({ t: p.t, rtp: p.rtp, label: 2 }) },
  });
  // A is the SRC (RFC 7866): it opens a recording session to the SRS right after the call is answered.
  const src = { user: 'src', ip: A.ip, port: 5070, tag: 'srcrs1' };
  const rsSdp = sdp({
    user: 'src',
    sessId: 3100,
    origin: A.ip,
    conn: A.ip,
    media: [audio(16100, [0], ['label:1'], 'sendonly'), audio(16102, [0], ['label:2'], 'sendonly')],
  });
  const metadata = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<recording xmlns="urn:ietf:params:xml:ns:recording:1">',
    '  <datamode>complete</datamode>',
    '  <session session_id="UAAMnSHtR5CUeBwSzE8hsQ=="><sipSessionID>siprec-call@10.20.1.10</sipSessionID></session>',
    '  <participant participant_id="srfBElmCRp2QB23b7Mpk0w=="><nameID aor="sip:alice@10.20.1.10"/></participant>',
    '  <participant participant_id="zSfPoSvdSDCmU3A3TRDxAw=="><nameID aor="sip:bob@10.20.2.20"/></participant>',
    '  <stream stream_id="i1Pz3to5hGk8fuXl+PbwCw==" session_id="UAAMnSHtR5CUeBwSzE8hsQ=="><label>1</label></stream>',
    '  <stream stream_id="8zc6e0lYTlWIINA6GR+3ag==" session_id="UAAMnSHtR5CUeBwSzE8hsQ=="><label>2</label></stream>',
    '</recording>',
    '',
  ].join('\r\n');
  const body = multipart('tw-siprec-boundary', [
    { contentType: 'application/sdp', body: rsSdp },
    { contentType: 'application/rs-metadata+xml', disposition: 'recording-session', body: metadata },
  ]);
  const inv: SipRequest = {
    method: 'INVITE',
    ruri: `sip:srs@${SRS}:5060`,
    vias: [via(A.ip, 5070, 'recI1')],
    maxForwards: 70,
    from: nameAddr(src),
    to: `<sip:srs@${SRS}:5060>`,
    callId: 'siprec-rs@10.20.1.10',
    cseq: 1,
    contact: `<sip:src@${A.ip}:5070>;+sip.src`,
    extra: ['Require: siprec', 'Accept: application/sdp, application/rs-metadata+xml'],
    body: body.body,
    contentType: body.contentType,
  };
  const SRSH = new Host(SRS);
  const srsUa = { user: 'srs', ip: SRS, port: 5060, tag: 'srs77' };
  const tRs = call.answerTime + 0.05;
  const srsAnswer = sdp({ user: 'srs', sessId: 9900, origin: SRS, conn: SRS, media: [audio(30000, [0], ['label:1'], 'recvonly'), audio(30002, [0], ['label:2'], 'recvonly')] });
  sendSip(cap, tRs, A, SRSH, requestText(inv), 5070, 5060);
  sendSip(cap, tRs + 0.003, SRSH, A, responseText(inv, 100, 'Trying'), 5060, 5070);
  sendSip(cap, tRs + 0.05, SRSH, A, responseText(inv, 200, 'OK', { toTag: srsUa.tag, contact: `<sip:srs@${SRS}:5060>;+sip.srs`, body: srsAnswer }), 5060, 5070);
  const srcParty: Party = { host: A, ua: src, rtpPort: 16100, ssrc: 0, seq0: 0, ts0: 0 };
  const srsParty: Party = { host: SRSH, ua: srsUa, rtpPort: 30000, ssrc: 0, seq0: 0, ts0: 0 };
  sendSip(cap, tRs + 0.053, A, SRSH, requestText({ ...inDialog('ACK', 'siprec-rs@10.20.1.10', srcParty, srsParty, 1, 'recA1'), vias: [via(A.ip, 5070, 'recA1')] }), 5070, 5060);
  // The SRC forks both directions of the call to the SRS: the same RTP (SSRC, seq, payload) from its own ports.
  const tMedia = tRs + 0.06;
  let first1: number | null = null;
  let first2: number | null = null;
  for (const f of fwd) {
    if (f.t < tMedia) continue;
    const t = f.t + 0.0002;
    if (f.label === 1) {
      cap.add(t, udpFrame(A, 16100, SRS, 30000, f.rtp));
      first1 ??= t;
    } else {
      cap.add(t + 0.0003, udpFrame(A, 16102, SRS, 30002, f.rtp));
      first2 ??= t + 0.0003;
    }
  }
  const tBye = call.byeTime! + 0.01;
  const bye = { ...inDialog('BYE', 'siprec-rs@10.20.1.10', srcParty, srsParty, 2, 'recB1'), vias: [via(A.ip, 5070, 'recB1')] };
  sendSip(cap, tBye, A, SRSH, requestText(bye), 5070, 5060);
  sendSip(cap, tBye + 0.003, SRSH, A, responseText(bye, 200, 'OK'), 5060, 5070);
  return {
    cap,
    label: {
      description:
        'Call A -> B plus a SIPREC recording session (RFC 7866) from A as SRC (SIP port 5070) to the SRS 10.99.0.20:5060: INVITE with Require: siprec, Contact ;+sip.src, multipart/mixed body (SDP with two sendonly streams a=label:1 and a=label:2, plus application/rs-metadata+xml with Content-Disposition: recording-session). A then forks A->B (label 1, to 10.99.0.20:30000) and B->A (label 2, to :30002), same RTP bytes, from its ports 16100/16102.',
      covers: 'SIPREC declared recording',
      calls: 2,
      streams: [
        { src: '10.20.1.10:16000', dst: '10.20.2.20:26000', ssrc: hex(a.ssrc), role: 'A->B' },
        { src: '10.20.2.20:26000', dst: '10.20.1.10:16000', ssrc: hex(b.ssrc), role: 'B->A' },
        { src: '10.20.1.10:16100', dst: '10.99.0.20:30000', ssrc: hex(a.ssrc), role: 'SIPREC label 1: copy of A->B' },
        { src: '10.20.1.10:16102', dst: '10.99.0.20:30002', ssrc: hex(b.ssrc), role: 'SIPREC label 2: copy of B->A' },
      ],
      mustFind: [
        { type: 'declared_recording', kind: 'siprec', recorder: '10.99.0.20:5060', reason: 'INVITE with Require: siprec, +sip.src, rs-metadata recording-session' },
        { type: 'duplicate_stream', copyTo: '10.99.0.20:30000', declared: true, notCritical: true, copyStartTs: cap.abs(first1!), reason: 'label 1 stream to the SIPREC recorder, announced by the recording session SDP' },
        { type: 'duplicate_stream', copyTo: '10.99.0.20:30002', declared: true, notCritical: true, copyStartTs: cap.abs(first2!), reason: 'label 2 stream to the SIPREC recorder, announced by the recording session SDP' },
      ],
      mustNotFind: ['unexpected_relay', 'key_exposure', 'signaling_copy'],
      notes:
        'Same expectation as tests/scenarios/captures/siprec_declared.json: the recording is declared, so the copies to the SRS are reported as declared duplicate_stream findings (never critical); an undeclared or critical copy finding towards 10.99.0.20 counts as a false positive.',
    },
  };
}

// ---------------------------------------------------------------- P-DCS-LAES

function pdcsLaes(): Built {
  const cap = new Capture(baseTs(32));
  const A = new Host('10.20.1.10');
  const B = new Host('10.20.2.20');
  const P = new Host('10.20.0.5');
  const a = party(A, 'alice', 16000, 0x32000001, 'alaes');
  const b = party(B, 'bob', 26000, 0x32000002, 'blaes');
  const callId = 'laes-1@10.20.1.10';
  const offer = sdp({ user: 'alice', sessId: 3201, origin: A.ip, conn: A.ip, media: [audio(16000, [0, 101])] });
  const answer = sdp({ user: 'bob', sessId: 3202, origin: B.ip, conn: B.ip, media: [audio(26000, [0, 101])] });
  const inv: SipRequest = {
    method: 'INVITE', ruri: 'sip:bob@10.20.0.5:5060', vias: [via(A.ip, 5060, 'laesA1')], maxForwards: 70, from: nameAddr(a.ua), to: '"bob" <sip:bob@10.20.0.5:5060>',
    callId, cseq: 1, contact: `<${uri(a.ua)}>`, extra: [], body: offer,
  };
  // The CMS/proxy adds P-DCS-LAES (RFC 5503 §7) towards the terminating side: the delivery function for signalling and content.
  const inv2: SipRequest = { ...inv, vias: [via(P.ip, 5060, 'laesP1'), ...inv.vias], maxForwards: 69, ruri: uri(b.ua), extra: ['Record-Route: <sip:10.20.0.5:5060;lr>', 'P-DCS-LAES: 10.99.0.30:1813;content=10.99.0.31:5000'] };
  const up = inv.vias;
  const rr = ['Record-Route: <sip:10.20.0.5:5060;lr>'];
  sendSip(cap, 0.1, A, P, requestText(inv));
  sendSip(cap, 0.101, P, A, responseText(inv, 100, 'Trying'));
  sendSip(cap, 0.103, P, B, requestText(inv2));
  sendSip(cap, 0.15, B, P, responseText(inv2, 180, 'Ringing', { toTag: b.ua.tag, contact: `<${uri(b.ua)}>`, extra: rr }));
  sendSip(cap, 0.152, P, A, responseText(inv, 180, 'Ringing', { toTag: b.ua.tag, contact: `<${uri(b.ua)}>`, extra: rr, vias: up }));
  sendSip(cap, 0.5, B, P, responseText(inv2, 200, 'OK', { toTag: b.ua.tag, contact: `<${uri(b.ua)}>`, extra: rr, body: answer }));
  sendSip(cap, 0.502, P, A, responseText(inv, 200, 'OK', { toTag: b.ua.tag, contact: `<${uri(b.ua)}>`, extra: rr, body: answer, vias: up }));
  const route = 'Route: <sip:10.20.0.5:5060;lr>';
  const ack = inDialog('ACK', callId, a, b, 1, 'laesA2', [route]);
  sendSip(cap, 0.505, A, P, requestText(ack));
  sendSip(cap, 0.507, P, B, requestText({ ...ack, vias: [via(P.ip, 5060, 'laesP2'), ...ack.vias], extra: [] }));
  sendStream(cap, { src: A, sport: 16000, dst: B, dport: 26000, ssrc: a.ssrc, pt: 0, start: 0.526, packets: 200, seq0: a.seq0, ts0: a.ts0 });
  sendStream(cap, { src: B, sport: 26000, dst: A, dport: 16000, ssrc: b.ssrc, pt: 0, start: 0.52, packets: 200, seq0: b.seq0, ts0: b.ts0 });
  const bye = inDialog('BYE', callId, a, b, 2, 'laesA3', [route]);
  const byeP = { ...bye, vias: [via(P.ip, 5060, 'laesP3'), ...bye.vias], extra: [] };
  sendSip(cap, 4.6, A, P, requestText(bye));
  sendSip(cap, 4.602, P, B, requestText(byeP));
  sendSip(cap, 4.605, B, P, responseText(byeP, 200, 'OK'));
  sendSip(cap, 4.607, P, A, responseText(bye, 200, 'OK'));
  return {
    cap,
    label: {
      description:
        'Call A -> B through the proxy/CMS 10.20.0.5, which adds P-DCS-LAES: 10.99.0.30:1813;content=10.99.0.31:5000 (RFC 5503 lawful-intercept signalling) to the INVITE towards B. No media copy is in the capture.',
      covers: 'P-DCS-LAES header',
      calls: 1,
      streams: [
        { src: '10.20.1.10:16000', dst: '10.20.2.20:26000', ssrc: hex(a.ssrc), role: 'A->B' },
        { src: '10.20.2.20:26000', dst: '10.20.1.10:16000', ssrc: hex(b.ssrc), role: 'B->A' },
      ],
      mustFind: [{ type: 'declared_recording', kind: 'p-dcs-laes', reason: 'P-DCS-LAES header on the INVITE (RFC 5503)' }],
      mustNotFind: allBut('declared_recording'),
    },
  };
}

// ---------------------------------------------------------------- SDES key in clear

function keyExposure(): Built {
  const cap = new Capture(baseTs(33));
  const A = new Host('10.20.1.10');
  const B = new Host('10.20.2.20');
  const a = party(A, 'alice', 16000, 0x33000001, 'akey');
  const b = party(B, 'bob', 26000, 0x33000002, 'bkey');
  // Synthetic test keys (30 bytes of master key || salt, base64), not used anywhere else.
  const keyA = 'dGFwd2F0Y2gtc3ludGhldGljLWtleS1BLTAxMjM0';
  const keyB = 'c3ludGhldGljLXRhcHdhdGNoLWtleS1CLTk4NzY1';
  const m = (p: Party, key: string) => [audio(p.rtpPort, [0, 101], [`crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${key}|2^31`], 'sendrecv', 'RTP/SAVP')];
  // SRTP: the RTP header is clear, the payload is ciphertext followed by the 10-byte auth tag (RFC 3711 §3.1).
  simpleCall(cap, {
    callId: 'sdes-1@10.20.1.10',
    caller: a,
    callee: b,
    t0: 0.1,
    mediaSec: 4,
    offerMedia: m(a, keyA),
    answerMedia: m(b, keyB),
    callerStream: { payloadLen: 170 },
    calleeStream: { payloadLen: 170 },
  });
  return {
    cap,
    label: {
      description:
        'Call A -> B with RTP/SAVP and SDES (RFC 4568): a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:<key> in both the cleartext UDP INVITE and 200 OK. Media is SRTP-shaped (clear RTP header, 160 bytes of ciphertext + 10-byte tag).',
      covers: 'SDES key in cleartext',
      calls: 1,
      streams: [
        { src: '10.20.1.10:16000', dst: '10.20.2.20:26000', ssrc: hex(a.ssrc), role: 'A->B SRTP' },
        { src: '10.20.2.20:26000', dst: '10.20.1.10:16000', ssrc: hex(b.ssrc), role: 'B->A SRTP' },
      ],
      mustFind: [
        { type: 'key_exposure', suite: 'AES_CM_128_HMAC_SHA1_80', method: 'sdes', reason: 'inline key in the cleartext INVITE from 10.20.1.10' },
        { type: 'key_exposure', suite: 'AES_CM_128_HMAC_SHA1_80', method: 'sdes', reason: 'inline key in the cleartext 200 OK from 10.20.2.20' },
      ],
      mustNotFind: allBut('key_exposure'),
      secretMarkers: [keyA, keyB],
    },
  };
}

// ---------------------------------------------------------------- relays

function relayPathChange(): Built {
  const cap = new Capture(baseTs(34));
  const A = new Host('10.20.1.10');
  const B = new Host('10.20.2.20');
  const R = new Host('10.99.0.40', { ttl: 64 });
  const a = party(A, 'alice', 16000, 0x34000001, 'apath');
  const b = party(B, 'bob', 26000, 0x34000002, 'bpath');
  const switchAt = MEDIA_START + 2.0;
  let first: number | null = null;
  simpleCall(cap, {
    callId: 'path-1@10.20.1.10',
    caller: a,
    callee: b,
    t0: 0.1,
    mediaSec: 4,
    // The tap sits in front of B: after the switch, A's packets reach B only through the relay.
    callerStream: {
      lost: (i) => MEDIA_START + 0.006 + i * 0.02 >= switchAt,
    },
  });
  // The relay's leg: the same RTP stream (SSRC, continuing seq/timestamp) from 10.99.0.40:30000, TTL 62 after two hops.
  sendStream(cap, {
    src: R, sport: 30000, dst: B, dport: 26000, ssrc: a.ssrc, pt: 0,
    start: MEDIA_START + 0.006 + Math.ceil((switchAt - MEDIA_START - 0.006) / 0.02) * 0.02 + 0.0031,
    packets: 200 - Math.ceil((switchAt - MEDIA_START - 0.006) / 0.02),
    seq0: (a.seq0 + Math.ceil((switchAt - MEDIA_START - 0.006) / 0.02)) & 0xffff,
    ts0: (a.ts0 + Math.ceil((switchAt - MEDIA_START - 0.006) / 0.02) * 160) >>> 0,
    speaker: a.ssrc,
    frame: { ttl: 62 },
    onPacket: (p) => {
      first ??= p.t;
    },
  });
  return {
    cap,
    label: {
      description:
        'Call A -> B, tap in front of B. 2 s into the media A\'s stream stops arriving from A and arrives instead from 10.99.0.40:30000 (same SSRC, seq and timestamp continuing, same payloads, TTL 62): the media path changed mid-call without any re-INVITE or UPDATE. B -> A is unchanged.',
      covers: 'mid-call path change (unexpected relay)',
      calls: 1,
      streams: [
        { src: '10.20.1.10:16000', dst: '10.20.2.20:26000', ssrc: hex(a.ssrc), role: 'A->B for 2 s' },
        { src: '10.99.0.40:30000', dst: '10.20.2.20:26000', ssrc: hex(a.ssrc), role: 'A->B via the relay after 2 s' },
        { src: '10.20.2.20:26000', dst: '10.20.1.10:16000', ssrc: hex(b.ssrc), role: 'B->A' },
      ],
      mustFind: [{ type: 'unexpected_relay', relay: '10.99.0.40:30000', reason: 'path_change or unsignaled_endpoint: the relay is both a new path and an address no SDP announced; findings are one per (call, type, party), so either reason is right', relayedStream: '10.20.1.10:16000->10.20.2.20:26000', copyStartTs: cap.abs(first!) }],
      mustNotFind: ['key_exposure', 'signaling_copy', 'declared_recording'],
    },
  };
}

function relayUnsignaled(): Built {
  const cap = new Capture(baseTs(35));
  const A = new Host('10.20.1.10');
  const B = new Host('10.20.2.20');
  const R = new Host('10.99.0.41');
  const a = party(A, 'alice', 16000, 0x35000001, 'aunsig');
  const b = party(B, 'bob', 26000, 0x35000002, 'bunsig');
  let first: number | null = null;
  simpleCall(cap, {
    callId: 'unsig-1@10.20.1.10',
    caller: a,
    callee: b,
    t0: 0.1,
    mediaSec: 4,
    // The router DNATs A's RTP to the relay, which forwards it (SNAT) to B: the tap sees both legs from the first packet.
    callerStream: {
      onPacket: (p) => {
        const t = p.t + 0.0021;
        cap.add(t, udpFrame(R, 31002, B, 26000, p.rtp, { ttl: 62 }));
        first ??= t;
      },
    },
  });
  return {
    cap,
    label: {
      description:
        'Call A -> B. From the first packet, A\'s RTP is diverted (DNAT on the router) to 10.99.0.41, which forwards it to B from 10.99.0.41:31002 (same SSRC/seq/payload, 2 ms later, TTL 62). The tap sees A -> B as sent and relay -> B; no SDP names 10.99.0.41.',
      covers: 'unsignalled relay endpoint',
      calls: 1,
      streams: [
        { src: '10.20.1.10:16000', dst: '10.20.2.20:26000', ssrc: hex(a.ssrc), role: 'A->B as sent' },
        { src: '10.99.0.41:31002', dst: '10.20.2.20:26000', ssrc: hex(a.ssrc), role: 'A->B re-entering from the relay' },
        { src: '10.20.2.20:26000', dst: '10.20.1.10:16000', ssrc: hex(b.ssrc), role: 'B->A direct' },
      ],
      mustFind: [{ type: 'unexpected_relay', relay: '10.99.0.41', reason: 'unsignaled_endpoint', relayedStream: '10.20.1.10:16000->10.20.2.20:26000', copyStartTs: cap.abs(first!) }],
      mustNotFind: ['key_exposure', 'signaling_copy', 'declared_recording'],
    },
  };
}

// ---------------------------------------------------------------- registry

export const POSITIVE_SCENARIOS: SyntheticScenario[] = [
  ...COPIES.map((c, k) => ({ name: c.name, build: () => copyCall({ ...c, n: 20 + k }) })),
  { name: 'sigcopy_hep3', build: sigcopyHep3 },
  { name: 'declared_siprec', build: siprecDeclared },
  { name: 'declared_pdcs_laes', build: pdcsLaes },
  { name: 'key_exposure_sdes_synthetic', build: keyExposure },
  { name: 'relay_path_change', build: relayPathChange },
  { name: 'relay_unsignaled_endpoint', build: relayUnsignaled },
];

