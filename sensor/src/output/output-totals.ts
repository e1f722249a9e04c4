/**
 * What the queueing sinks (Kafka) hold and delivered, summed over every sink:
 * the `output` block of sensor_stats and the sensor's output metrics. Null
 * when no sink queues (stdout-only runs report no output block).
 */
import type { EventSink, OutputStats } from '../events/types.js';

export type OutputTotals = OutputStats & { brokerUp: boolean };

export function outputTotals(sinks: readonly EventSink[]): OutputTotals | null {
  let out: OutputTotals | null = null;
  for (const s of sinks) {
    const st = s.stats?.() as (OutputStats & { brokerUp?: boolean }) | undefined;
    if (!st) continue;
    out ??= { queued: 0, buffered: 0, spooled: 0, delivered: 0, failed: 0, dropped: 0, brokerUp: true };
    out.queued += st.queued;
    out.buffered += st.buffered;
    out.spooled += st.spooled;
    out.delivered += st.delivered;
    out.failed += st.failed;
    out.dropped += st.dropped;
    if (st.brokerUp === false) out.brokerUp = false;
  }
  return out;
}

/** The sensor_stats `output` block (without brokerUp, which the schema does not have), absent when no sink queues. */
export function outputStatsBlock(sinks: readonly EventSink[]): { output?: OutputStats } {
  const t = outputTotals(sinks);
  if (t === null) return {};
  const { brokerUp: _brokerUp, ...output } = t;
  return { output };
}
