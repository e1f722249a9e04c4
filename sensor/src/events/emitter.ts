/**
 * Stamps the envelope (v, id, sensor) on event bodies and hands them to the
 * sinks. Event ids are `${runId}-${seq}`: unique per run and monotone, so a
 * downstream store can insert idempotently and order within a run.
 */
import { randomBytes } from 'node:crypto';
import { EVENT_VERSION, type EventBody, type EventSink, type TapwatchEvent } from './types.js';

export class EventEmitter {
  private seq = 0;
  readonly runId: string;
  readonly counts = new Map<string, number>();

  constructor(
    readonly sensorId: string,
    private readonly sinks: EventSink[],
    runId?: string,
  ) {
    this.runId = runId ?? randomBytes(6).toString('hex');
  }

  emit(body: EventBody): TapwatchEvent {
    const event = { v: EVENT_VERSION, id: `${this.runId}-${++this.seq}`, sensor: this.sensorId, ...body } as TapwatchEvent;
    this.counts.set(event.type, (this.counts.get(event.type) ?? 0) + 1);
    for (const s of this.sinks) s.write(event);
    return event;
  }

  async flush(): Promise<void> {
    for (const s of this.sinks) await s.flush();
  }
}
