import type { Kysely } from 'kysely';

/**
 * Sweep jobs: each sweep's seed and best trial so far, and each trial it sampled (its number, its
 * child job, its parameters, and why early termination stopped it). A restarted server continues
 * a sweep from these rows and its trials' jobs.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('job_sweeps')
    .addColumn('job_key', 'varchar(400)', (c) => c.primaryKey())
    .addColumn('seed', 'varchar(32)', (c) => c.notNull())
    .addColumn('best_trial', 'varchar(300)')
    .addColumn('best_value', 'double precision')
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('job_sweep_trials')
    .addColumn('job_key', 'varchar(400)', (c) => c.notNull())
    .addColumn('trial_index', 'integer', (c) => c.notNull())
    .addColumn('job_name', 'varchar(300)', (c) => c.notNull())
    .addColumn('params', 'text', (c) => c.notNull())
    .addColumn('terminated', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('job_sweep_trials_pk', ['job_key', 'trial_index'])
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('downgrades are not supported');
}
