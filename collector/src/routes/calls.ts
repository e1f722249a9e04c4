/** GET /api/calls/:callId: the timeline of one call's events across every sensor that saw it. */
import type { FastifyInstance } from 'fastify';
import { notFound } from '../errors.js';
import { getCallTimeline } from '../store/queries.js';
import { callIdParamSchema, errorResponse, findingSummarySchema } from './schemas.js';

/** A call's timeline is bounded: a runaway call cannot make a response unbounded. */
export const MAX_TIMELINE_EVENTS = 5000;

export async function callsRoutes(app: FastifyInstance): Promise<void> {
  app.get<{ Params: { callId: string } }>(
    '/api/calls/:callId',
    {
      schema: {
        summary: "A call's events across sensors, in capture-time order",
        tags: ['calls'],
        security: [{ bearerAuth: [] }],
        params: callIdParamSchema,
        response: {
          200: {
            type: 'object',
            properties: {
              callId: { type: 'string' },
              sensors: { type: 'array', items: { type: 'string' } },
              calls: { type: 'array', items: { type: 'object', additionalProperties: true } },
              events: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: { id: { type: 'string' }, type: { type: 'string' }, sensor: { type: 'string' }, ts: { type: 'number' }, event: { type: 'object', additionalProperties: true } },
                },
              },
              findings: { type: 'array', items: findingSummarySchema },
              truncated: { type: 'boolean', description: `True when the call has more than ${MAX_TIMELINE_EVENTS} events.` },
            },
          },
          400: errorResponse,
          401: errorResponse,
          404: errorResponse,
        },
      },
    },
    async (request) => {
      const t = await getCallTimeline(app.db, request.params.callId, MAX_TIMELINE_EVENTS);
      if (!t) throw notFound('call');
      return t;
    },
  );
}
