/**
 * `npm run demo` (deploy/demo/demo.sh), run for real in its quick mode: a
 * sipp call in namespaces, a tc mirred copy into VXLAN, the sensor live on
 * the SPAN interface, Kafka, the collector, Prometheus and Alertmanager from
 * deploy/, and the local Slack receiver. It must finish with a Slack message
 * naming the duplicate_stream and the copy's destination, and leave no
 * namespace, interface or process behind. Needs root, sipp, prometheus,
 * alertmanager, PostgreSQL and the local Kafka broker (npm run services:up).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { alertmanagerBin, prometheusBin } from '../lib/alert-stack.js';
import { listNamespaces, netnsAvailable } from '../lib/netns.js';
import { sippAvailable } from '../lib/sipp.js';
import { REPO_ROOT } from './cli-help.js';

const require = createRequire(import.meta.url);

/** Topic names the local broker knows (metadata request through librdkafka). */
async function brokerTopics(): Promise<string[]> {
  const Kafka = require('node-rdkafka') as typeof import('node-rdkafka');
  const p = new Kafka.Producer({ 'metadata.broker.list': process.env.KAFKA_BROKERS ?? '127.0.0.1:9092' });
  await new Promise<void>((resolve, reject) => p.connect({}, (err) => (err ? reject(err) : resolve())));
  try {
    return await new Promise<string[]>((resolve, reject) =>
      p.getMetadata({ timeout: 10_000 }, (err, md) => (err ? reject(err) : resolve(md.topics.map((t) => t.name)))),
    );
  } finally {
    p.disconnect();
  }
}

const missing = [
  !netnsAvailable() && 'root and ip netns',
  !sippAvailable() && 'sipp',
  !prometheusBin() && 'prometheus',
  !alertmanagerBin() && 'alertmanager',
  spawnSync('psql', ['--version']).error && 'psql',
].filter(Boolean);

describe.skipIf(missing.length > 0)(`npm run demo${missing.length ? ` (skipped: no ${missing.join(', ')})` : ''}`, () => {
  it('catches the covert VXLAN copy live and delivers it to Slack within two minutes, then cleans up', async () => {
    const work = mkdtempSync(path.join(tmpdir(), 'tapwatch-demo-test-'));
    const slackOut = path.join(work, 'slack.json');
    try {
      const started = Date.now();
      const child = spawn('bash', [path.join(REPO_ROOT, 'deploy/demo/demo.sh')], {
        cwd: REPO_ROOT,
        env: { ...process.env, DEMO_QUICK: '1', DEMO_TIMEOUT_S: '90', DEMO_SLACK_OUT: slackOut },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const code = await new Promise<number | null>((resolve) => {
        const t = setTimeout(() => child.kill('SIGTERM'), 115_000);
        child.once('exit', (c) => {
          clearTimeout(t);
          resolve(c);
        });
      });
      const seconds = (Date.now() - started) / 1000;
      expect(code, out).toBe(0);
      expect(seconds).toBeLessThan(120);

      // Every step header, in order.
      const headers = [...out.matchAll(/== (\d)\/5 /g)].map((m) => Number(m[1]));
      expect(headers).toEqual([1, 2, 3, 4, 5]);

      // The message Alertmanager posted, as the receiver recorded it.
      const body = JSON.parse(readFileSync(slackOut, 'utf8')) as { channel: string; attachments: Array<{ title: string; text: string; color: string }> };
      const text = JSON.stringify(body);
      expect(text).toContain('duplicate_stream');
      expect(text).toContain('10.10.3.2:4789'); // the VXLAN copy's destination
      expect(text).toContain('demo-edge-1');
      expect(body.attachments[0]!.title).toMatch(/^\[FIRING:\d+\] TapwatchOpenFinding/);
      expect(body.attachments[0]!.color).toBe('danger');
      // The demo printed it too, under step 5.
      const step5 = out.slice(out.indexOf('== 5/5 '));
      expect(step5).toContain('Copied to: `10.10.3.2:4789`');

      // The sensor saw the call and the copy on the live mirror interface.
      expect(out).toMatch(/ALERT\s+DUPLICATE MEDIA \[critical/);
      expect(out).toMatch(/SIP\s+6 messages/);
      expect(out).toMatch(/kernel drops 0/);

      // Nothing left behind: namespaces, the host end of the SPAN veth, the database.
      const pid = /\(tw-(\d+)-a\)/.exec(out)![1]!;
      expect(listNamespaces().filter((n) => n.startsWith(`tw-${pid}-`))).toEqual([]);
      expect(spawnSync('ip', ['link', 'show', `tw${pid}sp`]).status).not.toBe(0);
      const db = spawnSync('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-tAc', `select count(*) from pg_database where datname = 'tapwatch_demo_${pid}'`], { encoding: 'utf8' });
      expect(db.stdout.trim()).toBe('0');
      expect((await brokerTopics()).filter((t) => t.startsWith(`tapwatch.demo-${pid}.`))).toEqual([]);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }, 130_000);
});
