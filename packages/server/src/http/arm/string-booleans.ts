import type { FastifyInstance } from 'fastify';

type Schema = {
  type?: string | string[];
  properties?: Record<string, Schema>;
  additionalProperties?: boolean | Schema;
  items?: Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
};

const takesBoolean = (s: Schema): boolean =>
  s.type === 'boolean' ||
  (Array.isArray(s.type) && s.type.includes('boolean')) ||
  [...(s.anyOf ?? []), ...(s.oneOf ?? []), ...(s.allOf ?? [])].some(takesBoolean);

/**
 * Azure's resource providers read JSON bodies leniently: a boolean property sent as the string
 * "True" or "False" (any case) is that boolean — azureml-core sends `str(v1_legacy_mode)` in
 * `update()`. This does the same for the fields a route's body schema declares boolean, before
 * validation; any other string in a boolean field is still refused by the schema, naming the field.
 */
export function coerceStringBooleans(schema: Schema | undefined, value: unknown): unknown {
  if (!schema || value === null || value === undefined) return value;
  if (typeof value === 'string') {
    if (takesBoolean(schema) && /^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
    return value;
  }
  if (Array.isArray(value)) {
    const items = schema.items;
    return items ? value.map((v) => coerceStringBooleans(items, v)) : value;
  }
  if (typeof value === 'object') {
    const branches = [schema, ...(schema.anyOf ?? []), ...(schema.oneOf ?? []), ...(schema.allOf ?? [])];
    const obj = value as Record<string, unknown>;
    for (const b of branches) {
      for (const [k, sub] of Object.entries(b.properties ?? {}))
        if (k in obj) obj[k] = coerceStringBooleans(sub, obj[k]);
    }
  }
  return value;
}

/** Registers the coercion for every route of `app`'s scope that declares a body schema. */
export function acceptStringBooleans(app: FastifyInstance): void {
  app.addHook('preValidation', async (req) => {
    const schema = (req.routeOptions.schema as { body?: Schema } | undefined)?.body;
    if (schema && req.body && typeof req.body === 'object') coerceStringBooleans(schema, req.body);
  });
}
