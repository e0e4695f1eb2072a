import crypto from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Tables } from '../store/schema.js';
import type { Database } from '../store/database.js';
import { generatePassword, hashPassword } from './passwords.js';

export interface BootstrapResult {
  tenantId: string;
  defaultSubscriptionId: string;
  /** Set only when this start made the admin user with a generated password: print it once. */
  generatedAdminPassword?: string;
  adminCreated: boolean;
}

async function setting(db: Kysely<Tables>, key: string): Promise<string | undefined> {
  return (await db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst())?.value;
}

/**
 * First start: a tenant, a default subscription, and the `admin` user (Owner of everything).
 * Runs in one transaction, and is safe when several replicas start at once (the settings insert
 * is the lock: the loser sees the winner's rows).
 */
export async function bootstrap(database: Database, adminPassword?: string): Promise<BootstrapResult> {
  const db = database.db;
  const existing = await setting(db, 'tenant_id');
  if (existing) {
    return { tenantId: existing, defaultSubscriptionId: (await setting(db, 'default_subscription_id'))!, adminCreated: false };
  }
  const tenantId = crypto.randomUUID();
  const subscriptionId = crypto.randomUUID();
  const password = adminPassword ?? generatePassword();
  const hash = await hashPassword(password);
  const adminId = crypto.randomUUID();
  const now = Date.now();
  try {
    await database.write(async ({ db: trx }) => {
      await trx.insertInto('settings').values([
        { key: 'tenant_id', value: tenantId },
        { key: 'default_subscription_id', value: subscriptionId },
      ]).execute();
      await trx.insertInto('subscriptions').values({ subscription_id: subscriptionId, display_name: 'Default', tenant_id: tenantId, state: 'Enabled', created_at: now }).execute();
      await trx.insertInto('principals').values({
        id: adminId, tenant_id: tenantId, kind: 'user', name: 'admin', name_key: 'admin', display_name: 'Administrator',
        password_hash: hash, enabled: 1, created_at: now,
      }).execute();
      await trx.insertInto('role_assignments').values({
        id: crypto.randomUUID(), scope: '/', scope_key: '/', principal_id: adminId, role: 'Owner', created_at: now, created_by: null,
      }).execute();
    });
  } catch (e) {
    const again = await setting(db, 'tenant_id');
    if (again) return { tenantId: again, defaultSubscriptionId: (await setting(db, 'default_subscription_id'))!, adminCreated: false };
    throw e;
  }
  return { tenantId, defaultSubscriptionId: subscriptionId, adminCreated: true, generatedAdminPassword: adminPassword ? undefined : password };
}
