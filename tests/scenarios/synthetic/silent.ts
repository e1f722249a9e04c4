/**
 * "Must stay silent" synthetic scenarios: the legitimate look-alikes of
 * covert copies and relays listed in issue 3 and in PROTOCOLS.md ("Legitimate
 * look-alikes that must stay silent"). Each is built the way the standard (or
 * the real product) does it, and labelled with no finding at all.
 */
import { Capture, Host, forwarded, mac, multicastMac, udpFrame } from './lib/capture.js';
import { defaultAudio, inDialog, party, sendSip, simpleCall, type Party } from './lib/call.js';
import { channelData, stun, STUN_ATTR, STUN_TYPE, xorAddress } from './lib/encap.js';
import { audioFrame, rtcpNack, rtpPacket, sendRtcpReports, sendStream } from './lib/rtp.js';
import { ALL_FINDING_TYPES, baseTs, hex, type Built, type SyntheticScenario } from './lib/scenario.js';
import { audio, nameAddr, proxied, requestText, responseText, sdp, uri, via, type SipRequest } from './lib/sip-text.js';
import { Xorshift32 } from '../../fixtures/gen/prng.js';

const SILENT = ALL_FINDING_TYPES;

function hosts() {
  return {
    A: new Host('10.20.1.10'),
    B: new Host('10.20.2.20'),
    C: new Host('10.20.3.30'),
    D: new Host('10.20.4.40'),
  };
}

// ---------------------------------------------------------------- (a) RFC 7198 / RFC 7104 duplication

/** a=ssrc-group:DUP (RFC 7104 §4.1, SSRC-multiplexed): every packet again on a second SSRC, 20 ms later, same 5-tuple. */
function dupSsrcGroup(): Built {
  const cap = new Capture(baseTs(1));
  const { A, B } = hosts();
  const a = party(A, 'alice', 16000, 0x1a2b3c4d, 'a7198');
  const b = party(B, 'bob', 26000, 0x0b0b0001, 'b7198');
  const aDup = 0x5e6f7081;
  const bDup = 0x0b0b0002;
  const media = (p: Party, dup: number, cname: string) => [
    audio(p.rtpPort, [0, 101], [`ssrc:${p.ssrc} cname:${cname}`, `ssrc:${dup} cname:${cname}`, `ssrc-group:DUP ${p.ssrc} ${dup}`, 'duplication-delay:20']),
  ];
  const dupOf = (host: Host, sport: number, dst: Host, dport: number, dupSsrc: number) => (p: { t: number; rtp: Buffer }) => {
    const r = Buffer.from(p.rtp);
    r.writeUInt32BE(dupSsrc, 8);
    cap.add(p.t + 0.02, udpFrame(host, sport, dst, dport, r));
  };
  simpleCall(cap, {
    callId: 'dup7198-1@10.20.1.10',
    caller: a,
    callee: b,
    t0: 0.1,
    mediaSec: 4,
    offerMedia: media(a, aDup, 'alice@10.20.1.10'),
    answerMedia: media(b, bDup, 'bob@10.20.2.20'),
    callerStream: { onPacket: dupOf(A, 16000, B, 26000, aDup) },
    calleeStream: { onPacket: dupOf(B, 26000, A, 16000, bDup) },
  });
  return {
    cap,
    label: {
      description:
        'G.711 call A -> B where both sides use RFC 7198 duplication with RFC 7104 a=ssrc-group:DUP (and RFC 7197 a=duplication-delay:20): every RTP packet is sent again 20 ms later to the same peer and port, on the second SSRC of the group (same seq, timestamp and payload).',
      covers: 'RFC 7198 duplication, ssrc-group:DUP',
      calls: 1,
      streams: [
        { src: '10.20.1.10:16000', dst: '10.20.2.20:26000', ssrc: hex(a.ssrc), role: 'A->B primary' },
        { src: '10.20.1.10:16000', dst: '10.20.2.20:26000', ssrc: hex(aDup), role: 'A->B DUP, +20 ms' },
        { src: '10.20.2.20:26000', dst: '10.20.1.10:16000', ssrc: hex(b.ssrc), role: 'B->A primary' },
        { src: '10.20.2.20:26000', dst: '10.20.1.10:16000', ssrc: hex(bDup), role: 'B->A DUP, +20 ms' },
      ],
      mustFind: [],
      mustNotFind: SILENT,
    },
  };
}

/** a=group:DUP (RFC 7104 §4.2, session-multiplexed): a second m= line (mid 2) gets byte-identical RTP 20 ms later on its own port. */
function dupGroupMid(): Built {
  const cap = new Capture(baseTs(2));
  const { A, B } = hosts();
  const a = party(A, 'alice', 16000, 0x2c3d4e5f, 'a7104');
  const b = party(B, 'bob', 26000, 0x0c0c0001, 'b7104');
  const media = (p: Party, cname: string) => [
    audio(p.rtpPort, [0, 101], ['mid:1', `ssrc:${p.ssrc} cname:${cname}`]),
    audio(p.rtpPort + 2, [0, 101], ['mid:2', `ssrc:${p.ssrc} cname:${cname}`, 'duplication-delay:20']),
  ];
  const dupTo = (host: Host, sport: number, dst: Host, dport: number) => (p: { t: number; rtp: Buffer }) => {
    cap.add(p.t + 0.02, udpFrame(host, sport, dst, dport, p.rtp));
  };
  simpleCall(cap, {
    callId: 'dup7104-1@10.20.1.10',
    caller: a,
    callee: b,
    t0: 0.1,
    mediaSec: 4,
    offerSessionAttrs: ['group:DUP 1 2'],
    answerSessionAttrs: ['group:DUP 1 2'],
    offerMedia: media(a, 'alice@10.20.1.10'),
    answerMedia: media(b, 'bob@10.20.2.20'),
    callerStream: { onPacket: dupTo(A, 16002, B, 26002) },
    calleeStream: { onPacket: dupTo(B, 26002, A, 16002) },
  });
  return {
    cap,
    label: {
      description:
        'G.711 call A -> B with RFC 7198 duplication in the session-multiplexed form of RFC 7104 (a=group:DUP 1 2, two m= lines with a=mid:1 and a=mid:2): each side sends every RTP packet byte-identical (same SSRC, seq, timestamp, payload) a second time, 20 ms later, from its mid-2 port to the peer\'s mid-2 port. Both ports are in both SDPs.',
      covers: 'RFC 7198 duplication, group:DUP',
      calls: 1,
      streams: [
        { src: '10.20.1.10:16000', dst: '10.20.2.20:26000', ssrc: hex(a.ssrc), role: 'A->B mid 1' },
        { src: '10.20.1.10:16002', dst: '10.20.2.20:26002', ssrc: hex(a.ssrc), role: 'A->B mid 2: identical RTP +20 ms' },
        { src: '10.20.2.20:26000', dst: '10.20.1.10:16000', ssrc: hex(b.ssrc), role: 'B->A mid 1' },
        { src: '10.20.2.20:26002', dst: '10.20.1.10:16002', ssrc: hex(b.ssrc), role: 'B->A mid 2: identical RTP +20 ms' },
      ],
      mustFind: [],
      mustNotFind: SILENT,
    },
  };
}

// ---------------------------------------------------------------- (b) RFC 4588 RTX and RFC 2198 RED

/** RFC 2198 §3 payload: one redundant block (the previous frame) + the primary. */
function redPayload(prev: Buffer | null, cur: Buffer, pt: number, tsStep: number): Buffer {
  if (!prev) return Buffer.concat([Buffer.of(pt & 0x7f), cur]);
  const h = Buffer.alloc(5);
  h[0] = 0x80 | (pt & 0x7f);
  const v = ((tsStep & 0x3fff) << 10) | (prev.length & 0x3ff);
  h[1] = (v >>> 16) & 0xff;
  h[2] = (v >>> 8) & 0xff;
  h[3] = v & 0xff;
  h[4] = pt & 0x7f;
  return Buffer.concat([h, prev, cur]);
}

