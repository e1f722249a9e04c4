/**
 * The call table: SIP dialogs by Call-ID, their state machine (RFC 3261
 * §13-§15: INVITE, 1xx, 2xx, ACK, BYE, CANCEL; re-INVITE and UPDATE, RFC 3311;
 * REFER, RFC 3515) and the media endpoints each party announced in SDP.
 *
 * It consumes parsed SIP messages (never raw bytes) and emits call_started,
 * call_updated and call_ended. Ended calls linger for `lingerSec` so that
 * retransmissions and the last media packets still find their call.
 */
import type { SipMessage } from '../app/sip/sip-message.js';
import { getSdpBodies } from '../app/sip/sip-parser.js';
import type { EventEmitter } from '../events/emitter.js';
import type { WeirdCounters } from '../decode/weird.js';
import type { MediaOffer } from '../events/types.js';
import { Call } from './call.js';
import { ExpectationTable } from './expectations.js';
import { describeSdp } from './sdp-media.js';
import type { SdpObservation } from '../detect/observations.js';

export interface CallTableOptions {
  maxCalls: number;
  /** A call with no SIP and no media for this long is ended as 'timeout'. */
  idleTimeoutSec: number;
  /** An unanswered call is given up after this long (RFC 3261 Timer B/C are 32 s / 3 min). */
  setupTimeoutSec: number;
  /** How long an ended call stays findable for retransmissions and trailing media. */
  lingerSec: number;
  /** Max SDP snapshots kept per call. */
  maxMediaPerCall: number;
}

/** Longest Call-ID tracked (the event schemas' maxLength). */
export const MAX_CALL_ID_LENGTH = 512;

export const DEFAULT_CALL_TABLE_OPTIONS: CallTableOptions = {
  maxCalls: 100_000,
  idleTimeoutSec: 600,
  setupTimeoutSec: 240,
  lingerSec: 32,
  maxMediaPerCall: 32,
};

/** Where a SIP message travelled; formatted once per message. */
export interface SipContext {
  ts: number;
  src: string;
  dst: string;
  srcIp: string;
  dstIp: string;
  transport: string;
}

/** Who wants to know about SDP and ended calls (the detection engine). */
export interface CallListener {
  sdp(o: SdpObservation): void;
  callEnded(call: Call): void;
}

export class CallTable {
  readonly calls = new Map<string, Call>();
  /** Whether the last message given to onSipMessage was a retransmission. */
  lastWasRetransmission = false;
  listener: CallListener | null = null;
  /** The message being processed, for SDP observations. */
  private current: { msg: SipMessage; ctx: SipContext } | null = null;
  readonly expectations: ExpectationTable;
  readonly stats = { messages: 0, requests: 0, responses: 0, retransmissions: 0, inviteDialogs: 0 };
  readonly evictions = { idle: 0, full: 0 };
  /** Distinct Call-IDs of any SIP message (REGISTER, OPTIONS...), capped to stay bounded. */
  private readonly callIdsSeen = new Set<string>();
  private callIdOverflow = 0;
  private readonly inviteCallIdsSeen = new Set<string>();
  private inviteCallIdOverflow = 0;
  private static readonly MAX_CALL_IDS_TRACKED = 200_000;
  private readonly opts: CallTableOptions;

  constructor(
    private readonly events: EventEmitter,
    opts: Partial<CallTableOptions> = {},
    private readonly weirds: WeirdCounters | null = null,
  ) {
    this.opts = { ...DEFAULT_CALL_TABLE_OPTIONS, ...opts };
    this.expectations = new ExpectationTable();
  }

  get distinctCallIds(): number {
    return this.callIdsSeen.size + this.callIdOverflow;
  }

  /** Distinct Call-IDs that carried an INVITE (tshark's "INVITE calls"), capped like callIdsSeen. */
  get distinctInviteCallIds(): number {
    return this.inviteCallIdsSeen.size + this.inviteCallIdOverflow;
  }

