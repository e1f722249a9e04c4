/**
 * deploy/compose/compose.yaml, checked by structure: Docker cannot run on the
 * machines that test this project, so `docker compose config` is replaced by
 * these assertions (the Compose Specification's fields:
 * https://github.com/compose-spec/compose-spec/blob/main/spec.md).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../collector/src/config.js';
import { TOPICS } from '../../collector/src/topics.js';
import { REPO_ROOT, checkArgs, subcommandFlags } from './cli-help.js';

const COMPOSE_DIR = path.join(REPO_ROOT, 'deploy/compose');
const COMPOSE_FILE = path.join(COMPOSE_DIR, 'compose.yaml');

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string; target?: string };
  command?: string[] | string;
  entrypoint?: string[] | string;
  environment?: Record<string, string | number>;
  volumes?: string[];
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] | string };
  network_mode?: string;
  cap_add?: string[];
  cap_drop?: string[];
  security_opt?: string[];
  restart?: string;
  secrets?: Array<{ source: string; target: string }>;
}

const compose = parse(readFileSync(COMPOSE_FILE, 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
  secrets: Record<string, { file: string }>;
};
const services = compose.services;

/** Values an operator would put in .env (the ones compose.yaml requires with :?). */
const ENV: Record<string, string> = {
  TAPWATCH_INTERFACE: 'eth1',
  TAPWATCH_API_TOKEN: 'token-123',
  POSTGRES_PASSWORD: 'pw',
  GRAFANA_ADMIN_PASSWORD: 'admin-pw',
};

/** Compose variable interpolation: ${V}, ${V:-default}, ${V-default}, ${V:?err}, $$. */
function interpolate(s: string, env: Record<string, string>): string {
  return s.replace(/\$\$|\$\{([A-Z0-9_]+)(?:(:?[-?])([^}]*))?\}/g, (whole, name: string | undefined, op: string | undefined, arg: string | undefined) => {
    if (whole === '$$') return '$';
    const v = env[name!];
    if (op === ':-' || op === '-') return v === undefined || (op === ':-' && v === '') ? arg! : v;
    if (op === ':?' || op === '?') {
      if (v === undefined || v === '') throw new Error(`${name} is required: ${arg}`);
      return v;
    }
    return v ?? '';
  });
}

const asArgv = (c: string[] | string | undefined): string[] => (Array.isArray(c) ? c : c ? c.split(/\s+/) : []).map((a) => interpolate(String(a), ENV));