function rtxRed(): Built {
  const cap = new Capture(baseTs(3));
  const { A, B } = hosts();
  const a = party(A, 'alice', 16000, 0x3e4f5061, 'arr');
  const b = party(B, 'bob', 26000, 0x0d0d0001, 'brr');
  const bRtx = 0x0d0d0777;
  const attrs = (p: Party, cname: string, rtxSsrc: number | null) => [
    'rtpmap:96 red/8000',
    'fmtp:96 0/0',
    'rtpmap:0 PCMU/8000',
    'rtpmap:97 rtx/8000',
    'fmtp:97 apt=0;rtx-time=500',
    'rtpmap:101 telephone-event/8000',
    'fmtp:101 0-16',
    'rtcp-fb:0 nack',
    `rtcp:${p.rtpPort + 1}`,
    `ssrc:${p.ssrc} cname:${cname}`,
    ...(rtxSsrc !== null ? [`ssrc:${rtxSsrc} cname:${cname}`, `ssrc-group:FID ${p.ssrc} ${rtxSsrc}`] : []),
    'ptime:20',
    'sendrecv',
  ];
  const mline = (p: Party, cname: string, rtx: number | null) => [{ port: p.rtpPort, proto: 'RTP/AVPF', fmts: [96, 0, 97, 101], attrs: attrs(p, cname, rtx) }];
  const lostBeforeTap = new Set([60, 61, 170]);
  const lostAfterTap = new Set([140]);
  let prev: Buffer | null = null;
  const bPackets = new Map<number, { seq: number; ts: number; payload: Buffer }>();
  const call = simpleCall(cap, {
    callId: 'rtxred-1@10.20.1.10',
    caller: a,
    callee: b,
    t0: 0.1,
    mediaSec: 4,
    pt: 96,
    offerMedia: mline(a, 'alice@10.20.1.10', null),
    answerMedia: mline(b, 'bob@10.20.2.20', bRtx),
    callerStream: {
      pt: 96,
      payload: (_i, slot) => {
        const cur = audioFrame(a.ssrc, slot);
        const out = redPayload(prev, cur, 0, 160);
        prev = cur;
        return out;
      },
    },
    calleeStream: {
      pt: 0,
      lost: (i) => lostBeforeTap.has(i),
      onPacket: (p) => {
        bPackets.set(p.i, { seq: p.seq, ts: p.rtpTs, payload: p.rtp.subarray(12) });
      },
    },
  });
  // Packets lost before the tap never show; recreate their content for the retransmission.
  const bStart = call.mediaStart;
  const original = (i: number) => bPackets.get(i) ?? { seq: (b.seq0 + i) & 0xffff, ts: (b.ts0 + i * 160) >>> 0, payload: audioFrame(b.ssrc, Math.round(bStart / 0.02) + i) };
  let rtxSeq = 4242;
  const nackRounds = [[60, 61], [140], [170]];
  for (const round of nackRounds) {
    const tLoss = bStart + round[round.length - 1]! * 0.02;
    const tNack = tLoss + 0.045;
    const seqs = round.map((i) => original(i).seq);
    cap.add(tNack, udpFrame(A, 16001, B, 26001, rtcpNack(a.ssrc, 'alice@10.20.1.10', b.ssrc, seqs)));
    round.forEach((i, k) => {
      const o = original(i);
      const osn = Buffer.alloc(2);
      osn.writeUInt16BE(o.seq);
      const rtx = rtpPacket(97, false, rtxSeq++, o.ts, bRtx, Buffer.concat([osn, o.payload]));
      cap.add(tNack + 0.008 + k * 0.001, udpFrame(B, 26000, A, 16000, rtx));
    });
  }
  sendRtcpReports(cap, { src: A, sport: 16001, dst: B, dport: 26001, ssrc: a.ssrc, cname: 'alice@10.20.1.10', start: bStart, end: call.mediaEnd, every: 2, peerSsrc: b.ssrc });
  sendRtcpReports(cap, { src: B, sport: 26001, dst: A, dport: 16001, ssrc: b.ssrc, cname: 'bob@10.20.2.20', start: bStart, end: call.mediaEnd, every: 2, peerSsrc: a.ssrc });
  return {
    cap,
    label: {
      description:
        'G.711 call A -> B, RTP/AVPF. A sends RFC 2198 RED (PT 96 red/8000): each packet carries the previous 20 ms frame again plus the new one. B sends PCMU; RFC 4585 generic NACKs from A (RTCP port 16001 -> 26001) ask for lost packets, and B retransmits them per RFC 4588 on its RTX SSRC (PT 97 rtx/8000, apt=0, a=ssrc-group:FID), payload = original seq + original payload. Packets 60, 61 and 170 of B were lost before the tap; packet 140 after it, so both the original and its retransmission are in the capture.',
      covers: 'RFC 4588 RTX, RFC 2198 RED',
      calls: 1,
      streams: [
        { src: '10.20.1.10:16000', dst: '10.20.2.20:26000', ssrc: hex(a.ssrc), role: 'A->B RED (PT 96)' },
        { src: '10.20.2.20:26000', dst: '10.20.1.10:16000', ssrc: hex(b.ssrc), role: 'B->A PCMU, 3 packets lost before the tap' },
        { src: '10.20.2.20:26000', dst: '10.20.1.10:16000', ssrc: hex(bRtx), role: 'B->A RTX (PT 97) after NACKs' },
      ],
      mustFind: [],
      mustNotFind: SILENT,
      notes: `lostAfterTap: ${[...lostAfterTap].join(',')}`,
    },
  };
}

// ---------------------------------------------------------------- (c) forking with early media

function forkEarlyMedia(): Built {
  const cap = new Capture(baseTs(4));
  const { A } = hosts();
  const P = new Host('10.20.0.5');
  const B1 = new Host('10.20.2.20');
  const B2 = new Host('10.20.3.30');
  const a = party(A, 'alice', 16000, 0x4a4a0001, 'afork');
  const b1 = party(B1, 'bob', 26000, 0x4b4b0001, 'b1desk');
  const b2 = party(B2, 'bob', 36000, 0x4b4b0002, 'b2soft');
  const callId = 'fork-1@10.20.1.10';
  const rr = 'Record-Route: <sip:10.20.0.5:5060;lr>';
  const offer = sdp({ user: 'alice', sessId: 4001, origin: A.ip, conn: A.ip, media: [defaultAudio(a, 0)] });
  const answer = (p: Party) => sdp({ user: 'bob', sessId: p.ssrc % 10000, origin: p.host.ip, conn: p.host.ip, media: [defaultAudio(p, 0)] });
  const inv: SipRequest = {
    method: 'INVITE',
    ruri: 'sip:bob@10.20.0.5:5060',
    vias: [via(A.ip, 5060, 'forkA1')],
    maxForwards: 70,
    from: nameAddr(a.ua),
    to: '"bob" <sip:bob@10.20.0.5:5060>',
    callId,
    cseq: 1,
    contact: `<${uri(a.ua)}>`,
    extra: ['Supported: 100rel, timer'],
    body: offer,
  };
  const inv1 = proxied(inv, via(P.ip, 5060, 'forkP1'), { ruri: uri(b1.ua), extra: [rr] });
  const inv2 = proxied(inv, via(P.ip, 5060, 'forkP2'), { ruri: uri(b2.ua), extra: [rr] });
  const up = [inv.vias[0]!];
  sendSip(cap, 0.1, A, P, requestText(inv));
  sendSip(cap, 0.102, P, A, responseText(inv, 100, 'Trying'));
  sendSip(cap, 0.104, P, B1, requestText(inv1));
  sendSip(cap, 0.105, P, B2, requestText(inv2));
  sendSip(cap, 0.107, B1, P, responseText(inv1, 100, 'Trying'));
  sendSip(cap, 0.108, B2, P, responseText(inv2, 100, 'Trying'));
  const r183 = (req: SipRequest, p: Party, vias?: string[]) =>
    responseText(req, 183, 'Session Progress', { toTag: p.ua.tag, contact: `<${uri(p.ua)}>`, extra: [rr], body: answer(p), vias });
  sendSip(cap, 0.2, B1, P, r183(inv1, b1));
  sendSip(cap, 0.202, P, A, r183(inv, b1, up));
  sendSip(cap, 0.25, B2, P, r183(inv2, b2));
  sendSip(cap, 0.252, P, A, r183(inv, b2, up));
  // Early media from both forks to the caller's one port; the caller answers media to the first fork.
  const tAnswer = 1.9;
  sendStream(cap, { src: B1, sport: 26000, dst: A, dport: 16000, ssrc: b1.ssrc, pt: 0, start: 0.21, packets: Math.round((5.0 - 0.21) / 0.02), seq0: b1.seq0, ts0: b1.ts0 });
  sendStream(cap, { src: B2, sport: 36000, dst: A, dport: 16000, ssrc: b2.ssrc, pt: 0, start: 0.26, packets: Math.round((tAnswer - 0.26) / 0.02), seq0: b2.seq0, ts0: b2.ts0 });
  sendStream(cap, { src: A, sport: 16000, dst: B1, dport: 26000, ssrc: a.ssrc, pt: 0, start: 0.215, packets: Math.round((5.0 - 0.215) / 0.02), seq0: a.seq0, ts0: a.ts0 });
  const ok = (req: SipRequest, vias?: string[]) => responseText(req, 200, 'OK', { toTag: b1.ua.tag, contact: `<${uri(b1.ua)}>`, extra: [rr], body: answer(b1), vias });
  sendSip(cap, tAnswer, B1, P, ok(inv1));
  sendSip(cap, tAnswer + 0.002, P, A, ok(inv, up));
  // The proxy cancels the other branch (RFC 3261 §16.7 step 10).
  const cancel: SipRequest = { ...inv2, method: 'CANCEL', extra: [], body: undefined, contact: undefined, vias: [inv2.vias[0]!], maxForwards: 70 };
  sendSip(cap, tAnswer + 0.003, P, B2, requestText(cancel));
  sendSip(cap, tAnswer + 0.005, B2, P, responseText(cancel, 200, 'OK', { toTag: b2.ua.tag }));
  sendSip(cap, tAnswer + 0.006, B2, P, responseText(inv2, 487, 'Request Terminated', { toTag: b2.ua.tag }));
  const ack487: SipRequest = { ...inv2, method: 'ACK', to: `${inv2.to};tag=${b2.ua.tag}`, extra: [], body: undefined, contact: undefined, vias: [inv2.vias[0]!] };
  sendSip(cap, tAnswer + 0.008, P, B2, requestText(ack487));
  // ACK and BYE follow the route set (the proxy recorded the route).
  const route = 'Route: <sip:10.20.0.5:5060;lr>';
  const ack: SipRequest = { ...inDialog('ACK', callId, a, b1, 1, 'forkA2', [route]), to: nameAddr(b1.ua) };
  sendSip(cap, tAnswer + 0.006, A, P, requestText(ack));
  sendSip(cap, tAnswer + 0.008, P, B1, requestText(proxied(ack, via(P.ip, 5060, 'forkP3'))));
  const bye = inDialog('BYE', callId, a, b1, 2, 'forkA3', [route]);
  const byeP = proxied(bye, via(P.ip, 5060, 'forkP4'));
  sendSip(cap, 5.05, A, P, requestText(bye));
  sendSip(cap, 5.052, P, B1, requestText(byeP));
  sendSip(cap, 5.055, B1, P, responseText(byeP, 200, 'OK'));
  sendSip(cap, 5.057, P, A, responseText(bye, 200, 'OK', { vias: bye.vias }));
  return {
    cap,
    label: {
      description:
        'SIP forking with early media: A (10.20.1.10) INVITEs bob via the stateful proxy 10.20.0.5, which forks to B1 (10.20.2.20) and B2 (10.20.3.30). Both answer 183 with SDP and different To-tags, and both send early media to A\'s one port 16000. B1 answers 200; the proxy CANCELs B2 (200 to CANCEL, 487, ACK). Media A <-> B1 continues until BYE. All SIP legs (A <-> proxy, proxy <-> B1/B2) are in the capture.',
      covers: 'SIP forking with early media',
      calls: 1,
      streams: [
        { src: '10.20.2.20:26000', dst: '10.20.1.10:16000', ssrc: hex(b1.ssrc), role: 'B1 early media, then the call' },
        { src: '10.20.3.30:36000', dst: '10.20.1.10:16000', ssrc: hex(b2.ssrc), role: 'B2 early media until cancelled' },
        { src: '10.20.1.10:16000', dst: '10.20.2.20:26000', ssrc: hex(a.ssrc), role: 'A -> B1' },
      ],
      mustFind: [],
      mustNotFind: SILENT,
    },
  };
}

