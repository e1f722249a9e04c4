/**
 * Opaque page cursors: base64url of the JSON [ts, id] of the last row served.
 * Decoding validates shape and types, so a forged cursor is a 400, never SQL.
 */
import { badRequest } from '../errors.js';

export function encodeCursor(last: { ts: number; id: string }): string {
  return Buffer.from(JSON.stringify([last.ts, last.id]), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): { ts: number; id: string } {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw badRequest('invalid cursor');
  }
  if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'number' || !Number.isFinite(v[0]) || typeof v[1] !== 'string' || v[1].length > 128) {
    throw badRequest('invalid cursor');
  }
  return { ts: v[0], id: v[1] };
}
