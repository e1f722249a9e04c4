/**
 * signaling_copy: a dialog's SIP messages are delivered to a host that is not
 * one of the dialog's hops.
 *
 * A SIP message legitimately travels only between the hops of its dialog
 * (RFC 3261 §16, §18): the hosts named by Via, Record-Route, Route, Contact
 * and the request-URI, plus the hosts that send in the dialog. A copy goes
 * somewhere else, in one of three shapes (PROTOCOLS.md "Where a copied packet
 * hides"):
 *
 *  - encapsulated in a copy-only wrapper: HEP/EEP (Kamailio siptrace,
 *    heplify, captagent), ETSI X2/X3, PacketCable/CCC, jmirror. The wrapper's
 *    outer destination is the collector: copyTo = outer dst "ip:port";
 *  - inside a tunnel that can also carry real traffic (VXLAN, GRE, ERSPAN,
 *    Geneve, IP-in-IP, TZSP...). The tunnel is a copy only when the very same
 *    message (same digest) was ALSO delivered outside it; otherwise the tunnel
 *    is just the path (sngrep_ipip) or the sensor's own unconfigured feed;
 *  - raw: the same message (same digest) delivered to an additional IP that
 *    is not a hop (iptables TEE + DNAT, an application forwarding copies such
 *    as Kamailio siptrace's duplicate_uri). A NAT or load balancer also
 *    readdresses a message, but its new destination answers in the dialog;
 *    so the decision waits `graceSec` of capture time, and needs another
 *    delivery of the same message to reach a real hop.
 *
 * The HEP/tunnel cases are decided on the packet that completes the evidence
 * (well within the 1 s budget); raw copies after the grace.
 *
 * Retransmissions and SPAN doubles repeat the same message on the same path:
 * they never add a destination. Forked INVITEs carry a new Via branch per
 * branch (RFC 3261 §16.6 step 8), hence new digests. REGISTER, OPTIONS and
 * other out-of-dialog requests belong to no call and are ignored.
 *
 * Copies whose messages carry Kamailio's X-Siptrace-* headers label
 * themselves as a trace feed (PROTOCOLS.md, declared markers): they are still
 * reported, but downgraded to info with allowlisted {rule:'declared-siptrace'}
 * (setting `siptraceDeclared`). A copy to a recorder declared in signalling
 * (SIPREC etc., ctx.recorders) is downgraded the same way.
 */
import type { Call } from '../../calls/call.js';
import type { SipMessage } from '../../app/sip/sip-message.js';
import type { TunnelSummary } from '../../events/types.js';
import type { Detector, DetectorContext, HeuristicModule } from '../detector.js';
import type { RtpObservation, SipObservation } from '../observations.js';
import {
  boundedTunnels,
  carriesSdp,
  endpointIp,
  endpointPort,
  hasSiptraceHeaders,
  isLoopback,
  messageLabel,
  namedHosts,
  pushBounded,
} from './sip-util.js';

export const SIG_COPY_ID = 'sig-copy';
export const SIG_COPY_VERSION = 1;

export interface SigCopySettings extends Record<string, number | boolean | string> {
  enabled: boolean;
  /** Capture seconds a raw copy's destination gets to show it is a real hop (answer, be named). */
  graceSec: number;
  /** Seconds an ended call's state lingers for trailing messages and their copies. */
  lingerSec: number;
  /** Seconds without SIP after which a call's state is dropped. */
  idleSec: number;
  /** Bound on tracked calls (oldest dropped first). */
  maxCalls: number;
  /** Bound on remembered message digests per call. */
  maxDigestsPerCall: number;
  /** Treat copies carrying X-Siptrace-* headers as declared (severity info). */
  siptraceDeclared: boolean;
}

const DEFAULTS: SigCopySettings = {
  enabled: true,
  graceSec: 0.5,
  lingerSec: 32,
  idleSec: 600,
  maxCalls: 50_000,
  maxDigestsPerCall: 512,
  siptraceDeclared: true,
};

/**
 * Wrappers that exist only to copy traffic to a collector or an LEA; nobody
 * delivers live SIP through them. Everything else can be a real path.
 */
const COPY_ONLY_KINDS = new Set(['hep2', 'hep3', 'x2', 'x3', 'packetcable', 'jmirror']);

