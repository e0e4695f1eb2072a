/**
 * Personal access tokens of the signed-in user (`/identity/me/tokens`): for scripts, CI and long
 * training jobs, where an access token's hour is too short. The secret (`atp_…`) is answered once,
 * at creation; lists show its last characters only. Web APIs only (the browser entry has these).
 */
import type { ArmClient } from '../http/client.js';
import { ValidationError } from '../errors.js';
import { Workspace } from '../workspace/workspace.js';

/** A personal access token as listed (never its secret). */
export interface AccessTokenInfo {
  id: string;
  name: string;
  /** Its last characters, to tell tokens apart. */
  hint: string;
  /** The ARM id of the one workspace it may reach, or null (any the user may reach). */
  workspace: string | null;
  readOnly: boolean;
  createdAt: string;
  expiresOn: string;
  expired: boolean;
  revoked: boolean;
}

/** A token just made: its secret, shown this once. */
export interface NewAccessToken extends AccessTokenInfo {
  token: string;
}

export interface CreateAccessTokenOptions {
  /** What it is for: 1–100 letters, digits, spaces or `._:@()-`. */
  name: string;
  /** 1–365 (default 30). */
  expiresInDays?: number;
  /** Only this workspace (its ARM id, or a Workspace). */
  workspace?: string | { id: string };
  /** Only reads (GET, and searches). */
  readOnly?: boolean;
}

const clientOf = (c: ArmClient | { serviceContext: { client: ArmClient } }): ArmClient =>
  'serviceContext' in c ? c.serviceContext.client : c;

/** Makes a personal access token for the signed-in user; the answer holds its secret, once. */
export async function createAccessToken(
  client: ArmClient | { serviceContext: { client: ArmClient } },
  opts: CreateAccessTokenOptions,
): Promise<NewAccessToken> {
  if (!opts || typeof opts.name !== 'string' || !opts.name.trim())
    throw new ValidationError('createAccessToken needs a name (what the token is for)', { target: 'name' });
  if (opts.expiresInDays !== undefined && (!Number.isInteger(opts.expiresInDays) || opts.expiresInDays < 1))
    throw new ValidationError('expiresInDays must be a whole number of days from 1 to 365', {
      target: 'expiresInDays',
    });
  const workspace = typeof opts.workspace === 'object' ? opts.workspace.id : opts.workspace;
  const r = await clientOf(client).request<NewAccessToken>('POST', '/identity/me/tokens', {
    body: {
      name: opts.name,
      ...(opts.expiresInDays !== undefined ? { expiresInDays: opts.expiresInDays } : {}),
      ...(workspace !== undefined ? { workspace } : {}),
      ...(opts.readOnly !== undefined ? { readOnly: Boolean(opts.readOnly) } : {}),
    },
    what: `create access token '${opts.name}'`,
  });
  return r.body;
}

/** The signed-in user's personal access tokens (never their secrets), oldest first. */
export async function listAccessTokens(
  client: ArmClient | { serviceContext: { client: ArmClient } },
): Promise<AccessTokenInfo[]> {
  const r = await clientOf(client).request<{ value: AccessTokenInfo[] }>('GET', '/identity/me/tokens', {
    what: 'list access tokens',
  });
  return r.body.value;
}

/** Revokes one of the signed-in user's tokens, by id (or by name when exactly one has it). */
export async function revokeAccessToken(
  client: ArmClient | { serviceContext: { client: ArmClient } },
  idOrName: string,
): Promise<AccessTokenInfo> {
  if (typeof idOrName !== 'string' || !idOrName) throw new ValidationError('say which token: its id or name');
  const c = clientOf(client);
  let id = idOrName;
  const all = await listAccessTokens(c);
  if (!all.some((t) => t.id === idOrName)) {
    const named = all.filter((t) => t.name === idOrName && !t.revoked);
    if (named.length > 1)
      throw new ValidationError(
        `${named.length} tokens are named '${idOrName}'; say which by id (${named.map((t) => t.id).join(', ')})`,
        { target: 'id' },
      );
    if (named.length === 1) id = named[0]!.id;
  }
  const r = await c.request<AccessTokenInfo>('DELETE', `/identity/me/tokens/${encodeURIComponent(id)}`, {
    what: `revoke access token '${idOrName}'`,
  });
  return r.body;
}

declare module '../workspace/workspace.js' {
  interface Workspace {
    /**
     * A personal access token that reaches only this workspace (for a CI job or a long training
     * run: `MLFLOW_TRACKING_TOKEN`, or MLflow's Basic password). Its secret is answered once.
     */
    createAccessToken(opts: Omit<CreateAccessTokenOptions, 'workspace'>): Promise<NewAccessToken>;
    /** The signed-in user's personal access tokens that reach this workspace (its own and unscoped ones). */
    listAccessTokens(): Promise<AccessTokenInfo[]>;
    /** Revokes one of the signed-in user's personal access tokens (by id, or by a unique name). */
    revokeAccessToken(idOrName: string): Promise<AccessTokenInfo>;
  }
}

Workspace.prototype.createAccessToken = function (opts) {
  return createAccessToken(this, { ...opts, workspace: this.id });
};
Workspace.prototype.listAccessTokens = async function () {
  const mine = this.id.toLowerCase();
  return (await listAccessTokens(this)).filter((t) => !t.workspace || t.workspace.toLowerCase() === mine);
};
Workspace.prototype.revokeAccessToken = function (idOrName) {
  return revokeAccessToken(this, idOrName);
};
