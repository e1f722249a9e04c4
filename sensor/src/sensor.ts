/**
 * The sensor's packet pipeline, run in a fixed order for every packet (as
 * Suricata's flow-worker does): decode -> flow -> app layer (SIP, SDP, RTP)
 * -> calls and streams -> events. Housekeeping (idle timeouts) runs by
 * capture time, so a file replays exactly as the live traffic would have.
 */
import { hostname } from 'node:os';
import type { CaptureStats, PacketSource } from './capture/packet-source.js';
import { CaptureHealth } from './capture/capture-health.js';
import { PacketRecord, TunnelKind } from './decode/packet.js';
import { WeirdCounters } from './decode/weird.js';
import type { DecodeContext } from './decode/context.js';
import { decodeFrame, defaultDecodeContext } from './decode/decode-frame.js';
import { FlowTable } from './flow/flow-table.js';
import type { Flow } from './flow/flow.js';
import { IpDefragmenter } from './flow/ip-defrag.js';
import { TcpFlowState, tcpFlush, tcpPush } from './flow/tcp-reassembly.js';
import { AppLayer } from './app/app-layer.js';
import { looksLikeSip } from './app/sip/sip-probe.js';
import { CallTable, type CallTableOptions } from './calls/call-table.js';
import { StreamTable, type StreamTableOptions } from './media/stream-table.js';
import { EventEmitter } from './events/emitter.js';
import type { EventSink, SensorStatsEvent } from './events/types.js';
import { Policy } from './detect/policy.js';
import { FindingTable } from './detect/finding-table.js';
import { DetectionEngine } from './detect/engine.js';
import { HEURISTICS } from './detect/registry.js';
import type { HeuristicModule } from './detect/detector.js';
import { DeclaredRecorders } from './detect/declared-recorders.js';
import { ShardGate, type ShardSpec } from './parallel/shard-gate.js';
import { outputStatsBlock } from './output/output-totals.js';

export interface SensorOptions {
  sensorId: string;
  /** Emit sensor_stats every N seconds of wall time (live) — 0 disables periodic stats. */
  statsIntervalSec: number;
  maxFlows: number;
  udpFlowIdleSec: number;
  tcpFlowIdleSec: number;
  streams: Partial<StreamTableOptions>;
  calls: Partial<CallTableOptions>;
  /** Override decode ports (e.g. TZSP on a non-standard port). */
  decode: Partial<Omit<DecodeContext, 'weirds' | 'defrag'>>;
  /** Detection policy (authorised parties, sensor tunnels, heuristic switches). */
  policy: Policy;
  /** Run the detectors at all (default true). */
  detect: boolean;
  /** The heuristics to run (default: every one in detect/registry.ts). */
  heuristics?: HeuristicModule[];
  runId?: string;
  /**
   * Run as one shard of the parallel sensor (docs/parallel.md): process
   * signalling and the media this shard owns, skip the rest. Absent
   * (single-threaded), nothing is checked per packet.
   */
  shard?: ShardSpec;
}

export const DEFAULT_SENSOR_OPTIONS: SensorOptions = {
  sensorId: hostname(),
  statsIntervalSec: 10,
  maxFlows: 262_144,
  udpFlowIdleSec: 120,
  tcpFlowIdleSec: 600,
  streams: {},
  calls: {},
  decode: {},
  policy: new Policy(),
  detect: true,
};

function isHepCapture(rec: PacketRecord): boolean {
  if (rec.tunnelDepth === 0) return false;
  const k = rec.tunnels[rec.tunnelDepth - 1]!.kind;
  return k === TunnelKind.Hep2 || k === TunnelKind.Hep3;
}

/** Capture-time housekeeping period, seconds. */
const HOUSEKEEPING_SEC = 1;

