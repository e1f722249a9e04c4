/**
 * Collector configuration: command line > environment > config file (YAML)
 * > defaults. KAFKA_BROKERS, DATABASE_URL and TAPWATCH_API_TOKEN are the
 * three settings an operator must think about; everything else has a safe
 * default. Secrets are never printed (describeConfig masks them).
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_GROUP_ID } from './names.js';
import { TOPICS } from './topics.js';

export interface CollectorConfig {
  port: number;
  host: string;
  /** Comma-separated bootstrap servers; empty disables the Kafka consumer. */
  kafkaBrokers: string;
  groupId: string;
  /** Consumer-group session timeout: how soon a crashed collector's partitions move to the others. */
  kafkaSessionTimeoutMs: number;
  topics: { findings: string; telemetry: string; dlq: string; fingerprints: string };
  databaseUrl: string;
  /** Bearer token for /api and /docs; empty string means "no token configured" (the API then refuses every request). */
  apiToken: string;
  /** Also require the token on /metrics (health probes always stay open). */
  protectMetrics: boolean;
  /** Rows older than this many days are deleted by the retention sweep; 0 keeps everything. */
  retentionDays: number;
  /** Seconds between retention sweeps. */
  retentionIntervalSec: number;
  /** Largest page size a client may ask for. */
  maxPageSize: number;
  defaultPageSize: number;
  /** Requests per minute per client address on /api. */
  rateLimitPerMinute: number;
  /** Messages consumed per batch (one transaction, one commit). */
  batchSize: number;
  /** How long an idle consumer waits for the first message of the next batch, in ms (a batch never waits to fill: docs/pipeline.md). */
  batchWaitMs: number;
  /** Transactions a batch is stored in at once, each over whole partitions. */
  storeConcurrency: number;
  /** Window (seconds) within which two sensors' fingerprints of one SSRC are joined. */
  fingerprintWindowSec: number;
  /** Direct Slack notification of new findings (notify/slack.ts); webhookUrl '' turns it off. */
  slack: SlackConfig;
  /**
   * librdkafka properties passed through to the consumer and the dead-letter
   * producer: TLS (security.protocol, ssl.ca.location...) and SASL
   * (sasl.mechanisms, sasl.username...), as the sensor's --kafka-config takes
   * them (librdkafka CONFIGURATION.md). From the config file's `kafka:` map
   * and/or a Java-style properties file named by TAPWATCH_KAFKA_CONFIG.
   */
  kafka: Record<string, string>;
}

export interface SlackConfig {
  /** Slack incoming-webhook URL (secret). */
  webhookUrl: string;
  /** Findings below this severity are not sent. */
  minSeverity: 'info' | 'warning' | 'critical';
  /** Sustained messages per minute; findings beyond it are summarised. */
  ratePerMinute: number;
  /** Messages that may go out back to back. */
  burst: number;
  /** Dashboard link in each message ({sensor}, {callId}, {findingId}, {id} are filled in); '' for none. */
  dashboardUrl: string;
  /** The collector's public base URL, for links to GET /api/findings/:id; '' prints the path only. */
  apiBaseUrl: string;
}

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/tapwatch';

export function defaultConfig(): CollectorConfig {
  return {
    port: 8080,
    host: '127.0.0.1',
    kafkaBrokers: '',
    groupId: DEFAULT_GROUP_ID,
    kafkaSessionTimeoutMs: 30_000,
    topics: { ...TOPICS },
    databaseUrl: DEFAULT_DATABASE_URL,
    apiToken: '',
    protectMetrics: false,
    retentionDays: 30,
    retentionIntervalSec: 3600,
    maxPageSize: 500,
    defaultPageSize: 50,
    rateLimitPerMinute: 600,
    batchSize: 2000,
    batchWaitMs: 100,
    storeConcurrency: 2,
    fingerprintWindowSec: 300,
    slack: { webhookUrl: '', minSeverity: 'warning', ratePerMinute: 20, burst: 5, dashboardUrl: '', apiBaseUrl: '' },
    kafka: {},
  };
}

export class ConfigError extends Error {}

/** Config-file keys (camelCase, as in CollectorConfig) plus the env-style aliases operators expect. */
const FILE_ALIASES: Record<string, keyof CollectorConfig> = {
  KAFKA_BROKERS: 'kafkaBrokers',
  DATABASE_URL: 'databaseUrl',
  TAPWATCH_API_TOKEN: 'apiToken',
};

/** Environment-style aliases of the `slack:` settings (config file keys are webhookUrl, minSeverity...). */
const SLACK_ALIASES: Record<string, keyof SlackConfig> = {
  SLACK_WEBHOOK_URL: 'webhookUrl',
  TAPWATCH_SLACK_WEBHOOK_URL: 'webhookUrl',
  TAPWATCH_SLACK_MIN_SEVERITY: 'minSeverity',
  TAPWATCH_SLACK_RATE_PER_MINUTE: 'ratePerMinute',
  TAPWATCH_SLACK_BURST: 'burst',
  TAPWATCH_DASHBOARD_URL: 'dashboardUrl',
  TAPWATCH_PUBLIC_URL: 'apiBaseUrl',
};

