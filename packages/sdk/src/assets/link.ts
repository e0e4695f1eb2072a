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
export async function rawRequest(link: WorkspaceLink, method: string, pathAndQuery: string, init: { body?: AsyncIterable<Uint8Array>; headers?: Record<string, string>; what: string }): Promise<Response> {
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
