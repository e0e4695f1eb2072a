import Fastify, { LogController, type FastifyInstance } from 'fastify';
import crypto from 'node:crypto';
import swagger from '@fastify/swagger';
import type { AppContext } from './context.js';
import { hbiChildLoggerFactory } from './logging/logger.js';
import authPlugin from './http/auth.js';
import { healthRoutes } from './http/health.js';
import { tokenRoutes } from './http/identity/token-routes.js';
import { armErrorHandler } from './http/arm/errors.js';
import { servedFamilies, unbuiltFamily } from './http/arm/unbuilt-families.js';
import { unbuiltV1Route, v1ErrorHandler } from './http/azureml-v1/common.js';
import { resourceGroupRoutes } from './http/arm/resource-group-routes.js';
import { features } from './features.js';
import { inputProblem, MAX_INPUT_DEPTH } from './text.js';
import { InvalidInput } from './errors.js';
import type { Services } from './services.js';
import { blobHostRewrite } from './http/blob-rest/routes.js';
import { lazyValidatorCompiler, type PendingValidator } from './http/validators.js';

export interface BuildOptions {
  /** Fastify's https options (key, cert) to serve TLS. */
  https?: { key: Buffer | string; cert: Buffer | string };
  /** Log requests (default: per config level). */
  logger?: boolean;
}

/** A route of the app: method, URL as registered, and whether /openapi.json leaves it out (`schema.hide`). */
export interface RegisteredRoute {
  method: string;
  url: string;
  hidden: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route registered on the app (see buildApp). */
    registeredRoutes: readonly RegisteredRoute[];
    /** The request validators of every route, compiled on first use (http/validators.ts). */
    validators: readonly PendingValidator[];
  }
}

/**
 * Builds the HTTP application: one Fastify instance, one encapsulated plugin per protocol
 * (ARM control plane, OAuth2 token service, MLflow tracking, …), each with its own error body.
 * The plugins take the services made by the composition root (services.ts); they make none.
 */
/**
 * The one URL rewrite Fastify allows, before routing: azureml-mlflow (azureml-core's
 * `Workspace.get_mlflow_tracking_uri`) names the tracking service `/mlflow/v2.0/…` for MLflow 2
 * and 3 clients — the same routes as `/mlflow/v1.0/…` —, host-style Blob REST when a storage
 * suffix is set, and an ARM id sent as one encoded segment (`decodedArmId`).
 */
function rewriteUrlOf(
  storageSuffix: string | undefined,
): (req: { url?: string; headers: { host?: string } }) => string {
  const blob = storageSuffix ? blobHostRewrite(storageSuffix) : (req: { url?: string }) => req.url ?? '/';
  return (req) => {
    const url = blob(req);
    if (/^\/%2Fsubscriptions%2F/i.test(url)) return decodedArmId(url);
    return url.startsWith('/mlflow/v2.0/') ? `/mlflow/v1.0/${url.slice('/mlflow/v2.0/'.length)}` : url;
  };
}

/**
 * azureml-core's `PrivateEndPoint.get_details()` sends an ARM id as one encoded path segment
 * (`/%2Fsubscriptions%2F…`), as its client quotes every path parameter; ARM reads it as the id's
 * path. A path that does not decode is left as it is (404).
 */
function decodedArmId(url: string): string {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  try {
    return `${decodeURIComponent(path.slice(1))}${q < 0 ? '' : url.slice(q)}`;
  } catch {
    return url;
  }
}

