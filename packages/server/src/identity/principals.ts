import crypto from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Tables } from '../store/schema.js';
import type { PrincipalRow } from '../store/tables.js';
import { hashPassword, verifyPassword } from './passwords.js';

export interface Principal {
  id: string;
  tenantId: string;
  kind: 'user' | 'servicePrincipal';
  name: string;
  displayName: string;
}

export function toPrincipal(row: PrincipalRow): Principal {
  return { id: row.id, tenantId: row.tenant_id, kind: row.kind as Principal['kind'], name: row.name, displayName: row.display_name };
}

export class PrincipalService {
  // Basic-auth clients (MLflow's username/password) send the password on every request; scrypt
  // costs ~50 ms, so a successful check is remembered briefly, keyed by a hash of the pair.
  private basicCache = new Map<string, { at: number; principal: Principal }>();

  constructor(private readonly db: Kysely<Tables>, readonly tenantId: string) {}

  async get(id: string): Promise<Principal | undefined> {
    const row = await this.db.selectFrom('principals').selectAll().where('id', '=', id).executeTakeFirst();
    return row && row.enabled ? toPrincipal(row) : undefined;
  }

  async isEnabled(id: string): Promise<boolean> {
    const row = await this.db.selectFrom('principals').select('enabled').where('id', '=', id).executeTakeFirst();
    return Boolean(row?.enabled);
  }

  async findByName(name: string): Promise<PrincipalRow | undefined> {
    return this.db.selectFrom('principals').selectAll().where('name_key', '=', name.toLowerCase()).executeTakeFirst();
  }

  async createUser(name: string, password: string, displayName = name): Promise<Principal> {
    const row: PrincipalRow = {
      id: crypto.randomUUID(),
      tenant_id: this.tenantId,
      kind: 'user',
      name,
      name_key: name.toLowerCase(),
      display_name: displayName,
      password_hash: await hashPassword(password),
      enabled: 1,
      created_at: Date.now(),
    };
    await this.db.insertInto('principals').values(row).execute();
    return toPrincipal(row);
  }

  /** Checks a user name and password; undefined when wrong, unknown or disabled. */
  async checkPassword(name: string, password: string): Promise<Principal | undefined> {
    const cacheKey = crypto.createHash('sha256').update(`${name.toLowerCase()}\0${password}`).digest('base64');
    const hit = this.basicCache.get(cacheKey);
    if (hit && Date.now() - hit.at < 60_000 && (await this.isEnabled(hit.principal.id))) return hit.principal;
    const row = await this.findByName(name);
    if (!row || row.kind !== 'user' || !row.enabled) {
      await verifyPassword(password, DUMMY_HASH); // same cost whether or not the user exists
      return undefined;
    }
    if (!(await verifyPassword(password, row.password_hash))) return undefined;
    const principal = toPrincipal(row);
    if (this.basicCache.size > 10_000) this.basicCache.clear();
    this.basicCache.set(cacheKey, { at: Date.now(), principal });
    return principal;
  }

  forgetCached(): void {
    this.basicCache.clear();
  }
}

const DUMMY_HASH = 'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