function applySlack(cur: SlackConfig, o: Record<string, unknown>): SlackConfig {
  const out = { ...cur };
  for (const [rawKey, value] of Object.entries(o)) {
    if (value === undefined || value === null) continue;
    const key = SLACK_ALIASES[rawKey] ?? (rawKey as keyof SlackConfig);
    switch (key) {
      case 'webhookUrl': case 'dashboardUrl': case 'apiBaseUrl':
        if (typeof value !== 'string') throw new ConfigError(`slack.${key} must be a string`);
        if (value !== '' && !/^https?:\/\//.test(value)) throw new ConfigError(`slack.${key} must be an http(s) URL`);
        out[key] = value;
        break;
      case 'minSeverity':
        if (value !== 'info' && value !== 'warning' && value !== 'critical') throw new ConfigError('slack.minSeverity must be info, warning or critical');
        out.minSeverity = value;
        break;
      case 'ratePerMinute': out.ratePerMinute = num('slack.ratePerMinute', value, 1, 6000); break;
      case 'burst': out.burst = num('slack.burst', value, 1, 1000); break;
      default:
        throw new ConfigError(`unknown setting 'slack.${rawKey}'`);
    }
  }
  return out;
}

function num(name: string, v: unknown, min: number, max: number): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  if (!Number.isFinite(n) || n < min || n > max || Math.floor(n) !== n) throw new ConfigError(`${name} must be an integer in [${min}, ${max}]`);
  return n;
}

/** Applies a plain object of overrides (config file or programmatic) with validation. */
export function applyOverrides(cfg: CollectorConfig, o: Record<string, unknown>): CollectorConfig {
  const out: CollectorConfig = { ...cfg, topics: { ...cfg.topics }, slack: { ...cfg.slack }, kafka: { ...cfg.kafka } };
  for (const [rawKey, value] of Object.entries(o)) {
    if (value === undefined || value === null) continue;
    const key = (FILE_ALIASES[rawKey] ?? rawKey) as keyof CollectorConfig;
    switch (key) {
      case 'port': out.port = num('port', value, 0, 65535); break;
      case 'host': case 'kafkaBrokers': case 'groupId': case 'databaseUrl': case 'apiToken':
        if (typeof value !== 'string') throw new ConfigError(`${key} must be a string`);
        out[key] = value;
        break;
      case 'protectMetrics':
        if (typeof value !== 'boolean') throw new ConfigError('protectMetrics must be true or false');
        out.protectMetrics = value;
        break;
      case 'topics': {
        if (typeof value !== 'object') throw new ConfigError('topics must be a map');
        for (const [t, name] of Object.entries(value as Record<string, unknown>)) {
          if (!(t in out.topics) || typeof name !== 'string' || name === '') throw new ConfigError(`topics.${t} is not a known topic or not a name`);
          out.topics[t as keyof CollectorConfig['topics']] = name;
        }
        break;
      }
      case 'kafkaSessionTimeoutMs': out.kafkaSessionTimeoutMs = num(key, value, 1000, 3_600_000); break;
      case 'retentionDays': out.retentionDays = num(key, value, 0, 36500); break;
      case 'retentionIntervalSec': out.retentionIntervalSec = num(key, value, 1, 86400 * 7); break;
      case 'maxPageSize': out.maxPageSize = num(key, value, 1, 10000); break;
      case 'defaultPageSize': out.defaultPageSize = num(key, value, 1, 10000); break;
      case 'rateLimitPerMinute': out.rateLimitPerMinute = num(key, value, 1, 1_000_000); break;
      case 'batchSize': out.batchSize = num(key, value, 1, 100_000); break;
      case 'batchWaitMs': out.batchWaitMs = num(key, value, 1, 60_000); break;
      case 'storeConcurrency': out.storeConcurrency = num(key, value, 1, 32); break;
      case 'fingerprintWindowSec': out.fingerprintWindowSec = num(key, value, 1, 86400); break;
      case 'kafka':
        if (typeof value !== 'object' || Array.isArray(value)) throw new ConfigError('kafka must be a map of librdkafka properties');
        for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
          if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') throw new ConfigError(`kafka.${k} must be a string, number or boolean`);
          setKafkaProperty(out, k, String(v));
        }
        break;
      case 'slack':
        if (typeof value !== 'object' || Array.isArray(value)) throw new ConfigError('slack must be a map');
        out.slack = applySlack(out.slack, value as Record<string, unknown>);
        break;
      default:
        // SLACK_WEBHOOK_URL etc. may also stand at the top of a config file.
        if (rawKey in SLACK_ALIASES) {
          out.slack = applySlack(out.slack, { [rawKey]: value });
          break;
        }
        throw new ConfigError(`unknown setting '${rawKey}'`);
    }
  }
  if (out.defaultPageSize > out.maxPageSize) out.defaultPageSize = out.maxPageSize;
  return out;
}

