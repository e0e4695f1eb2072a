import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { clientDialects } from '../../testing/harness.js';
import { clientPython, httpsJson } from '../../testing/tls-clients.js';
import { startAzureClientServer, type AzureClientServer, type Steps } from '../../testing/azure-client-server.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const V = 'api-version=2025-09-01';

// Issue 11: the seed's `webservices` and `images` through the real azureml-core (one Python process
// per store), over the same online endpoints and build records ARM serves.
for (const dialect of clientDialects('sqlite')) {
  describe(`azureml-core webservices and images (${dialect})`, () => {
    let s: AzureClientServer;
    let out: Steps;
    const ok = (k: string) => out.ok(k);
    const err = (k: string) => out.err(k);
    let W: string;
    let MM: string;
    before(async () => {
      // The deployments' workers run on the clients' Python (it has mlflow and pandas).
      s = await startAzureClientServer(dialect, 'svc', { servingPython: clientPython() ?? undefined });
      await s.workspace('svc-ws');
      W = `${s.server.url}${s.workspaceId('svc-ws')}`;
      MM = `${s.server.url}/modelmanagement/v1.0${s.workspaceId('svc-ws')}`;
    });
    after(async () => s?.close());

    it('ws.webservices, Webservice(ws, name) and Webservice.list are the online endpoints', async (tc) => {
      const py = clientPython();
      if (!py) return tc.skip('no Python with azureml-core (set ATELIER_TEST_PYTHON)');
      out = await s.steps(py, path.join(HERE, 'azureml_core_services.py'), { WORKSPACE: 'svc-ws' });
      assert.equal(ok('Model.register (MLflow model folder)'), 'doubler:1');
      ok('ARM endpoints and deployments');
      assert.deepEqual(ok('ws.webservices'), ['svc-key', 'svc-token']);
      assert.deepEqual(ok('service attributes'), [
        'AksEndpoint',
        'AKSENDPOINT',
        'Healthy',
        true,
        true,
        false,
        { team: 'a' },
        { owner: 'seed' },
        'doubles x',
      ]);
      assert.deepEqual(ok('service versions'), {
        blue: [100, true, 'Healthy', 1, ['doubler:1']],
        green: [0, false, 'Healthy', 1, ['doubler:1']],
      });
      assert.deepEqual(ok('Webservice.list(compute_type=AKSENDPOINT)'), ['svc-key', 'svc-token']);
      assert.deepEqual(ok('Webservice.list(compute_type=ACI)'), []);
      assert.deepEqual(ok('Webservice.list(model_name)'), ['svc-key', 'svc-token']);
      assert.deepEqual(ok('Webservice.list(model_id)'), ['svc-key', 'svc-token']);
      assert.deepEqual(ok('Webservice.list(model_name=other)'), []);
      assert.deepEqual(ok('Webservice.list(tags)'), ['svc-key']);
      assert.deepEqual(ok('Webservice.list(properties)'), ['svc-key']);
    });

    it('run, keys, regen_key, tokens and logs act on the endpoint', async () => {
      assert.ok(out, 'the azureml-core process did not run');
      assert.deepEqual(ok('run'), { predictions: [2, 5] });
      const [primary, secondary] = ok('get_keys') as [string, string];
      assert.equal(primary.length, 32);
      assert.notEqual(primary, secondary);
      ok('regen_key(Secondary, set_key)');
      assert.deepEqual(ok('get_keys after regen'), [true, 'S'.repeat(32)]);
      // The same keys through ARM (one endpoint).
      const keys = await httpsJson('POST', `${W}/onlineEndpoints/svc-key/listKeys?${V}`, s.ca, s.token);
      assert.equal(keys.status, 200, JSON.stringify(keys.body));
      assert.deepEqual([keys.body.primaryKey, keys.body.secondaryKey], [primary, 'S'.repeat(32)]);
      assert.match(err('regen_key(Tertiary)'), /Primary, Secondary/);
      assert.match(ok('get_logs'), /\S/);
      assert.deepEqual(ok('token service auth'), [false, true]);
      assert.deepEqual(ok('get_access_token'), ['Bearer', true, true]);
      assert.deepEqual(ok('run (token)'), { predictions: [2, 5] });
      assert.match(err('get_keys (token service)'), /400[\s\S]*token/);
      // Bad input to the v1 routes: a clear 400 that changes nothing.
      const bad = await httpsJson('POST', `${MM}/services/svc-key/regenerateKeys`, s.ca, s.token, {
        keyType: 'Primary',
        keyValue: 'short',
      });
      assert.equal(bad.status, 400);
      assert.match(bad.body.error.message, /keyValue/);
      const after = await httpsJson('POST', `${W}/onlineEndpoints/svc-key/listKeys?${V}`, s.ca, s.token);
      assert.equal(after.body.primaryKey, primary);
      const tail = await httpsJson('GET', `${MM}/services/svc-key/logs?tail=-1`, s.ca, s.token);
      assert.equal(tail.status, 400);
      assert.match(tail.body.error.message, /tail/);
      // Without a token: 401.
      const anon = await httpsJson('GET', `${MM}/services`, s.ca, '');
      assert.equal(anon.status, 401);
    });

    it('update_version and delete_version change the deployments and traffic', async () => {
      assert.ok(out, 'the azureml-core process did not run');
      ok('update_version(traffic_percentile)');
      // The version the patch does not name (blue) takes the rest, as Azure's default version.
      assert.deepEqual(ok('traffic after update_version'), { blue: 70, green: 30 });
      ok('update_version(tags)');
      assert.deepEqual(ok('version tags'), { stage: 'canary' });
      assert.match(err('delete_version (with traffic)'), /409[\s\S]*trafficPercentile to 0/);
      ok('update_version(traffic 0)');
      ok('delete_version');
      assert.deepEqual(ok('versions after delete_version'), { blue: 100 });
      assert.deepEqual(ok('run after delete_version'), { predictions: [2, 5] });
      const green = await httpsJson('GET', `${W}/onlineEndpoints/svc-key/deployments/green?${V}`, s.ca, s.token);
      assert.equal(green.status, 404);
    });

    it("ws.images and Image are the workspace's build records (W/images)", async () => {
      assert.ok(out, 'the azureml-core process did not run');
      assert.deepEqual(ok('ws.images'), ['svc-key-blue', 'svc-key-green', 'svc-token-main']);
      assert.deepEqual(ok('version image'), [true, true]);
      assert.deepEqual(ok('Image(ws, id)'), [
        'UnknownImage',
        'svc-key-blue',
        1,
        'DeploymentPackage',
        'Succeeded',
        ['doubler:1'],
        'deployment',
      ]);
      assert.deepEqual(ok('Image(ws, name)'), ['svc-token-main', 1]);
      assert.deepEqual(ok('Image.list(model_name)'), ['svc-key-blue', 'svc-key-green', 'svc-token-main']);
      assert.deepEqual(ok('Image.list(model_name=other)'), []);
      assert.match(err('Image(ws, missing)'), /ImageNotFound|not found/);
      assert.deepEqual(ok('Webservice.list(image_id)'), ['svc-key']);
      // The same record through ARM W/images (one store).
      const images = await httpsJson('GET', `${W}/images?${V}`, s.ca, s.token);
      assert.equal(images.status, 200, JSON.stringify(images.body));
      const v1 = await httpsJson('GET', `${MM}/images?name=svc-key-blue`, s.ca, s.token);
      assert.equal(v1.status, 200, JSON.stringify(v1.body));
      const id = v1.body.value[0].id;
      const one = images.body.value.find((i: any) => i.name === id);
      assert.ok(one, `W/images has no ${id}`);
      assert.equal(one.properties.digest, v1.body.value[0].properties.digest);
      // Image.create's body needs azureml-core's uploaded driver program (azureml-core-images.test.ts).
      const create = await httpsJson('POST', `${MM}/images`, s.ca, s.token, { name: 'x' });
      assert.equal(create.status, 400);
      assert.match(create.body.error.message, /driverProgram/);
    });

    it('delete removes the endpoint; what v1 cannot change is a 400 naming the way', async () => {
      assert.ok(out, 'the azureml-core process did not run');
      // azureml-core 1.61's own AksEndpoint.update is broken (a TypeError before any request).
      assert.match(err('svc.update'), /_validate_update\(\) missing 2 required positional arguments/);
      const patch = await httpsJson('PATCH', `${MM}/services/svc-key`, s.ca, s.token, [
        { op: 'replace', path: '/sslEnabled', value: true },
      ]);
      assert.equal(patch.status, 400);
      assert.match(patch.body.error.message, /W\/onlineEndpoints/);
      // Model.deploy with an environment that is only a container image: a 400 naming why, nothing made
      // (azureml-core-deploy.test.ts deploys for real).
      assert.match(err('Model.deploy'), /400[\s\S]*no container runtime/);
      const env = await httpsJson('GET', `${W}/environments/deploy-env/versions?${V}`, s.ca, s.token);
      assert.deepEqual(env.body.value ?? [], []);
      const made = await httpsJson('GET', `${W}/onlineEndpoints/v1-made?${V}`, s.ca, s.token);
      assert.equal(made.status, 404);
      ok('delete');
      assert.deepEqual(ok('ws.webservices after delete'), ['svc-key']);
      assert.match(err('Webservice(ws, missing)'), /WebserviceNotFound/);
      const gone = await httpsJson('GET', `${W}/onlineEndpoints/svc-token?${V}`, s.ca, s.token);
      assert.equal(gone.status, 404);
      const missing = await httpsJson('DELETE', `${MM}/services/svc-token`, s.ca, s.token);
      assert.equal(missing.status, 404);
    });

    it("the seed's remaining Workspace methods: default compute target, dependencies, private endpoints, setup", async () => {
      assert.ok(out, 'the azureml-core process did not run');
      assert.equal(ok('get_default_compute_target(CPU) (none yet)'), null);
      ok('ComputeTarget.create(cpu-cluster)');
      assert.deepEqual(ok('get_default_compute_target(CPU)'), ['cpu-cluster', 'AmlCompute']);
      assert.equal(ok('get_default_compute_target(GPU)'), null);
      assert.equal(ok('update_dependencies()'), null);
      // A registry that does not exist is refused naming it; one made through ARM becomes the workspace's.
      assert.match(err('update_dependencies(missing registry)'), /svcacr' does not exist/);
      ok('ARM container registry');
      assert.match(ok('update_dependencies(container_registry)'), /\/registries\/svcacr$/);
      assert.match(ok('get_details containerRegistry'), /\/registries\/svcacr$/);
      // add_private_endpoint looks the virtual network up first (Microsoft.Network/virtualNetworks),
      // which Atelier does not keep; a private endpoint made through ARM is listed and its connection deleted.
      assert.match(err('add_private_endpoint'), /vnet and subnet was not found/);
      ok('ARM private endpoint');
      assert.deepEqual(ok('private_endpoints names'), ['svc-pe']);
      ok('delete_private_endpoint_connection');
      assert.deepEqual(ok('private_endpoints after delete'), []);
      const conns = await httpsJson('GET', `${W}/privateEndpointConnections?${V}`, s.ca, s.token);
      assert.equal(conns.status, 200, JSON.stringify(conns.body));
      assert.deepEqual(conns.body.value, []);
      // get_mlflow_tracking_uri() needs azureml-mlflow (not installable beside the pinned clients);
      // the URI it would build is served as the workspace's mlFlowTrackingUri.
      assert.match(err('get_mlflow_tracking_uri'), /azureml-mlflow/);
      assert.equal(ok('mlFlowTrackingUri'), `${s.server.url}/mlflow/v1.0${s.workspaceId('svc-ws')}`);
      // Workspace.setup() takes no auth: azureml-core's default one, with a service principal, has MSAL
      // validate the authority at login.microsoftonline.com before asking this server for a token.
      assert.match(err('Workspace.setup'), /login\.microsoftonline\.com|invalid_instance/);
    });
  });
}
