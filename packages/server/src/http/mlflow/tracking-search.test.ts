import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, testDialects, type TestServer } from '../../testing/harness.js';
import { trackingClient, type TrackingClient } from './tracking-helpers.js';

/**
 * MLflow's step sampling, written out from its definition (handlers.py) over an explicit list of
 * steps, to check the server's (which samples contiguous series without reading them).
 */
function expectedSteps(perRun: number[][], max: number, start?: number, end?: number): number[] {
  const all = [...new Set(perRun.flat())].sort((a, b) => a - b);
  const minsMaxes = new Set(perRun.filter((r) => r.length).flatMap((r) => [Math.min(...r), Math.max(...r)]));
  const s = start ?? 0;
  const e = end ?? (all.length ? all[all.length - 1]! : 0);
  const lo = all.findIndex((x) => x >= s);
  const startIdx = lo < 0 ? all.length : lo;
  let endIdx = all.length;
  for (let i = 0; i < all.length; i++)
    if (all[i]! > e) {
      endIdx = i;
      break;
    }
  const out = new Set<number>();
  if (endIdx - startIdx <= max) all.slice(startIdx, endIdx).forEach((x) => out.add(x));
  else {
    const num = endIdx - startIdx;
    const interval = num / max;
    for (let i = 0; i < max; i++) {
      const idx = startIdx + Math.trunc(i * interval);
      if (idx < num) out.add(all[idx]!);
    }
    out.add(all[endIdx - 1]!);
  }
  for (const m of minsMaxes) if (m >= s && m <= e) out.add(m);
  return [...out].sort((a, b) => a - b);
}