export class Sensor {
  readonly rec = new PacketRecord();
  readonly weirds = new WeirdCounters();
  readonly events: EventEmitter;
  readonly flows: FlowTable;
  readonly calls: CallTable;
  readonly streams: StreamTable;
  readonly app: AppLayer;
  readonly findings: FindingTable;
  readonly detection: DetectionEngine | null;
  /** Ownership test of the parallel sensor; null when single-threaded. */
  readonly shard: ShardGate | null;
  private readonly decodeCtx: DecodeContext;
  private readonly defrag: IpDefragmenter;
  private readonly opts: SensorOptions;
  private source: PacketSource | null = null;
  /** Blind / dropping / overloaded, judged per stats interval (sensor_stats.health). */
  readonly captureHealth = new CaptureHealth();
  private nextHousekeeping = 0;
  private lastTs = 0;
  private readonly startedAt = Date.now();
  packets = 0;
  bytes = 0;
  nonIp = 0;
  fragments = 0;
  private readonly warnings: string[] = [];
  /** Bound once: the reassembler calls it for every in-order TCP chunk (no per-packet closure). */
  private tcpFlow: Flow | null = null;
  private readonly onTcpData = (dir: 0 | 1, data: Buffer, off: number, len: number): void => {
    if (this.tcpFlow) this.app.onTcpData(this.tcpFlow, dir, this.rec, data, off, len);
  };
  readonly onPacket = (rec: PacketRecord): void => this.processPacket(rec);

  constructor(
    opts: Partial<SensorOptions>,
    private readonly sinks: EventSink[],
  ) {
    this.opts = { ...DEFAULT_SENSOR_OPTIONS, ...opts };
    this.events = new EventEmitter(this.opts.sensorId, sinks, this.opts.runId);
    this.defrag = new IpDefragmenter(this.weirds);
    this.decodeCtx = { ...defaultDecodeContext(this.weirds), ...this.opts.decode, weirds: this.weirds, defrag: this.defrag };
    this.calls = new CallTable(this.events, this.opts.calls, this.weirds);
    this.streams = new StreamTable(this.events, this.calls, this.opts.streams);
    this.findings = new FindingTable(this.events, this.opts.policy);
    this.detection = this.opts.detect
      ? new DetectionEngine(
          { findings: this.findings, calls: this.calls, streams: this.streams, policy: this.opts.policy, recorders: new DeclaredRecorders() },
          this.opts.heuristics ?? HEURISTICS,
        )
      : null;
    if (this.detection) {
      const d = this.detection;
      this.streams.listener = { streamStarted: (s) => d.streamStarted(s), streamEnded: (s) => d.streamEnded(s) };
      this.calls.listener = { sdp: (o) => d.sdp(o), callEnded: (c) => d.callEnded(c) };
    }
    this.app = new AppLayer(this.calls, this.streams, this.weirds, this.detection, this.opts.policy);
    this.shard = this.opts.shard ? new ShardGate(this.opts.shard, this.calls.expectations) : null;
    this.flows = new FlowTable({
      maxFlows: this.opts.maxFlows,
      udpIdleTimeoutSec: this.opts.udpFlowIdleSec,
      tcpIdleTimeoutSec: this.opts.tcpFlowIdleSec,
      onEvict: (flow) => this.onFlowEvicted(flow),
    });
  }

  /** A flow leaves the table: deliver what TCP still buffers, then end its streams. */
  private onFlowEvicted(flow: Flow): void {
    if (flow.tcp) {
      this.tcpFlow = flow;
      tcpFlush(flow.tcp, this.onTcpData, this.weirds);
      this.tcpFlow = null;
    }
    this.streams.endFlow(flow, 'idle');
  }

