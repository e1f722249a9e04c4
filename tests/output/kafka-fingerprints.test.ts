/**
 * Fingerprints through the Kafka output against a real broker: they go to
 * their own topic, keyed by the collector's fingerprintKey(ssrc), valid by
 * the collector's schema; with the broker unreachable they wait in memory
 * and the disk spool like events, and a later run replays them to the
 * fingerprints topic (not to telemetry). Without a fingerprints topic the
 * sink takes none and the sensor computes none.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openCaptureFile } from '../../sensor/src/capture/open-file.js';
import { Sensor } from '../../sensor/src/sensor.js';
import type { EventSink, TapwatchEvent } from '../../sensor/src/events/types.js';
import { KafkaSink } from '../../sensor/src/output/kafka-sink.js';
import { compileFingerprintValidator, fingerprintKey, type StreamFingerprint } from '../../collector/src/ingest/fingerprint.js';
import { BROKERS, REPO_ROOT, consumeAll, createTopics, kafkaUnavailable, testTopic } from '../lib/kafka.js';

// A call with a VXLAN-tunnelled copy of its media (folded into the original stream: same inner 5-tuple).
const CAPTURE = path.join(REPO_ROOT, 'tests', 'scenarios', 'captures', 'copy_vxlan_mirred.pcap');

class Recorder implements EventSink {
  readonly events: TapwatchEvent[] = [];
  readonly fingerprints: StreamFingerprint[] = [];
  write(e: TapwatchEvent): void {
    this.events.push(e);
  }
  async flush(): Promise<void> {}
  fingerprint(fp: StreamFingerprint): void {
    this.fingerprints.push(JSON.parse(JSON.stringify(fp)) as StreamFingerprint);
  }
}

async function run(sinks: EventSink[], sensorId: string): Promise<Sensor> {
  const sensor = new Sensor({ sensorId, statsIntervalSec: 0 }, sinks);
  await sensor.run(openCaptureFile(CAPTURE));
  return sensor;
}

const kafkaWhy = await kafkaUnavailable();

describe('fingerprints on the Kafka output', () => {
  it('are not taken (nor computed) when the sink has no fingerprints topic', async () => {
    const kafka = new KafkaSink({ brokers: '127.0.0.1:1', flushTimeoutMs: 200 });
    try {
      expect(kafka.fingerprint).toBeUndefined();
      const sensor = await run([kafka], 'fp-off');
      expect(sensor.streams.fingerprints).toBeNull();
    } finally {
      await kafka.close(100);
    }
  });

  it.skipIf(kafkaWhy !== null)('are produced to their topic keyed by SSRC, spooled while the broker is away and replayed there', async () => {
    const spoolDir = mkdtempSync(path.join(tmpdir(), 'tapwatch-fp-spool-'));
    try {
      const topics = { findings: testTopic('fp-findings'), telemetry: testTopic('fp-telemetry') };
      const fingerprintsTopic = testTopic('fp-fingerprints');
      await createTopics([topics.findings, topics.telemetry, fingerprintsTopic], 6);
      // Nothing listens on port 1; tiny memory: most messages go to disk.
      const down = new KafkaSink({ brokers: '127.0.0.1:1', topics, fingerprintsTopic, spoolDir, memoryLimitEvents: 3, queueMaxMessages: 2, flushTimeoutMs: 1500 });
      const rec = new Recorder();
      await run([rec, down], 'fp-spool');
      const expected = rec.fingerprints;
      expect(expected.length).toBeGreaterThan(0);
      const total = rec.events.length + expected.length;
      expect(down.stats()).toMatchObject({ delivered: 0, dropped: 0 });
      expect(await down.close(500)).toBe(0);
      expect(readdirSync(spoolDir).filter((f) => f.endsWith('.jsonl')).length).toBeGreaterThan(0);

      // The next run replays everything, fingerprints to their own topic.
      const up = new KafkaSink({ brokers: BROKERS, topics, fingerprintsTopic, spoolDir, memoryLimitEvents: 3, queueMaxMessages: 2 });
      await up.flush(60_000);
      expect(await up.close()).toBe(0);
      expect(up.stats()).toMatchObject({ delivered: total, replayed: total, spooled: 0, failed: 0 });

      const msgs = await consumeAll([topics.findings, topics.telemetry, fingerprintsTopic], { done: (m) => m.length >= total, timeoutMs: 60_000 });
      const fps = msgs.filter((m) => m.topic === fingerprintsTopic);
      expect(fps.map((m) => (JSON.parse(m.value) as StreamFingerprint).id).sort()).toEqual(expected.map((f) => f.id).sort());
      const validator = compileFingerprintValidator();
      for (const m of fps) {
        const fp = JSON.parse(m.value) as StreamFingerprint;
        expect(validator.validate(fp)).toBeNull();
        expect(m.key).toBe(fingerprintKey(fp.ssrc));
      }
      // Every fingerprint of one SSRC in one partition.
      const partitionOf = new Map<string, Set<number>>();
      for (const m of fps) partitionOf.set(m.key!, (partitionOf.get(m.key!) ?? new Set()).add(m.partition));
      for (const parts of partitionOf.values()) expect(parts.size).toBe(1);
      expect(msgs.filter((m) => m.topic !== fingerprintsTopic).some((m) => m.value.includes('"stream_fingerprint"'))).toBe(false);
    } finally {
      rmSync(spoolDir, { recursive: true, force: true });
    }
  }, 120_000);
});
