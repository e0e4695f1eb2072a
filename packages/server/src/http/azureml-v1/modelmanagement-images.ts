import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.js';
import type { V1Images } from '../../v1-webservices/images.js';
import { NotImplemented } from '../../errors.js';
import { workspaceFor } from '../arm/assets/common.js';
import { V1_WORKSPACE } from './common.js';

const P = `/modelmanagement/v1.0${V1_WORKSPACE}`;
const HIDE = { schema: { hide: true } as object };

/**
 * azureml-core's images (`/modelmanagement/v1.0/…/images`): list and get, read-only, with
 * `control/read` as ARM `W/images`. Creating an image (`Image.create`, `ContainerImage`) builds a
 * Docker image in Azure Container Registry, which this server does not have: 501 saying so.
 */
export async function modelManagementImageRoutes(app: FastifyInstance, opts: { ctx: AppContext; images: V1Images }) {
  const { ctx, images } = opts;
  app.get(`${P}/images`, HIDE, async (req) => {
    const ws = await workspaceFor(ctx, req, 'control/read');
    const list = await images.query(ws, req.query as Record<string, string | undefined>);
    return { value: list.map((i) => i.dto) };
  });
  app.get<{ Params: { id: string } }>(`${P}/images/:id`, HIDE, async (req) => {
    const ws = await workspaceFor(ctx, req, 'control/read');
    return (await images.get(ws, req.params.id)).dto;
  });
  const unserved = async () => {
    throw new NotImplemented(
      "azureml-core's Image.create, image updates and image deletion are not served: images here are the build records of environments and deployment packages (read-only); build an environment with env.build(ws) or deploy a model to an online endpoint",
      { code: 'NOT_IMPLEMENTED' },
    );
  };
  app.post(`${P}/images`, HIDE, unserved);
  for (const m of ['PUT', 'PATCH', 'DELETE', 'POST'] as const)
    app.route({ method: m, url: `${P}/images/*`, ...HIDE, handler: unserved });
}
