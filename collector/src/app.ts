/**
 * build(opts) -> a ready-to-listen fastify instance (fastify's own shape:
 * encapsulated plugins, schemas compiled at boot, tests call inject()).
 *
 * Order matters: error handlers and rate limiting first (they must cover
 * everything), then auth (after the limiter, so token guessing is limited
 * too), then OpenAPI (it collects the routes registered after it), then the
 * routes. The Kafka consumer starts when the app is ready and stops, after
 * finishing its batch, when the app closes.
 */
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type pg from 'pg';
import { compileEventValidator } from '../../sensor/src/events/schemas.js';
import type { CollectorConfig } from './config.js';
import { ApiError, ERROR_CODES, installErrorHandlers } from './errors.js';
import { compileFingerprintValidator } from './ingest/fingerprint.js';
import type { Validators } from './ingest/message.js';
import type { BatchOutcome } from './ingest/pipeline.js';
import { authPlugin } from './plugins/auth.js';
import { dbPlugin } from './plugins/db.js';
import { KafkaIngest } from './plugins/kafka.js';
import { createMetrics, metricsPlugin, type CollectorMetrics } from './plugins/metrics.js';
import { callsRoutes } from './routes/calls.js';
import { findingsRoutes } from './routes/findings.js';
import { healthRoutes } from './routes/health.js';
import { sensorsRoutes } from './routes/sensors.js';
import { createSlackNotifier } from './notify/slack.js';
import { sweepRetention } from './store/retention.js';

export interface BuildOptions {
  config: CollectorConfig;
  /** A pool the caller owns (tests); otherwise one is made from config.databaseUrl and closed with the app. */
  pool?: pg.Pool;
  /** Create the database and run migrations at start-up (default true). */
  migrate?: boolean;
  /** Start the Kafka consumer (default: when config.kafkaBrokers is set). */
  kafka?: boolean;
  /** Extra librdkafka consumer settings (tests). */
  kafkaConsumerOverrides?: Record<string, string | number | boolean>;
  /** Run the retention sweep on a timer (default true). */
  retention?: boolean;
  logger?: FastifyServerOptions['logger'];
  /** Process metrics (CPU, heap...) in /metrics (default true). */
  defaultMetrics?: boolean;
  /** Called after each batch's database commit and DLQ delivery, before its offsets are committed (benchmark, tests). */
  onBatchStored?: (outcome: BatchOutcome) => void;
}

declare module 'fastify' {
  interface FastifyInstance {
    collector: { config: CollectorConfig; validators: Validators; kafka: KafkaIngest | null };
  }
}

export async function build(opts: BuildOptions): Promise<FastifyInstance> {
  const { config } = opts;
  const app = Fastify({
    logger: opts.logger ?? false,
    // No endpoint takes a body; anything larger than this is refused before parsing.
    bodyLimit: 16 * 1024,
    // The querystring is validated, not trimmed: an unknown parameter is a 400, not silently ignored.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, allErrors: false } },
    return503OnClosing: true,
    routerOptions: { maxParamLength: 600 },
  });
  installErrorHandlers(app);

  // Compiled once at boot: every consumed message is checked against these.
  const validators: Validators = { events: compileEventValidator(), fingerprints: compileFingerprintValidator() };

  await app.register(dbPlugin, { databaseUrl: config.databaseUrl, pool: opts.pool, migrate: opts.migrate });
  const metrics: CollectorMetrics = createMetrics(app.db, { defaultMetrics: opts.defaultMetrics ?? true });

  await app.register(rateLimit, {
    global: true,
    max: config.rateLimitPerMinute,
    timeWindow: 60_000,
    // Probes and scrapes come from the orchestrator and Prometheus at fixed rates.
    allowList: (request) => !/^\/(api|docs)(\/|$|\?)/.test(request.url),
    errorResponseBuilder: () => new ApiError(429, ERROR_CODES.rateLimited, 'rate limit exceeded, retry later'),
  });
  await app.register(authPlugin, { token: config.apiToken, protectMetrics: config.protectMetrics });
  await app.register(metricsPlugin, { metrics });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'tapwatch collector API', version: '1.0.0', description: 'Findings, calls and sensors stored by the tapwatch collector.' },
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } } },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  app.addHook('onSend', async (request, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    if (request.url.startsWith('/api')) reply.header('cache-control', 'no-store');
    return payload;
  });

  // Direct Slack messages for new findings (null when no webhook is configured); fed after each DB commit, never awaited.
  const slack = createSlackNotifier(config.slack, metrics.registry, app.log);

  const kafkaEnabled = opts.kafka ?? config.kafkaBrokers !== '';
  const kafka = kafkaEnabled
    ? new KafkaIngest({
        config,
        pipeline: {
          pool: app.db,
          validators,
          fingerprintWindowSec: config.fingerprintWindowSec,
          concurrency: config.storeConcurrency,
          onStored: (o) => {
            metrics.recordBatch(o);
            if (slack && o.newFindings.length) slack.notify(o.newFindings);
            opts.onBatchStored?.(o);
          },
        },
        metrics,
        log: app.log,
        consumerOverrides: opts.kafkaConsumerOverrides,
      })
    : null;
  app.decorate('collector', { config, validators, kafka });

  await app.register(healthRoutes, { kafka: kafka ? () => kafka.healthy() : null });
  await app.register(findingsRoutes, { maxPageSize: config.maxPageSize, defaultPageSize: config.defaultPageSize });
  await app.register(callsRoutes);
  await app.register(sensorsRoutes);

  let retentionTimer: NodeJS.Timeout | null = null;
  app.addHook('onReady', async () => {
    if (kafka) await kafka.start();
    if (opts.retention !== false && config.retentionDays > 0) {
      const sweep = (): void => {
        sweepRetention(app.db, config.retentionDays).then(
          (deleted) => app.log.debug({ deleted }, 'retention sweep'),
          (err: unknown) => app.log.warn({ err }, 'retention sweep failed'),
        );
      };
      sweep();
      retentionTimer = setInterval(sweep, config.retentionIntervalSec * 1000);
      retentionTimer.unref();
    }
  });
  app.addHook('preClose', async () => {
    if (retentionTimer) clearInterval(retentionTimer);
    if (kafka) await kafka.stop();
    // After the consumer stopped: the last batch's findings get a moment to reach Slack.
    if (slack) await slack.close();
  });
  return app;
}