  /** The whole per-packet pipeline. Never throws on packet content. */
  processPacket(rec: PacketRecord): void {
    this.packets++;
    this.bytes += rec.capLength;
    const ts = rec.ts;
    if (ts > this.lastTs) this.lastTs = ts;
    if (ts >= this.nextHousekeeping) this.housekeeping(ts);

    decodeFrame(rec, this.decodeCtx);
    if (rec.ipVersion === 0) {
      this.nonIp++;
      this.app.onNonIp(rec);
      return;
    }
    if (rec.isFragment) {
      this.fragments++;
      return;
    }
    const proto = rec.l4Proto;
    if (proto !== 17 && proto !== 6 && proto !== 132) return;
    // Parallel mode: one check; a packet another shard owns goes no further.
    const shard = this.shard;
    if (shard !== null && !shard.admit(rec)) {
      if (shard.scanOnly) this.scanForeign(rec);
      return;
    }
    const flow = this.flows.lookup(rec);
    if (flow === null) return;
    const dir = this.flows.lastDirection;
    if (proto === 17 || isHepCapture(rec)) {
      // HEP (v2/v3) carries whole captured messages, even when the original
      // travelled over TCP: each one is a datagram, not a stream segment.
      this.app.onUdp(flow, dir, rec);
    } else if (proto === 132) {
      this.app.onSctp(flow, dir, rec);
    } else {
      if (flow.app === 3 /* FlowApp.Other */) {
        // A connection first judged "other" that starts carrying SIP (the
        // sensor picked it up mid-stream): start over as unclassified.
        const pb = rec.payloadBuf;
        const po = rec.payloadOffset;
        if (rec.payloadLength > 0 && pb[po]! >= 0x41 && pb[po]! <= 0x5a && looksLikeSip(pb, po, rec.payloadLength)) {
          flow.app = 0;
          flow.appState = null;
          flow.tcp = null;
        } else {
        // Not SIP or media: still look for copies of known RTP inside (ETSI X3 and similar ride on TCP).
        // Every shard does (with --workers), each for the streams it holds.
        const emb = this.app.embedded;
        if (emb !== null && rec.payloadLength >= 16) emb.scan(flow, dir, rec, rec.payloadBuf, rec.payloadOffset, rec.payloadLength, 'tcp');
        return;
        }
      }
      // Media over TCP (TURN, RFC 4571) belongs to one shard; SIP and the unclassified to all.
      if (shard !== null && (flow.app === 5 /* TurnTcp */ || flow.app === 6 /* RtpTcp */) && !shard.ownsTuple(rec)) return;
      const state = (flow.tcp ??= new TcpFlowState());
      this.tcpFlow = flow;
      tcpPush(state, dir, rec.tcpSeq, rec.tcpFlags, rec.payloadBuf, rec.payloadOffset, rec.payloadLength, this.onTcpData, this.weirds, rec.ts);
      this.tcpFlow = null;
    }
  }

  /**
   * Parallel mode: a UDP packet another shard owns and will file as "other"
   * may still wrap a copy of a stream this shard holds (ShardGate.scanOnly).
   */
  private scanForeign(rec: PacketRecord): void {
    const emb = this.app.embedded;
    if (emb === null) return;
    const flow = this.flows.lookup(rec);
    if (flow !== null) emb.scan(flow, this.flows.lastDirection, rec, rec.payloadBuf, rec.payloadOffset, rec.payloadLength, 'udp');
  }

  private peakFlows = 0;
  private peakStreams = 0;
  private peakCalls = 0;
  private peakRss = 0;

  private housekeeping(now: number): void {
    this.notePeaks();
    if (this.nextHousekeeping !== 0) {
      this.detection?.tick(now);
      this.streams.expire(now);
      this.flows.expire(now);
      this.defrag.expire(now);
      this.calls.expire(now);
    }
    this.nextHousekeeping = Math.floor(now) + HOUSEKEEPING_SEC;
  }

  /** Read a whole source through the pipeline, then flush. */
  async run(source: PacketSource): Promise<void> {
    this.source = source;
    let timer: NodeJS.Timeout | null = null;
    if (this.opts.statsIntervalSec > 0) {
      timer = setInterval(() => this.emitStats(false), this.opts.statsIntervalSec * 1000);
      timer.unref();
    }
    try {
      await source.run(this.rec, this.onPacket);
    } finally {
      if (timer) clearInterval(timer);
    }
    for (const w of source.warnings) this.warnings.push(w);
    await this.finish();
  }

