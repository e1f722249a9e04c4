/**
 * One SIP call: the INVITE dialog(s) that share a Call-ID (RFC 3261 §12),
 * with the media each party announced in SDP (RFC 3264 offer/answer) and the
 * signalling hops seen on the wire. Forked early dialogs (several To-tags for
 * one INVITE, RFC 3261 §13.2.2.4) are kept as to-tags of the same call: the
 * media of every fork goes to the caller's one address, so the call — not the
 * early dialog — is the unit the detectors reason about.
 */
import type { CallState, MediaOffer } from '../events/types.js';

export class Call {
  state: CallState = 'trying';
  /** From-tag of the initial INVITE: identifies the caller's side in later messages. */
  callerTag = '';
  /** Every To-tag seen in responses to the INVITE (forking gives several). */
  readonly calleeTags = new Set<string>();
  fromUri = '';
  toUri = '';
  transport = '';
  src = '';
  dst = '';
  readonly startTs: number;
  answerTs: number | null = null;
  endTs: number | null = null;
  lastSipTs: number;
  /** Capture time of the last media packet attributed to this call (streams update it). */
  lastMediaTs = 0;
  finalStatus: number | null = null;
  endReason = '';
  sipMessages = 0;
  /** Every SDP seen, oldest first (bounded): the call's media history. */
  readonly media: MediaOffer[] = [];
  /** Expectation keys ("ip:port") this call registered, to remove them when the call goes. */
  readonly expectationKeys = new Set<string>();
  /**
   * Signalling hops: hosts (and host:port) named by Via, Record-Route, Route,
   * Contact and request-URIs, plus the IP endpoints SIP packets of the call
   * travelled between. Detectors use it to tell a dialog hop from a copy.
   */
  readonly hops = new Set<string>();
  /** IPs that SIP messages of the call were sent to (not necessarily hops: a copy's target lands here too). */
  readonly dsts = new Set<string>();
  /** Keys of messages already seen, for retransmission counting (bounded). */
  readonly seenMessages = new Set<string>();
  /** Whether the last offer came with SDP in the INVITE (else 2xx carries the offer, ACK the answer). */
  pendingOfferFrom: 'caller' | 'callee' | null = null;
  ended = false;

  constructor(
    readonly callId: string,
    ts: number,
  ) {
    this.startTs = ts;
    this.lastSipTs = ts;
  }

  lastActivity(): number {
    return this.lastSipTs > this.lastMediaTs ? this.lastSipTs : this.lastMediaTs;
  }
}