// ---------------------------------------------------------------- (d) hold / resume / UPDATE / transfer

function holdResumeUpdate(): Built {
  const cap = new Capture(baseTs(5));
  const { A, B } = hosts();
  const a = party(A, 'alice', 16000, 0x5a5a0001, 'ahold');
  const b = party(B, 'bob', 26000, 0x5b5b0001, 'bhold');
  const callId = 'hold-1@10.20.1.10';
  const call = simpleCall(cap, { callId, caller: a, callee: b, t0: 0.1, mediaSec: 0, callerStream: false, calleeStream: false, noBye: true });
  const m0 = call.mediaStart;
  let version = 1;
  const sdpA = (port: number, dir: string, conn = A.ip) => sdp({ user: 'alice', sessId: a.ssrc % 100000, version: a.ssrc % 100000 + version++, origin: A.ip, conn, media: [audio(port, [0, 101], [], dir)] });
  const sdpB = (dir: string) => sdp({ user: 'bob', sessId: b.ssrc % 100000, version: b.ssrc % 100000 + version, origin: B.ip, conn: B.ip, media: [audio(26000, [0, 101], [], dir)] });
  let cseq = 2;
  const offerAnswer = (t: number, method: 'INVITE' | 'UPDATE', offer: string, answer: string, branch: string) => {
    const req = inDialog(method, callId, a, b, cseq++, branch, [], offer);
    sendSip(cap, t, A, B, requestText(req));
    sendSip(cap, t + 0.01, B, A, responseText(req, 200, 'OK', { contact: `<${uri(b.ua)}>`, body: answer }));
    if (method === 'INVITE') sendSip(cap, t + 0.012, A, B, requestText(inDialog('ACK', callId, a, b, req.cseq, `${branch}k`)));
  };
  // Timeline (s after media start): talk, sendonly hold (A plays music on hold), inactive c=0.0.0.0,
  // resume by UPDATE, then a re-INVITE moving A to port 16002 with a short overlap, BYE.
  const tHold = m0 + 1.2;
  const tInactive = m0 + 2.2;
  const tResume = m0 + 2.9;
  const tMove = m0 + 3.9;
  const tEnd = m0 + 5.0;
  offerAnswer(tHold, 'INVITE', sdpA(16000, 'sendonly'), sdpB('recvonly'), 'holdI1');
  offerAnswer(tInactive, 'INVITE', sdpA(16000, 'inactive', '0.0.0.0'), sdpB('inactive'), 'holdI2');
  offerAnswer(tResume, 'UPDATE', sdpA(16000, 'sendrecv'), sdpB('sendrecv'), 'holdU1');
  offerAnswer(tMove, 'INVITE', sdpA(16002, 'sendrecv'), sdpB('sendrecv'), 'holdI3');
  const n = (from: number, to: number) => Math.max(0, Math.round((to - from) / 0.02));
  // A -> B: talk until inactive; MOH while held is A's (sendonly) stream continuing.
  let s = sendStream(cap, { src: A, sport: 16000, dst: B, dport: 26000, ssrc: a.ssrc, pt: 0, start: m0 + 0.006, packets: n(m0, tInactive + 0.012), seq0: a.seq0, ts0: a.ts0 });
  s = sendStream(cap, { src: A, sport: 16000, dst: B, dport: 26000, ssrc: a.ssrc, pt: 0, start: tResume + 0.016, packets: n(tResume, tMove + 0.06), seq0: s.nextSeq, ts0: (s.nextTs + 8000 * 0.7) >>> 0 });
  // After the move A sends from 16002 (same SSRC, seq continuing); the old socket still sent 3 packets after the 200 OK.
  sendStream(cap, { src: A, sport: 16002, dst: B, dport: 26000, ssrc: a.ssrc, pt: 0, start: s.last + 0.02, packets: n(s.last, tEnd), seq0: s.nextSeq, ts0: s.nextTs, seed: 77 });
  // B -> A: talk until the hold, silent while held, resume; after the move B keeps sending to 16000 for 60 ms.
  let r = sendStream(cap, { src: B, sport: 26000, dst: A, dport: 16000, ssrc: b.ssrc, pt: 0, start: m0, packets: n(m0, tHold + 0.01), seq0: b.seq0, ts0: b.ts0 });
  r = sendStream(cap, { src: B, sport: 26000, dst: A, dport: 16000, ssrc: b.ssrc, pt: 0, start: tResume + 0.012, packets: n(tResume, tMove + 0.07), seq0: r.nextSeq, ts0: (r.nextTs + 8000 * 1.7) >>> 0 });
  sendStream(cap, { src: B, sport: 26000, dst: A, dport: 16002, ssrc: b.ssrc, pt: 0, start: r.last + 0.02, packets: n(r.last, tEnd), seq0: r.nextSeq, ts0: r.nextTs, seed: 78 });
  const bye = inDialog('BYE', callId, b, a, 1, 'holdB1');
  sendSip(cap, tEnd + 0.03, B, A, requestText(bye));
  sendSip(cap, tEnd + 0.033, A, B, responseText(bye, 200, 'OK'));
  return {
    cap,
    label: {
      description:
        'G.711 call A -> B with hold and resume: re-INVITE a=sendonly (A keeps sending music on hold, B answers recvonly and goes quiet), re-INVITE c=0.0.0.0 a=inactive (RFC 2543-style hold, both quiet), resume by UPDATE (RFC 3311) with sendrecv, then a re-INVITE that moves A\'s media to port 16002 (same SSRC, continuing); the old socket sends 3 more packets and B keeps sending to the old port for 60 ms after the 200 OK (short overlap). BYE from B.',
      covers: 'hold/resume by re-INVITE and UPDATE, port move with short overlap',
      calls: 1,
      streams: [
        { src: '10.20.1.10:16000', dst: '10.20.2.20:26000', ssrc: hex(a.ssrc), role: 'A->B before the move' },
        { src: '10.20.1.10:16002', dst: '10.20.2.20:26000', ssrc: hex(a.ssrc), role: 'A->B after the move' },
        { src: '10.20.2.20:26000', dst: '10.20.1.10:16000', ssrc: hex(b.ssrc), role: 'B->A before the move (+60 ms overlap)' },
        { src: '10.20.2.20:26000', dst: '10.20.1.10:16002', ssrc: hex(b.ssrc), role: 'B->A after the move' },
      ],
      mustFind: [],
      mustNotFind: SILENT,
    },
  };
}

