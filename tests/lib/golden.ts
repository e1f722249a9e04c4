/**
 * The golden comparison shared by the corpus and the generated-fixture tests:
 * run tshark and the sensor on one capture, and compare RTP streams (SSRC,
 * source, destination, packets) and SIP message and dialog counts.
 */
import { expect } from 'vitest';
import { runTshark, type OracleResult } from './tshark.js';
import { runSensorOnFile, type CollectingSink } from './run-sensor.js';
import { compileEventValidator } from '../../sensor/src/events/schemas.js';
import type { SensorOptions } from '../../sensor/src/sensor.js';

/** Justified differences from tshark, each with the reason we are right. */
export interface Difference {
  /** Packet counts of streams where tshark's count is wrong, by stream key. */
  streamPackets?: Record<string, number>;
  sipMessages?: number;
  inviteCalls?: number;
  callIds?: number;
  extraStreams?: string[];
  missingStreams?: string[];
  why: string;
}

const validator = compileEventValidator();

export function streamKey(s: { ssrc: number; src: string; dst: string }): string {
  return `0x${(s.ssrc >>> 0).toString(16).toUpperCase().padStart(8, '0')} ${s.src} -> ${s.dst}`;
}

export async function compareWithTshark(
  path: string,
  tsharkOptions: string[],
  sensorOptions: Partial<SensorOptions> = {},
  diff?: Difference,
): Promise<{ oracle: OracleResult; events: CollectingSink }> {
  const oracle = runTshark(path, tsharkOptions);
  const events = await runSensorOnFile(path, sensorOptions);
  // Every event honours its JSON Schema (the contract with the collector).
  for (const e of events.events) expect(validator.validate(e), `${e.type} ${e.id}`).toBeNull();

  const ours = new Map<string, number>();
  for (const s of events.ofType('stream_ended')) ours.set(streamKey(s), (ours.get(streamKey(s)) ?? 0) + s.packets);
  const theirs = new Map<string, number>();
  for (const s of oracle.streams) theirs.set(streamKey(s), (theirs.get(streamKey(s)) ?? 0) + s.packets);
  for (const k of diff?.extraStreams ?? []) ours.delete(k);
  for (const k of diff?.missingStreams ?? []) theirs.delete(k);
  for (const [k, n] of Object.entries(diff?.streamPackets ?? {})) {
    expect(theirs.has(k), `documented difference ${k} still exists in tshark's output`).toBe(true);
    theirs.set(k, n);
  }
  expect(Object.fromEntries([...ours].sort()), `RTP streams of ${path}`).toEqual(Object.fromEntries([...theirs].sort()));

  const stats = events.ofType('sensor_stats').at(-1)!;
  expect(stats, 'final sensor_stats').toBeDefined();
  expect(stats.sip.messages, `SIP messages of ${path}`).toBe(diff?.sipMessages ?? oracle.sipMessages);
  expect(stats.sip.inviteDialogs, `INVITE dialogs of ${path}`).toBe(diff?.inviteCalls ?? oracle.inviteCallIds);
  expect(stats.sip.callIds, `distinct Call-IDs of ${path}`).toBe(diff?.callIds ?? oracle.callIds);
  return { oracle, events };
}
