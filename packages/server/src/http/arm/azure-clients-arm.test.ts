import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { clientDialects } from '../../testing/harness.js';
import { clientPython, httpsJson } from '../../testing/tls-clients.js';
import { startAzureClientServer, type AzureClientServer } from '../../testing/azure-client-server.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

// Issue 11, item 1: the ARM-layer faults azureml-core and azure-ai-ml ran into, each through the
// real client (one Python process), then checked on the server over REST.
for (const dialect of clientDialects('sqlite')) {
  describe(`ARM layer as azureml-core and azure-ai-ml use it (${dialect})`, () => {
    let s: AzureClientServer;
    before(async () => {
      s = await startAzureClientServer(dialect, 'arm-clients');
      await s.workspace('arm-ws');
    });
    after(async () => s?.close());

    it('list by subscription, string booleans, private endpoint connections, 2020-01-01 connections, body-less DELETE, diagnose, eastus2, 501 for unbuilt families', async (tc) => {
      const py = clientPython();
      if (!py) return tc.skip('no Python with azureml-core (set ATELIER_TEST_PYTHON)');
      const { ok, err, results } = await s.steps(py, path.join(HERE, 'azure_clients_arm.py'), { WORKSPACE: 'arm-ws' });
      assert.deepEqual(ok('list_subscription'), ['arm-ws']);
      ok('update_v1_legacy_mode');
      ok('update_allow_public');
      assert.deepEqual(ok('details_after_update'), { v1LegacyMode: true, allowPublicAccessWhenBehindVnet: true });
      assert.deepEqual(ok('private_endpoint_connections'), []);
      assert.equal(ok('set_connection'), 'feed');
      assert.match(ok('list_connections'), /'name': 'feed'/);
      ok('delete_connection');
      assert.equal(ok('list_connections_after'), '[]');
      assert.ok(ok('diagnose').includes('key_vault_results'), JSON.stringify(results.diagnose));
      assert.equal(ok('create_eastus2'), 'eastus2');
      assert.match(err('batch_endpoints'), /batchEndpoints.*not served by Atelier/);

      const W = `${s.server.url}${s.workspaceId('arm-ws')}`;
      const sub = `${s.server.url}/subscriptions/${s.env.AZURE_SUBSCRIPTION_ID}`;
      // The same over REST: the shapes and statuses behind what the clients saw.
      const bare = await httpsJson('GET', `${W}/connections?api-version=2020-01-01`, s.ca, s.token);
      assert.ok(Array.isArray(bare.body), JSON.stringify(bare.body));
      const paged = await httpsJson('GET', `${W}/connections?api-version=2025-09-01`, s.ca, s.token);
      assert.ok(Array.isArray(paged.body.value));
      const listed = await httpsJson(
        'GET',
        `${sub}/resources?$filter=${encodeURIComponent("resourceType eq 'Microsoft.MachineLearningServices/workspaces'")}&api-version=2021-04-01`,
        s.ca,
        s.token,
      );
      assert.deepEqual(listed.body.value.map((r: any) => r.name).sort(), ['arm-ws', 'in-eastus2']);
      const bad = await httpsJson(
        'GET',
        `${sub}/resources?$filter=${encodeURIComponent('tagName eq 1')}&api-version=2021-04-01`,
        s.ca,
        s.token,
      );
      assert.equal(bad.status, 400);
      assert.match(bad.body.error.message, /resourceType eq/);
      const provider = await httpsJson(
        'GET',
        `${sub}/providers/Microsoft.MachineLearningServices?api-version=2021-04-01`,
        s.ca,
        s.token,
      );
      const wsType = provider.body.resourceTypes.find((t: any) => t.resourceType === 'workspaces');
      for (const l of ['local', 'eastus2', 'westeurope']) assert.ok(wsType.locations.includes(l), l);
      const refused = await httpsJson('PATCH', `${W}?api-version=2025-09-01`, s.ca, s.token, {
        properties: { v1LegacyMode: 'maybe' },
      });
      assert.equal(refused.status, 400);
      assert.match(refused.body.error.message, /v1LegacyMode/);
      for (const [method, url] of [
        ['GET', `${W}/batchEndpoints?api-version=2025-09-01`],
        ['PUT', `${W}/featuresets/f/versions/1?api-version=2025-09-01`],
        [
          'GET',
          `${s.server.url}/subscriptions/${s.env.AZURE_SUBSCRIPTION_ID}/resourceGroups/arm-clients/providers/Microsoft.MachineLearningServices/registries?api-version=2025-09-01`,
        ],
      ] as const) {
        const r = await httpsJson(method, url, s.ca, s.token, method === 'PUT' ? {} : undefined);
        assert.equal(r.status, 501, `${method} ${url}: ${JSON.stringify(r.body)}`);
        assert.match(r.body.error.message, /not served by Atelier/);
      }
      assert.equal((await httpsJson('GET', `${W}/noSuchThing?api-version=2025-09-01`, s.ca, s.token)).status, 404);
      // A family that is served answers an operation it does not have with 404, not "not built".
      assert.equal(
        (await httpsJson('DELETE', `${W}/datastores/x/listKeys?api-version=2025-09-01`, s.ca, s.token)).status,
        404,
      );
    });
  });
}