const MAX_DELIVERIES_PER_DIGEST = 8;
const MAX_COPIES_PER_CALL = 16;
const MAX_METHODS = 16;
const MAX_DIGESTS_IN_EVIDENCE = 16;

interface Delivery {
  /** '' for a plain delivery, else the outer destination IP of the first copy tunnel. */
  path: string;
  dstIp: string;
  dst: string;
  src: string;
  ts: number;
  /** The delivered message carried X-Siptrace-* headers. */
  siptrace: boolean;
}

interface DigestRecord {
  ts: number;
  deliveries: Delivery[];
}

interface CopyRecord {
  copyTo: string;
  copyToIp: string;
  /** 'raw' or the wrapper/tunnel kind ('hep3', 'vxlan'...). */
  mechanism: string;
  /** Who sent the copy: the tunnel's outer source or the raw copy's source endpoint. */
  copier: string;
  firstSeen: number;
  lastTs: number;
  messages: number;
  methods: string[];
  digests: number[];
  /** The inner "src -> dst" of the first copied message. */
  innerPath: string;
  /** Where the same message was really delivered, when seen. */
  originalDst: string;
  /** Seconds from the original delivery to the copy (negative: the copy came first). */
  offsetSec: number | null;
  tunnels: TunnelSummary[];
  sdpCopied: boolean;
  siptrace: boolean;
  /** Raw candidates: capture time at which the destination's chance to participate ends. */
  deadline: number;
  /** Why the copy is established: 'twin' (same message seen elsewhere), 'call-seen-elsewhere', 'raw'. */
  basis: string;
}

interface CallState {
  call: Call;
  digests: Map<number, DigestRecord>;
  /** Hosts named by the dialog's headers. */
  named: Set<string>;
  /** IPs that sent requests or non-error responses in the dialog. */
  participants: Set<string>;
  /** Delivery paths seen for this call ('' = plain). */
  paths: Set<string>;
  confirmed: Map<string, CopyRecord>;
  pendingTunnel: Map<string, CopyRecord>;
  pendingRaw: Map<string, CopyRecord>;
  lastTs: number;
  endedAt: number | null;
}

export class SigCopyDetector implements Detector {
  readonly id = SIG_COPY_ID;
  readonly version = SIG_COPY_VERSION;
  private readonly calls = new Map<Call, CallState>();
  /** Earliest raw-candidate deadline (Infinity when none): the per-packet hook only compares this. */
  private nextDeadline = Infinity;
  private now = 0;

  constructor(
    private readonly ctx: DetectorContext,
    private readonly settings: SigCopySettings,
  ) {}

  /** Number of calls with state (for tests of the memory bound). */
  get trackedCalls(): number {
    return this.calls.size;
  }

  onSip(o: SipObservation): void {
    if (o.ts > this.now) this.now = o.ts;
    if (o.ts >= this.nextDeadline) this.resolveRaw(o.ts, false);
    const call = o.call;
    if (!call) return; // REGISTER, OPTIONS, SUBSCRIBE...: not a dialog the sensor tracks
    const st = this.stateOf(call, o.ts);
    st.lastTs = o.ts;
    const msg = o.msg;

    // Hops: hosts the dialog names, and hosts that take part in it. An error
    // response (say a collector answering 481 to a copy it was sent) names
    // nobody new and is no participation.
    const isError = msg.kind === 'response' && msg.statusCode >= 300;
    if (!isError) {
      namedHosts(msg, st.named);
      st.participants.add(o.srcIp);
    } else {
      for (const v of msg.vias) if (v.host) st.named.add(v.host.toLowerCase());
    }

    const outer = o.tunnels.length > 0 ? o.tunnels[0]! : null;
    const path = outer ? endpointIp(outer.dst) : '';
    const newPath = !st.paths.has(path);
    st.paths.add(path);

    let rec = st.digests.get(o.digest);
    if (!rec) {
      if (st.digests.size >= this.settings.maxDigestsPerCall) {
        const oldest = st.digests.keys().next();
        if (!oldest.done) st.digests.delete(oldest.value);
      }
      rec = { ts: o.ts, deliveries: [] };
      st.digests.set(o.digest, rec);
    }
    const repeat = rec.deliveries.some((d) => d.path === path && d.dstIp === o.dstIp);
    if (!repeat && rec.deliveries.length < MAX_DELIVERIES_PER_DIGEST) {
      rec.deliveries.push({ path, dstIp: o.dstIp, dst: o.dst, src: o.src, ts: o.ts, siptrace: hasSiptraceHeaders(msg) });
    }

    if (outer) this.onTunnelled(st, o, outer, rec, repeat);
    if (!repeat) {
      if (newPath || st.pendingTunnel.size > 0) this.confirmPendingTunnels(st, o.ts);
      this.considerRaw(st, o, rec);
    }
  }

