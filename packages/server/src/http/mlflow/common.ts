import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, RouteShorthandOptions } from 'fastify';
import type { AppContext } from '../../context.js';
import { AtelierError, InvalidInput, NotFound } from '../../errors.js';
import { mlflowErrorOf } from './errors.js';
import { setRetryAfter } from '../error-status.js';
import { resolveWorkspace } from '../../resources/workspaces.js';
import { pythonJson } from '../../tracking/shared/python-json.js';
import { decodeFully } from '../../tracking/shared/validation.js';

/**
 * What every MLflow-protocol plugin shares: where it is mounted, how errors look, and the
 * workspace preHandler (resolve + authorise). A feature mounts its routes with `mountMlflow`.
 */

/** The tracking URI of a workspace is `{server}` + this (with the workspace's ARM id parts). */
export const MLFLOW_PREFIX =
  '/mlflow/v1.0/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName/providers/Microsoft.MachineLearningServices/workspaces/:workspaceName';

/** MLflow serves each REST route at `/api/2.0/…` and again at `/ajax-api/2.0/…` (its web UI). */
export const API_ROOTS = ['/api/2.0', '/ajax-api/2.0'] as const;

/** The workspace a tracking request is about, set by the preHandler of `mountMlflow`. */
export interface TrackingWorkspace {
  /** The workspace's GUID (`properties.workspaceId`): the key of every tracking row. */
  workspaceId: string;
  /** ARM id as stored (original casing). */
  armId: string;
  /** ARM id of the workspace's storage account (artifact bytes live there), or null if none. */
  storageAccountId: string | null;
}

export type MlflowAccess = 'read' | 'write';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set on every MLflow route (see http/mlflow/common.ts). */
    workspace: TrackingWorkspace;
    /** The JSON body as received (MLflow routes), for error messages that quote a value as written. */
    mlflowRawBody?: string;
  }
  interface FastifyContextConfig {
    /** What an MLflow route needs on the workspace: GET defaults to 'read', other methods to 'write'. */
    mlflowAccess?: MlflowAccess;
  }
}

export interface MlflowErrorBody {
  error_code: string;
  message: string;
}

/**
 * Maps any error to MLflow's `{error_code, message}` and status: a domain error through the table
 * of http/mlflow/errors.ts, Fastify's own errors (schema, body parsing) here.
 */
