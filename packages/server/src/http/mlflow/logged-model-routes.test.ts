import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, testDialects, type TestServer } from '../../testing/harness.js';
import { artifactWorkspace } from './artifacts-testing.js';

for (const dialect of testDialects()) {
  test(`MLflow 3 logged models (${dialect})`, async (tt) => {
    const t = await startTestServer(dialect);
    tt.after(() => t.close());
    const w = await artifactWorkspace(t);
    const call = (method: string, path: string, body?: unknown, opts?: Parameters<TestServer['request']>[3]) =>
      t.request(method, `${w.api}${path}`, body, opts);
    const exp = await call('POST', '/experiments/create', { name: 'logged-models' });
    assert.equal(exp.status, 200, exp.text);
    const experimentId = exp.body.experiment_id as string;

    let modelId = '';
    await tt.test('create (PENDING), upload through the artifact proxy, list, download, finalize', async () => {
      let r = await call('POST', '/logged-models', {
        experiment_id: experimentId,
        name: 'sk-model',
        model_type: 'sklearn',
        source_run_id: 'run-1',
        params: [{ key: 'alpha', value: '0.5' }],
        tags: [{ key: 'owner', value: 'me' }],
      });
      assert.equal(r.status, 200, r.text);
      const info = r.body.model.info;
      modelId = info.model_id;
      assert.match(modelId, /^m-[0-9a-f]{32}$/);
      assert.equal(info.status, 'LOGGED_MODEL_PENDING');
      assert.equal(info.experiment_id, experimentId);
      assert.equal(info.artifact_uri, `mlflow-artifacts:/${experimentId}/models/${modelId}/artifacts`);
      assert.deepEqual(r.body.model.data.params, [{ key: 'alpha', value: '0.5' }]);
      assert.deepEqual(info.tags, [{ key: 'owner', value: 'me' }]);

      const root = `${w.trackingUri}/api/2.0/mlflow-artifacts/artifacts/${experimentId}/models/${modelId}/artifacts`;
      for (const [file, content] of [
        ['MLmodel', 'flavors: {}\n'],
        ['model.pkl', 'pickled'],
        ['env/conda.yaml', 'name: x\n'],
      ]) {
        const up = await fetch(`${root}/${file}`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${t.adminToken}`, 'content-type': 'application/octet-stream' },
          body: content,
        });
        assert.equal(up.status, 200);
      }
      r = await call('GET', `/logged-models/${modelId}/artifacts/directories`);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.root_uri, info.artifact_uri);
      assert.deepEqual(
        r.body.files,
        [
          { path: 'env', is_dir: true },
          { path: 'MLmodel', is_dir: false, file_size: 12 },
          { path: 'model.pkl', is_dir: false, file_size: 7 },
        ].sort((a, b) => a.path.localeCompare(b.path)),
      );
      r = await call('GET', `/logged-models/${modelId}/artifacts/directories?artifact_directory_path=env`);
      assert.deepEqual(r.body.files, [{ path: 'env/conda.yaml', is_dir: false, file_size: 8 }]);
      assert.equal(
        (await call('GET', `/logged-models/${modelId}/artifacts/directories?artifact_directory_path=../..`)).status,
        400,
      );
      const file = await fetch(`${w.api}/logged-models/${modelId}/artifacts/files?artifact_file_path=MLmodel`, {
        headers: { authorization: `Bearer ${t.adminToken}` },
      });
      assert.equal(await file.text(), 'flavors: {}\n');
      assert.equal(
        (await call('GET', `/logged-models/${modelId}/artifacts/files?artifact_file_path=..%2F..%2Fx`)).status,
        400,
      );

      r = await call('PATCH', `/logged-models/${modelId}`, { model_id: modelId, status: 'LOGGED_MODEL_READY' });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.model.info.status, 'LOGGED_MODEL_READY');
      assert.equal(
        (await call('PATCH', `/logged-models/${modelId}`, { model_id: modelId, status: 'DONE' })).status,
        400,
      );
      assert.equal((await call('PATCH', `/logged-models/${modelId}`, { model_id: 'm-other', status: 2 })).status, 400);
      r = await call('GET', `/logged-models/${modelId}`);
      assert.equal(r.body.model.info.status, 'LOGGED_MODEL_READY');
      assert.equal(r.body.model.info.source_run_id, 'run-1');
    });

    await tt.test('tags and params', async () => {
      assert.equal(
        (
          await call('PATCH', `/logged-models/${modelId}/tags`, {
            tags: [
              { key: 'owner', value: 'you' },
              { key: 'k2', value: 'v2' },
            ],
          })
        ).status,
        200,
      );
      let r = await call('GET', `/logged-models/${modelId}`);
      assert.deepEqual(r.body.model.info.tags, [
        { key: 'k2', value: 'v2' },
        { key: 'owner', value: 'you' },
      ]);
      assert.equal((await call('DELETE', `/logged-models/${modelId}/tags/k2`)).status, 200);
      r = await call('DELETE', `/logged-models/${modelId}/tags/k2`);
      assert.equal(r.status, 404);
      assert.equal(
        (
          await call('POST', `/logged-models/${modelId}/params`, {
            model_id: modelId,
            params: [
              { key: 'beta', value: '1' },
              { key: 'alpha', value: '0.5' },
            ],
          })
        ).status,
        200,
      );
      r = await call('POST', `/logged-models/${modelId}/params`, {
        model_id: modelId,
        params: [{ key: 'alpha', value: '0.9' }],
      });
      assert.equal(r.status, 400);
      r = await call('GET', `/logged-models/${modelId}`);
      assert.deepEqual(r.body.model.data.params, [
        { key: 'alpha', value: '0.5' },
        { key: 'beta', value: '1' },
      ]);
    });

    await tt.test('search', async () => {
      for (const name of ['other-a', 'other-b'])
        await call('POST', '/logged-models', {
          experiment_id: experimentId,
          name,
          params: [{ key: 'alpha', value: name === 'other-a' ? '0.1' : '0.5' }],
        });
      const names = (r: { body: { models?: { info: { name: string } }[] } }) =>
        (r.body.models ?? []).map((m) => m.info.name);
      let r = await call('POST', '/logged-models/search', {
        experiment_ids: [experimentId],
        order_by: [{ field_name: 'name', ascending: true }],
      });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(names(r), ['other-a', 'other-b', 'sk-model']);
      r = await call('POST', '/logged-models/search', {
        experiment_ids: [experimentId],
        filter: "params.alpha = '0.5'",
        order_by: [{ field_name: 'name', ascending: false }],
      });
      assert.deepEqual(names(r), ['sk-model', 'other-b']);
      r = await call('POST', '/logged-models/search', {
        experiment_ids: [experimentId],
        filter: "status = 'LOGGED_MODEL_READY' AND tags.owner = 'you'",
      });
      assert.deepEqual(names(r), ['sk-model']);
      r = await call('POST', '/logged-models/search', {
        experiment_ids: [experimentId],
        filter: "name LIKE 'other-%'",
        max_results: 1,
      });
      assert.equal(names(r).length, 1);
      const next = await call('POST', '/logged-models/search', {
        experiment_ids: [experimentId],
        filter: "name LIKE 'other-%'",
        max_results: 1,
        page_token: r.body.next_page_token,
      });
      assert.equal(names(next).length, 1);
      assert.notDeepEqual(names(next), names(r));
      assert.equal((await call('POST', '/logged-models/search', { filter: "name = 'x'" })).status, 400);
      assert.equal(
        (await call('POST', '/logged-models/search', { experiment_ids: [experimentId], filter: "color = 'red'" }))
          .status,
        400,
      );
    });

    await tt.test(
      'metrics of logged models: log-metric / log-batch with model_id, get, search by metrics and datasets',
      async () => {
        const e = (await call('POST', '/experiments/create', { name: 'model-metrics' })).body.experiment_id as string;
        const run = (await call('POST', '/runs/create', { experiment_id: e })).body.run.info.run_id as string;
        const mk = async (name: string) =>
          (await call('POST', '/logged-models', { experiment_id: e, name })).body.model.info.model_id as string;
        const a = await mk('ma');
        const b = await mk('mb');
        await mk('mc');
        let r = await call('POST', '/runs/log-metric', {
          run_id: run,
          key: 'acc',
          value: 0.5,
          timestamp: 100,
          step: 1,
          model_id: a,
          dataset_name: 'ds',
          dataset_digest: 'd1',
        });
        assert.equal(r.status, 200, r.text);
        r = await call('GET', `/logged-models/${a}`);
        assert.deepEqual(r.body.model.data.metrics, [
          {
            key: 'acc',
            value: 0.5,
            timestamp: 100,
            step: 1,
            run_id: run,
            model_id: a,
            dataset_name: 'ds',
            dataset_digest: 'd1',
          },
        ]);
        r = await call('POST', '/runs/log-batch', {
          run_id: run,
          metrics: [
            { key: 'acc', value: 0.9, timestamp: 200, step: 2, model_id: a, dataset_name: 'ds', dataset_digest: 'd1' },
            { key: 'acc', value: 0.7, timestamp: 100, step: 1, model_id: a, dataset_name: 'ds', dataset_digest: 'd1' },
            { key: 'acc', value: 0.3, timestamp: 150, step: 1, model_id: b, dataset_name: 'ds2' },
            { key: 'loss', value: 'NaN', timestamp: 150, step: 1, model_id: b, dataset_name: '', dataset_digest: '' },
            { key: 'plain', value: 1, timestamp: 150, step: 0 },
          ],
        });
        assert.equal(r.status, 200, r.text);
        r = await call('GET', `/logged-models/${a}`);
        // (model, key, timestamp, step, run) logged again keeps its first value, as in MLflow.
        assert.deepEqual(
          r.body.model.data.metrics.map((m: { value: number; step: number }) => [m.step, m.value]),
          [
            [1, 0.5],
            [2, 0.9],
          ],
        );
        r = await call('GET', `/logged-models/${b}`);
        assert.deepEqual(r.body.model.data.metrics, [
          { key: 'acc', value: 0.3, timestamp: 150, step: 1, run_id: run, model_id: b, dataset_name: 'ds2' },
          { key: 'loss', value: 0, timestamp: 150, step: 1, run_id: run, model_id: b },
        ]);
        // The run keeps every point as before.
        r = await call('GET', `/metrics/get-history?run_id=${run}&metric_key=acc`);
        assert.equal(r.body.metrics.length, 4);

        const search = async (body: Record<string, unknown>) => {
          const res = await call('POST', '/logged-models/search', { experiment_ids: [e], ...body });
          assert.equal(res.status, 200, res.text);
          return ((res.body.models ?? []) as { info: { name: string } }[]).map((m) => m.info.name);
        };
        assert.deepEqual(await search({ filter: 'metrics.acc > 0.8' }), ['ma']);
        assert.deepEqual(await search({ filter: 'metrics.acc <= 0.5', order_by: [{ field_name: 'name' }] }), [
          'ma',
          'mb',
        ]);
        assert.deepEqual(await search({ filter: "metrics.acc > 0.4 AND name = 'ma'" }), ['ma']);
        assert.deepEqual(await search({ filter: 'metrics.acc > 0.2', datasets: [{ dataset_name: 'ds2' }] }), ['mb']);
        assert.deepEqual(
          await search({ filter: 'metrics.acc > 0.2', datasets: [{ dataset_name: 'ds', dataset_digest: 'd2' }] }),
          [],
        );
        assert.deepEqual(await search({ datasets: [{ dataset_name: 'ds', dataset_digest: 'd1' }] }), ['ma']);
        assert.deepEqual(
          await search({
            datasets: [{ dataset_name: 'ds', dataset_digest: 'd1' }, { dataset_name: 'ds2' }],
            order_by: [{ field_name: 'name' }],
          }),
          ['ma', 'mb'],
        );
        // Ordered by each model's latest value; models without the metric last either way.
        assert.deepEqual(await search({ order_by: [{ field_name: 'metrics.acc', ascending: true }] }), [
          'mb',
          'ma',
          'mc',
        ]);
        assert.deepEqual(await search({ order_by: [{ field_name: 'metrics.acc', ascending: false }] }), [
          'ma',
          'mb',
          'mc',
        ]);
        assert.deepEqual(
          await search({
            order_by: [{ field_name: 'metrics.acc', ascending: false, dataset_name: 'ds2' }, { field_name: 'name' }],
          }),
          ['mb', 'ma', 'mc'],
        );
        const status = async (body: Record<string, unknown>) =>
          (await call('POST', '/logged-models/search', { experiment_ids: [e], ...body })).status;
        assert.equal(await status({ datasets: [{ dataset_digest: 'd1' }] }), 400);
        assert.equal(await status({ filter: "metrics.acc LIKE 'x'" }), 400);
        assert.equal(await status({ filter: "metrics.acc = 'x'" }), 400);
        assert.equal(await status({ order_by: [{ field_name: 'params.alpha' }] }), 400);

        // Refused whole: a model of no/another workspace, bad fields.
        r = await call('POST', '/runs/log-batch', {
          run_id: run,
          metrics: [
            { key: 'x1', value: 1, timestamp: 1 },
            { key: 'x1', value: 2, timestamp: 2, model_id: 'm-00000000000000000000000000000000' },
          ],
        });
        assert.equal(r.status, 404, r.text);
        assert.equal(r.body.error_code, 'RESOURCE_DOES_NOT_EXIST');
        r = await call('GET', `/metrics/get-history?run_id=${run}&metric_key=x1`);
        assert.deepEqual(r.body.metrics ?? [], []);
        assert.equal(
          (await call('POST', '/runs/log-metric', { run_id: run, key: 'k', value: 1, timestamp: 1, model_id: 5 }))
            .status,
          400,
        );
        assert.equal(
          (
            await call('POST', '/runs/log-metric', {
              run_id: run,
              key: 'k',
              value: 1,
              timestamp: 1,
              model_id: a,
              dataset_digest: 'x'.repeat(37),
            })
          ).status,
          400,
        );
        const other = await artifactWorkspace(t);
        const oe = (await t.request('POST', `${other.api}/experiments/create`, { name: 'o' })).body
          .experiment_id as string;
        const orun = (await t.request('POST', `${other.api}/runs/create`, { experiment_id: oe })).body.run.info
          .run_id as string;
        r = await t.request('POST', `${other.api}/runs/log-metric`, {
          run_id: orun,
          key: 'acc',
          value: 1,
          timestamp: 1,
          model_id: a,
        });
        assert.equal(r.status, 404, r.text);
        assert.equal((await call('GET', `/logged-models/${a}`)).body.model.data.metrics.length, 2);

        // Deleting a workspace deletes its models' metrics.
        const gone = await artifactWorkspace(t);
        const ge = (await t.request('POST', `${gone.api}/experiments/create`, { name: 'g' })).body
          .experiment_id as string;
        const grun = (await t.request('POST', `${gone.api}/runs/create`, { experiment_id: ge })).body.run.info
          .run_id as string;
        const gm = (await t.request('POST', `${gone.api}/logged-models`, { experiment_id: ge })).body.model.info
          .model_id as string;
        assert.equal(
          (
            await t.request('POST', `${gone.api}/runs/log-metric`, {
              run_id: grun,
              key: 'acc',
              value: 1,
              timestamp: 1,
              model_id: gm,
            })
          ).status,
          200,
        );
        const count = async () =>
          Number(
            (
              await t.server.ctx.db
                .selectFrom('tracking_model_metrics')
                .select((eb) => eb.fn.countAll().as('n'))
                .where('workspace_id', '=', gone.workspaceId)
                .executeTakeFirst()
            )?.n ?? 0,
          );
        assert.equal(await count(), 1);
        const del = await t.request('DELETE', `${gone.armId}?api-version=2025-09-01`);
        assert.ok(del.status === 200 || del.status === 202 || del.status === 204, del.text);
        for (let i = 0; i < 200 && (await t.request('GET', `${gone.armId}?api-version=2025-09-01`)).status !== 404; i++)
          await new Promise((res) => setTimeout(res, 50));
        assert.equal(await count(), 0);
        assert.equal((await call('GET', `/logged-models/${a}`)).body.model.data.metrics.length, 2);
      },
    );

    await tt.test('register a logged model: models:/<model_id> resolves to its artifacts', async () => {
      await call('POST', '/registered-models/create', { name: 'from-logged' });
      let r = await call('POST', '/model-versions/create', {
        name: 'from-logged',
        source: `models:/${modelId}`,
        model_id: modelId,
      });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.model_version.model_id, modelId);
      assert.equal(r.body.model_version.run_id, 'run-1');
      r = await call('GET', `/model-versions/get-download-uri?name=from-logged&version=1`);
      assert.equal(r.body.artifact_uri, `mlflow-artifacts:/${experimentId}/models/${modelId}/artifacts`);
      r = await call('GET', `/logged-models/${modelId}`);
      const tag = r.body.model.info.tags.find((x: { key: string }) => x.key === 'mlflow.modelVersions');
      assert.deepEqual(JSON.parse(tag.value), [{ name: 'from-logged', version: 1 }]);
      assert.equal(
        (
          await call('POST', '/model-versions/create', {
            name: 'from-logged',
            source: 'runs:/x/m',
            model_id: 'm-00000000000000000000000000000000',
          })
        ).status,
        404,
      );
    });

    await tt.test('validation, deletion, isolation', async () => {
      assert.equal((await call('POST', '/logged-models', { experiment_id: '987654' })).status, 404);
      assert.equal((await call('POST', '/logged-models', {})).status, 400);
      assert.equal((await call('POST', '/logged-models', { experiment_id: experimentId, name: 'a/b' })).status, 400);
      assert.equal(
        (await call('POST', '/logged-models', { experiment_id: experimentId, model_type: 'x'.repeat(501) })).status,
        400,
      );
      assert.equal(
        (await call('POST', '/logged-models', { experiment_id: experimentId, source_run_id: 'r'.repeat(65) })).status,
        400,
      );
      assert.equal(
        (await call('POST', '/logged-models', { experiment_id: experimentId, name: 'n'.repeat(501) })).status,
        400,
      );
      assert.equal(
        (
          await call('POST', '/logged-models', {
            experiment_id: experimentId,
            params: [
              { key: 'p', value: '1' },
              { key: 'p', value: '2' },
            ],
          })
        ).status,
        400,
      );
      const unnamed = await call('POST', '/logged-models', { experiment_id: experimentId });
      assert.match(unnamed.body.model.info.name, /^[a-z]+-[a-z]+-\d+$/);

      const other = await artifactWorkspace(t);
      assert.equal((await t.request('GET', `${other.api}/logged-models/${modelId}`)).status, 404);
      assert.equal(
        (await t.request('PATCH', `${other.api}/logged-models/${modelId}`, { status: 'LOGGED_MODEL_READY' })).status,
        404,
      );

      const gone = await call('POST', '/experiments/create', { name: 'to-delete' });
      await call('POST', '/experiments/delete', { experiment_id: gone.body.experiment_id });
      const r = await call('POST', '/logged-models', { experiment_id: gone.body.experiment_id });
      assert.equal(r.status, 400);
      assert.match(r.body.message, /must be in the 'active' state/);

      assert.equal((await call('DELETE', `/logged-models/${modelId}`)).status, 200);
      assert.equal((await call('GET', `/logged-models/${modelId}`)).status, 404);
      const kept = await call('GET', `/logged-models/${modelId}?allow_deleted=true`);
      assert.equal(kept.status, 200);
      const search = await call('POST', '/logged-models/search', { experiment_ids: [experimentId] });
      assert.ok(!(search.body.models ?? []).some((m: { info: { model_id: string } }) => m.info.model_id === modelId));
    });
  });
}
