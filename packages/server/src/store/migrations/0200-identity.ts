import type { Kysely } from 'kysely';

/**
 * Identity: service-principal secrets, rotating refresh tokens, device-code sign-ins, sign-in
 * throttling (shared by replicas, so it lives in the database) and the audit log.
 */
export async function up(db: Kysely<any>): Promise<void> {
  // Role assignments (made in 0001) may carry a description, as ARM's do.
  await db.schema.alterTable('role_assignments').addColumn('description', 'varchar(1024)').execute();
  await db.schema.createIndex('role_assignments_scope').on('role_assignments').columns(['scope_key']).execute();

  // Client secrets of service principals: only a SHA-256 of the (high-entropy, generated) secret.
  await db.schema
    .createTable('principal_secrets')
    .addColumn('key_id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('principal_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('hash', 'varchar(64)', (c) => c.notNull())
    .addColumn('hint', 'varchar(8)', (c) => c.notNull())
    .addColumn('display_name', 'varchar(200)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('principal_secrets_principal')
    .on('principal_secrets')
    .columns(['principal_id'])
    .execute();

  // Refresh tokens: opaque, stored as SHA-256; each use replaces the token by a new one of the same
  // family, and a replayed (already used) token revokes its whole family.
  await db.schema
    .createTable('refresh_tokens')
    .addColumn('hash', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('family_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('principal_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('client_id', 'varchar(200)', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('family_expires_at', 'bigint', (c) => c.notNull())
    .addColumn('used_at', 'bigint')
    .addColumn('revoked_at', 'bigint')
    .execute();
  await db.schema.createIndex('refresh_tokens_family').on('refresh_tokens').columns(['family_id']).execute();
  await db.schema.createIndex('refresh_tokens_principal').on('refresh_tokens').columns(['principal_id']).execute();

  // Device-code sign-ins (RFC 8628): the device code is stored hashed, the short user code plainly.
  await db.schema
    .createTable('device_codes')
    .addColumn('hash', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('user_code', 'varchar(16)', (c) => c.notNull().unique())
    .addColumn('client_id', 'varchar(200)', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull()) // pending | approved | denied | consumed
    .addColumn('principal_id', 'varchar(36)')
    .addColumn('interval_s', 'integer', (c) => c.notNull())
    .addColumn('last_poll_at', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();

  // Failed sign-ins per key ('principal:<name>' or 'address:<ip>'): counts in a window, and a
  // time before which no attempt is checked at all.
  await db.schema
    .createTable('sign_in_throttle')
    .addColumn('key', 'varchar(300)', (c) => c.primaryKey())
    .addColumn('failures', 'integer', (c) => c.notNull())
    .addColumn('window_start', 'bigint', (c) => c.notNull())
    .addColumn('blocked_until', 'bigint', (c) => c.notNull())
    .execute();

  // Who changed what: one row per successful change on the control plane and identity routes.
  // Never bodies, never secrets.
  await db.schema
    .createTable('audit_log')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('seq', 'bigint', (c) => c.notNull()) // epoch ms * 1000 + counter: orders rows across replicas
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('principal_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('principal_name', 'varchar(200)', (c) => c.notNull())
    .addColumn('principal_kind', 'varchar(20)', (c) => c.notNull())
    .addColumn('method', 'varchar(10)', (c) => c.notNull())
    .addColumn('path', 'varchar(1000)', (c) => c.notNull())
    .addColumn('route', 'varchar(1000)', (c) => c.notNull())
    .addColumn('target', 'varchar(1000)', (c) => c.notNull())
    .addColumn('target_key', 'varchar(1000)', (c) => c.notNull())
    .addColumn('subscription_id', 'varchar(36)')
    .addColumn('status', 'integer', (c) => c.notNull())
    .addColumn('client_address', 'varchar(64)')
    .addColumn('request_id', 'varchar(64)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('audit_log_seq').on('audit_log').columns(['seq']).execute();
  await db.schema.createIndex('audit_log_sub_seq').on('audit_log').columns(['subscription_id', 'seq']).execute();
}

export async function down(): Promise<void> {
  throw new Error('downgrades are not supported');
}
