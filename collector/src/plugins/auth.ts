/**
 * Bearer-token authentication (RFC 6750) for /api and /docs. The token is
 * compared in constant time over SHA-256 digests (equal lengths, so
 * timingSafeEqual never throws and the token's length does not leak). With no
 * token configured the protected paths refuse every request: fail closed.
 * Health probes stay open; /metrics is protected when configured so.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError, ERROR_CODES } from '../errors.js';

export interface AuthOptions {
  token: string;
  protectMetrics: boolean;
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

export function isProtectedPath(url: string, protectMetrics: boolean): boolean {
  const path = url.split('?', 1)[0]!;
  if (path === '/api' || path.startsWith('/api/') || path === '/docs' || path.startsWith('/docs/')) return true;
  return protectMetrics && path === '/metrics';
}

export const authPlugin = fp(
  async (app: FastifyInstance, opts: AuthOptions) => {
    const expected = opts.token ? digest(opts.token) : null;
    if (!expected) app.log.warn('TAPWATCH_API_TOKEN is not set: /api and /docs refuse every request');
    const check = (request: FastifyRequest): boolean => {
      if (!expected) return false;
      const h = request.headers.authorization;
      if (typeof h !== 'string') return false;
      const m = /^Bearer ([\x21-\x7e]{1,512})$/.exec(h);
      return m !== null && timingSafeEqual(digest(m[1]!), expected);
    };
    app.addHook('onRequest', async (request, reply) => {
      if (!isProtectedPath(request.url, opts.protectMetrics)) return;
      if (check(request)) return;
      reply.header('www-authenticate', 'Bearer realm="tapwatch"');
      throw new ApiError(401, ERROR_CODES.unauthorized, 'missing or invalid bearer token');
    });
  },
  { name: 'tapwatch-auth' },
);
