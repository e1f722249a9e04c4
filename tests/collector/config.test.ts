import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_DATABASE_URL, describeConfig, loadConfig } from '../../collector/src/config.js';

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
});
