import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.js';
import type { V1Images } from '../../v1-webservices/images.js';
import type { V1ImagePackages } from '../../v1-webservices/image-packages.js';
import { NotImplemented } from '../../errors.js';
import { workspaceFor } from '../arm/assets/common.js';
import { V1_WORKSPACE } from './common.js';

const P = `/modelmanagement/v1.0${V1_WORKSPACE}`;
const HIDE = { schema: { hide: true } as object };
type Id = { Params: { id: string } };

/**
 * azureml-core's images (`/modelmanagement/v1.0/…/images`): list and get (`control/read`, as ARM
 * `W/images`) the environment builds, deployment packages and the images `Image.create` made;
 * create, change and delete (`assets/write`) the last. An image here is a package of model + code +
 * a Python environment built by uv, not a container image (this server has no container runtime).
 */
export async function modelManagementImageRoutes(
  app: FastifyInstance,
  opts: { ctx: AppContext; images: V1Images; made: V1ImagePackages },
) {
  const { ctx, images, made } = opts;
  app.get(`${P}/images`, HIDE, async (req) => {
    const ws = await workspaceFor(ctx, req, 'control/read');
    const list = await images.query(ws, req.query as Record<string, string | undefined>);
    return { value: list.map((i) => i.dto) };
  });
  app.get<Id>(`${P}/images/:id`, HIDE, async (req) => {
    const ws = await workspaceFor(ctx, req, 'control/read');
    return (await images.get(ws, req.params.id)).dto;
  });
  // image_build_log_uri: the build's log as text.
  app.get<Id>(`${P}/images/:id/buildlog`, HIDE, async (req, reply) => {
    const ws = await workspaceFor(ctx, req, 'control/read');
    return reply.type('text/plain; charset=utf-8').send(await made.buildLog(ws, req.params.id));
  });
  // Image.create: the package is made now (a 4xx makes nothing); azureml-core polls its build.
  app.post(`${P}/images`, HIDE, async (req, reply) => {
    const ws = await workspaceFor(ctx, req, 'assets/write');
    const op = await made.create(ws, req.body, req.principal);
    const ops = `${req.url.split('?')[0]!.replace(/\/images\/?$/, '')}/operations`;
    return reply.status(202).header('Operation-Location', `${ctx.config.publicUrl}${ops}/${op.id}`).send({});
  });
  // update / add_tags / remove_tags / add_properties: a JSON Patch list.
  app.patch<Id>(`${P}/images/:id`, HIDE, async (req, reply) => {
    const ws = await workspaceFor(ctx, req, 'assets/write');
    await made.patch(ws, req.params.id, req.body);
    return reply.status(200).send({});
  });
  app.delete<Id>(`${P}/images/:id`, HIDE, async (req, reply) => {
    const ws = await workspaceFor(ctx, req, 'assets/write');
    await made.delete(ws, req.params.id);
    return reply.status(200).send({});
  });
  const unserved = async () => {
    throw new NotImplemented(
      "this image route is not served: azureml-core's Image.create (POST …/images), image.update/add_tags/remove_tags/add_properties (PATCH …/images/{id}) and image.delete (DELETE …/images/{id}) are",
      { code: 'NOT_IMPLEMENTED' },
    );
  };
  for (const m of ['PUT', 'PATCH', 'DELETE', 'POST'] as const)
    app.route({ method: m, url: `${P}/images/:id/*`, ...HIDE, handler: unserved });
  app.put(`${P}/images/:id`, HIDE, unserved);
  app.post(`${P}/images/:id`, HIDE, unserved);
}
