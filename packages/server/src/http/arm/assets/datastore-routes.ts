import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Readable } from 'node:stream';
import { Type } from '@sinclair/typebox';
import type { AppContext } from '../../../context.js';
import * as C from '@atelier/contracts';
import { InvalidInput, NotFound, PayloadTooLarge } from '../../../errors.js';
import type { DatastoreService } from '../../../assets/datastores.js';
import { W, WNameParams, boolQuery, workspaceFor } from './common.js';

/**
 * `body` passed through, failing with `error()` once more than `limit` bytes went by. Nothing is
 * read from `body` until the result is read: a request refused before its upload starts (e.g. the
 * file exists) is left for Node to discard, as without the cap.
 */
function capped(body: Readable, limit: number, error: () => Error): Readable {
  let seen = 0;
  let started = false;
  const out = new Readable({
    read() {
      if (started) {
        body.resume();
        return;
      }
      started = true;
      body.on('data', (chunk: Buffer) => {
        seen += chunk.length;
        if (seen > limit) {
          body.pause();
          out.destroy(error());
        } else if (!out.push(chunk)) body.pause();
      });
      body.once('end', () => out.push(null));
      body.once('error', (e) => out.destroy(e));
    },
  });
  return out;
}

interface NameParams {
  subscriptionId: string;
  resourceGroupName: string;
  workspaceName: string;
  name: string;
}

/**
 * The datastore data plane of Atelier (the ARM resource `W/datastores/{name}` is declared in
 * assets/types.ts and served by the generic router):
 *   GET    W/datastores/{name}/files?path=&recursive=   list files ({value:[{path,size,isDir,modified}]})
 *   GET    W/datastores/{name}/files/{path}             download (streamed; `Range: bytes=` honoured)
 *   PUT    W/datastores/{name}/files/{path}?overwrite=  upload (raw body, streamed; at most ATELIER_DATASTORE_UPLOAD_LIMIT bytes, else 413)
 *   DELETE W/datastores/{name}/files/{path}             delete a file or folder
 */