  onRtp(o: RtpObservation): void {
    // O(1) and allocation-free: only a comparison unless a raw candidate is due.
    if (o.ts >= this.nextDeadline) this.resolveRaw(o.ts, false);
  }

  onCallEnded(c: Call): void {
    const st = this.calls.get(c);
    if (st && st.endedAt === null) st.endedAt = Math.max(this.now, st.lastTs);
  }

  onTick(now: number): void {
    if (now > this.now) this.now = now;
    if (now >= this.nextDeadline) this.resolveRaw(now, false);
    for (const [call, st] of this.calls) {
      const ended = st.endedAt !== null && now - st.endedAt >= this.settings.lingerSec;
      const idle = now - st.lastTs >= this.settings.idleSec;
      if (ended || idle) this.drop(call, st, now);
    }
  }

  flush(now: number): void {
    this.resolveRaw(Math.max(now, this.now), true);
  }

  // ---------------------------------------------------------------- state

  private stateOf(call: Call, ts: number): CallState {
    let st = this.calls.get(call);
    if (st) return st;
    if (this.calls.size >= this.settings.maxCalls) {
      const first = this.calls.entries().next();
      if (!first.done) this.drop(first.value[0], first.value[1], ts);
    }
    st = {
      call,
      digests: new Map(),
      named: new Set(),
      participants: new Set(),
      paths: new Set(),
      confirmed: new Map(),
      pendingTunnel: new Map(),
      pendingRaw: new Map(),
      lastTs: ts,
      endedAt: null,
    };
    this.calls.set(call, st);
    return st;
  }

  private drop(call: Call, st: CallState, now: number): void {
    // Raw candidates still waiting are decided now: the call is over, the grace is moot.
    if (st.pendingRaw.size > 0) this.resolveCallRaw(st, now, true);
    this.calls.delete(call);
  }

  private isHop(st: CallState, ip: string): boolean {
    return st.named.has(ip) || st.participants.has(ip);
  }

  // ---------------------------------------------------------------- tunnels

  private onTunnelled(st: CallState, o: SipObservation, outer: TunnelSummary, rec: DigestRecord, repeat: boolean): void {
    const copyTo = outer.dst;
    const copyToIp = endpointIp(copyTo);
    if (!copyToIp || isLoopback(copyToIp)) return; // never leaves the host that made it
    if (copyToIp === endpointIp(outer.src)) return;
    if (this.isHop(st, copyToIp)) return;

    const known = st.confirmed.get(copyTo) ?? st.pendingTunnel.get(copyTo);
    if (known) {
      if (!repeat && this.addMessage(known, o.digest, o.msg, hasSiptraceHeaders(o.msg), o.ts) && st.confirmed.has(copyTo)) {
        this.report(st, known, o.ts);
      }
      return;
    }
    if (st.confirmed.size + st.pendingTunnel.size >= MAX_COPIES_PER_CALL) return;
    const original = rec.deliveries.find((d) => d.path !== copyToIp);
    const copy: CopyRecord = {
      copyTo,
      copyToIp,
      mechanism: outer.kind,
      copier: outer.src,
      firstSeen: o.ts,
      lastTs: o.ts,
      messages: 0,
      methods: [],
      digests: [],
      innerPath: `${o.src} -> ${o.dst}`,
      originalDst: original?.dst ?? '',
      offsetSec: original ? round3(o.ts - original.ts) : null,
      tunnels: boundedTunnels(o.tunnels),
      sdpCopied: false,
      siptrace: false,
      deadline: 0,
      basis: '',
    };
    this.addMessage(copy, o.digest, o.msg, hasSiptraceHeaders(o.msg), o.ts);
    st.pendingTunnel.set(copyTo, copy);
    this.confirmPendingTunnels(st, o.ts);
  }

