import crypto from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Tables } from '../store/schema.js';
import type { Database } from '../store/database.js';
import type { PrincipalRow } from '../store/tables.js';
import type { PrincipalSecretRow } from './tables.js';
import { Conflict, InvalidInput, NotFound } from '../errors.js';
import { GUID } from '../resources/arm-ids.js';
import { dummyHash, hashPassword, SCRYPT_COST, verifyPassword, type ScryptCost } from './passwords.js';
import { keepAnAdministrator } from './last-owner.js';
import './tables.js';

export interface Principal {
  id: string;
  tenantId: string;
  kind: 'user' | 'servicePrincipal';
  name: string;
  displayName: string;
}

/** What the REST API shows of a principal (never a hash). */
export interface PrincipalView extends Principal {
  enabled: boolean;
  createdAt: string;
  /** Service principals: the application (client) id, which is also their `name`. */
  appId?: string;
  secrets?: SecretView[];
  /** The principal of a user-assigned managed identity: that identity's ARM id (it has no secrets). */
  managedIdentity?: string;
}

export interface SecretView {
  keyId: string;
  displayName: string;
  hint: string;
  createdAt: string;
  expiresOn: string;
  expired: boolean;
}

/** Names the rule only (not the identity's ARM id: the token endpoint answers it before any sign-in). */
function managedIdentityCredential(): InvalidInput {
  return new InvalidInput(
    "this principal is a managed identity's: a managed identity has no secrets and never signs in with one, it gets " +
      'its tokens from the managed identity endpoint only (make a service principal, `atelier sp create`, for a program that signs in with a secret)',
    { code: 'MANAGED_IDENTITY_CREDENTIAL' },
  );
}

export function toPrincipal(row: PrincipalRow): Principal {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    kind: row.kind as Principal['kind'],
    name: row.name,
    displayName: row.display_name,
  };
}

/** How long another server process's change to a principal (disable, delete) may take to be seen here. */
export const PRINCIPAL_CACHE_MS = 2000;

const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
export const MIN_PASSWORD = 8;
const MAX_SECRET_DAYS = 3650;
const sha256 = (s: string) => crypto.createHash('sha256').update(s, 'utf8').digest('hex');

export function checkUserName(name: unknown): string {
  if (typeof name !== 'string' || !USER_NAME.test(name)) {
    throw new InvalidInput(
      `user name '${String(name)}' is invalid: use 1–64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit`,
      { target: 'name' },
    );
  }
  if (GUID.test(name))
    throw new InvalidInput('a user name may not be a GUID (GUIDs name service principals)', { target: 'name' });
  return name;
}

export function checkPasswordRule(password: unknown): string {
  if (typeof password !== 'string' || password.length < MIN_PASSWORD || password.length > 256) {
    throw new InvalidInput(`the password must be ${MIN_PASSWORD} to 256 characters long`, { target: 'password' });
  }
  return password;
}

function checkDisplayName(name: unknown, target = 'displayName'): string {
  // eslint-disable-next-line no-control-regex -- control characters are what this refuses
  if (typeof name !== 'string' || name.trim().length === 0 || name.length > 200 || /[\x00-\x1f]/.test(name)) {
    throw new InvalidInput(`${target} must be 1–200 printable characters`, { target });
  }
  return name.trim();
}

export function checkSecretDays(days: unknown): number {
  if (days === undefined) return 365;
  if (typeof days !== 'number' || !Number.isInteger(days) || days < 1 || days > MAX_SECRET_DAYS) {
    throw new InvalidInput(`expiresInDays must be a whole number from 1 to ${MAX_SECRET_DAYS}`, {
      target: 'expiresInDays',
    });
  }
  return days;
}

function secretView(s: PrincipalSecretRow, now = Date.now()): SecretView {
  return {
    keyId: s.key_id,
    displayName: s.display_name,
    hint: s.hint,
    createdAt: new Date(s.created_at).toISOString(),
    expiresOn: new Date(s.expires_at).toISOString(),
    expired: s.expires_at <= now,
  };
}

export class PrincipalService {
  // Basic-auth clients (MLflow's username/password) send the password on every request; scrypt
  // costs ~50 ms, so a right password is remembered for at most REMEMBER_MS, keyed by an HMAC of the
  // pair under a key made per process (never the password), holding the principal id and the hash
  // it matched. An entry counts only while that principal is enabled and still has that hash (read
  // through `byId`), so a disable, delete or password change ends it at once here and within
  // PRINCIPAL_CACHE_MS on other processes. Least recently used entries go first past MAX_REMEMBERED.
  private readonly credentialSecret = crypto.randomBytes(32);
  private remembered = new Map<string, { until: number; principalId: string; passwordHash: string }>();

