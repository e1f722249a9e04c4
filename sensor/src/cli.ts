/**
 * `tapwatch` command line: one binary, subcommands.
 *
 *   tapwatch sensor --read FILE [--format jsonl|text]
 *   tapwatch sensor --interface IF [--filter BPF | --no-filter] [--snaplen N] [--buffer-mb MiB] [--immediate] [--no-promisc]
 *   tapwatch sample            generate the bundled sample capture and run the sensor on it
 *
 * Exit codes: 0 ok, 1 runtime error (e.g. not a capture file, events that
 * reached neither Kafka nor the spool), 2 usage error.
 */
import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { Sensor } from './sensor.js';
import { openCaptureFile } from './capture/open-file.js';
import { openLiveCapture } from './capture/live-capture.js';
import { DEFAULT_BUFFER_MIB, DEFAULT_IMMEDIATE, DEFAULT_SNAPLEN } from './capture/capture-options.js';
import { CaptureError, type PacketSource } from './capture/packet-source.js';
import type { EventSink } from './events/types.js';
import { JsonlSink } from './output/jsonl-sink.js';
import { FINGERPRINTS_TOPIC } from './output/topics.js';
import { TextSink } from './output/text-sink.js';
import { ProgressBar } from './output/progress-bar.js';
import { PolicyError, loadPolicy } from './detect/policy.js';
import { FINDING_TYPES, type FindingEvent } from './events/types.js';
import { formatFindingFull } from './output/finding-text.js';
import { readFileSync } from 'node:fs';
import { availableParallelism, hostname } from 'node:os';
import { ParallelSensor, type ParallelSensorOptions } from './parallel/parallel-sensor.js';
import { MAX_CONSUMERS, isPowerOfTwo } from './parallel/ring-layout.js';

const USAGE = `Usage:
  tapwatch sensor (--read FILE | --interface IF) [options]
  tapwatch sample [--format text|jsonl]
  tapwatch explain (FINDING_JSON | FILE.jsonl | -) [--id FINDING_ID]
  tapwatch collector --port PORT [--config FILE]   (KAFKA_BROKERS, DATABASE_URL, TAPWATCH_API_TOKEN from the environment)
  tapwatch help

sensor options:
  -r, --read FILE          read a pcap or pcapng file
  -i, --interface IF       capture live on an interface (needs CAP_NET_RAW)
  -f, --filter BPF         libpcap filter for live capture (default: a VoIP filter, see docs/performance.md)
      --no-filter          capture everything
      --snaplen N          bytes captured per packet (default 65535)
      --buffer-mb MiB      libpcap kernel buffer (default 64; --buffer-size is the same)
      --immediate          deliver each packet at once (default off: the kernel hands over blocks, within 50 ms)
      --no-immediate       the default, stated
      --no-promisc         do not put the interface in promiscuous mode
      --capture-backend B  ring (native capture thread), tapcap (default) or cap; ring and tapcap report kernel drops
      --format F           jsonl | text | none (default: text on a terminal, jsonl otherwise)
      --sensor-id ID       sensor name in every event (default: host name)
      --stats-interval S   sensor_stats every S seconds of wall time (default 10 live, 0 for files)
      --tzsp-port P        extra UDP port decoded as TZSP (repeatable)
      --policy FILE        detection policy (YAML): authorised parties, sensor tunnels, heuristic switches
      --no-detect          decode and track only; run no heuristics
      --no-progress        no progress bar on a terminal
      --workers N          worker threads that decode and detect, sharded by call (docs/parallel.md);
                           default: the number of cores for live capture, 1 for --read (byte-identical
                           replays); 1 runs everything on the main thread
      --ring-size MiB      shared packet ring between capture and workers (default 32, a power of two)

Kafka output (with --kafka, stdout gets events only when --format is given):
      --kafka BROKERS      produce every event to Kafka (host:port[,host:port...])
      --kafka-config FILE  librdkafka properties file (key=value lines: TLS, SASL, bootstrap.servers...)
      --kafka-opt K=V      one librdkafka property (repeatable; overrides --kafka-config)
      --findings-topic T   topic for findings and finding updates (default tapwatch.findings)
      --telemetry-topic T  topic for every other event (default tapwatch.telemetry)
      --fingerprints-topic T  topic for per-stream media fingerprints (default tapwatch.fingerprints)
      --no-fingerprints    publish no media fingerprints (the collector's cross-sensor join then misses this sensor)
      --spool-dir DIR      keep events on disk while the broker is away (replayed in order)
      --metrics-port N     serve Prometheus metrics on http://0.0.0.0:N/metrics
`;

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case 'sensor':
        return await sensorCommand(rest);
      case 'sample':
        return await sampleCommand(rest);
      case 'explain':
        return explainCommand(rest);
      case 'collector': {
        // Loaded only for this command: the sensor never needs fastify or pg.
        const { collectorCommand } = await import('../../collector/src/cli.js');
        return await collectorCommand(rest);
      }
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return cmd === undefined ? 2 : 0;
      default:
        process.stderr.write(`tapwatch: unknown command '${cmd}'\n\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    if (err instanceof CaptureError) {
      process.stderr.write(`tapwatch: ${err.message}\n`);
      return 1;
    }
    if (err instanceof PolicyError) {
      process.stderr.write(`tapwatch: ${err.message}\n`);
      return 2;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`tapwatch: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    throw err;
  }
}

