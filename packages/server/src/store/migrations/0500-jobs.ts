import type { Kysely } from 'kysely';

/**
 * Jobs (`W/jobs/{name}`): the durable queue and the record of every job. The scheduler claims
 * queued rows in creation order; a running row carries its executor's handle and its owner's
 * heartbeat, so a restarted (or another) server reattaches to it or marks it Failed.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('jobs')
    .addColumn('job_key', 'varchar(400)', (c) => c.primaryKey())
    .addColumn('workspace_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('workspace_arm_id', 'varchar(800)', (c) => c.notNull())
    .addColumn('name', 'varchar(300)', (c) => c.notNull())
    .addColumn('job_type', 'varchar(32)', (c) => c.notNull())
    .addColumn('status', 'varchar(32)', (c) => c.notNull())
    .addColumn('spec', 'text', (c) => c.notNull())
    .addColumn('tags', 'text', (c) => c.notNull())
    .addColumn('parent_name', 'varchar(300)')
    .addColumn('compute', 'varchar(300)', (c) => c.notNull())
    .addColumn('ranks', 'integer', (c) => c.notNull())
    .addColumn('run_id', 'varchar(32)')
    .addColumn('experiment_id', 'bigint')
    .addColumn('executor', 'varchar(32)')
    .addColumn('handle', 'text')
    .addColumn('owner', 'varchar(200)')
    .addColumn('heartbeat_at', 'bigint')
    .addColumn('error', 'text')
    .addColumn('reuse_key', 'varchar(100)')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('created_by', 'varchar(200)', (c) => c.notNull())
    .addColumn('created_by_actor', 'varchar(300)', (c) => c.notNull())
    .addColumn('start_time', 'bigint')
    .addColumn('end_time', 'bigint')
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('jobs_by_status').on('jobs').columns(['status', 'created_at']).execute();
  await db.schema.createIndex('jobs_by_workspace').on('jobs').columns(['workspace_id', 'created_at']).execute();
  await db.schema.createIndex('jobs_by_parent').on('jobs').columns(['workspace_id', 'parent_name']).execute();
  await db.schema.createIndex('jobs_by_reuse').on('jobs').columns(['workspace_id', 'reuse_key']).execute();
}

export async function down(): Promise<void> {
  throw new Error('downgrades are not supported');
}
