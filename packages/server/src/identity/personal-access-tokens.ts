import crypto from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Tables } from '../store/schema.js';
import { Forbidden, InvalidInput, NotFound } from '../errors.js';
import { PRINCIPAL_CACHE_MS, type Principal, type PrincipalService } from './principals.js';
import type { PersonalAccessTokenRow } from './tables.js';
import './tables.js';

/** Personal access tokens start with this, so a server (and a secret scanner) tells them from JWTs. */
export const PAT_PREFIX = 'atp_';
export const PAT_MAX_DAYS = 365;
export const PAT_DEFAULT_DAYS = 30;
const NAME = /^[A-Za-z0-9][A-Za-z0-9 ._:@()-]{0,99}$/;
const WORKSPACE_ID =
  /^\/subscriptions\/[0-9a-f-]{36}\/resourceGroups\/[-\w._()]{1,90}\/providers\/Microsoft\.MachineLearningServices\/workspaces\/[A-Za-z0-9][\w-]{0,32}$/i;

const sha256 = (s: string) => crypto.createHash('sha256').update(s, 'utf8').digest('hex');

/** What a request signed with a personal access token may reach. */
export interface TokenLimits {
  tokenId: string;
  /** ARM id of the one workspace the token reaches (its routes and tracking), or undefined for all. */
  workspace?: string;
  /** Only reads: GET/HEAD, and the POSTs MLflow marks as reads (search). */
  readOnly: boolean;
  /** When the token expires (ms since the epoch): what is exchanged for it expires no later. */
  expiresAt?: number;
}

/** A token as listed: never the secret. */
export interface PersonalAccessTokenView {
  id: string;
  name: string;
  /** The last characters of the secret, to tell tokens apart. */
  hint: string;
  workspace: string | null;
  readOnly: boolean;
  createdAt: string;
  expiresOn: string;
  expired: boolean;
  revoked: boolean;
}

function view(r: PersonalAccessTokenRow, now = Date.now()): PersonalAccessTokenView {
  return {
    id: r.id,
    name: r.name,
    hint: r.hint,
    workspace: r.workspace,
    readOnly: Boolean(Number(r.read_only)),
    createdAt: new Date(Number(r.created_at)).toISOString(),
    expiresOn: new Date(Number(r.expires_at)).toISOString(),
    expired: Number(r.expires_at) <= now,
    revoked: r.revoked_at !== null,
  };
}

/**
 * Personal access tokens of users (`atp_…`): for scripts, CI and long training jobs, where an
 * access token (an hour) is too short. The secret is shown once and kept only as SHA-256 (it is
 * 256 random bits, so a fast hash suffices, as for service-principal secrets). A token works while
 * it is not expired or revoked and its user is enabled; it can be limited to one workspace and to
 * reading. Checks are remembered for at most PRINCIPAL_CACHE_MS: a revocation here takes effect at
 * once, on other replicas of the same database within that bound (as a disabled principal does).
 */
export class PersonalAccessTokens {
  private cache = new Map<string, { at: number; row: PersonalAccessTokenRow | undefined }>();
  private generation = 0;

  constructor(
    private readonly db: Kysely<Tables>,
    private readonly principals: PrincipalService,
  ) {}

  static looksLikeToken(s: string): boolean {
    return s.startsWith(PAT_PREFIX) && s.length > PAT_PREFIX.length + 20;
  }

