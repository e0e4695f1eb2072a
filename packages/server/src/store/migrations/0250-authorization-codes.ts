import type { Kysely } from 'kysely';

/**
 * Authorization codes of the OAuth2 authorization-code flow with PKCE (RFC 6749 §4.1, RFC 7636):
 * stored as SHA-256, single-use, short-lived, bound to the client, its redirect URI and the PKCE
 * challenge. `family_id` is the refresh-token family the code was redeemed for, so a replayed code
 * revokes what it bought (RFC 6749 §4.1.2).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('authorization_codes')
    .addColumn('hash', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('client_id', 'varchar(200)', (c) => c.notNull())
    .addColumn('redirect_uri', 'varchar(2048)', (c) => c.notNull())
    .addColumn('code_challenge', 'varchar(128)', (c) => c.notNull())
    .addColumn('principal_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('nonce', 'varchar(512)')
    .addColumn('family_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('used_at', 'bigint')
    .execute();
  await db.schema.createIndex('authorization_codes_expiry').on('authorization_codes').columns(['expires_at']).execute();
}

export async function down(): Promise<void> {
  throw new Error('downgrades are not supported');
}