function transferReferReplaces(): Built {
  const cap = new Capture(baseTs(6));
  const { A, B, C } = hosts();
  const a = party(A, 'alice', 16000, 0x6a6a0001, 'axfer');
  const b = party(B, 'bob', 26000, 0x6b6b0001, 'bxfer');
  const c = party(C, 'carol', 36000, 0x6c6c0001, 'cxfer');
  const T1 = 'xfer-1@10.20.1.10';
  const T2 = 'xfer-2@10.20.2.20';
  const T3 = 'xfer-3@10.20.1.10';
  // Call 1: A -> B.
  const c1 = simpleCall(cap, { callId: T1, caller: a, callee: b, t0: 0.1, mediaSec: 0, callerStream: false, calleeStream: false, noBye: true });
  // Call 2: B (consultation, new port 26002) -> C.
  const b2: Party = { ...b, rtpPort: 26002, ssrc: 0x6b6b0002, ua: { ...b.ua, tag: 'bxfer2' } };
  const c2 = simpleCall(cap, { callId: T2, caller: b2, callee: c, t0: 1.2, mediaSec: 0, callerStream: false, calleeStream: false, noBye: true });
  const tRefer = 3.0;
  const referTo = `<sip:carol@10.20.3.30:5060?Replaces=${encodeURIComponent(`${T2};to-tag=${c.ua.tag};from-tag=${b2.ua.tag}`)}>`;
  const refer = inDialog('REFER', T1, b, a, 1, 'xferR1', [`Refer-To: ${referTo}`, `Referred-By: <${uri(b.ua)}>`]);
  sendSip(cap, tRefer, B, A, requestText(refer));
  sendSip(cap, tRefer + 0.004, A, B, responseText(refer, 202, 'Accepted', { contact: `<${uri(a.ua)}>` }));
  const notify = (t: number, cseq: number, frag: string, state: string, branch: string) => {
    const n = inDialog('NOTIFY', T1, a, b, cseq, branch, ['Event: refer', `Subscription-State: ${state}`], `${frag}\r\n`, 'message/sipfrag;version=2.0');
    sendSip(cap, t, A, B, requestText(n));
    sendSip(cap, t + 0.003, B, A, responseText(n, 200, 'OK'));
  };
  notify(tRefer + 0.01, 2, 'SIP/2.0 100 Trying', 'active;expires=60', 'xferN1');
  // Call 3: A -> C with Replaces (RFC 3891), A's new port 16002 and a new SSRC.
  const a3: Party = { ...a, rtpPort: 16002, ssrc: 0x6a6a0003, ua: { ...a.ua, tag: 'axfer3' } };
  const c3 = simpleCall(cap, {
    callId: T3,
    caller: a3,
    callee: { ...c, ua: { ...c.ua, tag: 'cxfer3' } },
    t0: tRefer + 0.02,
    ringSec: 0.03,
    mediaSec: 0,
    callerStream: false,
    calleeStream: false,
    noBye: true,
    inviteExtra: [`Replaces: ${T2};to-tag=${c.ua.tag};from-tag=${b2.ua.tag}`, `Referred-By: <${uri(b.ua)}>`, 'Require: replaces'],
  });
  // C ends the replaced dialog; A reports success and B hangs up call 1.
  const byeC = inDialog('BYE', T2, c, b2, 2, 'xferB2');
  sendSip(cap, c3.answerTime + 0.03, C, B, requestText(byeC));
  sendSip(cap, c3.answerTime + 0.033, B, C, responseText(byeC, 200, 'OK'));
  notify(c3.answerTime + 0.04, 3, 'SIP/2.0 200 OK', 'terminated;reason=noresource', 'xferN2');
  const tBye1 = c3.answerTime + 0.12;
  const bye1 = inDialog('BYE', T1, b, a, 2, 'xferB1');
  sendSip(cap, tBye1, B, A, requestText(bye1));
  sendSip(cap, tBye1 + 0.003, A, B, responseText(bye1, 200, 'OK'));
  const tEnd = 6.0;
  const n = (from: number, to: number) => Math.max(0, Math.round((to - from) / 0.02));
  // Media. Speakers: each person's microphone, so A -> B and A -> C carry the same bytes during the overlap.
  const SPK_A = 1001;
  const SPK_B = 1002;
  const SPK_C = 1003;
  sendStream(cap, { src: A, sport: 16000, dst: B, dport: 26000, ssrc: a.ssrc, pt: 0, start: c1.mediaStart + 0.006, packets: n(c1.mediaStart, tBye1), seq0: a.seq0, ts0: a.ts0, speaker: SPK_A });
  sendStream(cap, { src: B, sport: 26000, dst: A, dport: 16000, ssrc: b.ssrc, pt: 0, start: c1.mediaStart, packets: n(c1.mediaStart, 1.2), seq0: b.seq0, ts0: b.ts0, speaker: SPK_B });
  sendStream(cap, { src: B, sport: 26002, dst: C, dport: 36000, ssrc: b2.ssrc, pt: 0, start: c2.mediaStart + 0.006, packets: n(c2.mediaStart, tRefer), seq0: b2.seq0, ts0: b2.ts0, speaker: SPK_B });
  sendStream(cap, { src: C, sport: 36000, dst: B, dport: 26002, ssrc: c.ssrc, pt: 0, start: c2.mediaStart, packets: n(c2.mediaStart, c3.answerTime + 0.03), seq0: c.seq0, ts0: c.ts0, speaker: SPK_C });
  sendStream(cap, { src: A, sport: 16002, dst: C, dport: 36000, ssrc: a3.ssrc, pt: 0, start: c3.mediaStart + 0.006, packets: n(c3.mediaStart, tEnd), seq0: a3.seq0, ts0: a3.ts0, speaker: SPK_A });
  sendStream(cap, { src: C, sport: 36000, dst: A, dport: 16002, ssrc: 0x6c6c0003, pt: 0, start: c3.mediaStart, packets: n(c3.mediaStart, tEnd), seq0: 0x1c3, ts0: 0x6c6c0003, speaker: SPK_C });
  const bye3 = inDialog('BYE', T3, a3, { ...c, ua: { ...c.ua, tag: 'cxfer3' } }, 2, 'xferB3');
  sendSip(cap, tEnd + 0.03, A, C, requestText(bye3));
  sendSip(cap, tEnd + 0.033, C, A, responseText(bye3, 200, 'OK'));
  return {
    cap,
    label: {
      description:
        'Attended transfer: A calls B; B calls C (consultation, B port 26002); B sends REFER to A with Refer-To carrying Replaces (RFC 3515, RFC 3891); A answers 202, NOTIFYs 100 Trying, INVITEs C with Replaces (new port 16002, new SSRC); C ends the replaced dialog with B; A NOTIFYs 200 OK; B hangs up call 1. A keeps talking to B for about 120 ms after the new call with C starts (short overlap) and both streams carry A\'s voice, so their payloads are identical during the overlap; likewise C -> B and C -> A.',
      covers: 'transfer by REFER + INVITE with Replaces, short overlap',
      calls: 3,
      streams: [
        { src: '10.20.1.10:16000', dst: '10.20.2.20:26000', ssrc: hex(a.ssrc), role: 'call 1 A->B (overlaps call 3 by ~120 ms)' },
        { src: '10.20.2.20:26000', dst: '10.20.1.10:16000', ssrc: hex(b.ssrc), role: 'call 1 B->A until B consults C' },
        { src: '10.20.2.20:26002', dst: '10.20.3.30:36000', ssrc: hex(b2.ssrc), role: 'call 2 B->C' },
        { src: '10.20.3.30:36000', dst: '10.20.2.20:26002', ssrc: hex(c.ssrc), role: 'call 2 C->B' },
        { src: '10.20.1.10:16002', dst: '10.20.3.30:36000', ssrc: hex(a3.ssrc), role: 'call 3 A->C' },
        { src: '10.20.3.30:36000', dst: '10.20.1.10:16002', ssrc: hex(0x6c6c0003), role: 'call 3 C->A' },
      ],
      mustFind: [],
      mustNotFind: SILENT,
    },
  };
}

