import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { AppContext } from '../../../context.js';
import { checkApiVersion } from '../api-version.js';
import * as C from '@atelier/contracts';
import { nextLink, pageParams } from '../paging.js';
import { groupId } from '../../../resources/arm-ids.js';
import type { PrivateEndpointService } from '../../../assets/private-endpoints.js';
import type { Services } from '../../../services.js';

const PE =
  '/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName/providers/Microsoft.Network/privateEndpoints';
const ENDPOINT = { 200: C.PrivateEndpoint, ...C.ArmErrorResponses };

type PP = C.PrivateEndpointParams;

/**
 * Private endpoints (`Microsoft.Network/privateEndpoints/{name}`: the networks they admit are
 * `properties.subnet.properties.addressPrefixes`). `W/privateEndpointConnections/{name}` is
 * declared in assets/types.ts and served by the generic router.
 */
export async function privateEndpointRoutes(
  app: FastifyInstance,
  opts: { ctx: AppContext; endpoints: PrivateEndpointService },
): Promise<void> {
  const { ctx, endpoints } = opts;
  app.addHook('preHandler', async (req) => checkApiVersion(req));
  const tags = ['Private endpoints'];

  app.get<{ Params: C.ResourceGroupParams }>(
    PE,
    {
      schema: {
        params: C.ResourceGroupParams,
        querystring: C.ApiVersionQuery,
        response: { 200: C.Paged(C.PrivateEndpoint), ...C.ArmErrorResponses },
        tags,
      },
    },
    async (req) => {
      const gid = groupId(req.params.subscriptionId, req.params.resourceGroupName);
      await ctx.access.require(
        req.principal.id,
        gid,
        'control/read',
        `resource group '${req.params.resourceGroupName}' could not be found`,
      );
      const { after, top } = pageParams(req);
      const page = await endpoints.listEndpoints(gid.toLowerCase(), { after, top });
      return {
        value: page.value.map((r) => endpoints.toBody(r)),
        nextLink: nextLink(ctx.config.publicUrl, req, page.lastKey, page.hasMore),
      };
    },
  );
  app.get<{ Params: PP }>(
    `${PE}/:name`,
    { schema: { params: C.PrivateEndpointParams, querystring: C.ApiVersionQuery, response: ENDPOINT, tags } },
    async (req) => {
      const { subscriptionId: s, resourceGroupName: g, name } = req.params;
      await ctx.access.require(
        req.principal.id,
        endpoints.endpointId(s, g, name),
        'control/read',
        `private endpoint '${name}' could not be found`,
      );
      return endpoints.toBody(await endpoints.getEndpoint(s, g, name));
    },
  );
  app.put<{ Params: PP; Body: C.PrivateEndpointBody }>(
    `${PE}/:name`,
    {
      schema: {
        params: C.PrivateEndpointParams,
        querystring: C.ApiVersionQuery,
        body: C.PrivateEndpointBody,
        response: { ...ENDPOINT, 201: C.PrivateEndpoint },
        tags,
      },
    },
    async (req, reply) => {
      const { subscriptionId: s, resourceGroupName: g, name } = req.params;
      await ctx.access.require(
        req.principal.id,
        endpoints.endpointId(s, g, name),
        'control/write',
        `resource group '${g}' could not be found`,
      );
      const { resource, created } = await endpoints.put(s, g, name, req.body, req.principal);
      return reply.status(created ? 201 : 200).send(endpoints.toBody(resource));
    },
  );
  app.delete<{ Params: PP }>(
    `${PE}/:name`,
    {
      schema: { params: C.PrivateEndpointParams, querystring: C.ApiVersionQuery, response: C.ArmErrorResponses, tags },
    },
    async (req, reply) => {
      const { subscriptionId: s, resourceGroupName: g, name } = req.params;
      await ctx.access.require(
        req.principal.id,
        endpoints.endpointId(s, g, name),
        'control/write',
        `private endpoint '${name}' could not be found`,
      );
      return reply.status((await endpoints.deleteEndpoint(s, g, name)) ? 200 : 204).send();
    },
  );
}

/**
 * App-wide (registered first among the features, so every later route has it): refuses requests to
 * a workspace with public network access disabled from outside its approved private endpoints.
 */
export const networkAccessFeature = fp(
  async (app: FastifyInstance, opts: { ctx: AppContext; services: Services }) => {
    const endpoints = opts.services.assets.endpoints;
    app.addHook('onRequest', async (req) => {
      await endpoints.check(req.routeOptions.url, req.params, req.socket.remoteAddress ?? req.ip);
    });
  },
  { name: 'atelier-network-access' },
);
