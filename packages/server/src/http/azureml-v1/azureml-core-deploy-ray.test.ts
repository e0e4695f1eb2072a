import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { clientDialects } from '../../testing/harness.js';
import { clientPython, httpsJson } from '../../testing/tls-clients.js';
import { startAzureClientServer, type AzureClientServer, type Steps } from '../../testing/azure-client-server.js';
import { testRay } from '../../testing/ray.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const V = 'api-version=2025-09-01';
const ray = testRay('the azureml-core AKS-on-Ray tests');

// Issue 11: azureml-core's AKS webservices through the real client, on an attached Ray compute of
// the real single-node cluster of the tests (.ci/ray.sh): Model.deploy(…, AksWebservice…) runs the
// entry script as Ray Serve replicas; an AksEndpoint on the compute gets versions (create_version),
// each scored on its own (service.versions[name].run). One Python process per store.
for (const dialect of clientDialects('postgres')) {
  describe(`azureml-core AKS services on a Ray compute (${dialect})`, { skip: !ray }, () => {
    let s: AzureClientServer;
    let steps: Steps;
    let W: string;
    before(async () => {
      s = await startAzureClientServer(dialect, `v1ray-${dialect}`, {
        ray: { dashboard: ray!.dashboard, servePort: Number(process.env.ATELIER_TEST_RAY_SERVE_PORT ?? 28300) },
      });
      await s.workspace('ray-ws');
      W = `${s.server.url}${s.workspaceId('ray-ws')}`;
      const put = await httpsJson('PUT', `${W}/computes/ray1?${V}`, s.ca, s.token, {
        properties: { computeType: 'Ray', properties: { dashboardUrl: ray!.dashboard } },
      });
      assert.equal(put.status, 201, JSON.stringify(put.body));
      for (let i = 0; ; i++) {
        const op = await httpsJson('GET', String(put.headers['azure-asyncoperation']), s.ca, s.token);
        if (op.body.status === 'Succeeded') break;
        assert.equal(op.body.status, 'InProgress', JSON.stringify(op.body));
        assert.ok(i < 600, 'attaching the Ray compute did not end');
        await new Promise((r) => setTimeout(r, 100));
      }
    });
    after(async () => {
      await s?.close();
    });

    it('Model.deploy with AksWebservice.deploy_configuration(compute_target_name=…) serves on Ray', async (tc) => {
      const py = clientPython();
      if (!py) return tc.skip('no Python with azureml-core (set ATELIER_TEST_PYTHON)');
      steps = await s.steps(py, path.join(HERE, 'azureml_core_deploy_ray.py'), {
        WORKSPACE: 'ray-ws',
        RAY_COMPUTE: 'ray1',
        RAY_DASHBOARD: ray!.dashboard,
      });
      const { ok, err } = steps;
      assert.equal(ok('model id'), 'factor:1');
      assert.equal(ok('Model.deploy (AKS on Ray)'), 'Healthy');
      assert.deepEqual(ok('AKS attributes'), ['AksWebservice', 'AKS', 'ray1', 'Healthy', true, 1, { on: 'ray' }, true]);
      assert.deepEqual(ok('AKS run'), { result: [3, 6] });
      assert.deepEqual(ok('AKS get_keys'), [32, 32]);
      assert.equal(ok('AKS get_logs'), true);
      assert.deepEqual(ok('AKS through ARM'), [
        'ray1',
        'Kubernetes',
        { containerResourceRequests: { cpu: '0.1', memory: '256Mi' } },
      ]);
      // Keys <-> tokens: Azure lets an AKS service switch; while it uses tokens it has no keys to give.
      assert.deepEqual(ok('AKS update(token_auth_enabled=True)'), [false, true, [true], { result: [3, 6] }]);
      assert.match(err('AKS get_keys (tokens)'), /400[\s\S]*AMLToken/);
      assert.deepEqual(ok('AKS update(auth_enabled=True)'), [true, false, [32, 32], { result: [3, 6] }]);
      assert.match(err('AKS update(auth_enabled=False)'), /400[\s\S]*security rule/);
      ok('AKS delete');
      // Autoscaling: AKS's settings become the deployment's scaleSettings and Ray Serve's autoscaling_config
      // (target: 50 % of the 1 request a replica takes at once; decisions every 2 s).
      assert.deepEqual(ok('Model.deploy (AKS autoscale)'), ['Healthy', true, 1, 3, 50, 2, { result: [3, 6] }]);
      assert.deepEqual(ok('AKS autoscale through ARM'), {
        scaleType: 'TargetUtilization',
        minInstances: 1,
        maxInstances: 3,
        targetUtilizationPercentage: 50,
        pollingInterval: 'PT2S',
      });
      assert.deepEqual(ok('AKS autoscale on Ray Serve'), [
        { min_replicas: 1, max_replicas: 3, target_ongoing_requests: 0.5, upscale_delay_s: 2 },
      ]);
      // update(autoscale_enabled=True, _max_replicas=4, _target_utilization=60, _refresh_seconds=3): the minimum stays.
      assert.deepEqual(ok('AKS update(autoscale_*)'), [
        'Healthy',
        true,
        1,
        4,
        60,
        3,
        [{ min_replicas: 1, max_replicas: 4, target_ongoing_requests: 0.6, upscale_delay_s: 3 }],
        { result: [3, 6] },
      ]);
      assert.match(err('AKS update(collect_model_data=True)'), /501[\s\S]*collect_model_data=True is not built/);
      ok('AKS autoscale delete');
      const gone = await httpsJson('GET', `${W}/onlineEndpoints/aks-ray?${V}`, s.ca, s.token);
      assert.equal(gone.status, 404);
    });

    it('Model.deploy with AksEndpoint.deploy_configuration makes an endpoint on Ray with its first version', async () => {
      assert.ok(steps, 'the azureml-core process did not run');
      const { ok, err } = steps;
      assert.deepEqual(ok('Model.deploy (AksEndpoint on Ray)'), [
        'AksEndpoint',
        'ray1',
        'Healthy',
        { kind: 'endpoint' },
        'versions on Ray',
        { blue: [100, 'Healthy', 1, true] },
      ]);
      assert.deepEqual(ok('AksEndpoint through ARM'), [
        'ray1',
        { blue: 100 },
        { containerResourceRequests: { cpu: '0.1', memory: '256Mi' } },
      ]);
      assert.match(err('Model.deploy (AksEndpoint, no compute)'), /400[\s\S]*compute_target_name/);
      const none = await httpsJson('GET', `${W}/onlineEndpoints/ep-nowhere?${V}`, s.ca, s.token);
      assert.equal(none.status, 404);
    });

    it('AksEndpoint.create_version adds a version to the endpoint on the Ray compute, with its traffic', async () => {
      assert.ok(steps, 'the azureml-core process did not run');
      const { ok } = steps;
      assert.deepEqual(ok('endpoint run (blue)'), { result: [6] });
      assert.deepEqual(ok('create_version green'), [
        'AksEndpoint',
        'ray1',
        'Healthy',
        { blue: [70, 'Healthy', 1, true], green: [30, 'Healthy', 1, false] },
      ]);
    });

    it("service.versions[name].run scores that version, with the endpoint's keys", async () => {
      assert.ok(steps, 'the azureml-core process did not run');
      const { ok } = steps;
      assert.deepEqual(ok('versions[green].run'), { result: [30, 60] });
      assert.deepEqual(ok('versions[blue].run'), { result: [3, 6] });
      assert.equal(ok('version scoring_uri'), true);
      assert.equal(ok('versions[green].get_keys'), true);
      assert.deepEqual(ok('versions[green].get_logs'), [true, false]);
      // 30 calls of the endpoint with a 70/30 split: both versions answer (a miss has odds 0.7^30 + 0.3^30).
      assert.deepEqual(ok('endpoint run (split)'), ['{"result": [30]}', '{"result": [3]}']);
      ok('delete ep-ray');
      const gone = await httpsJson('GET', `${W}/onlineEndpoints/ep-ray?${V}`, s.ca, s.token);
      assert.equal(gone.status, 404);
    });
  });
}
