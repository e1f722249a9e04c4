/**
 * The Kafka output against a real broker (deploy/kafka, started by the same
 * script as `npm run services:up`): every event of a capture arrives, on the
 * right topic, keyed by call, in order per call; with the broker unreachable
 * and tiny memory limits events go to the disk spool and are replayed, in
 * order, to a broker that answers; the Prometheus endpoint reports it all.
 * Topic mapping and keys are checked without a broker.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { openCaptureFile } from '../../sensor/src/capture/open-file.js';
import { Sensor } from '../../sensor/src/sensor.js';
import type { EventSink, TapwatchEvent } from '../../sensor/src/events/types.js';
import { KafkaSink } from '../../sensor/src/output/kafka-sink.js';
import { DEFAULT_TOPICS, DLQ_TOPIC, FINGERPRINTS_TOPIC, keyFor, topicFor } from '../../sensor/src/output/topics.js';
import { liveSensorView, startMetricsServer } from '../../sensor/src/metrics/metrics-server.js';
import { compileEventValidator } from '../../sensor/src/events/schemas.js';
import { BROKERS, REPO_ROOT, consumeAll, createTopics, kafkaUnavailable, testTopic, type ConsumedMessage } from '../lib/kafka.js';

const CAPTURE = path.join(REPO_ROOT, 'tests', 'scenarios', 'captures', 'copy_vxlan_mirred.pcap');

/** Keeps each event as serialized when written (the detector may update a finding object later). */
class SnapshotSink implements EventSink {
  readonly events: TapwatchEvent[] = [];
  write(e: TapwatchEvent): void {
    this.events.push(JSON.parse(JSON.stringify(e)) as TapwatchEvent);
  }
  async flush(): Promise<void> {}
}

/** Run the sensor over the capture into a snapshot sink and the given Kafka sink. */
async function runCapture(kafka: KafkaSink, sensorId: string): Promise<{ sensor: Sensor; events: TapwatchEvent[] }> {
  const collect = new SnapshotSink();
  const sensor = new Sensor({ sensorId, statsIntervalSec: 0 }, [collect, kafka]);
  await sensor.run(openCaptureFile(CAPTURE));
  return { sensor, events: collect.events };
}

/** Per key, the event ids in the order the consumer read them (one partition per key). */
function idsByKey(msgs: ConsumedMessage[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const x of msgs) {
    const id = (JSON.parse(x.value) as TapwatchEvent).id;
    const k = x.key ?? '';
    const list = m.get(k) ?? [];
    list.push(id);
    m.set(k, list);
  }
  return m;
}

function expectedIdsByKey(events: TapwatchEvent[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const e of events) {
    const list = m.get(keyFor(e)) ?? [];
    list.push(e.id);
    m.set(keyFor(e), list);
  }
  return m;
}

describe('topic mapping', () => {
  it('sends findings and finding updates to the findings topic, the rest to telemetry', () => {
    expect(topicFor({ type: 'duplicate_stream' })).toBe('tapwatch.findings');
    expect(topicFor({ type: 'key_exposure' })).toBe('tapwatch.findings');
    expect(topicFor({ type: 'finding_updated' })).toBe('tapwatch.findings');
    expect(topicFor({ type: 'call_started' })).toBe('tapwatch.telemetry');
    expect(topicFor({ type: 'stream_ended' })).toBe('tapwatch.telemetry');
    expect(topicFor({ type: 'sensor_stats' })).toBe('tapwatch.telemetry');
    expect(topicFor({ type: 'signaling_copy' }, { findings: 'f', telemetry: 't' })).toBe('f');
    expect(DEFAULT_TOPICS).toEqual({ findings: 'tapwatch.findings', telemetry: 'tapwatch.telemetry' });
    expect(DLQ_TOPIC).toBe('tapwatch.dlq');
    expect(FINGERPRINTS_TOPIC).toBe('tapwatch.fingerprints');
  });

  it('keys by Call-ID, else stream, else finding, else sensor', () => {
    const base = { v: 1 as const, id: 'r-1', ts: 1, sensor: 's1' };
    expect(keyFor({ ...base, type: 'stream_started', streamId: 'st1', callId: 'c1' } as TapwatchEvent)).toBe('c1');
    expect(keyFor({ ...base, type: 'stream_started', streamId: 'st1', callId: null } as TapwatchEvent)).toBe('st1');
    expect(keyFor({ ...base, type: 'duplicate_stream', findingId: 'f1', callId: null } as unknown as TapwatchEvent)).toBe('f1');
    expect(keyFor({ ...base, type: 'sensor_stats' } as TapwatchEvent)).toBe('s1');
  });
});

