import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type TProperties } from '@sinclair/typebox';
import type { AppContext } from '../../context.js';
import type { Services } from '../../services.js';
import { InvalidInput, NotImplemented } from '../../errors.js';
import { safeKey } from '../../blob/blob-store.js';
import { ArtifactService } from '../../tracking/artifacts/artifacts.js';
import { LoggedModelService, proxiedArtifactPath } from '../../tracking/logged-models/logged-models.js';
import { TrackingExperimentLookup } from '../../tracking/logged-models/logged-models-experiments.js';
import { RegistryService } from '../../tracking/registry/registry.js';
import { READ_ONLY, apiPaths, checkSafePath, emptyBodyIsEmptyMessage, mountMlflow, q1 } from './common.js';
import { sendArtifact } from './artifact-routes.js';

const TAGS = ['MLflow model registry'];

const Str = Type.String({ maxLength: 100_000 });
const Version = Type.Union([Type.String({ maxLength: 30 }), Type.Integer()]);
const TagList = Type.Array(Type.Object({ key: Type.String({ maxLength: 1000 }), value: Type.Optional(Str) }, { additionalProperties: false }), { maxItems: 1000 });
const body = (props: TProperties) => Type.Object(props, { additionalProperties: false });
const opt = <T extends TProperties>(props: T) => Object.fromEntries(Object.entries(props).map(([k, v]) => [k, Type.Optional(v)])) as TProperties;
const QueryValue = Type.Union([Type.String(), Type.Array(Type.String(), { maxItems: 100 })]);
const query = (...names: string[]) => Type.Object(Object.fromEntries(names.map((n) => [n, Type.Optional(QueryValue)])), { additionalProperties: false });

/** Every value of a repeated query parameter. */
export function qAll(req: FastifyRequest, name: string): string[] | undefined {
  const v = (req.query as Record<string, string | string[] | undefined>)[name];
  return v === undefined ? undefined : Array.isArray(v) ? v : [v];
}
export function qBool(req: FastifyRequest, name: string): boolean | undefined {
  const v = q1(req, name);
  if (v === undefined) return undefined;
  if (!/^(true|false)$/i.test(v)) throw new InvalidInput(`Invalid boolean value: ${v}, must be 'true' or 'false'.`);
  return v.toLowerCase() === 'true';
}
type Body = Record<string, unknown>;
const bodyOf = (req: FastifyRequest): Body => (req.body ?? {}) as Body;

