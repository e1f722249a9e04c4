/**
 * One direct SIP call between two user agents over UDP (RFC 3261 §13 / §15:
 * INVITE, 100, 180, 200 with the SDP answer, ACK, media both ways, BYE, 200),
 * with hooks so a scenario can change the SDP, add headers, copy or divert
 * the media, or keep the dialog open for re-INVITEs.
 */
import { Capture, Host, fragmentFrame, udpFrame } from './capture.js';
import { sendStream, type SentPacket, type StreamResult, type StreamSpec } from './rtp.js';
import { audio, nameAddr, requestText, responseText, sdp, uri, via, type MediaLine, type SipRequest, type Ua } from './sip-text.js';

export interface Party {
  host: Host;
  ua: Ua;
  rtpPort: number;
  ssrc: number;
  /** RTP sequence / timestamp start (random-looking, fixed). */
  seq0: number;
  ts0: number;
}

export function party(host: Host, user: string, rtpPort: number, ssrc: number, tag: string): Party {
  return {
    host,
    ua: { user, ip: host.ip, port: 5060, tag },
    rtpPort,
    ssrc,
    seq0: (ssrc >>> 7) & 0x7fff,
    ts0: Math.imul(ssrc, 2654435761) >>> 0,
  };
}

export interface SimpleCallOptions {
  callId: string;
  caller: Party;
  callee: Party;
  /** Relative time of the INVITE. */
  t0: number;
  /** Seconds of media after the 200 OK. */
  mediaSec: number;
  pt?: number;
  /** m= lines of the offer / answer (default: one audio line with pt and 101). */
  offerMedia?: MediaLine[];
  answerMedia?: MediaLine[];
  offerSessionAttrs?: string[];
  /** Session-level c= of the offer / answer (default the party's host address). */
  offerConn?: string;
  answerConn?: string;
  answerSessionAttrs?: string[];
  inviteExtra?: string[];
  /** Contact of the callee's responses (default <its URI>), e.g. a focus's "<sip:conf@host>;isfocus". */
  calleeContact?: string;
  okExtra?: string[];
  /** Overrides of each direction's stream (onPacket for copies, lost, ...). false = no media that way. */
  callerStream?: Partial<StreamSpec> | false;
  calleeStream?: Partial<StreamSpec> | false;
  /** Send no BYE (the scenario ends the call itself). */
  noBye?: boolean;
  /** Ring time before the 200 (s, default 0.4). */
  ringSec?: number;
}

export interface SimpleCallResult {
  invite: SipRequest;
  answerTime: number;
  mediaStart: number;
  mediaEnd: number;
  byeTime: number | null;
  caller: StreamResult | null;
  callee: StreamResult | null;
  /** Next CSeq the caller should use in this dialog. */
  nextCseq: number;
}

/** One SIP message over UDP; above the 1500-byte MTU it travels as IPv4 fragments (RFC 3261 §18.1.1 allows it for UDP). */
export function sendSip(cap: Capture, t: number, from: Host, to: Host | string, text: string, sport = 5060, dport = 5060): void {
  fragmentFrame(udpFrame(from, sport, to, dport, Buffer.from(text, 'utf8'))).forEach((f, k) => cap.add(t + k * 0.000005, f));
}

/** An in-dialog request from `from` to `to` (both Parties of a confirmed dialog). */
export function inDialog(method: string, callId: string, from: Party, to: Party, cseq: number, branch: string, extra: string[] = [], body?: string, contentType?: string): SipRequest {
  return {
    method,
    ruri: uri(to.ua),
    vias: [via(from.host.ip, from.ua.port, branch)],
    maxForwards: 70,
    from: nameAddr(from.ua),
    to: nameAddr(to.ua),
    callId,
    cseq,
    contact: `<${uri(from.ua)}>`,
    extra,
    body,
    contentType,
  };
}

export function defaultAudio(p: Party, pt: number, direction = 'sendrecv'): MediaLine {
  return audio(p.rtpPort, [pt, 101], [], direction);
}

