/** GET /api/findings (filtered, keyset-paged) and GET /api/findings/:id (full evidence). */
import type { FastifyInstance } from 'fastify';
import { notFound, badRequest } from '../errors.js';
import { getFinding, listFindings } from '../store/queries.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { errorResponse, findingSummarySchema, idParamSchema, listFindingsQuerySchema } from './schemas.js';

interface ListQuery {
  type?: string;
  severity?: string;
  sensor?: string;
  callId?: string;
  since?: number;
  until?: number;
  limit: number;
  cursor?: string;
}

export async function findingsRoutes(app: FastifyInstance, opts: { maxPageSize: number; defaultPageSize: number }): Promise<void> {
  app.get<{ Querystring: ListQuery }>(
    '/api/findings',
    {
      schema: {
        summary: 'List findings, newest first',
        tags: ['findings'],
        security: [{ bearerAuth: [] }],
        querystring: listFindingsQuerySchema(opts.maxPageSize, opts.defaultPageSize),
        response: {
          200: {
            type: 'object',
            required: ['items', 'next'],
            properties: { items: { type: 'array', items: findingSummarySchema }, next: { type: ['string', 'null'], description: 'Cursor of the next page; null on the last page.' } },
          },
          400: errorResponse,
          401: errorResponse,
          429: errorResponse,
        },
      },
    },
    async (request) => {
      const q = request.query;
      if (q.since !== undefined && q.until !== undefined && q.since >= q.until) throw badRequest('since must be before until');
      const page = await listFindings(app.db, {
        type: q.type, severity: q.severity, sensor: q.sensor, callId: q.callId, since: q.since, until: q.until,
        limit: q.limit, after: q.cursor ? decodeCursor(q.cursor) : undefined,
      });
      return { items: page.items, next: page.last ? encodeCursor(page.last) : null };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/findings/:id',
    {
      schema: {
        summary: 'One finding with its full evidence',
        tags: ['findings'],
        security: [{ bearerAuth: [] }],
        params: idParamSchema,
        response: {
          200: { type: 'object', additionalProperties: true, properties: { ...findingSummarySchema.properties, evidence: { type: 'object', additionalProperties: true } } },
          400: errorResponse,
          401: errorResponse,
          404: errorResponse,
        },
      },
    },
    async (request) => {
      const f = await getFinding(app.db, request.params.id);
      if (!f) throw notFound('finding');
      return f;
    },
  );
}