export function toMlflowError(err: unknown, req?: FastifyRequest): { status: number; body: MlflowErrorBody } {
  if (err instanceof AtelierError) return mlflowErrorOf(err);
  const fe = err as FastifyError & { validationContext?: string };
  if (fe?.validation)
    return { status: 400, body: { error_code: 'INVALID_PARAMETER_VALUE', message: schemaErrorMessage(fe, req) } };
  if (fe?.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
    return { status: 413, body: { error_code: 'INVALID_PARAMETER_VALUE', message: 'The request body is too large.' } };
  if (fe?.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
    return { status: 415, body: { error_code: 'BAD_REQUEST', message: 'Send the body as application/json.' } };
  if (fe?.code === 'FST_ERR_CTP_EMPTY_JSON_BODY')
    return {
      status: 400,
      body: { error_code: 'MALFORMED_REQUEST', message: 'The request body is empty; send a JSON object.' },
    };
  const status =
    typeof fe?.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500 ? fe.statusCode : 500;
  if (status < 500) {
    const json = fe instanceof SyntaxError || /JSON/.test(fe?.message ?? '');
    return {
      status: 400,
      body: {
        error_code: json ? 'MALFORMED_REQUEST' : 'BAD_REQUEST',
        message: json ? `The request body is not valid JSON: ${fe.message}` : fe.message,
      },
    };
  }
  return {
    status: 500,
    body: { error_code: 'INTERNAL_ERROR', message: 'The server had an internal error; see its log.' },
  };
}

const SEE_DOCS = ' See the API docs for more information about request parameters.';

/** `/metrics/0/timestamp` → `metrics[0].timestamp`, as MLflow names nested parameters. */
function parameterName(instancePath: string, missing?: string): string {
  const parts = instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (missing !== undefined) parts.push(missing);
  return parts.reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
}

/** The value at a JSON pointer of the request (body or query), if any. */
function valueAt(root: unknown, instancePath: string): unknown {
  let v = root;
  for (const p of instancePath.split('/').slice(1)) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<string, unknown>)[p.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return v;
}

/**
 * A value as MLflow's error messages show it (Python's json.dumps, compact, sorted keys) and its
 * Python type name. A top-level number is shown as the client wrote it (`9.0` stays `9.0`).
 */
export function pythonValue(v: unknown, raw?: string, field?: string): { text: string; type: string } {
  if (typeof v === 'number') {
    let text = Number.isFinite(v) ? String(v) : Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
    if (raw !== undefined && field !== undefined) {
      const esc = field.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      const m = new RegExp(`"${esc}"\\s*:\\s*(-?\\d+(?:\\.\\d+)?(?:[eE][+-]?\\d+)?)`).exec(raw);
      if (m && Number(m[1]) === v) text = m[1]!;
    }
    return { text, type: /[.eE]/.test(text) || !Number.isFinite(v) ? 'float' : 'int' };
  }
  const type =
    v === null || v === undefined
      ? 'NoneType'
      : typeof v === 'string'
        ? 'str'
        : typeof v === 'boolean'
          ? 'bool'
          : Array.isArray(v)
            ? 'list'
            : 'dict';
  return { text: pythonJson(v ?? null, ',', ':', true), type };
}

/**
 * A schema (Ajv) error in MLflow's words (mlflow/server/handlers.py, utils/validation.py): a missing
 * or null field → "Missing value for required parameter '<f>'.", a value of the wrong type →
 * "Invalid value <json> for parameter '<f>' supplied: Hint: …", an unknown field says to remove it.
 */
function schemaErrorMessage(fe: FastifyError & { validationContext?: string }, req?: FastifyRequest): string {
  const errors = fe.validation ?? [];
  const first = errors.find((v) => v.keyword !== 'anyOf' && v.keyword !== 'oneOf') ?? errors[0];
  if (!first) return 'Invalid request.';
  const where = fe.validationContext ?? 'body';
  const root = where === 'querystring' ? req?.query : where === 'params' ? req?.params : req?.body;
  if (first.keyword === 'required') {
    return `Missing value for required parameter '${parameterName(first.instancePath, (first.params as { missingProperty?: string }).missingProperty)}'.${SEE_DOCS}`;
  }
  const name = parameterName(first.instancePath);
  if (first.keyword === 'additionalProperties') {
    const extra = (first.params as { additionalProperty?: string }).additionalProperty;
    return `Invalid request: unknown parameter '${name ? `${name}.` : ''}${extra}'; remove it.`;
  }
  const value = valueAt(root, first.instancePath);
  if (value === null || (value === undefined && name))
    return `Missing value for required parameter '${name}'.${SEE_DOCS}`;
  const raw = where === 'body' && !first.instancePath.slice(1).includes('/') ? req?.mlflowRawBody : undefined;
  const shown = pythonValue(value, raw, name);
  const detail =
    first.keyword === 'type' || first.keyword === 'anyOf'
      ? `Hint: Value was of type '${shown.type}'.`
      : `${first.message ?? 'it is not valid'}.`;
  return `Invalid value ${shown.text} for parameter '${name}' supplied: ${detail}${SEE_DOCS}`;
}

export function mlflowErrorHandler(err: unknown, req: FastifyRequest, reply: FastifyReply): void {
  const { status, body } = toMlflowError(err, req);
  if (status >= 500 && status !== 501) req.log.error({ err }, 'request failed');
  setRetryAfter(reply, err);
  void reply.status(status).send(body);
}

/** Lower-cased ARM id of a workspace. */
export function workspaceArmId(sub: string, rg: string, name: string): string {
  return `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.MachineLearningServices/workspaces/${name}`;
}

interface Cached {
  at: number;
  ws: TrackingWorkspace;
}
const CACHE_MS = 5000;
const caches = new WeakMap<AppContext, Map<string, Cached>>();

/** Forget cached workspace resolutions (e.g. when a workspace is deleted). Without id: all. */
export function invalidateWorkspaceCache(ctx: AppContext, armId?: string): void {
  const c = caches.get(ctx);
  if (!c) return;
  if (armId) c.delete(armId.toLowerCase());
  else c.clear();
}

/**
 * Finds a workspace by its ARM id parts, cached for a few seconds (every tracking request needs
 * it). Throws NotFound when there is none.
 */
export async function lookupWorkspace(
  ctx: AppContext,
  sub: string,
  rg: string,
  name: string,
): Promise<TrackingWorkspace> {
  const armId = workspaceArmId(sub, rg, name);
  const key = armId.toLowerCase();
  let cache = caches.get(ctx);
  if (!cache) caches.set(ctx, (cache = new Map()));
  const hit = cache.get(key);
  const now = Date.now();
  if (hit && now - hit.at < CACHE_MS) return hit.ws;
  let info: Awaited<ReturnType<typeof resolveWorkspace>>;
  try {
    info = await resolveWorkspace(ctx, sub, rg, name);
  } catch (e) {
    cache.delete(key);
    if (e instanceof NotFound)
      throw new NotFound(`workspace '${name}' does not exist in resource group '${rg}' of subscription '${sub}'`);
    throw e;
  }
  if (!info.workspaceId)
    throw new NotFound(`workspace '${name}' is not ready for tracking (it has no workspaceId yet)`);
  const ws: TrackingWorkspace = {
    workspaceId: info.workspaceId,
    armId: info.id,
    storageAccountId: info.storageAccountId ?? null,
  };
  if (cache.size > 10000) cache.clear();
  cache.set(key, { at: now, ws });
  return ws;
}

type Params = { subscriptionId: string; resourceGroupName: string; workspaceName: string };

/**
 * The preHandler of every MLflow route: authorises the caller on the workspace (no role at all →
 * 404, as if it did not exist; a role without the action → 403 PERMISSION_DENIED), then resolves
 * the workspace onto `req.workspace`.
 */
export function workspacePreHandler(ctx: AppContext) {
  return async (req: FastifyRequest): Promise<void> => {
    const p = req.params as Params;
    const armId = workspaceArmId(p.subscriptionId, p.resourceGroupName, p.workspaceName);
    const access = req.routeOptions.config?.mlflowAccess ?? (req.method === 'GET' ? 'read' : 'write');
    await ctx.access.require(
      req.principal.id,
      armId,
      access === 'read' ? 'data/read' : 'data/write',
      `workspace '${p.workspaceName}' does not exist in resource group '${p.resourceGroupName}' of subscription '${p.subscriptionId}'`,
    );
    req.workspace = await lookupWorkspace(ctx, p.subscriptionId, p.resourceGroupName, p.workspaceName);
  };
}

/**
 * Mounts MLflow routes of one feature below the tracking URI, with MLflow's error body and the
 * workspace preHandler. Register routes with `paths(...)` to serve both `/api/2.0/…` and
 * `/ajax-api/2.0/…`:
 *
 *   await mountMlflow(app, ctx, async (scope) => {
 *     for (const p of apiPaths('/mlflow-artifacts/artifacts/*')) scope.get(p, opts, handler);
 *   });
 */
export async function mountMlflow(
  app: FastifyInstance,
  ctx: AppContext,
  routes: (scope: FastifyInstance) => Promise<void>,
): Promise<void> {
  await app.register(
    async (scope) => {
      scope.decorateRequest('workspace', null as unknown as TrackingWorkspace);
      scope.decorateRequest('mlflowRawBody', undefined);
      scope.setErrorHandler(mlflowErrorHandler);
      scope.addHook('preHandler', workspacePreHandler(ctx));
      // MLflow's Python client writes NaN/Infinity as bare JSON tokens (json.dumps allows them).
      scope.removeContentTypeParser('application/json'); // the app's ARM parser, replaced in this scope
      scope.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
        req.mlflowRawBody = body as string;
        try {
          done(null, parseJsonLenient(body as string));
        } catch (e) {
          const err = e as Error & { statusCode?: number };
          err.statusCode = 400;
          done(err, undefined);
        }
      });
      await routes(scope);
    },
    { prefix: MLFLOW_PREFIX },
  );
}

