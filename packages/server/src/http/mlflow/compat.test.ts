import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, testDialects } from '../../testing/harness.js';
import { pythonJson } from '../../tracking/shared/python-json.js';
import { pythonValue } from './common.js';
import { trackingClient } from './tracking-helpers.js';

/**
 * What MLflow's own REST tests (tests/tracking/test_rest_tracking.py, test_model_registry.py) expect
 * of a tracking server, beyond the routes' own tests: MLflow's validation wording, the web UI's
 * routes, path checks, 501 for families not built, /version.
 */

test('pythonJson writes as json.dumps; pythonValue shows values as MLflow error messages do', () => {
  assert.equal(pythonJson([{ name: 'model', version: 1 }]), '[{"name": "model", "version": 1}]');
  assert.equal(pythonJson({ b: 'é', a: [true, null] }, ',', ':', true), '{"a":[true,null],"b":"\\u00e9"}');
  assert.deepEqual(pythonValue('foo'), { text: '"foo"', type: 'str' });
  assert.deepEqual(pythonValue(9, '{"artifact_location": 9.0}', 'artifact_location'), { text: '9.0', type: 'float' });
  assert.deepEqual(pythonValue(31), { text: '31', type: 'int' });
});

for (const dialect of testDialects()) {
  test(`MLflow compatibility: validation wording, paths, web UI routes, unbuilt families (${dialect})`, async (s) => {
    const t = await startTestServer(dialect);
    s.after(() => t.close());
    const c = await trackingClient(t);
    const ui = (p: string) => `${c.ws.trackingUri}${p}`;
    const exp = await c.createExperiment('compat');
    const runId = await c.createRun(exp);

    await s.test('schema errors use MLflow wording (status and code unchanged)', async () => {
      const bad = async (path: string, body: unknown, message: string) => {
        const r = await c.call('POST', path, body);
        assert.equal(r.status, 400, r.text);
        assert.equal(r.body.error_code, 'INVALID_PARAMETER_VALUE');
        assert.ok(r.body.message.includes(message), `${path} ${JSON.stringify(body)}: ${r.body.message}`);
      };
      await bad('/experiments/create', { name: 123 }, "Invalid value 123 for parameter 'name' supplied");
      await bad('/experiments/create', {}, "Missing value for required parameter 'name'.");
      await bad(
        '/experiments/create',
        { name: 'x', artifact_location: 9.0 },
        "Invalid value 9 for parameter 'artifact_location' supplied",
      );
      const raw = await t.request('POST', `${c.ws.api}/experiments/create`, '{"name": "x", "artifact_location": 9.0}');
      assert.match(
        raw.body.message,
        /^Invalid value 9\.0 for parameter 'artifact_location' supplied: Hint: Value was of type 'float'\./,
      );
      await bad('/experiments/create', { name: 'x', tags: '5' }, `Invalid value "5" for parameter 'tags' supplied`);
      await bad(
        '/runs/log-metric',
        { run_id: 31, key: 'm', value: 1, timestamp: 1 },
        "Invalid value 31 for parameter 'run_id' supplied",
      );
      await bad(
        '/runs/log-metric',
        { run_id: runId, key: 'm', value: 1, timestamp: 1, step: 'foo' },
        `Invalid value "foo" for parameter 'step' supplied`,
      );
      await bad(
        '/runs/log-metric',
        { run_id: null, key: 'm', value: 1, timestamp: 1 },
        "Missing value for required parameter 'run_id'",
      );
      await bad(
        '/runs/log-metric',
        { run_id: runId, value: 1, timestamp: 1 },
        "Missing value for required parameter 'key'",
      );
      await bad(
        '/runs/log-metric',
        { run_id: runId, key: null, value: 1, timestamp: 1 },
        "Missing value for required parameter 'key'",
      );
      await bad(
        '/runs/log-parameter',
        { run_id: runId, key: 31, value: 'v' },
        "Invalid value 31 for parameter 'key' supplied",
      );
      await bad(
        '/runs/set-tag',
        { run_id: runId, key: 'k', value: 41 },
        "Invalid value 41 for parameter 'value' supplied",
      );
      await bad('/runs/set-tag', { run_id: runId, value: 'v' }, "Missing value for required parameter 'key'");
      await bad(
        '/runs/log-batch',
        { run_id: runId, params: 'foo' },
        `Invalid value "foo" for parameter 'params' supplied`,
      );
      await bad(
        '/runs/search',
        { experiment_ids: [exp], max_results: 123456789 },
        "Invalid value 123456789 for parameter 'max_results' supplied",
      );
      assert.equal((await c.call('POST', '/runs/set-tag', { run_uuid: runId, key: 'k', value: 'v' })).status, 200);
    });

    await s.test('artifact_location: local paths refused, remote and proxied ones kept', async () => {
      for (const loc of ['my_location', '/etc', 'file:///tmp/x', 'C:\\data']) {
        await c.fails(
          'POST',
          '/experiments/create',
          { name: `loc-${loc}`, artifact_location: loc },
          400,
          'INVALID_PARAMETER_VALUE',
          /local paths are not accepted/,
        );
      }
      await c.fails(
        'POST',
        '/experiments/create',
        { name: 'loc-up', artifact_location: 'mlflow-artifacts:/a/%2e%2e/b' },
        400,
        'INVALID_PARAMETER_VALUE',
        /'\.\.'/,
      );
      const id = await c.createExperiment('loc-s3');
      assert.ok(id);
      const s3 = (await c.ok('POST', '/experiments/create', { name: 'loc-s3b', artifact_location: 's3://bucket/p' }))
        .experiment_id;
      assert.equal(
        (await c.ok('GET', `/experiments/get?experiment_id=${s3}`)).experiment.artifact_location,
        's3://bucket/p',
      );
    });

    await s.test("paths with '..' are 'Invalid path', checked before anything else", async () => {
      const exact = { error_code: 'INVALID_PARAMETER_VALUE', message: 'Invalid path' };
      const list = await c.call('GET', `/artifacts/list?run_id=${runId}&path=../path`);
      assert.equal(list.status, 400);
      assert.deepEqual(list.body, exact);
      for (const u of [
        `/get-artifact?run_id=${runId}&path=../path`,
        `/get-artifact?run_uuid=${runId}&path=%2e%2e/x`,
        '//model-versions/get-artifact?name=model&version=1&path=../path',
        '/model-versions/get-artifact?name=model&version=1&path=/etc/passwd',
      ]) {
        const r = await t.request('GET', ui(u));
        assert.equal(r.status, 400, u);
        assert.deepEqual(r.body, exact, u);
      }
    });

    await s.test('upload-artifact and get-artifact (web UI) write and read a run file', async () => {
      const up = (q: string, body?: string) =>
        t.request('POST', ui(`/ajax-api/2.0/mlflow/upload-artifact${q}`), body, {
          headers: { 'content-type': 'text/plain' },
        });
      const fails = async (q: string, body: string | undefined, message: string) => {
        const r = await up(q, body);
        assert.equal(r.status, 400, r.text);
        assert.equal(r.body.error_code, 'INVALID_PARAMETER_VALUE');
        assert.ok(r.body.message.includes(message), r.text);
      };
      await fails('', 'x', 'Request must specify run_uuid.');
      await fails(`?run_uuid=${runId}`, 'x', 'Request must specify path.');
      await fails(`?run_uuid=${runId}&path=`, 'x', 'Request must specify path.');
      await fails(`?run_uuid=${runId}&path=../test.txt`, 'x', 'Invalid path');
      await fails(`?run_uuid=${runId}&path=test.txt`, undefined, 'Request must specify data.');
      await fails(
        `?run_uuid=${runId}&path=big.bin`,
        'x'.repeat(10 * 1024 * 1024 + 1),
        'Artifact size is too large. Max size is 10MB.',
      );
      assert.equal((await up(`?run_uuid=${'a'.repeat(32)}&path=t.txt`, 'x')).status, 404);
      assert.equal((await up(`?run_uuid=${runId}&path=dir/test.txt`, 'hello world')).status, 200);
      const got = await t.request('GET', ui(`/get-artifact?run_uuid=${runId}&path=dir/test.txt`));
      assert.equal(got.status, 200);
      assert.equal(got.text, 'hello world');
      assert.match(got.headers.get('content-disposition') ?? '', /attachment/);
      const listed = await c.ok('GET', `/artifacts/list?run_id=${runId}&path=dir`);
      assert.deepEqual(listed.files, [{ path: 'dir/test.txt', is_dir: false, file_size: 11 }]);
      assert.equal(
        (await t.request('GET', ui(`/get-artifact?run_uuid=${runId}&path=dir/test.txt`), undefined, { token: null }))
          .status,
        401,
      );
      assert.equal((await t.request('GET', ui(`/get-artifact?run_uuid=${'b'.repeat(32)}&path=x`))).status, 404);
    });

    await s.test('metrics/get-history-bulk: runs in id order, points by (timestamp, step, value)', async () => {
      const bulk = (q: string) => t.request('GET', ui(`/ajax-api/2.0/mlflow/metrics/get-history-bulk${q}`));
      const bad = async (q: string, message: string) => {
        const r = await bulk(q);
        assert.equal(r.status, 400, r.text);
        assert.ok(r.body.message.includes(message), r.text);
      };
      await bad('?metric_key=k', 'GetMetricHistoryBulk request must specify at least one run_id');
      await bad(
        `?${Array.from({ length: 101 }, (_, i) => `run_id=id_${i}`).join('&')}&metric_key=k`,
        'GetMetricHistoryBulk request cannot specify more than 100 run_ids',
      );
      await bad('?run_id=123', 'GetMetricHistoryBulk request must specify a metric_key');
      const r1 = await c.createRun(exp);
      const r2 = await c.createRun(exp);
      const points = [
        { key: 'a', timestamp: 2, step: 3, value: 12 },
        { key: 'a', timestamp: 1, step: 2, value: 10 },
        { key: 'a', timestamp: 1, step: 3, value: 12 },
        { key: 'a', timestamp: 1, step: 3, value: 11 },
      ];
      for (const p of points) {
        await c.ok('POST', '/runs/log-metric', { run_id: r1, ...p });
        await c.ok('POST', '/runs/log-metric', { run_id: r2, ...p, value: p.value + 1 });
      }
      const order = [points[1]!, points[3]!, points[2]!, points[0]!];
      const [first, second] = [r1, r2].sort();
      const both = await bulk(`?run_id=${r2}&run_id=${r1}&run_id=${'c'.repeat(32)}&metric_key=a`);
      assert.equal(both.status, 200, both.text);
      const expect = (id: string) => order.map((p) => ({ ...p, value: id === r2 ? p.value + 1 : p.value, run_id: id }));
      assert.deepEqual(both.body.metrics, [...expect(first!), ...expect(second!)]);
      assert.deepEqual((await bulk(`?run_id=${r1}&metric_key=a&max_results=2`)).body.metrics, expect(r1).slice(0, 2));
      assert.deepEqual((await bulk(`?run_id=${r1}&metric_key=nothing`)).body.metrics, []);
    });

    await s.test('experiments/search-datasets and log-inputs with models', async () => {
      const sd = (body: unknown) => t.request('POST', ui('/ajax-api/2.0/mlflow/experiments/search-datasets'), body);
      for (const body of [{}, { experiment_ids: [] }]) {
        const r = await sd(body);
        assert.equal(r.status, 400);
        assert.equal(r.body.message, 'SearchDatasets request must specify at least one experiment_id.');
      }
      assert.match(
        (await sd({ experiment_ids: Array.from({ length: 21 }, (_, i) => `id_${i}`) })).body.message,
        /cannot specify more than 20 experiment_ids/,
      );
      const e2 = await c.createExperiment('datasets');
      const run = await c.createRun(e2);
      const model = (await c.ok('POST', '/logged-models', { experiment_id: e2 })).model.info;
      await c.ok('POST', '/runs/log-inputs', {
        run_id: run,
        datasets: [
          {
            dataset: { name: 'name1', digest: 'digest1', source_type: 'local', source: 's' },
            tags: [{ key: 'mlflow.data.context', value: 'training' }],
          },
        ],
        models: [{ model_id: model.model_id }],
      });
      await c.ok('POST', '/runs/log-inputs', {
        run_id: run,
        datasets: [{ dataset: { name: 'name2', digest: 'd2', source_type: 'local', source: 's' } }],
        models: [{ model_id: model.model_id }],
      });
      const r = await sd({ experiment_ids: [e2, 'not-an-id'] });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.body.dataset_summaries, [
        { experiment_id: e2, name: 'name1', digest: 'digest1', context: 'training' },
        { experiment_id: e2, name: 'name2', digest: 'd2' },
      ]);
      const got = await c.ok('GET', `/runs/get?run_id=${run}`);
      assert.deepEqual(got.run.inputs.model_inputs, [{ model_id: model.model_id }]);
      assert.equal(got.run.inputs.dataset_inputs.length, 2);
      await c.fails(
        'POST',
        '/runs/log-inputs',
        { run_id: run, models: [{ model_id: 'm-00000000000000000000000000000000' }] },
        404,
        'RESOURCE_DOES_NOT_EXIST',
        /Logged model/,
      );
      await c.fails(
        'POST',
        '/runs/log-inputs',
        { run_id: run, models: [{}] },
        400,
        'INVALID_PARAMETER_VALUE',
        /models\[0\]\.model_id/,
      );
      // A model of another workspace is not found here.
      const other = await trackingClient(t);
      const e3 = await other.createExperiment('x');
      const foreign = (await other.ok('POST', '/logged-models', { experiment_id: e3 })).model.info;
      await c.fails(
        'POST',
        '/runs/log-inputs',
        { run_id: run, models: [{ model_id: foreign.model_id }] },
        404,
        'RESOURCE_DOES_NOT_EXIST',
      );
    });

    await s.test('logged models in the Default experiment of a fresh workspace; registry JSON as MLflow', async () => {
      const fresh = await trackingClient(t);
      const model = (await fresh.ok('POST', '/logged-models', { experiment_id: '0' })).model.info;
      assert.equal(model.experiment_id, '0');
      await fresh.ok('POST', '/registered-models/create', { name: 'model' });
      const mv = (
        await fresh.ok('POST', '/model-versions/create', {
          name: 'model',
          source: model.artifact_uri,
          model_id: model.model_id,
        })
      ).model_version;
      assert.equal(mv.description, '');
      assert.equal((await fresh.ok('GET', '/model-versions/get?name=model&version=1')).model_version.description, '');
      assert.equal(
        (await fresh.ok('GET', '/registered-models/get?name=model')).registered_model.description,
        undefined,
      );
      const tags = (await fresh.ok('GET', `/logged-models/${model.model_id}`)).model.info.tags as {
        key: string;
        value: string;
      }[];
      assert.equal(tags.find((x) => x.key === 'mlflow.modelVersions')?.value, '[{"name": "model", "version": 1}]');
    });

    await s.test("model version sources with relative segments get MLflow's message; '....' is a name", async () => {
      await c.ok('POST', '/registered-models/create', { name: 'src' });
      for (const source of [
        'mlflow-artifacts://host:9000/models/../../../',
        'http://host:9000/models/../../../',
        'mlflow-artifacts://host:9000/models/..%2f..%2fartifacts',
        'mlflow-artifacts://host:9000/models/artifact%00',
        'mlflow-artifacts:/models/.',
        'runs:/r/./m',
      ]) {
        await c.fails(
          'POST',
          '/model-versions/create',
          { name: 'src', source },
          400,
          'INVALID_PARAMETER_VALUE',
          /If supplying a source as an http, https, local file path, ftp, objectstore, or mlflow-artifacts uri/,
        );
      }
      for (const source of ['mlflow-artifacts://host:9000/models/artifact/..../']) {
        assert.equal((await c.call('POST', '/model-versions/create', { name: 'src', source })).status, 200, source);
      }
    });

    await s.test('web UI prompt lab, unbuilt families and /version', async () => {
      const pl = await t.request('POST', ui('/ajax-api/2.0/mlflow/runs/create-promptlab-run'), { experiment_id: exp });
      assert.equal(pl.status, 501);
      assert.equal(pl.body.error_code, 'NOT_IMPLEMENTED');
      const families: [string, string, RegExp][] = [
        ['POST', '/api/2.0/mlflow/traces', /tracing/],
        ['POST', '/api/3.0/mlflow/traces', /tracing/],
        ['GET', '/api/3.0/mlflow/traces/tr-1', /tracing/],
        ['GET', '/ajax-api/2.0/mlflow/get-trace-artifact?request_id=tr-1', /tracing/],
        ['POST', '/api/3.0/mlflow/traces/tr-1/assessments', /assessments/],
        ['POST', '/v1/traces', /OTLP/],
        ['POST', '/graphql', /GraphQL/],
        ['POST', '/ajax-api/graphql', /GraphQL/],
        ['POST', '/api/3.0/mlflow/gateway/secrets/create', /AI gateway/],
        ['GET', '/ajax-api/3.0/mlflow/gateway/supported-providers', /AI gateway/],
        ['POST', '/api/3.0/mlflow/datasets/create', /evaluation datasets/],
        ['POST', '/api/3.0/mlflow/scorers/register', /scorers/],
      ];
      for (const [method, path, family] of families) {
        const r = await t.request(method, ui(path), method === 'POST' ? {} : undefined);
        assert.equal(r.status, 501, `${method} ${path}: ${r.text}`);
        assert.equal(r.body.error_code, 'NOT_IMPLEMENTED');
        assert.match(r.body.message, family);
      }
      assert.equal((await t.request('GET', ui('/api/9.0/nothing'))).status, 404);
      const v = await t.request('GET', ui('/version'));
      assert.equal(v.status, 200);
      assert.match(v.text, /^\d+\.\d+\.\d+$/);
      assert.match(v.headers.get('content-type') ?? '', /^text\/plain/);
      assert.equal((await t.request('GET', ui('/version'), undefined, { token: null })).status, 401);
    });
  });
}
