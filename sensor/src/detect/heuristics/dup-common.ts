/**
 * Shared judgement for the duplicate-stream heuristics (dup-exact,
 * dup-encapsulated): is an endpoint announced by some SDP (a signalled leg:
 * SBC/B2BUA anchoring, RFC 7198 group:DUP m-lines, ICE/TURN candidates —
 * PROTOCOLS.md "Legitimate look-alikes"), is a destination a declared
 * recorder (SIPREC RFC 7866, Cisco Built-in Bridge, P-DCS-LAES RFC 5503),
 * and how severe a copy is.
 *
 * Runs only when a candidate is judged (a few times per copy), never per packet.
 */
import type { Call } from '../../calls/call.js';
import type { SipMessage } from '../../app/sip/sip-message.js';
import type { Severity } from '../../events/types.js';
import type { DetectorContext } from '../detector.js';
import type { MediaStream } from '../../media/media-stream.js';
import { hostOf, isMulticastIp } from '../packet-index.js';

/** Calls whose INVITE declared a recording session; shared by the duplicate heuristics of one context. */
const recordingCalls = new WeakMap<object, WeakSet<Call>>();

export function recordingCallsOf(ctx: DetectorContext): WeakSet<Call> {
  let s = recordingCalls.get(ctx);
  if (!s) {
    s = new WeakSet();
    recordingCalls.set(ctx, s);
  }
  return s;
}

/**
 * A SIP request that opens a declared recording session: SIPREC (RFC 7866 §6:
 * `Require: siprec`, Contact `+sip.src`, an rs-metadata body with
 * Content-Disposition recording-session), Cisco Built-in Bridge (From-URI
 * x-nearend / x-refci), or PacketCable P-DCS-LAES (RFC 5503).
 */
export function isRecordingSessionRequest(m: SipMessage): boolean {
  if (m.kind !== 'request') return false;
  if (m.require.includes('siprec')) return true;
  for (const p of m.bodyParts) {
    if (p.contentType === 'application/rs-metadata+xml' || p.contentDisposition === 'recording-session') return true;
  }
  const from = m.from?.uri ?? '';
  if (from.includes('x-nearend') || from.includes('x-refci')) return true;
  for (const [name] of m.headers) if (name === 'p-dcs-laes') return true;
  return false;
}

/** Mark the call of a recording-session request (call from the SIP observation). */
export function noteSip(ctx: DetectorContext, m: SipMessage, call: Call | null): void {
  if (call !== null && m.kind === 'request' && m.method === 'INVITE' && isRecordingSessionRequest(m)) recordingCallsOf(ctx).add(call);
}

/** The call that announced this endpoint in SDP, if any (RTP, RTCP or ICE candidate). */
export function announcedBy(ctx: DetectorContext, endpoint: string): Call | null {
  // Any kind counts: an RTP/RTCP port, an ICE/TURN candidate, or a T.38 (udptl) port is a signalled leg.
  return ctx.calls.expectations.get(endpoint)?.call ?? null;
}

/** Why a copy destination counts as declared, or null. */
export function declaredReason(ctx: DetectorContext, copyIp: string, copyEndpoint: string | null): string | null {
  const r = ctx.recorders.lookup(copyIp, copyEndpoint ?? undefined);
  if (r) return `declared ${r.kind} recorder (call ${r.callId})`;
  if (copyEndpoint) {
    const c = announcedBy(ctx, copyEndpoint);
    if (c && recordingCallsOf(ctx).has(c)) return `announced by recording session ${c.callId}`;
  }
  return null;
}

/** Multicast paging (PROTOCOLS.md): a multicast group, or a configured paging group. */
export function isPagingDestination(ctx: DetectorContext, ip: string): boolean {
  return isMulticastIp(ip) || ctx.policy.isPagingGroup(ip);
}

/** Critical for an undeclared copy of a call's media; warning for unsignalled media; info when declared. */
export function severityFor(original: MediaStream, declared: boolean): Severity {
  if (declared) return 'info';
  return original.call !== null ? 'critical' : 'warning';
}

/** The call a stream belongs to, or the call that announced either of its endpoints. */
export function callOf(ctx: DetectorContext, s: MediaStream): Call | null {
  return s.call ?? announcedBy(ctx, s.dst) ?? announcedBy(ctx, s.src);
}

export function srcIpOf(s: MediaStream): string {
  return hostOf(s.src);
}

export function dstIpOf(s: MediaStream): string {
  return hostOf(s.dst);
}

/** Confidence for an exact copy: 0.9 at the threshold, growing with evidence up to 0.99. */
export function exactConfidence(matched: number, threshold: number): number {
  return Math.min(0.99, 0.9 + 0.01 * Math.max(0, matched - threshold));
}

/** Keep at most `n` first items. */
export function pushBounded<T>(arr: T[], v: T, n: number): void {
  if (arr.length < n) arr.push(v);
}