  /**
   * A tunnel copy is established when the tunnel is shown not to be the way
   * the sensor (or the message) normally travels: for copy-only wrappers,
   * when the call was also seen outside this wrapper's destination; for
   * general tunnels, when one of the copied messages was also delivered
   * outside it.
   */
  private confirmPendingTunnels(st: CallState, ts: number): void {
    if (st.pendingTunnel.size === 0) return;
    for (const [copyTo, copy] of st.pendingTunnel) {
      const path = copy.copyToIp;
      let basis = '';
      for (const d of copy.digests) {
        const rec = st.digests.get(d);
        const twin = rec?.deliveries.find((x) => x.path !== path);
        if (twin) {
          basis = 'twin';
          if (!copy.originalDst) {
            copy.originalDst = twin.dst;
            copy.offsetSec = round3(copy.firstSeen - twin.ts);
          }
          break;
        }
      }
      if (!basis && COPY_ONLY_KINDS.has(copy.mechanism)) {
        for (const p of st.paths) {
          if (p !== path) {
            basis = 'call-seen-elsewhere';
            break;
          }
        }
      }
      if (!basis) continue;
      if (this.isHop(st, copy.copyToIp)) {
        st.pendingTunnel.delete(copyTo);
        continue;
      }
      copy.basis = basis;
      st.pendingTunnel.delete(copyTo);
      st.confirmed.set(copyTo, copy);
      this.report(st, copy, ts);
    }
  }

  // ---------------------------------------------------------------- raw copies

  private considerRaw(st: CallState, o: SipObservation, rec: DigestRecord): void {
    if (rec.deliveries.length < 2) return;
    let distinct = false;
    const first = rec.deliveries[0]!.dstIp;
    for (const d of rec.deliveries) if (d.dstIp !== first) distinct = true;
    if (!distinct) return;
    // Every plain delivery of this message to a non-hop is a candidate; the
    // ones that turn out to be hops (they answer, or get named) drop out.
    for (const d of rec.deliveries) {
      if (d.path !== '' || isLoopback(d.dstIp) || this.isHop(st, d.dstIp)) continue;
      const known = st.confirmed.get(d.dst) ?? st.pendingRaw.get(d.dst);
      if (known) {
        if (known.mechanism === 'raw' && this.addMessage(known, o.digest, o.msg, d.siptrace, d.ts) && st.confirmed.has(d.dst)) {
          this.report(st, known, o.ts);
        }
        continue;
      }
      if (st.confirmed.size + st.pendingRaw.size >= MAX_COPIES_PER_CALL) return;
      const other = rec.deliveries.find((x) => x.dstIp !== d.dstIp);
      const copy: CopyRecord = {
        copyTo: d.dst,
        copyToIp: d.dstIp,
        mechanism: 'raw',
        copier: d.src,
        firstSeen: d.ts,
        lastTs: d.ts,
        messages: 0,
        methods: [],
        digests: [],
        innerPath: `${d.src} -> ${d.dst}`,
        originalDst: other?.dst ?? '',
        offsetSec: other ? round3(d.ts - other.ts) : null,
        tunnels: [],
        sdpCopied: false,
        siptrace: false,
        deadline: d.ts + this.settings.graceSec,
        basis: 'raw',
      };
      this.addMessage(copy, o.digest, o.msg, d.siptrace, d.ts);
      st.pendingRaw.set(d.dst, copy);
      if (copy.deadline < this.nextDeadline) this.nextDeadline = copy.deadline;
    }
  }

  private resolveRaw(now: number, force: boolean): void {
    let next = Infinity;
    for (const st of this.calls.values()) {
      if (st.pendingRaw.size === 0) continue;
      this.resolveCallRaw(st, now, force);
      for (const c of st.pendingRaw.values()) if (c.deadline < next) next = c.deadline;
    }
    this.nextDeadline = next;
  }

  private resolveCallRaw(st: CallState, now: number, force: boolean): void {
    for (const [dst, copy] of st.pendingRaw) {
      if (!force && now < copy.deadline) continue;
      st.pendingRaw.delete(dst);
      if (this.isHop(st, copy.copyToIp)) continue; // it answered or was named: a real destination (NAT, LB)
      // The same message must also have reached a real hop; otherwise we cannot
      // tell the copy from the original (e.g. only one direction is mirrored).
      let original: Delivery | undefined;
      for (const dg of copy.digests) {
        original = st.digests.get(dg)?.deliveries.find((x) => x.dstIp !== copy.copyToIp && this.isHop(st, x.dstIp));
        if (original) break;
      }
      if (!original) continue;
      copy.originalDst = original.dst;
      copy.offsetSec = round3(copy.firstSeen - original.ts);
      st.confirmed.set(dst, copy);
      this.report(st, copy, now);
    }
  }

