import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { clientDialects } from '../../testing/harness.js';
import { startAzureClientServer, type AzureClientServer } from '../../testing/azure-client-server.js';
import { clientPython, httpsJson } from '../../testing/tls-clients.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const python = clientPython();
const skip = python ? undefined : 'no Python with azureml-core (ATELIER_TEST_PYTHON)';

/**
 * The server as an Azure cloud (`GET /metadata/endpoints`, what `ARM_CLOUD_METADATA_URL` names) and the
 * `adfs` tenant alias: azureml-core finds the cloud and signs a service principal in with public
 * settings only (docs/clients.md section 5).
 */
for (const dialect of clientDialects('sqlite')) {
  describe(`cloud metadata and the adfs tenant (${dialect})`, { skip }, () => {
    let s: AzureClientServer;
    before(async () => {
      s = await startAzureClientServer(dialect, 'cloudmeta');
      await s.workspace('cloud-ws');
    });
    after(async () => s?.close());

    it("answers Azure's cloud metadata shapes, public, and checks the api-version", async () => {
      const list = await httpsJson('GET', `${s.server.url}/metadata/endpoints?api-version=2019-05-01`, s.ca, '');
      assert.equal(list.status, 200, JSON.stringify(list.body));
      assert.equal(list.body.length, 1);
      const [cloud] = list.body;
      assert.equal(cloud.name, 'Atelier');
      assert.equal(cloud.resourceManager, `${s.server.url}/`);
      assert.equal(cloud.authentication.loginEndpoint, s.server.url);
      assert.deepEqual(cloud.authentication.audiences, [`${s.server.url}/`]);
      assert.equal(cloud.suffixes.storage, 'atelier.test');
      const one = await httpsJson('GET', `${s.server.url}/metadata/endpoints?api-version=2015-01-01`, s.ca, '');
      assert.equal(one.status, 200);
      assert.equal(one.body.name, 'Atelier');
      const none = await httpsJson('GET', `${s.server.url}/metadata/endpoints`, s.ca, '');
      assert.equal(none.status, 400);
      assert.match(JSON.stringify(none.body), /api-version/);
      const bad = await httpsJson('GET', `${s.server.url}/metadata/endpoints?api-version=latest`, s.ca, '');
      assert.equal(bad.status, 400);
    });

    it("serves MSAL's adfs OpenID configuration with the v2 token endpoint", async () => {
      const r = await httpsJson('GET', `${s.server.url}/adfs/.well-known/openid-configuration`, s.ca, '');
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.token_endpoint, `${s.server.url}/adfs/oauth2/v2.0/token`);
      // Any other tenant name is still refused.
      const other = await httpsJson('GET', `${s.server.url}/someone-else/.well-known/openid-configuration`, s.ca, '');
      assert.equal(other.status, 404);
    });

    it('azureml-core with ARM_CLOUD_METADATA_URL and ServicePrincipalAuthentication(tenant_id="adfs")', async () => {
      const steps = await s.steps(python!, path.join(HERE, 'clients', 'azureml_core_cloud_metadata.py'), {
        WORKSPACE: 'cloud-ws',
        ARM_CLOUD_METADATA_URL: `${s.server.url}/metadata/endpoints?api-version=2019-05-01`,
      });
      assert.deepEqual(steps.ok('clouds'), ['Atelier']);
      assert.deepEqual(steps.ok('resource manager'), [`${s.server.url}/`]);
      steps.ok('get');
      assert.equal(steps.ok('get_details'), 'cloud-ws');
      assert.deepEqual(steps.ok('list'), ['cloud-ws']);
      const runId = String(steps.ok('start_logging'));
      steps.ok('write_config');
      steps.ok('from_config');
      assert.equal(steps.ok('ambient auth type'), 'ServicePrincipalAuthentication');
      assert.equal(steps.ok('default get_details'), 'cloud-ws');
      assert.equal(steps.ok('setup'), 'cloud-ws');
      assert.match(steps.err('wrong secret'), /invalid_client|secret/i);
      const run = await httpsJson(
        'GET',
        `${s.server.url}/mlflow/v1.0${s.workspaceId('cloud-ws')}/api/2.0/mlflow/runs/get?run_id=${runId.replace(/-/g, '')}`,
        s.ca,
        s.token,
      );
      assert.equal(run.status, 200, JSON.stringify(run.body));
      assert.deepEqual(
        run.body.run.data.metrics.map((m: any) => [m.key, m.value]),
        [['acc', 0.5]],
      );
    });
  });
}
