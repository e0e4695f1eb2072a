import crypto from 'node:crypto';
import type { AppContext } from '../context.js';
import './tables.js';

/**
 * Secret keys owned by a resource (storage account keys, registry passwords, a workspace's cached
 * copies), sealed with the owner's data key (envelope encryption) in `resource_keys`. Never logged
 * or listed by any GET; only the listKeys-style actions return them.
 */
export class ResourceKeys {
  constructor(private readonly ctx: AppContext) {}

  /** A new random key: 64 bytes in base64, the shape of an Azure storage account key. */
  static generate(bytes = 64): string {
    return crypto.randomBytes(bytes).toString('base64');
  }

  async set(ownerId: string, values: Record<string, string>): Promise<void> {
    const owner = ownerId.toLowerCase();
    const now = Date.now();
    for (const [name, value] of Object.entries(values)) {
      const sealed = await this.ctx.keys.encrypt(owner, value);
      await this.ctx.db
        .insertInto('resource_keys')
        .values({ resource_key: owner, name, value: sealed, created_at: now })
        .onConflict((oc) => oc.columns(['resource_key', 'name']).doUpdateSet({ value: sealed, created_at: now }))
        .execute();
    }
  }

  async get(ownerId: string, name: string): Promise<{ value: string; createdAt: number } | undefined> {
    const row = await this.ctx.db
      .selectFrom('resource_keys')
      .selectAll()
      .where('resource_key', '=', ownerId.toLowerCase())
      .where('name', '=', name)
      .executeTakeFirst();
    return row ? { value: await this.ctx.keys.decrypt(ownerId, row.value), createdAt: row.created_at } : undefined;
  }

  async all(ownerId: string): Promise<Record<string, { value: string; createdAt: number }>> {
    const rows = await this.ctx.db
      .selectFrom('resource_keys')
      .selectAll()
      .where('resource_key', '=', ownerId.toLowerCase())
      .execute();
    const out: Record<string, { value: string; createdAt: number }> = {};
    for (const r of rows)
      out[r.name] = { value: await this.ctx.keys.decrypt(ownerId, r.value), createdAt: r.created_at };
    return out;
  }

  /** Removes the owner's keys and its data key. */
  async forget(ownerId: string): Promise<void> {
    await this.ctx.db.deleteFrom('resource_keys').where('resource_key', '=', ownerId.toLowerCase()).execute();
    await this.ctx.keys.forget(ownerId);
  }
}