  /** End of input: end every stream, flow and call, then the final stats. */
  async finish(): Promise<void> {
    const now = this.lastTs;
    this.detection?.flush(now);
    this.streams.flush();
    this.flows.flush();
    this.calls.flush(now);
    this.findings.flush(now);
    this.emitStats(true);
    await this.events.flush();
  }

  private notePeaks(): void {
    if (this.flows.size > this.peakFlows) this.peakFlows = this.flows.size;
    if (this.streams.size > this.peakStreams) this.peakStreams = this.streams.size;
    if (this.calls.calls.size > this.peakCalls) this.peakCalls = this.calls.calls.size;
  }

  captureStats(): CaptureStats {
    return (
      this.source?.stats() ?? { packets: this.packets, bytes: this.bytes, kernelReceived: 0, kernelDrops: 0, ifDrops: 0, dropsUnavailable: false }
    );
  }

  emitStats(final: boolean): SensorStatsEvent {
    return this.events.emit(this.statsBody(final)) as SensorStatsEvent;
  }

  /** Packets by what they carried (sensor_stats.classified; also read live by the metrics endpoint). */
  classifiedCounts(): SensorStatsEvent['classified'] {
    const c = this.app.counters;
    return { sip: c.sip, rtp: c.rtp, rtcp: c.rtcp, stun: c.stun, dtls: c.dtls, zrtp: c.zrtp, other: c.other, nonIp: this.nonIp, fragments: this.fragments };
  }

  /** Table evictions by table and reason (sensor_stats.evictions; also read live by the metrics endpoint). */
  evictionCounts(): SensorStatsEvent['evictions'] {
    return {
      flowsIdle: this.flows.evictions.idle,
      flowsFull: this.flows.evictions.full,
      streamsIdle: this.streams.evictions.idle,
      streamsFull: this.streams.evictions.full,
      callsIdle: this.calls.evictions.idle,
      callsFull: this.calls.evictions.full,
    };
  }

  /** The sensor_stats body, unstamped (the parallel sensor aggregates the shards' bodies). */
  statsBody(final: boolean): Omit<SensorStatsEvent, 'v' | 'id' | 'sensor'> {
    const cs = this.captureStats();
    if (cs.kernelDrops > 0 || cs.ifDrops > 0 || (cs.ringDrops ?? 0) > 0) this.findings.dropsSeen = true;
    const health = this.captureHealth.assess(this.source?.kind === 'live', cs);
    this.notePeaks();
    const mem = process.memoryUsage();
    if (mem.rss > this.peakRss) this.peakRss = mem.rss;
    const c = this.app.counters;
    return {
      type: 'sensor_stats',
      ts: this.lastTs || Date.now() / 1000,
      final,
      uptimeSec: Math.round((Date.now() - this.startedAt) / 1000),
      packets: this.packets,
      bytes: this.bytes,
      kernelReceived: cs.kernelReceived,
      kernelDrops: cs.kernelDrops,
      ifDrops: cs.ifDrops,
      dropsUnavailable: cs.dropsUnavailable,
      ...(cs.ringDrops !== undefined ? { ringDrops: cs.ringDrops } : {}),
      health,
      decodeErrors: this.weirds.toJSON(),
      classified: this.classifiedCounts(),
      sip: {
        messages: this.calls.stats.messages,
        requests: this.calls.stats.requests,
        responses: this.calls.stats.responses,
        retransmissions: this.calls.stats.retransmissions,
        callIds: this.calls.distinctCallIds,
        inviteDialogs: this.calls.distinctInviteCallIds,
      },
      tables: {
        flows: this.flows.size,
        streams: this.streams.size,
        calls: this.calls.calls.size,
        expectations: this.calls.expectations.size,
        peakFlows: this.peakFlows,
        peakStreams: this.peakStreams,
        peakCalls: this.peakCalls,
      },
      evictions: this.evictionCounts(),
      memory: { rss: mem.rss, heapUsed: mem.heapUsed, peakRss: this.peakRss },
      warnings: this.warnings.slice(0, 20),
      ...outputStatsBlock(this.sinks),
    };
  }

}