  onSipMessage(msg: SipMessage, ctx: SipContext): Call | undefined {
    this.stats.messages++;
    if (msg.kind === 'request') this.stats.requests++;
    else this.stats.responses++;
    const callId = msg.callId;
    if (!callId) return undefined;
    // RFC 3261 sets no limit, but a Call-ID longer than the event contract's
    // 512 characters is not a real one; it would only make invalid events.
    if (callId.length > MAX_CALL_ID_LENGTH) {
      this.weirds?.weird('sip_call_id_too_long');
      return undefined;
    }
    if (!this.callIdsSeen.has(callId)) {
      if (this.callIdsSeen.size < CallTable.MAX_CALL_IDS_TRACKED) this.callIdsSeen.add(callId);
      else this.callIdOverflow++;
    }

    let call = this.calls.get(callId);
    const isInvite = msg.kind === 'request' && msg.method === 'INVITE';
    if (isInvite && !this.inviteCallIdsSeen.has(callId)) {
      if (this.inviteCallIdsSeen.size < CallTable.MAX_CALL_IDS_TRACKED) this.inviteCallIdsSeen.add(callId);
      else this.inviteCallIdOverflow++;
    }
    if (!call) {
      // Only an INVITE creates a call; REGISTER, OPTIONS and out-of-dialog
      // requests are counted but not tracked.
      if (!isInvite || (msg.to?.tag ?? '') !== '') {
        // An in-dialog re-INVITE for a call we never saw start still creates it,
        // because its SDP tells us where media goes.
        if (!isInvite) return undefined;
      }
      call = this.createCall(callId, msg, ctx);
      if (!call) return undefined;
    }

    this.lastWasRetransmission = false;
    if (this.isRetransmission(call, msg)) {
      this.lastWasRetransmission = true;
      this.stats.retransmissions++;
      call.sipMessages++;
      call.lastSipTs = ctx.ts;
      return call;
    }
    call.sipMessages++;
    call.lastSipTs = ctx.ts;
    this.recordHops(call, msg, ctx);

    this.current = { msg, ctx };
    if (msg.kind === 'request') this.onRequest(call, msg, ctx);
    else this.onResponse(call, msg, ctx);
    this.current = null;
    return call;
  }

  private createCall(callId: string, msg: SipMessage, ctx: SipContext): Call | undefined {
    if (this.calls.size >= this.opts.maxCalls) {
      // Evict the call idle the longest (Map order is creation order; good enough
      // as an approximation and O(1)).
      const first = this.calls.values().next();
      if (!first.done) {
        this.evictions.full++;
        this.endCall(first.value, 'evicted', ctx.ts);
        this.removeCall(first.value);
      }
    }
    const call = new Call(callId, ctx.ts);
    call.callerTag = msg.from?.tag ?? '';
    call.fromUri = msg.from?.uri ?? '';
    call.toUri = msg.to?.uri ?? '';
    call.transport = ctx.transport;
    call.src = ctx.src;
    call.dst = ctx.dst;
    if (msg.to?.tag) {
      // Mid-dialog INVITE: the call was already answered before capture started.
      call.calleeTags.add(msg.to.tag);
      call.state = 'confirmed';
    }
    this.calls.set(callId, call);
    this.stats.inviteDialogs++;
    this.events.emit({
      type: 'call_started',
      ts: ctx.ts,
      callId,
      from: call.fromUri,
      to: call.toUri,
      transport: ctx.transport,
      src: ctx.src,
      dst: ctx.dst,
    });
    return call;
  }

  /**
   * RFC 3261 §17: a retransmission repeats the transaction (Via branch, CSeq)
   * and, for responses, the status code. Keys are bounded per call.
   */
  private isRetransmission(call: Call, msg: SipMessage): boolean {
    const branch = msg.vias[0]?.branch ?? '';
    const cseq = msg.cseq ? `${msg.cseq.seq} ${msg.cseq.method}` : '';
    const key =
      msg.kind === 'request'
        ? `q|${msg.method}|${branch}|${cseq}|${msg.from?.tag ?? ''}`
        : `s|${msg.statusCode}|${branch}|${cseq}|${msg.to?.tag ?? ''}`;
    if (call.seenMessages.has(key)) return true;
    if (call.seenMessages.size < 512) call.seenMessages.add(key);
    return false;
  }

  private recordHops(call: Call, msg: SipMessage, ctx: SipContext): void {
    if (call.hops.size > 256) return;
    // Senders are hops; a destination becomes one only when it is named in a
    // header or sends in the dialog itself — so a host that only ever receives
    // copies never joins (see the signaling-copy heuristic).
    call.hops.add(ctx.srcIp);
    call.dsts.add(ctx.dstIp);
    for (const v of msg.vias) {
      call.hops.add(v.host);
      if (v.received) call.hops.add(v.received);
    }
    for (const c of msg.contacts) addUriHost(call.hops, c.uri);
    for (const r of msg.recordRoutes) addUriHost(call.hops, r);
    for (const r of msg.routes) addUriHost(call.hops, r);
    if (msg.kind === 'request') addUriHost(call.hops, msg.requestUri);
  }