  // ---------------------------------------------------------------- evidence

  /**
   * Count one copied message (by digest: the same message copied twice, e.g.
   * a retransmission, counts once). Returns false when it was already counted.
   */
  private addMessage(copy: CopyRecord, digest: number, msg: SipMessage, siptrace: boolean, ts: number): boolean {
    if (copy.digests.includes(digest)) return false;
    if (copy.digests.length >= 64) copy.digests.shift();
    copy.digests.push(digest);
    copy.messages++;
    if (ts > copy.lastTs) copy.lastTs = ts;
    pushBounded(copy.methods, messageLabel(msg), MAX_METHODS);
    if (!copy.sdpCopied && carriesSdp(msg)) copy.sdpCopied = true;
    if (siptrace) copy.siptrace = true;
    return true;
  }

  private report(st: CallState, copy: CopyRecord, now: number): void {
    const call = st.call;
    const sdes = copy.sdpCopied && call.media.some((m) => m.keying === 'sdes');
    let severity: 'info' | 'warning' | 'critical' = sdes ? 'critical' : 'warning';
    let allowlisted: { rule: string; why: string } | null = null;
    const declared = this.ctx.recorders.lookup(copy.copyToIp);
    if (declared) {
      allowlisted = { rule: 'declared-recorder', why: `${copy.copyToIp} is a ${declared.kind} recorder declared in signalling (call ${declared.callId})` };
    } else if (copy.siptrace && this.settings.siptraceDeclared) {
      allowlisted = {
        rule: 'declared-siptrace',
        why: 'the copies carry Kamailio siptrace X-Siptrace-* headers: a trace feed configured on the proxy that sends them',
      };
    }
    if (allowlisted) severity = 'info';

    let confidence: number;
    if (copy.mechanism === 'raw') confidence = Math.min(0.95, 0.75 + 0.05 * (copy.messages - 1));
    else if (copy.basis === 'twin') confidence = 0.95;
    else confidence = 0.85;

    const how =
      copy.mechanism === 'raw'
        ? `as a raw copy from ${copy.copier}`
        : `inside ${copy.mechanism} from ${copy.copier}`;
    const methods = copy.methods.slice(0, 6).join(', ');
    this.ctx.findings.report({
      type: 'signaling_copy',
      party: copy.copyTo,
      callId: call.callId,
      ssrc: null,
      severity,
      confidence,
      firstSeen: copy.firstSeen,
      detectedAt: Math.max(now, copy.firstSeen),
      heuristic: { id: SIG_COPY_ID, version: SIG_COPY_VERSION },
      summary:
        `SIP of call ${call.callId} is copied ${how} to ${copy.copyTo}, which is not a hop of the dialog ` +
        `(${copy.messages} message${copy.messages === 1 ? '' : 's'}: ${methods})` +
        (sdes ? '; the copies include SDP with SDES keys' : ''),
      evidence: {
        mechanism: copy.mechanism,
        basis: copy.basis,
        copier: copy.copier,
        messages: copy.messages,
        methods: copy.methods.slice(),
        innerPath: copy.innerPath,
        originalDst: copy.originalDst,
        offsetSec: copy.offsetSec,
        lastCopyTs: copy.lastTs,
        tunnels: copy.tunnels,
        digests: copy.digests.slice(0, MAX_DIGESTS_IN_EVIDENCE).map((d) => d >>> 0),
        sdpCopied: copy.sdpCopied,
        sdesKeysCopied: sdes,
        siptraceHeaders: copy.siptrace,
        dialogHops: [...st.named, ...st.participants].filter((h, i, a) => a.indexOf(h) === i).slice(0, 16),
      },
      fields: { copyTo: copy.copyTo, copyToIp: copy.copyToIp },
      partyIp: copy.copyToIp,
      partyPort: endpointPort(copy.copyTo),
      allowlisted,
    });
  }
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

export const sigCopyHeuristic: HeuristicModule<SigCopySettings> = {
  id: SIG_COPY_ID,
  version: SIG_COPY_VERSION,
  defaults: DEFAULTS,
  create(ctx, settings) {
    return new SigCopyDetector(ctx, { ...DEFAULTS, ...settings });
  },
};
