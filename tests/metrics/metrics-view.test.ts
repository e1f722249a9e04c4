/**
 * The sensor's /metrics (sensor/src/metrics/metrics-server.ts) with either
 * kind of sensor. The single-threaded sensor is read live at scrape time; the
 * parallel sensor (--workers N) keeps its tables in worker threads, so its
 * endpoint serves the latest aggregated sensor_stats. Both must report the
 * same counts for the same capture: packets, classification, SIP, table
 * evictions and events by type.
 */
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openCaptureFile } from '../../sensor/src/capture/open-file.js';
import { Sensor } from '../../sensor/src/sensor.js';
import { ParallelSensor } from '../../sensor/src/parallel/parallel-sensor.js';
import { liveSensorView, sensorRegistry, statsEventView } from '../../sensor/src/metrics/metrics-server.js';
import { CollectingSink } from '../lib/run-sensor.js';
import { ensureSensorBuilt } from '../e2e/ensure-built.js';
import { repoRoot } from '../eval/scenarios.js';

const ROOT = repoRoot();
const CAPTURE = path.join(ROOT, 'tests', 'scenarios', 'captures', 'copy_vxlan_mirred.pcap');

/** name{labels} -> value, from the Prometheus text format. */
function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('tapwatch_') || line.startsWith('tapwatch_sensor_')) continue;
    const sp = line.lastIndexOf(' ');
    out.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return out;
}

beforeAll(() => {
  // The parallel sensor's workers run the compiled worker script from dist/.
  ensureSensorBuilt(ROOT);
}, 300_000);

describe('sensor metrics from one thread and from workers', () => {
  it('report the same counters for the same capture', async () => {
    const single = new Sensor({ sensorId: 'm', statsIntervalSec: 0 }, [new CollectingSink()]);
    await single.run(openCaptureFile(CAPTURE));
    const one = parseMetrics(await sensorRegistry(liveSensorView(single), []).metrics());

    const par = new ParallelSensor({ workers: 2, statsIntervalSec: 0, whenFull: 'wait', sensor: { sensorId: 'm' } }, [new CollectingSink()]);
    // Before any sensor_stats the endpoint answers with zeros, not an error.
    const before = parseMetrics(await sensorRegistry(statsEventView(() => par.latestStats, par.counts), []).metrics());
    expect(before.get('tapwatch_packets_total')).toBe(0);
    await par.run(openCaptureFile(CAPTURE));
    const two = parseMetrics(await sensorRegistry(statsEventView(() => par.latestStats, par.counts), []).metrics());

    expect(one.get('tapwatch_packets_total')).toBeGreaterThan(100);
    for (const name of [
      'tapwatch_packets_total',
      'tapwatch_bytes_total',
      'tapwatch_packets_classified_total{kind="sip"}',
      'tapwatch_packets_classified_total{kind="rtp"}',
      'tapwatch_events_total{type="call_started"}',
      'tapwatch_events_total{type="stream_started"}',
      'tapwatch_events_total{type="duplicate_stream"}',
      'tapwatch_capture_health{state="ok"}',
    ]) {
      expect(two.get(name), name).toBe(one.get(name));
    }
    expect(one.get('tapwatch_events_total{type="duplicate_stream"}')).toBeGreaterThanOrEqual(1);
  }, 120_000);
});
