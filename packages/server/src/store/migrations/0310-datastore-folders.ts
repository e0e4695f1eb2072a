import type { Kysely } from 'kysely';

/**
 * Owners of server folders (`ServerFolder` datastores): a folder, with everything inside it, belongs
 * to the workspace that registered it first (one owner per path: the primary key), and an
 * administrator may share it with other workspaces (one row per workspace).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('datastore_folders')
    .addColumn('path_key', 'varchar(1000)', (c) => c.primaryKey())
    .addColumn('workspace_key', 'varchar(800)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('datastore_folder_shares')
    .addColumn('path_key', 'varchar(1000)', (c) => c.notNull())
    .addColumn('workspace_key', 'varchar(800)', (c) => c.notNull())
    .addColumn('shared_by', 'varchar(200)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('datastore_folder_shares_pk', ['path_key', 'workspace_key'])
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('downgrades are not supported');
}
