import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestServer, testDialects, type TestServer } from '../../testing/harness.js';
import { trackingClient, type TrackingClient } from './tracking-helpers.js';
import { LOG_MAX_POINTS, LOG_MAX_ROWS } from '../../tracking/metrics/metric-write.js';

/**
 * Metric requests that arrive together share one write (database.batch; on PostgreSQL a few
 * statements for the whole batch): each must end as if it had come alone.
 */
for (const dialect of testDialects()) {
  describe(`metric writes arriving together (${dialect})`, () => {
    let t: TestServer;
    let c: TrackingClient;
    before(async () => {
      t = await startTestServer(dialect);
      c = await trackingClient(t);
    });
    after(async () => t?.close());

    test('several runs, one run many times, new and known keys, a deleted and a missing run', async () => {
      const exp = await c.createExperiment('together');
      const runs = [await c.createRun(exp), await c.createRun(exp), await c.createRun(exp)];
      const gone = await c.createRun(exp);
      await c.ok('POST', '/runs/delete', { run_id: gone });
      const missing = 'f'.repeat(32);
      // Three waves of 45 requests at once: run 0 takes most (its log is folded into blocks on the
      // way), every fifth request logs a new key too, one in nine goes to the deleted or missing run.
      let step = 0;
      for (let wave = 0; wave < 3; wave++) {
        const sent = Array.from({ length: 45 }, (_, i) => {
          const s = step++;
          const target = i % 9 === 4 ? gone : i % 9 === 8 ? missing : runs[i % 3 === 0 ? 1 + (i % 2) : 0]!;
          const metrics = [{ key: 'loss', value: 1 / (s + 1), timestamp: 1000 + s, step: s }];
          if (i % 5 === 0) metrics.push({ key: `k${wave}_${i}`, value: s, timestamp: 1000 + s, step: 0 });
          const req =
            metrics.length === 1
              ? c.call('POST', '/runs/log-metric', { run_id: target, ...metrics[0] })
              : c.call('POST', '/runs/log-batch', { run_id: target, metrics });
          return req.then((r) => ({ r, target, metrics }));
        });
        for (const { r, target } of await Promise.all(sent)) {
          if (target === gone) {
            assert.equal(r.status, 400, r.text);
            assert.equal(r.body.error_code, 'INVALID_PARAMETER_VALUE');
            assert.match(r.text, /must be in the 'active' state/);
          } else if (target === missing) {
            assert.equal(r.status, 404, r.text);
            assert.equal(r.body.error_code, 'RESOURCE_DOES_NOT_EXIST');
          } else assert.equal(r.status, 200, r.text);
        }
        // What each run holds is what was sent to it, whatever went together.
        step = step - 45;
        const want = new Map<string, Map<string, { step: number; value: number; timestamp: number }[]>>();
        for (let i = 0; i < 45; i++) {
          const s = step++;
          if (i % 9 === 4 || i % 9 === 8) continue;
          const run = runs[i % 3 === 0 ? 1 + (i % 2) : 0]!;
          if (!want.has(run)) want.set(run, new Map());
          const byKey = want.get(run)!;
          const add = (key: string, p: { step: number; value: number; timestamp: number }) => {
            if (!byKey.has(key)) byKey.set(key, []);
            byKey.get(key)!.push(p);
          };
          add('loss', { step: s, value: 1 / (s + 1), timestamp: 1000 + s });
          if (i % 5 === 0) add(`k${wave}_${i}`, { step: 0, value: s, timestamp: 1000 + s });
        }
        for (const [run, byKey] of want)
          for (const [key, points] of byKey) {
            const got = (await c.ok('GET', `/metrics/get-history?run_id=${run}&metric_key=${key}`)).metrics as {
              step: number;
              value: number;
              timestamp: number;
            }[];
            const mine = got.filter((p) => p.timestamp >= 1000 + wave * 45 && p.timestamp < 1000 + (wave + 1) * 45);
            assert.deepEqual(
              mine.map((p) => [p.step, p.value, p.timestamp]).sort((a, b) => a[0]! - b[0]!),
              points.map((p) => [p.step, p.value, p.timestamp]).sort((a, b) => a[0]! - b[0]!),
              `${key} of ${run} in wave ${wave}`,
            );
          }
      }
      // Latest values: the last step of each run's loss, with its exact step count.
      for (const run of runs) {
        const info = (await c.ok('GET', `/runs/get?run_id=${run}`)).run;
        const loss = info.data.metrics.find((m: { key: string }) => m.key === 'loss');
        const history = (await c.ok('GET', `/metrics/get-history?run_id=${run}&metric_key=loss`)).metrics as {
          step: number;
          value: number;
        }[];
        const last = history.reduce((a, b) => (b.step > a.step ? b : a));
        assert.equal(loss.step, last.step);
        assert.equal(loss.value, last.value);
      }
      // Nothing went into the deleted run.
      await c.ok('POST', '/runs/restore', { run_id: gone });
      const goneRun = (await c.ok('GET', `/runs/get?run_id=${gone}`)).run;
      assert.deepEqual(goneRun.data.metrics ?? [], []);
      const goneHistory = await c.ok('GET', `/metrics/get-history?run_id=${gone}&metric_key=loss`);
      assert.deepEqual(goneHistory.metrics ?? [], []);
    });

    // (PostgreSQL's batched metric writes: tracking/metrics/metric-cache.ts.)
    if (dialect === 'postgres')
      test('a batch of runs this server wrote last goes without a read; what another server wrote meanwhile is found', async () => {
        // A second server on the same database (a replica), writing into the same runs.
        const homeB = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-replica-'));
        fs.copyFileSync(path.join(t.home, 'master.key'), path.join(homeB, 'master.key'));
        const b = await startTestServer('postgres', { home: homeB, databaseUrl: t.server.ctx.config.databaseUrl });
        try {
          const cb = await trackingClient(b, { ...c.ws, api: c.ws.api.replace(t.url, b.url) });
          const cache = t.server.services.tracking.runs.metricCache;
          const exp = await c.createExperiment('known-runs');
          const runs = await Promise.all([0, 1, 2, 3].map(() => c.createRun(exp)));
          const sent = new Map<string, [number, number][]>(runs.map((r) => [r, []]));
          let step = 0;
          /** `n` log-metric requests at once through `client`, spread over the runs (new steps, new latest values). */
          const wave = (client: TrackingClient, n: number, to = runs) =>
            Promise.all(
              Array.from({ length: n }, (_, i) => {
                const run = to[i % to.length]!;
                const s = step++;
                sent.get(run)!.push([s, s / 7]);
                return client.ok('POST', '/runs/log-metric', {
                  run_id: run,
                  key: 'loss',
                  value: s / 7,
                  timestamp: s,
                  step: s,
                });
              }),
            );
          await wave(c, 8);
          const known = { ...cache.counts };
          for (let i = 0; i < 10; i++) await wave(c, 8);
          assert.ok(
            cache.counts.direct > known.direct,
            `no batch went without a read: ${JSON.stringify(cache.counts)}`,
          );
          assert.equal(cache.counts.stale, known.stale, 'a batch found rows that only this server wrote changed');

          // The other server writes every run (new latest values, log rows); this server's next
          // batches find that, run again on what the rows hold, and then go without a read again.
          await wave(cb, 8);
          await wave(c, 8);
          assert.ok(
            cache.counts.stale > known.stale,
            `no batch found the other server's writes: ${JSON.stringify(cache.counts)}`,
          );
          const direct = cache.counts.direct;
          await wave(c, 8);
          assert.ok(cache.counts.direct > direct, 'the batch after a stale one did not go without a read');

          // A run deleted meanwhile (on the other server) refuses as before.
          await cb.ok('POST', '/runs/delete', { run_id: runs[3] });
          const r = await c.call('POST', '/runs/log-metric', {
            run_id: runs[3],
            key: 'loss',
            value: 0,
            timestamp: 0,
            step: 0,
          });
          assert.equal(r.status, 400, r.text);
          assert.match(r.text, /must be in the 'active' state/);
          await wave(c, 6, runs.slice(0, 3));

          // Every point that was acknowledged is kept, once; the latest value is the last step's.
          for (const run of runs) {
            const history = (await c.ok('GET', `/metrics/get-history?run_id=${run}&metric_key=loss`)).metrics as {
              step: number;
              value: number;
            }[];
            const want = sent.get(run)!.sort((x, y) => x[0] - y[0]);
            assert.deepEqual(
              history.map((p) => [p.step, p.value]).sort((x, y) => x[0]! - y[0]!),
              want,
              `the history of ${run}`,
            );
            if (run === runs[3]) continue;
            const loss = (await c.ok('GET', `/runs/get?run_id=${run}`)).run.data.metrics.find(
              (m: { key: string }) => m.key === 'loss',
            );
            assert.deepEqual([loss.step, loss.value], want.at(-1));
          }
        } finally {
          await b.close({ keepData: true });
          fs.rmSync(homeB, { recursive: true, force: true });
        }
      });

    test("a run's log: rows numbered from 1, its last row counts the points so far, folded at its limits", async () => {
      const run = await c.createRun(await c.createExperiment('log-shape'));
      const log = async () =>
        (
          await t.server.ctx.db
            .selectFrom('tracking_metric_log')
            .select(['seq', 'n', 'points_through'])
            .where('run_uuid', '=', run)
            .orderBy('seq')
            .execute()
        ).map((r) => [Number(r.seq), Number(r.n), Number(r.points_through)]);
      let step = 0;
      let points = 0;
      // Waves of requests at once (batched where the dialect batches), 1 to 3 points each.
      for (let wave = 0; wave < 6; wave++) {
        await Promise.all(
          Array.from({ length: 8 }, (_, i) => {
            const metrics = Array.from({ length: 1 + (i % 3) }, () => ({
              key: 'm',
              value: step,
              timestamp: 1,
              step: step++,
            }));
            points += metrics.length;
            return c.ok('POST', '/runs/log-batch', { run_id: run, metrics });
          }),
        );
        const rows = await log();
        assert.ok(rows.length <= LOG_MAX_ROWS, `${rows.length} rows in the log`);
        let sum = 0;
        rows.forEach(([seq, n, through], i) => {
          sum += n!;
          assert.equal(seq, i + 1, 'log rows are numbered from 1');
          assert.equal(through, sum, 'points_through is the points of the log so far');
        });
      }
      const history = (await c.ok('GET', `/metrics/get-history?run_id=${run}&metric_key=m`)).metrics as unknown[];
      assert.equal(history.length, points);
      // One large request past the points limit folds the log.
      const big = Array.from({ length: LOG_MAX_POINTS }, () => ({ key: 'm', value: 0, timestamp: 2, step: step++ }));
      for (let i = 0; i < big.length; i += 1000)
        await c.ok('POST', '/runs/log-batch', { run_id: run, metrics: big.slice(i, i + 1000) });
      const rows = await log();
      const inLog = rows.reduce((a, r) => a + r[1]!, 0);
      assert.ok(inLog <= LOG_MAX_POINTS, `${inLog} points in the log`);
      assert.equal(rows.at(-1)?.[2] ?? 0, inLog);
    });
  });
}
