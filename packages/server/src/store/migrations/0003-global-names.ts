import type { Kysely } from 'kysely';

/**
 * Names unique on the whole server (storage accounts, key vaults, container registries are named
 * globally in Azure; here a storage account's name is also its blob folder). The primary key makes
 * two concurrent creates of one name fail for one of them.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('global_names')
    .addColumn('type_key', 'varchar(200)', (c) => c.notNull())
    .addColumn('name_key', 'varchar(260)', (c) => c.notNull())
    .addColumn('id_key', 'varchar(800)', (c) => c.notNull())
    .addPrimaryKeyConstraint('global_names_pk', ['type_key', 'name_key'])
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('downgrades are not supported');
}