  async create(
    principal: Principal,
    opts: { name?: unknown; expiresInDays?: unknown; workspace?: string; readOnly?: unknown },
  ): Promise<PersonalAccessTokenView & { token: string }> {
    if (principal.kind !== 'user')
      throw new Forbidden('personal access tokens are for users; a service principal signs in with its secret');
    if (typeof opts.name !== 'string' || !NAME.test(opts.name))
      throw new InvalidInput(
        "name must be 1–100 letters, digits, spaces or '._:@()-', starting with a letter or digit",
        { target: 'name' },
      );
    const days = opts.expiresInDays === undefined ? PAT_DEFAULT_DAYS : opts.expiresInDays;
    if (typeof days !== 'number' || !Number.isInteger(days) || days < 1 || days > PAT_MAX_DAYS)
      throw new InvalidInput(`expiresInDays must be a whole number from 1 to ${PAT_MAX_DAYS}`, {
        target: 'expiresInDays',
      });
    if (opts.readOnly !== undefined && typeof opts.readOnly !== 'boolean')
      throw new InvalidInput('readOnly must be true or false', { target: 'readOnly' });
    if (opts.workspace !== undefined && !WORKSPACE_ID.test(opts.workspace))
      throw new InvalidInput(
        'workspace must be the ARM id of a workspace: /subscriptions/{id}/resourceGroups/{group}/providers/Microsoft.MachineLearningServices/workspaces/{name}',
        { target: 'workspace' },
      );
    const token = `${PAT_PREFIX}${crypto.randomBytes(32).toString('base64url')}`;
    const now = Date.now();
    const row: PersonalAccessTokenRow = {
      id: crypto.randomUUID(),
      hash: sha256(token),
      principal_id: principal.id,
      name: opts.name,
      hint: token.slice(-4),
      workspace: opts.workspace ?? null,
      read_only: opts.readOnly ? 1 : 0,
      created_at: now,
      expires_at: now + days * 86_400_000,
      revoked_at: null,
    };
    // Now and then, forget tokens long past their expiry.
    if (Math.random() < 0.05)
      await this.db
        .deleteFrom('personal_access_tokens')
        .where('expires_at', '<', now - 30 * 86_400_000)
        .execute();
    await this.db.insertInto('personal_access_tokens').values(row).execute();
    return { ...view(row, now), token };
  }

  async list(principalId: string): Promise<PersonalAccessTokenView[]> {
    const rows = await this.db
      .selectFrom('personal_access_tokens')
      .selectAll()
      .where('principal_id', '=', principalId)
      .orderBy('created_at')
      .execute();
    const now = Date.now();
    return rows.map((r) => view(r, now));
  }

  /** Revokes one of the principal's tokens (at once here; on other replicas within PRINCIPAL_CACHE_MS). */
  async revoke(principalId: string, id: string): Promise<PersonalAccessTokenView> {
    const row = await this.db
      .selectFrom('personal_access_tokens')
      .selectAll()
      .where('id', '=', id)
      .where('principal_id', '=', principalId)
      .executeTakeFirst();
    if (!row) throw new NotFound(`you have no personal access token with id '${id}'`);
    const at = row.revoked_at ?? Date.now();
    if (row.revoked_at === null)
      await this.db
        .updateTable('personal_access_tokens')
        .set({ revoked_at: at })
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .execute();
    this.generation++;
    this.cache.delete(row.hash);
    return view({ ...row, revoked_at: at });
  }

  /** The principal and limits of a token, or undefined when it is unknown, expired, revoked or its user disabled. */
  async verify(token: string): Promise<{ principal: Principal; limits: TokenLimits } | undefined> {
    if (!PersonalAccessTokens.looksLikeToken(token) || token.length > 100) return undefined;
    const hash = sha256(token);
    let hit = this.cache.get(hash);
    if (!hit || Date.now() - hit.at >= PRINCIPAL_CACHE_MS) {
      const generation = this.generation;
      const at = Date.now();
      const row = await this.db
        .selectFrom('personal_access_tokens')
        .selectAll()
        .where('hash', '=', hash)
        .executeTakeFirst();
      hit = { at, row };
      if (generation === this.generation) {
        this.cache.delete(hash);
        if (this.cache.size >= 10_000) this.cache.delete(this.cache.keys().next().value!);
        this.cache.set(hash, hit);
      }
    }
    const row = hit.row;
    if (!row || row.revoked_at !== null || Number(row.expires_at) <= Date.now()) return undefined;
    const principal = await this.principals.get(row.principal_id);
    if (!principal) return undefined;
    return {
      principal,
      limits: {
        tokenId: row.id,
        workspace: row.workspace ?? undefined,
        readOnly: Boolean(Number(row.read_only)),
        expiresAt: Number(row.expires_at),
      },
    };
  }
}

/** Why a request goes beyond a read-only token's reach (undefined: it does not). */
export function beyondReadOnly(limits: TokenLimits, method: string, readRoute: boolean): string | undefined {
  const reading = method === 'GET' || method === 'HEAD' || readRoute;
  return limits.readOnly && !reading
    ? 'this personal access token is read-only: it may only read (GET, and searches)'
    : undefined;
}
