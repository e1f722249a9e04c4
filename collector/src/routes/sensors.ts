/** GET /api/sensors: every sensor's last-seen time and latest telemetry. */
import type { FastifyInstance } from 'fastify';
import { listSensors } from '../store/queries.js';
import { errorResponse, sensorSchema } from './schemas.js';

export async function sensorsRoutes(app: FastifyInstance): Promise<void> {
  app.get(
    '/api/sensors',
    {
      schema: {
        summary: 'Sensors: last seen, packet rate, kernel drops, producer queue',
        tags: ['sensors'],
        security: [{ bearerAuth: [] }],
        response: { 200: { type: 'object', properties: { items: { type: 'array', items: sensorSchema } } }, 401: errorResponse },
      },
    },
    async () => ({ items: await listSensors(app.db) }),
  );
}
