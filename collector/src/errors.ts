/**
 * Error codes and the one error handler of the HTTP API (fastify's
 * lib/errors.js model: every error carries a stable code). Responses never
 * contain a stack trace or an internal message: a 5xx answers with a code
 * and a request id, and the details go to the log only.
 *
 * Response shape, for every error: { "error": { "code", "message", "requestId" } }
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export const ERROR_CODES = {
  badRequest: 'bad_request',
  unauthorized: 'unauthorized',
  notFound: 'not_found',
  rateLimited: 'rate_limited',
  payloadTooLarge: 'payload_too_large',
  unavailable: 'unavailable',
  internal: 'internal_error',
} as const;
export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

/** An error whose message is safe to show to the client. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export const notFound = (what: string): ApiError => new ApiError(404, ERROR_CODES.notFound, `${what} not found`);
export const badRequest = (why: string): ApiError => new ApiError(400, ERROR_CODES.badRequest, why);

export interface ErrorBody {
  error: { code: ErrorCode; message: string; requestId: string };
}

/** JSON Schema of ErrorBody, shared by every route's response schema (for /docs). */
export const errorBodySchema = {
  $id: 'ErrorBody',
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message', 'requestId'],
      properties: { code: { type: 'string' }, message: { type: 'string' }, requestId: { type: 'string' } },
    },
  },
} as const;

function classify(err: FastifyError | ApiError | Error): { status: number; code: ErrorCode; message: string } {
  if (err instanceof ApiError) return { status: err.statusCode, code: err.code, message: err.message };
  const fe = err as FastifyError;
  if (fe.validation) return { status: 400, code: ERROR_CODES.badRequest, message: `invalid ${fe.validationContext ?? 'request'}: ${fe.validation[0]?.message ?? 'invalid'}`.slice(0, 300) };
  const status = typeof fe.statusCode === 'number' ? fe.statusCode : 500;
  if (status === 429) return { status, code: ERROR_CODES.rateLimited, message: 'rate limit exceeded, retry later' };
  if (status === 413) return { status, code: ERROR_CODES.payloadTooLarge, message: 'request body too large' };
  if (status === 404) return { status, code: ERROR_CODES.notFound, message: 'not found' };
  if (status === 401) return { status, code: ERROR_CODES.unauthorized, message: 'missing or invalid bearer token' };
  // Fastify's own 4xx (bad JSON body, unsupported media type...) have safe, fixed messages.
  if (status >= 400 && status < 500) return { status, code: ERROR_CODES.badRequest, message: (fe.code ? `${fe.code}: ` : '') + 'malformed request' };
  return { status: status === 503 ? 503 : 500, code: status === 503 ? ERROR_CODES.unavailable : ERROR_CODES.internal, message: status === 503 ? 'service unavailable' : 'internal error' };
}

export function sendError(reply: FastifyReply, request: FastifyRequest, status: number, code: ErrorCode, message: string): FastifyReply {
  const body: ErrorBody = { error: { code, message, requestId: String(request.id) } };
  return reply.code(status).type('application/json; charset=utf-8').send(body);
}

/** Installs the error and not-found handlers on the root instance. */
export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const { status, code, message } = classify(err);
    if (status >= 500) request.log.error({ err }, 'request failed');
    else request.log.debug({ code, message }, 'request rejected');
    // Rate-limit replies carry retry-after headers set by the plugin; keep them.
    return sendError(reply, request, status, code, message);
  });
  app.setNotFoundHandler((request, reply) => sendError(reply, request, 404, ERROR_CODES.notFound, 'not found'));
}