// ---------------------------------------------------------------- (e) SBC / B2BUA anchoring

function sbcAnchoring(): Built {
  const cap = new Capture(baseTs(7));
  const { A, B } = hosts();
  const S = new Host('10.20.0.50');
  const a = party(A, 'alice', 16000, 0x7a7a0001, 'asbc');
  const b = party(B, 'bob', 26000, 0x7b7b0001, 'bsbc');
  const sA: Party = { host: S, ua: { user: 'bob', ip: S.ip, port: 5060, tag: 'sbc-leg1' }, rtpPort: 40000, ssrc: 0, seq0: 0, ts0: 0 };
  const sB: Party = { host: S, ua: { user: 'alice', ip: S.ip, port: 5060, tag: 'sbc-leg2' }, rtpPort: 40002, ssrc: 0, seq0: 0, ts0: 0 };
  const L1 = 'sbc-leg1@10.20.1.10';
  const L2 = 'b2b-7f3a9c@10.20.0.50';
  const sdpOf = (p: Party, user: string) => sdp({ user, sessId: 7000 + p.rtpPort, origin: p.host.ip, conn: p.host.ip, media: [defaultAudio(p, 0)] });
  const inv1: SipRequest = {
    method: 'INVITE', ruri: 'sip:bob@10.20.0.50:5060', vias: [via(A.ip, 5060, 'sbcA1')], maxForwards: 70, from: nameAddr(a.ua), to: '"bob" <sip:bob@10.20.0.50:5060>',
    callId: L1, cseq: 1, contact: `<${uri(a.ua)}>`, extra: [], body: sdpOf(a, 'alice'),
  };
  const inv2: SipRequest = {
    method: 'INVITE', ruri: uri(b.ua), vias: [via(S.ip, 5060, 'sbcS1')], maxForwards: 69, from: nameAddr(sB.ua), to: '"bob" <sip:bob@10.20.2.20:5060>',
    callId: L2, cseq: 101, contact: `<${uri(sB.ua)}>`, extra: ['P-Asserted-Identity: <sip:alice@10.20.0.50>'], body: sdpOf(sB, 'sbc'),
  };
  sendSip(cap, 0.1, A, S, requestText(inv1));
  sendSip(cap, 0.101, S, A, responseText(inv1, 100, 'Trying'));
  sendSip(cap, 0.103, S, B, requestText(inv2));
  sendSip(cap, 0.106, B, S, responseText(inv2, 100, 'Trying'));
  sendSip(cap, 0.15, B, S, responseText(inv2, 180, 'Ringing', { toTag: b.ua.tag, contact: `<${uri(b.ua)}>` }));
  sendSip(cap, 0.152, S, A, responseText(inv1, 180, 'Ringing', { toTag: sA.ua.tag, contact: `<${uri(sA.ua)}>` }));
  sendSip(cap, 0.5, B, S, responseText(inv2, 200, 'OK', { toTag: b.ua.tag, contact: `<${uri(b.ua)}>`, body: sdpOf(b, 'bob') }));
  sendSip(cap, 0.502, S, B, requestText({ ...inDialog('ACK', L2, sB, b, 101, 'sbcS2'), to: nameAddr(b.ua) }));
  sendSip(cap, 0.503, S, A, responseText(inv1, 200, 'OK', { toTag: sA.ua.tag, contact: `<${uri(sA.ua)}>`, body: sdpOf(sA, 'sbc') }));
  sendSip(cap, 0.506, A, S, requestText(inDialog('ACK', L1, a, sA, 1, 'sbcA2')));
  const start = 0.52;
  const packets = 200;
  // The SBC relays each packet unchanged (same SSRC, seq, timestamp, payload), re-originated from its own socket.
  sendStream(cap, {
    src: A, sport: 16000, dst: S, dport: 40000, ssrc: a.ssrc, pt: 0, start: start + 0.006, packets, seq0: a.seq0, ts0: a.ts0,
    onPacket: (p) => cap.add(p.t + 0.00042, udpFrame(S, 40002, B, 26000, p.rtp)),
  });
  sendStream(cap, {
    src: B, sport: 26000, dst: S, dport: 40002, ssrc: b.ssrc, pt: 0, start, packets, seq0: b.seq0, ts0: b.ts0,
    onPacket: (p) => cap.add(p.t + 0.00039, udpFrame(S, 40000, A, 16000, p.rtp)),
  });
  const tEnd = start + packets * 0.02 + 0.03;
  const bye1 = inDialog('BYE', L1, a, sA, 2, 'sbcA3');
  const bye2 = inDialog('BYE', L2, sB, b, 102, 'sbcS3');
  sendSip(cap, tEnd, A, S, requestText(bye1));
  sendSip(cap, tEnd + 0.001, S, A, responseText(bye1, 200, 'OK'));
  sendSip(cap, tEnd + 0.002, S, B, requestText(bye2));
  sendSip(cap, tEnd + 0.005, B, S, responseText(bye2, 200, 'OK'));
  return {
    cap,
    label: {
      description:
        'SBC/B2BUA media anchoring: two dialogs, A <-> SBC 10.20.0.50 (Call-ID ' + L1 + ') and SBC <-> B (Call-ID ' + L2 + '). The SBC rewrites SDP to its own address (40000 towards A, 40002 towards B) and relays RTP unchanged: the same SSRC, seq, timestamp and payload appear on both legs, 0.4 ms apart. Every leg\'s endpoints are announced in that leg\'s SDP.',
      covers: 'SBC/B2BUA anchoring announced in SDP',
      calls: 2,
      streams: [
        { src: '10.20.1.10:16000', dst: '10.20.0.50:40000', ssrc: hex(a.ssrc), role: 'A -> SBC (leg 1)' },
        { src: '10.20.0.50:40002', dst: '10.20.2.20:26000', ssrc: hex(a.ssrc), role: 'SBC -> B (leg 2), same RTP' },
        { src: '10.20.2.20:26000', dst: '10.20.0.50:40002', ssrc: hex(b.ssrc), role: 'B -> SBC (leg 2)' },
        { src: '10.20.0.50:40000', dst: '10.20.1.10:16000', ssrc: hex(b.ssrc), role: 'SBC -> A (leg 1), same RTP' },
      ],
      mustFind: [],
      mustNotFind: SILENT,
    },
  };
}

// ---------------------------------------------------------------- (f) TURN relay announced in candidates

