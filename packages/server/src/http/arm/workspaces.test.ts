import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startTestServer, testDialects, type TestServer } from '../../testing/harness.js';
import { resolveWorkspace, resolveWorkspaceByGuid } from '../../resources/workspaces.js';
import { V, createWorkspace, groupPath, userWithRole, waitForOperation, wsPath } from './arm-test-helpers.js';

for (const dialect of testDialects()) {
  describe(`workspaces (${dialect})`, () => {
    let t: TestServer;
    before(async () => {
      t = await startTestServer(dialect);
      assert.equal((await t.request('PUT', `${groupPath(t, 'ml')}?${V}`, { location: 'local' })).status, 201);
    });
    after(async () => {
      await t?.close();
    });

    it('creates a workspace as an LRO, provisions its dependents, gets and deletes it', async () => {
      const put = await t.request('PUT', `${wsPath(t, 'ml', 'ws-one')}?${V}`, {
        location: 'local',
        tags: { team: 'a' },
        properties: { friendlyName: 'One', description: 'first' },
      });
      assert.equal(put.status, 201, put.text);
      assert.equal(put.body.properties.provisioningState, 'Creating');
      assert.equal(put.headers.get('retry-after'), '1');
      const asyncUrl = put.headers.get('azure-asyncoperation')!;
      assert.ok(put.headers.get('location')!.includes('type=location'));
      const op = await waitForOperation(t, asyncUrl);
      assert.equal(op.status, 'Succeeded', JSON.stringify(op));
      assert.ok(op.startTime && op.endTime && op.id && op.name);
      const loc = await t.request('GET', put.headers.get('location')!);
      assert.equal(loc.status, 200);
      assert.equal(loc.body.properties.provisioningState, 'Succeeded');

      const get = await t.request('GET', `${wsPath(t, 'ml', 'ws-one')}?${V}`);
      assert.equal(get.status, 200);
      const ws = get.body;
      assert.equal(ws.name, 'ws-one');
      assert.equal(ws.type, 'Microsoft.MachineLearningServices/workspaces');
      assert.equal(ws.id, wsPath(t, 'ml', 'ws-one'));
      assert.equal(ws.location, 'local');
      assert.deepEqual(ws.tags, { team: 'a' });
      assert.equal(ws.properties.provisioningState, 'Succeeded');
      assert.match(ws.properties.workspaceId, /^[0-9a-f-]{36}$/);
      assert.equal(ws.properties.friendlyName, 'One');
      assert.equal(ws.properties.description, 'first');
      assert.equal(ws.properties.hbiWorkspace, false);
      assert.equal(ws.properties.systemDatastoresAuthMode, 'AccessKey');
      assert.equal(ws.properties.publicNetworkAccess, 'Enabled');
      assert.equal(ws.properties.mlFlowTrackingUri, `${t.url}/mlflow/v1.0${ws.id}`);
      assert.equal(ws.properties.discoveryUrl, `${t.url}/discovery`);
      assert.ok(Date.parse(ws.properties.creationTime));
      assert.deepEqual(ws.sku, { name: 'Basic', tier: 'Basic' });
      assert.equal(ws.kind, 'Default');
      assert.equal(ws.identity.type, 'SystemAssigned');
      assert.match(ws.identity.principalId, /^[0-9a-f-]{36}$/);
      assert.equal(ws.identity.tenantId, t.server.ctx.tenantId);
      assert.equal(ws.systemData.createdBy, 'admin');
      assert.equal(ws.systemData.createdByType, 'User');
      assert.match(ws.properties.storageAccount, /providers\/Microsoft\.Storage\/storageAccounts\/wsone[0-9a-f]{8}$/);
      assert.match(ws.properties.keyVault, /providers\/Microsoft\.KeyVault\/vaults\//);
      assert.match(ws.properties.applicationInsights, /providers\/Microsoft\.Insights\/components\//);
      assert.equal(ws.properties.containerRegistry, null, 'the registry is made lazily');
      for (const dep of [ws.properties.storageAccount, ws.properties.keyVault, ws.properties.applicationInsights]) {
        const r = await t.request('GET', `${dep}?${V}`);
        assert.equal(r.status, 200, `${dep}: ${r.text}`);
      }
      const account = ws.properties.storageAccount.split('/').pop();
      assert.ok(fs.statSync(path.join(t.home, 'blobs', account)).isDirectory());

      const info = await resolveWorkspace(t.server.ctx, t.subscriptionId, 'ML', 'WS-ONE');
      assert.equal(info.workspaceId, ws.properties.workspaceId);
      assert.equal(info.storageAccountId, ws.properties.storageAccount);
      assert.equal(info.keyVaultId, ws.properties.keyVault);
      assert.equal(info.publicNetworkAccess, 'Enabled');
      assert.equal((await resolveWorkspaceByGuid(t.server.ctx, info.workspaceId)).id, ws.id);

      // PUT again with the same name answers 200 and updates (no new operation).
      const again = await t.request('PUT', `${wsPath(t, 'ml', 'ws-one')}?${V}`, {
        location: 'local',
        tags: { team: 'b' },
        properties: { description: 'changed' },
      });
      assert.equal(again.status, 200, again.text);
      assert.equal(again.headers.get('azure-asyncoperation'), null);
      assert.deepEqual(again.body.tags, { team: 'b' });
      assert.equal(again.body.properties.description, 'changed');
      assert.equal(again.body.properties.workspaceId, ws.properties.workspaceId);

      const del = await t.request('DELETE', `${wsPath(t, 'ml', 'ws-one')}?${V}&deleteDependentResources=true`);
      assert.equal(del.status, 202, del.text);
      assert.ok(del.headers.get('location'));
      const delOp = await waitForOperation(t, del.headers.get('azure-asyncoperation')!);
      assert.equal(delOp.status, 'Succeeded');
      assert.equal((await t.request('GET', del.headers.get('location')!)).status, 204);
      assert.equal((await t.request('GET', `${wsPath(t, 'ml', 'ws-one')}?${V}`)).status, 404);
      for (const dep of [ws.properties.storageAccount, ws.properties.keyVault, ws.properties.applicationInsights]) {
        assert.equal((await t.request('GET', `${dep}?${V}`)).status, 404, dep);
      }
      assert.equal(fs.existsSync(path.join(t.home, 'blobs', account)), false);
      await assert.rejects(resolveWorkspace(t.server.ctx, t.subscriptionId, 'ml', 'ws-one'), /could not be found/);
      assert.equal((await t.request('DELETE', `${wsPath(t, 'ml', 'ws-one')}?${V}`)).status, 204);
    });

    it('keeps the dependents when deleteDependentResources is not set', async () => {
      const ws = await createWorkspace(t, 'keep', 'ws-keep');
      const del = await t.request('DELETE', `${wsPath(t, 'keep', 'ws-keep')}?${V}&forceToPurge=true`);
      assert.equal(del.status, 202);
      assert.equal((await waitForOperation(t, del.headers.get('azure-asyncoperation')!)).status, 'Succeeded');
      for (const dep of [ws.properties.storageAccount, ws.properties.keyVault, ws.properties.applicationInsights]) {
        assert.equal((await t.request('GET', `${dep}?${V}`)).status, 200, dep);
      }
    });

    it('reuses dependents given by ARM id and refuses ones that do not exist', async () => {
      const g = groupPath(t, 'byid');
      assert.equal((await t.request('PUT', `${g}?${V}`, { location: 'local' })).status, 201);
      const sa = `${g}/providers/Microsoft.Storage/storageAccounts/mystore01`;
      assert.equal((await t.request('PUT', `${sa}?${V}`, { location: 'local' })).status, 201);
      const acr = `${g}/providers/Microsoft.ContainerRegistry/registries/myregistry01`;
      assert.equal((await t.request('PUT', `${acr}?${V}`, {})).status, 201);
      const ws = await createWorkspace(t, 'byid', 'ws-byid', {
        location: 'local',
        properties: { storageAccount: sa, containerRegistry: acr },
      });
      assert.equal(ws.properties.storageAccount, sa);
      assert.equal(ws.properties.containerRegistry, acr);
      const missing = `${g}/providers/Microsoft.KeyVault/vaults/nosuchvault`;
      const r = await t.request('PUT', `${wsPath(t, 'byid', 'ws-missing')}?${V}`, {
        location: 'local',
        properties: { keyVault: missing },
      });
      assert.equal(r.status, 400);
      assert.equal(r.body.error.target, 'properties.keyVault');
      assert.match(r.body.error.message, /does not exist/);
      const wrongType = await t.request('PUT', `${wsPath(t, 'byid', 'ws-missing')}?${V}`, {
        location: 'local',
        properties: { keyVault: sa },
      });
      assert.equal(wrongType.status, 400);
      assert.match(wrongType.body.error.message, /Microsoft\.KeyVault\/vaults/);
      assert.equal((await t.request('GET', `${wsPath(t, 'byid', 'ws-missing')}?${V}`)).status, 404);
    });

    it('PATCH changes only updatable fields and names the one that is not', async () => {
      const ws = await createWorkspace(t, 'patch', 'ws-patch', {
        location: 'local',
        properties: { hbiWorkspace: true },
      });
      assert.equal(ws.properties.hbiWorkspace, true);
      const url = `${wsPath(t, 'patch', 'ws-patch')}?${V}`;
      let r = await t.request('PATCH', url, {
        tags: { a: '1' },
        properties: {
          friendlyName: 'Patched',
          description: 'd',
          imageBuildCompute: 'cpu-cluster',
          publicNetworkAccess: 'Disabled',
          v1LegacyMode: true,
          systemDatastoresAuthMode: 'identity',
          allowPublicAccessWhenBehindVnet: true,
        },
      });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.body.tags, { a: '1' });
      assert.equal(r.body.properties.friendlyName, 'Patched');
      assert.equal(r.body.properties.imageBuildCompute, 'cpu-cluster');
      assert.equal(r.body.properties.publicNetworkAccess, 'Disabled');
      assert.equal(r.body.properties.v1LegacyMode, true);
      assert.equal(r.body.properties.systemDatastoresAuthMode, 'Identity');
      assert.equal(r.body.properties.allowPublicAccessWhenBehindVnet, true);
      assert.ok(r.body.systemData.lastModifiedAt >= ws.systemData.lastModifiedAt);
      r = await t.request('PATCH', url, { properties: { hbiWorkspace: false } });
      assert.equal(r.status, 400);
      assert.equal(r.body.error.target, 'properties.hbiWorkspace');
      assert.match(r.body.error.message, /hbiWorkspace/);
      r = await t.request('PATCH', url, { properties: { hbiWorkspace: true } });
      assert.equal(r.status, 200, 'sending the current value is allowed');
      r = await t.request('PATCH', url, { properties: { storageAccount: '/subscriptions/x' } });
      assert.equal(r.status, 400);
      assert.equal(r.body.error.target, 'properties.storageAccount');
      r = await t.request('PUT', url, { location: 'local', properties: { hbiWorkspace: false } });
      assert.equal(r.status, 400, 'hbiWorkspace is fixed at creation, also through PUT');
      r = await t.request('PATCH', url, { properties: { notAField: 1 } });
      assert.equal(r.status, 400);
      assert.match(r.body.error.message, /notAField/);
      r = await t.request('PATCH', url, { properties: { publicNetworkAccess: 'Sometimes' } });
      assert.equal(r.status, 400);
      r = await t.request('PATCH', url, { properties: { encryption: { status: 'Enabled', keyVaultProperties: {} } } });
      assert.equal(r.status, 400, 'customer-managed keys are chosen at creation');
      assert.match(r.body.error.message, /customer-managed keys are chosen when the workspace is created/);
      // If-Match with a stale etag is refused.
      const current = (await t.request('GET', url)).body;
      r = await t.request('PATCH', url, { tags: {} }, { headers: { 'if-match': '"stale"' } });
      assert.equal(r.status, 412);
      r = await t.request('PATCH', url, { tags: {} }, { headers: { 'if-match': current.etag } });
      assert.equal(r.status, 200);
      r = await t.request('PUT', url, { location: 'local' }, { headers: { 'if-none-match': '*' } });
      assert.equal(r.status, 412, 'If-None-Match: * refuses to overwrite');
      r = await t.request(
        'PUT',
        `${wsPath(t, 'patch', 'ws-new-one')}?${V}`,
        { location: 'local' },
        { headers: { 'if-match': '*' } },
      );
      assert.equal(r.status, 412, 'If-Match refuses to create');
      r = await t.request('DELETE', url, undefined, { headers: { 'if-match': '"stale"' } });
      assert.equal(r.status, 412);
    });

    it('updateDependencies: sets a registry when unset, replaces an existing one only with force', async () => {
      const ws = await createWorkspace(t, 'deps', 'ws-deps');
      const g = groupPath(t, 'deps');
      const url = `${wsPath(t, 'deps', 'ws-deps')}?${V}`;
      const acr1 = `${g}/providers/Microsoft.ContainerRegistry/registries/depsreg01`;
      const acr2 = `${g}/providers/Microsoft.ContainerRegistry/registries/depsreg02`;
      for (const a of [acr1, acr2]) assert.equal((await t.request('PUT', `${a}?${V}`, {})).status, 201);
      assert.equal(ws.properties.containerRegistry, null);
      let r = await t.request('PATCH', url, { properties: { containerRegistry: acr1 } });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.properties.containerRegistry, acr1);
      r = await t.request('PATCH', url, { properties: { containerRegistry: acr2 } });
      assert.equal(r.status, 409);
      assert.match(r.body.error.message, /force=true/);
      r = await t.request('PATCH', `${url}&force=true`, { properties: { containerRegistry: acr2 } });
      assert.equal(r.status, 200);
      assert.equal(r.body.properties.containerRegistry, acr2);
      // A deleted registry may be replaced without force.
      assert.equal((await t.request('DELETE', `${acr2}?${V}`)).status, 200);
      r = await t.request('PATCH', url, { properties: { containerRegistry: acr1 } });
      assert.equal(r.status, 200);
      const keys = await t.request('POST', `${wsPath(t, 'deps', 'ws-deps')}/listKeys?${V}`);
      assert.equal(keys.body.containerRegistryCredentials.username, 'depsreg01');
      const creds = await t.request('POST', `${acr1}/listCredentials?${V}`);
      assert.deepEqual(keys.body.containerRegistryCredentials.passwords, creds.body.passwords);
      r = await t.request('PATCH', `${url}&force=maybe`, { properties: {} });
      assert.equal(r.status, 400);
    });

    it('listKeys returns the real keys; after regenerateKey they change only with resyncKeys', async () => {
      const ws = await createWorkspace(t, 'keys', 'ws-keys');
      const w = wsPath(t, 'keys', 'ws-keys');
      const k1 = await t.request('POST', `${w}/listKeys?${V}`);
      assert.equal(k1.status, 200, k1.text);
      const sa = await t.request('POST', `${ws.properties.storageAccount}/listKeys?${V}`);
      assert.equal(sa.status, 200);
      assert.equal(sa.body.keys.length, 2);
      assert.equal(k1.body.userStorageKey, sa.body.keys[0].value);
      assert.equal(k1.body.userStorageResourceId, ws.properties.storageAccount);
      assert.match(k1.body.appInsightsInstrumentationKey, /^[0-9a-f-]{36}$/);
      assert.ok(k1.body.notebookAccessKeys.primaryAccessKey);
      assert.equal(k1.body.containerRegistryCredentials, undefined, 'listKeys does not create the registry');
      assert.equal((await t.request('GET', `${w}?${V}`)).body.properties.containerRegistry, null);
      const ai = await t.request('GET', `${ws.properties.applicationInsights}?${V}`);
      assert.equal(ai.body.properties.InstrumentationKey, k1.body.appInsightsInstrumentationKey);

      const regen = await t.request('POST', `${ws.properties.storageAccount}/regenerateKey?${V}`, { keyName: 'key1' });
      assert.equal(regen.status, 200, regen.text);
      assert.notEqual(regen.body.keys[0].value, sa.body.keys[0].value);
      const k2 = await t.request('POST', `${w}/listKeys?${V}`);
      assert.equal(k2.body.userStorageKey, sa.body.keys[0].value, 'the workspace still holds the old key');
      const resync = await t.request('POST', `${w}/resyncKeys?${V}`);
      assert.equal(resync.status, 202);
      assert.ok(resync.headers.get('location'));
      assert.equal((await waitForOperation(t, resync.headers.get('azure-asyncoperation')!)).status, 'Succeeded');
      const k3 = await t.request('POST', `${w}/listKeys?${V}`);
      assert.equal(k3.body.userStorageKey, regen.body.keys[0].value);
      const bad = await t.request('POST', `${ws.properties.storageAccount}/regenerateKey?${V}`, { keyName: 'key3' });
      assert.equal(bad.status, 400);
      // Keys are sealed at rest: no key value appears in the database.
      const rows = await t.server.ctx.db.selectFrom('resource_keys').select('value').execute();
      assert.ok(rows.length > 0);
      for (const r of rows) assert.ok(!r.value.includes(k3.body.userStorageKey) && r.value.startsWith('v1:'));
      const resources = await t.server.ctx.db.selectFrom('resources').select('properties').execute();
      for (const r of resources)
        assert.ok(
          !r.properties.includes(k3.body.userStorageKey) &&
            !r.properties.includes(k3.body.appInsightsInstrumentationKey),
        );
    });

    it('lists by resource group and subscription with nextLink paging', async () => {
      assert.equal((await t.request('PUT', `${groupPath(t, 'paged')}?${V}`, { location: 'local' })).status, 201);
      for (let i = 0; i < 5; i++) await createWorkspace(t, 'paged', `pw-${i}`);
      const seen: string[] = [];
      let next: string | undefined =
        `${groupPath(t, 'paged')}/providers/Microsoft.MachineLearningServices/workspaces?${V}&$top=2`;
      let pages = 0;
      while (next) {
        const r = await t.request('GET', next);
        assert.equal(r.status, 200, r.text);
        assert.ok(r.body.value.length <= 2);
        seen.push(...r.body.value.map((w: { name: string }) => w.name));
        next = r.body.nextLink;
        pages++;
      }
      assert.deepEqual(seen, ['pw-0', 'pw-1', 'pw-2', 'pw-3', 'pw-4']);
      assert.equal(pages, 3);
      const all = await t.request(
        'GET',
        `/subscriptions/${t.subscriptionId}/providers/Microsoft.MachineLearningServices/workspaces?${V}`,
      );
      assert.equal(all.status, 200);
      for (const n of seen)
        assert.ok(
          all.body.value.some((w: { name: string }) => w.name === n),
          n,
        );
      assert.equal(
        (
          await t.request(
            'GET',
            `${groupPath(t, 'nosuchgroup')}/providers/Microsoft.MachineLearningServices/workspaces?${V}`,
          )
        ).status,
        404,
      );
    });

    it('applies RBAC: no role → 404, reader reads but cannot write or list keys', async () => {
      await createWorkspace(t, 'rbac', 'ws-seen');
      await createWorkspace(t, 'rbac', 'ws-hidden');
      const seen = wsPath(t, 'rbac', 'ws-seen');
      const reader = await userWithRole(t, `reader-${dialect}`, 'Reader', seen);
      const nobody = await userWithRole(t, `nobody-${dialect}`, null);
      let r = await t.request('GET', `${seen}?${V}`, undefined, { token: reader.token });
      assert.equal(r.status, 200);
      r = await t.request('GET', `${wsPath(t, 'rbac', 'ws-hidden')}?${V}`, undefined, { token: reader.token });
      assert.equal(r.status, 404);
      r = await t.request('GET', `${seen}?${V}`, undefined, { token: nobody.token });
      assert.equal(r.status, 404);
      r = await t.request('PATCH', `${seen}?${V}`, { tags: {} }, { token: reader.token });
      assert.equal(r.status, 403);
      r = await t.request('POST', `${seen}/listKeys?${V}`, undefined, { token: reader.token });
      assert.equal(r.status, 403);
      r = await t.request('DELETE', `${seen}?${V}`, undefined, { token: reader.token });
      assert.equal(r.status, 403);
      r = await t.request(
        'GET',
        `${groupPath(t, 'rbac')}/providers/Microsoft.MachineLearningServices/workspaces?${V}`,
        undefined,
        { token: reader.token },
      );
      assert.equal(r.status, 200);
      assert.deepEqual(
        r.body.value.map((w: { name: string }) => w.name),
        ['ws-seen'],
      );
      r = await t.request(
        'GET',
        `/subscriptions/${t.subscriptionId}/providers/Microsoft.MachineLearningServices/workspaces?${V}`,
        undefined,
        { token: reader.token },
      );
      assert.deepEqual(
        r.body.value.map((w: { name: string }) => w.name),
        ['ws-seen'],
      );
      r = await t.request(
        'GET',
        `/subscriptions/${t.subscriptionId}/providers/Microsoft.MachineLearningServices/workspaces?${V}`,
        undefined,
        { token: nobody.token },
      );
      assert.equal(r.status, 404);
      r = await t.request('PUT', `${wsPath(t, 'rbac', 'ws-new')}?${V}`, { location: 'local' }, { token: nobody.token });
      assert.equal(r.status, 404);
      // Application Insights shows its key only to callers who may read secrets.
      const ai = (await t.request('GET', `${seen}?${V}`)).body.properties.applicationInsights;
      await t.server.ctx.access.assign(reader.id, ai, 'Reader', null);
      r = await t.request('GET', `${ai}?${V}`, undefined, { token: reader.token });
      assert.equal(r.status, 200);
      assert.equal(r.body.properties.InstrumentationKey, undefined);
    });

    it('deleteDependentResources needs the right to delete each dependent', async () => {
      const shared = `${groupPath(t, 'shared')}/providers/Microsoft.Storage/storageAccounts/sharedstore01`;
      assert.equal((await t.request('PUT', `${groupPath(t, 'shared')}?${V}`, { location: 'local' })).status, 201);
      assert.equal((await t.request('PUT', `${shared}?${V}`, {})).status, 201);
      await createWorkspace(t, 'owned', 'ws-owned', { location: 'local', properties: { storageAccount: shared } });
      const user = await userWithRole(t, `owner-of-ws-${dialect}`, 'Owner', groupPath(t, 'owned'));
      await t.server.ctx.access.assign(user.id, shared, 'Reader', null);
      // A Reader of the account may not link it to a workspace of its own: listKeys would hand its key on.
      const link = await t.request(
        'PUT',
        `${wsPath(t, 'owned', 'ws-linker')}?${V}`,
        { location: 'local', properties: { storageAccount: shared } },
        { token: user.token },
      );
      assert.equal(link.status, 403, link.text);
      assert.equal(link.body.error.target, 'properties.storageAccount');
      assert.equal((await t.request('GET', `${wsPath(t, 'owned', 'ws-linker')}?${V}`)).status, 404);
      const w = `${wsPath(t, 'owned', 'ws-owned')}?${V}`;
      const r = await t.request('DELETE', `${w}&deleteDependentResources=true`, undefined, { token: user.token });
      assert.equal(r.status, 403, r.text);
      assert.match(r.body.error.message, /sharedstore01/);
      assert.equal((await t.request('GET', w)).body.properties.provisioningState, 'Succeeded', 'nothing changed');
      const ok = await t.request('DELETE', w, undefined, { token: user.token });
      assert.equal(ok.status, 202);
      assert.equal(
        (await waitForOperation(t, ok.headers.get('azure-asyncoperation')!, user.token)).status,
        'Succeeded',
      );
      assert.equal((await t.request('GET', `${shared}?${V}`)).status, 200);
    });

    it('answers discovery without auth, pointing at this server', async () => {
      const r = await t.request('GET', '/discovery', undefined, { token: null });
      assert.equal(r.status, 200);
      for (const k of [
        'api',
        'catalog',
        'experimentation',
        'gallery',
        'history',
        'hyperdrive',
        'labeling',
        'modelmanagement',
        'pipelines',
        'studio',
      ])
        assert.equal(r.body[k], t.url, k);
    });

    it('documents every control-plane route in /openapi.json', async () => {
      const r = await t.request('GET', '/openapi.json', undefined, { token: null });
      assert.equal(r.status, 200);
      // Every route the server serves on the control plane (ARM paths and /discovery), with its method.
      const openapiPath = (url: string): string => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace(/\*$/, '{*}');
      const control = t.server.app.registeredRoutes.filter(
        (x) => !x.hidden && x.method !== 'HEAD' && (x.url.startsWith('/subscriptions/') || x.url === '/discovery'),
      );
      assert.ok(control.length > 100, `only ${control.length} control-plane routes`);
      const missing = control
        .filter((x) => !r.body.paths[openapiPath(x.url)]?.[x.method.toLowerCase()])
        .map((x) => `${x.method} ${x.url}`);
      assert.deepEqual(missing, []);
      for (const p of [
        '/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.MachineLearningServices/workspaces/{workspaceName}/listKeys',
        '/subscriptions/{subscriptionId}/providers/Microsoft.MachineLearningServices/locations/{location}/workspaceOperationsStatus/{operationId}',
      ])
        assert.ok(r.body.paths[p], p);
      const put =
        r.body.paths[
          '/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.MachineLearningServices/workspaces/{workspaceName}'
        ].put;
      assert.ok(put.requestBody.content['application/json'].schema.properties.properties.properties.hbiWorkspace);
    });
  });
}

