import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { V1_WORKSPACE } from './common.js';

const P = `/rp/workspaces${V1_WORKSPACE}`;
const HIDE = { schema: { hide: true } as object };
type Params = { subscriptionId: string; resourceGroupName: string; workspaceName: string; name?: string };

/**
 * azureml-core reads compute targets (`ComputeTarget(ws, name)`, `ComputeTarget.list`,
 * `ws.compute_targets`) at `/rp/workspaces/{W}/computes[/{name}]` of its API host (this server);
 * creating, updating and deleting go to ARM `W/computes`. These reads are ARM's own: the request is
 * answered by the `W/computes` routes (same caller, same checks), so both addresses serve one body.
 */
export async function rpComputeRoutes(app: FastifyInstance) {
  const forward = async (req: FastifyRequest<{ Params: Params }>, reply: FastifyReply) => {
    const p = req.params;
    const w = `/subscriptions/${encodeURIComponent(p.subscriptionId)}/resourceGroups/${encodeURIComponent(p.resourceGroupName)}/providers/Microsoft.MachineLearningServices/workspaces/${encodeURIComponent(p.workspaceName)}`;
    const query = new URLSearchParams(req.query as Record<string, string>);
    if (!query.has('api-version')) query.set('api-version', '2025-09-01');
    const res = await app.inject({
      method: 'GET',
      url: `${w}/computes${p.name !== undefined ? `/${encodeURIComponent(p.name)}` : ''}?${query}`,
      headers: { authorization: req.headers.authorization ?? '' },
    });
    // A nextLink points at ARM's route, which serves the next page as well.
    return reply.status(res.statusCode).type('application/json; charset=utf-8').send(res.body);
  };
  app.get<{ Params: Params }>(`${P}/computes`, HIDE, forward);
  app.get<{ Params: Params }>(`${P}/computes/:name`, HIDE, forward);
}
