import type { Kysely } from 'kysely';

/**
 * azureml-core's images made by `Image.create` (v1-webservices/image-packages.ts): a package of a
 * model, the uploaded entry script and dependencies (a code asset) and an environment version,
 * built as a Python environment. `name` + `version` is the image id azureml-core knows (`name:version`).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('v1_images')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('workspace_key', 'varchar(800)', (c) => c.notNull())
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('status', 'varchar(20)', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('tags', 'text', (c) => c.notNull())
    .addColumn('properties', 'text', (c) => c.notNull())
    .addColumn('contents', 'text', (c) => c.notNull())
    .addColumn('operation_id', 'varchar(64)')
    .addColumn('log', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('finished_at', 'bigint')
    .execute();
  await db.schema
    .createIndex('v1_images_by_name')
    .on('v1_images')
    .columns(['workspace_key', 'name', 'version'])
    .unique()
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('downgrades are not supported');
}
