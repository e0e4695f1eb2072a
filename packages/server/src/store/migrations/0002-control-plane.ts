import type { Kysely } from 'kysely';

/**
 * Control plane: secret keys of resources (storage account keys, registry passwords, the keys a
 * workspace caches), the workspaceId → workspace index, and who asked for each operation.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('resource_keys')
    .addColumn('resource_key', 'varchar(800)', (c) => c.notNull()) // lower-cased ARM id of the owner
    .addColumn('name', 'varchar(100)', (c) => c.notNull())
    .addColumn('value', 'text', (c) => c.notNull()) // sealed with the owner's data key
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('resource_keys_pk', ['resource_key', 'name'])
    .execute();

  await db.schema
    .createTable('workspace_ids')
    .addColumn('workspace_id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('id_key', 'varchar(800)', (c) => c.notNull().unique())
    .execute();

  await db.schema.alterTable('operations').addColumn('requested_by', 'varchar(36)').execute();
  await db.schema.createIndex('operations_status').on('operations').columns(['status', 'updated_at']).execute();
}

export async function down(): Promise<void> {
  throw new Error('downgrades are not supported');
}