function turnRelay(): Built {
  const cap = new Capture(baseTs(8));
  const { A, B } = hosts();
  const T = new Host('10.20.9.9');
  const a = party(A, 'alice', 16000, 0x8a8a0001, 'aturn');
  const b = party(B, 'bob', 26000, 0x8b8b0001, 'bturn');
  const RELAY_PORT = 50000;
  const CHANNEL = 0x4000;
  // Allocate (RFC 8656 §7) before the offer, so the relayed candidate can be offered.
  cap.add(0.02, udpFrame(A, 16000, T, 3478, stun(STUN_TYPE.ALLOCATE, 1, [[STUN_ATTR.REQUESTED_TRANSPORT, Buffer.of(17, 0, 0, 0)]])));
  cap.add(0.024, udpFrame(T, 3478, A, 16000, stun(STUN_TYPE.ALLOCATE_OK, 1, [[STUN_ATTR.XOR_RELAYED_ADDRESS, xorAddress(T.ip, RELAY_PORT)], [STUN_ATTR.XOR_MAPPED_ADDRESS, xorAddress(A.ip, 16000)], [STUN_ATTR.LIFETIME, Buffer.of(0, 0, 2, 0x58)]])));
  const offer = [
    {
      port: RELAY_PORT,
      fmts: [0, 101],
      attrs: [
        'rtpmap:0 PCMU/8000', 'rtpmap:101 telephone-event/8000', 'fmtp:101 0-16', 'ice-ufrag:tWq8', 'ice-pwd:ZGlzY2FyZGVkLXN5bnRoZXRpYy1wd2Q',
        `candidate:1 1 udp 2130706431 ${A.ip} 16000 typ host`,
        `candidate:3 1 udp 16777215 ${T.ip} ${RELAY_PORT} typ relay raddr ${A.ip} rport 16000`,
        'ptime:20', 'sendrecv',
      ],
    },
  ];
  const call = simpleCall(cap, {
    callId: 'turn-1@10.20.1.10',
    caller: a,
    callee: b,
    t0: 0.1,
    mediaSec: 4,
    offerMedia: offer,
    // The offer's default address is the relayed candidate (RFC 8839 §4.2.1.2: c= and m= carry the default candidate).
    offerConn: T.ip,
    callerStream: false,
    calleeStream: false,
  });
  const tBind = call.answerTime + 0.006;
  cap.add(tBind, udpFrame(A, 16000, T, 3478, stun(STUN_TYPE.CHANNEL_BIND, 2, [[STUN_ATTR.CHANNEL_NUMBER, Buffer.of(0x40, 0x00, 0, 0)], [STUN_ATTR.XOR_PEER_ADDRESS, xorAddress(B.ip, 26000)]])));
  cap.add(tBind + 0.003, udpFrame(T, 3478, A, 16000, stun(STUN_TYPE.CHANNEL_BIND_OK, 2, [])));
  const start = call.mediaStart + 0.01;
  const packets = 200;
  // A -> TURN server as ChannelData; the server relays the same RTP from its relayed address to B.
  sendStream(cap, {
    src: A, sport: 16000, dst: T, dport: 3478, ssrc: a.ssrc, pt: 0, start: start + 0.006, packets, seq0: a.seq0, ts0: a.ts0,
    wrap: (rtp) => channelData(CHANNEL, rtp),
    onPacket: (p) => cap.add(p.t + 0.0003, udpFrame(T, RELAY_PORT, B, 26000, p.rtp)),
  });
  // B -> relayed address; the server hands it to A in ChannelData from 3478.
  sendStream(cap, {
    src: B, sport: 26000, dst: T, dport: RELAY_PORT, ssrc: b.ssrc, pt: 0, start, packets, seq0: b.seq0, ts0: b.ts0,
    onPacket: (p) => cap.add(p.t + 0.0003, udpFrame(T, 3478, A, 16000, channelData(CHANNEL, p.rtp))),
  });
  // The allocation is refreshed once (RFC 8656 §7.3 Refresh is a STUN request; a Binding keepalive stands in for it).
  cap.add(start + 2.5, udpFrame(A, 16000, T, 3478, stun(STUN_TYPE.BINDING, 3, [])));
  cap.add(start + 2.503, udpFrame(T, 3478, A, 16000, stun(STUN_TYPE.BINDING_OK, 3, [[STUN_ATTR.XOR_MAPPED_ADDRESS, xorAddress(A.ip, 16000)]])));
  const tEnd = start + packets * 0.02 + 0.03;
  const bye = inDialog('BYE', 'turn-1@10.20.1.10', a, b, 2, 'turnB1');
  sendSip(cap, tEnd, A, B, requestText(bye));
  sendSip(cap, tEnd + 0.003, B, A, responseText(bye, 200, 'OK'));
  return {
    cap,
    label: {
      description:
        'Call A -> B where A reaches the media through a TURN relay (RFC 8656) it announced: A allocates 10.20.9.9:50000 on the TURN server 10.20.9.9:3478 and offers c=10.20.9.9 m=50000 with a=candidate ... typ relay raddr 10.20.1.10 rport 16000 (plus its host candidate). B (no ICE) sends to the relayed address; the server relays between B and A, using ChannelData 0x4000 on A\'s side. The same RTP (SSRC, seq, payload) appears on both sides of the relay.',
      covers: 'TURN relay announced in candidates',
      calls: 1,
      streams: [
        { src: '10.20.1.10:16000', dst: '10.20.9.9:3478', ssrc: hex(a.ssrc), role: 'A -> TURN, ChannelData 0x4000' },
        { src: '10.20.9.9:50000', dst: '10.20.2.20:26000', ssrc: hex(a.ssrc), role: 'relay -> B, same RTP' },
        { src: '10.20.2.20:26000', dst: '10.20.9.9:50000', ssrc: hex(b.ssrc), role: 'B -> relayed address' },
        { src: '10.20.9.9:3478', dst: '10.20.1.10:16000', ssrc: hex(b.ssrc), role: 'TURN -> A, ChannelData 0x4000' },
      ],
      mustFind: [],
      mustNotFind: SILENT,
    },
  };
}

// ---------------------------------------------------------------- (g) conference mixer

function conferenceMixer(): Built {
  const cap = new Capture(baseTs(9));
  const { A, B, C } = hosts();
  const F = new Host('10.20.0.60');
  const people = [party(A, 'alice', 16000, 0x9a9a0001, 'aconf'), party(B, 'bob', 26000, 0x9b9b0001, 'bconf'), party(C, 'carol', 36000, 0x9c9c0001, 'cconf')];
  const mixerSsrc = [0xf0c50001, 0xf0c50002, 0xf0c50003];
  const SPEAKER = [2001, 2002, 2003];
  const SILENCE = 2999;
  const legs = people.map((p, k) => {
    const focus: Party = { host: F, ua: { user: 'conf1', ip: F.ip, port: 5060, tag: `focus${k}` }, rtpPort: 40000 + 2 * k, ssrc: mixerSsrc[k]!, seq0: 100 * (k + 1), ts0: 0x10000 * (k + 1) };
    const c = simpleCall(cap, {
      callId: `conf-${k + 1}@${p.host.ip}`,
      caller: p,
      callee: focus,
      t0: 0.1 + 0.2 * k,
      mediaSec: 0,
      callerStream: false,
      calleeStream: false,
      noBye: true,
      // RFC 4579 §5.1 / RFC 3840: the focus marks its Contact with isfocus.
      calleeContact: `<sip:conf1@${F.ip}:5060>;isfocus`,
    });
    return { p, focus, c };
  });
  const mediaStart = 1.0;
  const mediaEnd = 5.0;
  const packets = Math.round((mediaEnd - mediaStart) / 0.02);
  // Who talks: A for the first 2 s, B for the next 1.5 s, then nobody.
  const talking = (k: number, slot: number): boolean => {
    const t = slot * 0.02;
    if (k === 0) return t >= mediaStart && t < mediaStart + 2.0;
    if (k === 1) return t >= mediaStart + 2.0 && t < mediaStart + 3.5;
    return false;
  };
  people.forEach((p, k) => {
    sendStream(cap, { src: p.host, sport: p.rtpPort, dst: F, dport: 40000 + 2 * k, ssrc: p.ssrc, pt: 0, start: mediaStart + 0.003 * k, packets, seq0: p.seq0, ts0: p.ts0, speaker: SPEAKER[k] });
  });
  // The mixer's output to each participant: the others who talk (N-1 mix), 40 ms behind, CSRC = contributors.
  // With one talker the mix is that talker's own G.711 frame, so two participants get identical payloads.
  people.forEach((p, k) => {
    const contributors = (slot: number) => [0, 1, 2].filter((j) => j !== k && talking(j, slot - 2));
    sendStream(cap, {
      src: F, sport: 40000 + 2 * k, dst: p.host, dport: p.rtpPort, ssrc: mixerSsrc[k]!, pt: 0, start: mediaStart + 0.04, packets, seq0: 100 * (k + 1), ts0: 0x10000 * (k + 1),
      payload: (_i, slot) => {
        const who = contributors(slot);
        if (who.length === 0) return audioFrame(SILENCE, slot);
        if (who.length === 1) return audioFrame(SPEAKER[who[0]!]!, slot - 2);
        return audioFrame(SILENCE + 17 * who.reduce((x, y) => x + y + 1, 0), slot);
      },
      csrcs: (i) => contributors(Math.round((mediaStart + 0.04) / 0.02) + i).map((j) => people[j]!.ssrc),
    });
  });
  legs.forEach(({ p, focus }, k) => {
    const bye = inDialog('BYE', `conf-${k + 1}@${p.host.ip}`, p, focus, 2, `confB${k}`);
    sendSip(cap, mediaEnd + 0.05 + 0.01 * k, p.host, F, requestText(bye));
    sendSip(cap, mediaEnd + 0.053 + 0.01 * k, F, p.host, responseText(bye, 200, 'OK'));
  });
  return {
    cap,
    label: {
      description:
        'Conference: A, B and C each call the focus conf1@10.20.0.60 (Contact ;isfocus, RFC 4579), which mixes N-1 and sends each participant its own mixer stream with a CSRC list of the contributing sources (RFC 3550 §7.1). While one person talks, the two others receive that person\'s frames unchanged (40 ms later) with CSRC = the talker, so their payloads equal the talker\'s and each other\'s.',
      covers: 'conference mixer (isfocus, CSRC)',
      calls: 3,
      streams: [
        ...people.map((p, k) => ({ src: `${p.host.ip}:${p.rtpPort}`, dst: `10.20.0.60:${40000 + 2 * k}`, ssrc: hex(p.ssrc), role: `${p.ua.user} -> focus` })),
        ...people.map((p, k) => ({ src: `10.20.0.60:${40000 + 2 * k}`, dst: `${p.host.ip}:${p.rtpPort}`, ssrc: hex(mixerSsrc[k]!), role: `focus -> ${p.ua.user}, CSRC = talkers` })),
      ],
      mustFind: [],
      mustNotFind: SILENT,
    },
  };
}

