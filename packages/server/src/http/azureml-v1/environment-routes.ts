import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.js';
import type { V1EnvironmentService } from '../../v1-environments/environments.js';
import { NotImplemented } from '../../errors.js';
import { workspaceFor } from '../arm/assets/common.js';
import { V1_WORKSPACE } from './common.js';

const E = `/environment/v1.0${V1_WORKSPACE}/environments`;
const E2 = `/environment/v2.0${V1_WORKSPACE}/environments`;
const HIDE = { schema: { hide: true } as object };
type P = {
  name: string;
  version?: string;
  operationId?: string;
  subscriptionId: string;
  resourceGroupName: string;
  workspaceName: string;
};

/**
 * azureml-core's environment service (`/environment/v1.0/…`, its `EnvironmentClient`):
 * `Environment.register`, `get` (by version or label), `label`, `list`, `ws.environments`, `env.build(ws)`
 * (202 + a status location)
 * — over the workspace's environment versions (v1-environments/). Reading needs `control/read`,
 * writing `assets/write`, as `W/environments` through ARM.
 */
export async function environmentRoutes(
  app: FastifyInstance,
  opts: { ctx: AppContext; environments: V1EnvironmentService },
) {
  const { ctx, environments } = opts;

  // (The router ignores a trailing slash: azureml-core lists at `…/environments/`.)
  app.get(E, HIDE, async (req) => {
    const w = await workspaceFor(ctx, req, 'control/read');
    return { value: await environments.list(w) };
  });
  app.get<{ Params: P }>(`${E}/:name`, HIDE, async (req) => {
    const w = await workspaceFor(ctx, req, 'control/read');
    return environments.get(w, req.params.name);
  });
  app.get<{ Params: P }>(`${E}/:name/versions/:version`, HIDE, async (req) => {
    const w = await workspaceFor(ctx, req, 'control/read');
    return environments.get(w, req.params.name, req.params.version);
  });
  app.put<{ Params: P }>(`${E}/:name`, HIDE, async (req) => {
    const w = await workspaceFor(ctx, req, 'assets/write');
    return environments.register(w, req.params.name, undefined, req.body, req.principal);
  });
  app.put<{ Params: P }>(`${E}/:name/versions/:version`, HIDE, async (req) => {
    const w = await workspaceFor(ctx, req, 'assets/write');
    return environments.register(w, req.params.name, req.params.version, req.body, req.principal);
  });

  // Environment.label(ws, name, version, labels) and Environment.get(ws, name, label=…).
  app.put<{ Params: P }>(`${E}/:name/versions/:version/metadata`, HIDE, async (req) => {
    const w = await workspaceFor(ctx, req, 'assets/write');
    return environments.setLabels(w, req.params.name, req.params.version!, req.body, req.principal);
  });
  app.get<{ Params: P & { label: string } }>(`${E}/:name/labels/:label`, HIDE, async (req) => {
    const w = await workspaceFor(ctx, req, 'control/read');
    return environments.getByLabel(w, req.params.name, req.params.label);
  });

  // env.build(ws): the server builds the version's Python environment; the location answers its state.
  app.post<{ Params: P }>(`${E2}/:name/versions/:version/image`, HIDE, async (req, reply) => {
    const w = await workspaceFor(ctx, req, 'assets/write');
    const id = await environments.startBuild(w, req.params.name, req.params.version!, req.principal);
    const p = req.params;
    const location = `${ctx.config.publicUrl}/environment/v1.0/subscriptions/${p.subscriptionId}/resourceGroups/${p.resourceGroupName}/providers/Microsoft.MachineLearningServices/workspaces/${p.workspaceName}/environments/${encodeURIComponent(p.name)}/versions/${encodeURIComponent(p.version!)}/builds/${id}`;
    return reply.status(202).send({ location, status: 'Queued', operationId: id });
  });
  app.get<{ Params: P }>(`${E}/:name/versions/:version/builds/:operationId`, HIDE, async (req) => {
    const w = await workspaceFor(ctx, req, 'control/read');
    return environments.buildStatus(w, req.params.name, req.params.version!, req.params.operationId!);
  });

  const unserved = (what: string) => async () => {
    throw new NotImplemented(what, { code: 'NOT_IMPLEMENTED' });
  };
  app.post(
    `${E2}/:name/versions/:version/imageoncompute/:compute`,
    HIDE,
    unserved(
      'building an environment on a compute is not served: env.build(ws) without image_build_compute builds it on the server',
    ),
  );
  for (const url of [`${E}/:name/recipe`, `${E}/:name/versions/:version/recipe`])
    app.post(
      url,
      HIDE,
      unserved(
        "env.build_local is not served: it runs Azure's Docker/conda build scripts on your machine; build on the server with env.build(ws), or make the environment locally from its conda file",
      ),
    );
  app.get(
    `${E}/:name/versions/:version/image`,
    HIDE,
    unserved(
      "env.get_image_details describes a container image in a registry; environments are built as Python environments here, not images: env.build(ws) reports the build's state and log, and its record is in ws.images (Image(ws, id=…), ARM W/images)",
    ),
  );
}