export async function datastoreRoutes(
  app: FastifyInstance,
  opts: { ctx: AppContext; datastores: DatastoreService },
): Promise<void> {
  const { ctx, datastores } = opts;
  const tags = ['Datastores'];

  // The data plane: bytes in and out of a datastore, streamed.
  await app.register(async (files) => {
    // Any body type: the bytes are passed through untouched, as a stream (the upload route caps its size).
    files.removeAllContentTypeParsers();
    files.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
    const FileParams = Type.Object({ ...WNameParams.properties, '*': Type.String() });
    const filePath = (req: FastifyRequest): string => {
      const p = (req.params as Record<string, string>)['*'] ?? '';
      try {
        return decodeURIComponent(p);
      } catch {
        throw new InvalidInput(`the file path '${p}' is not valid URL encoding`, { code: 'INVALID_PATH' });
      }
    };

    files.get<{ Params: NameParams }>(
      `${W}/datastores/:name/files`,
      {
        schema: {
          params: WNameParams,
          querystring: C.ApiVersionQuery,
          response: { 200: C.DatastoreFileList, ...C.ArmErrorResponses },
          tags,
        },
      },
      async (req) => {
        const ws = await workspaceFor(ctx, req, 'data/read');
        const q = req.query as Record<string, string | undefined>;
        const backend = await datastores.backend(ws, req.params.name, req.principal, 'read');
        const prefix = q.path ?? q.prefix ?? '';
        const st = prefix ? await backend.stat(prefix) : undefined;
        if (prefix && !st)
          throw new NotFound(`no file or folder '${prefix}' in datastore '${req.params.name}'`, {
            code: 'FILE_NOT_FOUND',
          });
        if (st && !st.isDir) return { value: [{ ...st, modified: new Date(st.modified).toISOString() }] };
        const list = await backend.list(prefix, { recursive: boolQuery(req, 'recursive') ?? false });
        return {
          value: list.map((f) => ({
            path: f.path,
            size: f.size,
            isDir: f.isDir,
            modified: new Date(f.modified).toISOString(),
          })),
        };
      },
    );

    files.get(
      `${W}/datastores/:name/files/*`,
      { schema: { params: FileParams, querystring: C.ApiVersionQuery, tags } },
      async (req, reply) => {
        const ws = await workspaceFor(ctx, req, 'data/read');
        const backend = await datastores.backend(ws, (req.params as NameParams).name, req.principal, 'read');
        const path = filePath(req);
        const name = path.split('/').pop() ?? 'file';
        void reply
          .header('content-type', 'application/octet-stream')
          .header('accept-ranges', 'bytes')
          .header('content-disposition', `attachment; filename*=UTF-8''${encodeURIComponent(name)}`);
        const range =
          typeof req.headers.range === 'string' ? /^bytes=(\d*)-(\d*)$/.exec(req.headers.range.trim()) : null;
        if (range && (range[1] || range[2])) {
          const st = await backend.stat(path);
          if (!st || st.isDir)
            throw new NotFound(`no file '${path}' in datastore '${(req.params as NameParams).name}'`, {
              code: 'FILE_NOT_FOUND',
            });
          // bytes=a-b, bytes=a- (to the end), bytes=-n (the last n bytes)
          const start = range[1] ? Number(range[1]) : Math.max(0, st.size - Number(range[2]));
          const end = range[1] && range[2] ? Math.min(Number(range[2]), st.size - 1) : st.size - 1;
          if (start > end || start >= st.size)
            return reply.status(416).header('content-range', `bytes */${st.size}`).send();
          const { stream } = await backend.get(path, { start, end });
          return reply
            .status(206)
            .header('content-range', `bytes ${start}-${end}/${st.size}`)
            .header('content-length', String(end - start + 1))
            .send(stream);
        }
        const { stream, size } = await backend.get(path);
        return reply.header('content-length', String(size)).send(stream);
      },
    );

    files.put(
      `${W}/datastores/:name/files/*`,
      { schema: { params: FileParams, querystring: C.ApiVersionQuery, tags } },
      async (req, reply) => {
        const ws = await workspaceFor(ctx, req, 'data/write');
        const backend = await datastores.backend(ws, (req.params as NameParams).name, req.principal, 'write');
        const overwrite = boolQuery(req, 'overwrite') ?? false;
        const len = req.headers['content-length'];
        const size = len !== undefined && /^\d+$/.test(len) ? Number(len) : undefined;
        const limit = ctx.config.datastoreUploadLimit;
        const tooLarge = (what: string) =>
          new PayloadTooLarge(
            `${what}; one datastore upload may carry at most ${limit} bytes (the server's ATELIER_DATASTORE_UPLOAD_LIMIT): split the file, or ask the administrator to raise the limit`,
            { code: 'PAYLOAD_TOO_LARGE' },
          );
        // The rest of a refused body is not read: the connection is closed after the answer.
        if (size !== undefined && size > limit) {
          void reply.header('connection', 'close');
          throw tooLarge(`the file is ${size} bytes`);
        }
        // A body without Content-Length (chunked) is counted as it streams; the partial file is removed.
        const body = capped((req.body as Readable | undefined) ?? Readable.from([]), limit, () => {
          void reply.header('connection', 'close');
          return tooLarge(`the upload passed ${limit} bytes`);
        });
        const path = filePath(req);
        const r = await backend.put(path, body, { overwrite, size });
        return reply.status(201).send({ path, size: r.size });
      },
    );

    files.delete(
      `${W}/datastores/:name/files/*`,
      { schema: { params: FileParams, querystring: C.ApiVersionQuery, tags } },
      async (req, reply) => {
        const ws = await workspaceFor(ctx, req, 'data/write');
        const backend = await datastores.backend(ws, (req.params as NameParams).name, req.principal, 'delete');
        const deleted = await backend.delete(filePath(req));
        return reply.status(deleted ? 200 : 204).send();
      },
    );
  });
}