describe('compose.yaml', () => {
  it('has the whole stack', () => {
    for (const name of ['kafka', 'kafka-init', 'postgres', 'collector', 'sensor', 'prometheus', 'alertmanager', 'grafana']) {
      expect(services, name).toHaveProperty(name);
    }
  });

  it('runs Kafka from the official apache/kafka image in KRaft mode (broker + controller, no ZooKeeper)', () => {
    const k = services.kafka!;
    expect(k.image).toMatch(/^apache\/kafka:\d+\.\d+\.\d+$/);
    const env = k.environment!;
    expect(String(env.KAFKA_PROCESS_ROLES).split(',').sort()).toEqual(['broker', 'controller']);
    expect(env.KAFKA_NODE_ID).toBeDefined();
    expect(String(env.KAFKA_CONTROLLER_QUORUM_VOTERS)).toMatch(new RegExp(`^${env.KAFKA_NODE_ID}@kafka:\\d+$`));
    expect(Object.keys(env).some((k2) => k2.includes('ZOOKEEPER'))).toBe(false);
    expect(interpolate(String(env.CLUSTER_ID), ENV)).toMatch(/^[A-Za-z0-9_-]{22}$/);
    // Every listener has a protocol, every advertised listener exists, the controller one is declared.
    const names = (s: string): string[] => interpolate(s, ENV).split(',').map((l) => l.split(':')[0]!);
    const protocols = new Map(String(env.KAFKA_LISTENER_SECURITY_PROTOCOL_MAP).split(',').map((p) => p.split(':') as [string, string]));
    const listeners = names(String(env.KAFKA_LISTENERS));
    for (const l of listeners) expect(protocols.has(l), l).toBe(true);
    for (const l of names(String(env.KAFKA_ADVERTISED_LISTENERS))) expect(listeners).toContain(l);
    expect(listeners).toContain(env.KAFKA_CONTROLLER_LISTENER_NAMES);
    expect(listeners).toContain(env.KAFKA_INTER_BROKER_LISTENER_NAME);
  });

  it('creates exactly the topics the sensor and the collector use', () => {
    const script = asArgv(services['kafka-init']!.command).join(' ');
    const topics = /for t in ([^;]+);/.exec(script)![1]!.trim().split(/\s+/).sort();
    expect(topics).toEqual(Object.values(TOPICS).sort());
    expect(services['kafka-init']!.image).toBe(services.kafka!.image);
  });

  it('runs the sensor on the host network with NET_RAW and NET_ADMIN and nothing else', () => {
    const s = services.sensor!;
    expect(s.network_mode).toBe('host');
    expect([...(s.cap_add ?? [])].sort()).toEqual(['NET_ADMIN', 'NET_RAW']);
    expect(s.cap_drop).toContain('ALL');
    // File capabilities on the sensor image's node binary are ignored under no_new_privs.
    expect((s.security_opt ?? []).join(' ')).not.toMatch(/no-new-privileges(:true)?$/);
    expect(s.build?.target).toBe('sensor');
  });

  it('passes the sensor only flags that `tapwatch sensor` knows, with the broker port Kafka advertises to the host', () => {
    const argv = asArgv(services.sensor!.command);
    expect(argv[0]).toBe('sensor');
    expect(checkArgs(argv.slice(1), subcommandFlags('sensor'))).toEqual([]);
    const brokers = argv[argv.indexOf('--kafka') + 1]!;
    const advertised = interpolate(String(services.kafka!.environment!.KAFKA_ADVERTISED_LISTENERS), ENV);
    expect(advertised).toContain(`HOST://${brokers}`);
    const published = services.kafka!.ports!.map((p) => interpolate(p, ENV));
    expect(published).toContain(`${brokers}:29092`);
    expect(argv[argv.indexOf('--interface') + 1]).toBe('eth1');
  });

  it('gives the collector the settings it reads, and they reach its configuration', () => {
    const c = services.collector!;
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(c.environment ?? {})) env[k] = interpolate(String(v), ENV);
    for (const k of ['KAFKA_BROKERS', 'DATABASE_URL', 'TAPWATCH_API_TOKEN']) expect(env[k], k).toBeTruthy();
    const cfg = loadConfig({ env });
    expect(cfg.kafkaBrokers).toBe('kafka:9092');
    expect(cfg.databaseUrl).toBe('postgres://tapwatch:pw@postgres:5432/tapwatch');
    expect(cfg.apiToken).toBe('token-123');
    // The database URL names the user, password and database the postgres service creates.
    const pg = services.postgres!.environment!;
    const url = new URL(cfg.databaseUrl);
    expect([url.username, decodeURIComponent(url.password), url.pathname.slice(1), url.hostname]).toEqual([
      pg.POSTGRES_USER, interpolate(String(pg.POSTGRES_PASSWORD), ENV), pg.POSTGRES_DB, 'postgres',
    ]);
    const argv = asArgv(c.command);
    expect(argv[0]).toBe('collector');
    expect(checkArgs(argv.slice(1), subcommandFlags('collector'))).toEqual([]);
    // Inside a container the collector must listen beyond loopback (its default host).
    expect(argv[argv.indexOf('--host') + 1]).toBe('0.0.0.0');
  });

  it('requires the secrets instead of shipping defaults for them', () => {
    expect(() => interpolate(String(services.collector!.environment!.TAPWATCH_API_TOKEN), {})).toThrow(/required/);
    expect(() => interpolate(String(services.postgres!.environment!.POSTGRES_PASSWORD), {})).toThrow(/required/);
  });

  it('has a health check on every long-running service, and depends_on only on conditions that can be met', () => {
    for (const [name, s] of Object.entries(services)) {
      if (s.restart === 'no') continue; // one-shot jobs
      expect(s.healthcheck, name).toBeDefined();
    }
    for (const [name, s] of Object.entries(services)) {
      for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
        expect(services, `${name} -> ${dep}`).toHaveProperty(dep);
        if (condition === 'service_healthy') expect(services[dep]!.healthcheck, `${name} waits for ${dep} to be healthy`).toBeDefined();
        if (condition === 'service_completed_successfully') expect(services[dep]!.restart, `${dep} must be a one-shot job`).toBe('no');
      }
    }
    expect(Object.keys(services.collector!.depends_on!).sort()).toEqual(['kafka', 'kafka-init', 'postgres']);
    expect(services.sensor!.depends_on).toHaveProperty('kafka');
  });

  it('bind-mounts only repository paths that exist, and declares every named volume', () => {
    const binds: string[] = [];
    for (const [name, s] of Object.entries(services)) {
      for (const v of s.volumes ?? []) {
        const source = v.split(':')[0]!;
        if (source.startsWith('.') || source.startsWith('/')) {
          const abs = path.resolve(COMPOSE_DIR, source);
          expect(existsSync(abs), `${name}: ${source} -> ${abs}`).toBe(true);
          binds.push(path.relative(REPO_ROOT, abs));
        } else {
          expect(compose.volumes, `${name}: named volume ${source}`).toHaveProperty(source);
        }
      }
    }
    expect(binds.sort()).toEqual([
      'dashboards/generated', 'deploy/alertmanager/alertmanager.yml', 'deploy/alertmanager/templates',
      'deploy/grafana/provisioning', 'deploy/prometheus/prometheus.yml', 'deploy/prometheus/rules',
    ]);
    const grafana = services.grafana!.volumes!;
    expect(grafana).toContain('../grafana/provisioning:/etc/grafana/provisioning:ro');
    expect(grafana).toContain('../../dashboards/generated:/var/lib/grafana/dashboards/tapwatch:ro');
  });

  it('lets Prometheus reach every target of deploy/prometheus/prometheus.yml, and Alertmanager find the Slack webhook', () => {
    const prom = parse(readFileSync(path.join(REPO_ROOT, 'deploy/prometheus/prometheus.yml'), 'utf8')) as {
      scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[] }> }>;
      alerting: { alertmanagers: Array<{ static_configs: Array<{ targets: string[] }> }> };
    };
    // The config names 127.0.0.1 addresses: Prometheus must share the host's network namespace.
    for (const name of ['prometheus', 'alertmanager', 'grafana']) expect(services[name]!.network_mode, name).toBe('host');
    const targets = (job: string): string[] => prom.scrape_configs.find((j) => j.job_name === job)!.static_configs.flatMap((c) => c.targets);
    const collectorPublished = services.collector!.ports!.map((p) => interpolate(p, ENV).replace(/:8080$/, ''));
    expect(collectorPublished).toEqual(targets('tapwatch-collector'));
    const sensorArgv = asArgv(services.sensor!.command);
    expect(targets('tapwatch-sensor')).toEqual([`127.0.0.1:${sensorArgv[sensorArgv.indexOf('--metrics-port') + 1]}`]);
    const amArgs = asArgv(services.alertmanager!.command);
    const amListen = amArgs.find((a) => a.startsWith('--web.listen-address='))!.split('=')[1];
    expect(prom.alerting.alertmanagers.flatMap((a) => a.static_configs.flatMap((c) => c.targets))).toEqual([amListen]);
    const am = parse(readFileSync(path.join(REPO_ROOT, 'deploy/alertmanager/alertmanager.yml'), 'utf8')) as { global: { slack_api_url_file: string } };
    const secret = services.alertmanager!.secrets!.find((x) => x.target === am.global.slack_api_url_file);
    expect(secret, am.global.slack_api_url_file).toBeDefined();
    expect(compose.secrets).toHaveProperty(secret!.source);
  });

  it('builds from deploy/Dockerfile with targets that the Dockerfile defines', () => {
    const dockerfile = readFileSync(path.join(REPO_ROOT, 'deploy/Dockerfile'), 'utf8');
    const stages = [...dockerfile.matchAll(/^FROM \S+ AS (\S+)$/gm)].map((m) => m[1]);
    for (const name of ['collector', 'sensor']) {
      const b = services[name]!.build!;
      expect(path.resolve(COMPOSE_DIR, b.context)).toBe(REPO_ROOT);
      expect(existsSync(path.join(REPO_ROOT, b.dockerfile))).toBe(true);
      expect(stages).toContain(b.target);
    }
  });

  it('documents every variable it reads in .env.example', () => {
    const text = readFileSync(COMPOSE_FILE, 'utf8');
    const used = new Set([...text.matchAll(/\$\{([A-Z0-9_]+)/g)].map((m) => m[1]!));
    const example = readFileSync(path.join(COMPOSE_DIR, '.env.example'), 'utf8');
    for (const v of used) expect(example, v).toMatch(new RegExp(`^#?\\s*${v}=`, 'm'));
  });
});
