import { sql, type Kysely } from 'kysely';

/**
 * Per-block stats of metric points (tracking/metrics/metric-blocks.ts BlockStats): count, least
 * and greatest value, last point, timestamp range. The metric-bucket route answers from them and
 * reads only the blocks that straddle a bucket's edge. Small rows apart from the blocks, so reading
 * a long series' stats does not read its points. Existing blocks get theirs here.
 */
/** Stats of records [step, timestamp, value] (little-endian doubles), as the writer computes them then. */
function statsOf(b: Uint8Array) {
  const copy = new Uint8Array(b.byteLength);
  copy.set(b);
  const f = new Float64Array(copy.buffer);
  let min = Infinity;
  let max = -Infinity;
  let values = 0;
  let minTs = Infinity;
  let maxTs = -Infinity;
  let [ls, lt, lv] = [f[0]!, f[1]!, f[2]!];
  // MLflow's order: step, timestamp, then value with NaN as 0 and after the 0 it equals.
  const later = (s: number, t: number, v: number) =>
    s !== ls
      ? s > ls
      : t !== lt
        ? t > lt
        : (v === v ? v : 0) !== (lv === lv ? lv : 0)
          ? (v === v ? v : 0) > (lv === lv ? lv : 0)
          : v !== v && lv === lv;
  for (let i = 0; i < f.length; i += 3) {
    const [s, t, v] = [f[i]!, f[i + 1]!, f[i + 2]!];
    if (v === v) {
      values++;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    if (t < minTs) minTs = t;
    if (t > maxTs) maxTs = t;
    if (later(s, t, v)) [ls, lt, lv] = [s, t, v];
  }
  return {
    n: f.length / 3,
    minValue: values ? min : null,
    maxValue: values ? max : null,
    lastStep: ls,
    lastTimestamp: lt,
    lastValue: lv,
    minTimestamp: minTs,
    maxTimestamp: maxTs,
  };
}

export async function up(db: Kysely<any>): Promise<void> {
  const sqlite = db.getExecutor().adapter.constructor.name.toLowerCase().includes('sqlite');
  await db.schema
    .createTable('tracking_metric_block_stats')
    .addColumn('series_id', sqlite ? 'integer' : 'bigint', (c) => c.notNull())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('n', 'bigint', (c) => c.notNull())
    .addColumn('min_value', 'double precision')
    .addColumn('max_value', 'double precision')
    .addColumn('last_step', 'bigint', (c) => c.notNull())
    .addColumn('last_timestamp', 'bigint', (c) => c.notNull())
    .addColumn('last_value', 'double precision', (c) => c.notNull())
    .addColumn('last_is_nan', 'integer', (c) => c.notNull())
    .addColumn('min_timestamp', 'bigint', (c) => c.notNull())
    .addColumn('max_timestamp', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('tracking_metric_block_stats_pk', ['series_id', 'seq'])
    .execute();

  // Existing blocks, a page at a time (a block is a few KB).
  let after: [number, number] = [-1, -1];
  for (;;) {
    const page = await db
      .selectFrom('tracking_metric_blocks')
      .select(['series_id', 'seq', 'data'])
      .where(sql<boolean>`(series_id > ${after[0]} or (series_id = ${after[0]} and seq > ${after[1]}))`)
      .orderBy('series_id')
      .orderBy('seq')
      .limit(500)
      .execute();
    if (page.length === 0) break;
    const rows = page
      .filter((b) => (b.data as Uint8Array).byteLength > 0)
      .map((b) => {
        const s = statsOf(b.data as Uint8Array);
        const nan = Number.isNaN(s.lastValue);
        return {
          series_id: Number(b.series_id),
          seq: Number(b.seq),
          n: s.n,
          min_value: s.minValue,
          max_value: s.maxValue,
          last_step: s.lastStep,
          last_timestamp: s.lastTimestamp,
          last_value: nan ? 0 : s.lastValue,
          last_is_nan: nan ? 1 : 0,
          min_timestamp: s.minTimestamp,
          max_timestamp: s.maxTimestamp,
        };
      });
    for (let i = 0; i < rows.length; i += 100)
      await db
        .insertInto('tracking_metric_block_stats')
        .values(rows.slice(i, i + 100))
        .execute();
    const last = page[page.length - 1]!;
    after = [Number(last.series_id), Number(last.seq)];
  }
}

export async function down(): Promise<void> {
  throw new Error('downgrades are not supported');
}
