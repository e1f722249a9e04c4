/** Run the sensor in-process over a capture file and collect its events. */
import { openCaptureFile } from '../../sensor/src/capture/open-file.js';
import { Sensor, type SensorOptions } from '../../sensor/src/sensor.js';
import type { EventSink, TapwatchEvent } from '../../sensor/src/events/types.js';

export class CollectingSink implements EventSink {
  readonly events: TapwatchEvent[] = [];
  write(e: TapwatchEvent): void {
    this.events.push(e);
  }
  async flush(): Promise<void> {}
  ofType<T extends TapwatchEvent['type']>(type: T): Extract<TapwatchEvent, { type: T }>[] {
    return this.events.filter((e): e is Extract<TapwatchEvent, { type: T }> => e.type === type);
  }
}

export async function runSensorOnFile(file: string, opts: Partial<SensorOptions> = {}): Promise<CollectingSink> {
  const sink = new CollectingSink();
  const sensor = new Sensor({ sensorId: 'test', statsIntervalSec: 0, ...opts }, [sink]);
  await sensor.run(openCaptureFile(file));
  return sink;
}
