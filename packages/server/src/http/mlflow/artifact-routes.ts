import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Readable } from 'node:stream';
import * as C from '@atelier/contracts';
import mime from 'mime-types';
import rangeParser from 'range-parser';
import type { AppContext } from '../../context.js';
import { InvalidInput, NotFound, NotImplemented } from '../../errors.js';
import { safeKey } from '../../blob/blob-store.js';
import { UPLOAD_TOKEN_HEADER, type ArtifactService, type WorkspaceRef } from '../../tracking/artifacts/artifacts.js';
import type { Services } from '../../services.js';
import { proxiedArtifactPath } from '../../tracking/logged-models/logged-models.js';
import { apiPaths, checkSafePath, mlflowErrorHandler, mountMlflow, q1 } from './common.js';
import { resolveWorkspaceByGuid } from '../../resources/workspaces.js';

/** Where presigned-style part URLs of multipart uploads point (public: the URL carries its credential). */
export const PART_ROUTE = '/mlflow-artifacts/mpu/parts';

const TAGS = ['MLflow artifacts'];

/** Largest file the web UI's upload-artifact route takes (MLflow's limit). */
const UI_UPLOAD_LIMIT = 10 * 1024 * 1024;

/** Reads a request body of at most `limit` bytes (MLflow's message beyond it). */
async function readSmallBody(body: Readable | undefined, limit: number): Promise<Buffer> {
  if (!body || typeof body.pipe !== 'function') return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of body) {
    const b = Buffer.isBuffer(c) ? c : Buffer.from(c as string);
    size += b.length;
    if (size > limit) {
      body.destroy();
      throw new InvalidInput('Artifact size is too large. Max size is 10MB.');
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

/** Passes the request body on as the raw stream: uploads are streamed to disk, never buffered. */
function rawBodies(scope: FastifyInstance): void {
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
}

/** The artifact path of a wildcard route (`…/artifacts/<path>`), validated. */
function artifactPath(req: FastifyRequest): string {
  const raw = (req.params as Record<string, string>)['*'] ?? '';
  const p = safeKey(raw, 'artifact path');
  if (!p) throw new InvalidInput('the artifact path is empty: name a file below /mlflow-artifacts/artifacts/');
  return p;
}

/**
 * The artifact a multipart request is about: MLflow's client names the destination folder in the
 * URL and sends the local file's path in the body; the artifact is `<folder>/<file name>`.
 */
function multipartTarget(req: FastifyRequest, localPath: string | undefined): string {
  if (localPath === undefined || localPath === '')
    throw new InvalidInput("Missing value for required parameter 'path'.");
  const base = localPath.split(/[/\\]/).filter(Boolean).pop() ?? '';
  if (!base || base === '.' || base === '..') throw new InvalidInput(`path '${localPath}' does not end in a file name`);
  const folder = safeKey((req.params as Record<string, string>)['*'] ?? '', 'artifact path');
  return safeKey(folder ? `${folder}/${base}` : base, 'artifact path');
}

function attachmentHeaders(reply: FastifyReply, p: string): void {
  const base = p.slice(p.lastIndexOf('/') + 1);
  const ascii = base.replace(/[^\x20-\x7e]|["\\]/g, '_');
  reply.header('content-type', mime.lookup(base) || 'application/octet-stream');
  // Always an attachment, never rendered in a browser on this origin (as MLflow does, against XSS).
  reply.header('content-disposition', `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(base)}`);
  reply.header('x-content-type-options', 'nosniff');
  reply.header('accept-ranges', 'bytes');
}

/**
 * Streams a file of a workspace's artifact store, honouring a single `Range` (206, or 416 when it
 * cannot be satisfied). Shared by the artifact proxy and the logged-model artifact route.
 */
export async function sendArtifact(
  artifacts: ArtifactService,
  ws: WorkspaceRef,
  p: string,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const st = await artifacts.stat(ws, p);
  if (st?.isDir) throw new InvalidInput(`artifact path '${p}' is a folder; list it instead of downloading it`);
  let range: { start: number; end: number } | undefined;
  const header = req.headers.range;
  if (st && header) {
    const r = rangeParser(st.size, header, { combine: true });
    if (r === -1) {
      return reply
        .status(416)
        .header('content-range', `bytes */${st.size}`)
        .send({
          error_code: 'INVALID_PARAMETER_VALUE',
          message: `the range '${header}' is outside the file (${st.size} bytes)`,
        });
    }
    if (Array.isArray(r) && r.type === 'bytes' && r.length === 1) range = { start: r[0]!.start, end: r[0]!.end };
    // A malformed header (-2) or several ranges: answer with the whole file, as HTTP allows.
  }
  const { stream, size } = await artifacts.download(ws, p, range);
  attachmentHeaders(reply, p);
  if (range) {
    reply
      .status(206)
      .header('content-range', `bytes ${range.start}-${range.end}/${size}`)
      .header('content-length', String(range.end - range.start + 1));
  } else {
    reply.header('content-length', String(size));
  }
  return reply.send(stream);
}

/**
 * MLflow's artifact proxy (`mlflow_artifacts.proto`) below each workspace's tracking URI, storing
 * in the workspace's storage account; plus the public part-upload route of multipart uploads and
 * `server-info`.
 */
export async function mlflowArtifactRoutes(
  app: FastifyInstance,
  opts: { ctx: AppContext; services: Services },
): Promise<void> {
  const { ctx } = opts;
  const { artifacts, experimentLookup: lookup } = opts.services.tracking;
  const partUrlBase = `${ctx.config.publicUrl}${PART_ROUTE}`;
  const endpoints = opts.services.assets.endpoints;

  // Multipart parts arrive without credentials (MLflow's client PUTs them to the URL it was given,
  // as to S3's presigned URLs, with the headers it was given): the upload's token, in a header
  // so that it never shows in a URL or a log line, is the credential.
  await app.register(async (scope) => {
    rawBodies(scope);
    scope.setErrorHandler(mlflowErrorHandler);
    scope.put<{ Params: { uploadId: string; partNumber: string } }>(
      `${PART_ROUTE}/:uploadId/:partNumber`,
      { config: { public: true }, schema: { hide: true } as object },
      async (req, reply) => {
        const n = /^\d{1,5}$/.test(req.params.partNumber) ? Number(req.params.partNumber) : NaN;
        const token = req.headers[UPLOAD_TOKEN_HEADER];
        // The part URL names no workspace, so the app-wide network check cannot see it: done here.
        const admit = async (workspaceId: string) =>
          endpoints.checkWorkspace(
            (await resolveWorkspaceByGuid(ctx, workspaceId)).id,
            req.socket.remoteAddress ?? req.ip,
          );
        const { etag } = await artifacts.uploadPart(
          req.params.uploadId,
          n,
          typeof token === 'string' ? token : undefined,
          req.body as Readable,
          admit,
        );
        return reply.header('etag', etag).send({});
      },
    );
  });

  // Where a run's artifacts are in the workspace's store (the web UI's routes name runs, not paths).
  const runArtifactRoot = async (ws: WorkspaceRef, runId: string | undefined): Promise<string> => {
    if (!runId) throw new InvalidInput('Request must specify run_uuid.');
    const uri = await lookup.runArtifactUri(ws, runId);
    if (uri === undefined) throw new NotFound(`Run with id=${runId} not found`);
    const root = proxiedArtifactPath(uri);
    if (root === undefined)
      throw new NotImplemented(
        `this run's artifacts are at '${uri}', outside this server's artifact store; read and write them there`,
      );
    return safeKey(root, 'artifact root');
  };

  await mountMlflow(app, ctx, async (scope) => {
    // MLflow's web UI: a run's file (`/get-artifact?path=…&run_uuid=…`, at the tracking URI's root).
    scope.get(
      '/get-artifact',
      {
        schema: {
          tags: TAGS,
          summary: "Download a file of a run (MLflow's web UI)",
          querystring: C.GetRunArtifactQuery,
        },
      },
      async (req, reply) => {
        const file = safeKey(checkSafePath(q1(req, 'path') ?? ''), 'path');
        if (!file) throw new InvalidInput('Request must specify path.');
        const root = await runArtifactRoot(req.workspace, q1(req, 'run_uuid') || q1(req, 'run_id'));
        return sendArtifact(artifacts, req.workspace, root ? `${root}/${file}` : file, req, reply);
      },
    );

    await scope.register(async (raw) => {
      rawBodies(raw);
      // MLflow's web UI: upload one small file into a run (`?run_uuid=…&path=…`, the body is the file).
      for (const p of ['/ajax-api/2.0/mlflow/upload-artifact', '/api/2.0/mlflow/upload-artifact']) {
        raw.post(
          p,
          {
            schema: {
              tags: TAGS,
              summary: "Upload a file (at most 10 MB) into a run (MLflow's web UI)",
              querystring: C.UploadRunArtifactQuery,
              response: { 200: C.Empty, ...C.MlflowErrorResponses },
            },
          },
          async (req) => {
            const runId = q1(req, 'run_uuid');
            if (!runId) throw new InvalidInput('Request must specify run_uuid.');
            const path = q1(req, 'path');
            if (!path) throw new InvalidInput('Request must specify path.');
            const file = safeKey(checkSafePath(path), 'path');
            const declared = Number(req.headers['content-length'] ?? 0);
            if (declared > UI_UPLOAD_LIMIT) throw new InvalidInput('Artifact size is too large. Max size is 10MB.');
            const data = await readSmallBody(req.body as Readable | undefined, UI_UPLOAD_LIMIT);
            if (data.length === 0) throw new InvalidInput('Request must specify data.');
            const root = await runArtifactRoot(req.workspace, runId);
            await artifacts.upload(req.workspace, root ? `${root}/${file}` : file, Readable.from([data]));
            return {};
          },
        );
      }
      for (const p of apiPaths('/mlflow-artifacts/artifacts/*')) {
        raw.put(
          p,
          {
            schema: {
              tags: TAGS,
              summary: 'Upload an artifact (the body is the file, streamed)',
              response: { 200: C.Empty, ...C.MlflowErrorResponses },
            },
          },
          async (req) => {
            const body = req.body as Readable | undefined;
            if (!body || typeof (body as Readable).pipe !== 'function')
              throw new InvalidInput('send the file as the request body');
            await artifacts.upload(req.workspace, artifactPath(req), body);
            return {};
          },
        );
      }
    });

    for (const p of apiPaths('/mlflow-artifacts/artifacts')) {
      scope.get<{ Querystring: C.ListArtifactsProxyQuery }>(
        p,
        {
          schema: {
            querystring: C.ListArtifactsProxyQuery,
            response: { 200: C.ListArtifactsProxyResponse, ...C.MlflowErrorResponses },
            tags: TAGS,
            summary: 'List artifacts',
          },
        },
        async (req): Promise<C.ListArtifactsProxyResponse> => {
          const files = await artifacts.list(req.workspace, req.query.path ?? '');
          return files.length ? { files } : {};
        },
      );
    }
    for (const p of apiPaths('/mlflow-artifacts/artifacts/*')) {
      scope.get(p, { schema: { tags: TAGS, summary: 'Download an artifact (Range supported)' } }, async (req, reply) =>
        sendArtifact(artifacts, req.workspace, artifactPath(req), req, reply),
      );
      scope.delete(
        p,
        {
          schema: {
            tags: TAGS,
            summary: 'Delete an artifact or folder',
            response: { 200: C.Empty, ...C.MlflowErrorResponses },
          },
        },
        async (req) => {
          await artifacts.delete(req.workspace, artifactPath(req));
          return {};
        },
      );
    }
    for (const p of apiPaths('/mlflow-artifacts/mpu/create/*')) {
      scope.post<{ Body: C.CreateMultipartUploadRequest }>(
        p,
        {
          schema: {
            body: C.CreateMultipartUploadRequest,
            response: { 200: C.CreateMultipartUploadResponse, ...C.MlflowErrorResponses },
            tags: TAGS,
            summary: 'Start a multipart upload',
          },
        },
        async (req): Promise<C.CreateMultipartUploadResponse> => {
          const n = req.body?.num_parts === undefined ? 1 : Number(req.body.num_parts);
          return artifacts.createMultipartUpload(
            req.workspace,
            multipartTarget(req, req.body?.path),
            n,
            partUrlBase,
            req.principal.id,
          );
        },
      );
    }
    for (const p of apiPaths('/mlflow-artifacts/mpu/complete/*')) {
      scope.post<{ Body: C.CompleteMultipartUploadRequest }>(
        p,
        {
          schema: {
            body: C.CompleteMultipartUploadRequest,
            response: { 200: C.Empty, ...C.MlflowErrorResponses },
            tags: TAGS,
            summary: 'Complete a multipart upload',
          },
        },
        async (req) => {
          await artifacts.completeMultipartUpload(
            req.workspace,
            multipartTarget(req, req.body?.path),
            req.body.upload_id ?? '',
            (req.body.parts ?? []).map((x) => ({ part_number: Number(x.part_number), etag: x.etag })),
          );
          return {};
        },
      );
    }
    for (const p of apiPaths('/mlflow-artifacts/mpu/abort/*')) {
      scope.post<{ Body: C.AbortMultipartUploadRequest }>(
        p,
        {
          schema: {
            body: C.AbortMultipartUploadRequest,
            response: { 200: C.Empty, ...C.MlflowErrorResponses },
            tags: TAGS,
            summary: 'Abort a multipart upload',
          },
        },
        async (req) => {
          await artifacts.abortMultipartUpload(
            req.workspace,
            multipartTarget(req, req.body?.path),
            req.body?.upload_id ?? '',
          );
          return {};
        },
      );
    }
    for (const p of apiPaths('/mlflow-artifacts/presigned/*')) {
      scope.get(
        p,
        { schema: { tags: TAGS, summary: 'Presigned download URL (not supported: download directly)' } },
        async () => {
          // MLflow's client falls back to a plain streamed download when this answers 501.
          throw new NotImplemented(
            'presigned download URLs are not supported by this server; download through /mlflow-artifacts/artifacts/<path> (Range is supported)',
          );
        },
      );
    }
    for (const p of ['/api/3.0/mlflow/server-info', '/ajax-api/3.0/mlflow/server-info']) {
      scope.get(
        p,
        {
          schema: {
            tags: TAGS,
            summary: 'What kind of tracking server this is',
            response: { 200: C.ServerInfoResponse, ...C.MlflowErrorResponses },
          },
        },
        async (): Promise<C.ServerInfoResponse> => ({ store_type: 'SqlStore', workspaces_enabled: false }),
      );
    }
  });
}