/**
 * A relative artifact path from a request, checked as MLflow's validate_path_is_safe does (after
 * percent-decoding): no '..' segment, no absolute or drive path, no backslash, '#' or NUL; anything
 * else → 400 INVALID_PARAMETER_VALUE "Invalid path" (MLflow's exact message).
 */
export function checkSafePath(path: string): string {
  const decoded = decodeFully(path);
  if (
    /[\\#\0]/.test(decoded) ||
    decoded.startsWith('/') ||
    /^[a-zA-Z]:/.test(decoded) ||
    decoded.split('/').includes('..')
  ) {
    throw new InvalidInput('Invalid path');
  }
  return path;
}

/** For route modules that treat a request without a body as an empty message (as MLflow parses it), not a schema error. */
export function emptyBodyIsEmptyMessage(scope: FastifyInstance): void {
  scope.addHook('preValidation', async (req) => {
    if (req.method !== 'GET' && req.body === undefined) req.body = {};
  });
}

/** `/mlflow/runs/get` → ['/api/2.0/mlflow/runs/get', '/ajax-api/2.0/mlflow/runs/get']. */
export function apiPaths(path: string): string[] {
  return API_ROOTS.map((r) => `${r}${path}`);
}

/** Route options for a POST that only reads (search): authorised as 'read'. */
export const READ_ONLY: RouteShorthandOptions = { config: { mlflowAccess: 'read' } };

/**
 * JSON.parse that also takes the bare NaN, Infinity and -Infinity tokens Python's json module
 * writes (outside strings), turning them into the numbers. Empty body = {}.
 */
export function parseJsonLenient(text: string): unknown {
  if (text.length === 0) return {};
  try {
    return JSON.parse(text);
  } catch (first) {
    if (!/NaN|Infinity/.test(text)) throw first;
    const marks: Record<string, number> = {};
    let out = '';
    let i = 0;
    while (i < text.length) {
      const c = text[i]!;
      if (c === '"') {
        let j = i + 1;
        while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
        out += text.slice(i, j + 1);
        i = j + 1;
        continue;
      }
      const m = /^(-?Infinity|NaN)/.exec(text.slice(i, i + 9));
      if (m) {
        const key = `\u0000num:${m[1]}`;
        marks[key] = m[1] === 'NaN' ? NaN : m[1] === 'Infinity' ? Infinity : -Infinity;
        out += JSON.stringify(key);
        i += m[1]!.length;
        continue;
      }
      out += c;
      i++;
    }
    return JSON.parse(out, (_k, v: unknown) => (typeof v === 'string' && v in marks ? marks[v] : v));
  }
}

/** One value of a query parameter (the last, if repeated). */
export function q1(req: FastifyRequest, name: string): string | undefined {
  const v = (req.query as Record<string, string | string[] | undefined>)[name];
  return Array.isArray(v) ? v[v.length - 1] : v;
}