class UsageError extends Error {}

/**
 * `--metrics-port`: serve the sensor's metrics (loaded only when asked for:
 * stdout-only runs need no prom-client). A port that cannot be bound is a
 * usage error, reported after the Kafka producer is closed.
 */
async function serveMetrics(
  port: number,
  sinks: EventSink[],
  kafka: import('./output/kafka-sink.js').KafkaSink | null,
  view: (m: typeof import('./metrics/metrics-server.js')) => import('./metrics/metrics-server.js').SensorMetricsView,
): Promise<import('./metrics/metrics-server.js').MetricsServer> {
  const m = await import('./metrics/metrics-server.js');
  try {
    return await m.startMetricsServer({ port, view: view(m), sinks });
  } catch (err) {
    await kafka?.close(0);
    throw new UsageError(`--metrics-port ${port}: ${(err as Error).message}`);
  }
}

/**
 * Calls `stop` once on the first SIGINT or SIGTERM (stop reading; the run
 * then flushes every table and the output). Returns the function that
 * removes the handlers again.
 */
function onStopSignal(stop: () => void): () => void {
  let stopping = false;
  const handler = (): void => {
    if (stopping) return;
    stopping = true;
    stop();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

async function sensorCommand(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        read: { type: 'string', short: 'r' },
        interface: { type: 'string', short: 'i' },
        filter: { type: 'string', short: 'f' },
        snaplen: { type: 'string' },
        'buffer-size': { type: 'string' },
        'buffer-mb': { type: 'string' },
        immediate: { type: 'boolean' },
        'no-immediate': { type: 'boolean' },
        'no-filter': { type: 'boolean' },
        'no-promisc': { type: 'boolean' },
        'capture-backend': { type: 'string' },
        format: { type: 'string' },
        'sensor-id': { type: 'string' },
        'stats-interval': { type: 'string' },
        'tzsp-port': { type: 'string', multiple: true },
        'no-progress': { type: 'boolean' },
        policy: { type: 'string' },
        'no-detect': { type: 'boolean' },
        kafka: { type: 'string' },
        'kafka-config': { type: 'string' },
        'kafka-opt': { type: 'string', multiple: true },
        'findings-topic': { type: 'string' },
        'telemetry-topic': { type: 'string' },
        'fingerprints-topic': { type: 'string' },
        'no-fingerprints': { type: 'boolean' },
        'spool-dir': { type: 'string' },
        'metrics-port': { type: 'string' },
        workers: { type: 'string' },
        'ring-size': { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const v = parsed.values;
  if (!v.read === !v.interface) throw new UsageError('give exactly one of --read FILE or --interface IF');
  const kafkaConf = kafkaSettings(v['kafka-config'], v['kafka-opt'] ?? []);
  const brokers = v.kafka ?? kafkaConf.brokers;
  if (brokers === undefined && (v['findings-topic'] || v['telemetry-topic'] || v['fingerprints-topic'] || v['spool-dir'])) {
    throw new UsageError('--findings-topic, --telemetry-topic, --fingerprints-topic and --spool-dir need --kafka BROKERS');
  }
  const format = v.format ?? (brokers !== undefined ? 'none' : process.stdout.isTTY ? 'text' : 'jsonl');
  if (format !== 'jsonl' && format !== 'text' && format !== 'none') throw new UsageError(`--format must be jsonl or text, not '${format}'`);
  const live = v.interface !== undefined;
  const statsInterval = num(v['stats-interval'], live ? 10 : 0, 'stats-interval');

  // Decided before the capture opens: with the native ring backend the capture thread writes the shards' ring.
  // Live capture uses every core by default; a file replay stays single-threaded (and byte-identical) unless asked.
  const workers = v.workers !== undefined ? num(v.workers, 1, 'workers') : live ? availableParallelism() : 1;
  if (!Number.isInteger(workers) || workers < 1 || workers > MAX_CONSUMERS) throw new UsageError(`--workers must be a whole number from 1 to ${MAX_CONSUMERS}`);

  let source: PacketSource;
  /** `--capture-backend ring` with workers: the native capture thread, producing straight into the shards' ring. */
  let native: import('./capture/native-ring-capture.js').NativeRingProducer | null = null;
  if (v.read !== undefined) {
    source = openCaptureFile(v.read);
  } else {
    const backend = v['capture-backend'] ?? 'tapcap';
    if (backend !== 'tapcap' && backend !== 'cap' && backend !== 'ring') throw new UsageError(`--capture-backend must be ring, tapcap or cap`);
    if (v.filter !== undefined && v['no-filter']) throw new UsageError('give --filter or --no-filter, not both');
    if (v.immediate && v['no-immediate']) throw new UsageError('give --immediate or --no-immediate, not both');
    const liveOpts = {
      device: v.interface!,
      ...(v['no-filter'] ? { filter: '' } : v.filter !== undefined ? { filter: v.filter } : { voipFilter: true }),
      snaplen: num(v.snaplen, DEFAULT_SNAPLEN, 'snaplen'),
      bufferSizeMiB: num(v['buffer-mb'] ?? v['buffer-size'], DEFAULT_BUFFER_MIB, 'buffer-mb'),
      immediate: v.immediate === true ? true : v['no-immediate'] === true ? false : DEFAULT_IMMEDIATE,
      promiscuous: !v['no-promisc'],
    };
    if (backend === 'ring' && workers > 1) {
      const { NativeRingProducer } = await import('./capture/native-ring-capture.js');
      native = new NativeRingProducer(liveOpts);
      source = nativeSourceFacade(native);
    } else if (backend === 'ring') {
      const { RingLiveSource } = await import('./capture/native-ring-capture.js');
      source = new RingLiveSource(liveOpts);
    } else {
      source = openLiveCapture({ ...liveOpts, backend });
    }
  }

  // Everything that can fail on bad input happens before the Kafka producer starts.
  const policy = v.policy ? loadPolicy(v.policy) : undefined;
  const metricsPort = v['metrics-port'] !== undefined ? num(v['metrics-port'], 0, 'metrics-port') : undefined;
  const sinks: EventSink[] = [];
  if (format === 'jsonl') sinks.push(new JsonlSink(1));
  else if (format === 'text') sinks.push(new TextSink(1, process.stdout.isTTY === true));
  // Loaded only when asked for: stdout-only runs need neither librdkafka nor prom-client.
  let kafka: import('./output/kafka-sink.js').KafkaSink | null = null;
  if (brokers !== undefined) {
    const { KafkaSink } = await import('./output/kafka-sink.js');
    try {
      kafka = new KafkaSink({
        brokers,
        librdkafka: kafkaConf.props,
        clientId: `tapwatch-sensor-${v['sensor-id'] ?? hostname()}`,
        topics: {
          ...(v['findings-topic'] ? { findings: v['findings-topic'] } : {}),
          ...(v['telemetry-topic'] ? { telemetry: v['telemetry-topic'] } : {}),
        },
        // Fingerprints are on by default with Kafka: the collector's cross-sensor join needs them.
        fingerprintsTopic: v['no-fingerprints'] ? null : (v['fingerprints-topic'] ?? FINGERPRINTS_TOPIC),
        ...(v['spool-dir'] ? { spoolDir: v['spool-dir'] } : {}),
        onWarning: (m) => process.stderr.write(`tapwatch: kafka: ${m}\n`),
      });
    } catch (err) {
      // librdkafka refuses an unknown or invalid property when the producer is created.
      throw new UsageError(`kafka: ${(err as Error).message}`);
    }
    sinks.push(kafka);
  }
  const tzspPorts = (v['tzsp-port'] ?? []).map((p) => num(p, 0, 'tzsp-port'));
  if (workers > 1) {
    const ringMiB = num(v['ring-size'], 32, 'ring-size');
    const ringBytes = ringMiB * 1024 * 1024;
    if (!isPowerOfTwo(ringBytes) || ringBytes > 2 ** 30) throw new UsageError('--ring-size must be a power of two MiB, at most 1024');
    return runParallel(source, native, sinks, kafka, metricsPort, {
      workers,
      ringBytes,
      statsIntervalSec: statsInterval,
      whenFull: live ? 'drop' : 'wait',
      sensor: {
        ...(v['sensor-id'] ? { sensorId: v['sensor-id'] } : {}),
        ...(tzspPorts.length ? { decode: { tzspPorts: [37008, ...tzspPorts] } } : {}),
        ...(policy ? { policy: policy.config } : {}),
        detect: !v['no-detect'],
      },
    }, !live && !v['no-progress'] && process.stderr.isTTY, live);
  }
  const sensor = new Sensor(
    {
      ...(v['sensor-id'] ? { sensorId: v['sensor-id'] } : {}),
      statsIntervalSec: statsInterval,
      ...(tzspPorts.length ? { decode: { tzspPorts: [37008, ...tzspPorts] } } : {}),
      ...(policy ? { policy } : {}),
      detect: !v['no-detect'],
    },
    sinks,
  );

  const metrics = metricsPort === undefined ? null : await serveMetrics(metricsPort, sinks, kafka, (m) => m.liveSensorView(sensor));
  // SIGINT/SIGTERM: stop reading, then flush every table and the output.
  const releaseSignals = onStopSignal(() => source.stop());

  let undelivered = 0;
  const progress = !live && !v['no-progress'] && process.stderr.isTTY ? new ProgressBar(source, process.stderr) : null;
  const flushTimer = live ? setInterval(() => void sensor.events.flush(), 500) : null;
  try {
    progress?.start();
    await sensor.run(source);
  } finally {
    progress?.stop();
    if (flushTimer) clearInterval(flushTimer);
    releaseSignals();
    // Waits (bounded) for the broker to acknowledge; what it did not goes to the spool.
    undelivered = (await kafka?.close()) ?? 0;
    await metrics?.close();
  }
  for (const w of source.warnings) process.stderr.write(`tapwatch: warning: ${w}\n`);
  // Events that reached neither the broker nor a spool: a runtime error.
  return undelivered > 0 ? 1 : 0;
}

/** The native ring producer has no PacketSource of its own; this stands in where one is named (warnings, stop). */
function nativeSourceFacade(native: import('./capture/native-ring-capture.js').NativeRingProducer): PacketSource {
  return {
    kind: 'live',
    name: native.name,
    warnings: native.warnings,
    run: () => Promise.reject(new Error('the native ring producer runs through ParallelSensor.runNative')),
    stop: () => undefined,
    stats: () => {
      const k = native.kernelStats();
      return { packets: 0, bytes: 0, kernelReceived: k.received, kernelDrops: k.dropped, ifDrops: k.ifDropped, dropsUnavailable: false };
    },
    progress: () => ({ bytesRead: 0, bytesTotal: 0 }),
  };
}

/** `--workers N` (N > 1): the same run on the parallel sensor (docs/parallel.md). */
async function runParallel(
  source: PacketSource,
  native: import('./capture/native-ring-capture.js').NativeRingProducer | null,
  sinks: EventSink[],
  kafka: import('./output/kafka-sink.js').KafkaSink | null,
  metricsPort: number | undefined,
  opts: ParallelSensorOptions,
  showProgress: boolean,
  live: boolean,
): Promise<number> {
  const sensor = new ParallelSensor(opts, sinks);
  // The shards' tables live in their threads: the metrics read the latest aggregated sensor_stats.
  const metrics = metricsPort === undefined ? null : await serveMetrics(metricsPort, sinks, kafka, (m) => m.statsEventView(() => sensor.latestStats, sensor.counts));
  const releaseSignals = onStopSignal(() => sensor.stop());
  let undelivered = 0;
  const progress = showProgress ? new ProgressBar(source, process.stderr) : null;
  const flushTimer = live ? setInterval(() => void Promise.all(sinks.map((s) => s.flush())), 500) : null;
  try {
    progress?.start();
    if (native !== null) await sensor.runNative(native);
    else await sensor.run(source);
  } finally {
    progress?.stop();
    if (flushTimer) clearInterval(flushTimer);
    releaseSignals();
    undelivered = (await kafka?.close()) ?? 0;
    await metrics?.close();
  }
  for (const w of source.warnings) process.stderr.write(`tapwatch: warning: ${w}\n`);
  return undelivered > 0 ? 1 : 0;
}

/**
 * librdkafka settings from --kafka-config (Java-style properties: key=value,
 * # comments) and --kafka-opt K=V; the bootstrap servers in them name the
 * brokers when --kafka does not.
 */
function kafkaSettings(file: string | undefined, opts: string[]): { brokers?: string; props: Record<string, string> } {
  const props: Record<string, string> = {};
  const add = (kv: string, where: string): void => {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new UsageError(`${where}: expected key=value, not '${kv}'`);
    props[kv.slice(0, eq).trim()] = kv.slice(eq + 1).trim();
  };
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new UsageError(`--kafka-config: cannot read ${file}: ${(err as Error).message}`);
    }
    for (const line of text.split('\n')) {
      const l = line.trim();
      if (l && !l.startsWith('#') && !l.startsWith('!')) add(l, file);
    }
  }
  for (const o of opts) add(o, '--kafka-opt');
  const brokers = props['bootstrap.servers'] ?? props['metadata.broker.list'];
  delete props['bootstrap.servers'];
  delete props['metadata.broker.list'];
  return { ...(brokers ? { brokers } : {}), props };
}

function num(s: string | undefined, dflt: number, name: string): number {
  if (s === undefined) return dflt;
  const n = Number(s);
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`--${name} must be a non-negative number, not '${s}'`);
  return n;
}

