import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.js';
import { AzureModelService } from '../../models/azure-models.js';
import { workspaceFor } from '../arm/assets/common.js';
import { V1_WORKSPACE } from './common.js';

const P = `/modelmanagement/v1.0${V1_WORKSPACE}`;
const HIDE = { schema: { hide: true } as object };
type Id = { Params: { id: string } };

/**
 * azureml-core's model management service (`/modelmanagement/v1.0/…`) for models and their assets:
 * `Model.register` (POST assets, then POST models), `Model(ws, name[, version])`, `Model.list`,
 * `ws.models`, `model.update` / `add_tags` / `remove_tags` / `add_properties` (PATCH), `model.delete`,
 * and the asset `model.download` reads. Over the one model registry (MLflow's; models/azure-models.ts),
 * with the registry's access: reading is `data/read`, changing `data/write`.
 */
export async function modelManagementRoutes(
  app: FastifyInstance,
  opts: { ctx: AppContext; models: AzureModelService },
) {
  const { ctx, models } = opts;

  app.post(`${P}/models`, HIDE, async (req) => {
    const ws = await workspaceFor(ctx, req, 'data/write');
    const { mv, x } = await models.v1Register(ws, (req.body ?? {}) as Record<string, unknown>, req.principal.id);
    return models.v1Dto(ws, mv, x);
  });
  app.get(`${P}/models`, HIDE, async (req) => {
    const ws = await workspaceFor(ctx, req, 'data/read');
    const q = req.query as Record<string, string | undefined>;
    const page = await models.v1Query(ws, q);
    const value = page.value.map(({ mv, x }) => models.v1Dto(ws, mv, x));
    if (page.skip === undefined) return { value };
    const next = new URL(`${ctx.config.publicUrl}${req.url.split('?')[0]}`);
    for (const [k, v] of Object.entries(q)) if (v !== undefined && k !== '$skipToken') next.searchParams.set(k, v);
    next.searchParams.set('$skipToken', String(page.skip));
    return { value, nextLink: next.toString() };
  });
  app.get<Id>(`${P}/models/:id`, HIDE, async (req) => {
    const ws = await workspaceFor(ctx, req, 'data/read');
    const { mv, x } = await models.v1Find(ws, req.params.id);
    return models.v1Dto(ws, mv, x);
  });
  app.patch<Id>(`${P}/models/:id`, HIDE, async (req) => {
    const ws = await workspaceFor(ctx, req, 'data/write');
    const { mv, x } = await models.v1Patch(ws, req.params.id, req.body);
    return models.v1Dto(ws, mv, x);
  });
  app.delete<Id>(`${P}/models/:id`, HIDE, async (req, reply) => {
    const ws = await workspaceFor(ctx, req, 'data/write');
    const { mv } = await models.v1Find(ws, req.params.id);
    await models.deleteVersion(ws, mv.name, Number(mv.version));
    return reply.status(200).send();
  });

  app.post(`${P}/assets`, HIDE, async (req) => {
    const ws = await workspaceFor(ctx, req, 'data/write');
    return AzureModelService.assetDto(await models.createAsset(ws, (req.body ?? {}) as Record<string, unknown>));
  });
  app.get<Id>(`${P}/assets/:id`, HIDE, async (req) => {
    const ws = await workspaceFor(ctx, req, 'data/read');
    return AzureModelService.assetDto(await models.getAsset(ws, req.params.id));
  });
  app.delete<Id>(`${P}/assets/:id`, HIDE, async (req, reply) => {
    const ws = await workspaceFor(ctx, req, 'data/write');
    await models.deleteAsset(ws, req.params.id);
    return reply.status(200).send();
  });
}
