import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, testDialects, type TestServer } from '../../testing/harness.js';
import { artifactWorkspace, userWithRole } from './artifacts-testing.js';

for (const dialect of testDialects()) {
  test(`MLflow model registry (${dialect})`, async (tt) => {
    const t = await startTestServer(dialect);
    tt.after(() => t.close());
    const w = await artifactWorkspace(t);
    const api = w.api;
    const call = (method: string, path: string, body?: unknown, opts?: Parameters<TestServer['request']>[3]) =>
      t.request(method, `${api}${path}`, body, opts);
    const q = (o: Record<string, string | number | string[]>) => {
      const u = new URLSearchParams();
      for (const [k, v] of Object.entries(o)) for (const x of Array.isArray(v) ? v : [v]) u.append(k, String(x));
      return `?${u}`;
    };

    await tt.test('registered models: create, get, update, rename, delete', async () => {
      let r = await call('POST', '/registered-models/create', {
        name: 'churn',
        tags: [{ key: 'team', value: 'growth' }],
        description: 'first',
      });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.registered_model.name, 'churn');
      assert.deepEqual(r.body.registered_model.tags, [{ key: 'team', value: 'growth' }]);
      assert.equal(r.body.registered_model.description, 'first');
      assert.equal(r.body.registered_model.user_id, 'admin');
      assert.equal(typeof r.body.registered_model.creation_timestamp, 'number');

      r = await call('POST', '/registered-models/create', { name: 'churn' });
      assert.equal(r.status, 400);
      assert.equal(r.body.error_code, 'RESOURCE_ALREADY_EXISTS');
      assert.match(r.body.message, /Registered Model \(name=churn\) already exists/);
      for (const bad of [
        { name: '' },
        { name: 'a/b' },
        { name: 'a:b' },
        {},
        { name: 'x', tags: [{ key: '../k', value: 'v' }] },
        { name: 'x', unknown: 1 },
      ]) {
        const e = await call('POST', '/registered-models/create', bad);
        assert.equal(e.status, 400, JSON.stringify(bad));
        assert.equal(e.body.error_code, 'INVALID_PARAMETER_VALUE');
      }
      assert.equal(
        (await call('GET', `/registered-models/get${q({ name: 'x' })}`)).status,
        404,
        'a refused create leaves nothing behind',
      );

      r = await call('GET', `/registered-models/get${q({ name: 'churn' })}`);
      assert.equal(r.status, 200);
      assert.deepEqual(r.body.registered_model.latest_versions, []);
      r = await call('PATCH', '/registered-models/update', { name: 'churn', description: 'second' });
      assert.equal(r.body.registered_model.description, 'second');

      await call('POST', '/model-versions/create', {
        name: 'churn',
        source: 'mlflow-artifacts:/1/abc/artifacts/model',
        run_id: 'abc',
      });
      await call('POST', '/registered-models/alias', { name: 'churn', alias: 'champion', version: '1' });
      await call('POST', '/registered-models/create', { name: 'taken' });
      assert.equal(
        (await call('POST', '/registered-models/rename', { name: 'churn', new_name: 'taken' })).body.error_code,
        'RESOURCE_ALREADY_EXISTS',
      );
      r = await call('POST', '/registered-models/rename', { name: 'churn', new_name: 'churn-v2' });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.registered_model.name, 'churn-v2');
      assert.deepEqual(r.body.registered_model.aliases, [{ alias: 'champion', version: '1' }]);
      assert.deepEqual(r.body.registered_model.tags, [{ key: 'team', value: 'growth' }]);
      assert.equal((await call('GET', `/registered-models/get${q({ name: 'churn' })}`)).status, 404);
      r = await call('GET', `/model-versions/get${q({ name: 'churn-v2', version: '1' })}`);
      assert.equal(r.body.model_version.name, 'churn-v2');

      assert.equal((await call('DELETE', '/registered-models/delete', { name: 'churn-v2' })).status, 200);
      r = await call('GET', `/registered-models/get${q({ name: 'churn-v2' })}`);
      assert.equal(r.status, 404);
      assert.equal(r.body.error_code, 'RESOURCE_DOES_NOT_EXIST');
      assert.equal((await call('GET', `/model-versions/get${q({ name: 'churn-v2', version: '1' })}`)).status, 404);
      assert.equal((await call('DELETE', '/registered-models/delete', { name: 'churn-v2' })).status, 404);
    });

    await tt.test('registered model tags', async () => {
      await call('POST', '/registered-models/create', { name: 'tagged' });
      assert.equal(
        (await call('POST', '/registered-models/set-tag', { name: 'tagged', key: 'stage', value: 'dev' })).status,
        200,
      );
      await call('POST', '/registered-models/set-tag', { name: 'tagged', key: 'stage', value: 'prod' });
      let r = await call('GET', `/registered-models/get${q({ name: 'tagged' })}`);
      assert.deepEqual(r.body.registered_model.tags, [{ key: 'stage', value: 'prod' }]);
      assert.equal(
        (await call('DELETE', '/registered-models/delete-tag', { name: 'tagged', key: 'stage' })).status,
        200,
      );
      r = await call('GET', `/registered-models/get${q({ name: 'tagged' })}`);
      assert.deepEqual(r.body.registered_model.tags, []);
      assert.equal(
        (await call('POST', '/registered-models/set-tag', { name: 'nope', key: 'k', value: 'v' })).status,
        404,
      );
      assert.equal(
        (await call('POST', '/registered-models/set-tag', { name: 'tagged', key: 'a//b', value: 'v' })).status,
        400,
      );
    });

    await tt.test('versions, stages, latest versions, download URIs', async () => {
      await call('POST', '/registered-models/create', { name: 'clf' });
      const sources = ['mlflow-artifacts:/2/r1/artifacts/model', 'runs:/r2/model', 's3://bucket/models/m3'];
      for (const [i, source] of sources.entries()) {
        const r = await call('POST', '/model-versions/create', {
          name: 'clf',
          source,
          run_id: `r${i + 1}`,
          tags: [{ key: 'n', value: String(i + 1) }],
          description: `v${i + 1}`,
        });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.body.model_version.version, String(i + 1));
        assert.equal(r.body.model_version.current_stage, 'None');
        assert.equal(r.body.model_version.status, 'READY');
        assert.equal(r.body.model_version.source, source);
        assert.deepEqual(r.body.model_version.tags, [{ key: 'n', value: String(i + 1) }]);
      }
      // Sources that climb out, local paths, and missing models are refused.
      for (const source of [
        'mlflow-artifacts:/2/../../etc',
        'mlflow-artifacts:/2/%2E%2E/x',
        'http://h/api/2.0/mlflow-artifacts/artifacts/..%2f..%2fx',
        '/etc/passwd',
        'file:///etc/passwd',
        'relative/path',
        'models:/nope/1',
        'models:/m-0123456789abcdef0123456789abcdef',
        '',
      ]) {
        const r = await call('POST', '/model-versions/create', { name: 'clf', source });
        assert.equal(r.status, 400, `${source}: ${r.text}`);
      }
      assert.equal(
        (await call('POST', '/model-versions/create', { name: 'none-such', source: 'runs:/x/m' })).status,
        404,
      );
      assert.equal(
        (await call('POST', '/model-versions/create', { name: 'clf', source: 'runs:/x/m', run_id: 'r'.repeat(65) }))
          .status,
        400,
      );
      assert.equal((await call('POST', '/registered-models/create', { name: 'n'.repeat(257) })).status, 400);

      // models:/name/version resolves to where that version's files are.
      let r = await call('POST', '/model-versions/create', { name: 'clf', source: 'models:/clf/1' });
      assert.equal(r.body.model_version.version, '4');
      r = await call('GET', `/model-versions/get-download-uri${q({ name: 'clf', version: '4' })}`);
      assert.equal(r.body.artifact_uri, 'mlflow-artifacts:/2/r1/artifacts/model');
      r = await call('GET', `/model-versions/get-download-uri${q({ name: 'clf', version: '2' })}`);
      assert.equal(r.body.artifact_uri, 'runs:/r2/model');

      // Deleting a version never frees its number.
      assert.equal((await call('DELETE', '/model-versions/delete', { name: 'clf', version: '4' })).status, 200);
      assert.equal((await call('GET', `/model-versions/get${q({ name: 'clf', version: '4' })}`)).status, 404);
      r = await call('POST', '/model-versions/create', { name: 'clf', source: 'runs:/r5/model' });
      assert.equal(r.body.model_version.version, '5');
      assert.equal((await call('GET', `/model-versions/get${q({ name: 'clf', version: 'x' })}`)).status, 400);

      r = await call('PATCH', '/model-versions/update', { name: 'clf', version: '1', description: 'baseline' });
      assert.equal(r.body.model_version.description, 'baseline');

      r = await call('POST', '/model-versions/transition-stage', {
        name: 'clf',
        version: '1',
        stage: 'production',
        archive_existing_versions: false,
      });
      assert.equal(r.body.model_version.current_stage, 'Production');
      await call('POST', '/model-versions/transition-stage', {
        name: 'clf',
        version: '2',
        stage: 'Staging',
        archive_existing_versions: false,
      });
      r = await call('POST', '/model-versions/transition-stage', {
        name: 'clf',
        version: '3',
        stage: 'Production',
        archive_existing_versions: true,
      });
      assert.equal(r.body.model_version.current_stage, 'Production');
      assert.equal(
        (await call('GET', `/model-versions/get${q({ name: 'clf', version: '1' })}`)).body.model_version.current_stage,
        'Archived',
      );
      r = await call('POST', '/model-versions/transition-stage', {
        name: 'clf',
        version: '5',
        stage: 'None',
        archive_existing_versions: true,
      });
      assert.equal(r.status, 400);
      assert.equal(
        (await call('POST', '/model-versions/transition-stage', { name: 'clf', version: '5', stage: 'Shipped' }))
          .status,
        400,
      );

      r = await call('POST', '/registered-models/get-latest-versions', { name: 'clf' });
      assert.deepEqual(
        r.body.model_versions
          .map((v: { version: string; current_stage: string }) => `${v.version}:${v.current_stage}`)
          .sort(),
        ['1:Archived', '2:Staging', '3:Production', '5:None'],
      );
      r = await call('POST', '/registered-models/get-latest-versions', { name: 'clf', stages: ['Production'] });
      assert.deepEqual(
        r.body.model_versions.map((v: { version: string }) => v.version),
        ['3'],
      );
      r = await call('GET', `/registered-models/get-latest-versions${q({ name: 'clf', stages: ['staging', 'None'] })}`);
      assert.deepEqual(r.body.model_versions.map((v: { version: string }) => v.version).sort(), ['2', '5']);
      r = await call('GET', `/registered-models/get${q({ name: 'clf' })}`);
      assert.equal(r.body.registered_model.latest_versions.length, 4);

      await call('POST', '/model-versions/set-tag', { name: 'clf', version: '1', key: 'validated', value: 'yes' });
      r = await call('GET', `/model-versions/get${q({ name: 'clf', version: '1' })}`);
      assert.deepEqual(r.body.model_version.tags, [
        { key: 'n', value: '1' },
        { key: 'validated', value: 'yes' },
      ]);
      await call('DELETE', '/model-versions/delete-tag', { name: 'clf', version: '1', key: 'validated' });
      r = await call('GET', `/model-versions/get${q({ name: 'clf', version: '1' })}`);
      assert.deepEqual(r.body.model_version.tags, [{ key: 'n', value: '1' }]);
    });

    await tt.test('concurrent version creations get distinct numbers', async () => {
      await call('POST', '/registered-models/create', { name: 'busy' });
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          call('POST', '/model-versions/create', { name: 'busy', source: `runs:/r${i}/model` }),
        ),
      );
      for (const r of results) assert.equal(r.status, 200, r.text);
      assert.deepEqual(
        results.map((r) => Number(r.body.model_version.version)).sort((a, b) => a - b),
        Array.from({ length: 12 }, (_, i) => i + 1),
      );
    });

    await tt.test('aliases: models:/name@alias and models:/name/latest resolve', async () => {
      await call('POST', '/registered-models/create', { name: 'aliased' });
      for (const i of [1, 2, 3])
        await call('POST', '/model-versions/create', {
          name: 'aliased',
          source: `mlflow-artifacts:/3/run${i}/artifacts/model`,
        });
      assert.equal(
        (await call('POST', '/registered-models/alias', { name: 'aliased', alias: 'champion', version: '2' })).status,
        200,
      );
      let r = await call('GET', `/registered-models/alias${q({ name: 'aliased', alias: 'champion' })}`);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.model_version.version, '2');
      assert.deepEqual(r.body.model_version.aliases, ['champion']);
      r = await call('GET', `/registered-models/alias${q({ name: 'aliased', alias: 'latest' })}`);
      assert.equal(r.body.model_version.version, '3');
      for (const alias of ['latest', 'LATEST', 'v1', 'V12', 'has space', '']) {
        assert.equal(
          (await call('POST', '/registered-models/alias', { name: 'aliased', alias, version: '1' })).status,
          400,
          alias,
        );
      }
      assert.equal(
        (await call('POST', '/registered-models/alias', { name: 'aliased', alias: 'x', version: '9' })).status,
        404,
      );
      r = await call('POST', '/model-versions/create', { name: 'aliased', source: 'models:/aliased@champion' });
      r = await call(
        'GET',
        `/model-versions/get-download-uri${q({ name: 'aliased', version: r.body.model_version.version })}`,
      );
      assert.equal(r.body.artifact_uri, 'mlflow-artifacts:/3/run2/artifacts/model');
      // Moving the alias; deleting the version it points at removes it.
      await call('POST', '/registered-models/alias', { name: 'aliased', alias: 'champion', version: '1' });
      assert.equal(
        (await call('GET', `/registered-models/alias${q({ name: 'aliased', alias: 'champion' })}`)).body.model_version
          .version,
        '1',
      );
      await call('DELETE', '/model-versions/delete', { name: 'aliased', version: '1' });
      r = await call('GET', `/registered-models/alias${q({ name: 'aliased', alias: 'champion' })}`);
      assert.equal(r.status, 400);
      assert.equal(r.body.error_code, 'INVALID_PARAMETER_VALUE');
      await call('POST', '/registered-models/alias', { name: 'aliased', alias: 'prod', version: '3' });
      assert.equal((await call('DELETE', '/registered-models/alias', { name: 'aliased', alias: 'prod' })).status, 200);
      assert.deepEqual(
        (await call('GET', `/registered-models/get${q({ name: 'aliased' })}`)).body.registered_model.aliases,
        [],
      );
    });

    await tt.test('search registered models and model versions', async () => {
      for (const name of ['search-A1', 'search-a2', 'search-b3']) {
        await call('POST', '/registered-models/create', {
          name,
          tags: [
            { key: 'family', value: name.includes('b') ? 'beta' : 'alpha' },
            { key: 'mlflow.prompt.is_prompt', value: name === 'search-b3' ? 'true' : 'false' },
          ],
        });
        await call('POST', '/model-versions/create', {
          name,
          source: `runs:/run-${name}/model`,
          run_id: `run-${name}`,
        });
      }
      const names = (r: { body: { registered_models?: { name: string }[] } }) =>
        (r.body.registered_models ?? []).map((m) => m.name);
      let r = await call('GET', `/registered-models/search${q({ filter: "name LIKE 'search-a%'" })}`);
      assert.deepEqual(names(r), ['search-a2']);
      r = await call('GET', `/registered-models/search${q({ filter: "name ILIKE 'search-a%'" })}`);
      assert.deepEqual(names(r), ['search-A1', 'search-a2']);
      r = await call(
        'GET',
        `/registered-models/search${q({ filter: "tags.family = 'alpha' and name != 'search-a2'" })}`,
      );
      assert.deepEqual(names(r), ['search-A1']);
      // Prompts are hidden unless asked for.
      r = await call('GET', `/registered-models/search${q({ filter: "name LIKE 'search-%'" })}`);
      assert.deepEqual(names(r), ['search-A1', 'search-a2']);
      r = await call('GET', `/registered-models/search${q({ filter: "tags.`mlflow.prompt.is_prompt` = 'true'" })}`);
      assert.deepEqual(names(r), ['search-b3']);
      // MLflow's client adds this condition to every model search; models without the tag match.
      r = await call(
        'GET',
        `/registered-models/search${q({ filter: "name LIKE 'search-%' AND tag.`mlflow.prompt.is_prompt` != 'true'" })}`,
      );
      assert.deepEqual(names(r), ['search-A1', 'search-a2']);
      r = await call('GET', `/registered-models/search${q({ filter: "name IN ('search-a2', 'clf')" })}`);
      assert.deepEqual(names(r), ['clf', 'search-a2']);
      r = await call(
        'GET',
        `/model-versions/search${q({ filter: "name LIKE 'search-%' AND tags.`mlflow.prompt.is_prompt` != 'true'" })}`,
      );
      assert.deepEqual((r.body.model_versions ?? []).map((v: { name: string }) => v.name).sort(), [
        'search-A1',
        'search-a2',
      ]);
      r = await call(
        'GET',
        `/registered-models/search${q({ filter: "name LIKE 'search-%'", order_by: ['name DESC'] })}`,
      );
      assert.deepEqual(names(r), ['search-a2', 'search-A1']);

      // Paging.
      r = await call('GET', `/registered-models/search${q({ max_results: 2 })}`);
      const seen = names(r);
      assert.equal(seen.length, 2);
      let token = r.body.next_page_token as string | undefined;
      while (token) {
        r = await call('GET', `/registered-models/search${q({ max_results: 2, page_token: token })}`);
        seen.push(...names(r));
        token = r.body.next_page_token;
      }
      assert.equal(new Set(seen).size, seen.length);
      assert.ok(seen.includes('search-a2') && seen.includes('clf') && !seen.includes('search-b3'));

      for (const bad of <Record<string, string | number | string[]>[]>[
        { filter: "name = 'x' OR name = 'y'" },
        { filter: "description = 'x'" },
        { filter: 'name = ' },
        { max_results: 1001 },
        { max_results: 0 },
        { order_by: 'color' },
        { page_token: 'not a token' },
      ]) {
        const e = await call('GET', `/registered-models/search${q(bad)}`);
        assert.equal(e.status, 400, JSON.stringify(bad));
        assert.equal(e.body.error_code, 'INVALID_PARAMETER_VALUE');
      }

      const versions = (x: { body: { model_versions?: { name: string; version: string }[] } }) =>
        (x.body.model_versions ?? []).map((v) => `${v.name}/${v.version}`);
      r = await call('GET', `/model-versions/search${q({ filter: "name = 'clf'", order_by: ['version_number ASC'] })}`);
      assert.deepEqual(versions(r), ['clf/1', 'clf/2', 'clf/3', 'clf/5']);
      r = await call('GET', `/model-versions/search${q({ filter: "run_id IN ('run-search-A1', 'run-search-a2')" })}`);
      assert.deepEqual(versions(r).sort(), ['search-A1/1', 'search-a2/1']);
      r = await call(
        'GET',
        `/model-versions/search${q({ filter: "name = 'clf' and version_number >= 3 and tags.n = '3'" })}`,
      );
      assert.deepEqual(versions(r), ['clf/3']);
      r = await call(
        'GET',
        `/model-versions/search${q({ filter: "source_path LIKE 'runs:/%'", order_by: ['name ASC', 'version_number DESC'] })}`,
      );
      assert.ok(versions(r).includes('clf/5'));
      assert.equal((await call('GET', `/model-versions/search${q({ filter: "stage = 'x'" })}`)).status, 400);
      assert.equal((await call('GET', `/model-versions/search${q({ filter: "source_path IN ('a')" })}`)).status, 400);
    });

    await tt.test("a model version's files, for the web UI (runs:/ and mlflow-artifacts:/ sources)", async () => {
      const exp = await call('POST', '/experiments/create', { name: 'ui-files' });
      const run = await call('POST', '/runs/create', { experiment_id: exp.body.experiment_id });
      assert.equal(run.status, 200, run.text);
      const root = (run.body.run.info.artifact_uri as string).replace(/^mlflow-artifacts:\/*/, '');
      const up = await fetch(`${w.artifacts}/${root}/model/MLmodel`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${t.adminToken}` },
        body: 'flavors: {}',
      });
      assert.equal(up.status, 200);
      await call('POST', '/registered-models/create', { name: 'ui' });
      await call('POST', '/model-versions/create', {
        name: 'ui',
        source: `runs:/${run.body.run.info.run_id}/model`,
        run_id: run.body.run.info.run_id,
      });
      await call('POST', '/model-versions/create', { name: 'ui', source: `mlflow-artifacts:/${root}/model` });
      await call('POST', '/model-versions/create', { name: 'ui', source: 's3://elsewhere/model' });
      for (const v of ['1', '2']) {
        const r = await t.request(
          'GET',
          `${w.trackingUri}/model-versions/get-artifact${q({ name: 'ui', version: v, path: 'MLmodel' })}`,
        );
        assert.equal(r.status, 200, r.text);
        assert.equal(r.text, 'flavors: {}');
      }
      assert.equal(
        (
          await t.request(
            'GET',
            `${w.trackingUri}/model-versions/get-artifact${q({ name: 'ui', version: '1', path: '../../x' })}`,
          )
        ).status,
        400,
      );
      assert.equal(
        (
          await t.request(
            'GET',
            `${w.trackingUri}/model-versions/get-artifact${q({ name: 'ui', version: '3', path: 'MLmodel' })}`,
          )
        ).status,
        501,
      );
      assert.equal(
        (
          await t.request(
            'GET',
            `${w.trackingUri}/model-versions/get-artifact${q({ name: 'ui', version: '1', path: 'nope' })}`,
          )
        ).status,
        404,
      );
    });

    await tt.test('deleting a workspace removes its registry and logged models', async () => {
      const doomed = await artifactWorkspace(t);
      const exp = await t.request('POST', `${doomed.api}/experiments/create`, { name: 'e' });
      const lm = await t.request('POST', `${doomed.api}/logged-models`, {
        experiment_id: exp.body.experiment_id,
        tags: [{ key: 'k', value: 'v' }],
      });
      assert.equal(lm.status, 200, lm.text);
      await t.request('POST', `${doomed.api}/registered-models/create`, {
        name: 'm',
        tags: [{ key: 'k', value: 'v' }],
      });
      await t.request('POST', `${doomed.api}/model-versions/create`, {
        name: 'm',
        source: `models:/${lm.body.model.info.model_id}`,
        model_id: lm.body.model.info.model_id,
      });
      await t.request('POST', `${doomed.trackingUri}/api/2.0/mlflow-artifacts/mpu/create/x`, {
        path: 'f.bin',
        num_parts: 1,
      });
      const db = t.server.ctx.db;
      for (const table of [
        'mlflow_registered_models',
        'mlflow_model_versions',
        'mlflow_logged_models',
        'mlflow_artifact_uploads',
      ] as const) {
        assert.equal(
          (await db.selectFrom(table).select('workspace_id').where('workspace_id', '=', doomed.workspaceId).execute())
            .length,
          1,
          `${table} before`,
        );
      }
      const del = await t.request('DELETE', `${doomed.armId}?api-version=2025-09-01`);
      assert.ok(del.status === 202 || del.status === 200 || del.status === 204, del.text);
      // Wait for the delete operation itself to finish (not only for the workspace to be gone).
      const op = del.headers.get('azure-asyncoperation');
      for (let i = 0; i < 400; i++) {
        const gone = (await t.request('GET', `${doomed.armId}?api-version=2025-09-01`)).status === 404;
        const status = op ? (await t.request('GET', op)).body?.status : 'Succeeded';
        if (gone && status !== 'InProgress' && status !== undefined) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      for (const table of [
        'mlflow_registered_models',
        'mlflow_registered_model_tags',
        'mlflow_model_versions',
        'mlflow_logged_models',
        'mlflow_artifact_uploads',
      ] as const) {
        const rows = await db
          .selectFrom(table)
          .select('workspace_id')
          .where('workspace_id', '=', doomed.workspaceId)
          .execute();
        assert.equal(rows.length, 0, table);
      }
      const tags = await db
        .selectFrom('mlflow_logged_model_tags')
        .select('model_id')
        .where('model_id', '=', lm.body.model.info.model_id)
        .execute();
      assert.equal(tags.length, 0);
    });

    await tt.test('workspaces are separate; roles decide', async () => {
      const other = await artifactWorkspace(t);
      assert.equal((await t.request('GET', `${other.api}/registered-models/get?name=clf`)).status, 404);
      assert.equal(
        (await t.request('POST', `${other.api}/registered-models/create`, { name: 'clf' })).status,
        200,
        'the same name in another workspace is another model',
      );
      const otherSearch = await t.request('GET', `${other.api}/registered-models/search`);
      assert.deepEqual(
        otherSearch.body.registered_models.map((m: { name: string }) => m.name),
        ['clf'],
      );

      const reader = await userWithRole(t, 'Reader', w.armId);
      const asReader = { token: null, headers: { authorization: reader } };
      assert.equal((await call('GET', '/registered-models/get?name=clf', undefined, asReader)).status, 200);
      assert.equal(
        (await call('POST', '/registered-models/get-latest-versions', { name: 'clf' }, asReader)).status,
        200,
        'a read-only POST needs only read',
      );
      const denied = await call('POST', '/registered-models/create', { name: 'by-reader' }, asReader);
      assert.equal(denied.status, 403);
      assert.equal(denied.body.error_code, 'PERMISSION_DENIED');
      assert.equal(
        (await t.request('GET', `${other.api}/registered-models/get?name=clf`, undefined, asReader)).status,
        404,
      );
      const scientist = await userWithRole(t, 'AzureML Data Scientist', w.armId);
      const created = await call(
        'POST',
        '/registered-models/create',
        { name: 'by-scientist' },
        { token: null, headers: { authorization: scientist } },
      );
      assert.equal(created.status, 200);
    });
  });
}
