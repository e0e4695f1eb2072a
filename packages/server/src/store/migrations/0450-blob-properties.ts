import type { Kysely } from 'kysely';

/**
 * What the Azure Blob REST subset (http/blob-rest/) keeps beside a blob's bytes: its user metadata
 * (`x-ms-meta-*`), content type and Content-MD5, by a hash of account/container/blob (blob names may
 * be 1024 bytes, longer than an index allows).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('blob_properties')
    .addColumn('key_hash', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('account', 'varchar(64)', (c) => c.notNull())
    .addColumn('container', 'varchar(64)', (c) => c.notNull())
    .addColumn('blob', 'text', (c) => c.notNull())
    .addColumn('metadata', 'text', (c) => c.notNull())
    .addColumn('content_type', 'varchar(300)')
    .addColumn('content_md5', 'varchar(64)')
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('downgrades are not supported');
}
