/**
 * `tapwatch sensor --kafka` as a user runs it (bin/tapwatch.js over dist/),
 * against a real broker: the events it prints with --format jsonl in the same
 * run are exactly what a consumer reads from the findings and telemetry
 * topics (same ids, same content, keyed by Call-ID or stream, findings on the
 * findings topic). librdkafka settings pass through from --kafka-config and
 * --kafka-opt, and a bad one is a usage error.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FindingEvent, TapwatchEvent } from '../../sensor/src/events/types.js';
import { FINDING_TYPES } from '../../sensor/src/events/types.js';
import { keyFor } from '../../sensor/src/output/topics.js';
import { BROKERS, REPO_ROOT, consumeAll, createTopics, kafkaUnavailable, testTopic } from '../lib/kafka.js';
import { ensureSensorBuilt } from './ensure-built.js';

const BIN = path.join(REPO_ROOT, 'bin', 'tapwatch.js');
const CAPTURE = path.join(REPO_ROOT, 'tests', 'scenarios', 'captures', 'copy_vxlan_mirred.pcap');

function runCli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [BIN, ...args], { cwd: REPO_ROOT });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d) => (stdout += d));
    c.stderr.on('data', (d) => (stderr += d));
    const t = setTimeout(() => c.kill('SIGKILL'), 120_000);
    c.on('close', (status) => {
      clearTimeout(t);
      resolve({ status, stdout, stderr });
    });
  });
}

const unavailable = await kafkaUnavailable();

describe.skipIf(unavailable !== null)(`tapwatch sensor --kafka (${BROKERS})`, () => {
  beforeAll(() => {
    ensureSensorBuilt(REPO_ROOT);
  });

  it('produces exactly the events it prints: findings on the findings topic, keyed by call', async () => {
    const findings = testTopic('cli-findings');
    const telemetry = testTopic('cli-telemetry');
    await createTopics([findings, telemetry], 6);
    const r = await runCli(['sensor', '--read', CAPTURE, '--kafka', BROKERS, '--format', 'jsonl', '--sensor-id', 'cli-kafka', '--findings-topic', findings, '--telemetry-topic', telemetry]);
    expect(r.status, r.stderr).toBe(0);
    const printed = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as TapwatchEvent);
    const printedFindings = printed.filter((e) => (FINDING_TYPES as readonly string[]).includes(e.type));
    expect(printedFindings.map((f) => f.type)).toContain('duplicate_stream');
    expect(printed.every((e) => e.sensor === 'cli-kafka')).toBe(true);

    const msgs = await consumeAll([findings, telemetry], { done: (m) => m.length >= printed.length, timeoutMs: 60_000 });
    expect(msgs.length).toBe(printed.length);
    const consumed = new Map(msgs.map((m) => [(JSON.parse(m.value) as TapwatchEvent).id, m]));
    for (const e of printed) {
      const m = consumed.get(e.id);
      expect(m, `event ${e.id} (${e.type}) reached Kafka`).toBeDefined();
      expect(JSON.parse(m!.value)).toEqual(e);
      expect(m!.key).toBe(keyFor(e));
      const isFinding = (FINDING_TYPES as readonly string[]).includes(e.type) || e.type === 'finding_updated';
      expect(m!.topic, e.type).toBe(isFinding ? findings : telemetry);
    }
    // The finding and its call's events share a key: one partition, in order.
    const f = printedFindings[0] as FindingEvent;
    expect(f.callId).toBeTruthy();
    const ofCall = msgs.filter((m) => m.key === f.callId);
    expect(new Set(ofCall.filter((m) => m.topic === telemetry).map((m) => m.partition)).size).toBe(1);
    expect(ofCall.some((m) => JSON.parse(m.value).type === 'call_started')).toBe(true);
    // The final sensor_stats reports the producer's work.
    const stats = printed.filter((e) => e.type === 'sensor_stats').at(-1) as Extract<TapwatchEvent, { type: 'sensor_stats' }>;
    expect(stats.output).toMatchObject({ failed: 0, dropped: 0, spooled: 0 });
  });

  it('takes the brokers and librdkafka settings from --kafka-config, and prints nothing without --format', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tapwatch-kcfg-'));
    try {
      const findings = testTopic('cfg-findings');
      const telemetry = testTopic('cfg-telemetry');
      await createTopics([findings, telemetry], 1);
      const conf = path.join(dir, 'kafka.properties');
      writeFileSync(conf, `# librdkafka settings\nbootstrap.servers=${BROKERS}\ncompression.type=gzip\n\nlinger.ms=5\n`);
      const r = await runCli(['sensor', '--read', CAPTURE, '--kafka-config', conf, '--kafka-opt', 'client.id=tapwatch-cfg-test', '--findings-topic', findings, '--telemetry-topic', telemetry]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toBe('');
      const msgs = await consumeAll([findings, telemetry], { minMessages: 5, idleMs: 2000, timeoutMs: 40_000 });
      expect(msgs.filter((m) => m.topic === findings).length).toBeGreaterThan(0);
      expect(msgs.some((m) => JSON.parse(m.value).type === 'sensor_stats')).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects an unknown librdkafka property with exit 2', async () => {
    const r = await runCli(['sensor', '--read', CAPTURE, '--kafka', BROKERS, '--kafka-opt', 'no.such.property=1']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/no\.such\.property/);
  });
});
