import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, testDialects, type TestServer } from '../../testing/harness.js';
import { makeWorkspace } from './testing.js';
import { trackingClient, type TrackingClient } from './tracking-helpers.js';

/** MLflow semantics of experiments, runs, params, tags and metrics, through HTTP, on both stores. */
for (const dialect of testDialects()) {
  describe(`MLflow tracking core (${dialect})`, () => {
    let t: TestServer;
    let c: TrackingClient;
    before(async () => {
      t = await startTestServer(dialect);
      c = await trackingClient(t);
    });
    after(async () => t?.close());

    test('the Default experiment "0" exists in every workspace', async () => {
      const e = (await c.ok('GET', '/experiments/get?experiment_id=0')).experiment;
      assert.equal(e.experiment_id, '0');
      assert.equal(e.name, 'Default');
      assert.equal(e.lifecycle_stage, 'active');
      assert.equal(e.artifact_location, 'mlflow-artifacts:/0');
      assert.equal(
        (await c.ok('GET', '/experiments/get-by-name?experiment_name=Default')).experiment.experiment_id,
        '0',
      );
    });

    test('experiments: create, duplicates, names, get, rename, tags, delete, restore', async () => {
      const id = await c.createExperiment('exp-a', [{ key: 'team', value: 'vision' }]);
      assert.match(id, /^[1-9]\d*$/);
      const e = (await c.ok('GET', `/experiments/get?experiment_id=${id}`)).experiment;
      assert.equal(e.name, 'exp-a');
      assert.equal(e.artifact_location, `mlflow-artifacts:/${id}`);
      assert.deepEqual(e.tags, [{ key: 'team', value: 'vision' }]);
      assert.equal(typeof e.creation_time, 'number');

      await c.fails('POST', '/experiments/create', { name: 'exp-a' }, 400, 'RESOURCE_ALREADY_EXISTS', /already exists/);
      await c.fails('POST', '/experiments/create', { name: '' }, 400, 'INVALID_PARAMETER_VALUE');
      await c.fails('POST', '/experiments/create', {}, 400, 'INVALID_PARAMETER_VALUE');
      await c.fails('POST', '/experiments/create', { name: 'x'.repeat(501) }, 400, 'INVALID_PARAMETER_VALUE', /500/);
      await c.fails(
        'POST',
        '/experiments/create',
        { name: 'bad-tag', tags: [{ key: '../up', value: 'v' }] },
        400,
        'INVALID_PARAMETER_VALUE',
        /tag name/,
      );
      await c.fails('POST', '/experiments/create', { name: 7 }, 400, 'INVALID_PARAMETER_VALUE');
      await c.fails(
        'POST',
        '/experiments/create',
        { name: 'long-loc', artifact_location: `s3://b/${'x'.repeat(900)}` },
        400,
        'INVALID_PARAMETER_VALUE',
        /900/,
      );
      await c.fails(
        'POST',
        '/experiments/create',
        { name: 'runs-loc', artifact_location: 'runs:/abc/model' },
        400,
        'INVALID_PARAMETER_VALUE',
        /runs:/,
      );
      // Nothing of a refused create is left behind.
      await c.fails(
        'GET',
        '/experiments/get-by-name?experiment_name=bad-tag',
        undefined,
        404,
        'RESOURCE_DOES_NOT_EXIST',
      );

      await c.fails(
        'GET',
        '/experiments/get?experiment_id=424242',
        undefined,
        404,
        'RESOURCE_DOES_NOT_EXIST',
        /No Experiment with id=424242 exists/,
      );
      await c.fails('GET', '/experiments/get?experiment_id=abc', undefined, 404, 'RESOURCE_DOES_NOT_EXIST');
      await c.fails('GET', '/experiments/get?experiment_id=a%20b', undefined, 400, 'INVALID_PARAMETER_VALUE');
      await c.fails('GET', '/experiments/get-by-name?experiment_name=nope', undefined, 404, 'RESOURCE_DOES_NOT_EXIST');

      await c.ok('POST', '/experiments/update', { experiment_id: id, new_name: 'exp-a2' });
      assert.equal((await c.ok('GET', '/experiments/get-by-name?experiment_name=exp-a2')).experiment.experiment_id, id);
      await c.createExperiment('exp-b');
      await c.fails(
        'POST',
        '/experiments/update',
        { experiment_id: id, new_name: 'exp-b' },
        400,
        'RESOURCE_ALREADY_EXISTS',
      );

      await c.ok('POST', '/experiments/set-experiment-tag', { experiment_id: id, key: 'team', value: 'nlp' });
      await c.ok('POST', '/experiments/set-experiment-tag', { experiment_id: id, key: 'note', value: '' });
      let tags = (await c.ok('GET', `/experiments/get?experiment_id=${id}`)).experiment.tags;
      assert.deepEqual(tags, [
        { key: 'note', value: '' },
        { key: 'team', value: 'nlp' },
      ]);
      await c.ok('POST', '/experiments/delete-experiment-tag', { experiment_id: id, key: 'note' });
      await c.fails(
        'POST',
        '/experiments/delete-experiment-tag',
        { experiment_id: id, key: 'note' },
        404,
        'RESOURCE_DOES_NOT_EXIST',
      );
      tags = (await c.ok('GET', `/experiments/get?experiment_id=${id}`)).experiment.tags;
      assert.deepEqual(tags, [{ key: 'team', value: 'nlp' }]);
      await c.fails(
        'POST',
        '/experiments/set-experiment-tag',
        { experiment_id: id, key: 'k', value: 'v'.repeat(5001) },
        400,
        'INVALID_PARAMETER_VALUE',
        /5000/,
      );

      const run = await c.createRun(id);
      await c.ok('POST', '/experiments/delete', { experiment_id: id });
      assert.equal((await c.ok('GET', `/experiments/get?experiment_id=${id}`)).experiment.lifecycle_stage, 'deleted');
      assert.equal((await c.ok('GET', `/runs/get?run_id=${run}`)).run.info.lifecycle_stage, 'deleted');
      await c.fails('POST', '/experiments/delete', { experiment_id: id }, 404, 'RESOURCE_DOES_NOT_EXIST');
      await c.fails(
        'POST',
        '/experiments/update',
        { experiment_id: id, new_name: 'zz' },
        400,
        'INVALID_PARAMETER_VALUE',
        /non-active/,
      );
      await c.fails(
        'POST',
        '/experiments/set-experiment-tag',
        { experiment_id: id, key: 'k', value: 'v' },
        400,
        'INVALID_PARAMETER_VALUE',
        /active/,
      );
      await c.fails('POST', '/runs/create', { experiment_id: id }, 400, 'INVALID_PARAMETER_VALUE', /active/);
      await c.fails('POST', '/experiments/create', { name: 'exp-a2' }, 400, 'RESOURCE_ALREADY_EXISTS', /deleted state/);
      await c.fails('POST', '/experiments/restore', { experiment_id: '0' }, 404, 'RESOURCE_DOES_NOT_EXIST');
      await c.ok('POST', '/experiments/restore', { experiment_id: id });
      assert.equal((await c.ok('GET', `/experiments/get?experiment_id=${id}`)).experiment.lifecycle_stage, 'active');
      assert.equal((await c.ok('GET', `/runs/get?run_id=${run}`)).run.info.lifecycle_stage, 'active');
    });

    test('experiments: search with filters, order, view type and page tokens', async () => {
      const x = await trackingClient(t);
      const ids: string[] = [];
      await x.ok('GET', '/experiments/get?experiment_id=0');
      for (const n of ['alpha', 'Beta', 'gamma', 'delta']) {
        // Distinct creation times: the default order is by creation time.
        await new Promise((r) => setTimeout(r, 5));
        ids.push(await x.createExperiment(`s-${n}`, [{ key: 'kind', value: n.length > 4 ? 'long' : 'short' }]));
      }
      await x.ok('POST', '/experiments/delete', { experiment_id: ids[3] });
      const names = (b: any) => (b.experiments ?? []).map((e: any) => e.name);
      // Default order: newest first, Default (oldest) last.
      assert.deepEqual(names(await x.ok('POST', '/experiments/search', {})), [
        's-gamma',
        's-Beta',
        's-alpha',
        'Default',
      ]);
      assert.deepEqual(names(await x.ok('POST', '/experiments/search', { filter: "name LIKE 's-%a'" })), [
        's-gamma',
        's-Beta',
        's-alpha',
      ]);
      assert.deepEqual(names(await x.ok('POST', '/experiments/search', { filter: "name LIKE 's-b%'" })), []);
      assert.deepEqual(names(await x.ok('POST', '/experiments/search', { filter: "name ILIKE 's-b%'" })), ['s-Beta']);
      assert.deepEqual(
        names(await x.ok('POST', '/experiments/search', { filter: "tags.kind = 'long'", order_by: ['name ASC'] })),
        ['s-alpha', 's-gamma'],
      );
      assert.deepEqual(
        names(
          await x.ok('POST', '/experiments/search', {
            filter: 'attributes.name != \'Default\' AND tags.`kind` = "short"',
          }),
        ),
        ['s-Beta'],
      );
      assert.deepEqual(names(await x.ok('POST', '/experiments/search', { view_type: 'DELETED_ONLY' })), ['s-delta']);
      assert.equal(names(await x.ok('POST', '/experiments/search', { view_type: 'ALL' })).length, 5);
      assert.deepEqual(names(await x.ok('GET', '/experiments/search?filter=name%20%3D%20%27s-alpha%27')), ['s-alpha']);
      const created = (await x.ok('GET', `/experiments/get?experiment_id=${ids[1]}`)).experiment.creation_time;
      assert.ok(
        names(await x.ok('POST', '/experiments/search', { filter: `creation_time >= ${created}` })).includes('s-Beta'),
      );

      const seen: string[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const b = await x.ok('POST', '/experiments/search', {
          max_results: 2,
          order_by: ['name DESC'],
          page_token: token,
        });
        seen.push(...names(b));
        token = b.next_page_token;
        pages++;
      } while (token);
      assert.deepEqual(seen, ['s-gamma', 's-alpha', 's-Beta', 'Default']);
      assert.equal(pages, 2);

      await x.fails(
        'POST',
        '/experiments/search',
        { filter: "name = 'a' OR name = 'b'" },
        400,
        'INVALID_PARAMETER_VALUE',
        /OR/,
      );
      await x.fails('POST', '/experiments/search', { filter: 'name > 3' }, 400, 'INVALID_PARAMETER_VALUE');
      await x.fails('POST', '/experiments/search', { filter: 'metrics.a > 1' }, 400, 'INVALID_PARAMETER_VALUE');
      await x.fails('POST', '/experiments/search', { order_by: ['tags.kind'] }, 400, 'INVALID_PARAMETER_VALUE');
      await x.fails('POST', '/experiments/search', { max_results: 50001 }, 400, 'INVALID_PARAMETER_VALUE', /50000/);
      await x.fails(
        'POST',
        '/experiments/search',
        { page_token: 'not a token' },
        400,
        'INVALID_PARAMETER_VALUE',
        /page token/,
      );
      await x.fails('POST', '/experiments/search', { view_type: 'SOME' }, 400, 'INVALID_PARAMETER_VALUE');
    });

    test('runs: create, ids, names, get, update, delete, restore', async () => {
      const exp = await c.createExperiment('runs-life');
      const created = (
        await c.ok('POST', '/runs/create', { experiment_id: exp, start_time: 1000, tags: [{ key: 'a', value: '1' }] })
      ).run;
      assert.match(created.info.run_id, /^[0-9a-f]{32}$/);
      assert.equal(created.info.run_uuid, created.info.run_id);
      assert.equal(created.info.status, 'RUNNING');
      assert.equal(created.info.lifecycle_stage, 'active');
      assert.equal(created.info.start_time, 1000);
      assert.equal(created.info.end_time, undefined);
      assert.equal(created.info.user_id, 'admin');
      assert.equal(created.info.artifact_uri, `mlflow-artifacts:/${exp}/${created.info.run_id}/artifacts`);
      assert.match(created.info.run_name, /^[a-z]+-[a-z]+-\d+$/);
      assert.deepEqual(created.data.tags, [
        { key: 'a', value: '1' },
        { key: 'mlflow.runName', value: created.info.run_name },
      ]);

      const named = (await c.ok('POST', '/runs/create', { experiment_id: exp, run_name: 'my run' })).run;
      assert.equal(named.info.run_name, 'my run');
      const byTag = (
        await c.ok('POST', '/runs/create', { experiment_id: exp, tags: [{ key: 'mlflow.runName', value: 'from tag' }] })
      ).run;
      assert.equal(byTag.info.run_name, 'from tag');
      await c.fails(
        'POST',
        '/runs/create',
        { experiment_id: exp, run_name: 'a', tags: [{ key: 'mlflow.runName', value: 'b' }] },
        400,
        'INVALID_PARAMETER_VALUE',
        /different values/,
      );
      await c.fails('POST', '/runs/create', { experiment_id: '999999' }, 404, 'RESOURCE_DOES_NOT_EXIST');
      await c.fails('POST', '/runs/create', { experiment_id: exp, start_time: 'soon' }, 400, 'INVALID_PARAMETER_VALUE');
      const dflt = (await c.ok('POST', '/runs/create', {})).run;
      assert.equal(dflt.info.experiment_id, '0');

      const id = created.info.run_id;
      assert.equal((await c.ok('GET', `/runs/get?run_uuid=${id}`)).run.info.run_id, id);
      await c.fails(
        'GET',
        `/runs/get?run_id=${'0'.repeat(32)}`,
        undefined,
        404,
        'RESOURCE_DOES_NOT_EXIST',
        /not found/,
      );
      await c.fails('GET', '/runs/get?run_id=..%2Fetc', undefined, 400, 'INVALID_PARAMETER_VALUE');
      await c.fails('GET', '/runs/get', undefined, 400, 'INVALID_PARAMETER_VALUE');

      const info = (
        await c.ok('POST', '/runs/update', { run_id: id, status: 'FINISHED', end_time: 2000, run_name: 'renamed' })
      ).run_info;
      assert.equal(info.status, 'FINISHED');
      assert.equal(info.end_time, 2000);
      assert.equal(info.run_name, 'renamed');
      const got = (await c.ok('GET', `/runs/get?run_id=${id}`)).run;
      assert.equal(got.info.run_name, 'renamed');
      assert.ok(got.data.tags.some((tg: any) => tg.key === 'mlflow.runName' && tg.value === 'renamed'));
      await c.fails('POST', '/runs/update', { run_id: id, status: 'DONE' }, 400, 'INVALID_PARAMETER_VALUE', /status/);
      // The name follows the mlflow.runName tag too.
      await c.ok('POST', '/runs/set-tag', { run_id: id, key: 'mlflow.runName', value: 'by-tag' });
      assert.equal((await c.ok('GET', `/runs/get?run_id=${id}`)).run.info.run_name, 'by-tag');

      await c.ok('POST', '/runs/delete', { run_id: id });
      assert.equal((await c.ok('GET', `/runs/get?run_id=${id}`)).run.info.lifecycle_stage, 'deleted');
      await c.fails(
        'POST',
        '/runs/log-metric',
        { run_id: id, key: 'm', value: 1, timestamp: 1 },
        400,
        'INVALID_PARAMETER_VALUE',
        /must be in the 'active' state/,
      );
      await c.fails('POST', '/runs/update', { run_id: id, status: 'FAILED' }, 400, 'INVALID_PARAMETER_VALUE', /active/);
      await c.ok('POST', '/runs/restore', { run_id: id });
      assert.equal((await c.ok('GET', `/runs/get?run_id=${id}`)).run.info.lifecycle_stage, 'active');
    });

    test('params: immutable, validated; tags: set, overwrite, delete', async () => {
      const run = await c.createRun('0');
      await c.ok('POST', '/runs/log-parameter', { run_id: run, key: 'lr', value: '0.1' });
      await c.ok('POST', '/runs/log-parameter', { run_id: run, key: 'lr', value: '0.1' });
      await c.fails(
        'POST',
        '/runs/log-parameter',
        { run_id: run, key: 'lr', value: '0.2' },
        400,
        'INVALID_PARAMETER_VALUE',
        /Changing param values is not allowed/,
      );
      await c.fails(
        'POST',
        '/runs/log-parameter',
        { run_id: run, key: 'long', value: 'v'.repeat(6001) },
        400,
        'INVALID_PARAMETER_VALUE',
        /6000/,
      );
      await c.ok('POST', '/runs/log-parameter', { run_id: run, key: 'long', value: 'v'.repeat(6000) });
      for (const bad of ['../x', 'a*b', '/abs', 'x/../y', 'k'.repeat(251)]) {
        await c.fails(
          'POST',
          '/runs/log-parameter',
          { run_id: run, key: bad, value: '1' },
          400,
          'INVALID_PARAMETER_VALUE',
        );
      }
      await c.ok('POST', '/runs/log-parameter', { run_id: run, key: 'dir/sub-key.x 1', value: '' });
      await c.fails('POST', '/runs/log-parameter', { run_id: run, key: 'n', value: 3 }, 400, 'INVALID_PARAMETER_VALUE');

      await c.ok('POST', '/runs/set-tag', { run_id: run, key: 'stage', value: 'a' });
      await c.ok('POST', '/runs/set-tag', { run_id: run, key: 'stage', value: 'b' });
      await c.fails(
        'POST',
        '/runs/set-tag',
        { run_id: run, key: 'big', value: 'v'.repeat(5001) },
        400,
        'INVALID_PARAMETER_VALUE',
        /5000/,
      );
      let data = (await c.ok('GET', `/runs/get?run_id=${run}`)).run.data;
      assert.deepEqual(
        data.params.find((p: any) => p.key === 'lr'),
        { key: 'lr', value: '0.1' },
      );
      assert.equal(data.params.find((p: any) => p.key === 'dir/sub-key.x 1').value, '');
      assert.equal(data.tags.find((tg: any) => tg.key === 'stage').value, 'b');
      await c.ok('POST', '/runs/delete-tag', { run_id: run, key: 'stage' });
      await c.fails(
        'POST',
        '/runs/delete-tag',
        { run_id: run, key: 'stage' },
        404,
        'RESOURCE_DOES_NOT_EXIST',
        /No tag with name: stage/,
      );
      data = (await c.ok('GET', `/runs/get?run_id=${run}`)).run.data;
      assert.equal(
        data.tags.find((tg: any) => tg.key === 'stage'),
        undefined,
      );
    });

    test('metrics: log-metric, NaN and infinities, latest value, history paging', async () => {
      const run = await c.createRun('0');
      await c.ok('POST', '/runs/log-metric', { run_id: run, key: 'loss', value: 0.5, timestamp: 10, step: 1 });
      await c.ok('POST', '/runs/log-metric', { run_uuid: run, key: 'loss', value: 0.25, timestamp: 20, step: 2 });
      await c.ok('POST', '/runs/log-metric', { run_id: run, key: 'loss', value: 0.75, timestamp: 5, step: 0 });
      await c.ok('POST', '/runs/log-metric', { run_id: run, key: 'loss', value: 0.75, timestamp: 5, step: 0 }); // same point: stored once
      await c.ok('POST', '/runs/log-metric', { run_id: run, key: 'loss', value: 0, timestamp: '30', step: '3' });
      // Python's json writes bare NaN / Infinity.
      const r = await c.call(
        'POST',
        '/runs/log-batch',
        `{"run_id": "${run}", "metrics": [{"key": "odd", "value": NaN, "timestamp": 1, "step": 0}, {"key": "odd", "value": Infinity, "timestamp": 2, "step": 1}, {"key": "neg", "value": -Infinity, "timestamp": 2, "step": 0}]}`,
      );
      assert.equal(r.status, 200, r.text);
      await c.ok('POST', '/runs/log-metric', { run_id: run, key: 'str', value: 'NaN', timestamp: 1 });
      await c.fails(
        'POST',
        '/runs/log-metric',
        { run_id: run, key: 'x', value: 1 },
        400,
        'INVALID_PARAMETER_VALUE',
        /timestamp/,
      );
      await c.fails(
        'POST',
        '/runs/log-metric',
        { run_id: run, key: 'x', value: true, timestamp: 1 },
        400,
        'INVALID_PARAMETER_VALUE',
      );
      await c.fails(
        'POST',
        '/runs/log-metric',
        { run_id: run, key: 'x', value: 'abc', timestamp: 1 },
        400,
        'INVALID_PARAMETER_VALUE',
      );
      await c.fails(
        'POST',
        '/runs/log-metric',
        { run_id: run, key: 'x', value: 1, timestamp: -1 },
        400,
        'INVALID_PARAMETER_VALUE',
        /nonnegative/,
      );
      await c.fails(
        'POST',
        '/runs/log-metric',
        { run_id: run, key: 'x', value: 1, timestamp: 1, step: 1.5 },
        400,
        'INVALID_PARAMETER_VALUE',
      );
      await c.fails(
        'POST',
        '/runs/log-metric',
        { run_id: run, key: 'x y*', value: 1, timestamp: 1 },
        400,
        'INVALID_PARAMETER_VALUE',
        /metric name/,
      );
      await c.fails(
        'POST',
        '/runs/log-metric',
        { run_id: 'f'.repeat(32), key: 'x', value: 1, timestamp: 1 },
        404,
        'RESOURCE_DOES_NOT_EXIST',
      );

      const metrics = (await c.ok('GET', `/runs/get?run_id=${run}`)).run.data.metrics;
      const by = Object.fromEntries(metrics.map((m: any) => [m.key, m]));
      assert.deepEqual(by.loss, { key: 'loss', value: 0, timestamp: 30, step: 3 });
      assert.deepEqual(by.odd, { key: 'odd', value: 'Infinity', timestamp: 2, step: 1 });
      assert.equal(by.neg.value, '-Infinity');
      assert.equal(by.str.value, 'NaN');

      const all = (await c.ok('GET', `/metrics/get-history?run_id=${run}&metric_key=loss`)).metrics;
      assert.deepEqual(
        all.map((m: any) => [m.step, m.value]),
        [
          [0, 0.75],
          [1, 0.5],
          [2, 0.25],
          [3, 0],
        ],
      );
      const got: number[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const b = await c.ok(
          'GET',
          `/metrics/get-history?run_id=${run}&metric_key=loss&max_results=3${token ? `&page_token=${encodeURIComponent(token)}` : ''}`,
        );
        got.push(...b.metrics.map((m: any) => m.step));
        token = b.next_page_token;
        pages++;
      } while (token);
      assert.deepEqual(got, [0, 1, 2, 3]);
      assert.equal(pages, 2);
      const odd = await c.ok('GET', `/metrics/get-history?run_id=${run}&metric_key=odd&max_results=1`);
      const odd2 = await c.ok(
        'GET',
        `/metrics/get-history?run_id=${run}&metric_key=odd&max_results=1&page_token=${encodeURIComponent(odd.next_page_token)}`,
      );
      assert.deepEqual([odd.metrics[0].value, odd2.metrics[0].value], ['NaN', 'Infinity']);
      assert.deepEqual((await c.ok('GET', `/metrics/get-history?run_id=${run}&metric_key=none`)).metrics, []);
      await c.fails(
        'GET',
        `/metrics/get-history?run_id=${run}`,
        undefined,
        400,
        'INVALID_PARAMETER_VALUE',
        /metric_key/,
      );
      await c.fails(
        'GET',
        `/metrics/get-history?run_id=${run}&metric_key=loss&page_token=zzz`,
        undefined,
        400,
        'INVALID_PARAMETER_VALUE',
        /page token/,
      );
      await c.fails(
        'GET',
        `/metrics/get-history?run_id=${'e'.repeat(32)}&metric_key=loss`,
        undefined,
        404,
        'RESOURCE_DOES_NOT_EXIST',
      );
    });

    test('metric history: points in any order, repeated, across many requests; pages agree with the whole', async () => {
      const run = await c.createRun('0');
      // Expected history: MLflow's order (step, timestamp, value; NaN as value 0 then is_nan), identical points once.
      const want = new Map<string, { step: number; timestamp: number; value: number }>();
      const idOf = (p: { step: number; timestamp: number; value: number }) =>
        `${p.step}/${p.timestamp}/${Number.isNaN(p.value) ? 'nan' : p.value}`;
      const vkey = (v: number) => (Number.isNaN(v) ? 0 : v);
      let seed = 7;
      const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
      // Enough requests (of 1 to 60 points, steps going back and forth, some repeated) that the
      // server folds its per-run log into blocks more than once; a second key interleaves.
      for (let r = 0; r < 90; r++) {
        const n = 1 + Math.floor(rnd() * 60);
        const metrics = [];
        for (let i = 0; i < n; i++) {
          const step = Math.floor(rnd() * 400) - 50;
          const p = {
            step,
            timestamp: Math.floor(rnd() * 3),
            value: rnd() < 0.05 ? NaN : rnd() < 0.1 ? 0 : Math.round(rnd() * 4) / 4,
          };
          want.set(idOf(p), p);
          metrics.push({ key: 'wave', ...p, value: Number.isNaN(p.value) ? 'NaN' : p.value });
          if (rnd() < 0.2) metrics.push({ key: 'wave', ...p, value: Number.isNaN(p.value) ? 'NaN' : p.value }); // repeated in the request
        }
        metrics.push({ key: 'other', value: r, timestamp: r, step: r });
        await c.ok('POST', '/runs/log-batch', { run_id: run, metrics });
        if (r % 10 === 0) {
          const again = [...want.values()][Math.floor(rnd() * want.size)]!; // repeated across requests
          await c.ok('POST', '/runs/log-metric', {
            run_id: run,
            key: 'wave',
            ...again,
            value: Number.isNaN(again.value) ? 'NaN' : again.value,
          });
        }
      }
      const expected = [...want.values()]
        .sort(
          (a, b) =>
            a.step - b.step ||
            a.timestamp - b.timestamp ||
            vkey(a.value) - vkey(b.value) ||
            Number(Number.isNaN(a.value)) - Number(Number.isNaN(b.value)),
        )
        .map((p) => [p.step, p.timestamp, Number.isNaN(p.value) ? 'NaN' : p.value]);
      const asTuples = (ms: any[]) => ms.map((m) => [m.step, m.timestamp, m.value]);
      assert.deepEqual(
        asTuples((await c.ok('GET', `/metrics/get-history?run_id=${run}&metric_key=wave`)).metrics),
        expected,
      );
      for (const size of [1, 29, 500, 25000]) {
        // (Pages of 1: the first 40.)
        const got: any[] = [];
        let token: string | undefined;
        do {
          const b = await c.ok(
            'GET',
            `/metrics/get-history?run_id=${run}&metric_key=wave&max_results=${size}${token ? `&page_token=${encodeURIComponent(token)}` : ''}`,
          );
          got.push(...asTuples(b.metrics));
          token = b.next_page_token;
        } while (token && got.length < 40 * size);
        assert.deepEqual(got, token ? expected.slice(0, got.length) : expected, `pages of ${size}`);
      }
      assert.deepEqual(
        (await c.ok('GET', `/metrics/get-history?run_id=${run}&metric_key=other`)).metrics.map((m: any) => m.step),
        Array.from({ length: 90 }, (_, i) => i),
      );
      // Integers up to 2^53 and the infinities come back exactly.
      const big = Number.MAX_SAFE_INTEGER;
      await c.ok('POST', '/runs/log-batch', {
        run_id: run,
        metrics: [
          { key: 'big', value: big, timestamp: big, step: big },
          { key: 'big', value: '-Infinity', timestamp: 0, step: -big },
        ],
      });
      assert.deepEqual(asTuples((await c.ok('GET', `/metrics/get-history?run_id=${run}&metric_key=big`)).metrics), [
        [-big, 0, '-Infinity'],
        [big, big, big],
      ]);
    });

    test('metric history of a long series stays whole as more points are folded in', async () => {
      const run = await c.createRun('0');
      const batch = (b: number) =>
        c.ok('POST', '/runs/log-batch', {
          run_id: run,
          metrics: Array.from({ length: 1000 }, (_, j) => ({
            key: 'long',
            value: j,
            timestamp: b,
            step: b * 1000 + j,
          })),
        });
      const count = async () => {
        let n = 0;
        let token: string | undefined;
        do {
          const r = await c.ok(
            'GET',
            `/metrics/get-history?run_id=${run}&metric_key=long&max_results=25000${token ? `&page_token=${encodeURIComponent(token)}` : ''}`,
          );
          n += r.metrics.length;
          token = r.next_page_token;
        } while (token);
        return n;
      };
      for (let b = 0; b < 20; b++) await batch(b);
      assert.equal(await count(), 20000);
      const sample = async () =>
        (
          await c.ok('GET', `/metrics/get-history-bulk-interval?run_ids=${run}&metric_key=long&max_results=10`)
        ).metrics.map((m: any) => m.step);
      assert.deepEqual(await sample(), [0, 2000, 4000, 6000, 8000, 10000, 12000, 14000, 16000, 18000, 19999]);
      for (let b = 20; b < 40; b++) await batch(b);
      await c.ok('POST', '/runs/log-metric', { run_id: run, key: 'long', value: 1, timestamp: 1, step: 40000 });
      assert.equal(await count(), 40001);
      assert.deepEqual(await sample(), [0, 4000, 8000, 12000, 16000, 20000, 24000, 28000, 32000, 36000, 40000]);
    });

    test('log-batch: limits, validation, duplicate keys, all or nothing', async () => {
      const run = await c.createRun('0');
      const m = (i: number) => ({ key: `m${i % 7}`, value: i, timestamp: 1000 + i, step: i });
      await c.ok('POST', '/runs/log-batch', { run_id: run, metrics: Array.from({ length: 1000 }, (_, i) => m(i)) });
      await c.fails(
        'POST',
        '/runs/log-batch',
        { run_id: run, metrics: Array.from({ length: 1001 }, (_, i) => m(i)) },
        400,
        'INVALID_PARAMETER_VALUE',
        /at most 1000 metrics/,
      );
      const p = (i: number) => ({ key: `p${i}`, value: String(i) });
      await c.fails(
        'POST',
        '/runs/log-batch',
        { run_id: run, params: Array.from({ length: 101 }, (_, i) => p(i)) },
        400,
        'INVALID_PARAMETER_VALUE',
        /at most 100 params/,
      );
      await c.fails(
        'POST',
        '/runs/log-batch',
        { run_id: run, tags: Array.from({ length: 101 }, (_, i) => p(i)) },
        400,
        'INVALID_PARAMETER_VALUE',
        /at most 100 tags/,
      );
      await c.fails(
        'POST',
        '/runs/log-batch',
        {
          run_id: run,
          metrics: Array.from({ length: 900 }, (_, i) => m(i)),
          params: Array.from({ length: 100 }, (_, i) => p(i)),
          tags: [{ key: 't', value: 'v' }],
        },
        400,
        'INVALID_PARAMETER_VALUE',
        /at most 1000 metrics, params, and tags/,
      );
      await c.fails(
        'POST',
        '/runs/log-batch',
        { run_id: run, params: [p(1), p(1)] },
        400,
        'INVALID_PARAMETER_VALUE',
        /Duplicate parameter keys/,
      );
      await c.fails(
        'POST',
        '/runs/log-batch',
        { run_id: run, metrics: [{ key: 'a', value: 1 }] },
        400,
        'INVALID_PARAMETER_VALUE',
        /timestamp/,
      );
      await c.fails('POST', '/runs/log-batch', { run_id: run, metrics: 'no' }, 400, 'INVALID_PARAMETER_VALUE');
      await c.fails('POST', '/runs/log-batch', { metrics: [] }, 400, 'INVALID_PARAMETER_VALUE');

      await c.ok('POST', '/runs/log-batch', { run_id: run, params: [{ key: 'fixed', value: 'a' }] });
      // A param change fails the whole batch: its metrics and tags are not kept.
      await c.fails(
        'POST',
        '/runs/log-batch',
        {
          run_id: run,
          params: [{ key: 'fixed', value: 'b' }],
          metrics: [{ key: 'late', value: 1, timestamp: 1 }],
          tags: [{ key: 'late', value: 'x' }],
        },
        400,
        'INVALID_PARAMETER_VALUE',
        /Changing param values/,
      );
      const data = (await c.ok('GET', `/runs/get?run_id=${run}`)).run.data;
      assert.equal(
        data.metrics.find((x: any) => x.key === 'late'),
        undefined,
      );
      assert.equal(
        data.tags.find((x: any) => x.key === 'late'),
        undefined,
      );
      assert.equal(data.metrics.length, 7);
      assert.deepEqual(
        data.metrics.find((x: any) => x.key === 'm6'),
        { key: 'm6', value: 993, timestamp: 1993, step: 993 },
      );
      const hist = (await c.ok('GET', `/metrics/get-history?run_id=${run}&metric_key=m0`)).metrics;
      assert.equal(hist.length, 143);
      // A large batch of metrics alone (a write of its own) into a run that is missing or deleted
      // writes nothing and says why.
      const big = { metrics: Array.from({ length: 500 }, (_, i) => m(i + 5000)) };
      await c.fails('POST', '/runs/log-batch', { run_id: 'f'.repeat(32), ...big }, 404, 'RESOURCE_DOES_NOT_EXIST');
      const gone = await c.createRun('0');
      await c.ok('POST', '/runs/delete', { run_id: gone });
      await c.fails(
        'POST',
        '/runs/log-batch',
        { run_id: gone, ...big },
        400,
        'INVALID_PARAMETER_VALUE',
        /must be in the 'active' state/,
      );
      await c.ok('POST', '/runs/restore', { run_id: gone });
      assert.deepEqual((await c.ok('GET', `/runs/get?run_id=${gone}`)).run.data.metrics ?? [], []);
      // Same key twice in one batch of tags: the last value wins.
      await c.ok('POST', '/runs/log-batch', {
        run_id: run,
        tags: [
          { key: 'dup', value: '1' },
          { key: 'dup', value: '2' },
        ],
      });
      assert.equal(
        (await c.ok('GET', `/runs/get?run_id=${run}`)).run.data.tags.find((x: any) => x.key === 'dup').value,
        '2',
      );
    });

    test('log-inputs with datasets, log-outputs, log-model', async () => {
      const exp = await c.createExperiment('inputs');
      const run = await c.createRun(exp);
      const dataset = {
        name: 'iris',
        digest: 'abc123',
        source_type: 'local',
        source: '{"uri": "data/iris.csv"}',
        schema: '{"mlflow_colspec": []}',
        profile: '{"num_rows": 150}',
      };
      await c.ok('POST', '/runs/log-inputs', {
        run_id: run,
        datasets: [{ tags: [{ key: 'mlflow.data.context', value: 'training' }], dataset }],
      });
      await c.ok('POST', '/runs/log-inputs', {
        run_id: run,
        datasets: [{ tags: [{ key: 'mlflow.data.context', value: 'training' }], dataset }],
      });
      const run2 = await c.createRun(exp);
      await c.ok('POST', '/runs/log-inputs', {
        run_id: run2,
        datasets: [
          { dataset: { ...dataset, source_type: 'local' } },
          {
            tags: [{ key: 'mlflow.data.context', value: 'eval' }],
            dataset: { ...dataset, name: 'other', digest: 'd2', schema: undefined, profile: undefined },
          },
        ],
      });
      const got = (await c.ok('GET', `/runs/get?run_id=${run}`)).run;
      assert.deepEqual(got.inputs.dataset_inputs, [
        { tags: [{ key: 'mlflow.data.context', value: 'training' }], dataset },
      ]);
      assert.equal((await c.ok('GET', `/runs/get?run_id=${run2}`)).run.inputs.dataset_inputs.length, 2);
      await c.fails(
        'POST',
        '/runs/log-inputs',
        { run_id: run, datasets: [{ dataset: { name: 'x' } }] },
        400,
        'INVALID_PARAMETER_VALUE',
        /digest/,
      );
      await c.fails(
        'POST',
        '/runs/log-inputs',
        { run_id: run, datasets: [{ dataset: { ...dataset, digest: 'd'.repeat(37) } }] },
        400,
        'INVALID_PARAMETER_VALUE',
        /36/,
      );

      await c.ok('POST', '/runs/outputs', { run_id: run, models: [{ model_id: 'm-0123456789abcdef', step: 3 }] });
      assert.deepEqual((await c.ok('GET', `/runs/get?run_id=${run}`)).run.outputs, {
        model_outputs: [{ model_id: 'm-0123456789abcdef', step: 3 }],
      });
      await c.fails(
        'POST',
        '/runs/outputs',
        { run_id: run, models: [{ step: 1 }] },
        400,
        'INVALID_PARAMETER_VALUE',
        /model_id/,
      );

      const model = {
        artifact_path: 'model',
        flavors: { python_function: {} },
        utc_time_created: '2026-01-01 00:00:00.000000',
        run_id: run,
        signature: { inputs: '[]' },
      };
      await c.ok('POST', '/runs/log-model', { run_id: run, model_json: JSON.stringify(model) });
      await c.ok('POST', '/runs/log-model', {
        run_id: run,
        model_json: JSON.stringify({ ...model, artifact_path: 'model2' }),
      });
      const hist = JSON.parse(
        (await c.ok('GET', `/runs/get?run_id=${run}`)).run.data.tags.find(
          (x: any) => x.key === 'mlflow.log-model.history',
        ).value,
      );
      assert.deepEqual(
        hist.map((h: any) => h.artifact_path),
        ['model', 'model2'],
      );
      assert.equal(hist[0].signature, undefined);
      await c.fails(
        'POST',
        '/runs/log-model',
        { run_id: run, model_json: '{"artifact_path": "m"}' },
        400,
        'INVALID_PARAMETER_VALUE',
        /missing mandatory fields/,
      );
      await c.fails(
        'POST',
        '/runs/log-model',
        { run_id: run, model_json: 'nope' },
        400,
        'INVALID_PARAMETER_VALUE',
        /not a valid JSON/,
      );
    });

    test("artifacts/list lists below the run's artifact root, never outside it", async () => {
      const exp = await c.createExperiment('arts');
      const run = (await c.ok('POST', '/runs/create', { experiment_id: exp })).run.info;
      const root = run.artifact_uri.replace(/^mlflow-artifacts:\//, '');
      for (const [p, body] of [
        ['dir/a.txt', 'aaa'],
        ['b.txt', 'bb'],
      ] as const) {
        const up = await t.request('PUT', `${c.ws.trackingUri}/api/2.0/mlflow-artifacts/artifacts/${root}/${p}`, body, {
          headers: { 'content-type': 'application/octet-stream' },
        });
        assert.equal(up.status, 200, up.text);
      }
      const top = await c.ok('GET', `/artifacts/list?run_id=${run.run_id}`);
      assert.equal(top.root_uri, run.artifact_uri);
      assert.deepEqual(top.files, [
        { path: 'b.txt', is_dir: false, file_size: 2 },
        { path: 'dir', is_dir: true },
      ]);
      const sub = await c.ok('GET', `/artifacts/list?run_id=${run.run_id}&path=dir`);
      assert.deepEqual(sub.files, [{ path: 'dir/a.txt', is_dir: false, file_size: 3 }]);
      assert.equal((await c.ok('GET', `/artifacts/list?run_uuid=${run.run_id}&path=nothing`)).files, undefined);
      await c.fails(
        'GET',
        `/artifacts/list?run_id=${run.run_id}&path=../../other`,
        undefined,
        400,
        'INVALID_PARAMETER_VALUE',
        /^Invalid path$/,
      );
      await c.fails('GET', `/artifacts/list?run_id=${'a'.repeat(32)}`, undefined, 404, 'RESOURCE_DOES_NOT_EXIST');
      // A run whose experiment keeps artifacts elsewhere: listing says so instead of guessing.
      const ext = await c.ok('POST', '/experiments/create', {
        name: 'external-arts',
        artifact_location: 's3://bucket/prefix',
      });
      const extRun = await c.createRun(ext.experiment_id);
      assert.equal(
        (await c.ok('GET', `/runs/get?run_id=${extRun}`)).run.info.artifact_uri,
        `s3://bucket/prefix/${extRun}/artifacts`,
      );
      await c.fails(
        'GET',
        `/artifacts/list?run_id=${extRun}`,
        undefined,
        400,
        'INVALID_PARAMETER_VALUE',
        /outside this server/,
      );
    });

    test('deleting a workspace deletes its tracking data', async () => {
      const w = await makeWorkspace(t);
      const x = await trackingClient(t, w);
      const run = await x.createRun(await x.createExperiment('doomed'));
      await x.ok('POST', '/runs/log-batch', {
        run_id: run,
        metrics: [{ key: 'm', value: 1, timestamp: 1 }],
        params: [{ key: 'p', value: '1' }],
        tags: [{ key: 't', value: '1' }],
      });
      await x.ok('POST', '/runs/log-inputs', {
        run_id: run,
        datasets: [{ dataset: { name: 'd', digest: 'x', source_type: 'local', source: 's' } }],
      });
      // Enough requests that points are both in blocks and in the run's log.
      for (let i = 0; i < 40; i++)
        await x.ok('POST', '/runs/log-metric', { run_id: run, key: 'm', value: i, timestamp: 1, step: i });
      const series = (
        await t.server.ctx.db
          .selectFrom('tracking_latest_metrics')
          .select('series_id')
          .where('run_uuid', '=', run)
          .execute()
      ).map((r) => Number(r.series_id));
      const points = async () =>
        Number(
          (
            await t.server.ctx.db
              .selectFrom('tracking_metric_blocks')
              .select((eb) => eb.fn.countAll().as('n'))
              .where('series_id', 'in', series)
              .executeTakeFirst()
          )?.n,
        ) +
        Number(
          (
            await t.server.ctx.db
              .selectFrom('tracking_metric_log')
              .select((eb) => eb.fn.countAll().as('n'))
              .where('run_uuid', '=', run)
              .executeTakeFirst()
          )?.n,
        );
      assert.ok((await points()) > 0);
      const del = await t.request('DELETE', `${w.armId}?api-version=2025-09-01`);
      assert.ok(del.status === 200 || del.status === 202 || del.status === 204, del.text);
      const { db } = t.server.ctx;
      for (let i = 0; i < 200 && (await t.request('GET', `${w.armId}?api-version=2025-09-01`)).status !== 404; i++)
        await new Promise((r) => setTimeout(r, 50));
      const count = async (
        table:
          | 'tracking_runs'
          | 'tracking_experiments'
          | 'tracking_params'
          | 'tracking_tags'
          | 'tracking_latest_metrics'
          | 'tracking_datasets',
      ) =>
        Number(
          (
            await db
              .selectFrom(table)
              .select((eb) => eb.fn.countAll().as('n'))
              .where('workspace_id', '=', w.workspaceId)
              .executeTakeFirst()
          )?.n ?? 0,
        );
      for (const table of [
        'tracking_runs',
        'tracking_experiments',
        'tracking_params',
        'tracking_tags',
        'tracking_latest_metrics',
        'tracking_datasets',
      ] as const) {
        assert.equal(await count(table), 0, table);
      }
      assert.equal(
        Number(
          (
            await db
              .selectFrom('tracking_inputs')
              .select((eb) => eb.fn.countAll().as('n'))
              .where('run_uuid', '=', run)
              .executeTakeFirst()
          )?.n,
        ),
        0,
      );
      assert.equal(await points(), 0, 'metric blocks and log rows');
      // Other workspaces keep theirs.
      assert.equal((await c.ok('GET', '/experiments/get?experiment_id=0')).experiment.name, 'Default');
    });

    test('the /ajax-api/2.0 aliases answer the same', async () => {
      const r = await t.request('GET', `${c.ws.trackingUri}/ajax-api/2.0/mlflow/experiments/get?experiment_id=0`);
      assert.equal(r.status, 200);
      assert.equal(r.body.experiment.name, 'Default');
    });

    test('access: Reader reads, cannot write; no role = no workspace; workspaces do not see each other', async () => {
      const { ctx } = t.server;
      const reader = await ctx.principals.createUser(`reader${dialect}`, 'reader-password-1');
      const scientist = await ctx.principals.createUser(`sci${dialect}`, 'scientist-password-1');
      const stranger = await ctx.principals.createUser(`stranger${dialect}`, 'stranger-password-1');
      await ctx.access.assign(reader.id, c.ws.armId, 'Reader', null);
      await ctx.access.assign(scientist.id, c.ws.armId, 'AzureML Data Scientist', null);
      const basic = (u: string, p: string) => ({
        token: null,
        headers: { authorization: `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}` },
      });
      const run = await c.createRun('0');

      const asReader = basic(`reader${dialect}`, 'reader-password-1');
      assert.equal((await c.call('GET', `/runs/get?run_id=${run}`, undefined, asReader)).status, 200);
      assert.equal((await c.call('POST', '/runs/search', { experiment_ids: ['0'] }, asReader)).status, 200);
      assert.equal((await c.call('POST', '/experiments/search', {}, asReader)).status, 200);
      const denied = await c.call(
        'POST',
        '/runs/log-metric',
        { run_id: run, key: 'm', value: 1, timestamp: 1 },
        asReader,
      );
      assert.equal(denied.status, 403);
      assert.equal(denied.body.error_code, 'PERMISSION_DENIED');
      assert.equal((await c.call('POST', '/experiments/create', { name: 'by-reader' }, asReader)).status, 403);

      const asScientist = basic(`sci${dialect}`, 'scientist-password-1');
      assert.equal(
        (await c.call('POST', '/runs/log-metric', { run_id: run, key: 'm', value: 1, timestamp: 1 }, asScientist))
          .status,
        200,
      );
      const own = (await c.call('POST', '/runs/create', { experiment_id: '0' }, asScientist)).body.run;
      assert.equal(own.info.user_id, `sci${dialect}`);

      const asStranger = basic(`stranger${dialect}`, 'stranger-password-1');
      const hidden = await c.call('GET', `/runs/get?run_id=${run}`, undefined, asStranger);
      assert.equal(hidden.status, 404);
      assert.equal(hidden.body.error_code, 'RESOURCE_DOES_NOT_EXIST');
      void stranger;

      // Another workspace: the run is not there, and its search does not find it.
      const other = await trackingClient(t, await makeWorkspace(t));
      await other.fails('GET', `/runs/get?run_id=${run}`, undefined, 404, 'RESOURCE_DOES_NOT_EXIST');
      await other.fails(
        'POST',
        '/runs/log-metric',
        { run_id: run, key: 'm', value: 1, timestamp: 1 },
        404,
        'RESOURCE_DOES_NOT_EXIST',
      );
      await other.fails(
        'GET',
        `/metrics/get-history?run_id=${run}&metric_key=m`,
        undefined,
        404,
        'RESOURCE_DOES_NOT_EXIST',
      );
      assert.deepEqual((await other.ok('POST', '/runs/search', { experiment_ids: ['0'] })).runs ?? [], []);
      assert.deepEqual(
        (await other.ok('GET', `/metrics/get-history-bulk-interval?run_ids=${run}&metric_key=m`)).metrics,
        [],
      );
    });
  });
}
