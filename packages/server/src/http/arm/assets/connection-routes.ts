import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { AppContext } from '../../../context.js';
import { checkApiVersion } from '../api-version.js';
import { ApiVersionQuery } from '../schemas.js';
import { nextLink, pageParams } from '../paging.js';
import type { ConnectionService } from '../../../assets/connections.js';
import { W, WNameParams, WParams, workspaceFor } from './common.js';

const Body = Type.Object(
  {
    properties: Type.Object({ authType: Type.String(), category: Type.String(), target: Type.String() }, { additionalProperties: true }),
    id: Type.Optional(Type.String()),
    name: Type.Optional(Type.String()),
    type: Type.Optional(Type.String()),
    systemData: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: false },
);

interface P {
  subscriptionId: string;
  resourceGroupName: string;
  workspaceName: string;
  name: string;
}

/** `W/connections/{name}`; `GET W/connections?category=&target=`; `POST …/listsecrets` (needs secrets/read). */
export async function connectionRoutes(app: FastifyInstance, opts: { ctx: AppContext; connections: ConnectionService }): Promise<void> {
  const { ctx, connections } = opts;
  const tags = ['Connections'];
  app.addHook('preHandler', async (req) => checkApiVersion(req));

  app.get(`${W}/connections`, { schema: { params: WParams, querystring: ApiVersionQuery, tags } }, async (req) => {
    const ws = await workspaceFor(ctx, req, 'control/read');
    const { after, top } = pageParams(req);
    const q = req.query as Record<string, string | undefined>;
    const page = await connections.list(ws, { after, top, category: q.category || undefined, target: q.target || undefined });
    return { value: await Promise.all(page.value.map((r) => connections.toBody(ws, r))), nextLink: nextLink(ctx.config.publicUrl, req, page.lastKey, page.hasMore) };
  });
  app.get<{ Params: P }>(`${W}/connections/:name`, { schema: { params: WNameParams, querystring: ApiVersionQuery, tags } }, async (req) => {
    const ws = await workspaceFor(ctx, req, 'control/read');
    return connections.toBody(ws, await connections.get(ws, req.params.name));
  });
  app.put<{ Params: P; Body: { properties: Record<string, unknown> } }>(`${W}/connections/:name`, { schema: { params: WNameParams, querystring: ApiVersionQuery, body: Body, tags } }, async (req, reply) => {
    const ws = await workspaceFor(ctx, req, 'assets/write');
    // Azure answers 200 for a new connection too (WorkspaceConnections_Create has no 201); its SDKs insist.
    const { resource } = await connections.put(ws, req.params.name, req.body, req.principal);
    return reply.status(200).send(await connections.toBody(ws, resource));
  });
  app.delete<{ Params: P }>(`${W}/connections/:name`, { schema: { params: WNameParams, querystring: ApiVersionQuery, tags } }, async (req, reply) => {
    const ws = await workspaceFor(ctx, req, 'assets/write');
    return reply.status((await connections.delete(ws, req.params.name)) ? 200 : 204).send();
  });
  app.post<{ Params: P }>(`${W}/connections/:name/listsecrets`, { schema: { params: WNameParams, querystring: ApiVersionQuery, tags } }, async (req) => {
    const ws = await workspaceFor(ctx, req, 'secrets/read');
    return connections.toBody(ws, await connections.get(ws, req.params.name), true);
  });
}
