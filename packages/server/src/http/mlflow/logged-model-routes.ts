import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Static, TObject, TSchema } from '@sinclair/typebox';
import * as C from '@atelier/contracts';
import type { AppContext } from '../../context.js';
import type { Services } from '../../services.js';
import { InvalidInput } from '../../errors.js';
import { READ_ONLY, apiPaths, emptyBodyIsEmptyMessage, mountMlflow, q1 } from './common.js';
import { sendArtifact } from './artifact-routes.js';
import { qBool } from './registry-routes.js';

const TAGS = ['MLflow logged models'];

/** A request of a route with these path, body and query contracts. */
type Req<P extends TSchema, B extends TSchema, Q extends TSchema> = FastifyRequest<{
  Params: Static<P>;
  Body: Static<B>;
  Querystring: Static<Q>;
}>;

/** The id in the path wins; a body `model_id` (MLflow's client repeats it) must agree. */
function modelIdOf(req: FastifyRequest<{ Params: C.LoggedModelParams; Body: { model_id?: string } }>): string {
  const id = req.params.modelId;
  const b = req.body.model_id;
  if (b !== undefined && b !== '' && b !== id)
    throw new InvalidInput(`model_id in the body ('${String(b)}') differs from the one in the path ('${id}')`);
  return id;
}

/** MLflow 3 logged models (`service.proto`, `/mlflow/logged-models…`) below each workspace's tracking URI. */
export async function mlflowLoggedModelRoutes(
  app: FastifyInstance,
  opts: { ctx: AppContext; services: Services },
): Promise<void> {
  const { ctx } = opts;
  const { artifacts, loggedModels: models } = opts.services.tracking;

  await mountMlflow(app, ctx, async (scope) => {
    emptyBodyIsEmptyMessage(scope);
    const route = <
      R extends TSchema,
      B extends TSchema = TObject<{}>,
      Q extends TSchema = TObject<{}>,
      P extends TSchema = TObject<{}>,
    >(
      method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
      path: string,
      schema: { params?: P; body?: B; querystring?: Q; response?: R },
      summary: string,
      handler: (req: Req<P, B, Q>, reply: FastifyReply) => Promise<Static<R>>,
      readOnlyPost = false,
    ): void => {
      const { response, ...input } = schema;
      for (const p of apiPaths(path)) {
        scope.route<{ Params: Static<P>; Body: Static<B>; Querystring: Static<Q> }>({
          method,
          url: p,
          ...(readOnlyPost ? READ_ONLY : {}),
          schema: {
            ...input,
            ...(response ? { response: { 200: response, ...C.MlflowErrorResponses } } : {}),
            tags: TAGS,
            summary,
          },
          handler: async (req, reply) => handler(req, reply),
        });
      }
    };
    const ModelParams = C.LoggedModelParams;

    route(
      'POST',
      '/mlflow/logged-models',
      { body: C.CreateLoggedModelRequest, response: C.LoggedModelResponse },
      'Create a logged model (PENDING)',
      async (req) => ({ model: await models.create(req.workspace, req.body) }),
    );
    route(
      'POST',
      '/mlflow/logged-models/search',
      { body: C.SearchLoggedModelsRequest, response: C.SearchLoggedModelsResponse },
      'Search logged models',
      async (req) => {
        const r = await models.search(req.workspace, req.body);
        return r.models.length ? r : r.next_page_token ? { next_page_token: r.next_page_token } : {};
      },
      true,
    );
    route(
      'GET',
      '/mlflow/logged-models/:modelId',
      { params: ModelParams, querystring: C.GetLoggedModelQuery, response: C.LoggedModelResponse },
      'Get a logged model',
      async (req) => ({
        model: await models.get(req.workspace, req.params.modelId, qBool(req, 'allow_deleted') ?? false),
      }),
    );
    route(
      'PATCH',
      '/mlflow/logged-models/:modelId',
      { params: ModelParams, body: C.FinalizeLoggedModelRequest, response: C.LoggedModelResponse },
      'Finalize a logged model (READY or UPLOAD_FAILED)',
      async (req) => ({
        model: await models.finalize(req.workspace, modelIdOf(req), req.body.status),
      }),
    );
    route(
      'DELETE',
      '/mlflow/logged-models/:modelId',
      { params: ModelParams, body: C.DeleteLoggedModelRequest, response: C.Empty },
      'Delete a logged model',
      async (req) => {
        await models.delete(req.workspace, modelIdOf(req));
        return {};
      },
    );
    route(
      'PATCH',
      '/mlflow/logged-models/:modelId/tags',
      { params: ModelParams, body: C.SetLoggedModelTagsRequest, response: C.Empty },
      'Set logged model tags',
      async (req) => {
        await models.setTags(req.workspace, modelIdOf(req), req.body.tags);
        return {};
      },
    );
    route(
      'DELETE',
      '/mlflow/logged-models/:modelId/tags/:tagKey',
      { params: C.LoggedModelTagParams, body: C.DeleteLoggedModelTagRequest, response: C.Empty },
      'Delete a logged model tag',
      async (req) => {
        await models.deleteTag(req.workspace, modelIdOf(req), req.params.tagKey);
        return {};
      },
    );
    route(
      'POST',
      '/mlflow/logged-models/:modelId/params',
      { params: ModelParams, body: C.LogLoggedModelParamsRequest, response: C.Empty },
      'Log logged model params',
      async (req) => {
        await models.logParams(req.workspace, modelIdOf(req), req.body.params);
        return {};
      },
    );
    route(
      'GET',
      '/mlflow/logged-models/:modelId/artifacts/directories',
      {
        params: ModelParams,
        querystring: C.ListLoggedModelArtifactsQuery,
        response: C.ListLoggedModelArtifactsResponse,
      },
      'List a logged model’s artifacts',
      async (req) => {
        const r = await models.listArtifacts(req.workspace, req.params.modelId, q1(req, 'artifact_directory_path'));
        return r.files.length ? r : { root_uri: r.root_uri };
      },
    );
    route(
      'GET',
      '/mlflow/logged-models/:modelId/artifacts/files',
      { params: ModelParams, querystring: C.GetLoggedModelArtifactQuery },
      'Download a file of a logged model',
      async (req, reply) => {
        const file = q1(req, 'artifact_file_path');
        if (!file)
          throw new InvalidInput('Request must include the "artifact_file_path" query parameter.', {
            code: 'MISSING_PARAMETER',
          });
        const p = await models.artifactPath(req.workspace, req.params.modelId, file);
        return sendArtifact(artifacts, req.workspace, p, req, reply);
      },
    );
  });
}