  private partyOfRequest(call: Call, msg: SipMessage): 'caller' | 'callee' {
    return (msg.from?.tag ?? '') === call.callerTag ? 'caller' : 'callee';
  }

  private onRequest(call: Call, msg: SipMessage, ctx: SipContext): void {
    const party = this.partyOfRequest(call, msg);
    switch (msg.method) {
      case 'INVITE': {
        const reinvite = call.state === 'confirmed' || (msg.to?.tag ?? '') !== '';
        const offers = this.takeSdp(call, msg, party, 'offer', ctx.ts);
        call.pendingOfferFrom = offers.length ? null : party;
        if (reinvite) this.update(call, 'reinvite', null, offers, ctx.ts);
        else if (offers.length) this.update(call, 'sdp', null, offers, ctx.ts);
        break;
      }
      case 'UPDATE': {
        const offers = this.takeSdp(call, msg, party, 'offer', ctx.ts);
        this.update(call, 'update', null, offers, ctx.ts);
        break;
      }
      case 'ACK': {
        // RFC 3264 §4: when the INVITE had no offer, the ACK carries the answer.
        const answers = this.takeSdp(call, msg, party, 'answer', ctx.ts);
        if (answers.length) this.update(call, 'sdp', null, answers, ctx.ts);
        break;
      }
      case 'PRACK': {
        const sdp = this.takeSdp(call, msg, party, 'answer', ctx.ts);
        if (sdp.length) this.update(call, 'sdp', null, sdp, ctx.ts);
        break;
      }
      case 'REFER':
        this.update(call, 'refer', null, [], ctx.ts);
        break;
      case 'BYE':
        this.endCall(call, 'bye', ctx.ts);
        break;
      case 'CANCEL':
        if (call.state === 'trying' || call.state === 'early') call.endReason = 'cancel';
        break;
      default:
        break;
    }
  }

  private onResponse(call: Call, msg: SipMessage, ctx: SipContext): void {
    const method = msg.cseq?.method ?? '';
    const code = msg.statusCode;
    if (method !== 'INVITE' && method !== 'UPDATE' && method !== 'PRACK') return;
    // The response's From tag is the requester's: a response to the caller's
    // request was sent by the callee, and vice versa.
    const party: 'caller' | 'callee' = (msg.from?.tag ?? '') === call.callerTag ? 'callee' : 'caller';
    const role = call.pendingOfferFrom && method === 'INVITE' && code >= 200 && code < 300 ? 'offer' : 'answer';
    if (method !== 'INVITE') {
      const sdp = this.takeSdp(call, msg, party, 'answer', ctx.ts);
      if (sdp.length) this.update(call, 'sdp', code, sdp, ctx.ts);
      return;
    }
    if (code >= 100 && code < 200) {
      if (msg.to?.tag) call.calleeTags.add(msg.to.tag);
      const sdp = code === 100 ? [] : this.takeSdp(call, msg, party, role, ctx.ts);
      if (code !== 100 && call.state === 'trying') {
        call.state = 'early';
        this.update(call, sdp.length ? 'early_media' : 'provisional', code, sdp, ctx.ts);
      } else if (sdp.length) {
        this.update(call, 'early_media', code, sdp, ctx.ts);
      }
    } else if (code >= 200 && code < 300) {
      if (msg.to?.tag) call.calleeTags.add(msg.to.tag);
      const sdp = this.takeSdp(call, msg, party, role, ctx.ts);
      if (call.state !== 'confirmed') {
        call.state = 'confirmed';
        call.answerTs = ctx.ts;
        this.update(call, 'answered', code, sdp, ctx.ts);
      } else if (sdp.length) {
        this.update(call, 'sdp', code, sdp, ctx.ts);
      }
    } else if (code >= 300) {
      if (call.state === 'confirmed') return; // a failed re-INVITE leaves the call up (RFC 3261 §14.1)
      // RFC 3261 §22.2: after 401/407 the UAC retries the INVITE with credentials
      // and the same Call-ID; the call is not over. If no retry comes, the setup
      // timeout ends it.
      if (code === 401 || code === 407) {
        call.finalStatus = code;
        return;
      }
      call.finalStatus = code;
      const reason = code === 487 || call.endReason === 'cancel' ? 'cancel' : 'rejected';
      this.endCall(call, reason, ctx.ts);
    }
  }

