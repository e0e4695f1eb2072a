import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../../context.js';
import { checkApiVersion } from '../api-version.js';
import * as C from '@atelier/contracts';
import { nextLink, pageParams } from '../paging.js';
import type { VersionedAssetService } from '../../../assets/versioned-assets.js';
import { W, WNameParams, WParams, WVersionParams, workspaceFor } from './common.js';

type P = C.WorkspaceVersionParams;

/** `W/{data|environments}/{name}` and `…/versions/{version}`. `listViewType=All` includes archived ones. */
export async function versionedRoutes(app: FastifyInstance, opts: { ctx: AppContext; service: VersionedAssetService; tag: string }): Promise<void> {
  const { ctx, service: svc } = opts;
  const seg = svc.kind.segment;
  const tags = [opts.tag];
  const Version = seg === 'data' ? C.DataVersion : C.EnvironmentVersion;
  const CONTAINER = { 200: C.AssetContainer, ...C.ArmErrorResponses };
  const VERSION = { 200: Version, ...C.ArmErrorResponses };
  app.addHook('preHandler', async (req) => checkApiVersion(req));
  const archived = (q: unknown) => /^all|archivedonly$/i.test(String((q as Record<string, unknown>).listViewType ?? ''));

  app.get(`${W}/${seg}`, { schema: { params: WParams, querystring: C.ApiVersionQuery, response: { 200: C.Paged(C.AssetContainer), ...C.ArmErrorResponses }, tags } }, async (req) => {
    const ws = await workspaceFor(ctx, req, 'control/read');
    const { after, top } = pageParams(req);
    const page = await svc.listContainers(ws, { after, top, includeArchived: archived(req.query) });
    return { value: page.value.map((r) => svc.toBody(r)), nextLink: nextLink(ctx.config.publicUrl, req, page.lastKey, page.hasMore) };
  });
  app.get<{ Params: P }>(`${W}/${seg}/:name`, { schema: { params: WNameParams, querystring: C.ApiVersionQuery, response: CONTAINER, tags } }, async (req) => {
    const ws = await workspaceFor(ctx, req, 'control/read');
    return svc.toBody(await svc.getContainer(ws, req.params.name));
  });
  app.put<{ Params: P; Body: C.AssetBody }>(`${W}/${seg}/:name`, { schema: { params: WNameParams, querystring: C.ApiVersionQuery, body: C.AssetBody, response: { ...CONTAINER, 201: C.AssetContainer }, tags } }, async (req, reply) => {
    const ws = await workspaceFor(ctx, req, 'assets/write');
    const { resource, created } = await svc.putContainer(ws, req.params.name, req.body, req.principal);
    return reply.status(created ? 201 : 200).send(svc.toBody(resource));
  });
  app.delete<{ Params: P }>(`${W}/${seg}/:name`, { schema: { params: WNameParams, querystring: C.ApiVersionQuery, response: C.ArmErrorResponses, tags } }, async (req, reply) => {
    const ws = await workspaceFor(ctx, req, 'assets/write');
    return reply.status((await svc.deleteContainer(ws, req.params.name)) ? 200 : 204).send();
  });
  app.get<{ Params: P }>(`${W}/${seg}/:name/versions`, { schema: { params: WNameParams, querystring: C.ApiVersionQuery, response: { 200: C.Paged(Version), ...C.ArmErrorResponses }, tags } }, async (req) => {
    const ws = await workspaceFor(ctx, req, 'control/read');
    const { after, top } = pageParams(req);
    const page = await svc.listVersions(ws, req.params.name, { after, top, includeArchived: archived(req.query) });
    return { value: page.value.map((r) => svc.toBody(r)), nextLink: nextLink(ctx.config.publicUrl, req, page.lastKey, page.hasMore) };
  });
  app.get<{ Params: P }>(`${W}/${seg}/:name/versions/:version`, { schema: { params: WVersionParams, querystring: C.ApiVersionQuery, response: VERSION, tags } }, async (req) => {
    const ws = await workspaceFor(ctx, req, 'control/read');
    return svc.toBody(await svc.getVersion(ws, req.params.name, req.params.version));
  });
  app.put<{ Params: P; Body: C.AssetBody }>(`${W}/${seg}/:name/versions/:version`, { schema: { params: WVersionParams, querystring: C.ApiVersionQuery, body: C.AssetBody, response: { ...VERSION, 201: Version }, tags } }, async (req, reply) => {
    const ws = await workspaceFor(ctx, req, 'assets/write');
    const { resource, created } = await svc.putVersion(ws, req.params.name, req.params.version, req.body, req.principal);
    return reply.status(created ? 201 : 200).send(svc.toBody(resource));
  });
  app.delete<{ Params: P }>(`${W}/${seg}/:name/versions/:version`, { schema: { params: WVersionParams, querystring: C.ApiVersionQuery, response: C.ArmErrorResponses, tags } }, async (req, reply) => {
    const ws = await workspaceFor(ctx, req, 'assets/write');
    return reply.status((await svc.deleteVersion(ws, req.params.name, req.params.version)) ? 200 : 204).send();
  });
}
