import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Kysely } from 'kysely';
import { startTestServer, testDialects, type TestServer } from '../../testing/harness.js';
import { trackingClient, type TrackingClient } from './tracking-helpers.js';
import { up as blockStatsMigration } from '../../store/migrations/0260-metric-block-stats.js';

type P = { step: number; timestamp: number; value: number };
const num = (v: unknown) =>
  v === 'NaN' ? NaN : v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : (v as number);
const order = (a: P, b: P) =>
  a.step - b.step ||
  a.timestamp - b.timestamp ||
  (Number.isNaN(a.value) ? 0 : a.value) - (Number.isNaN(b.value) ? 0 : b.value) ||
  (Number.isNaN(a.value) ? 1 : 0) - (Number.isNaN(b.value) ? 1 : 0);

/** The buckets, computed the slow way from every point (the oracle). */
function reference(points: P[], lo: number, hi: number, n: number, x: (p: P) => number, time = false) {
  const w = (hi - lo + 1) / n;
  const out = new Map<
    number,
    { start: number; end: number; s0: number; s1: number; min: number; max: number; last: P; count: number }
  >();
  for (const p of points) {
    const v = x(p);
    if (v < lo || v > hi) continue;
    const k = Math.min(n - 1, Math.floor((v - lo) / w));
    const b = out.get(k);
    if (!b) {
      out.set(k, {
        start: v,
        end: v,
        s0: p.step,
        s1: p.step,
        min: Number.isNaN(p.value) ? Infinity : p.value,
        max: Number.isNaN(p.value) ? -Infinity : p.value,
        last: p,
        count: 1,
      });
      continue;
    }
    b.start = Math.min(b.start, v);
    b.end = Math.max(b.end, v);
    b.s0 = Math.min(b.s0, p.step);
    b.s1 = Math.max(b.s1, p.step);
    if (!Number.isNaN(p.value)) {
      b.min = Math.min(b.min, p.value);
      b.max = Math.max(b.max, p.value);
    }
    if (order(p, b.last) > 0) b.last = p;
    b.count++;
  }
  return [...out.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([bucket, b]) => ({
      bucket,
      start_step: b.s0,
      end_step: b.s1,
      ...(time ? { start_time: b.start, end_time: b.end } : {}),
      min: b.min === Infinity ? null : b.min,
      max: b.max === -Infinity ? null : b.max,
      last: b.last.value,
      last_step: b.last.step,
      last_timestamp: b.last.timestamp,
      count: b.count,
    }));
}

const normal = (buckets: any[]) =>
  buckets.map((b) => ({
    ...b,
    min: b.min === null ? null : num(b.min),
    max: b.max === null ? null : num(b.max),
    last: num(b.last),
  }));

