/**
 * The sensor's verdict on its own capture, reported in every sensor_stats as
 * `health` so that a blind or overloaded sensor raises its own alert through
 * the pipeline (collector metric tapwatch_collector_sensor_health, alert rules
 * in deploy/prometheus/rules). Judged per stats interval, from deltas of the
 * capture counters, because cumulative counters say "it happened once" but not
 * "it is happening now":
 *  - 'blind': a live capture that received nothing during the interval. A
 *    mirror port that carries no packets at all is a broken SPAN session, a
 *    cable or a filter, not a quiet network;
 *  - 'overloaded': more than OVERLOAD_SHARE of the packets of the interval
 *    were dropped (kernel buffer, interface or ring): the sensor cannot keep up;
 *  - 'dropping': some drops during the interval, below that share;
 *  - 'ok' otherwise, and always for files (a file cannot drop while read).
 */
import type { CaptureStats } from './packet-source.js';

export type CaptureHealthState = 'ok' | 'blind' | 'dropping' | 'overloaded';
export const CAPTURE_HEALTH_STATES: readonly CaptureHealthState[] = ['ok', 'blind', 'dropping', 'overloaded'];

/** Share of an interval's packets dropped above which the sensor calls itself overloaded (1 %). */
export const OVERLOAD_SHARE = 0.01;

export class CaptureHealth {
  private lastPackets = 0;
  private lastDrops = 0;
  private lastReceived = 0;
  state: CaptureHealthState = 'ok';

  /** Judge the interval since the previous call; `live` false (files) is always 'ok'. */
  assess(live: boolean, cs: CaptureStats): CaptureHealthState {
    const drops = cs.kernelDrops + cs.ifDrops + (cs.ringDrops ?? 0);
    // A counter that went back was reset (a new capture handle) or wrapped (modulo 2^32 in the
    // ring's control block): count from zero, as Prometheus' rate() does with a counter reset.
    const delta = (cur: number, last: number): number => (cur < last ? cur : cur - last);
    const dPackets = delta(cs.packets, this.lastPackets);
    const dDrops = delta(drops, this.lastDrops);
    const dReceived = delta(cs.kernelReceived, this.lastReceived);
    this.lastPackets = cs.packets;
    this.lastDrops = drops;
    this.lastReceived = cs.kernelReceived;
    if (!live) this.state = 'ok';
    else if (dPackets === 0 && dReceived === 0 && dDrops === 0) this.state = 'blind';
    else if (dDrops > OVERLOAD_SHARE * (dPackets + dDrops)) this.state = 'overloaded';
    else if (dDrops > 0) this.state = 'dropping';
    else this.state = 'ok';
    return this.state;
  }
}
