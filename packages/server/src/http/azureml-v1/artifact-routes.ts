import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from '../../context.js';
import type { V1ArtifactService } from '../../v1-artifacts/artifacts.js';
import { InvalidInput, NotImplemented } from '../../errors.js';
import { workspaceFor } from '../arm/assets/common.js';
import { V1_WORKSPACE } from './common.js';

const A = `/artifact/v2.0${V1_WORKSPACE}/artifacts`;
const HIDE = { schema: { hide: true } as object };
type P = { origin: string; container: string; '*'?: string };
type Q = { continuationToken?: string; datastoreName?: string };

/** The datastore azureml-core may name for uploads: the workspace's artifact store (where these files are). */
const ARTIFACT_STORE = 'workspaceartifactstore';

/**
 * azureml-core's artifact service (`/artifact/v2.0/…`, its `_restclient` ArtifactOperations): batch
 * create with write URIs, metadata get/delete, listings, content information (read URIs) one by one
 * and by prefix, write URIs, content download — over the MLflow artifact store (v1-artifacts/).
 * Reading needs `data/read`, writing `data/write`, as the MLflow artifact routes.
 */
export async function artifactRoutes(app: FastifyInstance, opts: { ctx: AppContext; artifacts: V1ArtifactService }) {
  const { ctx, artifacts } = opts;
  const path = (req: FastifyRequest<{ Params: P }>) => req.params['*'] ?? '';

  app.post<{ Params: P; Querystring: Q }>(`${A}/batch/metadata/:origin/:container`, HIDE, async (req) => {
    const w = await workspaceFor(ctx, req, 'data/write');
    // The artifact store is where run files are kept anyway; another datastore keeps them there (datastore-files.ts).
    const ds =
      req.query.datastoreName && req.query.datastoreName !== ARTIFACT_STORE ? req.query.datastoreName : undefined;
    const body = req.body as { paths?: unknown } | undefined;
    return artifacts.createEmpty(w, req.params.origin, req.params.container, body?.paths, ds, req.principal);
  });
  app.post(`${A}/metadata`, HIDE, async (req) => {
    const w = await workspaceFor(ctx, req, 'data/write');
    const b = (req.body ?? {}) as { origin?: unknown; container?: unknown; path?: unknown };
    for (const k of ['origin', 'container', 'path'] as const)
      if (typeof b[k] !== 'string') throw new InvalidInput(`${k} must be a string`, { target: k });
    const r = await artifacts.createEmpty(w, b.origin as string, b.container as string, [{ path: b.path }]);
    return Object.values(r.artifacts)[0];
  });
  app.get<{ Params: P }>(`${A}/metadata/:origin/:container/*`, HIDE, async (req) => {
    const w = await workspaceFor(ctx, req, 'data/read');
    return artifacts.get(w, req.params.origin, req.params.container, path(req));
  });
  app.delete<{ Params: P }>(`${A}/metadata/:origin/:container/*`, HIDE, async (req, reply) => {
    const w = await workspaceFor(ctx, req, 'data/write');
    await artifacts.delete(w, req.params.origin, req.params.container, path(req));
    return reply.status(200).send();
  });
  app.get<{ Params: P }>(`${A}/contentinfo/:origin/:container/*`, HIDE, async (req) => {
    const w = await workspaceFor(ctx, req, 'data/read');
    return artifacts.contentInfo(w, req.params.origin, req.params.container, path(req));
  });
  app.get<{ Params: P }>(`${A}/write/:origin/:container/*`, HIDE, async (req) => {
    const w = await workspaceFor(ctx, req, 'data/write');
    return artifacts.writeInfo(w, req.params.origin, req.params.container, path(req));
  });
  app.get<{ Params: P; Querystring: Q }>(`${A}/prefix/contentinfo/:origin/:container/*`, HIDE, async (req) => {
    const w = await workspaceFor(ctx, req, 'data/read');
    return artifacts.listContent(w, req.params.origin, req.params.container, path(req), req.query.continuationToken);
  });
  app.get<{ Params: P }>(`${A}/content/:origin/:container/*`, HIDE, async (req, reply) => {
    const w = await workspaceFor(ctx, req, 'data/read');
    const { stream, size } = await artifacts.download(w, req.params.origin, req.params.container, path(req));
    return reply.type('application/octet-stream').header('content-length', size).send(stream);
  });
  app.post(`${A}/content/:origin/:container/*`, HIDE, async () => {
    throw new NotImplemented(
      "writing an artifact's content through the artifact service is not served; upload to the content URI that artifacts/batch/metadata answers (what run.upload_file does)",
      { code: 'NOT_IMPLEMENTED' },
    );
  });
  app.post(`${A}/batch/ingest/containersas/:origin/:container`, HIDE, async () => {
    throw new NotImplemented(
      "ingesting files from another storage container's SAS is not served; upload them with run.upload_files",
      { code: 'NOT_IMPLEMENTED' },
    );
  });
  for (const url of [`${A}/:origin/:container`, `${A}/:origin/:container/*`])
    app.get<{ Params: P; Querystring: Q }>(url, HIDE, async (req) => {
      const w = await workspaceFor(ctx, req, 'data/read');
      return artifacts.list(w, req.params.origin, req.params.container, path(req), req.query.continuationToken);
    });
}
