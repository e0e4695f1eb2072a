import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { testDialects } from '../../testing/harness.js';
import { clientPython } from '../../testing/tls-clients.js';
import { startAzureClientServer, type AzureClientServer } from '../../testing/azure-client-server.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

// Issue 11, item 4: the seed's Workspace methods through the real azureml-core (one Python process),
// as its reference page calls them; docs/clients.md lists what works and why the rest does not.
for (const dialect of testDialects()) {
  describe(`azureml-core through the seed's methods (${dialect})`, () => {
    let s: AzureClientServer;
    let out: Record<string, { ok?: any; error?: string; trace?: string }>;
    const ok = (k: string) => {
      assert.ok(out[k], `no step ${k}`);
      assert.equal(out[k]!.error, undefined, `${k}: ${out[k]!.error}\n${out[k]!.trace ?? ''}`);
      return out[k]!.ok;
    };
    before(async () => {
      s = await startAzureClientServer(dialect, 'seed');
      await s.workspace('seed-ws');
    });
    after(async () => s?.close());

    it('constructor, static and instance methods, key vault, datastores, attributes', async (tc) => {
      const py = clientPython();
      if (!py) return tc.skip('no Python with azureml-core (set ATELIER_TEST_PYTHON)');
      const work = path.join(s.home, 'work');
      fs.mkdirSync(work, { recursive: true });
      out = await s.python(py, path.join(HERE, 'azureml_core_seed.py'), { WORKSPACE: 'seed-ws', WORKDIR: work });
      ok('Workspace()');
      assert.equal(ok('Workspace.get'), 'seed-ws');
      assert.deepEqual(ok('Workspace.list(group)'), ['seed-ws']);
      assert.deepEqual(ok('Workspace.list(subscription)'), ['seed-ws']);
      ok('write_config');
      assert.equal(ok('from_config'), 'seed-ws');
      assert.equal(ok('create'), 'eastus2');
      assert.equal(ok('create(exist_ok)'), 'seed-made');
      for (const k of [
        'id',
        'name',
        'location',
        'workspaceid',
        'friendlyName',
        'storageAccount',
        'keyVault',
        'applicationInsights',
        'hbiWorkspace',
      ])
        assert.ok(ok('get_details keys').includes(k), k);
      assert.equal(ok('update'), 'Seed page');
      assert.equal(ok('update(v1_legacy_mode, allow_public_access_when_behind_vnet)'), true);
      assert.ok(ok('list_keys').includes('userStorageKey'));
      ok('sync_keys');
      assert.equal(ok('get_default_datastore'), 'workspaceblobstore');
      ok('set_default_datastore');
      ok('get_default_keyvault');
      ok('keyvault.set_secret');
      assert.equal(ok('keyvault.get_secret'), 's3cret');
      ok('keyvault.set_secrets');
      assert.deepEqual(ok('keyvault.get_secrets'), { 'a-key': '1', 'b-key': '2', missing: null });
      assert.deepEqual(ok('keyvault.list_secrets'), ['a-key', 'b-key', 'db-password']);
      ok('keyvault.delete_secret');
      ok('keyvault.delete_secrets');
      assert.deepEqual(ok('keyvault.list_secrets (after)'), []);
      assert.equal(ok('set_connection'), 'feed');
      assert.equal(ok('get_connection'), 'feed');
      assert.equal(ok('list_connections'), true);
      ok('delete_connection');
      assert.ok(ok('diagnose_workspace').includes('storage_account_results'));
      assert.deepEqual(ok('datastores'), [
        'workspaceartifactstore',
        'workspaceblobstore',
        'workspacefilestore',
        'workspaceworkingdirectory',
      ]);
      assert.deepEqual(ok('linked_services'), {});
      assert.deepEqual(ok('private_endpoints'), {});
      assert.equal(ok('name/location/resource_group/subscription_id/sku/tags')[0], 'seed-ws');
      assert.match(ok('discovery_url'), /\/discovery$/);
      ok('service_context');
      ok('delete');
      assert.match(out['get after delete']!.error ?? '', /not found|could not be found/i);
    });
  });
}
