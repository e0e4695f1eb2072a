import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { ADMIN_PASSWORD, startTestServer, clientDialects, type TestServer } from '../../src/testing/harness.js';
import { explain, findPython, makeWorkspace, runScript, type Auth, type ScriptResult } from './python.js';
import { findMoto, startMoto, type Moto } from '../../src/testing/moto.js';

/**
 * The stock Python `mlflow` client (pinned in .ci/python-requirements.txt) against a real Atelier:
 * each script drives one area of the client API and asserts what it sees; the test then checks the
 * same data again through the REST API. Every failing client step is listed in the failure message.
 */
const { python, skip } = findPython();

for (const dialect of clientDialects('postgres')) {
  describe(`MLflow Python client (${dialect})`, { skip }, () => {
    let t: TestServer;
    let trackingUri: string;
    let otherUri: string;
    const token = (): Auth => ({ token: t.adminToken });
    const api = (uri: string, p: string) => `${uri}/api/2.0/mlflow/${p}`;
    const unique = () => `c${crypto.randomBytes(4).toString('hex')}`;

    before(async () => {
      t = await startTestServer(dialect);
      trackingUri = (await makeWorkspace(t, 'client-rg', 'client-ws')).trackingUri;
      otherUri = (await makeWorkspace(t, 'client-rg', 'other-ws')).trackingUri;
    });
    after(async () => {
      await t?.close();
    });

    async function run(script: string, args: string[], auth: Auth = token()): Promise<ScriptResult> {
      const r = await runScript(python!, script, args, trackingUri, auth);
      assert.ok(r.code === 0 && r.result && Object.keys(r.result.failed).length === 0, explain(script, r));
      return r;
    }

    // fluent.py runs its steps with the token, then again with Basic auth, in one interpreter; each
    // case asserts its own half (the basic half's steps are named "[basic] …").
    const basicName = `fluent-basic-${unique()}`;
    let fluentRun: Promise<ScriptResult> | undefined;
    async function fluent(basic: boolean): Promise<Record<string, string>> {
      const r = await (fluentRun ??= runScript(
        python!,
        'fluent.py',
        [`fluent-${unique()}`, basicName, 'admin', ADMIN_PASSWORD],
        trackingUri,
        token(),
      ));
      assert.ok(r.result, explain('fluent.py', r));
      const mine = (step: string) => step.startsWith('[basic] ') === basic;
      const failed = [...Object.keys(r.result.failed), ...Object.keys(r.result.blocked)].filter(mine);
      assert.ok(failed.length === 0 && r.result.passed.some(mine), explain('fluent.py', r));
      return r.result as unknown as Record<string, string>;
    }

    it('fluent API with MLFLOW_TRACKING_TOKEN: runs, params, metrics, tags, artifacts, nested and async logging', async () => {
      const { run_id: runId, child_id: childId, experiment_id: experimentId } = await fluent(false);
      // The same data, read through the REST API.
      const got = await t.request('GET', `${api(trackingUri, 'runs/get')}?run_id=${runId}`);
      assert.equal(got.status, 200, got.text);
      assert.equal(got.body.run.info.status, 'FINISHED');
      assert.equal(got.body.run.info.experiment_id, experimentId);
      const params = Object.fromEntries(
        got.body.run.data.params.map((p: { key: string; value: string }) => [p.key, p.value]),
      );
      assert.equal(params.lr, '0.01');
      assert.equal(params.optimizer, 'adam');
      const hist = await t.request('GET', `${api(trackingUri, 'metrics/get-history')}?run_id=${runId}&metric_key=loss`);
      assert.equal(hist.status, 200, hist.text);
      assert.equal(hist.body.metrics.length, 12);
      const child = await t.request('GET', `${api(trackingUri, 'runs/get')}?run_id=${childId}`);
      const tags = Object.fromEntries(
        child.body.run.data.tags.map((x: { key: string; value: string }) => [x.key, x.value]),
      );
      assert.equal(tags['mlflow.parentRunId'], runId);
      const arts = await t.request('GET', `${api(trackingUri, 'artifacts/list')}?run_id=${runId}`);
      assert.equal(arts.status, 200, arts.text);
      assert.ok(
        arts.body.files.some((f: { path: string }) => f.path === 'weights.bin'),
        arts.text,
      );
      // Another workspace's tracking URI does not see this run.
      const elsewhere = await t.request('GET', `${api(otherUri, 'runs/get')}?run_id=${runId}`);
      assert.equal(elsewhere.status, 404, elsewhere.text);
      assert.equal(elsewhere.body.error_code, 'RESOURCE_DOES_NOT_EXIST');
    });

    it('fluent API with MLFLOW_TRACKING_USERNAME/PASSWORD (Basic auth)', async () => {
      const out = await fluent(true);
      const got = await t.request('GET', `${api(trackingUri, 'experiments/get-by-name')}?experiment_name=${basicName}`);
      assert.equal(got.status, 200, got.text);
      assert.equal(got.body.experiment.experiment_id, out.basic_experiment_id);
    });

    // The refused clients and the one pointed at the server root: one interpreter (scripts/refusals.py).
    let refusals: Promise<Record<string, string | null>> | undefined;
    const refused = (): Promise<Record<string, string | null>> =>
      (refusals ??= runScript(python!, 'refusals.py', [trackingUri, t.url, t.adminToken], trackingUri, {
        none: true,
      }).then((r) => {
        assert.ok(r.code === 0 && r.result, `refusals.py exited ${r.code}: ${r.stderr.slice(-2000)}`);
        return r.result as unknown as Record<string, string | null>;
      }));

    it('refuses a client with a wrong token or password', async () => {
      const out = await refused();
      for (const auth of ['wrong token', 'wrong password', 'no credentials']) {
        const error = out[auth];
        assert.ok(error, `the client was let in with ${auth}`);
        assert.match(error, /401|UNAUTHENTICATED|Unauthorized/i, `${auth}: ${error.slice(-800)}`);
      }
    });

    it('a client pointed at the server root instead of a tracking URI is told where the tracking URI is', async () => {
      const error = (await refused())['server root'];
      assert.ok(error, 'the client at the server root was answered');
      assert.match(error, /ENDPOINT_NOT_FOUND/, error.slice(-1500));
      assert.ok(
        error.includes(
          `${t.url}/mlflow/v1.0/subscriptions/<subscriptionId>/resourceGroups/<resourceGroup>/providers/Microsoft.MachineLearningServices/workspaces/<name>`,
        ),
        error.slice(-1500),
      );
      assert.match(error, /getMlflowTrackingUri/);
    });

    it('large artifacts: multipart upload and multipart (Range) download as the client does them', async () => {
      const r = await run('artifacts_large.py', [`large-${unique()}`]);
      const runId = (r.result as unknown as Record<string, string>).run_id;
      const listed = await t.request('GET', `${api(trackingUri, 'artifacts/list')}?run_id=${runId}&path=multipart`);
      assert.equal(listed.status, 200, listed.text);
      assert.deepEqual(listed.body.files, [
        { path: 'multipart/big.bin', is_dir: false, file_size: 5 * 1024 * 1024 + 12345 },
      ]);
    });

    it('search_runs and search_experiments with filters, ordering, paging and view types', async () => {
      const prefix = unique();
      const r = await run('search.py', [prefix]);
      const [a] = (r.result as unknown as { experiment_ids: string[] }).experiment_ids;
      const found = await t.request('POST', api(trackingUri, 'runs/search'), {
        experiment_ids: [a],
        filter: "metrics.accuracy > 0.5 and params.optimizer = 'adam'",
        order_by: ['metrics.accuracy DESC'],
      });
      assert.equal(found.status, 200, found.text);
      assert.deepEqual(
        found.body.runs.map((x: { info: { run_name: string } }) => x.info.run_name),
        ['alpha', 'gamma'],
      );
    });

    it('MlflowClient registry calls: models, versions, tags, aliases, stages, search, download URI', async () => {
      const prefix = unique();
      await run('registry.py', [prefix]);
      const deleted = await t.request('GET', `${api(trackingUri, 'registered-models/get')}?name=${prefix}-model`);
      assert.equal(deleted.status, 404, deleted.text);
      const other = await t.request('GET', `${api(trackingUri, 'registered-models/get')}?name=${prefix}-other`);
      assert.equal(other.status, 200, other.text);
      const elsewhere = await t.request('GET', `${api(otherUri, 'registered-models/get')}?name=${prefix}-other`);
      assert.equal(elsewhere.status, 404, elsewhere.text);
    });

    it('pyfunc.log_model, load_model from runs:/, models:/name/1, models:/name@alias, register_model', async () => {
      const prefix = unique();
      const r = await run('pyfunc_models.py', [prefix]);
      const name = (r.result as unknown as Record<string, string>).registered;
      const v = await t.request('GET', `${api(trackingUri, 'model-versions/get')}?name=${name}&version=2`);
      assert.equal(v.status, 200, v.text);
      const alias = await t.request('GET', `${api(trackingUri, 'registered-models/alias')}?name=${name}&alias=prod`);
      assert.equal(alias.status, 200, alias.text);
      assert.equal(alias.body.model_version.version, '1');
    });
  });
}

