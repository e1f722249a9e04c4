/**
 * Recorders that declared themselves in signalling (a SIPREC session's SRS,
 * RFC 7866; a Cisco Built-in Bridge recorder; a P-DCS-LAES target, RFC 5503).
 * The declared-recording heuristic fills it; the duplicate-stream heuristics
 * read it so that a copy to a declared recorder is reported as `declared:
 * true`, severity info, instead of as a covert copy.
 */
export interface DeclaredRecorder {
  ip: string;
  /** Media endpoints ("ip:port") the recording session's SDP announced; empty = any port of ip. */
  endpoints: Set<string>;
  kind: string;
  callId: string;
  since: number;
}

export class DeclaredRecorders {
  private readonly byIp = new Map<string, DeclaredRecorder>();

  declare(ip: string, kind: string, callId: string, ts: number, endpoints: Iterable<string> = []): DeclaredRecorder {
    let r = this.byIp.get(ip);
    if (!r) {
      r = { ip, endpoints: new Set(), kind, callId, since: ts };
      this.byIp.set(ip, r);
    }
    for (const e of endpoints) r.endpoints.add(e);
    return r;
  }

  /** Is `ip` (and `endpoint` when given) a declared recorder? */
  lookup(ip: string, endpoint?: string): DeclaredRecorder | undefined {
    const r = this.byIp.get(ip);
    if (!r) return undefined;
    if (endpoint && r.endpoints.size > 0 && !r.endpoints.has(endpoint)) return r; // same host, other port: still the declared recorder
    return r;
  }

  get size(): number {
    return this.byIp.size;
  }
}
