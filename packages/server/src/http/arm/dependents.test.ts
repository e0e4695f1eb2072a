import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { startTestServer, testDialects, type TestServer } from '../../testing/harness.js';
import { storageAccountBlobStore } from '../../resources/dependents.js';
import { gate, startBehind } from '../../testing/write-race.js';
import { V, createWorkspace, groupPath, userWithRole, waitForOperation, wsPath } from './arm-test-helpers.js';

for (const dialect of testDialects()) {
  describe(`dependent resources (${dialect})`, () => {
    let t: TestServer;
    let g: string;
    before(async () => {
      t = await startTestServer(dialect);
      g = groupPath(t, 'deps');
      assert.equal((await t.request('PUT', `${g}?${V}`, { location: 'local' })).status, 201);
    });
    after(async () => {
      await t?.close();
    });

    it('storage accounts: a real blob folder, two keys, listKeys, regenerateKey, delete removes the blobs', async () => {
      const sa = `${g}/providers/Microsoft.Storage/storageAccounts/acct0001`;
      const put = await t.request('PUT', `${sa}?${V}`, {
        location: 'local',
        tags: { k: 'v' },
        sku: { name: 'Standard_LRS' },
        kind: 'StorageV2',
      });
      assert.equal(put.status, 201, put.text);
      assert.equal(put.body.type, 'Microsoft.Storage/storageAccounts');
      assert.equal(put.body.properties.provisioningState, 'Succeeded');
      assert.equal(JSON.stringify(put.body).includes('"value"'), false, 'no key in the body');
      const folder = path.join(t.home, 'blobs', 'acct0001');
      assert.ok(fs.statSync(folder).isDirectory());
      const store = storageAccountBlobStore(t.server.ctx, put.body.id);
      await store.put('data/hello.txt', Readable.from([Buffer.from('hi')]));
      assert.ok(fs.existsSync(path.join(folder, 'data', 'hello.txt')));

      const keys = await t.request('POST', `${sa}/listKeys?${V}`);
      assert.equal(keys.status, 200);
      assert.deepEqual(
        keys.body.keys.map((k: { keyName: string }) => k.keyName),
        ['key1', 'key2'],
      );
      assert.equal(Buffer.from(keys.body.keys[0].value, 'base64').length, 64);
      assert.notEqual(keys.body.keys[0].value, keys.body.keys[1].value);
      const regen = await t.request('POST', `${sa}/regenerateKey?${V}`, { keyName: 'key2' });
      assert.equal(regen.status, 200);
      assert.equal(regen.body.keys[0].value, keys.body.keys[0].value);
      assert.notEqual(regen.body.keys[1].value, keys.body.keys[1].value);

      // Names are unique on the server, as storage account names are in Azure.
      assert.equal((await t.request('PUT', `${groupPath(t, 'deps2')}?${V}`, { location: 'local' })).status, 201);
      const dup = await t.request(
        'PUT',
        `${groupPath(t, 'deps2')}/providers/Microsoft.Storage/storageAccounts/acct0001?${V}`,
        {},
      );
      assert.equal(dup.status, 409);
      // Two concurrent creates of one name in different groups: exactly one gets it.
      const race = await Promise.all(
        [g, groupPath(t, 'deps2')].map((grp) =>
          t.request('PUT', `${grp}/providers/Microsoft.Storage/storageAccounts/raced0001?${V}`, {}),
        ),
      );
      assert.deepEqual(race.map((r) => r.status).sort(), [201, 409]);
      // PUT again: only the tags change.
      const again = await t.request('PUT', `${sa}?${V}`, { tags: { k: 'w' } });
      assert.equal(again.status, 200);
      assert.deepEqual(again.body.tags, { k: 'w' });
      assert.equal((await t.request('PUT', `${sa}?${V}`, { location: 'elsewhere' })).status, 400);
      const patched = await t.request('PATCH', `${sa}?${V}`, { tags: { x: 'y' } });
      assert.deepEqual(patched.body.tags, { x: 'y' });

      const list = await t.request('GET', `${g}/providers/Microsoft.Storage/storageAccounts?${V}`);
      assert.deepEqual(
        list.body.value.map((a: { name: string }) => a.name).filter((n: string) => n !== 'raced0001'),
        ['acct0001'],
      );
      const bySub = await t.request(
        'GET',
        `/subscriptions/${t.subscriptionId}/providers/Microsoft.Storage/storageAccounts?${V}`,
      );
      assert.ok(bySub.body.value.some((a: { name: string }) => a.name === 'acct0001'));

      assert.equal((await t.request('DELETE', `${sa}?${V}`)).status, 200);
      assert.equal(fs.existsSync(folder), false);
      assert.equal((await t.request('GET', `${sa}?${V}`)).status, 404);
      assert.equal((await t.request('POST', `${sa}/listKeys?${V}`)).status, 404);
      assert.equal((await t.request('DELETE', `${sa}?${V}`)).status, 204);
      const left = await t.server.ctx.db
        .selectFrom('resource_keys')
        .selectAll()
        .where('resource_key', '=', sa.toLowerCase())
        .execute();
      assert.equal(left.length, 0);
    });

    it('key vaults: deleting one removes its secrets and data key', async () => {
      const kv = `${g}/providers/Microsoft.KeyVault/vaults/vault-one`;
      const put = await t.request('PUT', `${kv}?${V}`, { location: 'local' });
      assert.equal(put.status, 201, put.text);
      assert.equal(put.body.properties.tenantId, t.server.ctx.tenantId);
      assert.equal(put.body.properties.vaultUri, `${t.url}${kv}/`);
      const { ctx } = t.server;
      const now = Date.now();
      await ctx.db
        .insertInto('vault_secrets')
        .values({
          vault_key: kv.toLowerCase(),
          name: 's1',
          name_key: 's1',
          value: await ctx.keys.encrypt(kv, 'secret'),
          content_type: null,
          tags: null,
          enabled: 1,
          version: 'v1',
          created_at: now,
          updated_at: now,
        })
        .execute();
      assert.equal((await t.request('DELETE', `${kv}?${V}`)).status, 200);
      assert.equal(
        (await ctx.db.selectFrom('vault_secrets').selectAll().where('vault_key', '=', kv.toLowerCase()).execute())
          .length,
        0,
      );
      assert.equal(
        (await ctx.db.selectFrom('data_keys').selectAll().where('owner_key', '=', kv.toLowerCase()).execute()).length,
        0,
      );
    });

    it('key vaults: one a workspace names as its keyVault is not deleted while the workspace is', async () => {
      const ws = await createWorkspace(t, 'deps', 'ws-kv');
      const kv = ws.properties.keyVault as string;
      const refused = await t.request('DELETE', `${kv}?${V}`);
      assert.equal(refused.status, 409, refused.text);
      assert.equal(refused.body.error.code, 'KeyVaultInUse');
      assert.match(refused.body.error.message, /is the key vault of workspace '.*\/workspaces\/ws-kv'/);
      assert.equal((await t.request('GET', `${kv}?${V}`)).status, 200, 'the vault is still there');
      const del = await t.request('DELETE', `${wsPath(t, 'deps', 'ws-kv')}?${V}`);
      if (del.status === 202)
        assert.equal((await waitForOperation(t, del.headers.get('azure-asyncoperation')!)).status, 'Succeeded');
      assert.equal((await t.request('DELETE', `${kv}?${V}`)).status, 200, 'once the workspace is gone, so can it be');
    });

    it('key vaults: a workspace deleted with its dependents keeps a vault another workspace names; that one takes it', async () => {
      const a = await createWorkspace(t, 'deps', 'ws-kv-a');
      const kv = a.properties.keyVault as string;
      await createWorkspace(t, 'deps', 'ws-kv-b', { location: 'local', properties: { keyVault: kv } });
      const b = wsPath(t, 'deps', 'ws-kv-b');
      const delA = await t.request('DELETE', `${wsPath(t, 'deps', 'ws-kv-a')}?${V}&deleteDependentResources=true`);
      assert.equal((await waitForOperation(t, delA.headers.get('azure-asyncoperation')!)).status, 'Succeeded');
      assert.equal((await t.request('GET', `${wsPath(t, 'deps', 'ws-kv-a')}?${V}`)).status, 404);
      for (const dep of [a.properties.storageAccount, a.properties.applicationInsights])
        assert.equal((await t.request('GET', `${dep}?${V}`)).status, 404, `${dep}: the rest of A's dependents go`);
      assert.equal((await t.request('GET', `${kv}?${V}`)).status, 200, 'the vault B names is kept');
      const gotB = await t.request('GET', `${b}?${V}`);
      assert.equal(gotB.status, 200, gotB.text);
      assert.equal(gotB.body.properties.keyVault, kv);
      assert.equal((await t.request('POST', `${b}/listKeys?${V}`)).status, 200, 'B still reads its keys');
      const delB = await t.request('DELETE', `${b}?${V}&deleteDependentResources=true`);
      assert.equal((await waitForOperation(t, delB.headers.get('azure-asyncoperation')!)).status, 'Succeeded');
      assert.equal((await t.request('GET', `${kv}?${V}`)).status, 404, 'the last workspace naming it takes it');
    });

    // A workspace is written holding the key vault it names (FOR SHARE), and its resource group's row;
    // a vault delete holds the vault FOR UPDATE and looks for workspaces naming it in that transaction.
    const makeVault = async (name: string, rg = g) => {
      const put = await t.request('PUT', `${rg}/providers/Microsoft.KeyVault/vaults/${name}?${V}`, {
        location: 'local',
      });
      assert.equal(put.status, 201, put.text);
      return put.body.id as string;
    };
    const workspaceRows = async (name: string) =>
      t.server.ctx.db
        .selectFrom('workspace_ids')
        .select('id_key')
        .where('id_key', '=', wsPath(t, 'deps', name).toLowerCase())
        .execute();

    it('key vaults: a vault delete that checked first wins: a workspace naming the vault behind it fails and stores nothing', async () => {
      const kv = await makeVault('race-kv-del');
      const deps = t.server.services.workspaces.dependents;
      const gt = gate();
      deps.testHooks.inUseChecked = gt.hook;
      const del = t.request('DELETE', `${kv}?${V}`);
      await gt.reached;
      deps.testHooks.inUseChecked = undefined;
      const { outcome } = await startBehind(t.server.ctx.database, () =>
        t.request('PUT', `${wsPath(t, 'deps', 'ws-behind-del')}?${V}`, {
          location: 'local',
          properties: { keyVault: kv },
        }),
      );
      gt.open();
      assert.equal((await del).status, 200);
      const put = await outcome;
      assert.ok(put.ok);
      // SQLite: the create's first read comes after the delete's commit; PostgreSQL: it waited for
      // the vault's row in the transaction that writes the workspace. Both find the vault gone.
      assert.equal(put.value.status, 400, put.value.text);
      assert.match(put.value.body.error.message, /properties\.keyVault '.*race-kv-del' does not exist/);
      assert.equal((await t.request('GET', `${wsPath(t, 'deps', 'ws-behind-del')}?${V}`)).status, 404);
      assert.deepEqual(await workspaceRows('ws-behind-del'), [], 'no workspace id was written');
    });

    it('key vaults: a workspace that holds the vault first wins: the vault delete behind it sees the workspace and answers 409', async () => {
      const kv = await makeVault('race-kv-ws');
      const deps = t.server.services.workspaces.dependents;
      const gt = gate();
      deps.testHooks.vaultHeld = gt.hook;
      const put = t.request('PUT', `${wsPath(t, 'deps', 'ws-ahead')}?${V}`, {
        location: 'local',
        properties: { keyVault: kv },
      });
      await gt.reached;
      deps.testHooks.vaultHeld = undefined;
      const { outcome } = await startBehind(t.server.ctx.database, () => t.request('DELETE', `${kv}?${V}`));
      gt.open();
      const created = await put;
      assert.equal(created.status, 201, created.text);
      const del = await outcome;
      assert.ok(del.ok);
      assert.equal(del.value.status, 409, del.value.text);
      assert.equal(del.value.body.error.code, 'KeyVaultInUse');
      assert.match(del.value.body.error.message, /is the key vault of workspace '.*\/workspaces\/ws-ahead'/);
      assert.equal((await waitForOperation(t, created.headers.get('azure-asyncoperation')!)).status, 'Succeeded');
      assert.equal((await t.request('GET', `${kv}?${V}`)).status, 200, 'the vault is still there');
      const gone = await t.request('DELETE', `${wsPath(t, 'deps', 'ws-ahead')}?${V}`);
      if (gone.status === 202)
        assert.equal((await waitForOperation(t, gone.headers.get('azure-asyncoperation')!)).status, 'Succeeded');
    });

    it('key vaults: a workspace naming a vault whose resource group is being deleted is refused (409) and stores nothing', async () => {
      const other = groupPath(t, 'deps-going');
      assert.equal((await t.request('PUT', `${other}?${V}`, { location: 'local' })).status, 201);
      const kv = await makeVault('race-kv-group', other);
      // The group delete paused once its group is marked Deleting, before it looks at what is inside.
      const groups = t.server.services.groups;
      const gt = gate();
      const pause = async () => gt.hook();
      groups.deleteHooks.unshift(pause);
      const del = t.request('DELETE', `${other}?${V}`);
      await gt.reached;
      groups.deleteHooks.splice(groups.deleteHooks.indexOf(pause), 1);
      const put = await t.request('PUT', `${wsPath(t, 'deps', 'ws-group-going')}?${V}`, {
        location: 'local',
        properties: { keyVault: kv },
      });
      gt.open();
      assert.equal(put.status, 409, put.text);
      assert.equal(put.body.error.code, 'ResourceGroupBeingDeleted');
      assert.match(put.body.error.message, /is being deleted with its resource group 'deps-going'/);
      assert.deepEqual(await workspaceRows('ws-group-going'), [], 'no workspace id was written');
      assert.equal((await del).status, 200, 'the group delete went on');
      assert.equal((await t.request('GET', `${kv}?${V}`)).status, 404);
    });

    it('application insights: instrumentation key and connection string, shown to who may read secrets', async () => {
      const ai = `${g}/providers/Microsoft.Insights/components/insights-one`;
      const put = await t.request('PUT', `${ai}?${V}`, { location: 'local' });
      assert.equal(put.status, 201, put.text);
      assert.match(put.body.properties.InstrumentationKey, /^[0-9a-f-]{36}$/);
      assert.equal(
        put.body.properties.ConnectionString,
        `InstrumentationKey=${put.body.properties.InstrumentationKey};IngestionEndpoint=${t.url}/;LiveEndpoint=${t.url}/`,
      );
      const reader = await userWithRole(t, `ai-reader-${dialect}`, 'Reader', ai);
      const r = await t.request('GET', `${ai}?${V}`, undefined, { token: reader.token });
      assert.equal(r.status, 200);
      assert.equal(r.body.properties.InstrumentationKey, undefined);
      assert.equal(r.body.properties.ConnectionString, undefined);
    });

    it('container registries: credentials, regenerateCredential; a workspace lists them once attached', async () => {
      const acr = `${g}/providers/Microsoft.ContainerRegistry/registries/registry01`;
      const put = await t.request('PUT', `${acr}?${V}`, {});
      assert.equal(put.status, 201, put.text);
      assert.ok(put.body.properties.loginServer);
      const creds = await t.request('POST', `${acr}/listCredentials?${V}`);
      assert.equal(creds.body.username, 'registry01');
      assert.deepEqual(
        creds.body.passwords.map((p: { name: string }) => p.name),
        ['password', 'password2'],
      );
      const regen = await t.request('POST', `${acr}/regenerateCredential?${V}`, { name: 'password' });
      assert.equal(regen.status, 200);
      assert.notEqual(regen.body.passwords[0].value, creds.body.passwords[0].value);
      assert.equal(regen.body.passwords[1].value, creds.body.passwords[1].value);
      assert.equal((await t.request('POST', `${acr}/regenerateCredential?${V}`, { name: 'password3' })).status, 400);
      const reader = await userWithRole(t, `acr-reader-${dialect}`, 'Reader', acr);
      assert.equal(
        (await t.request('POST', `${acr}/listCredentials?${V}`, undefined, { token: reader.token })).status,
        403,
      );
    });

    it('a workspace delete with dependents removes a registry attached later, and resyncKeys follows a regenerated registry password', async () => {
      const ws = await createWorkspace(t, 'deps', 'ws-acr');
      const w = wsPath(t, 'deps', 'ws-acr');
      const acr = `${g}/providers/Microsoft.ContainerRegistry/registries/wsacr0001`;
      assert.equal((await t.request('PUT', `${acr}?${V}`, {})).status, 201);
      assert.equal((await t.request('PATCH', `${w}?${V}`, { properties: { containerRegistry: acr } })).status, 200);
      const k1 = await t.request('POST', `${w}/listKeys?${V}`, undefined, {
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(k1.status, 200, 'an empty JSON body is no body');
      await t.request('POST', `${acr}/regenerateCredential?${V}`, { name: 'password' });
      const resync = await t.request('POST', `${w}/resyncKeys?${V}`);
      assert.equal((await waitForOperation(t, resync.headers.get('azure-asyncoperation')!)).status, 'Succeeded');
      const k2 = await t.request('POST', `${w}/listKeys?${V}`);
      assert.notEqual(
        k2.body.containerRegistryCredentials.passwords[0].value,
        k1.body.containerRegistryCredentials.passwords[0].value,
      );
      const del = await t.request('DELETE', `${w}?${V}&deleteDependentResources=true`);
      assert.equal((await waitForOperation(t, del.headers.get('azure-asyncoperation')!)).status, 'Succeeded');
      for (const dep of [acr, ws.properties.storageAccount, ws.properties.keyVault, ws.properties.applicationInsights])
        assert.equal((await t.request('GET', `${dep}?${V}`)).status, 404, dep);
    });
  });
}