const unavailable = await kafkaUnavailable();

describe.skipIf(unavailable !== null)(`KafkaSink with a real broker (${BROKERS})`, () => {
  it('delivers every event of a capture: right topic, keyed by call, in order per key', async () => {
    const topics = { findings: testTopic('findings'), telemetry: testTopic('telemetry') };
    await createTopics([topics.findings, topics.telemetry], 6);
    const kafka = new KafkaSink({ brokers: BROKERS, topics });
    const { sensor, events } = await runCapture(kafka, 'kafka-sink-test');
    expect(await kafka.close()).toBe(0);
    const st = kafka.stats();
    expect(st).toMatchObject({ delivered: events.length, failed: 0, dropped: 0, queued: 0, buffered: 0, spooled: 0, brokerUp: true });
    // The final sensor_stats carries the output counters (taken just before it was itself produced).
    const final = events.filter((e) => e.type === 'sensor_stats').at(-1) as Extract<TapwatchEvent, { type: 'sensor_stats' }>;
    expect(final.output).toBeDefined();
    expect(final.output!.failed).toBe(0);
    expect(final.output!.delivered + final.output!.queued + final.output!.buffered).toBe(events.length - 1);
    expect(compileEventValidator().validate(final), 'sensor_stats with output matches its schema').toBeNull();

    const msgs = await consumeAll([topics.findings, topics.telemetry], { done: (m) => m.length >= events.length, timeoutMs: 60_000 });
    expect(msgs.length).toBe(events.length);
    const findings = events.filter((e) => e.type === 'duplicate_stream');
    expect(findings.length, 'the capture has a duplicate_stream finding').toBeGreaterThan(0);
    for (const m of msgs) {
      const e = JSON.parse(m.value) as TapwatchEvent;
      expect(m.topic).toBe(topicFor(e, topics));
      expect(m.key).toBe(keyFor(e));
      expect(m.headers.type).toBe(e.type);
    }
    // Same events, byte for byte, as the sensor emitted.
    const byId = new Map(msgs.map((m) => [(JSON.parse(m.value) as TapwatchEvent).id, JSON.parse(m.value) as TapwatchEvent]));
    for (const e of events) expect(byId.get(e.id), e.id).toEqual(e);
    // Every event of a key is in one partition, in emission order.
    const partitions = new Map<string, Set<number>>();
    for (const m of msgs) (partitions.get(`${m.topic}/${m.key}`) ?? partitions.set(`${m.topic}/${m.key}`, new Set()).get(`${m.topic}/${m.key}`)!).add(m.partition);
    for (const [k, p] of partitions) expect(p.size, k).toBe(1);
    const callKey = keyFor(findings[0]!);
    const telemetryOfCall = msgs.filter((m) => m.topic === topics.telemetry && m.key === callKey);
    expect(telemetryOfCall.length, 'call events share the finding key').toBeGreaterThan(1);
    expect(idsByKey(msgs.filter((m) => m.topic === topics.telemetry))).toEqual(expectedIdsByKey(events.filter((e) => topicFor(e, topics) === topics.telemetry)));
    expect(sensor.packets).toBeGreaterThan(0);
  });

  it('spools events to disk while the broker is unreachable and replays them, in order, to one that answers', async () => {
    const spoolDir = mkdtempSync(path.join(tmpdir(), 'tapwatch-spool-'));
    try {
      const topics = { findings: testTopic('spool-findings'), telemetry: testTopic('spool-telemetry') };
      await createTopics([topics.findings, topics.telemetry], 6);
      // Nothing listens on port 1: the producer never connects. Tiny memory: most events go to disk.
      const down = new KafkaSink({ brokers: '127.0.0.1:1', topics, spoolDir, memoryLimitEvents: 3, queueMaxMessages: 2, flushTimeoutMs: 1500 });
      const { events } = await runCapture(down, 'spool-test');
      const during = down.stats();
      expect(during.delivered).toBe(0);
      expect(during.dropped).toBe(0);
      expect(during.buffered).toBeLessThanOrEqual(3);
      expect(during.spooled).toBeGreaterThanOrEqual(events.length - 3);
      expect(await down.close(500)).toBe(0);
      const segments = readdirSync(spoolDir).filter((f) => f.endsWith('.jsonl'));
      expect(segments.length).toBeGreaterThan(0);

      // The next run (same spool folder) replays everything before its own events.
      const up = new KafkaSink({ brokers: BROKERS, topics, spoolDir, memoryLimitEvents: 3, queueMaxMessages: 2 });
      await up.flush(60_000);
      expect(await up.close()).toBe(0);
      expect(up.stats()).toMatchObject({ delivered: events.length, replayed: events.length, spooled: 0, failed: 0 });
      expect(readdirSync(spoolDir).filter((f) => f.endsWith('.jsonl')), 'delivered segments are deleted').toEqual([]);

      const msgs = await consumeAll([topics.findings, topics.telemetry], { done: (m) => m.length >= events.length, timeoutMs: 60_000 });
      const ids = msgs.map((m) => (JSON.parse(m.value) as TapwatchEvent).id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(new Set(ids)).toEqual(new Set(events.map((e) => e.id)));
      expect(idsByKey(msgs.filter((m) => m.topic === topics.telemetry))).toEqual(expectedIdsByKey(events.filter((e) => topicFor(e, topics) === topics.telemetry)));
      expect(msgs.filter((m) => m.topic === topics.findings).length).toBe(events.filter((e) => topicFor(e, topics) === topics.findings).length);
    } finally {
      rmSync(spoolDir, { recursive: true, force: true });
    }
  });

  it('without a spool keeps every finding and drops (and counts) only telemetry when memory is full', async () => {
    const topics = { findings: testTopic('nospool-findings'), telemetry: testTopic('nospool-telemetry') };
    const down = new KafkaSink({ brokers: '127.0.0.1:1', topics, memoryLimitEvents: 2, queueMaxMessages: 2, flushTimeoutMs: 500 });
    const { events } = await runCapture(down, 'nospool-test');
    const findings = events.filter((e) => topicFor(e, topics) === topics.findings).length;
    expect(findings).toBeGreaterThan(0);
    const st = down.stats();
    expect(st.buffered).toBeGreaterThanOrEqual(findings);
    expect(st.dropped).toBe(events.length - st.buffered);
    await down.close(200);
  });

  it('serves Prometheus metrics: packets, decode errors, tables, output queue and deliveries', async () => {
    const topics = { findings: testTopic('metrics-findings'), telemetry: testTopic('metrics-telemetry') };
    await createTopics([topics.findings, topics.telemetry], 1);
    const kafka = new KafkaSink({ brokers: BROKERS, topics });
    const collect = new SnapshotSink();
    const sensor = new Sensor({ sensorId: 'metrics-test', statsIntervalSec: 0 }, [collect, kafka]);
    const server = await startMetricsServer({ port: 0, host: '127.0.0.1', view: liveSensorView(sensor), sinks: [kafka] });
    try {
      await sensor.run(openCaptureFile(CAPTURE));
      await kafka.flush(30_000);
      const text = await new Promise<string>((resolve, reject) =>
        http
          .get({ host: '127.0.0.1', port: server.port, path: '/metrics' }, (res) => {
            let body = '';
            res.on('data', (d) => (body += d));
            res.on('end', () => resolve(body));
          })
          .on('error', reject),
      );
      const value = (re: RegExp): number => Number(re.exec(text)?.[1] ?? NaN);
      expect(value(/^tapwatch_packets_total (\d+)/m)).toBe(sensor.packets);
      expect(value(/^tapwatch_output_delivered_total (\d+)/m)).toBe(collect.events.length);
      expect(value(/^tapwatch_output_queue_depth (\d+)/m)).toBe(0);
      expect(value(/^tapwatch_output_delivery_failures_total (\d+)/m)).toBe(0);
      expect(value(/^tapwatch_output_broker_up (\d+)/m)).toBe(1);
      expect(value(/^tapwatch_events_total\{type="duplicate_stream"\} (\d+)/m)).toBeGreaterThan(0);
      expect(text).toMatch(/^tapwatch_table_entries\{table="flows"\} \d+/m);
      expect(text).toMatch(/^tapwatch_output_spooled_events 0/m);
      expect(text).toMatch(/^tapwatch_sensor_process_resident_memory_bytes \d+/m);
    } finally {
      await server.close();
      await kafka.close();
    }
  });
});
