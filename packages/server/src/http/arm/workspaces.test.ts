import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startTestServer, testDialects, type TestServer } from '../../testing/harness.js';
import { resolveWorkspace, resolveWorkspaceByGuid } from '../../resources/workspaces.js';

const V = 'api-version=2025-09-01';

/** Polls an Azure-AsyncOperation URL until the operation ends. */
async function waitFor(t: TestServer, url: string): Promise<any> {
  for (let i = 0; i < 200; i++) {
    const r = await t.request('GET', url);
    assert.equal(r.status, 200, r.text);
    if (r.body.status !== 'InProgress') return r.body;
    await new Promise((res) => setTimeout(res, 25));
  }
  throw new Error('operation did not end');
}

for (const dialect of testDialects()) {
  describe(`workspaces (${dialect})`, () => {
    let t: TestServer;
    const rgPath = (rg: string) => `/subscriptions/${t.subscriptionId}/resourceGroups/${rg}`;
    const wsPath = (rg: string, name: string) => `${rgPath(rg)}/providers/Microsoft.MachineLearningServices/workspaces/${name}`;
    before(async () => {
      t = await startTestServer(dialect);
      assert.equal((await t.request('PUT', `${rgPath('ml')}?${V}`, { location: 'local' })).status, 201);
    });
    after(async () => {
      await t?.close();
    });

    it('creates a workspace as an LRO, provisions its dependents, gets and deletes it', async () => {
      const put = await t.request('PUT', `${wsPath('ml', 'ws-one')}?${V}`, { location: 'local', tags: { team: 'a' }, properties: { friendlyName: 'One', description: 'first' } });
      assert.equal(put.status, 201, put.text);
      assert.equal(put.body.properties.provisioningState, 'Creating');
      assert.equal(put.headers.get('retry-after'), '1');
      const asyncUrl = put.headers.get('azure-asyncoperation')!;
      assert.ok(put.headers.get('location')!.includes('type=location'));
      const op = await waitFor(t, asyncUrl);
      assert.equal(op.status, 'Succeeded', JSON.stringify(op));
      assert.ok(op.startTime && op.endTime);

      const get = await t.request('GET', `${wsPath('ml', 'ws-one')}?${V}`);
      assert.equal(get.status, 200);
      const ws = get.body;
      assert.equal(ws.name, 'ws-one');
      assert.equal(ws.type, 'Microsoft.MachineLearningServices/workspaces');
      assert.equal(ws.id, wsPath('ml', 'ws-one'));
      assert.equal(ws.properties.provisioningState, 'Succeeded');
      assert.match(ws.properties.workspaceId, /^[0-9a-f-]{36}$/);
      assert.equal(ws.properties.friendlyName, 'One');
      assert.equal(ws.properties.mlFlowTrackingUri, `${t.url}/mlflow/v1.0${ws.id}`);
      assert.equal(ws.properties.discoveryUrl, `${t.url}/discovery`);
      assert.deepEqual(ws.sku, { name: 'Basic', tier: 'Basic' });
      assert.equal(ws.identity.type, 'SystemAssigned');
      assert.match(ws.identity.principalId, /^[0-9a-f-]{36}$/);
      assert.equal(ws.systemData.createdBy, 'admin');
      assert.match(ws.properties.storageAccount, /providers\/Microsoft\.Storage\/storageAccounts\/wsone[0-9a-f]{8}$/);
      assert.match(ws.properties.keyVault, /providers\/Microsoft\.KeyVault\/vaults\//);
      assert.match(ws.properties.applicationInsights, /providers\/Microsoft\.Insights\/components\//);
      assert.equal(ws.properties.containerRegistry, null, 'the registry is made lazily');
      // The dependents are real resources with their own routes, and the blob folder exists.
      for (const dep of [ws.properties.storageAccount, ws.properties.keyVault, ws.properties.applicationInsights]) {
        const r = await t.request('GET', `${dep}?${V}`);
        assert.equal(r.status, 200, `${dep}: ${r.text}`);
      }
      const account = ws.properties.storageAccount.split('/').pop();
      assert.ok(fs.statSync(path.join(t.home, 'blobs', account)).isDirectory());

      const info = await resolveWorkspace(t.server.ctx, t.subscriptionId, 'ML', 'WS-ONE');
      assert.equal(info.workspaceId, ws.properties.workspaceId);
      assert.equal(info.storageAccountId, ws.properties.storageAccount);
      assert.equal((await resolveWorkspaceByGuid(t.server.ctx, info.workspaceId)).id, ws.id);

      const del = await t.request('DELETE', `${wsPath('ml', 'ws-one')}?${V}&deleteDependentResources=true`);
      assert.equal(del.status, 202, del.text);
      const delOp = await waitFor(t, del.headers.get('azure-asyncoperation')!);
      assert.equal(delOp.status, 'Succeeded');
      assert.equal((await t.request('GET', `${wsPath('ml', 'ws-one')}?${V}`)).status, 404);
      for (const dep of [ws.properties.storageAccount, ws.properties.keyVault, ws.properties.applicationInsights]) {
        assert.equal((await t.request('GET', `${dep}?${V}`)).status, 404, dep);
      }
      assert.equal(fs.existsSync(path.join(t.home, 'blobs', account)), false);
      await assert.rejects(resolveWorkspace(t.server.ctx, t.subscriptionId, 'ml', 'ws-one'), /could not be found/);
      assert.equal((await t.request('DELETE', `${wsPath('ml', 'ws-one')}?${V}`)).status, 204);
    });
  });
}
