import type { Kysely } from 'kysely';

/**
 * Personal access tokens: long-lived secrets of a user for scripts and CI, stored as SHA-256 of the
 * (high-entropy, generated) secret, never the secret; optionally limited to one workspace and to
 * reading. Revoked ones are kept (revoked_at) until they would have expired, for the list.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('personal_access_tokens')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('hash', 'varchar(64)', (c) => c.notNull().unique())
    .addColumn('principal_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('name', 'varchar(100)', (c) => c.notNull())
    .addColumn('hint', 'varchar(8)', (c) => c.notNull())
    .addColumn('workspace', 'varchar(800)')
    .addColumn('read_only', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('revoked_at', 'bigint')
    .execute();
  await db.schema
    .createIndex('personal_access_tokens_principal')
    .on('personal_access_tokens')
    .columns(['principal_id'])
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('downgrades are not supported');
}