for (const dialect of testDialects()) {
  describe(`workspaces under concurrency (${dialect})`, () => {
    let t: TestServer;
    before(async () => {
      t = await startTestServer(dialect);
      assert.equal((await t.request('PUT', `${groupPath(t, 'busy')}?${V}`, { location: 'local' })).status, 201);
    });
    after(async () => {
      await t?.close();
    });

    it('creates many workspaces at once, and one of several same-name creates wins', async () => {
      const many = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          t.request('PUT', `${wsPath(t, 'busy', `many-${i}`)}?${V}`, { location: 'local' }),
        ),
      );
      for (const r of many) assert.equal(r.status, 201, r.text);
      const ops = await Promise.all(many.map((r) => waitForOperation(t, r.headers.get('azure-asyncoperation')!)));
      for (const op of ops) assert.equal(op.status, 'Succeeded', JSON.stringify(op));
      const same = await Promise.all(
        Array.from({ length: 4 }, () =>
          t.request('PUT', `${wsPath(t, 'busy', 'contested')}?${V}`, { location: 'local' }),
        ),
      );
      const statuses = same.map((r) => r.status).sort();
      assert.equal(statuses.filter((s) => s === 201).length, 1, statuses.join());
      // The others lose the race (409) or, arriving after the create ended, update it (200).
      for (const r of same) assert.ok([200, 201, 409].includes(r.status), r.text);
      await waitForOperation(t, same.find((r) => r.status === 201)!.headers.get('azure-asyncoperation')!);
      const list = await t.request(
        'GET',
        `${groupPath(t, 'busy')}/providers/Microsoft.MachineLearningServices/workspaces?${V}`,
      );
      assert.equal(list.body.value.length, 7);
      const ids = new Set(
        list.body.value.map((w: { properties: { storageAccount: string } }) => w.properties.storageAccount),
      );
      assert.equal(ids.size, 7, 'each workspace has its own storage account');
    });
  });
}