/**
 * One librdkafka property. The bootstrap servers name the brokers (like
 * KAFKA_BROKERS); properties the collector sets itself for correctness
 * (manual commits after the database commit) cannot be overridden.
 */
const RESERVED_KAFKA_PROPERTIES = new Set(['group.id', 'enable.auto.commit', 'enable.auto.offset.store', 'rebalance_cb', 'offset_commit_cb', 'dr_cb']);
function setKafkaProperty(out: CollectorConfig, key: string, value: string): void {
  if (key === 'bootstrap.servers' || key === 'metadata.broker.list') {
    out.kafkaBrokers = value;
    return;
  }
  if (RESERVED_KAFKA_PROPERTIES.has(key)) throw new ConfigError(`kafka.${key} is set by the collector itself (offsets are committed only after the database commit)`);
  out.kafka[key] = value;
}

/** Java-style properties (key=value, # or ! comments), as kafka's own client.properties files. */
export function readKafkaProperties(file: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read Kafka properties file ${file}: ${(err as Error).message}`);
  }
  const props: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const l = line.trim();
    if (!l || l.startsWith('#') || l.startsWith('!')) continue;
    const eq = l.indexOf('=');
    if (eq <= 0) throw new ConfigError(`${file}: expected key=value, not '${l}'`);
    props[l.slice(0, eq).trim()] = l.slice(eq + 1).trim();
  }
  return props;
}

export interface LoadConfigInput {
  /** Config file (YAML or JSON). */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Command-line overrides, highest precedence. */
  overrides?: Record<string, unknown>;
}

export function loadConfig(input: LoadConfigInput = {}): CollectorConfig {
  let cfg = defaultConfig();
  if (input.file) {
    let parsed: unknown;
    try {
      parsed = parseYaml(readFileSync(input.file, 'utf8'));
    } catch (err) {
      throw new ConfigError(`cannot read config file ${input.file}: ${(err as Error).message}`);
    }
    if (parsed !== null && parsed !== undefined) {
      if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError(`config file ${input.file} must hold a map`);
      // A file may nest everything under `collector:` so one file can serve the sensor too.
      const root = parsed as Record<string, unknown>;
      const section = typeof root.collector === 'object' && root.collector !== null ? (root.collector as Record<string, unknown>) : root;
      cfg = applyOverrides(cfg, section);
    }
  }
  const env = input.env ?? process.env;
  // A properties file first, so that KAFKA_BROKERS (below) still wins over its bootstrap.servers.
  if (env.TAPWATCH_KAFKA_CONFIG) cfg = applyOverrides(cfg, { kafka: readKafkaProperties(env.TAPWATCH_KAFKA_CONFIG) });
  const fromEnv: Record<string, unknown> = {
    kafkaBrokers: env.KAFKA_BROKERS,
    databaseUrl: env.DATABASE_URL,
    apiToken: env.TAPWATCH_API_TOKEN,
    groupId: env.TAPWATCH_GROUP_ID,
    retentionDays: env.TAPWATCH_RETENTION_DAYS,
    // TAPWATCH_SLACK_WEBHOOK_URL wins over the plain SLACK_WEBHOOK_URL that Grafana's contact point also reads.
    slack: {
      webhookUrl: env.TAPWATCH_SLACK_WEBHOOK_URL ?? env.SLACK_WEBHOOK_URL,
      minSeverity: env.TAPWATCH_SLACK_MIN_SEVERITY,
      ratePerMinute: env.TAPWATCH_SLACK_RATE_PER_MINUTE,
      burst: env.TAPWATCH_SLACK_BURST,
      dashboardUrl: env.TAPWATCH_DASHBOARD_URL,
      apiBaseUrl: env.TAPWATCH_PUBLIC_URL,
    },
  };
  cfg = applyOverrides(cfg, fromEnv);
  if (input.overrides) cfg = applyOverrides(cfg, input.overrides);
  return cfg;
}

/** A printable summary with secrets masked. */
export function describeConfig(cfg: CollectorConfig): string {
  const db = cfg.databaseUrl.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
  return `port=${cfg.port} host=${cfg.host} kafka=${cfg.kafkaBrokers || '(disabled)'} group=${cfg.groupId} db=${db} kafkaProps=[${Object.keys(cfg.kafka).sort().join(',')}] token=${cfg.apiToken ? 'set' : 'NOT SET'} retentionDays=${cfg.retentionDays} slack=${cfg.slack.webhookUrl ? `on(>=${cfg.slack.minSeverity}, ${cfg.slack.ratePerMinute}/min)` : 'off'}`;
}
