/**
 * The JSON Schemas of every event type (sensor/schemas/<type>.v1.json),
 * loaded and compiled once (fastify's rule: schemas are compiled at boot,
 * never per message). The collector validates every Kafka message with these.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
// ajv ships CommonJS with a named `Ajv` export, which NodeNext resolves cleanly.
import { Ajv, type ValidateFunction } from 'ajv';

/** sensor/schemas, found from both the TS sources (sensor/src/events) and the build (dist/sensor/src/events). */
export function schemaDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const up of ['../../schemas', '../../../../sensor/schemas']) {
    const dir = resolve(here, up);
    try {
      readdirSync(dir);
      return dir;
    } catch {
      /* try the next candidate */
    }
  }
  throw new Error(`tapwatch: cannot find sensor/schemas from ${here}`);
}

export interface EventValidator {
  /** Returns null when valid, else a short error text. */
  validate(event: unknown): string | null;
  readonly types: string[];
}

export function loadEventSchemas(dir = schemaDir()): Record<string, object> {
  const out: Record<string, object> = {};
  for (const f of readdirSync(dir)) {
    const m = /^([a-z_]+)\.v(\d+)\.json$/.exec(f);
    if (!m) continue;
    out[m[1]!] = JSON.parse(readFileSync(join(dir, f), 'utf8')) as object;
  }
  return out;
}

export function compileEventValidator(dir = schemaDir()): EventValidator {
  const ajv = new Ajv({ allErrors: false, strict: true, allowUnionTypes: true });
  const byType = new Map<string, ValidateFunction>();
  for (const [type, schema] of Object.entries(loadEventSchemas(dir))) byType.set(type, ajv.compile(schema));
  return {
    types: [...byType.keys()].sort(),
    validate(event: unknown): string | null {
      if (typeof event !== 'object' || event === null) return 'event is not an object';
      const type = (event as { type?: unknown }).type;
      if (typeof type !== 'string') return 'event has no type';
      const fn = byType.get(type);
      if (!fn) return `unknown event type '${type}'`;
      if (fn(event)) return null;
      const e = fn.errors?.[0];
      return e ? `${type}${e.instancePath} ${e.message ?? 'invalid'}` : `${type} invalid`;
    },
  };
}
