/**
 * What the main thread and the shard workers tell each other. Packets never
 * travel this way (they cross in the shared ring); these messages carry
 * events in batches, stats snapshots and the end of a shard's run.
 */
import type { CallTableOptions } from '../calls/call-table.js';
import type { PolicyConfig } from '../detect/policy.js';
import type { DecodeContext } from '../decode/context.js';
import type { SensorStatsEvent } from '../events/types.js';
import type { StreamTableOptions } from '../media/stream-table.js';
import type { RingBuffers } from './ring-producer.js';
import type { ShedCounts, ShedThresholds } from './load-shedder.js';

/** The sensor options a worker can receive (plain data: structured-cloneable). */
export interface ShardSensorOptions {
  sensorId: string;
  runId: string;
  maxFlows?: number;
  udpFlowIdleSec?: number;
  tcpFlowIdleSec?: number;
  streams?: Partial<StreamTableOptions>;
  calls?: Partial<CallTableOptions>;
  decode?: Partial<Omit<DecodeContext, 'weirds' | 'defrag'>>;
  /** The policy's configuration; each worker builds its own Policy from it. */
  policy?: PolicyConfig;
  detect?: boolean;
  /** Ids of the heuristics to run (default: all registered). */
  heuristics?: string[];
}

export interface WorkerInit {
  ring: RingBuffers;
  index: number;
  count: number;
  sensor: ShardSensorOptions;
  /** Forward stream fingerprints (some sink on the main thread takes them). */
  fingerprints: boolean;
  /** Load shedding thresholds; null disables shedding (file replays). */
  shedding: ShedThresholds | null;
  /** Send an event batch at least this often (wall ms) while events are pending. */
  flushMs: number;
  /** Send a stats snapshot this often (wall ms); 0 only at the end. */
  statsMs: number;
}

/** Item kinds in an event batch. */
export const ITEM_EVENT = 0;
export const ITEM_FINGERPRINT = 1;

export type StatsBody = Omit<SensorStatsEvent, 'v' | 'id' | 'sensor'>;

export interface ShardStats {
  index: number;
  body: StatsBody;
  gate: { owned: number; shared: number; skipped: number };
  events: { passed: number; suppressed: number };
  shed: ShedCounts;
  heapUsed: number;
  /** Records this shard read from the ring. */
  ringPackets: number;
}

export type WorkerMessage =
  | { t: 'events'; index: number; items: string[]; kinds: number[] }
  | { t: 'stats'; stats: ShardStats; final: boolean }
  | { t: 'done'; index: number }
  | { t: 'error'; index: number; message: string };