for (const dialect of testDialects()) {
  describe(`metric buckets (${dialect})`, () => {
    let t: TestServer;
    let c: TrackingClient;
    let run: string;
    let other: string;
    const points: P[] = [];
    const T0 = 1_700_000_000_000;
    before(async () => {
      t = await startTestServer(dialect);
      c = await trackingClient(t);
      const exp = await c.createExperiment('buckets');
      run = await c.createRun(exp);
      other = await c.createRun(exp);
      // 20,000 points in batches of 1000 (folded into blocks after 16), a spike, NaN and infinities,
      // then single points (a small last block taking appended points), some not yet folded.
      for (let i = 0; i < 20_000; i++) {
        let value = Math.sin(i / 300) + (i % 7) / 100;
        if (i === 12_345) value = 1000;
        if (i % 997 === 0) value = NaN;
        if (i === 5_000) value = -Infinity;
        if (i === 5_001) value = Infinity;
        points.push({ step: i, timestamp: T0 + i * 10 + (i % 3), value });
      }
      // Steps logged twice with other timestamps (several points per step).
      for (let i = 3_000; i < 3_050; i++) points.push({ step: i, timestamp: T0 + i * 10 + 5, value: -5 });
      const wire = (p: P) => ({
        key: 'loss',
        value: Number.isNaN(p.value)
          ? 'NaN'
          : p.value === Infinity
            ? 'Infinity'
            : p.value === -Infinity
              ? '-Infinity'
              : p.value,
        timestamp: p.timestamp,
        step: p.step,
      });
      for (let i = 0; i < points.length; i += 1000)
        await c.ok('POST', '/runs/log-batch', { run_id: run, metrics: points.slice(i, i + 1000).map(wire) });
      for (let i = 20_000; i < 20_040; i++) {
        const p = { step: i, timestamp: T0 + i * 10, value: i % 2 ? 0.5 : -0.5 };
        points.push(p);
        await c.ok('POST', '/runs/log-batch', { run_id: run, metrics: [wire(p)] });
      }
      points.sort(order);
    });
    after(async () => t?.close());

    const buckets = (q: string) => c.ok('GET', `/metrics/get-history-buckets?metric_key=loss&${q}`);

    test('every bucket matches the points: whole range, zooms, odd edges, bucket counts', async () => {
      const blocks = await t.server.ctx.db
        .selectFrom('tracking_metric_block_stats')
        .select((e) => e.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      assert.ok(Number(blocks.n) > 100, 'the series is in blocks with stats');
      for (const [range, n] of [
        ['', 1000],
        ['', 1],
        ['', 7],
        ['', 10_000],
        ['&min_step=1234&max_step=1234', 3],
        ['&min_step=100&max_step=2000', 1000],
        ['&min_step=2990&max_step=3060', 13],
        ['&min_step=19990&max_step=25000', 20],
        ['&min_step=-50&max_step=500', 64],
      ] as const) {
        const r = await buckets(`run_id=${run}&buckets=${n}${range}`);
        const lo = /min_step=(-?\d+)/.exec(range)?.[1];
        const hi = /max_step=(-?\d+)/.exec(range)?.[1];
        const start = lo === undefined ? 0 : Number(lo);
        const end = hi === undefined ? 20_039 : Number(hi);
        assert.equal(r.start, start);
        assert.equal(r.end, end);
        assert.equal(r.x_axis, 'step');
        assert.deepEqual(
          normal(r.buckets),
          reference(points, start, end, n, (p) => p.step),
          `range '${range}', ${n} buckets`,
        );
      }
      // The spike survives at 1,000 buckets: the chart shows it.
      const r = await buckets(`run_id=${run}&buckets=1000`);
      assert.equal(r.run_id, run);
      assert.equal(r.bucket_count, 1000);
      assert.ok(r.buckets.some((b: any) => b.max === 1000));
      assert.ok(r.buckets.some((b: any) => b.min === '-Infinity'));
    });

    test('relative time: x is ms since the series first point', async () => {
      for (const [range, n] of [
        ['', 500],
        ['&min_relative_time=30000&max_relative_time=40000', 100],
      ] as const) {
        const r = await buckets(`run_id=${run}&buckets=${n}&x_axis=relative_time${range}`);
        assert.equal(r.first_timestamp, T0);
        const lo = /min_relative_time=(\d+)/.exec(range)?.[1];
        const hi = /max_relative_time=(\d+)/.exec(range)?.[1];
        const start = lo === undefined ? 0 : Number(lo);
        const end = hi === undefined ? Math.max(...points.map((p) => p.timestamp)) - T0 : Number(hi);
        assert.equal(r.end, end);
        assert.deepEqual(
          normal(r.buckets),
          reference(points, start, end, n, (p) => p.timestamp - T0, true),
          range,
        );
      }
    });

    test('several runs share the bucket edges; runs without the metric have no buckets', async () => {
      await c.ok('POST', '/runs/log-batch', {
        run_id: other,
        metrics: [
          { key: 'loss', value: 3, timestamp: T0, step: 50_000 },
          { key: 'loss', value: 4, timestamp: T0 + 1, step: 50_001 },
        ],
      });
      const ghost = 'f'.repeat(32);
      const r = await buckets(`run_ids=${run}&run_ids=${other}&run_ids=${ghost}&buckets=10`);
      assert.equal(r.start, 0);
      assert.equal(r.end, 50_001);
      assert.deepEqual(
        r.series.map((s: any) => s.run_id),
        [run, other, ghost],
      );
      assert.deepEqual(
        normal(r.series[0].buckets),
        reference(points, 0, 50_001, 10, (p) => p.step),
      );
      assert.equal(r.series[1].buckets.length, 1);
      assert.deepEqual(r.series[1].buckets[0], {
        bucket: 9,
        start_step: 50_000,
        end_step: 50_001,
        min: 3,
        max: 4,
        last: 4,
        last_step: 50_001,
        last_timestamp: T0 + 1,
        count: 2,
      });
      assert.deepEqual(r.series[2].buckets, []);
      const none = await c.ok('GET', `/metrics/get-history-buckets?metric_key=nope&run_id=${run}`);
      assert.equal(none.run_id, run);
      assert.deepEqual(none.buckets, []);
      await c.fails(
        'GET',
        `/metrics/get-history-buckets?metric_key=loss&run_id=${run}&run_ids=${other}`,
        undefined,
        400,
        'INVALID_PARAMETER_VALUE',
        /not both/,
      );
    });

    test('stats made by the migration are those the writer makes, and missing stats fall back to points', async () => {
      const db = t.server.ctx.db as unknown as Kysely<any>;
      const cols = [
        'series_id',
        'seq',
        'n',
        'min_value',
        'max_value',
        'last_step',
        'last_timestamp',
        'last_value',
        'last_is_nan',
        'min_timestamp',
        'max_timestamp',
      ];
      const rows = async () =>
        (
          await db.selectFrom('tracking_metric_block_stats').select(cols).orderBy('series_id').orderBy('seq').execute()
        ).map((r) => cols.map((k) => (r[k] === null ? null : Number(r[k]))));
      const written = await rows();
      const want = await buckets(`run_id=${run}&buckets=333`);
      await db.deleteFrom('tracking_metric_block_stats').execute();
      assert.deepEqual(await buckets(`run_id=${run}&buckets=333`), want, 'answered from the points alone');
      await db.schema.dropTable('tracking_metric_block_stats').execute();
      await blockStatsMigration(db);
      const made = await rows();
      // The writer leaves no stats for a block that took appended points; the migration makes them.
      const key = (r: unknown[]) => `${r[0]}/${r[1]}`;
      const byKey = new Map(made.map((r) => [key(r), r]));
      for (const r of written) assert.deepEqual(byKey.get(key(r)), r);
      assert.ok(made.length >= written.length);
      assert.deepEqual(await buckets(`run_id=${run}&buckets=333`), want);
    });

    test('layout=columns: the same buckets as one array per field, single and several runs, both axes', async () => {
      const transpose = (cols: any) =>
        cols.bucket.map((_: unknown, i: number) =>
          Object.fromEntries(Object.entries(cols).map(([k, v]) => [k, (v as unknown[])[i]])),
        );
      const ghost = 'e'.repeat(32);
      for (const q of [
        `run_id=${run}&buckets=300`,
        `run_id=${run}&buckets=64&min_step=2990&max_step=9000`,
        `run_ids=${run}&run_ids=${other}&run_ids=${ghost}&buckets=50`,
        `run_id=${run}&buckets=40&x_axis=relative_time`,
      ]) {
        const objects = await buckets(q);
        const columns = await buckets(`${q}&layout=columns`);
        if (objects.series) {
          assert.deepEqual(
            columns.series.map(({ columns: cols, ...s }: any) => ({ ...s, buckets: transpose(cols) })),
            objects.series,
            q,
          );
          assert.equal(columns.series[2].columns.bucket.length, 0);
        } else {
          assert.ok(columns.columns.bucket.length > 0);
          const { columns: cols, ...rest } = columns;
          assert.deepEqual({ ...rest, buckets: transpose(cols) }, objects, q);
          assert.equal(columns.buckets, undefined);
        }
      }
      await c.fails(
        'GET',
        `/metrics/get-history-buckets?metric_key=loss&run_id=${run}&layout=rows`,
        undefined,
        400,
        'INVALID_PARAMETER_VALUE',
        /layout must be 'objects' or 'columns'/,
      );
    });

    test('reads between writes see every point: the cached block lists and stats follow folds and appends', async () => {
      const exp = await c.createExperiment('buckets-cache');
      const id = await c.createRun(exp);
      const pts: P[] = [];
      const log = async (from: number, to: number, batch: number) => {
        for (let i = from; i < to; i += batch) {
          const ps = [];
          for (let j = i; j < Math.min(to, i + batch); j++) {
            const p = { step: j, timestamp: T0 + j, value: Math.cos(j / 50) + (j === 11_111 ? 7 : 0) };
            pts.push(p);
            ps.push({ key: 'acc', value: p.value, timestamp: p.timestamp, step: p.step });
          }
          await c.ok('POST', '/runs/log-batch', { run_id: id, metrics: ps });
        }
      };
      const check = async (what: string) => {
        pts.sort(order);
        const hi = pts[pts.length - 1]!.step;
        for (const [lo, top, n] of [
          [0, hi, 37],
          [1_000, 9_000, 50],
        ] as const) {
          const r = await c.ok(
            'GET',
            `/metrics/get-history-buckets?metric_key=acc&run_id=${id}&buckets=${n}&min_step=${lo}&max_step=${top}`,
          );
          assert.deepEqual(
            normal(r.buckets),
            reference(pts, lo, top, n, (p) => p.step),
            `${what}: ${lo}–${top}`,
          );
        }
      };
      // Enough points for the long-series cache (over 64 blocks), read; then single points (into
      // the log, then appended to a small last block by a fold), more batches, reading in between.
      await log(0, 17_000, 1000);
      await check('batches');
      for (let k = 0; k < 3; k++) {
        await log(17_000 + k * 20, 17_020 + k * 20, 1);
        await check(`single points ${k}`);
      }
      await log(17_060, 40_000, 1000);
      await check('more batches');
    });

    test('bad requests say what to change; no token is 401', async () => {
      await c.fails(
        'GET',
        '/metrics/get-history-buckets?metric_key=loss',
        undefined,
        400,
        'INVALID_PARAMETER_VALUE',
        /run_id/,
      );
      await c.fails(
        'GET',
        `/metrics/get-history-buckets?run_id=${run}`,
        undefined,
        400,
        'INVALID_PARAMETER_VALUE',
        /metric_key/,
      );
      await c.fails(
        'GET',
        `/metrics/get-history-buckets?run_id=${run}&metric_key=loss&buckets=0`,
        undefined,
        400,
        'INVALID_PARAMETER_VALUE',
        /buckets/,
      );
      await c.fails(
        'GET',
        `/metrics/get-history-buckets?run_id=${run}&metric_key=loss&buckets=10001`,
        undefined,
        400,
        'INVALID_PARAMETER_VALUE',
        /buckets/,
      );
      await c.fails(
        'GET',
        `/metrics/get-history-buckets?run_id=${run}&metric_key=loss&min_step=9&max_step=5`,
        undefined,
        400,
        'INVALID_PARAMETER_VALUE',
        /min_step/,
      );
      await c.fails(
        'GET',
        `/metrics/get-history-buckets?run_id=${run}&metric_key=loss&x_axis=wall`,
        undefined,
        400,
        'INVALID_PARAMETER_VALUE',
        /x_axis/,
      );
      await c.fails(
        'GET',
        `/metrics/get-history-buckets?run_id=${run}&metric_key=loss&min_relative_time=5`,
        undefined,
        400,
        'INVALID_PARAMETER_VALUE',
        /relative_time/,
      );
      const many = Array.from({ length: 101 }, (_, i) => `run_ids=${i.toString(16).padStart(32, '0')}`).join('&');
      await c.fails(
        'GET',
        `/metrics/get-history-buckets?metric_key=loss&${many}`,
        undefined,
        400,
        'INVALID_PARAMETER_VALUE',
        /100/,
      );
      const r = await c.call('GET', `/metrics/get-history-buckets?run_id=${run}&metric_key=loss`, undefined, {
        token: null,
      });
      assert.equal(r.status, 401);
    });
  });
}
