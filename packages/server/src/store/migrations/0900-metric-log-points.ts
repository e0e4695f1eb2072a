import { sql, type Kysely } from 'kysely';

/**
 * tracking_metric_log.points_through: the points of the run's log up to and including this row.
 * A run's log rows are numbered 1, 2, … (appended after the last, removed all at once when folded
 * into blocks), so its last row alone says how many rows and points the log holds: one index
 * descent per request instead of reading every row of the log (PostgreSQL's batched metric
 * writes). Existing rows get theirs here.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('tracking_metric_log').addColumn('points_through', 'bigint').execute();
  await sql`update tracking_metric_log set points_through = (select sum(x.n) from tracking_metric_log x where x.run_uuid = tracking_metric_log.run_uuid and x.seq <= tracking_metric_log.seq)`.execute(
    db,
  );
}

export async function down(): Promise<void> {
  throw new Error('downgrades are not supported');
}
