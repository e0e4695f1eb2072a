import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { XMLBuilder, XMLParser } from 'fast-xml-parser';
import rangeParser from 'range-parser';
import type { AppContext } from '../../context.js';
import type { BlobProperties, BlobService } from '../../blob-service/blob-service.js';
import { AtelierError, InvalidInput } from '../../errors.js';
import { HTTP_STATUS, setRetryAfter } from '../error-status.js';

/** The prefix of the Blob REST subset: path-style `/blob/{account}/{container}/{blob}` on the server itself. */
export const BLOB_REST_PREFIX = '/blob';
/**
 * Fastify's `rewriteUrl` for host-style Blob REST requests: `Host: {account}.blob.{suffix}` with path
 * `/{container}/{blob}` becomes `/blob/{account}/{container}/{blob}` (the path-style routes below).
 */
export function blobHostRewrite(suffix: string): (req: { url?: string; headers: { host?: string } }) => string {
  const escaped = suffix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const host = new RegExp(`^([a-z0-9]{3,24})\\.blob\\.${escaped}(:\\d+)?$`, 'i');
  return (req) => {
    const url = req.url ?? '/';
    const m = host.exec(req.headers.host ?? '');
    return m ? `${BLOB_REST_PREFIX}/${m[1]!.toLowerCase()}${url.startsWith('/') ? url : `/${url}`}` : url;
  };
}

const X_MS_VERSION = '2023-11-03';

/** Domain code → Azure Storage error code (x-ms-error-code); otherwise by kind. */
const STORAGE_CODES: Record<string, string> = {
  BLOB_NOT_FOUND: 'BlobNotFound',
  BLOB_EXISTS: 'BlobAlreadyExists',
  STORAGE_ACCOUNT_NOT_FOUND: 'ResourceNotFound',
  CONTENT_MD5_MISMATCH: 'Md5Mismatch',
  INVALID_SAS_TOKEN: 'AuthenticationFailed',
  SAS_SIGNATURE_MISMATCH: 'AuthenticationFailed',
  SAS_EXPIRED: 'AuthenticationFailed',
  SAS_NOT_YET_VALID: 'AuthenticationFailed',
  SAS_PERMISSION_MISMATCH: 'AuthorizationPermissionMismatch',
  BLOB_PATH_TAKEN: 'InvalidBlobOrBlock',
  BLOB_PATH_TOO_LONG: 'InvalidResourceName',
};
const KIND_CODES: Record<string, string> = {
  invalid: 'InvalidInput',
  forbidden: 'AuthorizationFailure',
  not_found: 'ResourceNotFound',
  conflict: 'OperationNotAllowedInCurrentState',
  too_large: 'RequestBodyTooLarge',
  internal: 'InternalError',
};

const xml = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@', suppressEmptyNode: true });
const xmlParser = new XMLParser({ ignoreAttributes: true, parseTagValue: false, isArray: () => true });

function errorXml(code: string, message: string): string {
  return `<?xml version="1.0" encoding="utf-8"?>${xml.build({ Error: { Code: code, Message: message } })}`;
}

/** Azure Storage's answer to a failure: the status, `x-ms-error-code`, and an XML body (none for HEAD). */
function storageError(err: unknown, req: FastifyRequest, reply: FastifyReply): void {
  let status = 500;
  let code = 'InternalError';
  let message = 'the server failed; see its log';
  if (err instanceof AtelierError) {
    status = HTTP_STATUS[err.kind];
    code = STORAGE_CODES[err.code] ?? KIND_CODES[err.kind] ?? 'InternalError';
    message = err.message;
    // An unauthenticated SAS is a 403 in Azure Storage.
    if (code === 'AuthenticationFailed') status = 403;
    setRetryAfter(reply, err);
  } else {
    req.log.error({ err }, 'blob REST request failed');
  }
  reply
    .code(status)
    .header('x-ms-error-code', code)
    .header('x-ms-version', X_MS_VERSION)
    .header('x-ms-request-id', String(req.id));
  if (req.method === 'HEAD') void reply.send();
  else void reply.type('application/xml').send(errorXml(code, message));
}

/** The `x-ms-meta-*` headers of a request: the blob's user metadata. */
function metadataOf(req: FastifyRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers))
    if (k.startsWith('x-ms-meta-') && typeof v === 'string') out[k.slice('x-ms-meta-'.length)] = v;
  return out;
}

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' ? v : undefined;
}