for (const dialect of testDialects()) {
  describe(`MLflow run search and metric sampling (${dialect})`, () => {
    let t: TestServer;
    let c: TrackingClient;
    let exp: string;
    let exp2: string;
    const runs: Record<string, string> = {};
    before(async () => {
      t = await startTestServer(dialect);
      c = await trackingClient(t);
      exp = await c.createExperiment('search');
      exp2 = await c.createExperiment('search-2');
      // r0..r5: acc 0.5..1.0 (r5 has none), lr params, tags; start times 1000..6000.
      const specs = [
        { name: 'r0', acc: 0.5, lr: '0.1', team: 'a', status: 'FINISHED' },
        { name: 'r1', acc: 0.9, lr: '0.01', team: 'b', status: 'FINISHED' },
        { name: 'r2', acc: 0.7, lr: '0.1', team: 'a', status: 'FAILED' },
        { name: 'R3', acc: 0.95, lr: '0.001', team: 'B', status: 'RUNNING' },
        { name: 'r4', acc: 0.6, lr: '0.01', team: 'c', status: 'FINISHED', exp2: true },
        { name: 'r5', acc: undefined, lr: '1', team: 'a', status: 'RUNNING' },
      ];
      for (const [i, s] of specs.entries()) {
        const id = await c.createRun(s.exp2 ? exp2 : exp, { run_name: s.name, start_time: 1000 * (i + 1) });
        runs[s.name] = id;
        await c.ok('POST', '/runs/log-batch', {
          run_id: id,
          metrics:
            s.acc === undefined
              ? []
              : [
                  { key: 'acc', value: s.acc, timestamp: 1, step: 0 },
                  { key: 'my metric', value: i, timestamp: 1, step: 0 },
                ],
          params: [{ key: 'lr', value: s.lr }],
          tags: [{ key: 'team', value: s.team }],
        });
        if (s.status !== 'RUNNING')
          await c.ok('POST', '/runs/update', { run_id: id, status: s.status, end_time: 1000 * (i + 1) + 500 });
      }
      await c.ok('POST', '/runs/log-inputs', {
        run_id: runs.r1,
        datasets: [
          {
            tags: [{ key: 'mlflow.data.context', value: 'training' }],
            dataset: { name: 'iris', digest: 'd1', source_type: 'local', source: 's' },
          },
        ],
      });
    });
    after(async () => t?.close());

    const names = (b: any) => (b.runs ?? []).map((r: any) => r.info.run_name);
    const search = async (filter: string, extra: Record<string, unknown> = {}) =>
      names(await c.ok('POST', '/runs/search', { experiment_ids: [exp, exp2], filter, ...extra }));

    test('filters on metrics, params, tags, attributes and datasets', async () => {
      assert.deepEqual(await search(''), ['r5', 'r4', 'R3', 'r2', 'r1', 'r0']);
      assert.deepEqual(await search('metrics.acc > 0.6'), ['R3', 'r2', 'r1']);
      assert.deepEqual(await search('metrics.acc >= 0.6 and metrics.acc <= 0.9'), ['r4', 'r2', 'r1']);
      assert.deepEqual(await search('metrics.acc = 0.5'), ['r0']);
      assert.deepEqual(await search('metrics.acc != 0.5'), ['r4', 'R3', 'r2', 'r1']);
      assert.deepEqual(await search('metrics.`my metric` < 2'), ['r1', 'r0']);
      assert.deepEqual(await search('metrics."my metric" >= 4'), ['r4']);
      assert.deepEqual(await search("params.lr = '0.1'"), ['r2', 'r0']);
      assert.deepEqual(await search('params.lr = "0.01" AND metrics.acc > 0.7'), ['r1']);
      assert.deepEqual(await search("params.lr IN ('0.001', '1')"), ['r5', 'R3']);
      assert.deepEqual(await search("params.lr NOT IN ('0.1', '0.01')"), ['r5', 'R3']);
      assert.deepEqual(await search("params.lr LIKE '0.0%'"), ['r4', 'R3', 'r1']);
      assert.deepEqual(await search("tags.team = 'b'"), ['r1']);
      assert.deepEqual(await search("tags.team LIKE 'b'"), ['r1']);
      assert.deepEqual(await search("tags.team ILIKE 'b'"), ['R3', 'r1']);
      assert.deepEqual(await search("tags.team != 'a'"), ['r4', 'R3', 'r1']);
      assert.deepEqual(await search("tag.team = 'a' and param.lr = '1'"), ['r5']);
      assert.deepEqual(await search("attributes.status = 'FINISHED'"), ['r4', 'r1', 'r0']);
      assert.deepEqual(await search("status != 'FINISHED'"), ['r5', 'R3', 'r2']);
      assert.deepEqual(await search("attributes.run_name LIKE 'r%'"), ['r5', 'r4', 'r2', 'r1', 'r0']);
      assert.deepEqual(await search("attributes.run_name ILIKE 'r3'"), ['R3']);
      assert.deepEqual(await search(`attributes.run_id IN ('${runs.r0}', '${runs.r2}')`), ['r2', 'r0']);
      assert.deepEqual(await search(`attributes.run_id = '${runs.r4}'`), ['r4']);
      assert.deepEqual(await search('attributes.start_time > 3000'), ['r5', 'r4', 'R3']);
      assert.deepEqual(await search('attributes.end_time <= 2500'), ['r1', 'r0']);
      assert.deepEqual(await search("attributes.user_id = 'admin' and run.status = 'FAILED'"), ['r2']);
      assert.deepEqual(await search("datasets.name = 'iris'"), ['r1']);
      assert.deepEqual(await search("datasets.context = 'training' AND datasets.digest IN ('d1')"), ['r1']);
      assert.deepEqual(await search("`tags.team` = 'c'"), ['r4']);
      // LIKE is case-sensitive on both stores; _ matches one character.
      assert.deepEqual(await search("attributes.run_name LIKE 'R_'"), ['R3']);
      // Values with quotes inside.
      assert.deepEqual(await search("params.lr = 'it''s'"), []);
      // Only the listed experiments.
      assert.deepEqual(names(await c.ok('POST', '/runs/search', { experiment_ids: [exp2] })), ['r4']);
      assert.deepEqual(names(await c.ok('POST', '/runs/search', { experiment_ids: ['4242', 'nonsense'] })), []);
    });

    test('bad filters say what is wrong', async () => {
      const bad = async (filter: string, re?: RegExp) =>
        c.fails('POST', '/runs/search', { experiment_ids: [exp], filter }, 400, 'INVALID_PARAMETER_VALUE', re);
      await bad("metrics.acc > 0.5 OR params.lr = '1'", /OR/);
      await bad("metrics.acc LIKE '0.5'", /comparator/);
      await bad("metrics.acc > 'x'", /numeric/);
      await bad('params.lr = 0.1', /quote/);
      await bad("attributes.nope = 'x'", /attribute/);
      await bad("attributes.run_id LIKE 'x%'", /comparator/);
      await bad("unknown.x = 'a'", /attribute/);
      await bad("params.lr = 'x", /unterminated/);
      await bad('metrics.acc >', /value/);
      await bad("params.lr IN ('a' 'b')", /list/);
      await bad("metrics.acc > 1 params.lr = 'a'", /AND/);
      await bad("datasets.size = '1'", /dataset/);
      await c.fails(
        'POST',
        '/runs/search',
        { experiment_ids: [exp], order_by: ['metrics.acc SIDEWAYS'] },
        400,
        'INVALID_PARAMETER_VALUE',
      );
      await c.fails(
        'POST',
        '/runs/search',
        { experiment_ids: [exp], order_by: ['attributes.nope'] },
        400,
        'INVALID_PARAMETER_VALUE',
      );
      await c.fails(
        'POST',
        '/runs/search',
        { experiment_ids: [exp], max_results: 50001 },
        400,
        'INVALID_PARAMETER_VALUE',
        /50000/,
      );
      await c.fails(
        'POST',
        '/runs/search',
        { experiment_ids: [exp], page_token: '%%%' },
        400,
        'INVALID_PARAMETER_VALUE',
        /page token/,
      );
      await c.fails(
        'POST',
        '/runs/search',
        { experiment_ids: [exp], run_view_type: 'SOMETIMES' },
        400,
        'INVALID_PARAMETER_VALUE',
      );
      // Injection attempts are values, never SQL.
      assert.deepEqual(await search("params.lr = '1'' or ''1''=''1'"), []);
      assert.deepEqual(await search("tags.`team'; drop table tracking_runs; --` = 'a'"), []);
      assert.equal((await search('')).length, 6);
    });

    test('order_by: metrics, params, tags, attributes; missing values last; paging', async () => {
      assert.deepEqual(await search('', { order_by: ['metrics.acc DESC'] }), ['R3', 'r1', 'r2', 'r4', 'r0', 'r5']);
      assert.deepEqual(await search('', { order_by: ['metrics.acc ASC'] }), ['r0', 'r4', 'r2', 'r1', 'R3', 'r5']);
      assert.deepEqual(await search('metrics.acc > 0.55', { order_by: ['metrics.acc'] }), ['r4', 'r2', 'r1', 'R3']);
      assert.deepEqual(await search('', { order_by: ['params.lr DESC', 'attributes.start_time ASC'] }), [
        'r5',
        'r0',
        'r2',
        'r1',
        'r4',
        'R3',
      ]);
      assert.deepEqual(await search('', { order_by: ['tags.team', 'run_name DESC'] }), [
        'R3',
        'r5',
        'r2',
        'r0',
        'r1',
        'r4',
      ]);
      assert.deepEqual(await search('', { order_by: ['attributes.start_time ASC'] }), [
        'r0',
        'r1',
        'r2',
        'R3',
        'r4',
        'r5',
      ]);
      assert.deepEqual(await search('', { order_by: ['end_time DESC'] }), ['r4', 'r2', 'r1', 'r0', 'r5', 'R3']);

      const seen: string[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const b = await c.ok('POST', '/runs/search', {
          experiment_ids: [exp, exp2],
          order_by: ['metrics.acc DESC'],
          max_results: 4,
          page_token: token,
        });
        seen.push(...names(b));
        token = b.next_page_token;
        pages++;
      } while (token);
      assert.deepEqual(seen, ['R3', 'r1', 'r2', 'r4', 'r0', 'r5']);
      assert.equal(pages, 2);
      // MLflow's page token shape.
      const first = await c.ok('POST', '/runs/search', { experiment_ids: [exp], max_results: 1 });
      assert.deepEqual(JSON.parse(Buffer.from(first.next_page_token, 'base64').toString()), { offset: 1 });
    });

    test('pages agree with one whole answer when sort keys tie (metric, start time)', async () => {
      const x = await trackingClient(t, c.ws);
      const e = await x.createExperiment('ties');
      for (let i = 0; i < 9; i++) {
        const id = await x.createRun(e, { run_name: `t${i}`, start_time: 100 + (i % 3) });
        await x.ok('POST', '/runs/log-metric', { run_id: id, key: 'score', value: i < 6 ? 1 : 0.5, timestamp: 1 });
        await x.ok('POST', '/runs/log-parameter', { run_id: id, key: 'kind', value: i % 2 ? 'odd' : 'even' });
      }
      for (const q of [
        { order_by: ['metrics.score DESC'], filter: 'metrics.score > 0' },
        { order_by: ['metrics.score ASC', 'params.kind DESC'], filter: 'metrics.score >= 0.5' },
        { order_by: [], filter: '' },
        { order_by: ['attributes.start_time ASC'], filter: "params.kind = 'even'" },
      ]) {
        const whole = (await x.ok('POST', '/runs/search', { experiment_ids: [e], ...q, max_results: 100 })).runs.map(
          (r: any) => r.info.run_id,
        );
        for (const size of [1, 2, 4]) {
          const paged: string[] = [];
          let token: string | undefined;
          do {
            const b = await x.ok('POST', '/runs/search', {
              experiment_ids: [e],
              ...q,
              max_results: size,
              page_token: token,
            });
            paged.push(...(b.runs ?? []).map((r: any) => r.info.run_id));
            token = b.next_page_token;
          } while (token);
          assert.deepEqual(paged, whole, `${JSON.stringify(q)} in pages of ${size}`);
        }
        // Ties fall back to start time (newest first) and then the run id, as MLflow orders them.
        if (q.order_by[0] === 'metrics.score DESC') {
          const runs = (await x.ok('POST', '/runs/search', { experiment_ids: [e], ...q, max_results: 100 })).runs;
          for (let k = 1; k < runs.length; k++) {
            const [a, b] = [runs[k - 1], runs[k]];
            const va = a.data.metrics[0].value;
            const vb = b.data.metrics[0].value;
            assert.ok(
              va > vb ||
                (va === vb &&
                  (a.info.start_time > b.info.start_time ||
                    (a.info.start_time === b.info.start_time && a.info.run_id < b.info.run_id))),
            );
          }
        }
      }
    });

    test('order_by a metric, param or tag the filter does not name: same order as a brute-force sort, in any page size', async () => {
      const x = await trackingClient(t, c.ws);
      const e = await x.createExperiment('sort-keys');
      const other = await x.createExperiment('sort-keys-other');
      type R = { name: string; id: string; start: number; score?: number; opt?: string; grp?: string };
      const rs: R[] = [];
      for (let i = 0; i < 30; i++) {
        const score =
          i % 7 === 0 ? undefined : i % 7 === 1 ? NaN : i === 9 ? Infinity : i === 10 ? -Infinity : (i % 5) * 0.25;
        const r: R = {
          name: `s${String(i).padStart(2, '0')}`,
          id: '',
          start: 100 + (i % 4),
          score,
          opt: i % 6 === 0 ? undefined : `v${i % 4}`,
          grp: i % 5 === 0 ? undefined : `g${i % 3}`,
        };
        r.id = await x.createRun(e, { run_name: r.name, start_time: r.start });
        const json = (v: number) =>
          Number.isNaN(v) ? 'NaN' : v === Infinity ? 'Infinity' : v === -Infinity ? '-Infinity' : v;
        await x.ok('POST', '/runs/log-batch', {
          run_id: r.id,
          metrics: score === undefined ? [] : [{ key: 'score', value: json(score), timestamp: 1, step: 0 }],
          params: r.opt === undefined ? [] : [{ key: 'opt', value: r.opt }],
          tags: r.grp === undefined ? [] : [{ key: 'grp', value: r.grp }],
        });
        rs.push(r);
      }
      // Neither a deleted run nor another experiment's runs show.
      await x.ok('POST', '/runs/delete', { run_id: rs[2]!.id });
      const live = rs.filter((_, i) => i !== 2);
      const o = await x.createRun(other, { run_name: 'other' });
      await x.ok('POST', '/runs/log-batch', {
        run_id: o,
        metrics: [{ key: 'score', value: 9, timestamp: 1, step: 0 }],
        params: [{ key: 'opt', value: 'zz' }],
      });

      // MLflow's order: runs with the key first (metrics: a NaN after every number), NULLs last in
      // either direction; then start time (newest first) and run id.
      type Key = { field: 'score' | 'opt' | 'grp'; asc: boolean };
      const cmpKey = (a: R, b: R, k: Key): number => {
        const va = a[k.field];
        const vb = b[k.field];
        const group = (v: unknown) => (v === undefined ? 2 : typeof v === 'number' && Number.isNaN(v) ? 1 : 0);
        if (group(va) !== group(vb)) return group(va) - group(vb);
        if (group(va) !== 0 || va === vb) return 0;
        const d = (va as any) < (vb as any) ? -1 : 1;
        return k.asc ? d : -d;
      };
      const expected = (rows: R[], keys: Key[]) =>
        [...rows]
          .sort((a, b) => {
            for (const k of keys) {
              const d = cmpKey(a, b, k);
              if (d) return d;
            }
            return b.start - a.start || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
          })
          .map((r) => r.name);
      const cases: { order_by: string[]; keys: Key[]; filter?: string; rows?: (r: R) => boolean }[] = [
        { order_by: ['metrics.score DESC'], keys: [{ field: 'score', asc: false }] },
        { order_by: ['metrics.score ASC'], keys: [{ field: 'score', asc: true }] },
        { order_by: ['params.opt DESC'], keys: [{ field: 'opt', asc: false }] },
        {
          order_by: ['params.opt ASC', 'metrics.score DESC'],
          keys: [
            { field: 'opt', asc: true },
            { field: 'score', asc: false },
          ],
        },
        {
          order_by: ['tags.grp ASC', 'params.opt DESC'],
          keys: [
            { field: 'grp', asc: true },
            { field: 'opt', asc: false },
          ],
        },
        {
          order_by: ['metrics.score DESC'],
          keys: [{ field: 'score', asc: false }],
          filter: "params.opt != 'v1'",
          rows: (r) => r.opt !== undefined && r.opt !== 'v1',
        },
        {
          order_by: ['metrics.`score` ASC'],
          keys: [{ field: 'score', asc: true }],
          filter: 'attributes.start_time >= 102',
          rows: (r) => r.start >= 102,
        },
      ];
      for (const q of cases) {
        const want = expected(live.filter(q.rows ?? (() => true)), q.keys);
        const body = { experiment_ids: [e], order_by: q.order_by, filter: q.filter ?? '' };
        assert.deepEqual(
          names(await x.ok('POST', '/runs/search', { ...body, max_results: 100 })),
          want,
          q.order_by.join(),
        );
        for (const size of [3, 11]) {
          const paged: string[] = [];
          let token: string | undefined;
          do {
            const b = await x.ok('POST', '/runs/search', { ...body, max_results: size, page_token: token });
            paged.push(...names(b));
            token = b.next_page_token;
          } while (token);
          assert.deepEqual(paged, want, `${q.order_by.join()} ${q.filter ?? ''} in pages of ${size}`);
        }
      }
    });

    test('run_view_type: deleted runs only when asked', async () => {
      const x = await trackingClient(t, c.ws);
      const e = await x.createExperiment('views');
      const a = await x.createRun(e, { run_name: 'keep' });
      const b = await x.createRun(e, { run_name: 'gone' });
      await x.ok('POST', '/runs/delete', { run_id: b });
      const view = async (v?: string) =>
        names(await x.ok('POST', '/runs/search', { experiment_ids: [e], run_view_type: v }));
      assert.deepEqual(await view(), ['keep']);
      assert.deepEqual(await view('ACTIVE_ONLY'), ['keep']);
      assert.deepEqual(await view('DELETED_ONLY'), ['gone']);
      assert.deepEqual(await view('ALL'), ['gone', 'keep']);
      void a;
    });

    test('search results carry full runs (metrics, params, tags, inputs)', async () => {
      const b = await c.ok('POST', '/runs/search', {
        experiment_ids: [exp],
        filter: `attributes.run_id = '${runs.r1}'`,
      });
      const r = b.runs[0];
      assert.deepEqual(r.data.params, [{ key: 'lr', value: '0.01' }]);
      assert.deepEqual(r.data.metrics.map((m: any) => m.key).sort(), ['acc', 'my metric']);
      assert.ok(r.data.tags.some((x: any) => x.key === 'team' && x.value === 'b'));
      assert.equal(r.inputs.dataset_inputs[0].dataset.name, 'iris');
      assert.equal(b.next_page_token, undefined);
    });

    test('get-history-bulk-interval samples steps as MLflow does', async () => {
      const x = await trackingClient(t, c.ws);
      const e = await x.createExperiment('bulk');
      const dense = await x.createRun(e);
      const gappy = await x.createRun(e);
      const late = await x.createRun(e);
      const denseSteps = Array.from({ length: 3000 }, (_, i) => i);
      for (let i = 0; i < denseSteps.length; i += 1000) {
        await x.ok('POST', '/runs/log-batch', {
          run_id: dense,
          metrics: denseSteps
            .slice(i, i + 1000)
            .map((s) => ({ key: 'loss', value: 1 / (s + 1), timestamp: s, step: s })),
        });
      }
      // Out of order, with repeats and gaps.
      const gappySteps = [50, 10, 10, 30, 31, 32, 200, 7, 1000, 999, 5000];
      await x.ok('POST', '/runs/log-batch', {
        run_id: gappy,
        metrics: gappySteps.map((s, i) => ({ key: 'loss', value: s, timestamp: i, step: s })),
      });
      const lateSteps = Array.from({ length: 100 }, (_, i) => 4000 + i * 2);
      await x.ok('POST', '/runs/log-batch', {
        run_id: late,
        metrics: lateSteps.map((s) => ({ key: 'loss', value: s, timestamp: s, step: s })),
      });
      await x.ok('POST', '/runs/log-metric', { run_id: late, key: 'loss', value: 1, timestamp: 1, step: 4000 });

      const call = async (runIds: string[], q: string) =>
        (
          await x.ok(
            'GET',
            `/metrics/get-history-bulk-interval?${runIds.map((r) => `run_ids=${r}`).join('&')}&metric_key=loss${q}`,
          )
        ).metrics;
      const stepsOf = (ms: any[], run: string) => [
        ...new Set(ms.filter((m) => m.run_id === run).map((m) => m.step as number)),
      ];
      const dedupe = (l: number[]) => [...new Set(l)];

      let ms = await call([dense], '&max_results=10');
      assert.deepEqual(stepsOf(ms, dense), expectedSteps([denseSteps], 10));
      assert.equal(ms[0].key, 'loss');
      assert.equal(ms[0].value, 1);

      ms = await call([dense, gappy, late], '&max_results=25');
      const want = expectedSteps([denseSteps, dedupe(gappySteps), lateSteps], 25);
      assert.deepEqual(
        stepsOf(ms, dense),
        want.filter((s) => denseSteps.includes(s)),
      );
      assert.deepEqual(
        stepsOf(ms, gappy),
        want.filter((s) => gappySteps.includes(s)),
      );
      assert.deepEqual(
        stepsOf(ms, late),
        want.filter((s) => lateSteps.includes(s)),
      );
      // Two points at step 4000 of `late` are both returned, in timestamp order.
      assert.deepEqual(
        ms.filter((m: any) => m.run_id === late && m.step === 4000).map((m: any) => m.timestamp),
        [1, 4000],
      );
      // Runs are answered in the order asked.
      assert.deepEqual(dedupe(ms.map((m: any) => m.run_id)), [dense, gappy, late]);

      ms = await call([dense, gappy], '&start_step=20&end_step=1500&max_results=7');
      assert.deepEqual(
        dedupe(ms.map((m: any) => m.step)).sort((a, b) => a - b),
        expectedSteps([denseSteps, dedupe(gappySteps)], 7, 20, 1500),
      );

      ms = await call([gappy], '');
      assert.deepEqual(
        stepsOf(ms, gappy),
        dedupe(gappySteps).sort((a, b) => a - b),
      );

      await x.fails(
        'GET',
        `/metrics/get-history-bulk-interval?run_ids=${dense}&metric_key=loss&start_step=5`,
        undefined,
        400,
        'INVALID_PARAMETER_VALUE',
        /both must be specified/,
      );
      await x.fails(
        'GET',
        `/metrics/get-history-bulk-interval?run_ids=${dense}&metric_key=loss&start_step=9&end_step=5`,
        undefined,
        400,
        'INVALID_PARAMETER_VALUE',
        /end_step must be greater/,
      );
      await x.fails(
        'GET',
        `/metrics/get-history-bulk-interval?run_ids=${dense}&metric_key=loss&max_results=2501`,
        undefined,
        400,
        'INVALID_PARAMETER_VALUE',
        /2500/,
      );
      await x.fails(
        'GET',
        `/metrics/get-history-bulk-interval?metric_key=loss`,
        undefined,
        400,
        'INVALID_PARAMETER_VALUE',
        /run_ids/,
      );
      const many = Array.from({ length: 101 }, (_, i) => `run_ids=${i.toString(16).padStart(32, '0')}`).join('&');
      await x.fails(
        'GET',
        `/metrics/get-history-bulk-interval?${many}&metric_key=loss`,
        undefined,
        400,
        'INVALID_PARAMETER_VALUE',
        /at most 100/,
      );
      assert.deepEqual(await call([dense], '&max_results=1').then((l) => stepsOf(l, dense)), [0, 2999]);
    });

    test('get-history-bulk-interval: steps logged out of order, gaps filled later, many gaps', async () => {
      const x = await trackingClient(t, c.ws);
      const e = await x.createExperiment('bulk-order');
      const log = async (run: string, steps: number[]) =>
        x.ok('POST', '/runs/log-batch', {
          run_id: run,
          metrics: steps.map((s) => ({ key: 'm', value: s, timestamp: 1, step: s })),
        });
      const range = (a: number, b: number, by = 1) =>
        Array.from({ length: Math.floor((b - a) / by) + 1 }, (_, i) => a + i * by);
      const filled = await x.createRun(e); // [100, 199], then [0, 49], then [50, 99]: one range again
      await log(filled, range(100, 199));
      await log(filled, range(0, 49));
      await log(filled, range(50, 99));
      const holes = await x.createRun(e); // ranges with a hole that stays
      await log(holes, range(0, 9));
      await log(holes, range(30, 39));
      await log(holes, range(20, 24));
      const sparse = await x.createRun(e); // every third step: more ranges than the summary keeps
      for (let i = 0; i < 4; i++) await log(sparse, range(i * 60, i * 60 + 57, 3));
      await x.ok('POST', '/runs/log-metric', { run_id: sparse, key: 'm', value: 1, timestamp: 2, step: 1 });
      const all: Record<string, number[]> = {
        [filled]: range(0, 199),
        [holes]: [...range(0, 9), ...range(20, 24), ...range(30, 39)],
        [sparse]: [...range(0, 237, 3), 1].sort((a, b) => a - b),
      };
      const call = async (runIds: string[], q: string) =>
        (
          await x.ok(
            'GET',
            `/metrics/get-history-bulk-interval?${runIds.map((r) => `run_ids=${r}`).join('&')}&metric_key=m${q}`,
          )
        ).metrics;
      for (const runs of [[filled], [holes], [sparse], [filled, holes, sparse]]) {
        for (const [q, max, start, end] of [
          ['&max_results=13', 13],
          ['', 2500],
          ['&start_step=5&end_step=100&max_results=9', 9, 5, 100],
        ] as [string, number, number?, number?][]) {
          const ms = await call(runs, q);
          const want = expectedSteps(
            runs.map((r) => all[r]!),
            max,
            start,
            end,
          );
          for (const r of runs) {
            const got = ms.filter((m: any) => m.run_id === r).map((m: any) => m.step);
            assert.deepEqual(
              got,
              want.filter((s) => all[r]!.includes(s)),
              `${q} run ${Object.keys(all).indexOf(r)} of ${runs.length}`,
            );
          }
        }
      }
    });
  });
}
