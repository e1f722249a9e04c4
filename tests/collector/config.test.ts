import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_DATABASE_URL, defaultConfig, describeConfig, loadConfig } from '../../collector/src/config.js';
import { KafkaIngest } from '../../collector/src/plugins/kafka.js';

describe('collector config', () => {
  it('defaults to the local database and no Kafka', () => {
    const c = loadConfig({ env: {} });
    expect(c.databaseUrl).toBe(DEFAULT_DATABASE_URL);
    expect(c.kafkaBrokers).toBe('');
    expect(c.topics.dlq).toBe('tapwatch.dlq');
  });

  it('reads the file, lets the environment override it and the command line override both', () => {
    const dir = mkdtempSync(join(tmpdir(), 'twcfg-'));
    const file = join(dir, 'c.yaml');
    writeFileSync(file, 'collector:\n  KAFKA_BROKERS: file:9092\n  apiToken: from-file\n  port: 9000\n  maxPageSize: 100\n');
    const c = loadConfig({ file, env: { KAFKA_BROKERS: 'env:9092' }, overrides: { port: '9100' } });
    expect(c.kafkaBrokers).toBe('env:9092');
    expect(c.apiToken).toBe('from-file');
    expect(c.port).toBe(9100);
    expect(c.maxPageSize).toBe(100);
  });

  it('rejects unknown keys and bad values', () => {
    expect(() => loadConfig({ env: {}, overrides: { port: '99999' } })).toThrow(ConfigError);
    expect(() => loadConfig({ env: {}, overrides: { nonsense: 1 } })).toThrow(/unknown setting/);
    expect(() => loadConfig({ env: { TAPWATCH_RETENTION_DAYS: 'x' } })).toThrow(/retentionDays/);
  });

  it('never prints secrets', () => {
    const c = loadConfig({ env: { DATABASE_URL: 'postgres://u:s3cret@h/db', TAPWATCH_API_TOKEN: 'tok-zzz' } });
    const text = describeConfig(c);
    expect(text).not.toContain('s3cret');
    expect(text).not.toContain('tok-zzz');
  });

  it('passes librdkafka TLS/SASL settings through, from the config file and a properties file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'twcfg-'));
    const props = join(dir, 'client.properties');
    writeFileSync(props, '# TLS to the brokers\nbootstrap.servers=kafka-1:9093\nsecurity.protocol=SASL_SSL\nsasl.mechanisms=SCRAM-SHA-512\nsasl.username=collector\nsasl.password=pw-zzz\n');
    const file = join(dir, 'c.yaml');
    writeFileSync(file, 'kafka:\n  ssl.ca.location: /etc/tapwatch/ca.pem\n');
    const c = loadConfig({ file, env: { TAPWATCH_KAFKA_CONFIG: props } });
    expect(c.kafka).toEqual({
      'ssl.ca.location': '/etc/tapwatch/ca.pem',
      'security.protocol': 'SASL_SSL',
      'sasl.mechanisms': 'SCRAM-SHA-512',
      'sasl.username': 'collector',
      'sasl.password': 'pw-zzz',
    });
    expect(c.kafkaBrokers).toBe('kafka-1:9093');
    // KAFKA_BROKERS still wins over the file's bootstrap.servers.
    expect(loadConfig({ env: { TAPWATCH_KAFKA_CONFIG: props, KAFKA_BROKERS: 'env:9092' } }).kafkaBrokers).toBe('env:9092');
    expect(describeConfig(c)).not.toContain('pw-zzz');
    // Manual commits after the database commit are not negotiable.
    expect(() => loadConfig({ env: {}, overrides: { kafka: { 'enable.auto.commit': 'true' } } })).toThrow(/set by the collector/);
    expect(() => loadConfig({ env: { TAPWATCH_KAFKA_CONFIG: join(dir, 'missing') } })).toThrow(/cannot read Kafka properties/);
  });

  it('hands the properties to the real librdkafka, which rejects an unknown one', async () => {
    const config = { ...defaultConfig(), kafkaBrokers: '127.0.0.1:1', kafka: { 'no.such.librdkafka.property': 'x' } };
    const log = { info: () => undefined, warn: () => undefined, error: () => undefined };
    const ingest = new KafkaIngest({ config, pipeline: {} as never, metrics: {} as never, log: log as never });
    await expect(ingest.start()).rejects.toThrow(/no\.such\.librdkafka\.property/);
  });
});