export function simpleCall(cap: Capture, o: SimpleCallOptions): SimpleCallResult {
  const pt = o.pt ?? 0;
  const a = o.caller;
  const b = o.callee;
  const offer = sdp({ user: a.ua.user, sessId: a.ssrc % 100000, origin: a.host.ip, conn: o.offerConn ?? a.host.ip, sessionAttrs: o.offerSessionAttrs, media: o.offerMedia ?? [defaultAudio(a, pt)] });
  const answer = sdp({ user: b.ua.user, sessId: b.ssrc % 100000, origin: b.host.ip, conn: o.answerConn ?? b.host.ip, sessionAttrs: o.answerSessionAttrs, media: o.answerMedia ?? [defaultAudio(b, pt)] });
  const invite: SipRequest = {
    method: 'INVITE',
    ruri: `sip:${b.ua.user}@${b.host.ip}:${b.ua.port}`,
    vias: [via(a.host.ip, a.ua.port, `${o.callId.slice(0, 6)}inv`)],
    maxForwards: 70,
    from: nameAddr(a.ua),
    to: nameAddr(b.ua, false),
    callId: o.callId,
    cseq: 1,
    contact: `<${uri(a.ua)}>`,
    extra: ['Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, REFER, NOTIFY', ...(o.inviteExtra ?? [])],
    body: offer,
  };
  const ring = o.ringSec ?? 0.4;
  const calleeContact = o.calleeContact ?? `<${uri(b.ua)}>`;
  sendSip(cap, o.t0, a.host, b.host, requestText(invite), a.ua.port, b.ua.port);
  sendSip(cap, o.t0 + 0.002, b.host, a.host, responseText(invite, 100, 'Trying'), b.ua.port, a.ua.port);
  sendSip(cap, o.t0 + 0.05, b.host, a.host, responseText(invite, 180, 'Ringing', { toTag: b.ua.tag, contact: calleeContact }), b.ua.port, a.ua.port);
  const answerTime = o.t0 + ring;
  sendSip(cap, answerTime, b.host, a.host, responseText(invite, 200, 'OK', { toTag: b.ua.tag, contact: calleeContact, body: answer, extra: o.okExtra }), b.ua.port, a.ua.port);
  const ack = inDialog('ACK', o.callId, a, b, 1, `${o.callId.slice(0, 6)}ack`);
  sendSip(cap, answerTime + 0.004, a.host, b.host, requestText(ack), a.ua.port, b.ua.port);

  const mediaStart = answerTime + 0.02;
  const packets = Math.round(o.mediaSec / 0.02);
  const mediaEnd = mediaStart + o.mediaSec;
  const callerStream =
    o.callerStream === false
      ? null
      : sendStream(cap, { src: a.host, sport: a.rtpPort, dst: b.host, dport: b.rtpPort, ssrc: a.ssrc, pt, start: mediaStart + 0.006, packets, seq0: a.seq0, ts0: a.ts0, ...(o.callerStream ?? {}) });
  const calleeStream =
    o.calleeStream === false
      ? null
      : sendStream(cap, { src: b.host, sport: b.rtpPort, dst: a.host, dport: a.rtpPort, ssrc: b.ssrc, pt, start: mediaStart, packets, seq0: b.seq0, ts0: b.ts0, ...(o.calleeStream ?? {}) });
  let byeTime: number | null = null;
  if (!o.noBye) {
    byeTime = mediaEnd + 0.03;
    const bye = inDialog('BYE', o.callId, a, b, 2, `${o.callId.slice(0, 6)}bye`);
    sendSip(cap, byeTime, a.host, b.host, requestText(bye), a.ua.port, b.ua.port);
    sendSip(cap, byeTime + 0.003, b.host, a.host, responseText(bye, 200, 'OK'), b.ua.port, a.ua.port);
  }
  return { invite, answerTime, mediaStart, mediaEnd, byeTime, caller: callerStream, callee: calleeStream, nextCseq: 2 };
}

export type { SentPacket };