  private takeSdp(call: Call, msg: SipMessage, party: 'caller' | 'callee', role: 'offer' | 'answer', ts: number): MediaOffer[] {
    const bodies = getSdpBodies(msg);
    if (bodies.length === 0) return [];
    const out: MediaOffer[] = [];
    for (const text of bodies) {
      const described = describeSdp(text, role, party, ts);
      if (this.listener && described.sdp && this.current) {
        const { msg: m, ctx } = this.current;
        this.listener.sdp({
          ts,
          call,
          party,
          role,
          sdp: described.sdp,
          offers: described.offers,
          src: ctx.src,
          dst: ctx.dst,
          transport: ctx.transport,
          method: m.kind === 'request' ? m.method : (m.cseq?.method ?? ''),
          statusCode: m.statusCode,
        });
      }
      for (const ep of described.endpoints) {
        this.expectations.add(ep.key, {
          call,
          party,
          media: ep.media,
          proto: ep.proto,
          secure: ep.secure,
          kind: ep.kind,
          clockRates: ep.clockRates,
          ts,
        });
      }
      for (const o of described.offers) {
        out.push(o);
        if (call.media.length >= this.opts.maxMediaPerCall) call.media.shift();
        call.media.push(o);
      }
    }
    return out;
  }

  private update(call: Call, reason: string, statusCode: number | null, media: MediaOffer[], ts: number): void {
    this.events.emit({ type: 'call_updated', ts, callId: call.callId, state: call.state, reason, statusCode, media });
  }

  private endCall(call: Call, reason: string, ts: number): void {
    if (call.ended) return;
    call.ended = true;
    this.listener?.callEnded(call);
    call.endTs = ts;
    call.endReason = reason;
    if (reason === 'bye') call.state = 'terminated';
    else if (reason === 'cancel') call.state = 'cancelled';
    else if (reason === 'rejected') call.state = 'failed';
    else if (call.state === 'confirmed') call.state = 'terminated';
    this.events.emit({
      type: 'call_ended',
      ts,
      callId: call.callId,
      state: call.state,
      reason,
      finalStatus: call.finalStatus,
      startTs: call.startTs,
      answerTs: call.answerTs,
      durationSec: call.answerTs !== null ? Math.max(0, ts - call.answerTs) : 0,
      sipMessages: call.sipMessages,
    });
  }

  private removeCall(call: Call): void {
    this.calls.delete(call.callId);
    this.expectations.removeCall(call);
  }

  /** Housekeeping by capture time: end idle calls, drop ended calls after their linger. */
  expire(now: number): void {
    for (const call of this.calls.values()) {
      if (call.ended) {
        if (now - (call.endTs ?? now) >= this.opts.lingerSec && now - call.lastActivity() >= this.opts.lingerSec) {
          this.removeCall(call);
        }
        continue;
      }
      const idle = now - call.lastActivity();
      const limit = call.state === 'confirmed' ? this.opts.idleTimeoutSec : this.opts.setupTimeoutSec;
      if (idle >= limit) {
        this.evictions.idle++;
        this.endCall(call, call.finalStatus === 401 || call.finalStatus === 407 ? 'rejected' : 'timeout', now);
        this.removeCall(call);
      }
    }
  }

  /** End of input: every call still open ends now. */
  flush(now: number): void {
    for (const call of this.calls.values()) {
      this.endCall(call, 'end_of_input', now);
      this.removeCall(call);
    }
  }
}

function addUriHost(set: Set<string>, uri: string): void {
  // sip:user@host:port;params  or  <sip:...>; cheap extraction without a full parse
  // (and without regexes: this runs for several URIs of every SIP message).
  const at = uri.indexOf('@');
  let rest = at >= 0 ? uri.slice(at + 1) : uri.slice(schemeLength(uri));
  let cut = -1;
  for (let i = 0; i < rest.length; i++) {
    const c = rest.charCodeAt(i);
    if (c === 0x3b /* ; */ || c === 0x3f /* ? */ || c === 0x3e /* > */) {
      cut = i;
      break;
    }
  }
  if (cut >= 0) rest = rest.slice(0, cut);
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close > 0) set.add(rest.slice(1, close).toLowerCase());
    return;
  }
  const colon = rest.indexOf(':');
  set.add((colon >= 0 ? rest.slice(0, colon) : rest).toLowerCase());
}

/** Length of a leading "letters:" scheme (what /^[a-z]+:/i matches), 0 when there is none. */
function schemeLength(uri: string): number {
  let i = 0;
  for (; i < uri.length; i++) {
    const c = uri.charCodeAt(i) | 0x20;
    if (c < 0x61 || c > 0x7a) break;
  }
  return i > 0 && uri.charCodeAt(i) === 0x3a ? i + 1 : 0;
}