// ---------------------------------------------------------------- (h) multicast paging

function multicastPaging(): Built {
  const cap = new Capture(baseTs(10));
  const { A, B } = hosts();
  const GROUP = '239.1.2.3';
  const a = party(A, 'pager', 16000, 0xa0a00001, 'apage');
  const b = party(B, 'paging-gw', 5004, 0, 'bpage');
  const offer = [{ port: 5004, fmts: [0], conn: `${GROUP}/16`, attrs: ['rtpmap:0 PCMU/8000', 'ptime:20', 'sendonly'] }];
  const answer = [{ port: 5004, fmts: [0], conn: `${GROUP}/16`, attrs: ['rtpmap:0 PCMU/8000', 'ptime:20', 'recvonly'] }];
  const call = simpleCall(cap, { callId: 'page-1@10.20.1.10', caller: a, callee: b, t0: 0.1, mediaSec: 4, offerMedia: offer, answerMedia: answer, callerStream: false, calleeStream: false });
  sendStream(cap, {
    src: A, sport: 16000, dst: GROUP, dport: 5004, ssrc: a.ssrc, pt: 0, start: call.mediaStart, packets: 200, seq0: a.seq0, ts0: a.ts0,
    frame: { ttl: 16, dstMac: multicastMac(GROUP) },
  });
  return {
    cap,
    label: {
      description:
        'Multicast paging: the pager A INVITEs the paging gateway; offer and answer give c=IN IP4 239.1.2.3/16, m=audio 5004 (sendonly / recvonly). A sends the page as RTP to 239.1.2.3:5004 (TTL 16, multicast MAC 01:00:5e:01:02:03) for 4 s. No paging group is configured in the policy.',
      covers: 'multicast paging',
      calls: 1,
      streams: [{ src: '10.20.1.10:16000', dst: '239.1.2.3:5004', ssrc: hex(a.ssrc), role: 'page to the multicast group' }],
      mustFind: [],
      mustNotFind: SILENT,
    },
  };
}

// ---------------------------------------------------------------- (i) SSRC collisions

function ssrcCollision(): Built {
  const cap = new Capture(baseTs(11));
  const { A, B, C, D } = hosts();
  const SAME = 0x1234abcd;
  const OTHER = 0x55aa55aa;
  const a = party(A, 'alice', 16000, SAME, 'acoll');
  const b = party(B, 'bob', 26000, OTHER, 'bcoll');
  const c = { ...party(C, 'carol', 36000, SAME, 'ccoll'), seq0: 0x2f00, ts0: 0x0badcafe };
  const d = { ...party(D, 'dave', 46000, OTHER, 'dcoll'), seq0: 0x7100, ts0: 0x00c0ffee };
  simpleCall(cap, { callId: 'coll-1@10.20.1.10', caller: a, callee: b, t0: 0.1, mediaSec: 4, callerStream: { speaker: 3001 }, calleeStream: { speaker: 3002 } });
  simpleCall(cap, { callId: 'coll-2@10.20.3.30', caller: c, callee: d, t0: 0.35, mediaSec: 4, callerStream: { speaker: 3003 }, calleeStream: { speaker: 3004 } });
  return {
    cap,
    label: {
      description:
        'Two unrelated concurrent calls, A -> B and C -> D, whose streams collide on SSRC: A and C both send SSRC 0x1234abcd, B and D both send 0x55aa55aa (different seq/timestamp bases and different audio).',
      covers: 'SSRC collision on unrelated flows',
      calls: 2,
      streams: [
        { src: '10.20.1.10:16000', dst: '10.20.2.20:26000', ssrc: hex(SAME), role: 'call 1 A->B' },
        { src: '10.20.2.20:26000', dst: '10.20.1.10:16000', ssrc: hex(OTHER), role: 'call 1 B->A' },
        { src: '10.20.3.30:36000', dst: '10.20.4.40:46000', ssrc: hex(SAME), role: 'call 2 C->D' },
        { src: '10.20.4.40:46000', dst: '10.20.3.30:36000', ssrc: hex(OTHER), role: 'call 2 D->C' },
      ],
      mustFind: [],
      mustNotFind: SILENT,
    },
  };
}

/** Two concurrent sipp-style calls replaying the same audio file: same SSRC, seq, timestamps and payload, 0.4 s apart. */
function sameAudioTwoCalls(): Built {
  const cap = new Capture(baseTs(12));
  const { A, B, C, D } = hosts();
  const FILE_SSRC = 0xdee0ee8f; // the SSRC in sipp's g711a.pcap
  const TONE_SSRC = 0xca110000; // sipp rtp_stream's fixed SSRC
  const file = (i: number) => audioFrame(4001, i); // the i-th frame of the file, whenever it is played
  const tone = (i: number) => audioFrame(4002, i);
  const mk = (h: Host, user: string, port: number, ssrc: number, tag: string): Party => ({ ...party(h, user, port, ssrc, tag), seq0: 0x1d2e, ts0: 0x3c4d5e6f });
  simpleCall(cap, { callId: '1-4711@10.20.1.10', caller: mk(A, 'sipp', 6000, FILE_SSRC, 'u1'), callee: mk(B, 'service', 6000, TONE_SSRC, 's1'), t0: 0.1, mediaSec: 4, pt: 8, callerStream: { payload: file }, calleeStream: { payload: tone } });
  simpleCall(cap, { callId: '2-4711@10.20.3.30', caller: mk(C, 'sipp', 6000, FILE_SSRC, 'u2'), callee: mk(D, 'service', 6000, TONE_SSRC, 's2'), t0: 0.5, mediaSec: 4, pt: 8, callerStream: { payload: file }, calleeStream: { payload: tone } });
  return {
    cap,
    label: {
      description:
        'Two unrelated concurrent calls made the way sipp load tests make them: each caller replays the same audio file (SSRC 0xdee0ee8f, same seq/timestamp bases, same PCMA payloads) and each callee plays the same tone with rtp_stream (SSRC 0xca110000). Call 2 starts 0.4 s after call 1, so its streams are byte-identical RTP (header and payload) to call 1\'s, 0.4 s later, between different hosts; every flow is signalled by its own call.',
      covers: 'SSRC collision on unrelated flows (identical replayed media)',
      calls: 2,
      streams: [
        { src: '10.20.1.10:6000', dst: '10.20.2.20:6000', ssrc: hex(FILE_SSRC), role: 'call 1 caller, audio file' },
        { src: '10.20.2.20:6000', dst: '10.20.1.10:6000', ssrc: hex(TONE_SSRC), role: 'call 1 callee, tone' },
        { src: '10.20.3.30:6000', dst: '10.20.4.40:6000', ssrc: hex(FILE_SSRC), role: 'call 2 caller, same audio file 0.4 s later' },
        { src: '10.20.4.40:6000', dst: '10.20.3.30:6000', ssrc: hex(TONE_SSRC), role: 'call 2 callee, same tone 0.4 s later' },
      ],
      mustFind: [],
      mustNotFind: SILENT,
    },
  };
}

// ---------------------------------------------------------------- (j) SPAN doubles

/** A capture that records every frame twice, as a SPAN session mirroring both ports' directions of a switch does. */
class SwitchSpanCapture extends Capture {
  override add(t: number, frame: Buffer): void {
    super.add(t, frame);
    super.add(t + 0.000012, frame);
  }
}

