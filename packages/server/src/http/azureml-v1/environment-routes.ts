import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../../context.js';
import type { V1EnvironmentService } from '../../v1-environments/environments.js';
import { NotImplemented, Unauthenticated } from '../../errors.js';
import { WORKSPACE_SCOPE_CLAIM } from '../../identity/token-scopes.js';
import { resolveWorkspace } from '../../resources/workspaces.js';
import { workspaceFor } from '../arm/assets/common.js';
import { V1_WORKSPACE } from './common.js';

const E = `/environment/v1.0${V1_WORKSPACE}/environments`;
const E2 = `/environment/v2.0${V1_WORKSPACE}/environments`;
const HIDE = { schema: { hide: true } as object };
/** The claim of a build log URL's signature: the build operation it reads (and nothing else). */
const BUILD_LOG_CLAIM = 'atelier_env_build_log';
/** How long a build log URL reads (ImageBuildDetails.get_log() asks for a new one each time it polls). */
const BUILD_LOG_URL_TTL_S = 900;
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

  // env.build(ws) and env.build(ws, image_build_compute=…): the server builds the version's Python
  // environment (for the named compute); the location answers its state.
  const startBuild = async (req: FastifyRequest<{ Params: P }>, reply: FastifyReply, compute?: string) => {
    const w = await workspaceFor(ctx, req, 'assets/write');
    const p = req.params;
    const id = await environments.startBuild(w, p.name, p.version!, req.principal, compute);
    const location = `${ctx.config.publicUrl}/environment/v1.0${w.id}/environments/${encodeURIComponent(p.name)}/versions/${encodeURIComponent(p.version!)}/builds/${id}`;
    return reply.status(202).send({ location, status: 'Queued', operationId: id });
  };
  app.post<{ Params: P }>(`${E2}/:name/versions/:version/image`, HIDE, async (req, reply) => startBuild(req, reply));
  app.post<{ Params: P & { compute: string } }>(
    `${E2}/:name/versions/:version/imageoncompute/:compute`,
    HIDE,
    async (req, reply) => startBuild(req, reply, req.params.compute),
  );
  // The status carries `logUrl`: a short-lived URL of this build's log, signed (the signature is the
  // credential, read-only and for this one build), as ImageBuildDetails.get_log() reads it without a token.
  app.get<{ Params: P }>(`${E}/:name/versions/:version/builds/:operationId`, HIDE, async (req) => {
    const w = await workspaceFor(ctx, req, 'control/read');
    const p = req.params;
    const status = await environments.buildStatus(w, p.name, p.version!, p.operationId!);
    const { token } = await ctx.tokens.issue(
      {
        oid: 'environment-build-log-reader',
        idtyp: 'app',
        [BUILD_LOG_CLAIM]: status.operationId,
        [WORKSPACE_SCOPE_CLAIM]: w.id,
      },
      { ttlSeconds: BUILD_LOG_URL_TTL_S },
    );
    const logUrl = `${ctx.config.publicUrl}/environment/v1.0${w.id}/environments/${encodeURIComponent(p.name)}/versions/${encodeURIComponent(p.version!)}/builds/${status.operationId}/log?sig=${encodeURIComponent(token)}`;
    return { ...status, logUrl };
  });
  app.get<{ Params: P; Querystring: { sig?: string } }>(
    `${E}/:name/versions/:version/builds/:operationId/log`,
    { config: { public: true }, schema: { hide: true } as object },
    async (req, reply) => {
      const p = req.params;
      const refused = (why: string) =>
        new Unauthenticated(`${why}; get a new URL from the build's status (ImageBuildDetails.get_log() does)`, {
          code: 'INVALID_TOKEN',
        });
      const sig = req.query.sig;
      if (typeof sig !== 'string' || !sig) throw refused('this build log URL has no signature (sig)');
      const claims = await ctx.tokens.verify(sig).catch(() => {
        throw refused('the signature of this build log URL is not valid or has expired');
      });
      const w = await resolveWorkspace(ctx, p.subscriptionId, p.resourceGroupName, p.workspaceName);
      if (claims[BUILD_LOG_CLAIM] !== p.operationId || claims[WORKSPACE_SCOPE_CLAIM] !== w.id)
        throw refused('this build log URL was signed for another build');
      const status = await environments.buildStatus(w, p.name, p.version!, p.operationId!);
      return reply.type('text/plain; charset=utf-8').send(status.log);
    },
  );

  const unserved = (what: string) => async () => {
    throw new NotImplemented(what, { code: 'NOT_IMPLEMENTED' });
  };
  // env.build_local(ws): the recipe (zipped scripts) that makes the environment on the caller's machine.
  for (const url of [`${E}/:name/recipe`, `${E}/:name/versions/:version/recipe`])
    app.post<{ Params: P }>(url, HIDE, async (req) => {
      const w = await workspaceFor(ctx, req, 'control/read');
      return environments.recipe(w, req.params.name, req.params.version, req.body);
    });
  app.get(
    `${E}/:name/versions/:version/image`,
    HIDE,
    unserved(
      "env.get_image_details describes a container image in a registry: azureml-core's DockerImageDetails reads dockerImage.name and dockerImage.registry.address (its image, repository and registry), which only a server with a container registry can answer truthfully, and this server has none; env.build(ws) reports the build's state and log, and its record is in ws.images (Image(ws, id=…), ARM W/images)",
    ),
  );
}