/** Generate the bundled sample (our own synthetic capture, no third-party data) and run the sensor on it. */
async function sampleCommand(args: string[]): Promise<number> {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  const gen = join(root, 'dist', 'tests', 'fixtures', 'gen', 'make-sample.js');
  const out = join(root, '.cache', 'sample', 'sample.pcap');
  if (!existsSync(gen)) {
    process.stderr.write(`tapwatch: sample generator not built (${gen}); run npm ci\n`);
    return 1;
  }
  const r = spawnSync(process.execPath, [gen, '--out', out], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) return 1;
  return sensorCommand(['--read', out, ...args]);
}

/**
 * `tapwatch explain`: print the full evidence of findings. The argument is a
 * finding as JSON, a JSONL file of events (every finding in it, or the one
 * named by --id), or `-` for standard input.
 */
function explainCommand(args: string[]): number {
  let parsed;
  try {
    parsed = parseArgs({ args, options: { id: { type: 'string' } }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const src = parsed.positionals[0];
  if (src === undefined) throw new UsageError('explain needs a finding as JSON, a JSONL file, or -');
  let text: string;
  if (src.trimStart().startsWith('{')) text = src;
  else if (src === '-') text = readFileSync(0, 'utf8');
  else {
    try {
      text = readFileSync(src, 'utf8');
    } catch (err) {
      process.stderr.write(`tapwatch: cannot read ${src}: ${(err as Error).message}\n`);
      return 1;
    }
  }
  const findings: FindingEvent[] = [];
  let bad = 0;
  for (const line of text.split('\n')) {
    const l = line.trim();
    if (!l) continue;
    try {
      const e = JSON.parse(l) as { type?: string; findingId?: string };
      if (typeof e.type === 'string' && (FINDING_TYPES as readonly string[]).includes(e.type)) findings.push(e as FindingEvent);
    } catch {
      bad++;
    }
  }
  if (findings.length === 0 && bad > 0 && src.trimStart().startsWith('{')) {
    // A pretty-printed (multi-line) finding.
    try {
      findings.push(JSON.parse(text) as FindingEvent);
    } catch {
      /* reported below */
    }
  }
  const chosen = parsed.values.id ? findings.filter((f) => f.findingId === parsed.values.id || f.id === parsed.values.id) : findings;
  if (chosen.length === 0) {
    process.stderr.write(`tapwatch: no finding${parsed.values.id ? ` with id ${parsed.values.id}` : ''} in the input${bad ? ` (${bad} lines were not JSON)` : ''}\n`);
    return 1;
  }
  process.stdout.write(chosen.map((f) => formatFindingFull(f)).join('\n\n' + '-'.repeat(72) + '\n\n') + '\n');
  return 0;
}
