import type { Kysely } from 'kysely';

/**
 * Keys of key vaults (customer-managed keys): one row per key version. The private part (RSA) or
 * the key bytes (AES) are sealed with the vault's key-material data key; the public part (RSA) is
 * kept as a JWK.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('vault_keys')
    .addColumn('vault_key', 'varchar(800)', (c) => c.notNull())
    .addColumn('name', 'varchar(127)', (c) => c.notNull())
    .addColumn('name_key', 'varchar(127)', (c) => c.notNull())
    .addColumn('version', 'varchar(32)', (c) => c.notNull())
    .addColumn('kty', 'varchar(16)', (c) => c.notNull())
    .addColumn('key_size', 'integer', (c) => c.notNull())
    .addColumn('key_ops', 'text', (c) => c.notNull())
    .addColumn('public_jwk', 'text', (c) => c.notNull())
    .addColumn('material', 'text', (c) => c.notNull()) // sealed
    .addColumn('enabled', 'integer', (c) => c.notNull())
    .addColumn('tags', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('vault_keys_pk', ['vault_key', 'name_key', 'version'])
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('downgrades are not supported');
}
