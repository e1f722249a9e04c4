/**
 * One shard of the parallel sensor (a worker_threads entry point; see
 * docs/parallel.md). It builds an ordinary Sensor with a shard spec, reads
 * every record of the broadcast ring in place, lets the sensor process what
 * this shard owns plus all signalling, and sends its events to the main
 * thread in batches (never per packet). Stats snapshots go the same way; the
 * main thread aggregates them into the one sensor_stats.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Sensor } from '../sensor.js';
import { Policy } from '../detect/policy.js';
import { HEURISTICS } from '../detect/registry.js';
import type { EventSink, TapwatchEvent } from '../events/types.js';
import { RingConsumer } from './ring-consumer.js';
import { ShardEventGate } from './event-gate.js';
import { LoadShedder } from './load-shedder.js';
import { ITEM_EVENT, ITEM_FINGERPRINT, type ShardStats, type WorkerInit, type WorkerMessage } from './protocol.js';

/** Events gathered before a batch is sent regardless of time. */
const MAX_BATCH_ITEMS = 512;

/**
 * Gates this shard's events (event-gate.ts) and serialises the ones that
 * leave at write time: the finding table keeps mutating the objects it has
 * emitted, and JSONL/Kafka serialise at write time too, so this is what a
 * single-threaded sensor would have written.
 */
class BatchingSink implements EventSink {
  items: string[] = [];
  kinds: number[] = [];
  /**
   * Stream ids are `${flowId}-${dir}-${ssrc}-${n}` with per-table counters,
   * so two shards can mint the same one; downstream (the collector) keys
   * streams by (sensor, streamId). A shard suffix keeps them unique.
   */
  protected readonly qualify: (key: string, value: unknown) => unknown;

  constructor(
    private readonly gate: ShardEventGate,
    private readonly shedder: LoadShedder | null,
  ) {
    const suffix = `-w${gate.index}`;
    this.qualify = (key, value) => (key === 'streamId' && typeof value === 'string' ? value + suffix : value);
  }

  write(e: TapwatchEvent): void {
    this.shedder?.observe(e);
    if (!this.gate.pass(e)) return;
    this.items.push(JSON.stringify(e, this.qualify as (k: string, v: unknown) => unknown));
    this.kinds.push(ITEM_EVENT);
  }

  async flush(): Promise<void> {}
}

/** The same sink plus stream fingerprints, only when the main thread has a sink that takes them. */
class FingerprintBatchingSink extends BatchingSink {
  fingerprint(fp: unknown): void {
    this.items.push(JSON.stringify(fp, this.qualify as (k: string, v: unknown) => unknown));
    this.kinds.push(ITEM_FINGERPRINT);
  }
}

export function runShard(init: WorkerInit, post: (m: WorkerMessage) => void): Promise<void> {
  const { index, count } = init;
  const gate = new ShardEventGate(index, count);
  const shedder = init.shedding ? new LoadShedder(init.shedding) : null;
  const sink = init.fingerprints ? new FingerprintBatchingSink(gate, shedder) : new BatchingSink(gate, shedder);
  const o = init.sensor;
  const heuristics = o.heuristics ? HEURISTICS.filter((h) => o.heuristics!.includes(h.id)) : undefined;
  const sensor = new Sensor(
    {
      sensorId: o.sensorId,
      // Distinct per shard: event ids and finding ids must not collide across shards.
      runId: `${o.runId}s${index}`,
      statsIntervalSec: 0,
      ...(o.maxFlows !== undefined ? { maxFlows: o.maxFlows } : {}),
      ...(o.udpFlowIdleSec !== undefined ? { udpFlowIdleSec: o.udpFlowIdleSec } : {}),
      ...(o.tcpFlowIdleSec !== undefined ? { tcpFlowIdleSec: o.tcpFlowIdleSec } : {}),
      ...(o.streams ? { streams: o.streams } : {}),
      ...(o.calls ? { calls: o.calls } : {}),
      ...(o.decode ? { decode: o.decode } : {}),
      ...(o.policy ? { policy: new Policy(o.policy) } : {}),
      ...(o.detect !== undefined ? { detect: o.detect } : {}),
      ...(heuristics ? { heuristics } : {}),
      shard: { index, count },
    },
    [sink],
  );
  sensor.app.shed = shedder;
  const consumer = new RingConsumer(init.ring, index);

  const sendEvents = (): void => {
    if (sink.items.length === 0) return;
    post({ t: 'events', index, items: sink.items, kinds: sink.kinds });
    sink.items = [];
    sink.kinds = [];
  };
  const snapshot = (final: boolean): ShardStats => ({
    index,
    body: sensor.statsBody(final),
    gate: { ...sensor.shard!.counts },
    events: { ...gate.counts },
    shed: shedder ? { ...shedder.counts } : { digests: 0, correlation: 0, detection: 0 },
    heapUsed: process.memoryUsage().heapUsed,
    ringPackets: consumer.packets,
  });

  const rec = sensor.rec;
  const onPacket = sensor.onPacket;
  let lastFlush = Date.now();
  let lastStats = lastFlush;
  for (;;) {
    // The backlog before the batch decides how much of it is shed.
    if (shedder !== null) shedder.update(consumer.fill());
    // Losses anywhere upstream (or shedding here) make every later finding say its evidence may be incomplete.
    if (!sensor.findings.dropsSeen && (consumer.dropsSeen() || shedder?.everShed === true)) sensor.findings.dropsSeen = true;
    const n = consumer.poll(rec, onPacket);
    if (n === 0) {
      if (consumer.done()) break;
      consumer.wait();
    }
    if (sink.items.length >= MAX_BATCH_ITEMS) sendEvents();
    const now = Date.now();
    if (now - lastFlush >= init.flushMs) {
      lastFlush = now;
      sendEvents();
    }
    if (init.statsMs > 0 && now - lastStats >= init.statsMs) {
      lastStats = now;
      post({ t: 'stats', stats: snapshot(false), final: false });
    }
  }
  return sensor.finish().then(() => {
    sendEvents();
    post({ t: 'stats', stats: snapshot(true), final: true });
    post({ t: 'done', index });
  });
}

if (parentPort !== null && workerData !== null && typeof workerData === 'object' && 'ring' in (workerData as object)) {
  const port = parentPort;
  const init = workerData as WorkerInit;
  const post = (m: WorkerMessage): void => port.postMessage(m);
  try {
    runShard(init, post).catch((err: unknown) => post({ t: 'error', index: init.index, message: (err as Error).stack ?? String(err) }));
  } catch (err) {
    post({ t: 'error', index: init.index, message: (err as Error).stack ?? String(err) });
  }
}