function propertyHeaders(reply: FastifyReply, p: BlobProperties): void {
  reply
    .header('last-modified', new Date(p.info.modified).toUTCString())
    .header('etag', p.etag)
    .header('x-ms-blob-type', 'BlockBlob')
    .header('x-ms-creation-time', new Date(p.info.modified).toUTCString())
    .header('x-ms-server-encrypted', 'true')
    .header('accept-ranges', 'bytes');
  if (p.contentMd5) reply.header('content-md5', p.contentMd5);
  for (const [k, v] of Object.entries(p.metadata)) reply.header(`x-ms-meta-${k}`, v);
}

/** Splits `/blob/{account}/{container}/{blob…}` of the raw URL (each segment URL-decoded). */
function target(req: FastifyRequest): { account: string; container: string; blob?: string; q: URLSearchParams } {
  const [rawPath, query = ''] = req.url.split('?', 2) as [string, string?];
  const parts = rawPath.slice(BLOB_REST_PREFIX.length + 1).split('/');
  let decoded: string[];
  try {
    decoded = parts.map((s) => decodeURIComponent(s));
  } catch {
    throw new InvalidInput(`the path '${rawPath.slice(0, 200)}' is not valid URL encoding`, {
      code: 'INVALID_BLOB_REQUEST',
    });
  }
  const [account = '', container = '', ...rest] = decoded;
  const blob = rest.join('/');
  return { account, container, blob: blob || undefined, q: new URLSearchParams(query) };
}

const common = (reply: FastifyReply, req: FastifyRequest) =>
  reply
    .header('x-ms-version', X_MS_VERSION)
    .header('x-ms-request-id', String(req.id))
    .header('date', new Date().toUTCString());

/**
 * The Azure Blob REST subset that azure-storage-blob (and azure-ai-ml's uploads through it) uses,
 * path-style below `/blob/{account}/{container}` on this server, authenticated by a SAS this server
 * signed with the storage account's key (no bearer token):
 *   HEAD   …/{blob}                              Get Blob Properties (metadata as x-ms-meta-*)
 *   GET    …/{blob}                              Get Blob (Range / x-ms-range honoured)
 *   PUT    …/{blob}                              Put Blob (x-ms-blob-type BlockBlob; If-None-Match: *; Content-MD5)
 *   PUT    …/{blob}?comp=block&blockid=…         Put Block (staged)
 *   PUT    …/{blob}?comp=blocklist               Put Block List (XML: Latest/Uncommitted/Committed ids)
 *   PUT    …/{blob}?comp=metadata                Set Blob Metadata
 *   DELETE …/{blob}                              Delete Blob
 *   GET    …/{container}?restype=container&comp=list   List Blobs (prefix, delimiter, marker, maxresults, include=metadata)
 * Other operations answer 501 with Azure's XML error.
 */
