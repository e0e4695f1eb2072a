import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Static, TObject, TSchema } from '@sinclair/typebox';
import * as C from '@atelier/contracts';
import type { AppContext } from '../../context.js';
import type { Services } from '../../services.js';
import { InvalidInput, NotImplemented } from '../../errors.js';
import { safeKey } from '../../blob/blob-store.js';
import { proxiedArtifactPath } from '../../tracking/logged-models/logged-models.js';
import { READ_ONLY, apiPaths, checkSafePath, emptyBodyIsEmptyMessage, mountMlflow, q1 } from './common.js';
import { sendArtifact } from './artifact-routes.js';

const TAGS = ['MLflow model registry'];

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
/** A request of a route with these body and query contracts. */
type Req<B extends TSchema, Q extends TSchema> = FastifyRequest<{ Body: Static<B>; Querystring: Static<Q> }>;

/** MLflow's model registry (`model_registry.proto`) below each workspace's tracking URI. */
export async function mlflowRegistryRoutes(
  app: FastifyInstance,
  opts: { ctx: AppContext; services: Services },
): Promise<void> {
  const { ctx } = opts;
  const { artifacts, experimentLookup: lookup, registry } = opts.services.tracking;
  const user = (req: FastifyRequest): string => req.principal.name;

  await mountMlflow(app, ctx, async (scope) => {
    emptyBodyIsEmptyMessage(scope);
    const route = <R extends TSchema, B extends TSchema = TObject<{}>, Q extends TSchema = TObject<{}>>(
      method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
      path: string,
      schema: { body?: B; querystring?: Q; response: R },
      summary: string,
      handler: (req: Req<B, Q>) => Promise<Static<R>>,
      readOnlyPost = false,
    ): void => {
      const { response, ...input } = schema;
      for (const p of apiPaths(path)) {
        scope.route<{ Body: Static<B>; Querystring: Static<Q> }>({
          method,
          url: p,
          ...(readOnlyPost ? READ_ONLY : {}),
          schema: { ...input, response: { 200: response, ...C.MlflowErrorResponses }, tags: TAGS, summary },
          handler: async (req) => handler(req),
        });
      }
    };

    // ---- registered models ----
    route(
      'POST',
      '/mlflow/registered-models/create',
      { body: C.CreateRegisteredModelRequest, response: C.RegisteredModelResponse },
      'Create a registered model',
      async (req) => {
        const b = req.body;
        if (b.deployment_job_id)
          throw new InvalidInput('deployment jobs are not supported by this server; leave out deployment_job_id');
        return { registered_model: await registry.createRegisteredModel(req.workspace, b, user(req)) };
      },
    );
    route(
      'GET',
      '/mlflow/registered-models/get',
      { querystring: C.RegisteredModelNameQuery, response: C.RegisteredModelResponse },
      'Get a registered model',
      async (req) => ({
        registered_model: await registry.getRegisteredModel(req.workspace, q1(req, 'name')),
      }),
    );
    route(
      'POST',
      '/mlflow/registered-models/rename',
      { body: C.RenameRegisteredModelRequest, response: C.RegisteredModelResponse },
      'Rename a registered model',
      async (req) => ({
        registered_model: await registry.renameRegisteredModel(req.workspace, req.body.name, req.body.new_name),
      }),
    );
    route(
      'PATCH',
      '/mlflow/registered-models/update',
      { body: C.UpdateRegisteredModelRequest, response: C.RegisteredModelResponse },
      'Update a registered model',
      async (req) => {
        const b = req.body;
        if (b.deployment_job_id)
          throw new InvalidInput('deployment jobs are not supported by this server; leave out deployment_job_id');
        return { registered_model: await registry.updateRegisteredModel(req.workspace, b.name, b.description) };
      },
    );
    route(
      'DELETE',
      '/mlflow/registered-models/delete',
      { body: C.DeleteRegisteredModelRequest, response: C.Empty },
      'Delete a registered model and its versions',
      async (req) => {
        await registry.deleteRegisteredModel(req.workspace, req.body.name);
        return {};
      },
    );
    route(
      'GET',
      '/mlflow/registered-models/search',
      { querystring: C.RegistrySearchQuery, response: C.SearchRegisteredModelsResponse },
      'Search registered models',
      async (req) => {
        const r = await registry.searchRegisteredModels(req.workspace, {
          filter: q1(req, 'filter'),
          max_results: q1(req, 'max_results'),
          order_by: qAll(req, 'order_by'),
          page_token: q1(req, 'page_token'),
        });
        return r.registered_models.length ? r : r.next_page_token ? { next_page_token: r.next_page_token } : {};
      },
    );
    const latest = async (req: FastifyRequest, name: unknown, stages: unknown) => {
      const versions = await registry.getLatestVersions(req.workspace, name, stages);
      return versions.length ? { model_versions: versions } : {};
    };
    route(
      'POST',
      '/mlflow/registered-models/get-latest-versions',
      { body: C.GetLatestVersionsRequest, response: C.ModelVersionsResponse },
      'Latest version of each stage',
      async (req) => latest(req, req.body.name, req.body.stages),
      true,
    );
    route(
      'GET',
      '/mlflow/registered-models/get-latest-versions',
      { querystring: C.GetLatestVersionsQuery, response: C.ModelVersionsResponse },
      'Latest version of each stage',
      async (req) => latest(req, q1(req, 'name'), qAll(req, 'stages')),
    );
    route(
      'POST',
      '/mlflow/registered-models/set-tag',
      { body: C.SetRegisteredModelTagRequest, response: C.Empty },
      'Set a registered model tag',
      async (req) => {
        const b = req.body;
        await registry.setRegisteredModelTag(req.workspace, b.name, b.key, b.value);
        return {};
      },
    );
    route(
      'DELETE',
      '/mlflow/registered-models/delete-tag',
      { body: C.DeleteRegisteredModelTagRequest, response: C.Empty },
      'Delete a registered model tag',
      async (req) => {
        await registry.deleteRegisteredModelTag(req.workspace, req.body.name, req.body.key);
        return {};
      },
    );

    // ---- aliases ----
    route(
      'POST',
      '/mlflow/registered-models/alias',
      { body: C.SetRegisteredModelAliasRequest, response: C.Empty },
      'Point an alias at a version',
      async (req) => {
        const b = req.body;
        await registry.setAlias(req.workspace, b.name, b.alias, b.version);
        return {};
      },
    );
    route(
      'DELETE',
      '/mlflow/registered-models/alias',
      { body: C.DeleteRegisteredModelAliasRequest, response: C.Empty },
      'Delete an alias',
      async (req) => {
        // Some clients send DELETE parameters in the query string instead of a body.
        const b = req.body;
        await registry.deleteAlias(req.workspace, b.name ?? q1(req, 'name'), b.alias ?? q1(req, 'alias'));
        return {};
      },
    );
    route(
      'GET',
      '/mlflow/registered-models/alias',
      { querystring: C.AliasQuery, response: C.ModelVersionResponse },
      'Get the version an alias points at',
      async (req) => ({
        model_version: await registry.getVersionByAlias(req.workspace, q1(req, 'name'), q1(req, 'alias')),
      }),
    );

    // ---- model versions ----
    route(
      'POST',
      '/mlflow/model-versions/create',
      { body: C.CreateModelVersionRequest, response: C.ModelVersionResponse },
      'Create a model version',
      async (req) => ({ model_version: await registry.createModelVersion(req.workspace, req.body, user(req)) }),
    );
    route(
      'GET',
      '/mlflow/model-versions/get',
      { querystring: C.ModelVersionQuery, response: C.ModelVersionResponse },
      'Get a model version',
      async (req) => ({
        model_version: await registry.getModelVersion(req.workspace, q1(req, 'name'), q1(req, 'version')),
      }),
    );
    route(
      'PATCH',
      '/mlflow/model-versions/update',
      { body: C.UpdateModelVersionRequest, response: C.ModelVersionResponse },
      'Update a model version',
      async (req) => {
        const b = req.body;
        return { model_version: await registry.updateModelVersion(req.workspace, b.name, b.version, b.description) };
      },
    );
    route(
      'POST',
      '/mlflow/model-versions/transition-stage',
      { body: C.TransitionModelVersionStageRequest, response: C.ModelVersionResponse },
      'Move a model version to a stage',
      async (req) => {
        const b = req.body;
        return {
          model_version: await registry.transitionStage(
            req.workspace,
            b.name,
            b.version,
            b.stage,
            b.archive_existing_versions,
          ),
        };
      },
    );
    route(
      'DELETE',
      '/mlflow/model-versions/delete',
      { body: C.DeleteModelVersionRequest, response: C.Empty },
      'Delete a model version',
      async (req) => {
        await registry.deleteModelVersion(req.workspace, req.body.name, req.body.version);
        return {};
      },
    );
    route(
      'GET',
      '/mlflow/model-versions/search',
      { querystring: C.RegistrySearchQuery, response: C.SearchModelVersionsResponse },
      'Search model versions',
      async (req) => {
        const r = await registry.searchModelVersions(req.workspace, {
          filter: q1(req, 'filter'),
          max_results: q1(req, 'max_results'),
          order_by: qAll(req, 'order_by'),
          page_token: q1(req, 'page_token'),
        });
        return r.model_versions.length ? r : r.next_page_token ? { next_page_token: r.next_page_token } : {};
      },
    );
    route(
      'GET',
      '/mlflow/model-versions/get-download-uri',
      { querystring: C.ModelVersionQuery, response: C.GetModelVersionDownloadUriResponse },
      'Where a model version’s files are',
      async (req) => ({
        artifact_uri: await registry.getDownloadUri(req.workspace, q1(req, 'name'), q1(req, 'version')),
      }),
    );
    // The files of a model version, for MLflow's web UI (served at the tracking URI's root, as MLflow does).
    scope.get(
      '/model-versions/get-artifact',
      {
        schema: { querystring: C.ModelVersionArtifactQuery, tags: TAGS, summary: 'Download a file of a model version' },
      },
      async (req, reply) => {
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
        if (root === undefined)
          throw new NotImplemented(
            `the files of this model version are at '${uri}', outside this server's artifact store; read them from there`,
          );
        return sendArtifact(artifacts, req.workspace, root ? `${root}/${file}` : file, req, reply);
      },
    );

    route(
      'POST',
      '/mlflow/model-versions/set-tag',
      { body: C.SetModelVersionTagRequest, response: C.Empty },
      'Set a model version tag',
      async (req) => {
        const b = req.body;
        await registry.setModelVersionTag(req.workspace, b.name, b.version, b.key, b.value);
        return {};
      },
    );
    route(
      'DELETE',
      '/mlflow/model-versions/delete-tag',
      { body: C.DeleteModelVersionTagRequest, response: C.Empty },
      'Delete a model version tag',
      async (req) => {
        const b = req.body;
        await registry.deleteModelVersionTag(req.workspace, b.name, b.version, b.key);
        return {};
      },
    );
  });
}
