import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { clientDialects } from '../../testing/harness.js';
import { clientPython, httpsJson } from '../../testing/tls-clients.js';
import { startAzureClientServer, type AzureClientServer } from '../../testing/azure-client-server.js';
import { uvForTests } from '../../testing/uv.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const V = 'api-version=2025-09-01';
const uv = uvForTests();

// Issue 11: azureml-core's Model.deploy / service.update / delete through the real client (one
// Python process per store): a v1 service is an online endpoint with one deployment running the
// uploaded entry script in the v1 Environment sent, built by uv.
for (const dialect of clientDialects('postgres')) {
  describe(`azureml-core Model.deploy (${dialect})`, { skip: uv ? undefined : 'uv is not installed' }, () => {
    let s: AzureClientServer;
    let out: Record<string, { ok?: any; error?: string; trace?: string }>;
    let W: string;
    let MM: string;
    const saved = process.env.ATELIER_UV;
    const ok = (k: string) => {
      assert.ok(out[k], `no step ${k}`);
      assert.equal(out[k]!.error, undefined, `${k}: ${out[k]!.error}\n${out[k]!.trace ?? ''}`);
      return out[k]!.ok;
    };
    const err = (k: string) => {
      assert.ok(out[k], `no step ${k}`);
      assert.ok(out[k]!.error, `${k} should have failed, got ${JSON.stringify(out[k]!.ok)}`);
      return out[k]!.error!;
    };
    before(async () => {
      process.env.ATELIER_UV = uv;
      s = await startAzureClientServer(dialect, 'v1deploy');
      await s.workspace('deploy-ws');
      W = `${s.server.url}${s.workspaceId('deploy-ws')}`;
      MM = `${s.server.url}/modelmanagement/v1.0${s.workspaceId('deploy-ws')}`;
    });
    after(async () => {
      await s?.close();
      if (saved === undefined) delete process.env.ATELIER_UV;
      else process.env.ATELIER_UV = saved;
    });

    it('Model.deploy makes an ACI service azureml-core waits for, calls and lists', async (tc) => {
      const py = clientPython();
      if (!py) return tc.skip('no Python with azureml-core (set ATELIER_TEST_PYTHON)');
      const work = path.join(s.home, 'work');
      fs.mkdirSync(work, { recursive: true });
      out = await s.python(py, path.join(HERE, 'azureml_core_deploy.py'), { WORKSPACE: 'deploy-ws', WORKDIR: work });
      if (process.env.ATELIER_TEST_DUMP) console.log(JSON.stringify(out, null, 1));
      assert.equal(ok('Model.register'), 'factor:1');
      ok('Model.deploy (ACI)');
      ok('wait_for_deployment');
      assert.deepEqual(ok('service attributes'), [
        'AciWebservice',
        'ACI',
        'Healthy',
        true,
        { team: 'a' },
        { owner: 'seed' },
        'triples',
        true,
        0.5,
        ['factor:1'],
        'deploy-env',
      ]);
      assert.deepEqual(ok('run'), { result: [3, 6] });
      assert.deepEqual(ok('get_keys'), [32, 32]);
      ok('regen_key');
      assert.deepEqual(ok('run after regen_key'), { result: [15] });
      assert.equal(ok('get_logs'), true);
      assert.deepEqual(ok('ws.webservices'), { 'aci-svc': 'ACI' });
      assert.deepEqual(ok('Webservice.list(compute_type=ACI)'), ['aci-svc']);
      assert.deepEqual(ok('Webservice.list(model_name)'), ['aci-svc']);
    });

    it('Model.deploy with two models puts each under AZUREML_MODEL_DIR/{name}/{version}', async () => {
      assert.ok(out, 'the azureml-core process did not run');
      assert.deepEqual(ok('Model.deploy (two models)'), ['Healthy', ['factor:1', 'offset:1'], { result: [103, 106] }]);
      assert.deepEqual(ok('Webservice.list(model_name=offset)'), ['multi-svc']);
      ok('delete (two models)');
    });

    it('is one endpoint + deployment through ARM, with its code and environment as assets', async () => {
      assert.ok(out, 'the azureml-core process did not run');
      assert.deepEqual(ok('ARM endpoint'), ['Key', 'ACI', { 'version-1': 100 }]);
      assert.deepEqual(ok('ARM deployment'), ['src/score.py', 'azureml:factor:1', 'deploy-env/versions/1']);
    });

    it('bad input is a clear 4xx that makes nothing; a failing init() fails the service with its error', async () => {
      assert.ok(out, 'the azureml-core process did not run');
      assert.match(err('Model.deploy (taken name)'), /already exists/);
      ok('Model.deploy (failing init)');
      assert.match(err('wait_for_deployment (failing init)'), /Failed[\s\S]*the model file is corrupt/);
      assert.deepEqual(ok('failed state'), ['Failed', true]);
      ok('delete (failed)');
      assert.match(err('Model.deploy (AKS, missing compute)'), /no-such-aks/);
      assert.match(err('Model.deploy (enable_app_insights)'), /501[\s\S]*enable_app_insights=True is not built/);
      assert.match(err('Model.deploy (collect_model_data)'), /501[\s\S]*collect_model_data=True is not built/);
      assert.deepEqual(ok('ws.webservices after refusals'), ['aci-svc']);
      // Straight to the route: a taken name is a 409; unknown models, a missing entry script, other
      // compute types are 400s naming what to change; none makes anything.
      const base = {
        name: 'raw-svc',
        computeType: 'ACI',
        environmentImageRequest: { modelIds: ['factor:9'], assets: [], driverProgram: 'driver' },
      };
      assert.deepEqual(ok('POST services (taken name)'), [
        409,
        "a webservice named 'aci-svc' already exists in workspace 'deploy-ws': delete it, or change it with service.update(…)",
      ]);
      const unknown = await httpsJson('POST', `${MM}/services`, s.ca, s.token, base);
      assert.equal(unknown.status, 400, JSON.stringify(unknown.body));
      assert.match(unknown.body.error.message, /factor:9/);
      const noScript = await httpsJson('POST', `${MM}/services`, s.ca, s.token, {
        ...base,
        environmentImageRequest: {
          modelIds: ['factor:1'],
          driverProgram: 'driver',
          assets: [],
          environment: { name: 'x', python: {}, docker: { baseImage: 'python:3.11-slim' } },
        },
      });
      assert.equal(noScript.status, 400, JSON.stringify(noScript.body));
      assert.match(noScript.body.error.message, /entry_script/);
      const iot = await httpsJson('POST', `${MM}/services`, s.ca, s.token, { ...base, computeType: 'IOT' });
      assert.equal(iot.status, 400, JSON.stringify(iot.body));
      const none = await httpsJson('GET', `${W}/onlineEndpoints/raw-svc?${V}`, s.ca, s.token);
      assert.equal(none.status, 404);
      const aks = await httpsJson('GET', `${W}/onlineEndpoints/aks-svc?${V}`, s.ca, s.token);
      assert.equal(aks.status, 404);
      // A deployment's list of several models (atelier.models) is checked at PUT like its model.
      const E = `${W}/onlineEndpoints/multi-check`;
      const ep = await httpsJson('PUT', `${E}?${V}`, s.ca, s.token, {
        location: 'local',
        properties: { authMode: 'Key' },
      });
      assert.equal(ep.status, 201, JSON.stringify(ep.body));
      const several = (model: string, list: string) =>
        httpsJson('PUT', `${E}/deployments/multi?${V}`, s.ca, s.token, {
          location: 'local',
          properties: { model, properties: { 'atelier.models': list } },
        });
      const missing = await several('azureml:factor:1', 'azureml:factor:1,azureml:nope:1');
      assert.equal(missing.status, 400, JSON.stringify(missing.body));
      assert.match(missing.body.error.message, /nope/);
      const notFirst = await several('azureml:factor:1', 'azureml:offset:1,azureml:factor:1');
      assert.equal(notFirst.status, 400, JSON.stringify(notFirst.body));
      assert.match(notFirst.body.error.message, /atelier\.models.*first of them/);
      const one = await several('azureml:factor:1', 'azureml:factor:1');
      assert.equal(one.status, 400, JSON.stringify(one.body));
      assert.match(one.body.error.message, /2 to 32 different models/);
      const d = await httpsJson('GET', `${E}/deployments/multi?${V}`, s.ca, s.token);
      assert.equal(d.status, 404, 'nothing made');
      const del = await httpsJson('DELETE', `${E}?${V}`, s.ca, s.token);
      assert.ok(del.status < 300, JSON.stringify(del.body));
    });

    it('update changes tags, properties and description; a new inference_config is a new version', async () => {
      assert.ok(out, 'the azureml-core process did not run');
      ok('update(tags, properties, description)');
      assert.deepEqual(ok('after update'), [
        { team: 'b' },
        { owner: 'seed', stage: 'prod' },
        'still triples',
        'Healthy',
      ]);
      assert.match(err('update(auth_enabled=False)'), /400[\s\S]*security rule/);
      assert.match(err('update(enable_app_insights=True)'), /501[\s\S]*enable_app_insights=True is not built/);
      assert.deepEqual(ok('update(inference_config)'), { result: [30, 60] });
      assert.deepEqual(ok('after new version'), ['Healthy', { team: 'b' }]);
      ok('delete');
      assert.deepEqual(ok('ws.webservices after delete'), []);
      const gone = await httpsJson('GET', `${W}/onlineEndpoints/aci-svc?${V}`, s.ca, s.token);
      assert.equal(gone.status, 404);
    });

    it('AksEndpoint.create_version on an endpoint without a compute stops in azureml-core', async () => {
      assert.ok(out, 'the azureml-core process did not run');
      ok('ARM endpoint (no deployment)');
      // azureml-core builds ComputeTarget(ws, endpoint.compute_name) before sending: with no compute
      // (a Managed endpoint) its abstract class cannot be made. The route itself is proven on Ray in azureml-core-deploy-ray.test.ts.
      assert.match(err('AksEndpoint.create_version'), /Can't instantiate abstract class ComputeTarget/);
      ok('delete ep-versions');
    });
  });
}
