import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Kysely } from 'kysely';
import { migrateBefore, openTestDatabase, testDialects } from '../../testing/harness.js';
import { migrateToLatest } from '../../store/migrate.js';
import { MetricService } from './metrics.js';
import { RunService } from '../runs/runs.js';
import { ExperimentService } from '../experiments/experiments.js';

/** A database at the schema before 0180, with metric points as rows of tracking_metrics. */
for (const dialect of testDialects()) {
  test(`migration 0180 moves metric points into blocks (${dialect})`, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-0180-'));
    const { database, drop } = await openTestDatabase(dialect, dir);
    try {
      await migrateBefore(database, '0180');
      const db = database.db as unknown as Kysely<any>;
      const ws = '11111111-2222-3333-4444-555555555555';
      const run = 'a'.repeat(32);
      await db
        .insertInto('tracking_experiments')
        .values({
          workspace_id: ws,
          experiment_id: 0,
          name: 'Default',
          artifact_location: 'x',
          lifecycle_stage: 'active',
          creation_time: 0,
          last_update_time: 0,
        })
        .execute();
      await db
        .insertInto('tracking_runs')
        .values({
          run_uuid: run,
          workspace_id: ws,
          experiment_id: 0,
          name: 'r',
          user_id: 'u',
          status: 'RUNNING',
          start_time: 0,
          end_time: null,
          lifecycle_stage: 'active',
          artifact_uri: 'x',
          deleted_time: null,
        })
        .execute();
      // Series: contiguous with NaN and repeated steps; three ranges; 40 ranges; 1300 points (several blocks).
      const series: Record<string, { step: number; timestamp: number; value: number }[]> = {
        dense: [
          { step: 2, timestamp: 5, value: NaN },
          { step: 0, timestamp: 1, value: 0.5 },
          { step: 1, timestamp: 1, value: Infinity },
          { step: 2, timestamp: 5, value: 0 },
          { step: 2, timestamp: 4, value: -1 },
        ],
        holes: [0, 1, 2, 10, 11, 20].map((s) => ({ step: s, timestamp: s, value: s / 2 })),
        sparse: Array.from({ length: 40 }, (_, i) => ({ step: i * 2, timestamp: 0, value: i })),
        long: Array.from({ length: 1300 }, (_, i) => ({ step: 1299 - i, timestamp: 7, value: Math.sin(i) })),
      };
      for (const [key, pts] of Object.entries(series)) {
        const steps = [...new Set(pts.map((p) => p.step))];
        const last = [...pts].sort((a, b) => b.step - a.step || b.timestamp - a.timestamp)[0]!;
        const { series_id } = await db
          .insertInto('tracking_latest_metrics')
          .values({
            run_uuid: run,
            key,
            step: last.step,
            timestamp: last.timestamp,
            value: Number.isNaN(last.value) ? 0 : last.value,
            is_nan: Number.isNaN(last.value) ? 1 : 0,
            workspace_id: ws,
            experiment_id: 0,
            min_step: Math.min(...steps),
            max_step: Math.max(...steps),
            steps: steps.length,
          })
          .returning('series_id')
          .executeTakeFirstOrThrow();
        for (let i = 0; i < pts.length; i += 200) {
          await db
            .insertInto('tracking_metrics')
            .values(
              pts.slice(i, i + 200).map((p) => ({
                series_id,
                step: p.step,
                timestamp: p.timestamp,
                value: Number.isNaN(p.value) ? 0 : p.value,
                is_nan: Number.isNaN(p.value) ? 1 : 0,
              })),
            )
            .execute();
        }
      }

      await migrateToLatest(database.db);
      await assert.rejects(db.selectFrom('tracking_metrics').selectAll().execute());
      const m = new MetricService(database);
      const history = async (key: string) =>
        (await m.history(ws, { run_id: run, metric_key: key })).metrics.map((p) => [p.step, p.timestamp, p.value]);
      assert.deepEqual(await history('dense'), [
        [0, 1, 0.5],
        [1, 1, 'Infinity'],
        [2, 4, -1],
        [2, 5, 0],
        [2, 5, 'NaN'],
      ]);
      assert.deepEqual(
        await history('holes'),
        series.holes!.map((p) => [p.step, p.timestamp, p.value]),
      );
      assert.deepEqual(
        (await history('long')).map((p) => p[0]),
        Array.from({ length: 1300 }, (_, i) => i),
      );
      const page = await m.history(ws, { run_id: run, metric_key: 'long', max_results: '600' });
      const page2 = await m.history(ws, {
        run_id: run,
        metric_key: 'long',
        max_results: '600',
        page_token: page.next_page_token,
      });
      assert.deepEqual(
        [page2.metrics[0]!.step, page2.metrics.length, typeof page2.next_page_token],
        [600, 600, 'string'],
      );
      const summaries = await db
        .selectFrom('tracking_latest_metrics')
        .select(['key', 'steps', 'step_segments'])
        .orderBy('key')
        .execute();
      assert.deepEqual(
        summaries.map((s) => [s.key, Number(s.steps), s.step_segments]),
        [
          ['dense', 3, null],
          ['holes', 6, '[[0,2],[10,11],[20,20]]'],
          ['long', 1300, null],
          ['sparse', 0, null],
        ],
      );
      const blocks = await db
        .selectFrom('tracking_metric_blocks')
        .select(['seq', 'min_step', 'max_step', 'n'])
        .orderBy('series_id')
        .orderBy('seq')
        .execute();
      assert.deepEqual(
        blocks.map((b) => Number(b.n)),
        [5, 6, 40, ...new Array(10).fill(128), 20],
      );
      const bulk = await m.bulkInterval(ws, { run_ids: [run], metric_key: 'sparse', max_results: '5' });
      assert.deepEqual(
        bulk.metrics.map((p) => p.step),
        [0, 16, 32, 48, 64, 78],
      );

      // New points go on as before.
      const runs = new RunService(database, new ExperimentService(database));
      await runs.logBatch(ws, run, {
        metrics: [
          { key: 'holes', value: 1, timestamp: 1, step: 3 },
          { key: 'long', value: 1, timestamp: 1, step: 1300 },
        ],
      });
      assert.deepEqual(
        (await history('holes')).map((p) => p[0]),
        [0, 1, 2, 3, 10, 11, 20],
      );
      assert.equal((await history('long')).length, 1301);
    } finally {
      await database.close();
      await drop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}
