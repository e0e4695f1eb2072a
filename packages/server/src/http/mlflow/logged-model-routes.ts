import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type, type TProperties } from '@sinclair/typebox';
import type { AppContext } from '../../context.js';
import type { Services } from '../../services.js';
import { InvalidInput } from '../../errors.js';
import { ArtifactService } from '../../tracking/artifacts/artifacts.js';
import { LoggedModelService } from '../../tracking/logged-models/logged-models.js';
import { TrackingExperimentLookup } from '../../tracking/logged-models/logged-models-experiments.js';
import { READ_ONLY, apiPaths, emptyBodyIsEmptyMessage, mountMlflow, q1 } from './common.js';
import { sendArtifact } from './artifact-routes.js';
import { qBool } from './registry-routes.js';

const TAGS = ['MLflow logged models'];

const Str = Type.String({ maxLength: 100_000 });
const KeyValues = Type.Array(Type.Object({ key: Type.String({ maxLength: 1000 }), value: Type.Optional(Str) }, { additionalProperties: false }), { maxItems: 1000 });
const body = (props: TProperties) => Type.Object(props, { additionalProperties: false });
const opt = (props: TProperties) => Object.fromEntries(Object.entries(props).map(([k, v]) => [k, Type.Optional(v)])) as TProperties;
const Status = Type.Union([Type.String({ maxLength: 40 }), Type.Integer()]);
const QueryValue = Type.Union([Type.String(), Type.Array(Type.String(), { maxItems: 100 })]);

type Body = Record<string, unknown>;
type IdParams = { modelId: string; tagKey?: string };
const bodyOf = (req: FastifyRequest): Body => (req.body ?? {}) as Body;

/** The id in the path wins; a body `model_id` (MLflow's client repeats it) must agree. */
function modelIdOf(req: FastifyRequest): string {
  const id = (req.params as IdParams).modelId;
  const b = bodyOf(req).model_id;
  if (b !== undefined && b !== '' && b !== id) throw new InvalidInput(`model_id in the body ('${String(b)}') differs from the one in the path ('${id}')`);
  return id;
}

/** MLflow 3 logged models (`service.proto`, `/mlflow/logged-models…`) below each workspace's tracking URI. */
export async function mlflowLoggedModelRoutes(app: FastifyInstance, opts: { ctx: AppContext; services: Services }): Promise<void> {
  const { ctx } = opts;
  const artifacts = new ArtifactService(ctx);
  const models = new LoggedModelService(ctx, new TrackingExperimentLookup(ctx), artifacts);
  // A deleted workspace takes its logged models and unfinished uploads with it.
  opts.services.workspaces.onWorkspaceDeleting.push(async (ws) => {
    if (!ws.workspaceId) return;
    await models.deleteWorkspace(ws.workspaceId);
    await artifacts.deleteWorkspaceUploads(ws.workspaceId);
  });

  await mountMlflow(app, ctx, async (scope) => {
    emptyBodyIsEmptyMessage(scope);
    const route = (
      method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
      path: string,
      schema: { body?: ReturnType<typeof body>; querystring?: ReturnType<typeof body> },
      summary: string,
      handler: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>,
      readOnlyPost = false,
    ): void => {
      for (const p of apiPaths(path)) {
        scope.route({ method, url: p, ...(readOnlyPost ? READ_ONLY : {}), schema: { ...schema, tags: TAGS, summary }, handler: async (req, reply) => handler(req, reply) });
      }
    };

    route(
      'POST',
      '/mlflow/logged-models',
      { body: body(opt({ experiment_id: Str, name: Str, model_type: Str, source_run_id: Str, params: KeyValues, tags: KeyValues })) },
      'Create a logged model (PENDING)',
      async (req) => ({ model: await models.create(req.workspace, bodyOf(req)) }),
    );
    route(
      'POST',
      '/mlflow/logged-models/search',
      {
        body: body(
          opt({
            experiment_ids: Type.Array(Type.String(), { maxItems: 100 }),
            filter: Str,
            datasets: Type.Array(Type.Object(opt({ dataset_name: Str, dataset_digest: Str }), { additionalProperties: false }), { maxItems: 100 }),
            max_results: Type.Union([Type.Integer(), Type.String({ pattern: '^[0-9]+$' })]),
            order_by: Type.Array(
              Type.Object(opt({ field_name: Str, ascending: Type.Boolean(), dataset_name: Str, dataset_digest: Str }), { additionalProperties: false }),
              { maxItems: 20 },
            ),
            page_token: Str,
          }),
        ),
      },
      'Search logged models',
      async (req) => {
        const r = await models.search(req.workspace, bodyOf(req));
        return r.models.length ? r : r.next_page_token ? { next_page_token: r.next_page_token } : {};
      },
      true,
    );
    route('GET', '/mlflow/logged-models/:modelId', { querystring: body(opt({ model_id: QueryValue, allow_deleted: QueryValue })) }, 'Get a logged model', async (req) => ({
      model: await models.get(req.workspace, (req.params as IdParams).modelId, qBool(req, 'allow_deleted') ?? false),
    }));
    route('PATCH', '/mlflow/logged-models/:modelId', { body: body(opt({ model_id: Str, status: Status })) }, 'Finalize a logged model (READY or UPLOAD_FAILED)', async (req) => ({
      model: await models.finalize(req.workspace, modelIdOf(req), bodyOf(req).status),
    }));
    route('DELETE', '/mlflow/logged-models/:modelId', { body: body(opt({ model_id: Str })) }, 'Delete a logged model', async (req) => {
      await models.delete(req.workspace, modelIdOf(req));
      return {};
    });
    route('PATCH', '/mlflow/logged-models/:modelId/tags', { body: body(opt({ model_id: Str, tags: KeyValues })) }, 'Set logged model tags', async (req) => {
      await models.setTags(req.workspace, modelIdOf(req), bodyOf(req).tags);
      return {};
    });
    route('DELETE', '/mlflow/logged-models/:modelId/tags/:tagKey', { body: body(opt({ model_id: Str, tag_key: Str })) }, 'Delete a logged model tag', async (req) => {
      await models.deleteTag(req.workspace, modelIdOf(req), (req.params as IdParams).tagKey);
      return {};
    });
    route('POST', '/mlflow/logged-models/:modelId/params', { body: body(opt({ model_id: Str, params: KeyValues })) }, 'Log logged model params', async (req) => {
      await models.logParams(req.workspace, modelIdOf(req), bodyOf(req).params);
      return {};
    });
    route(
      'GET',
      '/mlflow/logged-models/:modelId/artifacts/directories',
      { querystring: body(opt({ model_id: QueryValue, artifact_directory_path: QueryValue, page_token: QueryValue })) },
      'List a logged model’s artifacts',
      async (req) => {
        const r = await models.listArtifacts(req.workspace, (req.params as IdParams).modelId, q1(req, 'artifact_directory_path'));
        return r.files.length ? r : { root_uri: r.root_uri };
      },
    );
    route(
      'GET',
      '/mlflow/logged-models/:modelId/artifacts/files',
      { querystring: body(opt({ artifact_file_path: QueryValue })) },
      'Download a file of a logged model',
      async (req, reply) => {
        const file = q1(req, 'artifact_file_path');
        if (!file) throw new InvalidInput('Request must include the "artifact_file_path" query parameter.', { code: 'MISSING_PARAMETER' });
        const p = await models.artifactPath(req.workspace, (req.params as IdParams).modelId, file);
        return sendArtifact(artifacts, req.workspace, p, req, reply);
      },
    );
  });
}