export async function blobRestRoutes(
  app: FastifyInstance,
  opts: { ctx: AppContext; blobs: BlobService },
): Promise<void> {
  const { blobs } = opts;
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
    scope.setErrorHandler((err, req, reply) => storageError(err, req, reply));
    const config = { public: true };
    const hide = { hide: true };

    const unsupported = (what: string) =>
      new AtelierError(`${what} is not part of the Blob REST subset this server speaks`, { code: 'NOT_IMPLEMENTED' });

    scope.route({
      method: ['HEAD', 'GET'],
      url: `${BLOB_REST_PREFIX}/:account/:container`,
      config,
      schema: hide,
      exposeHeadRoute: false,
      handler: async (req, reply) => {
        const t = target(req);
        if (t.q.get('restype') !== 'container') throw unsupported('this request on a container');
        const comp = t.q.get('comp');
        if (comp === 'list' && req.method === 'GET') {
          const prefix = t.q.get('prefix') ?? '';
          const c = await blobs.open(t.account, t.container, prefix, t.q, 'l');
          const max = Math.min(Math.max(Number(t.q.get('maxresults') ?? 5000) || 5000, 1), 5000);
          const page = await blobs.list(c, {
            prefix,
            delimiter: t.q.get('delimiter') ?? undefined,
            marker: t.q.get('marker') ?? undefined,
            max,
            metadata: (t.q.get('include') ?? '').split(',').includes('metadata'),
          });
          const body = xml.build({
            EnumerationResults: {
              '@ServiceEndpoint': `${opts.ctx.config.publicUrl}${BLOB_REST_PREFIX}/${c.account}/`,
              '@ContainerName': c.container,
              Prefix: prefix,
              Marker: t.q.get('marker') ?? '',
              MaxResults: max,
              Delimiter: t.q.get('delimiter') ?? undefined,
              Blobs: {
                Blob: page.blobs.map((b) => ({
                  Name: b.path,
                  Properties: {
                    'Creation-Time': new Date(b.modified).toUTCString(),
                    'Last-Modified': new Date(b.modified).toUTCString(),
                    Etag: blobs.etag(b),
                    'Content-Length': b.size,
                    'Content-Type': 'application/octet-stream',
                    BlobType: 'BlockBlob',
                    LeaseStatus: 'unlocked',
                    LeaseState: 'available',
                    ServerEncrypted: 'true',
                  },
                  Metadata: b.metadata && Object.keys(b.metadata).length ? b.metadata : undefined,
                })),
                BlobPrefix: page.prefixes.map((p) => ({ Name: p })),
              },
              NextMarker: page.nextMarker ?? '',
            },
          });
          return common(reply, req).type('application/xml').send(`<?xml version="1.0" encoding="utf-8"?>${body}`);
        }
        if (!comp) {
          // Get Container Properties: the container exists once the SAS is good (containers are made on first write).
          await blobs.open(t.account, t.container, undefined, t.q, 'r');
          return common(reply, req).header('x-ms-lease-status', 'unlocked').code(200).send();
        }
        throw unsupported(`comp=${comp} on a container`);
      },
    });

    scope.route({
      method: ['HEAD', 'GET'],
      url: `${BLOB_REST_PREFIX}/:account/:container/*`,
      config,
      schema: hide,
      exposeHeadRoute: false,
      handler: async (req, reply) => {
        const t = target(req);
        if (!t.blob) throw new InvalidInput('name a blob after the container', { code: 'INVALID_BLOB_REQUEST' });
        if (t.q.get('comp') && t.q.get('comp') !== 'metadata') throw unsupported(`comp=${t.q.get('comp')}`);
        const c = await blobs.open(t.account, t.container, t.blob, t.q, 'r');
        const p = await blobs.properties(c, t.blob);
        common(reply, req);
        propertyHeaders(reply, p);
        reply.type(p.contentType ?? 'application/octet-stream');
        if (req.method === 'HEAD' || t.q.get('comp') === 'metadata')
          return reply.header('content-length', String(p.info.size)).code(200).send();
        const rangeHeader = header(req, 'x-ms-range') ?? header(req, 'range');
        if (rangeHeader) {
          const r = rangeParser(p.info.size, rangeHeader, { combine: true });
          if (r === -1 || (Array.isArray(r) && r.length === 0)) {
            reply.header('content-range', `bytes */${p.info.size}`);
            throw new AtelierError(`the range '${rangeHeader}' is outside the blob's ${p.info.size} bytes`, {
              code: 'INVALID_BLOB_REQUEST',
            });
          }
          if (r === -2 || r.length !== 1)
            throw new InvalidInput(`the range '${rangeHeader}' is not one byte range`, {
              code: 'INVALID_BLOB_REQUEST',
            });
          const { start, end } = r[0]!;
          const { stream } = await blobs.get(c, t.blob, { start, end });
          return reply
            .code(206)
            .header('content-range', `bytes ${start}-${end}/${p.info.size}`)
            .header('content-length', String(end - start + 1))
            .send(stream);
        }
        const { stream } = await blobs.get(c, t.blob);
        return reply.code(200).header('content-length', String(p.info.size)).send(stream);
      },
    });

    scope.route({
      method: 'PUT',
      url: `${BLOB_REST_PREFIX}/:account/:container/*`,
      config,
      schema: hide,
      handler: async (req, reply) => {
        const t = target(req);
        if (!t.blob) throw new InvalidInput('name a blob after the container', { code: 'INVALID_BLOB_REQUEST' });
        const comp = t.q.get('comp');
        const body = req.body as Readable | undefined;
        const write = {
          metadata: metadataOf(req),
          contentType: header(req, 'x-ms-blob-content-type') ?? undefined,
          ifNoneMatch: header(req, 'if-none-match'),
        };
        common(reply, req);
        if (!comp) {
          const type = header(req, 'x-ms-blob-type');
          if (type !== 'BlockBlob')
            throw new InvalidInput(
              `x-ms-blob-type must be BlockBlob (append and page blobs are not supported here); got '${type ?? ''}'`,
              { code: 'INVALID_BLOB_REQUEST', target: 'x-ms-blob-type' },
            );
          const c = await blobs.open(t.account, t.container, t.blob, t.q, 'c');
          const p = await blobs.put(c, t.blob, body ?? emptyBody(), {
            ...write,
            contentType: write.contentType ?? header(req, 'content-type'),
            contentMd5: header(req, 'content-md5'),
          });
          return reply
            .code(201)
            .header('etag', p.etag)
            .header('last-modified', new Date(p.info.modified).toUTCString())
            .header('content-md5', p.contentMd5 ?? '')
            .header('x-ms-request-server-encrypted', 'true')
            .send();
        }
        if (comp === 'block') {
          const c = await blobs.open(t.account, t.container, t.blob, t.q, 'w');
          const md5 = header(req, 'content-md5');
          await blobs.stageBlock(c, t.blob, t.q.get('blockid') ?? '', body ?? emptyBody(), md5);
          if (md5) reply.header('content-md5', md5);
          return reply.code(201).header('x-ms-request-server-encrypted', 'true').send();
        }
        if (comp === 'blocklist') {
          const c = await blobs.open(t.account, t.container, t.blob, t.q, 'w');
          const text = await readText(body, 4 * 1024 * 1024);
          const ids = blockIds(text);
          const p = await blobs.commitBlocks(c, t.blob, ids, {
            ...write,
            contentMd5: header(req, 'x-ms-blob-content-md5'),
          });
          return reply
            .code(201)
            .header('etag', p.etag)
            .header('last-modified', new Date(p.info.modified).toUTCString())
            .header('x-ms-request-server-encrypted', 'true')
            .send();
        }
        if (comp === 'metadata') {
          const c = await blobs.open(t.account, t.container, t.blob, t.q, 'w');
          const p = await blobs.setMetadata(c, t.blob, write.metadata);
          return reply
            .code(200)
            .header('etag', p.etag)
            .header('last-modified', new Date(p.info.modified).toUTCString())
            .send();
        }
        throw unsupported(`comp=${comp}`);
      },
    });

    scope.route({
      method: 'DELETE',
      url: `${BLOB_REST_PREFIX}/:account/:container/*`,
      config,
      schema: hide,
      handler: async (req, reply) => {
        const t = target(req);
        if (!t.blob) throw new InvalidInput('name a blob after the container', { code: 'INVALID_BLOB_REQUEST' });
        const c = await blobs.open(t.account, t.container, t.blob, t.q, 'd');
        await blobs.delete(c, t.blob);
        return common(reply, req).code(202).header('x-ms-delete-type-permanent', 'true').send();
      },
    });
  });
}

