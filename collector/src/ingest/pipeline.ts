/**
 * The consumer's batch step, without Kafka: decode and validate every
 * message, store the valid ones in ONE transaction, send the invalid ones to
 * the dead-letter sink and wait for the broker's acknowledgement, then say
 * which offsets may be committed. The Kafka plugin only commits what this
 * returns, and only after it resolved, so an offset is never committed
 * before its row is durable (at-least-once delivery + idempotent store =
 * effectively once).
 *
 * Failure rules:
 * - a message that is not JSON, not a known event, or fails its schema is a
 *   dead letter; the consumer never stops on one;
 * - a batch the database refuses for its data (SQLSTATE class 22, 23) is
 *   retried event by event under savepoints, and the events that still fail
 *   become dead letters (reason 'store');
 * - any other database error (connection lost, shutdown) rejects: nothing is
 *   committed and the caller retries the same batch.
 */
import type pg from 'pg';
import type { TapwatchEvent } from '../../../sensor/src/events/types.js';
import { decodeMessage, type DeadLetter, type DeadLetterSink, type InMessage, type Validators } from './message.js';
import type { StreamFingerprint } from './fingerprint.js';
import { storeBatch, type StorableEvent, type StoreResult } from './store-batch.js';

export interface CommitOffset {
  topic: string;
  partition: number;
  /** The next offset to read (last processed + 1), as Kafka commits it. */
  offset: number;
}

export interface BatchOutcome extends StoreResult {
  deadLetters: DeadLetter[];
  commits: CommitOffset[];
  /** Seconds spent (decode + transaction + dead-letter delivery). */
  seconds: number;
}

export interface PipelineDeps {
  pool: pg.Pool;
  validators: Validators;
  dlq: DeadLetterSink;
  fingerprintWindowSec: number;
  /** Transactions run at once, each over whole partitions (default 1). */
  concurrency?: number;
  /** Called after the database commit and the DLQ delivery, before the offsets are committed. */
  onStored?: (outcome: BatchOutcome) => void;
}

/** Highest offset + 1 per topic-partition. */
export function commitOffsets(messages: readonly InMessage[]): CommitOffset[] {
  const best = new Map<string, CommitOffset>();
  for (const m of messages) {
    const k = `${m.topic}\0${m.partition}`;
    const cur = best.get(k);
    if (!cur || m.offset + 1 > cur.offset) best.set(k, { topic: m.topic, partition: m.partition, offset: m.offset + 1 });
  }
  return [...best.values()];
}

/** Fewest messages per concurrent transaction: below this, one transaction stores the batch. */
const MIN_GROUP_SIZE = 500;

const isDataError = (err: unknown): boolean => {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
};

async function inTransaction<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query('BEGIN');
    const out = await fn(client);
    await client.query('COMMIT');
    return out;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {
      broken = true;
    });
    throw err;
  } finally {
    client.release(broken);
  }
}

/** The slow path for a batch the database refused: one savepoint per event. */
async function storeOneByOne(
  pool: pg.Pool,
  events: StorableEvent[],
  fingerprints: StreamFingerprint[],
  windowSec: number,
  dead: DeadLetter[],
  messageOf: Map<StorableEvent | StreamFingerprint, InMessage>,
): Promise<StoreResult> {
  return inTransaction(pool, async (client) => {
    const total: StoreResult = { inserted: [], duplicates: [], newFindings: [], crossSensor: [], sensors: [] };
    const items: Array<{ ev?: StorableEvent; fp?: StreamFingerprint }> = [...events.map((ev) => ({ ev })), ...fingerprints.map((fp) => ({ fp }))];
    for (const it of items) {
      await client.query('SAVEPOINT one');
      try {
        const r = await storeBatch(client, it.ev ? [it.ev] : [], it.fp ? [it.fp] : [], { fingerprintWindowSec: windowSec });
        await client.query('RELEASE SAVEPOINT one');
        total.inserted.push(...r.inserted);
        total.duplicates.push(...r.duplicates);
        total.newFindings.push(...r.newFindings);
        total.crossSensor.push(...r.crossSensor);
        total.sensors.push(...r.sensors);
      } catch (err) {
        if (!isDataError(err)) throw err;
        await client.query('ROLLBACK TO SAVEPOINT one');
        const message = messageOf.get((it.ev ?? it.fp)!)!;
        dead.push({ message, reason: 'store', error: `database refused the event (SQLSTATE ${(err as { code?: string }).code})` });
      }
    }
    return total;
  });
}

