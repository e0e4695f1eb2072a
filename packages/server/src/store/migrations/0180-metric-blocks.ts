import { sql, type Kysely } from 'kysely';

/** Points per block when existing points are moved into blocks. */
const MIGRATED_BLOCK = 128;

/**
 * Metric points packed (see tracking/metrics/metric-blocks.ts) instead of a row per point:
 * tracking_metric_log holds per run one row per request (32-byte records [series_id, step,
 * timestamp, value], little-endian doubles), tracking_metric_blocks per series numbered blocks of
 * 24-byte records [step, timestamp, value] with their step range. Existing points move into
 * blocks (sorted, identical points once, NaN as NaN) and tracking_metrics goes. Series with
 * gaps in their steps list them as ranges in tracking_latest_metrics.step_segments.
 */
export async function up(db: Kysely<any>): Promise<void> {
  const sqlite = db.getExecutor().adapter.constructor.name.toLowerCase().includes('sqlite');
  // Rows of kilobytes: ordinary (rowid) tables on SQLite, whose keys live in a separate index —
  // in a WITHOUT ROWID table every key comparison of a seek would read a whole row's overflow.
  await db.schema
    .createTable('tracking_metric_blocks')
    .addColumn('series_id', sqlite ? 'integer' : 'bigint', (c) => c.notNull())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('min_step', 'bigint', (c) => c.notNull())
    .addColumn('max_step', 'bigint', (c) => c.notNull())
    .addColumn('n', 'bigint', (c) => c.notNull())
    .addColumn('data', sqlite ? 'blob' : 'bytea', (c) => c.notNull())
    .addPrimaryKeyConstraint('tracking_metric_blocks_pk', ['series_id', 'seq'])
    .execute();
  // A series' blocks without their data (readers pick blocks by step range from this index alone).
  await db.schema
    .createIndex('tracking_metric_blocks_steps')
    .on('tracking_metric_blocks')
    .columns(['series_id', 'max_step', 'min_step', 'n', 'seq'])
    .execute();
  await db.schema
    .createTable('tracking_metric_log')
    .addColumn('run_uuid', 'varchar(32)', (c) => c.notNull())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('n', 'bigint', (c) => c.notNull())
    .addColumn('data', sqlite ? 'blob' : 'bytea', (c) => c.notNull())
    .addPrimaryKeyConstraint('tracking_metric_log_pk', ['run_uuid', 'seq'])
    .execute();
  if (!sqlite) {
    // Packed doubles do not compress: store them out of line without trying.
    for (const t of ['tracking_metric_blocks', 'tracking_metric_log'])
      await sql`alter table ${sql.table(t)} alter column data set storage external`.execute(db);
  }

  // The distinct steps of a series with gaps, as ranges (while there are at most 32 of them).
  await db.schema.alterTable('tracking_latest_metrics').addColumn('step_segments', 'text').execute();

  const series = await db.selectFrom('tracking_latest_metrics').select('series_id').orderBy('series_id').execute();
  for (const { series_id } of series) {
    const points = await db
      .selectFrom('tracking_metrics')
      .select(['step', 'timestamp', 'value', 'is_nan'])
      .where('series_id', '=', series_id)
      .orderBy('step')
      .orderBy('timestamp')
      .orderBy('value')
      .orderBy('is_nan')
      .execute();
    let seq = 0;
    const segs: [number, number][] = [];
    for (const p of points) {
      const st = Number(p.step);
      const last = segs[segs.length - 1];
      if (last && st <= last[1] + 1) last[1] = st;
      else segs.push([st, st]);
    }
    if (segs.length > 1) {
      const known = segs.length <= 32;
      await db
        .updateTable('tracking_latest_metrics')
        .set({
          steps: known ? segs.reduce((n, [a, b]) => n + b - a + 1, 0) : 0,
          step_segments: known ? JSON.stringify(segs) : null,
        })
        .where('series_id', '=', series_id)
        .execute();
    }
    for (let i = 0; i < points.length; i += MIGRATED_BLOCK) {
      const chunk = points.slice(i, i + MIGRATED_BLOCK);
      const f = new Float64Array(chunk.length * 3);
      chunk.forEach((p, j) => {
        f[j * 3] = Number(p.step);
        f[j * 3 + 1] = Number(p.timestamp);
        f[j * 3 + 2] = Number(p.is_nan) ? NaN : Number(p.value);
      });
      seq++;
      await db
        .insertInto('tracking_metric_blocks')
        .values({
          series_id,
          seq,
          min_step: Number(chunk[0].step),
          max_step: Number(chunk[chunk.length - 1].step),
          n: chunk.length,
          data: Buffer.from(f.buffer),
        })
        .execute();
    }
  }
  await db.schema.dropTable('tracking_metrics').execute();
}

export async function down(): Promise<void> {
  throw new Error('downgrades are not supported');
}