export async function buildApp(ctx: AppContext, services: Services, opts: BuildOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    // One logger for the app and the context (redaction, HBI workspaces: logging/logger.ts).
    ...(opts.logger === false
      ? { logger: false }
      : { loggerInstance: ctx.log, childLoggerFactory: hbiChildLoggerFactory(ctx.hbi) }),
    bodyLimit: ctx.config.bodyLimit,
    routerOptions: {
      caseSensitive: false,
      ignoreTrailingSlash: true,
      ignoreDuplicateSlashes: true,
      maxParamLength: 1000,
    },
    ...(opts.https ? { https: opts.https } : {}),
    // Per-request lines only at debug/trace: at info they would cost more than most requests.
    logController: new LogController({
      disableRequestLogging: ctx.config.logLevel !== 'debug' && ctx.config.logLevel !== 'trace',
    }),
    exposeHeadRoutes: false,
    requestIdHeader: 'x-ms-client-request-id',
    genReqId: () => crypto.randomUUID(),
    // Host-style Blob REST ({account}.blob.{suffix}) is the path-style subset under /blob; and
    // azureml-mlflow's tracking URIs name /mlflow/v2.0/…, the same service as /mlflow/v1.0/….
    rewriteUrl: rewriteUrlOf(ctx.config.storageSuffix),
  } as Parameters<typeof Fastify>[0]) as unknown as FastifyInstance;

  // Every route as registered, so a check can compare /openapi.json with what is really served.
  const registeredRoutes: RegisteredRoute[] = [];
  app.decorate('registeredRoutes', registeredRoutes);
  // Request schemas are compiled by one Ajv per process, each once and when first used; its
  // options (no coercion, defaults, all errors) are in http/validators.ts.
  const { compiler, validators } = lazyValidatorCompiler();
  app.setValidatorCompiler(compiler);
  app.decorate('validators', validators);
  app.addHook('onRoute', (r) => {
    const hidden = Boolean((r.schema as { hide?: boolean } | undefined)?.hide);
    for (const method of [r.method].flat()) registeredRoutes.push({ method, url: r.url, hidden });
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Atelier',
        version: '0.1.0',
        description:
          'Self-hosted machine-learning workspace: ARM-shaped control plane, MLflow tracking, OAuth2 token service.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
          basic: { type: 'http', scheme: 'basic' },
        },
      },
      security: [{ bearer: [] }],
    },
  });
  app.get('/openapi.json', { config: { public: true }, schema: { hide: true } as object }, async () => app.swagger());
  // Response schemas (@atelier/contracts) document the answers in /openapi.json and type the
  // handlers; answers are still written as the handlers make them, not filtered through a schema.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));

  // NUL is never text, and no message nests 64 levels deep: both are refused in any parameter, query
  // string or JSON body before a route sees it
  // (each protocol's error handler answers in its own shape).
  app.addHook('preValidation', async (req) => {
    const p = inputProblem({
      params: req.params,
      query: req.query,
      ...(req.body &&
      typeof req.body === 'object' &&
      !Buffer.isBuffer(req.body) &&
      typeof (req.body as { pipe?: unknown }).pipe !== 'function'
        ? { body: req.body }
        : {}),
    });
    if (p?.problem === 'nul')
      throw new InvalidInput(`${p.at} contains a NUL character (\u0000), which is not allowed in any text`, {
        target: p.at,
      });
    if (p)
      throw new InvalidInput(
        `${p.at} is nested more than ${MAX_INPUT_DEPTH} levels deep; no message of this API nests so deep`,
        { target: p.at },
      );
  });
  // Azure clients send POST/DELETE with Content-Type: application/json and no body: that is "no body",
  // not a malformed one (on every route and on unknown ones, which answer 404/501 instead of 400).
  // Anything else goes to Fastify's own (prototype-poisoning safe) JSON parser. The MLflow routes
  // keep their own parser (MLflow's messages).
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if (body === '' || (typeof body === 'string' && body.trim() === '')) return done(null, undefined);
    void json(req, body as string, done);
  });
  await app.register(authPlugin, { ctx, identity: services.identity });
  app.setErrorHandler(armErrorHandler);
  // Every 429 says when to come back: the edges' error handlers give the seconds a throttle named
  // (http/error-status.ts setRetryAfter); any other 429 (e.g. a full scoring queue) gets 1 s.
  app.addHook('onSend', (_req, reply, payload, done) => {
    if (reply.statusCode === 429 && !reply.hasHeader('retry-after')) void reply.header('retry-after', '1');
    done(null, payload);
  });
  let served: Set<string> | undefined;
  app.setNotFoundHandler((req, reply) => {
    served ??= servedFamilies(registeredRoutes.map((r) => r.url));
    const unbuilt = unbuiltFamily(req.method, req.url, served);
    if (unbuilt) return armErrorHandler(unbuilt, req, reply);
    const v1 = unbuiltV1Route(req.method, req.url);
    if (v1) return v1ErrorHandler(v1, req, reply);
    void reply
      .status(404)
      .send({ error: { code: 'NotFound', message: `no route for ${req.method} ${req.url.split('?')[0]}` } });
  });
  // Every answer says which server answered, for client-side diagnostics.
  app.addHook('onSend', async (req, reply) => {
    reply.header('x-ms-request-id', req.id);
    reply.header('x-ms-correlation-request-id', req.headers['x-ms-correlation-request-id'] ?? req.id);
  });

  await app.register(healthRoutes, { ctx });
  await app.register(tokenRoutes, { ctx, identity: services.identity });
  await app.register(resourceGroupRoutes, { ctx, groups: services.groups, resources: services.resources });
  for (const feature of features) await app.register(feature, { ctx, services });

  return app;
}
