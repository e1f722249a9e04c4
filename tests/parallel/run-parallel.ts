/**
 * Run the parallel sensor in-process over a capture file (its shards run the
 * compiled worker from dist/: call ensureSensorBuilt first) and collect the
 * events, as tests/lib/run-sensor.ts does for the single-threaded sensor.
 */
import { openCaptureFile } from '../../sensor/src/capture/open-file.js';
import { ParallelSensor, type ParallelSensorOptions } from '../../sensor/src/parallel/parallel-sensor.js';
import type { SensorOptions } from '../../sensor/src/sensor.js';
import { Sensor } from '../../sensor/src/sensor.js';
import type { TapwatchEvent } from '../../sensor/src/events/types.js';
import { CollectingSink } from '../lib/run-sensor.js';

/**
 * Keeps a copy of each event as it was when written. The finding table keeps
 * updating the finding objects it emitted (the JSONL and Kafka sinks
 * serialise at write time, so they never see that); the shards serialise at
 * write time too, so comparisons must be made against write-time copies.
 */
export class SnapshotSink extends CollectingSink {
  override write(e: TapwatchEvent): void {
    super.write(JSON.parse(JSON.stringify(e)) as TapwatchEvent);
  }
}

/** The single-threaded sensor over a file, events as written. */
export async function runSingleOnFile(file: string, opts: Partial<SensorOptions> = {}): Promise<CollectingSink> {
  const sink = new SnapshotSink();
  const sensor = new Sensor({ sensorId: 'test', statsIntervalSec: 0, ...opts }, [sink]);
  await sensor.run(openCaptureFile(file));
  return sink;
}

export async function runParallelOnFile(
  file: string,
  workers: number,
  opts: Partial<SensorOptions> = {},
  extra: Partial<ParallelSensorOptions> = {},
): Promise<CollectingSink> {
  const sink = new CollectingSink();
  const sensor = new ParallelSensor(
    {
      workers,
      statsIntervalSec: 0,
      whenFull: 'wait',
      ringBytes: 4 * 1024 * 1024,
      sensor: {
        sensorId: 'test',
        ...(opts.decode ? { decode: opts.decode } : {}),
        ...(opts.policy ? { policy: opts.policy.config } : {}),
        ...(opts.detect !== undefined ? { detect: opts.detect } : {}),
        ...(opts.heuristics ? { heuristics: opts.heuristics.map((h) => h.id) } : {}),
      },
      ...extra,
    },
    [sink],
  );
  await sensor.run(openCaptureFile(file));
  return sink;
}

/**
 * The latest state of every finding, as a consumer that applies
 * finding_updated builds it (the single-threaded CollectingSink sees it
 * directly, because the finding table mutates the objects it emitted).
 */
export function foldFindingUpdates(events: TapwatchEvent[]): TapwatchEvent[] {
  const byId = new Map<string, Record<string, unknown>>();
  for (const e of events) if ('findingId' in e && e.type !== 'finding_updated') byId.set(e.findingId, e as unknown as Record<string, unknown>);
  for (const e of events) {
    if (e.type !== 'finding_updated') continue;
    const f = byId.get(e.findingId);
    if (!f) continue;
    f['severity'] = e.severity;
    f['confidence'] = e.confidence;
    f['evidenceIncomplete'] = e.evidenceIncomplete;
    f['evidence'] = e.evidence;
    for (const [k, v] of Object.entries(e.changes)) f[k] = v;
  }
  return events;
}