// The same client with artifacts in an S3 bucket (moto on loopback) instead of the data folder:
// proxied multipart uploads, Range downloads and models logged, loaded and registered.
const motoPython = findMoto('the MLflow client tests on an S3 blob store');
for (const dialect of clientDialects('sqlite')) {
  describe(
    `MLflow Python client on an S3 blob store (${dialect})`,
    { skip: skip ?? (!motoPython && 'no moto') },
    () => {
      let t: TestServer;
      let moto: Moto;
      let trackingUri: string;
      const unique = () => `c${crypto.randomBytes(4).toString('hex')}`;
      before(async () => {
        moto = await startMoto(motoPython!);
        t = await startTestServer(dialect, { blobStore: await moto.bucket() });
        trackingUri = (await makeWorkspace(t, 'client-rg', 's3-ws')).trackingUri;
      });
      after(async () => {
        await t?.close();
        moto?.stop();
      });
      const run = async (script: string, args: string[]): Promise<ScriptResult> => {
        const r = await runScript(python!, script, args, trackingUri, { token: t.adminToken });
        assert.ok(r.code === 0 && r.result && Object.keys(r.result.failed).length === 0, explain(script, r));
        return r;
      };

      it('large artifacts: multipart upload and Range download', async () => {
        const r = await run('artifacts_large.py', [`large-${unique()}`]);
        const runId = (r.result as unknown as Record<string, string>).run_id;
        const listed = await t.request(
          'GET',
          `${trackingUri}/api/2.0/mlflow/artifacts/list?run_id=${runId}&path=multipart`,
        );
        assert.deepEqual(listed.body.files, [
          { path: 'multipart/big.bin', is_dir: false, file_size: 5 * 1024 * 1024 + 12345 },
        ]);
      });

      it('pyfunc.log_model, load_model, register_model', async () => {
        await run('pyfunc_models.py', [unique()]);
      });
    },
  );
}
