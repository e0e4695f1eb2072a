import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../../context.js';
import type { Services } from '../../services.js';
import type { WorkspaceInfo } from '../../resources/workspace-info.js';
import { resolveWorkspaceByGuid } from '../../resources/workspaces.js';
import { DEPLOYMENT_PATH, checkCredential } from '../../deployments/online-endpoints.js';
import { pickDeployment, pickMirror } from '../../deployments/serving.js';
import { ScoringError, forwardable, type ProxyRequest } from '../../deployments/proxy/balancer.js';

/** Where scoring URIs live: `{server}/endpoints/{workspace GUID}/{endpoint}/…`. */
export const SCORING_PREFIX = '/endpoints';
const DEPLOYMENT_HEADER = 'azureml-model-deployment';

/**
 * The scoring edge: `{server}/endpoints/{workspace GUID}/{endpoint}/{path}` — `/score`,
 * `/swagger.json`, MLflow's `/invocations`, the Open Inference Protocol's `/v2/…` — authenticated by
 * the endpoint's key or token (not by Atelier sign-ins: callers are applications), routed by the
 * traffic split (or the `azureml-model-deployment` header, or a `deployments/{name}/` path) to a
 * deployment, and passed through its balancing proxy. Bodies are not parsed here: they go to the instance as they came.
 */
export async function scoringFeature(
  app: FastifyInstance,
  opts: { ctx: AppContext; services: Services },
): Promise<void> {
  const { ctx, services } = opts;
  const { endpoints, runtimes, deployments } = services.serving;
  const workspaces = new Map<string, { at: number; ws: WorkspaceInfo }>();
  const workspace = async (guid: string): Promise<WorkspaceInfo | undefined> => {
    const key = guid.toLowerCase();
    const hit = workspaces.get(key);
    if (hit && Date.now() - hit.at < 5_000) return hit.ws;
    try {
      const ws = await resolveWorkspaceByGuid(ctx, guid);
      if (workspaces.size > 10_000) workspaces.clear();
      workspaces.set(key, { at: Date.now(), ws });
      return ws;
    } catch {
      workspaces.delete(key);
      return undefined;
    }
  };

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: ctx.config.bodyLimit }, (_req, body, done) =>
    done(null, body),
  );

  const fail = (reply: FastifyReply, status: number, code: string, message: string) =>
    reply
      .status(status)
      .header('content-type', 'application/json')
      .send(JSON.stringify({ error: { code, message } }));

  const handler = async (req: FastifyRequest, reply: FastifyReply) => {
    const p = req.params as { workspaceId: string; endpointName: string; deployment?: string; '*': string };
    const ws = await workspace(p.workspaceId);
    const auth = ws && (await endpoints.auth(ws, p.endpointName));
    if (!auth || auth.provisioningState === 'Deleting')
      return fail(reply, 404, 'ONLINE_ENDPOINT_NOT_FOUND', `no online endpoint '${p.endpointName}' here`);
    const header = req.headers.authorization;
    const m = typeof header === 'string' ? /^Bearer\s+(.+)$/i.exec(header.trim()) : null;
    if (!m || !checkCredential(auth, m[1]!)) {
      void reply.header('www-authenticate', 'Bearer');
      return fail(
        reply,
        401,
        'UNAUTHENTICATED',
        auth.authMode === 'Key'
          ? "send Authorization: Bearer <key> with one of the endpoint's keys (POST …/listKeys)"
          : 'send Authorization: Bearer <token> with a token of this endpoint (POST …/token); it may have expired',
      );
    }
    // A deployment's own scoring path (…/{endpoint}/deployments/{name}/…) names it as the header does.
    const asked = p.deployment ?? req.headers[DEPLOYMENT_HEADER];
    let name: string | undefined;
    if (typeof asked === 'string' && asked) {
      // The names read with the endpoint (no database read per request); one created since is looked up.
      name =
        auth.deployments.get(asked.toLowerCase()) ??
        (await endpoints.deploymentNames(auth.endpointId)).get(asked.toLowerCase());
      if (!name)
        return fail(reply, 404, 'ONLINE_DEPLOYMENT_NOT_FOUND', `endpoint '${auth.name}' has no deployment '${asked}'`);
    } else {
      name = pickDeployment(auth.traffic);
      if (!name)
        return fail(
          reply,
          404,
          'NO_DEPLOYMENT_TO_ROUTE_TO',
          `endpoint '${auth.name}' sends no traffic to any deployment: set properties.traffic, or name a deployment in the ${DEPLOYMENT_HEADER} header`,
        );
    }
    const q = req.url.indexOf('?');
    const forward: ProxyRequest = {
      method: req.method,
      path: `/${p['*']}${q >= 0 ? req.url.slice(q) : ''}`,
      headers: forwardable(req.headers),
      body: Buffer.isBuffer(req.body) ? req.body : undefined,
    };
    delete forward.headers[DEPLOYMENT_HEADER];
    const mirror = asked ? undefined : pickMirror(auth.mirrorTraffic);
    if (mirror && mirror !== name) {
      // Mirrored requests are fire-and-forget: their answers (and failures) are dropped.
      const mid = `${auth.endpointId}/deployments/${mirror}`;
      void (runtimes.has(mid) ? Promise.resolve(true) : deployments.ensureRunning(mid))
        .then(() => runtimes.send(mid, mirror, forward))
        .catch(() => undefined);
    }
    const id = `${auth.endpointId}/deployments/${name}`;
    // Another replica (same database) may have provisioned it: this one starts its own instances.
    if (!runtimes.has(id)) await deployments.ensureRunning(id);
    try {
      const answer = await runtimes.send(id, name, forward);
      void reply.status(answer.status).headers(answer.headers).header(DEPLOYMENT_HEADER, name);
      return reply.send(answer.body);
    } catch (e) {
      if (e instanceof ScoringError) {
        void reply.header(DEPLOYMENT_HEADER, name);
        return fail(reply, e.status, e.code, e.message);
      }
      throw e;
    }
  };

  for (const method of ['GET', 'POST'] as const)
    for (const url of [
      `${SCORING_PREFIX}/:workspaceId/:endpointName/*`,
      `${SCORING_PREFIX}/:workspaceId/:endpointName/${DEPLOYMENT_PATH}/:deployment/*`,
    ])
      app.route({
        method,
        url,
        config: { public: true },
        schema: { hide: true } as object,
        handler,
      });

  // Deployments that were serving before a restart serve again (in the background: the server listens
  // meanwhile); then the records are followed, so changes made through another replica apply here.
  app.addHook('onReady', async () => {
    void deployments
      .resume()
      .catch((e) => ctx.log.error({ err: e }, 'resuming deployments failed'))
      .finally(() => deployments.follow());
  });
}