const emptyBody = (): Readable => Readable.from([]);

async function readText(body: Readable | undefined, limit: number): Promise<string> {
  if (!body) return '';
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of body) {
    size += (c as Buffer).length;
    if (size > limit)
      throw new InvalidInput(`the block list is larger than ${limit} bytes`, { code: 'INVALID_BLOB_REQUEST' });
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The block ids of a Put Block List body, in order (`<BlockList><Latest>id</Latest>…</BlockList>`). */
function blockIds(text: string): string[] {
  let doc: any;
  try {
    doc = xmlParser.parse(text, true);
  } catch (e) {
    throw new InvalidInput(`the block list is not valid XML: ${(e as Error).message.split('\n')[0]}`, {
      code: 'INVALID_BLOB_REQUEST',
    });
  }
  const list = doc?.BlockList?.[0];
  if (!list)
    throw new InvalidInput('the body must be a <BlockList> of <Latest>, <Uncommitted> or <Committed> block ids', {
      code: 'INVALID_BLOB_REQUEST',
    });
  // The XML parser groups by tag; the order across tags is recovered from the text (ids are Base64).
  const ids: string[] = [];
  for (const m of text.matchAll(/<(Latest|Uncommitted|Committed)>\s*([^<]*?)\s*<\/\1>/g)) ids.push(m[2]!);
  const counted = ['Latest', 'Uncommitted', 'Committed'].reduce(
    (n, k) => n + (Array.isArray(list[k]) ? list[k].length : 0),
    0,
  );
  if (counted !== ids.length)
    throw new InvalidInput('the block list could not be read: use <Latest>base64 id</Latest> entries', {
      code: 'INVALID_BLOB_REQUEST',
    });
  return ids;
}