/** MLflow's model registry (`model_registry.proto`) below each workspace's tracking URI. */
export async function mlflowRegistryRoutes(app: FastifyInstance, opts: { ctx: AppContext; services: Services }): Promise<void> {
  const { ctx } = opts;
  const artifacts = new ArtifactService(ctx);
  const lookup = new TrackingExperimentLookup(ctx);
  const loggedModels = new LoggedModelService(ctx, lookup, artifacts);
  const registry = new RegistryService(ctx, loggedModels);
  // A deleted workspace takes its registry with it.
  opts.services.workspaces.onWorkspaceDeleting.push(async (ws) => {
    if (ws.workspaceId) await registry.deleteWorkspace(ws.workspaceId);
  });
  const user = (req: FastifyRequest): string => req.principal.name;

  await mountMlflow(app, ctx, async (scope) => {
    emptyBodyIsEmptyMessage(scope);
    const route = (
      method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
      path: string,
      schema: { body?: ReturnType<typeof body>; querystring?: ReturnType<typeof query> },
      summary: string,
      handler: (req: FastifyRequest) => Promise<unknown>,
      readOnlyPost = false,
    ): void => {
      for (const p of apiPaths(path)) {
        scope.route({ method, url: p, ...(readOnlyPost ? READ_ONLY : {}), schema: { ...schema, tags: TAGS, summary }, handler: async (req) => handler(req) });
      }
    };

    // ---- registered models ----
    route('POST', '/mlflow/registered-models/create', { body: body(opt({ name: Str, tags: TagList, description: Str, deployment_job_id: Str })) }, 'Create a registered model', async (req) => {
      const b = bodyOf(req);
      if (b.deployment_job_id) throw new InvalidInput('deployment jobs are not supported by this server; leave out deployment_job_id');
      return { registered_model: await registry.createRegisteredModel(req.workspace, b, user(req)) };
    });
    route('GET', '/mlflow/registered-models/get', { querystring: query('name') }, 'Get a registered model', async (req) => ({
      registered_model: await registry.getRegisteredModel(req.workspace, q1(req, 'name')),
    }));
    route('POST', '/mlflow/registered-models/rename', { body: body(opt({ name: Str, new_name: Str })) }, 'Rename a registered model', async (req) => ({
      registered_model: await registry.renameRegisteredModel(req.workspace, bodyOf(req).name, bodyOf(req).new_name),
    }));
    route('PATCH', '/mlflow/registered-models/update', { body: body(opt({ name: Str, description: Str, deployment_job_id: Str })) }, 'Update a registered model', async (req) => {
      const b = bodyOf(req);
      if (b.deployment_job_id) throw new InvalidInput('deployment jobs are not supported by this server; leave out deployment_job_id');
      return { registered_model: await registry.updateRegisteredModel(req.workspace, b.name, b.description) };
    });
    route('DELETE', '/mlflow/registered-models/delete', { body: body(opt({ name: Str })) }, 'Delete a registered model and its versions', async (req) => {
      await registry.deleteRegisteredModel(req.workspace, bodyOf(req).name);
      return {};
    });
    route('GET', '/mlflow/registered-models/search', { querystring: query('filter', 'max_results', 'order_by', 'page_token') }, 'Search registered models', async (req) => {
      const r = await registry.searchRegisteredModels(req.workspace, {
        filter: q1(req, 'filter'),
        max_results: q1(req, 'max_results'),
        order_by: qAll(req, 'order_by'),
        page_token: q1(req, 'page_token'),
      });
      return r.registered_models.length ? r : r.next_page_token ? { next_page_token: r.next_page_token } : {};
    });
    const latest = async (req: FastifyRequest, name: unknown, stages: unknown) => {
      const versions = await registry.getLatestVersions(req.workspace, name, stages);
      return versions.length ? { model_versions: versions } : {};
    };
    route('POST', '/mlflow/registered-models/get-latest-versions', { body: body(opt({ name: Str, stages: Type.Array(Type.String(), { maxItems: 10 }) })) }, 'Latest version of each stage', async (req) => latest(req, bodyOf(req).name, bodyOf(req).stages), true);
    route('GET', '/mlflow/registered-models/get-latest-versions', { querystring: query('name', 'stages') }, 'Latest version of each stage', async (req) => latest(req, q1(req, 'name'), qAll(req, 'stages')));
    route('POST', '/mlflow/registered-models/set-tag', { body: body(opt({ name: Str, key: Str, value: Str })) }, 'Set a registered model tag', async (req) => {
      const b = bodyOf(req);
      await registry.setRegisteredModelTag(req.workspace, b.name, b.key, b.value);
      return {};
    });
    route('DELETE', '/mlflow/registered-models/delete-tag', { body: body(opt({ name: Str, key: Str })) }, 'Delete a registered model tag', async (req) => {
      await registry.deleteRegisteredModelTag(req.workspace, bodyOf(req).name, bodyOf(req).key);
      return {};
    });

    // ---- aliases ----
    route('POST', '/mlflow/registered-models/alias', { body: body(opt({ name: Str, alias: Str, version: Version })) }, 'Point an alias at a version', async (req) => {
      const b = bodyOf(req);
      await registry.setAlias(req.workspace, b.name, b.alias, b.version);
      return {};
    });
    route('DELETE', '/mlflow/registered-models/alias', { body: body(opt({ name: Str, alias: Str })) }, 'Delete an alias', async (req) => {
      // Some clients send DELETE parameters in the query string instead of a body.
      const b = bodyOf(req);
      await registry.deleteAlias(req.workspace, b.name ?? q1(req, 'name'), b.alias ?? q1(req, 'alias'));
      return {};
    });
    route('GET', '/mlflow/registered-models/alias', { querystring: query('name', 'alias') }, 'Get the version an alias points at', async (req) => ({
      model_version: await registry.getVersionByAlias(req.workspace, q1(req, 'name'), q1(req, 'alias')),
    }));

    // ---- model versions ----
    route(
      'POST',
      '/mlflow/model-versions/create',
      { body: body(opt({ name: Str, source: Str, run_id: Str, tags: TagList, run_link: Str, description: Str, model_id: Str })) },
      'Create a model version',
      async (req) => ({ model_version: await registry.createModelVersion(req.workspace, bodyOf(req), user(req)) }),
    );
    route('GET', '/mlflow/model-versions/get', { querystring: query('name', 'version') }, 'Get a model version', async (req) => ({
      model_version: await registry.getModelVersion(req.workspace, q1(req, 'name'), q1(req, 'version')),
    }));
    route('PATCH', '/mlflow/model-versions/update', { body: body(opt({ name: Str, version: Version, description: Str })) }, 'Update a model version', async (req) => {
      const b = bodyOf(req);
      return { model_version: await registry.updateModelVersion(req.workspace, b.name, b.version, b.description) };
    });
    route(
      'POST',
      '/mlflow/model-versions/transition-stage',
      { body: body(opt({ name: Str, version: Version, stage: Str, archive_existing_versions: Type.Boolean() })) },
      'Move a model version to a stage',
      async (req) => {
        const b = bodyOf(req);
        return { model_version: await registry.transitionStage(req.workspace, b.name, b.version, b.stage, b.archive_existing_versions) };
      },
    );
    route('DELETE', '/mlflow/model-versions/delete', { body: body(opt({ name: Str, version: Version })) }, 'Delete a model version', async (req) => {
      await registry.deleteModelVersion(req.workspace, bodyOf(req).name, bodyOf(req).version);
      return {};
    });
    route('GET', '/mlflow/model-versions/search', { querystring: query('filter', 'max_results', 'order_by', 'page_token') }, 'Search model versions', async (req) => {
      const r = await registry.searchModelVersions(req.workspace, {
        filter: q1(req, 'filter'),
        max_results: q1(req, 'max_results'),
        order_by: qAll(req, 'order_by'),
        page_token: q1(req, 'page_token'),
      });
      return r.model_versions.length ? r : r.next_page_token ? { next_page_token: r.next_page_token } : {};
    });
    route('GET', '/mlflow/model-versions/get-download-uri', { querystring: query('name', 'version') }, 'Where a model version’s files are', async (req) => ({
      artifact_uri: await registry.getDownloadUri(req.workspace, q1(req, 'name'), q1(req, 'version')),
    }));
    // The files of a model version, for MLflow's web UI (served at the tracking URI's root, as MLflow does).
    scope.get('/model-versions/get-artifact', { schema: { querystring: query('name', 'version', 'path'), tags: TAGS, summary: 'Download a file of a model version' } }, async (req, reply) => {
      const file = safeKey(checkSafePath(q1(req, 'path') ?? ''), 'path');
      if (!file) throw new InvalidInput("Missing value for required parameter 'path'.");
      const uri = await registry.getDownloadUri(req.workspace, q1(req, 'name'), q1(req, 'version'));
      let root = proxiedArtifactPath(uri);
      const runs = /^runs:\/+([^/]+)\/?(.*)$/.exec(uri);
      if (root === undefined && runs) {
        const runRoot = await lookup.runArtifactUri(req.workspace, runs[1]!);
        const p = runRoot === undefined ? undefined : proxiedArtifactPath(runRoot);
        if (p !== undefined) root = runs[2] ? `${p}/${runs[2]}` : p;
      }
      if (root === undefined) throw new NotImplemented(`the files of this model version are at '${uri}', outside this server's artifact store; read them from there`);
      return sendArtifact(artifacts, req.workspace, root ? `${root}/${file}` : file, req, reply);
    });

    route('POST', '/mlflow/model-versions/set-tag', { body: body(opt({ name: Str, version: Version, key: Str, value: Str })) }, 'Set a model version tag', async (req) => {
      const b = bodyOf(req);
      await registry.setModelVersionTag(req.workspace, b.name, b.version, b.key, b.value);
      return {};
    });
    route('DELETE', '/mlflow/model-versions/delete-tag', { body: body(opt({ name: Str, version: Version, key: Str })) }, 'Delete a model version tag', async (req) => {
      const b = bodyOf(req);
      await registry.deleteModelVersionTag(req.workspace, b.name, b.version, b.key);
      return {};
    });
  });
}
