import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Type } from '@sinclair/typebox';
import type { AppContext } from '../../../context.js';
import { checkApiVersion } from '../api-version.js';
import { ApiVersionQuery, Tags } from '../schemas.js';
import { nextLink, pageParams } from '../paging.js';
import { groupId } from '../../../resources/arm-ids.js';
import { PrivateEndpointService } from '../../../assets/private-endpoints.js';
import { W, WNameParams, WParams, workspaceFor } from './common.js';

const PE = '/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName/providers/Microsoft.Network/privateEndpoints';
const GroupParams = Type.Object({ subscriptionId: Type.String(), resourceGroupName: Type.String() });
const PeParams = Type.Object({ subscriptionId: Type.String(), resourceGroupName: Type.String(), name: Type.String({ maxLength: 80 }) });
const PeBody = Type.Object(
  {
    location: Type.Optional(Type.String({ maxLength: 100 })),
    tags: Type.Optional(Tags),
    properties: Type.Object({}, { additionalProperties: true }),
    id: Type.Optional(Type.String()),
    name: Type.Optional(Type.String()),
    type: Type.Optional(Type.String()),
    etag: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
const ConnBody = Type.Object(
  { properties: Type.Object({}, { additionalProperties: true }), id: Type.Optional(Type.String()), name: Type.Optional(Type.String()), type: Type.Optional(Type.String()), systemData: Type.Optional(Type.Unknown()) },
  { additionalProperties: false },
);

interface PP {
  subscriptionId: string;
  resourceGroupName: string;
  name: string;
}
interface WP extends PP {
  workspaceName: string;
}

/**
 * Private endpoints (`Microsoft.Network/privateEndpoints/{name}`: the networks they admit are
 * `properties.subnet.properties.addressPrefixes`) and `W/privateEndpointConnections/{name}`.
 */
export async function privateEndpointRoutes(app: FastifyInstance, opts: { ctx: AppContext; endpoints: PrivateEndpointService }): Promise<void> {
  const { ctx, endpoints } = opts;
  app.addHook('preHandler', async (req) => checkApiVersion(req));
  const tags = ['Private endpoints'];

  app.get<{ Params: PP }>(PE, { schema: { params: GroupParams, querystring: ApiVersionQuery, tags } }, async (req) => {
    const gid = groupId(req.params.subscriptionId, req.params.resourceGroupName);
    await ctx.access.require(req.principal.id, gid, 'control/read', `resource group '${req.params.resourceGroupName}' could not be found`);
    const { after, top } = pageParams(req);
    const page = await endpoints.listEndpoints(gid.toLowerCase(), { after, top });
    return { value: page.value.map((r) => endpoints.toBody(r)), nextLink: nextLink(ctx.config.publicUrl, req, page.lastKey, page.hasMore) };
  });
  app.get<{ Params: PP }>(`${PE}/:name`, { schema: { params: PeParams, querystring: ApiVersionQuery, tags } }, async (req) => {
    const { subscriptionId: s, resourceGroupName: g, name } = req.params;
    await ctx.access.require(req.principal.id, endpoints.endpointId(s, g, name), 'control/read', `private endpoint '${name}' could not be found`);
    return endpoints.toBody(await endpoints.getEndpoint(s, g, name));
  });
  app.put<{ Params: PP; Body: Record<string, unknown> }>(`${PE}/:name`, { schema: { params: PeParams, querystring: ApiVersionQuery, body: PeBody, tags } }, async (req, reply) => {
    const { subscriptionId: s, resourceGroupName: g, name } = req.params;
    await ctx.access.require(req.principal.id, endpoints.endpointId(s, g, name), 'control/write', `resource group '${g}' could not be found`);
    const { resource, created } = await endpoints.put(s, g, name, req.body, req.principal);
    return reply.status(created ? 201 : 200).send(endpoints.toBody(resource));
  });
  app.delete<{ Params: PP }>(`${PE}/:name`, { schema: { params: PeParams, querystring: ApiVersionQuery, tags } }, async (req, reply) => {
    const { subscriptionId: s, resourceGroupName: g, name } = req.params;
    await ctx.access.require(req.principal.id, endpoints.endpointId(s, g, name), 'control/write', `private endpoint '${name}' could not be found`);
    return reply.status((await endpoints.deleteEndpoint(s, g, name)) ? 200 : 204).send();
  });

  app.get(`${W}/privateEndpointConnections`, { schema: { params: WParams, querystring: ApiVersionQuery, tags } }, async (req) => {
    const ws = await workspaceFor(ctx, req, 'control/read');
    const { after, top } = pageParams(req);
    const page = await endpoints.listConnections(ws, { after, top });
    return { value: page.value.map((r) => endpoints.toBody(r)), nextLink: nextLink(ctx.config.publicUrl, req, page.lastKey, page.hasMore) };
  });
  app.get<{ Params: WP }>(`${W}/privateEndpointConnections/:name`, { schema: { params: WNameParams, querystring: ApiVersionQuery, tags } }, async (req) => {
    const ws = await workspaceFor(ctx, req, 'control/read');
    return endpoints.toBody(await endpoints.getConnection(ws, req.params.name));
  });
  // Approving or rejecting is an Owner's decision (access/write).
  app.put<{ Params: WP; Body: Record<string, unknown> }>(`${W}/privateEndpointConnections/:name`, { schema: { params: WNameParams, querystring: ApiVersionQuery, body: ConnBody, tags } }, async (req) => {
    const ws = await workspaceFor(ctx, req, 'access/write');
    return endpoints.toBody(await endpoints.setConnectionState(ws, req.params.name, req.body, req.principal));
  });
  app.delete<{ Params: WP }>(`${W}/privateEndpointConnections/:name`, { schema: { params: WNameParams, querystring: ApiVersionQuery, tags } }, async (req, reply) => {
    const ws = await workspaceFor(ctx, req, 'control/write');
    return reply.status((await endpoints.deleteConnection(ws, req.params.name)) ? 200 : 204).send();
  });
}

/**
 * App-wide (registered first among the features, so every later route has it): refuses requests to
 * a workspace with public network access disabled from outside its approved private endpoints.
 */
export const networkAccessFeature = fp(
  async (app: FastifyInstance, opts: { ctx: AppContext }) => {
    const endpoints = PrivateEndpointService.for(opts.ctx);
    app.addHook('onRequest', async (req) => {
      await endpoints.check(req.routeOptions.url, req.params, req.socket.remoteAddress ?? req.ip);
    });
  },
  { name: 'atelier-network-access' },
);
