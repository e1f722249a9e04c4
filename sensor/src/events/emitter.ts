/**
 * Stamps the envelope (v, id, sensor) on event bodies and hands them to the
 * sinks. Event ids are `${runId}-${seq}`: unique per run and monotone, so a
 * downstream store can insert idempotently and order within a run.
 */
import { randomBytes } from 'node:crypto';
import { EVENT_VERSION, type EventBody, type EventSink, type TapwatchEvent } from './types.js';
import type { StreamFingerprint } from '../../../collector/src/ingest/fingerprint.js';

export class EventEmitter {
  private seq = 0;
  readonly runId: string;
  readonly counts = new Map<string, number>();
  /** Sinks that take media fingerprints; empty means none are computed at all. */
  private readonly fingerprintSinks: EventSink[];
  private fingerprintSeq = 0;

  constructor(
    readonly sensorId: string,
    private readonly sinks: EventSink[],
    runId?: string,
  ) {
    this.runId = runId ?? randomBytes(6).toString('hex');
    this.fingerprintSinks = sinks.filter((s) => typeof s.fingerprint === 'function');
  }

  /** Decided once, at construction: some sink wants fingerprints (Kafka unless --no-fingerprints). */
  get wantsFingerprints(): boolean {
    return this.fingerprintSinks.length > 0;
  }

  /**
   * Stamps a fingerprint body with its envelope and hands it to the sinks
   * that take fingerprints (never to the event sinks: stdout output stays the
   * same). Ids are `${runId}-fp${n}`, distinct from event ids.
   */
  fingerprint(body: Omit<StreamFingerprint, 'v' | 'type' | 'id' | 'sensor'>): StreamFingerprint {
    const fp: StreamFingerprint = { v: 1, type: 'stream_fingerprint', id: `${this.runId}-fp${++this.fingerprintSeq}`, sensor: this.sensorId, ...body };
    this.counts.set(fp.type, (this.counts.get(fp.type) ?? 0) + 1);
    for (const s of this.fingerprintSinks) s.fingerprint!(fp);
    return fp;
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
