import type { Kysely } from 'kysely';

/** Multipart artifact uploads in progress: the upload and the parts received so far. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('mlflow_artifact_uploads')
    .addColumn('upload_id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('workspace_id', 'varchar(800)', (c) => c.notNull())
    .addColumn('storage_account', 'varchar(100)', (c) => c.notNull())
    .addColumn('path', 'text', (c) => c.notNull())
    .addColumn('num_parts', 'integer', (c) => c.notNull())
    // sha256 of the capability token the part URLs carry; the token itself is never stored.
    .addColumn('token_hash', 'varchar(64)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('created_by', 'varchar(64)')
    .execute();

  await db.schema
    .createTable('mlflow_artifact_upload_parts')
    .addColumn('upload_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('part_number', 'integer', (c) => c.notNull())
    .addColumn('etag', 'varchar(80)', (c) => c.notNull())
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('mlflow_artifact_upload_parts_pk', ['upload_id', 'part_number'])
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('downgrades are not supported');
}
