import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, testDialects, type TestServer } from '../testing/harness.js';
import { gate, startBehind } from '../testing/write-race.js';
import { V, createWorkspace, waitForOperation, wsPath } from '../http/arm/arm-test-helpers.js';
import { commandJob } from '../http/arm/job-test-helpers.js';

// Deleting a compute checks that no job runs or waits on it in the same write transaction as the
// delete, holding the compute's row; submitting a job onto a compute holds that row while the job is
// written. Of a delete and a concurrent submit exactly one wins; the loser changes nothing.
for (const dialect of testDialects()) {
  describe(`computes: the in-use check is atomic with the delete (${dialect})`, () => {
    let t: TestServer;
    let W: string;
    const cluster = {
      location: 'local',
      properties: { computeType: 'AmlCompute', properties: { vmSize: 'local-1c-2g' } },
    };
    // An attached Ray cluster (its address allowed; nothing here talks to it): what endpoints serve on.
    const ray = {
      location: 'local',
      properties: { computeType: 'Ray', properties: { dashboardUrl: 'http://127.0.0.1:8265' } },
    };
    const makeCompute = async (name: string, body: object = cluster) => {
      const put = await t.request('PUT', `${W}/computes/${name}?${V}`, body);
      assert.equal(put.status, 201, put.text);
      assert.equal((await waitForOperation(t, put.headers.get('azure-asyncoperation')!)).status, 'Succeeded');
    };
    const jobRows = async (name: string) =>
      t.server.ctx.db.selectFrom('jobs').select(['status', 'run_id']).where('name', '=', name).execute();

    before(async () => {
      process.env.ATELIER_RAY_ADDRESSES = 'http://127.0.0.1:8265';
      t = await startTestServer(dialect);
      delete process.env.ATELIER_RAY_ADDRESSES;
      await createWorkspace(t, 'cdel-rg', 'cdel-ws');
      W = wsPath(t, 'cdel-rg', 'cdel-ws');
      // Jobs stay Queued: these tests are about binding a job to a compute, not running it.
      await t.server.services.jobs.scheduler.stop();
    });
    after(async () => t?.close());

    it('a delete that checked first wins: the submit waiting behind it fails and leaves no job or run', async () => {
      await makeCompute('first-delete');
      const computes = t.server.services.computes;
      const g = gate();
      computes.testHooks.inUseChecked = g.hook;
      const del = t.request('DELETE', `${W}/computes/first-delete?${V}`);
      await g.reached;
      computes.testHooks.inUseChecked = undefined;
      const { outcome } = await startBehind(t.server.ctx.database, () =>
        t.request('PUT', `${W}/jobs/behind_delete?${V}`, commandJob('echo hi', { computeId: 'first-delete' })),
      );
      g.open();
      const deleted = await del;
      assert.equal(deleted.status, 202, deleted.text);
      const submit = await outcome;
      assert.ok(submit.ok);
      // SQLite: the submit's first read comes after the delete's commit; PostgreSQL: it waited for
      // the compute's row in the transaction that writes the job. Both find the compute gone.
      assert.equal(submit.value.status, 404, submit.value.text);
      assert.match(submit.value.body.error.message, /compute 'first-delete' could not be found/);
      assert.deepEqual(await jobRows('behind_delete'), [], 'no job was written');
      const run = await t.request('GET', `/mlflow/v1.0${W}/api/2.0/mlflow/runs/get?run_id=behind_delete`);
      // Never made (SQLite: the submit's checks failed first), or made and deleted again (PostgreSQL).
      assert.ok(run.status === 404 || run.body.run.info.lifecycle_stage === 'deleted', run.text);
      assert.equal((await t.request('GET', `${W}/computes/first-delete?${V}`)).status, 404);
    });

    it('a submit that holds the compute first wins: the delete waiting behind it sees the job and answers 409', async () => {
      await makeCompute('first-submit');
      const jobs = t.server.services.jobs.jobs;
      const g = gate();
      jobs.testHooks.computeHeld = g.hook;
      const submit = t.request(
        'PUT',
        `${W}/jobs/ahead_of_delete?${V}`,
        commandJob('echo hi', { computeId: 'first-submit' }),
      );
      await g.reached;
      jobs.testHooks.computeHeld = undefined;
      const { outcome } = await startBehind(t.server.ctx.database, () =>
        t.request('DELETE', `${W}/computes/first-submit?${V}`),
      );
      g.open();
      assert.equal((await submit).status, 201);
      const del = await outcome;
      assert.ok(del.ok);
      assert.equal(del.value.status, 409, del.value.text);
      assert.match(del.value.body.error.message, /has 1 job\(s\) queued for it; cancel them/);
      assert.deepEqual(
        (await jobRows('ahead_of_delete')).map((r) => r.status),
        ['Queued'],
      );
      assert.equal((await t.request('GET', `${W}/computes/first-submit?${V}`)).status, 200);
      // Once the job is canceled, the compute goes.
      assert.equal((await t.request('POST', `${W}/jobs/ahead_of_delete/cancel?${V}`)).status, 202);
      const again = await t.request('DELETE', `${W}/computes/first-submit?${V}`);
      assert.equal(again.status, 202, again.text);
      assert.equal((await waitForOperation(t, again.headers.get('azure-asyncoperation')!)).status, 'Succeeded');
      assert.equal((await t.request('GET', `${W}/computes/first-submit?${V}`)).status, 404);
    });

    const endpoint = (compute: string) => ({
      location: 'local',
      properties: { authMode: 'Key', compute: `${W}/computes/${compute}` },
    });

    it('an endpoint created on a compute first keeps it: the delete waiting behind it answers 409 naming it', async () => {
      await makeCompute('ray-first-ep', ray);
      const endpoints = t.server.services.serving.endpoints;
      const g = gate();
      endpoints.testHooks.computeHeld = g.hook;
      const create = t.request('PUT', `${W}/onlineEndpoints/ep-ahead?${V}`, endpoint('ray-first-ep'));
      await g.reached;
      endpoints.testHooks.computeHeld = undefined;
      const { outcome } = await startBehind(t.server.ctx.database, () =>
        t.request('DELETE', `${W}/computes/ray-first-ep?${V}`),
      );
      g.open();
      const created = await create;
      assert.ok(created.status === 200 || created.status === 201, created.text);
      const del = await outcome;
      assert.ok(del.ok);
      assert.equal(del.value.status, 409, del.value.text);
      assert.match(del.value.body.error.message, /is used by online endpoint 'ep-ahead'/);
      assert.equal((await t.request('GET', `${W}/computes/ray-first-ep?${V}`)).status, 200);
    });

    it('a delete that checked first wins: the endpoint waiting behind it is refused and nothing is stored', async () => {
      await makeCompute('ray-first-del', ray);
      const computes = t.server.services.computes;
      const g = gate();
      computes.testHooks.inUseChecked = g.hook;
      const del = t.request('DELETE', `${W}/computes/ray-first-del?${V}`);
      await g.reached;
      computes.testHooks.inUseChecked = undefined;
      const { outcome } = await startBehind(t.server.ctx.database, () =>
        t.request('PUT', `${W}/onlineEndpoints/ep-behind?${V}`, endpoint('ray-first-del')),
      );
      g.open();
      assert.equal((await del).status, 202);
      const create = await outcome;
      assert.ok(create.ok);
      assert.equal(create.value.status, 400, create.value.text);
      assert.match(create.value.body.error.message, /compute 'ray-first-del' could not be found/);
      assert.equal((await t.request('GET', `${W}/onlineEndpoints/ep-behind?${V}`)).status, 404, 'nothing stored');
    });

    // An environment version a queued or running job names is not deleted: the check and the delete
    // are one write transaction holding the version's row; a submit naming it holds that row FOR SHARE.
    const makeEnv = async (name: string) => {
      const put = await t.request('PUT', `${W}/environments/${name}/versions/1?${V}`, {
        properties: { image: 'python:3.11-slim' },
      });
      assert.equal(put.status, 201, put.text);
    };

    it('an environment version delete that checked first wins: the submit naming it waiting behind fails and leaves no job', async () => {
      await makeEnv('env-first-delete');
      const envs = t.server.services.assets.environments;
      const g = gate();
      envs.testHooks.inUseChecked = g.hook;
      const del = t.request('DELETE', `${W}/environments/env-first-delete/versions/1?${V}`);
      await g.reached;
      envs.testHooks.inUseChecked = undefined;
      const { outcome } = await startBehind(t.server.ctx.database, () =>
        t.request(
          'PUT',
          `${W}/jobs/env_behind_delete?${V}`,
          commandJob('echo hi', { environmentId: 'azureml:env-first-delete:1' }),
        ),
      );
      g.open();
      assert.equal((await del).status, 200);
      const submit = await outcome;
      assert.ok(submit.ok);
      assert.equal(submit.value.status, 404, submit.value.text);
      assert.match(submit.value.body.error.message, /environment 'env-first-delete'.*version '1'.*could not be found/);
      assert.deepEqual(await jobRows('env_behind_delete'), [], 'no job was written');
    });

    it('a submit that holds the environment version first wins: the delete waiting behind it sees the job and answers 409', async () => {
      await makeEnv('env-first-submit');
      const jobs = t.server.services.jobs.jobs;
      const g = gate();
      jobs.testHooks.versionsHeld = g.hook;
      const submit = t.request(
        'PUT',
        `${W}/jobs/env_ahead_of_delete?${V}`,
        commandJob('echo hi', { environmentId: `${W}/environments/env-first-submit/versions/1` }),
      );
      await g.reached;
      jobs.testHooks.versionsHeld = undefined;
      const { outcome } = await startBehind(t.server.ctx.database, () =>
        t.request('DELETE', `${W}/environments/env-first-submit/versions/1?${V}`),
      );
      g.open();
      assert.equal((await submit).status, 201);
      const del = await outcome;
      assert.ok(del.ok);
      assert.equal(del.value.status, 409, del.value.text);
      assert.match(
        del.value.body.error.message,
        /environment 'env-first-submit' version '1' is used by job 'env_ahead_of_delete' \(queued\)/,
      );
      assert.equal((await t.request('GET', `${W}/environments/env-first-submit/versions/1?${V}`)).status, 200);
      // Once the job is canceled, the version goes.
      assert.equal((await t.request('POST', `${W}/jobs/env_ahead_of_delete/cancel?${V}`)).status, 202);
      const again = await t.request('DELETE', `${W}/environments/env-first-submit/versions/1?${V}`);
      assert.equal(again.status, 200, again.text);
    });

    // A model version an online deployment (or an azureml-core webservice: its deployments) serves is
    // not deleted, nor its model: the check and the delete are one write holding the versions' rows;
    // a deployment is written holding the versions it serves FOR SHARE.
    const registry = () => `/mlflow/v1.0${W}/api/2.0/mlflow`;
    const makeModel = async (name: string) => {
      let r = await t.request('POST', `${registry()}/registered-models/create`, { name });
      assert.equal(r.status, 200, r.text);
      r = await t.request('POST', `${registry()}/model-versions/create`, {
        name,
        source: `mlflow-artifacts:/0/models/${name}/artifacts`,
      });
      assert.equal(r.status, 200, r.text);
    };
    const modelDeployment = (model: string) => ({
      location: 'local',
      properties: { endpointComputeType: 'Kubernetes', model: `azureml:${model}:1` },
    });

    it('a deployment that holds the model version first keeps it: deletes of the version or its model answer 409 naming it', async () => {
      await makeModel('served');
      await makeCompute('ray-model', ray);
      const ep = await t.request('PUT', `${W}/onlineEndpoints/ep-model?${V}`, endpoint('ray-model'));
      assert.ok(ep.status === 200 || ep.status === 201, ep.text);
      const deployments = t.server.services.serving.deployments;
      const g = gate();
      deployments.testHooks.versionsHeld = g.hook;
      const put = t.request('PUT', `${W}/onlineEndpoints/ep-model/deployments/blue?${V}`, modelDeployment('served'));
      await g.reached;
      deployments.testHooks.versionsHeld = undefined;
      const { outcome } = await startBehind(t.server.ctx.database, () =>
        t.request('DELETE', `${W}/models/served/versions/1?${V}`),
      );
      g.open();
      const created = await put;
      assert.ok(created.status === 200 || created.status === 201, created.text);
      const del = await outcome;
      assert.ok(del.ok);
      assert.equal(del.value.status, 409, del.value.text);
      assert.match(
        del.value.body.error.message,
        /model 'served' version 1 is used by deployment 'blue' of online endpoint 'ep-model'/,
      );
      // The model's delete (ARM) and MLflow's deletes are refused alike; the version is still there.
      const container = await t.request('DELETE', `${W}/models/served?${V}`);
      assert.equal(container.status, 409, container.text);
      assert.match(container.body.error.message, /model 'served' has versions used by deployment 'blue'/);
      const mlflow = await t.request('DELETE', `${registry()}/model-versions/delete`, { name: 'served', version: '1' });
      assert.equal(mlflow.status, 409, mlflow.text);
      assert.equal(mlflow.body.error_code, 'RESOURCE_CONFLICT');
      const got = await t.request('GET', `${registry()}/model-versions/get?name=served&version=1`);
      assert.equal(got.body.model_version.current_stage, 'None', got.text);
      // Once the deployment is gone, so can the version be.
      await waitForOperation(t, created.headers.get('azure-asyncoperation')!);
      const gone = await t.request('DELETE', `${W}/onlineEndpoints/ep-model/deployments/blue?${V}`);
      assert.ok(gone.status === 200 || gone.status === 202, gone.text);
      if (gone.status === 202)
        assert.equal((await waitForOperation(t, gone.headers.get('azure-asyncoperation')!)).status, 'Succeeded');
      const again = await t.request('DELETE', `${W}/models/served/versions/1?${V}`);
      assert.equal(again.status, 200, again.text);
    });

    it('a model version delete that checked first wins: the deployment waiting behind it is refused and nothing is stored', async () => {
      await makeModel('unserved');
      const g = gate();
      const reg = t.server.services.tracking.registry;
      reg.testHooks.inUseChecked = g.hook;
      const del = t.request('DELETE', `${W}/models/unserved/versions/1?${V}`);
      await g.reached;
      reg.testHooks.inUseChecked = undefined;
      const { outcome } = await startBehind(t.server.ctx.database, () =>
        t.request('PUT', `${W}/onlineEndpoints/ep-model/deployments/green?${V}`, modelDeployment('unserved')),
      );
      g.open();
      assert.equal((await del).status, 200);
      const put = await outcome;
      assert.ok(put.ok);
      assert.equal(put.value.status, 400, put.value.text);
      assert.match(put.value.body.error.message, /has no model 'unserved' version 1/);
      assert.equal(
        (await t.request('GET', `${W}/onlineEndpoints/ep-model/deployments/green?${V}`)).status,
        404,
        'nothing stored',
      );
    });
  });
}
