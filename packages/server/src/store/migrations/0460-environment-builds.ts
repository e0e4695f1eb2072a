import type { Kysely } from 'kysely';

/** Build records of Python environments (environment-builds/): one row per build of a spec hash, the seed's "images". */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('environment_builds')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('spec_hash', 'varchar(64)', (c) => c.notNull())
    .addColumn('workspace_key', 'varchar(800)', (c) => c.notNull())
    .addColumn('environment_id', 'varchar(1000)', (c) => c.notNull())
    .addColumn('status', 'varchar(20)', (c) => c.notNull())
    .addColumn('spec', 'text', (c) => c.notNull())
    .addColumn('log', 'text', (c) => c.notNull())
    .addColumn('size_bytes', 'bigint')
    .addColumn('tool', 'varchar(20)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('finished_at', 'bigint')
    .execute();
  await db.schema
    .createIndex('environment_builds_by_workspace')
    .on('environment_builds')
    .columns(['workspace_key', 'created_at'])
    .execute();
  await db.schema.createIndex('environment_builds_by_hash').on('environment_builds').columns(['spec_hash']).execute();
}

export async function down(): Promise<void> {
  throw new Error('downgrades are not supported');
}
