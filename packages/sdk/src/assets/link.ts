import type { ArmClient } from '../http/client.js';
import { MANAGEMENT_AUDIENCE } from '../auth/authentication.js';
import { errorFromResponse } from '../errors.js';
import { readBody } from '../http/fetch.js';

/** What asset objects need of their workspace: its ARM id and the client of its server. */
export interface WorkspaceLink {
  /** The workspace's ARM id (W). */
  id: string;
  name: string;
  client: ArmClient;
}

/** Anything that leads to a workspace: a Workspace (via serviceContext) or a link. */
export interface HasServiceContext {
  readonly id: string;
  readonly name: string;
  readonly serviceContext: { client: ArmClient };
}
export function linkOf(ws: HasServiceContext | WorkspaceLink): WorkspaceLink {
  return 'client' in ws ? ws : { id: ws.id, name: ws.name, client: ws.serviceContext.client };
}

export const encodePath = (p: string): string => p.split('/').filter(Boolean).map(encodeURIComponent).join('/');

/** A raw (non-JSON) request to the server with the caller's token: streamed file bodies. */
export async function rawRequest(
  link: WorkspaceLink,
  method: string,
  pathAndQuery: string,
  init: { body?: AsyncIterable<Uint8Array>; headers?: Record<string, string>; what: string },
): Promise<Response> {
  const token = await link.client.auth.getToken({ endpoint: link.client.endpoint, audience: MANAGEMENT_AUDIENCE });
  const res = await fetch(`${link.client.endpoint}${pathAndQuery}`, {
    method,
    headers: { authorization: `Bearer ${token.token}`, ...(init.headers ?? {}) },
    body: init.body as unknown as RequestInit['body'],
    ...(init.body ? { duplex: 'half' } : {}),
  } as RequestInit);
  if (!res.ok) {
    const { body, text } = await readBody(res);
    throw errorFromResponse(res.status, body, text, res.headers.get('x-ms-request-id') ?? undefined, init.what);
  }
  return res;
}

/**
 * Streams `body` as the request body with node:http(s) (fetch keeps a copy of a streamed request
 * body, so a large upload would sit in memory). Returns the parsed JSON answer.
 */
export async function streamUpload(
  link: WorkspaceLink,
  method: string,
  pathAndQuery: string,
  body: AsyncIterable<Uint8Array>,
  size: number,
  what: string,
): Promise<unknown> {
  const token = await link.client.auth.getToken({ endpoint: link.client.endpoint, audience: MANAGEMENT_AUDIENCE });
  const url = new URL(`${link.client.endpoint}${pathAndQuery}`);
  const mod = url.protocol === 'https:' ? await import('node:https') : await import('node:http');
  const { Readable } = await import('node:stream');
  const { status, text, requestId } = await new Promise<{ status: number; text: string; requestId?: string }>(
    (resolve, reject) => {
      const req = mod.request(
        url,
        {
          method,
          headers: {
            authorization: `Bearer ${token.token}`,
            'content-type': 'application/octet-stream',
            'content-length': String(size),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              text: Buffer.concat(chunks).toString('utf8'),
              requestId: res.headers['x-ms-request-id'] as string | undefined,
            }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      const src = Readable.from(body);
      src.on('error', (e) => req.destroy(e));
      src.pipe(req);
    },
  );
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (status < 200 || status >= 300) throw errorFromResponse(status, parsed, text, requestId, what);
  return parsed;
}
