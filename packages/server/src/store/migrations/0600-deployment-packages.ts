import type { Kysely } from 'kysely';

/**
 * Deployment packages (deployments/packages.ts): one row per provisioning of an online deployment —
 * what it assembled (model, code snapshot, environment, engine), its digest, status and log. With
 * the environment builds they are the seed's "images".
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('deployment_packages')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('workspace_key', 'varchar(800)', (c) => c.notNull())
    .addColumn('deployment_id', 'varchar(1000)', (c) => c.notNull())
    .addColumn('digest', 'varchar(80)', (c) => c.notNull())
    .addColumn('status', 'varchar(20)', (c) => c.notNull())
    .addColumn('contents', 'text', (c) => c.notNull())
    .addColumn('log', 'text', (c) => c.notNull())
    .addColumn('engine', 'varchar(20)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('finished_at', 'bigint')
    .execute();
  await db.schema
    .createIndex('deployment_packages_by_workspace')
    .on('deployment_packages')
    .columns(['workspace_key', 'created_at'])
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('downgrades are not supported');
}
