import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Kysely } from 'kysely';
import type { Tables } from '../store/schema.js';
import { openDatabase, type Database } from '../store/database.js';
import { generatePassword, hashPassword, SCRYPT_COST, type ScryptCost } from './passwords.js';
import { checkPasswordRule } from './principals.js';

export interface BootstrapResult {
  tenantId: string;
  defaultSubscriptionId: string;
  /** Set only when this start made the admin user with a generated password: print it once. */
  generatedAdminPassword?: string;
  adminCreated: boolean;
  /** An admin password was given (ATELIER_ADMIN_PASSWORD) but the admin existed already: it was not used. */
  adminPasswordIgnored?: boolean;
}

/** The log line for a start whose ATELIER_ADMIN_PASSWORD was not used. */
export const ADMIN_PASSWORD_IGNORED =
  'ATELIER_ADMIN_PASSWORD is ignored: the admin user exists already (it is used on the first start only). To set a lost admin password, stop the server and run `atelier server reset-admin-password --home <data root>` (with --database-url for PostgreSQL)';

async function setting(db: Kysely<Tables>, key: string): Promise<string | undefined> {
  return (await db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst())?.value;
}

/**
 * First start: a tenant, a default subscription, and the `admin` user (Owner of everything).
 * Runs in one transaction, and is safe when several replicas start at once (the settings insert
 * is the lock: the loser sees the winner's rows).
 */
export async function bootstrap(
  database: Database,
  adminPassword?: string,
  passwordCost: ScryptCost = SCRYPT_COST,
): Promise<BootstrapResult> {
  const db = database.db;
  const existing = await setting(db, 'tenant_id');
  if (existing) {
    return {
      tenantId: existing,
      defaultSubscriptionId: (await setting(db, 'default_subscription_id'))!,
      adminCreated: false,
      ...(adminPassword ? { adminPasswordIgnored: true } : {}),
    };
  }
  const tenantId = crypto.randomUUID();
  const subscriptionId = crypto.randomUUID();
  const password = adminPassword ?? generatePassword();
  const hash = await hashPassword(password, passwordCost);
  const adminId = crypto.randomUUID();
  const now = Date.now();
  try {
    await database.write(async ({ db: trx }) => {
      await trx
        .insertInto('settings')
        .values([
          { key: 'tenant_id', value: tenantId },
          { key: 'default_subscription_id', value: subscriptionId },
        ])
        .execute();
      await trx
        .insertInto('subscriptions')
        .values({
          subscription_id: subscriptionId,
          display_name: 'Default',
          tenant_id: tenantId,
          state: 'Enabled',
          created_at: now,
        })
        .execute();
      await trx
        .insertInto('principals')
        .values({
          id: adminId,
          tenant_id: tenantId,
          kind: 'user',
          name: 'admin',
          name_key: 'admin',
          display_name: 'Administrator',
          password_hash: hash,
          enabled: 1,
          created_at: now,
        })
        .execute();
      await trx
        .insertInto('role_assignments')
        .values({
          id: crypto.randomUUID(),
          scope: '/',
          scope_key: '/',
          principal_id: adminId,
          role: 'Owner',
          created_at: now,
          created_by: null,
        })
        .execute();
    });
  } catch (e) {
    const again = await setting(db, 'tenant_id');
    if (again)
      return {
        tenantId: again,
        defaultSubscriptionId: (await setting(db, 'default_subscription_id'))!,
        adminCreated: false,
      };
    throw e;
  }
  return {
    tenantId,
    defaultSubscriptionId: subscriptionId,
    adminCreated: true,
    generatedAdminPassword: adminPassword ? undefined : password,
  };
}

/**
 * Sets the password of the `admin` user directly in the database (for a lost generated password):
 * enables the user and ends its sign-in sessions. Throws when there is no admin user.
 */
export async function resetAdminPassword(
  database: Database,
  password: string,
): Promise<{ id: string; name: string; sessionsEnded: number }> {
  const hash = await hashPassword(checkPasswordRule(password));
  return database.write(async ({ db }) => {
    const admin = await db
      .selectFrom('principals')
      .select(['id', 'name'])
      .where('name_key', '=', 'admin')
      .where('kind', '=', 'user')
      .executeTakeFirst();
    if (!admin) throw new Error("there is no user 'admin' in this database (was the server ever started on it?)");
    await db.updateTable('principals').set({ password_hash: hash, enabled: 1 }).where('id', '=', admin.id).execute();
    const ended = await db
      .updateTable('refresh_tokens')
      .set({ revoked_at: Date.now() })
      .where('principal_id', '=', admin.id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return { id: admin.id, name: admin.name, sessionsEnded: Number(ended.numUpdatedRows) };
  });
}

/**
 * `atelier server reset-admin-password`: opens the data root's database (SQLite in `home`, or
 * PostgreSQL at `databaseUrl`) without starting a server, and resets the admin password.
 */
export async function resetAdminPasswordAt(
  opts: { home: string; databaseUrl?: string },
  password: string,
): Promise<{ id: string; name: string; sessionsEnded: number; database: string }> {
  checkPasswordRule(password);
  const sqlitePath = path.join(path.resolve(opts.home), 'atelier.db');
  if (!opts.databaseUrl && !fs.existsSync(sqlitePath))
    throw new Error(
      `no Atelier database in ${path.resolve(opts.home)} (no atelier.db): give the server's data root with --home, and --database-url when it uses PostgreSQL`,
    );
  const database = await openDatabase({ url: opts.databaseUrl, sqlitePath });
  try {
    return { ...(await resetAdminPassword(database, password)), database: database.dialect };
  } finally {
    await database.close();
  }
}