  private readonly db: Kysely<Tables>;
  private readonly dummyHash: string;
  constructor(
    private readonly database: Database,
    readonly tenantId: string,
    /** scrypt's cost for the passwords set here (ContextOptions.passwordCost; tests only). */
    private readonly passwordCost: ScryptCost = SCRYPT_COST,
  ) {
    this.db = database.db;
    this.dummyHash = dummyHash(passwordCost);
  }

  // Enabled principals by id, for the authentication of every request (a database read per request
  // cost more than the rest of a small write). Changes made here drop the entry at once; changes
  // made by another server process are seen within PRINCIPAL_CACHE_MS, the same bound as role
  // assignments (rbac.ts). Disabled or unknown ids are never cached.
  private byId = new Map<string, { at: number; principal: Principal; passwordHash: string | null }>();
  /** Bumped by every change: a read that began before a change does not fill the cache. */
  private generation = 0;

  /** The principal if it exists and is enabled. */
  async get(id: string): Promise<Principal | undefined> {
    return (await this.current(id))?.principal;
  }

  private async current(id: string): Promise<{ principal: Principal; passwordHash: string | null } | undefined> {
    const hit = this.byId.get(id);
    if (hit) {
      if (Date.now() - hit.at < PRINCIPAL_CACHE_MS) return hit;
      this.byId.delete(id);
    }
    const generation = this.generation;
    const at = Date.now();
    const row = await this.db.selectFrom('principals').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row || !row.enabled) return undefined;
    const entry = { at, principal: toPrincipal(row), passwordHash: row.password_hash };
    if (generation !== this.generation) return entry;
    if (this.byId.size >= 10_000) this.byId.delete(this.byId.keys().next().value!);
    this.byId.set(id, entry);
    return entry;
  }

  async isEnabled(id: string): Promise<boolean> {
    return (await this.get(id)) !== undefined;
  }

  async findByName(name: string): Promise<PrincipalRow | undefined> {
    return this.db.selectFrom('principals').selectAll().where('name_key', '=', name.toLowerCase()).executeTakeFirst();
  }

  /** A principal by object id, user name or application id (any kind, enabled or not). */
  async find(idOrName: string, kind?: Principal['kind']): Promise<PrincipalRow | undefined> {
    let q = this.db.selectFrom('principals').selectAll();
    q = GUID.test(idOrName)
      ? q.where((eb) => eb.or([eb('id', '=', idOrName.toLowerCase()), eb('name_key', '=', idOrName.toLowerCase())]))
      : q.where('name_key', '=', idOrName.toLowerCase());
    if (kind) q = q.where('kind', '=', kind);
    return q.executeTakeFirst();
  }

  async require(idOrName: string, kind?: Principal['kind']): Promise<PrincipalRow> {
    const row = await this.find(idOrName, kind);
    const what = kind === 'servicePrincipal' ? 'service principal' : kind === 'user' ? 'user' : 'principal';
    if (!row) throw new NotFound(`${what} '${idOrName}' does not exist`, { code: 'PRINCIPAL_NOT_FOUND' });
    return row;
  }

  async view(row: PrincipalRow): Promise<PrincipalView> {
    const v: PrincipalView = {
      ...toPrincipal(row),
      enabled: Boolean(row.enabled),
      createdAt: new Date(row.created_at).toISOString(),
    };
    if (row.kind === 'servicePrincipal') {
      v.appId = row.name;
      if (row.managed_identity) v.managedIdentity = row.managed_identity;
      const secrets = await this.db
        .selectFrom('principal_secrets')
        .selectAll()
        .where('principal_id', '=', row.id)
        .orderBy('created_at')
        .execute();
      v.secrets = secrets.map((s) => secretView(s));
    }
    return v;
  }

  async list(kind: Principal['kind'], opts: { after?: string; top: number }): Promise<PrincipalRow[]> {
    let q = this.db
      .selectFrom('principals')
      .selectAll()
      .where('kind', '=', kind)
      .orderBy('name_key')
      .limit(opts.top + 1);
    if (opts.after) q = q.where('name_key', '>', opts.after);
    return q.execute();
  }

  async createUser(name: string, password: string, displayName = name): Promise<Principal> {
    checkUserName(name);
    checkPasswordRule(password);
    checkDisplayName(displayName);
    if (await this.findByName(name))
      throw new Conflict(`a user named '${name}' already exists`, { code: 'PRINCIPAL_EXISTS' });
    const row: PrincipalRow = {
      id: crypto.randomUUID(),
      tenant_id: this.tenantId,
      kind: 'user',
      name,
      name_key: name.toLowerCase(),
      display_name: displayName,
      password_hash: await hashPassword(password, this.passwordCost),
      enabled: 1,
      created_at: Date.now(),
    };
    try {
      await this.db.insertInto('principals').values(row).execute();
    } catch (e) {
      if (await this.findByName(name))
        throw new Conflict(`a user named '${name}' already exists`, { code: 'PRINCIPAL_EXISTS' });
      throw e;
    }
    return toPrincipal(row);
  }

  /** A service principal with one secret; the secret's value is returned here and never again. */
  async createServicePrincipal(
    displayName: string,
    opts: { expiresInDays?: number; secretName?: string } = {},
  ): Promise<{ principal: Principal; secret: SecretView & { value: string } }> {
    checkDisplayName(displayName);
    const days = checkSecretDays(opts.expiresInDays);
    const appId = crypto.randomUUID();
    const row: PrincipalRow = {
      id: crypto.randomUUID(),
      tenant_id: this.tenantId,
      kind: 'servicePrincipal',
      name: appId,
      name_key: appId,
      display_name: displayName,
      password_hash: null,
      enabled: 1,
      created_at: Date.now(),
    };
    const made = PrincipalService.makeSecret(row.id, opts.secretName ?? 'default', days);
    await this.database.write(async ({ db: trx }) => {
      await trx.insertInto('principals').values(row).execute();
      await trx.insertInto('principal_secrets').values(made.row).execute();
    });
    return { principal: toPrincipal(row), secret: { ...secretView(made.row), value: made.value } };
  }

  /**
   * The service principal of a user-assigned managed identity (`Microsoft.ManagedIdentity/userAssignedIdentities`):
   * its object id is the identity's principalId and its application id the identity's clientId. It has no
   * secret and no password, so nothing signs in as it (`addSecret` and `checkClientSecret` refuse it, as
   * Azure does: a managed identity gets tokens from the managed identity endpoint only); roles may be
   * assigned to it. `identityId` is the identity's ARM id, kept in `managed_identity`.
   */
  async createManagedIdentity(displayName: string, identityId: string): Promise<Principal> {
    checkDisplayName(displayName);
    const clientId = crypto.randomUUID();
    const row: PrincipalRow = {
      id: crypto.randomUUID(),
      tenant_id: this.tenantId,
      kind: 'servicePrincipal',
      name: clientId,
      name_key: clientId,
      display_name: displayName,
      password_hash: null,
      enabled: 1,
      created_at: Date.now(),
      managed_identity: identityId,
    };
    await this.db.insertInto('principals').values(row).execute();
    return toPrincipal(row);
  }

  private static makeSecret(
    principalId: string,
    displayName: string,
    days: number,
  ): { row: PrincipalSecretRow; value: string } {
    checkDisplayName(displayName, 'secretName');
    // 30 random bytes: a hash is enough to store it (no dictionary to try against).
    const value = `${crypto.randomBytes(2).toString('base64url').slice(0, 3)}8Q~${crypto.randomBytes(30).toString('base64url')}`;
    const now = Date.now();
    return {
      value,
      row: {
        key_id: crypto.randomUUID(),
        principal_id: principalId,
        hash: sha256(value),
        hint: value.slice(0, 3),
        display_name: displayName,
        created_at: now,
        expires_at: now + days * 86_400_000,
      },
    };
  }

  /** Adds a secret (or, with `replace`, replaces all of them); returns its value once. */
  async addSecret(
    principalId: string,
    opts: { expiresInDays?: number; secretName?: string; replace?: boolean },
  ): Promise<SecretView & { value: string }> {
    const days = checkSecretDays(opts.expiresInDays);
    const made = PrincipalService.makeSecret(principalId, opts.secretName ?? 'default', days);
    await this.database.write(async ({ db: trx }) => {
      const owner = await trx
        .selectFrom('principals')
        .select('managed_identity')
        .where('id', '=', principalId)
        .executeTakeFirst();
      if (owner?.managed_identity) throw managedIdentityCredential();
      if (opts.replace) await trx.deleteFrom('principal_secrets').where('principal_id', '=', principalId).execute();
      await trx.insertInto('principal_secrets').values(made.row).execute();
    });
    return { ...secretView(made.row), value: made.value };
  }

  async deleteSecret(principalId: string, keyId: string): Promise<void> {
    const r = await this.db
      .deleteFrom('principal_secrets')
      .where('principal_id', '=', principalId)
      .where('key_id', '=', keyId.toLowerCase())
      .executeTakeFirst();
    if (Number(r.numDeletedRows) === 0)
      throw new NotFound(`secret '${keyId}' does not exist on this service principal`, { code: 'SECRET_NOT_FOUND' });
  }

  /**
   * Checks a client id and secret; undefined when wrong, expired, unknown or disabled. A managed
   * identity's client id is refused by name (MANAGED_IDENTITY_CREDENTIAL): it has no secret to check.
   */
  async checkClientSecret(clientId: string, secret: string): Promise<Principal | undefined> {
    const row = await this.findByName(clientId);
    if (!row || row.kind !== 'servicePrincipal' || !row.enabled) return undefined;
    if (row.managed_identity) throw managedIdentityCredential();
    const digest = Buffer.from(sha256(secret), 'hex');
    const now = Date.now();
    const secrets = await this.db
      .selectFrom('principal_secrets')
      .select(['hash', 'expires_at'])
      .where('principal_id', '=', row.id)
      .execute();
    let ok = false;
    for (const s of secrets)
      if (s.expires_at > now && crypto.timingSafeEqual(Buffer.from(s.hash, 'hex'), digest)) ok = true;
    return ok ? toPrincipal(row) : undefined;
  }

  async update(id: string, changes: { displayName?: string; enabled?: boolean; password?: string }): Promise<void> {
    const set: Partial<PrincipalRow> = {};
    if (changes.displayName !== undefined) set.display_name = checkDisplayName(changes.displayName);
    if (changes.enabled !== undefined) set.enabled = changes.enabled ? 1 : 0;
    if (changes.password !== undefined)
      set.password_hash = await hashPassword(checkPasswordRule(changes.password), this.passwordCost);
    if (Object.keys(set).length === 0) return;
    if (changes.enabled === false) {
      await this.database.write(async ({ db: trx }) => {
        await keepAnAdministrator(trx, { principalId: id });
        await trx.updateTable('principals').set(set).where('id', '=', id).execute();
      });
    } else {
      await this.db.updateTable('principals').set(set).where('id', '=', id).execute();
    }
    this.forgetCached(id);
  }

  /** Deletes a principal with everything that lets it act: role assignments, secrets, sessions (never the last administrator). */
  async delete(id: string): Promise<void> {
    await this.database.write(async ({ db: trx }) => {
      await keepAnAdministrator(trx, { principalId: id });
      await trx.deleteFrom('role_assignments').where('principal_id', '=', id).execute();
      await trx.deleteFrom('principal_secrets').where('principal_id', '=', id).execute();
      await trx.deleteFrom('refresh_tokens').where('principal_id', '=', id).execute();
      await trx.deleteFrom('device_codes').where('principal_id', '=', id).execute();
      await trx.deleteFrom('principals').where('id', '=', id).execute();
    });
    this.forgetCached(id);
  }

  /**
   * What names a user name and password pair in memory: an HMAC under this process's random key,
   * so neither the password nor a plain hash of it is ever kept. Different passwords never share it.
   */
  credentialKey(name: string, password: string): string {
    return crypto
      .createHmac('sha256', this.credentialSecret)
      .update(`${name.toLowerCase()}\0${password}`, 'utf8')
      .digest('base64url');
  }

  /** The principal whose right password `key` (from `credentialKey`) was seen within REMEMBER_MS, if still enabled and unchanged. */
  async rememberedSignIn(key: string): Promise<Principal | undefined> {
    const hit = this.remembered.get(key);
    if (!hit) return undefined;
    if (hit.until > Date.now()) {
      const now = await this.current(hit.principalId);
      if (now && now.passwordHash === hit.passwordHash && this.remembered.get(key) === hit) {
        this.remembered.delete(key); // most recently used goes last
        this.remembered.set(key, hit);
        return now.principal;
      }
    }
    if (this.remembered.get(key) === hit) this.remembered.delete(key);
    return undefined;
  }

  /** Checks a user name and password; undefined when wrong, unknown or disabled. */
  async checkPassword(name: string, password: string): Promise<Principal | undefined> {
    const key = this.credentialKey(name, password);
    const known = await this.rememberedSignIn(key);
    if (known) return known;
    const generation = this.generation;
    const row = await this.findByName(name);
    if (!row || row.kind !== 'user' || !row.enabled || !row.password_hash) {
      await verifyPassword(password, this.dummyHash); // same cost whether or not the user exists
      return undefined;
    }
    if (!(await verifyPassword(password, row.password_hash))) return undefined;
    // A check that began before a change to a principal is not remembered.
    if (generation === this.generation) {
      if (this.remembered.size >= MAX_REMEMBERED) this.remembered.delete(this.remembered.keys().next().value!);
      this.remembered.set(key, {
        until: Date.now() + REMEMBER_MS,
        principalId: row.id,
        passwordHash: row.password_hash,
      });
    }
    return toPrincipal(row);
  }

  /** Drops cached principals and remembered sign-ins: those of `principalId`, or all (after any change to a principal). */
  forgetCached(principalId?: string): void {
    this.generation++;
    this.byId.clear();
    if (principalId === undefined) this.remembered.clear();
    else for (const [key, r] of this.remembered) if (r.principalId === principalId) this.remembered.delete(key);
  }
}

/** How long a right password is remembered (see PrincipalService.remembered). */
const REMEMBER_MS = 60_000;
const MAX_REMEMBERED = 10_000;