function spanSwitchDoubles(): Built {
  const cap = new SwitchSpanCapture(baseTs(13));
  const { A, B } = hosts();
  const a = party(A, 'alice', 16000, 0xd0d00001, 'asw');
  const b = party(B, 'bob', 26000, 0xd0d00002, 'bsw');
  simpleCall(cap, { callId: 'span-sw-1@10.20.1.10', caller: a, callee: b, t0: 0.1, mediaSec: 4 });
  return {
    cap,
    label: {
      description:
        'Plain G.711 call A -> B on one switch; the SPAN session mirrors rx and tx of both access ports, so every frame is captured twice, 12 µs apart, byte-identical (same MACs, TTL, IP ID, checksums).',
      covers: 'SPAN doubles at a switch',
      calls: 1,
      spanDoubles: true,
      streams: [
        { src: '10.20.1.10:16000', dst: '10.20.2.20:26000', ssrc: hex(a.ssrc), role: 'A->B (each frame twice)' },
        { src: '10.20.2.20:26000', dst: '10.20.1.10:16000', ssrc: hex(b.ssrc), role: 'B->A (each frame twice)' },
      ],
      mustFind: [],
      mustNotFind: SILENT,
    } as Built['label'],
  };
}

const ROUTER_MAC = (net: number) => mac(`02:00:00:00:${net.toString(16).padStart(2, '0')}:01`);

/**
 * A router between 10.20.1.0/24 and 10.20.2.0/24 with SPAN on ingress and egress of both ports:
 * each packet appears as received (sender's MAC -> router, TTL 64) and as forwarded (router -> next hop, TTL 63, same IP ID).
 */
class RouterSpanCapture extends Capture {
  override add(t: number, frame: Buffer): void {
    const srcNet = frame[14 + 12 + 2]!;
    const dstNet = frame[14 + 16 + 2]!;
    const ingress = Buffer.from(frame);
    ingress.set(ROUTER_MAC(srcNet), 0);
    super.add(t, ingress);
    super.add(t + 0.000031, forwarded(ingress, ROUTER_MAC(dstNet), frame.subarray(0, 6)));
  }
}

function spanRouterDoubles(): Built {
  const cap = new RouterSpanCapture(baseTs(14));
  const { A, B } = hosts();
  const a = party(A, 'alice', 16000, 0xd1d10001, 'art');
  const b = party(B, 'bob', 26000, 0xd1d10002, 'brt');
  simpleCall(cap, { callId: 'span-rt-1@10.20.1.10', caller: a, callee: b, t0: 0.1, mediaSec: 4 });
  return {
    cap,
    label: {
      description:
        'Plain G.711 call A (10.20.1.10) -> B (10.20.2.20) through a router (ports 02:00:00:00:01:01 and 02:00:00:00:02:01); SPAN mirrors ingress and egress of both ports, so every packet is captured twice: as received (sender MAC -> router MAC, TTL 64) and 31 µs later as forwarded (router MAC -> next-hop MAC, TTL 63, same IP ID and UDP checksum, IPv4 header checksum updated).',
      covers: 'SPAN doubles at a router',
      calls: 1,
      spanDoubles: true,
      streams: [
        { src: '10.20.1.10:16000', dst: '10.20.2.20:26000', ssrc: hex(a.ssrc), role: 'A->B (ingress TTL 64 + egress TTL 63)' },
        { src: '10.20.2.20:26000', dst: '10.20.1.10:16000', ssrc: hex(b.ssrc), role: 'B->A (ingress TTL 64 + egress TTL 63)' },
      ],
      mustFind: [],
      mustNotFind: SILENT,
    } as Built['label'],
  };
}

// ---------------------------------------------------------------- (k) long call with loss and jitter

function longCallLossJitter(): Built {
  const cap = new Capture(baseTs(15));
  const { A, B } = hosts();
  const a = party(A, 'alice', 16000, 0xe1e10001, 'along');
  const b = party(B, 'bob', 26000, 0xe1e10002, 'blong');
  const rnd = new Xorshift32(15);
  const lossA = new Set<number>();
  const lossB = new Set<number>();
  const N = 24 * 50;
  for (let i = 1; i < N; i++) {
    if (rnd.float() < 0.02) lossA.add(i);
    if (rnd.float() < 0.015) lossB.add(i);
  }
  for (let i = 600; i < 612; i++) lossA.add(i); // a 240 ms burst
  // Network jitter up to ±14 ms (a few packets arrive out of order), with a 60 ms delay spike around packet 900.
  const jitter = Array.from({ length: N }, () => (rnd.float() - 0.5) * 0.028);
  for (let i = 900; i < 915; i++) jitter[i] = jitter[i]! + 0.06 * (1 - (i - 900) / 15);
  const G729 = [{ port: 0, fmts: [18, 0, 101], attrs: ['rtpmap:18 G729/8000', 'fmtp:18 annexb=no', 'rtpmap:0 PCMU/8000', 'rtpmap:101 telephone-event/8000', 'fmtp:101 0-16', 'ptime:20', 'sendrecv'] }];
  const media = (p: Party) => [{ ...G729[0]!, port: p.rtpPort }];
  // DTMF "42#" from B (RFC 4733): event packets replace audio for 100 ms per digit, same timestamp, E bit on the last 3.
  const dtmfAt = [300, 330, 360];
  const digit = [4, 2, 11];
  const dtmf = (i: number) => {
    for (let k = 0; k < dtmfAt.length; k++) {
      const j = i - dtmfAt[k]!;
      if (j >= 0 && j < 8) {
        const end = j >= 5;
        const dur = Math.min(j + 1, 6) * 160;
        return { pt: 101, payload: Buffer.of(digit[k]!, (end ? 0x80 : 0) | 10, (dur >>> 8) & 0xff, dur & 0xff), rtpTs: (b.ts0 + dtmfAt[k]! * 160) >>> 0, marker: j === 0 };
      }
    }
    return null;
  };
  const call = simpleCall(cap, {
    callId: 'long-1@10.20.1.10',
    caller: a,
    callee: b,
    t0: 0.1,
    mediaSec: N * 0.02,
    pt: 18,
    offerMedia: media(a),
    answerMedia: [{ ...G729[0]!, port: b.rtpPort, fmts: [18, 101], attrs: G729[0]!.attrs.filter((x) => !x.includes('PCMU')) }],
    callerStream: { lost: (i) => lossA.has(i), delay: (i) => jitter[i]!, payloadLen: 20, speaker: 5001 },
    calleeStream: { lost: (i) => lossB.has(i), delay: (i) => jitter[(i * 7) % N]! * 0.5, payloadLen: 20, speaker: 5002, event: dtmf },
  });
  sendRtcpReports(cap, { src: A, sport: 16001, dst: B, dport: 26001, ssrc: a.ssrc, cname: 'alice@10.20.1.10', start: call.mediaStart, end: call.mediaEnd, every: 5, peerSsrc: b.ssrc });
  sendRtcpReports(cap, { src: B, sport: 26001, dst: A, dport: 16001, ssrc: b.ssrc, cname: 'bob@10.20.2.20', start: call.mediaStart, end: call.mediaEnd, every: 5, peerSsrc: a.ssrc });
  return {
    cap,
    label: {
      description:
        'A 24 s G.729 call A -> B (20-byte frames, 50 packets/s each way) over a bad network: about 2% random loss plus a 240 ms burst on A->B, 1.5% on B->A, ±14 ms jitter with some reordering and a 60 ms delay spike; RTCP SR every 5 s each way.',
      covers: 'long normal call with loss and jitter',
      calls: 1,
      streams: [
        { src: '10.20.1.10:16000', dst: '10.20.2.20:26000', ssrc: hex(a.ssrc), role: 'A->B G.729, lossy' },
        { src: '10.20.2.20:26000', dst: '10.20.1.10:16000', ssrc: hex(b.ssrc), role: 'B->A G.729, lossy' },
      ],
      mustFind: [],
      mustNotFind: SILENT,
    },
  };
}

// ---------------------------------------------------------------- registry

export const SILENT_SCENARIOS: SyntheticScenario[] = [
  { name: 'silent_dup_ssrc_group', build: dupSsrcGroup },
  { name: 'silent_dup_group_mid', build: dupGroupMid },
  { name: 'silent_rtx_red', build: rtxRed },
  { name: 'silent_fork_early_media', build: forkEarlyMedia },
  { name: 'silent_hold_resume_update', build: holdResumeUpdate },
  { name: 'silent_transfer_refer_replaces', build: transferReferReplaces },
  { name: 'silent_sbc_anchoring', build: sbcAnchoring },
  { name: 'silent_turn_relay', build: turnRelay },
  { name: 'silent_conference_mixer', build: conferenceMixer },
  { name: 'silent_multicast_paging', build: multicastPaging },
  { name: 'silent_ssrc_collision', build: ssrcCollision },
  { name: 'silent_same_audio_two_calls', build: sameAudioTwoCalls },
  { name: 'silent_span_switch_doubles', build: spanSwitchDoubles },
  { name: 'silent_span_router_doubles', build: spanRouterDoubles },
  { name: 'silent_long_call_loss_jitter', build: longCallLossJitter },
];
