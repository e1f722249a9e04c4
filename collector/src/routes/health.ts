/**
 * /healthz: the process is up (liveness; no dependency checked, so a database
 * outage does not get the collector restarted in a loop).
 * /readyz: the collector can do its job: the database answers and, when Kafka
 * is configured, the consumer is connected and the broker answers.
 */
import type { FastifyInstance } from 'fastify';

export interface ReadinessProbe {
  /** null when Kafka is not configured. */
  kafka: (() => Promise<boolean>) | null;
}

const withTimeout = <T>(p: Promise<T>, ms: number, fallback: T): Promise<T> =>
  Promise.race([p, new Promise<T>((r) => setTimeout(() => r(fallback), ms).unref())]);

export async function healthRoutes(app: FastifyInstance, opts: ReadinessProbe): Promise<void> {
  app.get('/healthz', { schema: { tags: ['health'], summary: 'Liveness', response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } } }, async () => ({
    status: 'ok',
  }));

  const checks = { type: 'object', properties: { database: { type: 'string' }, kafka: { type: 'string' } } };
  app.get(
    '/readyz',
    {
      schema: {
        tags: ['health'],
        summary: 'Readiness: database and Kafka',
        response: {
          200: { type: 'object', properties: { status: { type: 'string' }, checks } },
          503: { type: 'object', properties: { status: { type: 'string' }, checks } },
        },
      },
    },
    async (_request, reply) => {
      const db = withTimeout(
        app.db.query('SELECT 1').then(() => true, () => false),
        3000,
        false,
      );
      const kafka = opts.kafka ? withTimeout(opts.kafka().catch(() => false), 3000, false) : Promise.resolve(null);
      const [dbOk, kafkaOk] = await Promise.all([db, kafka]);
      const result = { database: dbOk ? 'ok' : 'unavailable', kafka: kafkaOk === null ? 'disabled' : kafkaOk ? 'ok' : 'unavailable' };
      const ready = dbOk && kafkaOk !== false;
      return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks: result });
    },
  );
}
