/**
 * `tapwatch collector [--port PORT] [--host ADDR] [--config FILE]`
 *
 * KAFKA_BROKERS, DATABASE_URL and TAPWATCH_API_TOKEN come from the
 * environment or the config file (environment wins, the command line wins
 * over both). Runs until SIGINT/SIGTERM, then finishes the batch in hand,
 * commits it and exits 0. Exit codes: 0 ok, 1 runtime error, 2 usage error.
 */
import { parseArgs } from 'node:util';
import { build } from './app.js';
import { ConfigError, describeConfig, loadConfig } from './config.js';

export const COLLECTOR_USAGE = `Usage: tapwatch collector [options]

  -p, --port PORT        HTTP port (default 8080)
      --host ADDR        listen address (default 127.0.0.1)
  -c, --config FILE      YAML config file (keys as in collector/src/config.ts)
      --no-kafka         serve the API only; consume nothing
  -h, --help             this text

Environment: KAFKA_BROKERS (e.g. 127.0.0.1:9092), DATABASE_URL
(default postgres://postgres@127.0.0.1:5432/tapwatch), TAPWATCH_API_TOKEN
(bearer token for /api and /docs), TAPWATCH_GROUP_ID, TAPWATCH_RETENTION_DAYS,
TAPWATCH_KAFKA_CONFIG (librdkafka properties file: TLS, SASL), TAPWATCH_SLACK_WEBHOOK_URL
or SLACK_WEBHOOK_URL (post each new finding to Slack; docs/slack.md),
TAPWATCH_SLACK_MIN_SEVERITY, TAPWATCH_DASHBOARD_URL, TAPWATCH_PUBLIC_URL.
`;

export async function collectorCommand(args: string[]): Promise<number> {
  let values: { port?: string; host?: string; config?: string; 'no-kafka'?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args,
      options: {
        port: { type: 'string', short: 'p' },
        host: { type: 'string' },
        config: { type: 'string', short: 'c' },
        'no-kafka': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    process.stderr.write(`tapwatch collector: ${(err as Error).message}\n\n${COLLECTOR_USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(COLLECTOR_USAGE);
    return 0;
  }
  let config;
  try {
    config = loadConfig({ file: values.config, overrides: { port: values.port, host: values.host } });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`tapwatch collector: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (!config.kafkaBrokers && !values['no-kafka']) {
    process.stderr.write('tapwatch collector: KAFKA_BROKERS is not set (environment or config file); use --no-kafka to serve the API only\n');
    return 2;
  }
  let app;
  try {
    app = await build({ config, kafka: !values['no-kafka'], logger: { level: process.env.TAPWATCH_LOG_LEVEL ?? 'info' } });
    await app.listen({ port: config.port, host: config.host });
  } catch (err) {
    process.stderr.write(`tapwatch collector: cannot start: ${(err as Error).message}\n`);
    await app?.close().catch(() => undefined);
    return 1;
  }
  app.log.info(describeConfig(config));
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  app.log.info('stopping: finishing the current batch');
  await app.close();
  return 0;
}
