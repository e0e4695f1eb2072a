import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../../context.js';
import { checkApiVersion } from '../api-version.js';
import * as C from '@atelier/contracts';
import { nextLink, pageParams } from '../paging.js';
import type { ConnectionService } from '../../../assets/connections.js';
import { W, WNameParams, WParams, workspaceFor } from './common.js';

type P = C.WorkspaceChildParams;

/** `W/connections/{name}`; `GET W/connections?category=&target=`; `POST …/listsecrets` (needs secrets/read). */
export async function connectionRoutes(app: FastifyInstance, opts: { ctx: AppContext; connections: ConnectionService }): Promise<void> {
  const { ctx, connections } = opts;
  const tags = ['Connections'];
  const ONE = { 200: C.Connection, ...C.ArmErrorResponses };
  app.addHook('preHandler', async (req) => checkApiVersion(req));

  app.get(`${W}/connections`, { schema: { params: WParams, querystring: C.ApiVersionQuery, response: { 200: C.ConnectionList, ...C.ArmErrorResponses }, tags } }, async (req) => {
    const ws = await workspaceFor(ctx, req, 'control/read');
    const { after, top } = pageParams(req);
    const q = req.query as Record<string, string | undefined>;
    const page = await connections.list(ws, { after, top, category: q.category || undefined, target: q.target || undefined });
    return { value: await Promise.all(page.value.map((r) => connections.toBody(ws, r))), nextLink: nextLink(ctx.config.publicUrl, req, page.lastKey, page.hasMore) };
  });
  app.get<{ Params: P }>(`${W}/connections/:name`, { schema: { params: WNameParams, querystring: C.ApiVersionQuery, response: ONE, tags } }, async (req) => {
    const ws = await workspaceFor(ctx, req, 'control/read');
    return connections.toBody(ws, await connections.get(ws, req.params.name));
  });
  app.put<{ Params: P; Body: C.ConnectionBody }>(`${W}/connections/:name`, { schema: { params: WNameParams, querystring: C.ApiVersionQuery, body: C.ConnectionBody, response: ONE, tags } }, async (req, reply) => {
    const ws = await workspaceFor(ctx, req, 'assets/write');
    // Azure answers 200 for a new connection too (WorkspaceConnections_Create has no 201); its SDKs insist.
    const { resource } = await connections.put(ws, req.params.name, req.body, req.principal);
    return reply.status(200).send(await connections.toBody(ws, resource));
  });
  app.delete<{ Params: P }>(`${W}/connections/:name`, { schema: { params: WNameParams, querystring: C.ApiVersionQuery, response: C.ArmErrorResponses, tags } }, async (req, reply) => {
    const ws = await workspaceFor(ctx, req, 'assets/write');
    return reply.status((await connections.delete(ws, req.params.name)) ? 200 : 204).send();
  });
  app.post<{ Params: P }>(`${W}/connections/:name/listsecrets`, { schema: { params: WNameParams, querystring: C.ApiVersionQuery, response: ONE, tags } }, async (req) => {
    const ws = await workspaceFor(ctx, req, 'secrets/read');
    return connections.toBody(ws, await connections.get(ws, req.params.name), true);
  });
}
