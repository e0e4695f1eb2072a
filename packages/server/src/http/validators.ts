import { AjvCompiler } from '@fastify/ajv-compiler';
import type { FastifySchemaCompiler } from 'fastify';

/**
 * Request validators (params, querystring, body, headers) of every route, compiled by one Ajv per
 * process, once per schema and only when a request first needs them.
 *
 * Fastify compiles every route's schemas with a new Ajv each time an app is built, all of them,
 * before it listens: ~0.5 s of CPU per start for the several hundred routes, most of which a
 * given process (a test file, a short-lived server) never calls, and which the same process
 * compiled already for its previous app. Fastify's compiler factory pools Ajv instances per app
 * only, and has no lazy mode: hence this compiler. It builds its Ajv with Fastify's own compiler
 * (@fastify/ajv-compiler, the options below over its defaults, ajv-formats), so validation, its
 * errors, defaults and (no) coercion are those Fastify would give. `compileAll` compiles what is
 * still pending, so a schema that does not compile fails a test (openapi.test.ts), not a request.
 */
export const AJV_OPTIONS = Object.freeze({
  removeAdditional: false,
  coerceTypes: false,
  useDefaults: true,
  allErrors: true,
});

type Validate = ReturnType<ReturnType<ReturnType<typeof AjvCompiler>>>;
type RouteSchema = Parameters<FastifySchemaCompiler<unknown>>[0];
type FastifyValidationResult = ReturnType<FastifySchemaCompiler<unknown>>;

let compileWithAjv: ((route: RouteSchema) => Validate) | undefined;
/** Compiled validators by schema object: most routes hand the same (module-level) object to each app. */
const bySchema = new WeakMap<object, Validate>();
/**
 * And by the schema's JSON, for schemas made anew for each app (e.g. an ARM route's path
 * parameters): Ajv compiles a schema from its JSON keywords only (TypeBox's symbol keys are not
 * JSON and not keywords), so equal JSON is an equal validator.
 */
const byJson = new Map<string, Validate>();
let compiledCount = 0;

/** How many schemas this process has compiled so far (for tests). */
export function compilations(): number {
  return compiledCount;
}

function compiled(route: RouteSchema): Validate {
  const schema = route.schema as object;
  let v = bySchema.get(schema);
  if (!v) {
    const json = JSON.stringify(schema);
    v = byJson.get(json);
    if (!v) {
      compileWithAjv ??= AjvCompiler()({}, { customOptions: { ...AJV_OPTIONS } }) as (route: RouteSchema) => Validate;
      v = compileWithAjv(route);
      compiledCount++;
      byJson.set(json, v);
    }
    bySchema.set(schema, v);
  }
  return v;
}

/** A route part's validator, not yet compiled. */
export interface PendingValidator {
  method: string;
  url: string;
  httpPart: string;
  /** Compiles it now (no-op once compiled); throws what Ajv throws for a schema it cannot compile. */
  compile(): void;
}

/**
 * A validator compiler for one app (`app.setValidatorCompiler`), and the list of the validators it
 * handed out, for `compileAll`.
 */
export function lazyValidatorCompiler(): {
  compiler: FastifySchemaCompiler<unknown>;
  validators: readonly PendingValidator[];
} {
  const validators: PendingValidator[] = [];
  const compiler: FastifySchemaCompiler<unknown> = (route) => {
    if (route.httpPart === 'headers')
      // Fastify lower-cases a headers schema's property names for its own compiler, not for a
      // custom one; no route declares one, and one added must not be checked case-sensitively.
      throw new Error(`${route.method} ${route.url}: a headers schema is not supported (http/validators.ts)`);
    let v: Validate | undefined;
    const run = (data: unknown, dataCxt?: unknown): ReturnType<FastifyValidationResult> => {
      v ??= compiled(route);
      const ok = (v as unknown as (d: unknown, c?: unknown) => ReturnType<FastifyValidationResult>)(data, dataCxt);
      validate.errors = v.errors as FastifyValidationResult['errors'];
      return ok;
    };
    // Fastify passes the parent object (so Ajv can set defaults on the root value) to an Ajv
    // validator, which it recognises by `schemaEnv`.
    const validate: FastifyValidationResult = Object.defineProperty(run, 'schemaEnv', {
      get: () => (v ??= compiled(route)).schemaEnv,
    });
    validators.push({
      method: String(route.method),
      url: String(route.url),
      httpPart: String(route.httpPart),
      compile: () => void (v ??= compiled(route)),
    });
    return validate;
  };
  return { compiler, validators };
}