interface Group {
  events: StorableEvent[];
  fingerprints: StreamFingerprint[];
  size: number;
}

/**
 * Splits a batch into at most n groups of whole partitions, balanced by
 * message count (largest partition first onto the lightest group). Kafka
 * keeps a call's events, and all fingerprints of one SSRC, in one partition,
 * so each group's transaction sees everything it must order or join.
 */
function groupByPartition(items: Array<{ message: InMessage; ev?: StorableEvent; fp?: StreamFingerprint }>, n: number): Group[] {
  const byPartition = new Map<string, typeof items>();
  for (const it of items) {
    const k = `${it.message.topic}\0${it.message.partition}`;
    const list = byPartition.get(k);
    if (list) list.push(it);
    else byPartition.set(k, [it]);
  }
  const groups: Group[] = Array.from({ length: Math.max(1, Math.min(n, byPartition.size)) }, () => ({ events: [], fingerprints: [], size: 0 }));
  for (const list of [...byPartition.values()].sort((a, b) => b.length - a.length)) {
    const g = groups.reduce((min, x) => (x.size < min.size ? x : min));
    for (const it of list) {
      if (it.ev) g.events.push(it.ev);
      if (it.fp) g.fingerprints.push(it.fp);
    }
    g.size += list.length;
  }
  return groups;
}

export async function processBatch(messages: readonly InMessage[], deps: PipelineDeps): Promise<BatchOutcome> {
  const t0 = performance.now();
  const items: Array<{ message: InMessage; ev?: StorableEvent; fp?: StreamFingerprint }> = [];
  const dead: DeadLetter[] = [];
  const messageOf = new Map<StorableEvent | StreamFingerprint, InMessage>();
  for (const m of messages) {
    const d = decodeMessage(m, deps.validators);
    if (d.kind === 'event') {
      const ev = { event: d.event, raw: d.raw };
      items.push({ message: m, ev });
      messageOf.set(ev, m);
    } else if (d.kind === 'fingerprint') {
      items.push({ message: m, fp: d.fingerprint });
      messageOf.set(d.fingerprint, m);
    } else {
      dead.push(d.dead);
    }
  }
  // One transaction per group of partitions, run concurrently: PostgreSQL
  // works on each in its own backend (another core). Every group must commit
  // before any offset is: a failure rejects the whole batch, and its
  // redelivery is absorbed by the idempotent store.
  // A small batch (light load: the consumer takes what is there, without
  // waiting to fill one) stays in one transaction: a second one would double
  // the fixed cost per batch (BEGIN, six statements, COMMIT) for nothing.
  const groups = groupByPartition(items, Math.min(deps.concurrency ?? 1, Math.ceil(items.length / MIN_GROUP_SIZE)));
  const results = await Promise.all(
    groups.map(async (g): Promise<StoreResult> => {
      if (g.size === 0) return { inserted: [], duplicates: [], newFindings: [], crossSensor: [], sensors: [] };
      try {
        return await inTransaction(deps.pool, (c) => storeBatch(c, g.events, g.fingerprints, { fingerprintWindowSec: deps.fingerprintWindowSec }));
      } catch (err) {
        if (!isDataError(err)) throw err;
        return storeOneByOne(deps.pool, g.events, g.fingerprints, deps.fingerprintWindowSec, dead, messageOf);
      }
    }),
  );
  const stored: StoreResult = { inserted: [], duplicates: [], newFindings: [], crossSensor: [], sensors: [] };
  for (const r of results) {
    stored.inserted.push(...r.inserted);
    stored.duplicates.push(...r.duplicates);
    stored.newFindings.push(...r.newFindings);
    stored.crossSensor.push(...r.crossSensor);
    stored.sensors.push(...r.sensors);
  }
  if (dead.length) await deps.dlq.send(dead);
  const outcome: BatchOutcome = { ...stored, deadLetters: dead, commits: commitOffsets(messages), seconds: (performance.now() - t0) / 1000 };
  deps.onStored?.(outcome);
  return outcome;
}

/** Events of a batch outcome by type, for counters. */
export function countByType(events: readonly TapwatchEvent[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const e of events) out.set(e.type, (out.get(e.type) ?? 0) + 1);
  return out;
}
