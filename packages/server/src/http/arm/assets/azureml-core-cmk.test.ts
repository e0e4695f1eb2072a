import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { clientDialects } from '../../../testing/harness.js';
import { startAzureClientServer, type AzureClientServer } from '../../../testing/azure-client-server.js';
import { clientPython as python, httpsJson } from '../../../testing/tls-clients.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const V = 'api-version=2025-09-01';

// The seed's SDK v1 (azureml-core) creating a workspace with a customer-managed key and
// hbi_workspace, over HTTPS, as a user runs it (its own ARM template deployment).
for (const dialect of clientDialects('postgres')) {
  describe(`azureml-core Workspace.create(cmk_keyvault, resource_cmk_uri, hbi_workspace) (${dialect})`, () => {
    let c: AzureClientServer;
    let env: Record<string, string>;

    before(async () => {
      c = await startAzureClientServer(dialect, 'cmk-core');
      const group = `${c.server.url}/subscriptions/${c.env.AZURE_SUBSCRIPTION_ID}/resourceGroups/cmk-core`;
      const vault = await httpsJson(
        'PUT',
        `${group}/providers/Microsoft.KeyVault/vaults/cmkcore${dialect === 'sqlite' ? 's' : 'p'}?api-version=2023-07-01`,
        c.ca,
        c.token,
        { location: 'local' },
      );
      assert.equal(vault.status, 201, JSON.stringify(vault.body));
      const key = await httpsJson(
        'POST',
        `${c.server.url}${vault.body.id}/keys/core-key/create?api-version=7.4`,
        c.ca,
        c.token,
        { kty: 'RSA' },
      );
      assert.equal(key.status, 200, JSON.stringify(key.body));
      env = { CMK_VAULT: vault.body.id, CMK_KID: key.body.key.kid };
    });
    after(async () => c?.close());

    it('the workspace is made with its data keys under the customer key, HBI, and shows both', async (tc) => {
      const py = python();
      if (!py) return tc.skip('no Python with azureml-core (set ATELIER_TEST_PYTHON)');
      const out = await c.python(py, path.join(HERE, 'azureml_core_cmk.py'), env);
      assert.equal(out.create_error, undefined, out.create_error);
      assert.equal(out.create.name, 'cmk-core');
      assert.equal(out.create.provisioningState, 'Succeeded');
      assert.equal(out.create.hbiWorkspace, true);
      const got = await httpsJson(
        'GET',
        `${c.server.url}/subscriptions/${c.env.AZURE_SUBSCRIPTION_ID}/resourceGroups/cmk-core/providers/Microsoft.MachineLearningServices/workspaces/cmk-core?${V}`,
        c.ca,
        c.token,
      );
      assert.equal(got.body.properties.encryption.status, 'Enabled');
      assert.equal(got.body.properties.encryption.keyVaultProperties.keyIdentifier, env.CMK_KID);
      const ref = `cmk:${env.CMK_KID!.slice(c.server.url.length).toLowerCase()}`;
      for (const owner of [got.body.id, got.body.properties.keyVault]) {
        const row = await c.server.ctx.db
          .selectFrom('data_keys')
          .select('wrapped_by')
          .where('owner_key', '=', String(owner).toLowerCase())
          .executeTakeFirst();
        assert.equal(row?.wrapped_by, ref, owner);
      }
      // A key that does not exist: the client's deployment fails with the server's message, and nothing is left.
      assert.match(out.bad_error, /no-such-key/);
      const bad = await httpsJson(
        'GET',
        `${c.server.url}/subscriptions/${c.env.AZURE_SUBSCRIPTION_ID}/resourceGroups/cmk-core/providers/Microsoft.MachineLearningServices/workspaces/cmk-core-bad?${V}`,
        c.ca,
        c.token,
      );
      assert.equal(bad.status, 404);
    });
  });
}
