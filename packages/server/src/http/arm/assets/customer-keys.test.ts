import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, testDialects, type TestServer } from '../../../testing/harness.js';
import { V, createWorkspace, groupPath, userWithRole, waitForOperation, wsPath } from '../arm-test-helpers.js';

const KV = 'api-version=7.4';

for (const dialect of testDialects()) {
  describe(`customer-managed keys: key vault keys and workspace encryption (${dialect})`, () => {
    let t: TestServer;
    let vault: string;
    let rsaKid: string;
    let ws: any;
    let W: string;

    before(async () => {
      t = await startTestServer(dialect);
      await t.request('PUT', `${groupPath(t, 'cmk-rg')}?${V}`, { location: 'local' });
      const v = await t.request(
        'PUT',
        `${groupPath(t, 'cmk-rg')}/providers/Microsoft.KeyVault/vaults/cmk-vault-${dialect}?api-version=2023-07-01`,
        { location: 'local' },
      );
      assert.equal(v.status, 201, v.text);
      vault = v.body.id;
    });
    after(async () => {
      await t?.close();
    });

    it('keys: create RSA and AES keys with versions; get shows the public part only; list gives ids only', async () => {
      const rsa = await t.request('POST', `${vault}/keys/ws-key/create?${KV}`, { kty: 'RSA', key_size: 2048 });
      assert.equal(rsa.status, 200, rsa.text);
      rsaKid = rsa.body.key.kid;
      assert.match(rsaKid, /\/keys\/ws-key\/[0-9a-f]{32}$/);
      assert.equal(rsa.body.key.kty, 'RSA');
      assert.ok(rsa.body.key.n && rsa.body.key.e === 'AQAB');
      assert.equal(rsa.body.key.d, undefined, 'never the private part');
      assert.ok(rsa.body.key.key_ops.includes('unwrapKey'));
      assert.equal(rsa.body.attributes.enabled, true);
      const aes = await t.request('POST', `${vault}/keys/aes-key/create?${KV}`, {
        kty: 'oct',
        key_size: 256,
        tags: { team: 'a' },
      });
      assert.equal(aes.status, 200, aes.text);
      assert.equal(aes.body.key.kty, 'oct');
      assert.equal(aes.body.key.k, undefined, 'never the AES bytes');
      assert.deepEqual(aes.body.tags, { team: 'a' });
      const got = await t.request('GET', `${vault}/keys/WS-KEY?${KV}`);
      assert.equal(got.status, 200);
      assert.equal(got.body.key.kid, rsaKid);
      assert.equal((await t.request('GET', `${rsaKid}?${KV}`)).body.key.n, rsa.body.key.n);
      const list = await t.request('GET', `${vault}/keys?${KV}`);
      assert.equal(list.status, 200);
      assert.deepEqual(list.body.value.map((k: any) => k.kid.split('/keys/')[1]).sort(), ['aes-key', 'ws-key']);
      assert.equal(JSON.stringify(list.body).includes('"n"'), false, 'list carries ids and attributes only');
      // What is stored is sealed: no key material in the database in the clear.
      const rows = await t.server.ctx.db.selectFrom('vault_keys').selectAll().execute();
      assert.ok(rows.every((r) => r.material.startsWith('v1:')));
      // Bad input and access.
      assert.equal((await t.request('POST', `${vault}/keys/ec/create?${KV}`, { kty: 'EC' })).status, 400);
      assert.equal(
        (await t.request('POST', `${vault}/keys/small/create?${KV}`, { kty: 'RSA', key_size: 1024 })).status,
        400,
      );
      assert.equal((await t.request('POST', `${vault}/keys/bad_name/create?${KV}`, { kty: 'RSA' })).status, 400);
      assert.equal((await t.request('GET', `${vault}/keys/missing?${KV}`)).status, 404);
      const reader = await userWithRole(t, 'cmk-reader', 'Reader', vault);
      assert.equal((await t.request('GET', `${vault}/keys?${KV}`, undefined, { token: reader.token })).status, 200);
      assert.equal(
        (await t.request('POST', `${vault}/keys/x/create?${KV}`, { kty: 'RSA' }, { token: reader.token })).status,
        403,
      );
      const outsider = await userWithRole(t, 'cmk-outsider', null);
      assert.equal((await t.request('GET', `${vault}/keys?${KV}`, undefined, { token: outsider.token })).status, 404);
    });

    it("refuses an encryption setting whose vault or key is missing, elsewhere, unusable or not the caller's to use", async () => {
      await t.request('PUT', `${groupPath(t, 'cmk-ws-rg')}?${V}`, { location: 'local' });
      const url = `${wsPath(t, 'cmk-ws-rg', 'refused')}?${V}`;
      const enc = (kvp: Record<string, unknown>) => ({
        location: 'local',
        properties: { encryption: { status: 'Enabled', keyVaultProperties: kvp } },
      });
      const cases: [Record<string, unknown>, number, string][] = [
        [{ keyVaultArmId: vault }, 400, 'keyIdentifier'],
        [{ keyVaultArmId: `${vault}x`, keyIdentifier: rsaKid }, 400, 'does not exist'],
        [{ keyVaultArmId: vault, keyIdentifier: rsaKid.replace('/ws-key/', '/no-such-key/') }, 400, 'was not found'],
        [{ keyVaultArmId: vault, keyIdentifier: rsaKid.replace(/[0-9a-f]{32}$/, '0'.repeat(32)) }, 400, 'no version'],
        [
          { keyVaultArmId: vault, keyIdentifier: 'https://other-vault.vault.azure.net/keys/ws-key' },
          400,
          'is not a key of key vault',
        ],
        [{ keyVaultArmId: vault, keyIdentifier: 'not a url' }, 400, 'is not a URL'],
      ];
      for (const [kvp, status, message] of cases) {
        const r = await t.request('PUT', url, enc(kvp));
        assert.equal(r.status, status, `${JSON.stringify(kvp)}: ${r.text}`);
        assert.match(r.body.error.message, new RegExp(message));
      }
      // A contributor of the workspace's group who may only read the vault cannot use its keys.
      const user = await userWithRole(t, 'cmk-contrib', 'Contributor', groupPath(t, 'cmk-ws-rg'));
      await t.server.ctx.access.assign(user.id, vault, 'Reader', null);
      const r = await t.request('PUT', url, enc({ keyVaultArmId: vault, keyIdentifier: rsaKid }), {
        token: user.token,
      });
      assert.equal(r.status, 403, r.text);
      assert.match(r.body.error.message, /may not use the keys/);
      // Nothing was made.
      assert.equal((await t.request('GET', url)).status, 404);
    });

    it('a workspace created with a customer key: its data keys and its key vault answer to that key', async () => {
      ws = await createWorkspace(t, 'cmk-ws-rg', 'cmk-ws', {
        location: 'local',
        properties: {
          encryption: { status: 'Enabled', keyVaultProperties: { keyVaultArmId: vault, keyIdentifier: rsaKid } },
        },
      });
      W = wsPath(t, 'cmk-ws-rg', 'cmk-ws');
      assert.equal(ws.properties.encryption.status, 'Enabled');
      assert.equal(ws.properties.encryption.keyVaultProperties.keyIdentifier, rsaKid);
      assert.equal(ws.properties.encryption.keyVaultProperties.keyVaultArmId, vault);
      assert.equal(ws.properties.cmkRef, undefined, 'internal reference not shown');
      const ref = `cmk:${rsaKid.slice(t.url.length).toLowerCase()}`;
      for (const owner of [ws.id, ws.properties.keyVault]) {
        const row = await t.server.ctx.db
          .selectFrom('data_keys')
          .selectAll()
          .where('owner_key', '=', owner.toLowerCase())
          .executeTakeFirstOrThrow();
        assert.equal(row.wrapped_by, ref);
      }
      const wsVault = ws.properties.keyVault;
      assert.equal(
        (await t.request('PUT', `${wsVault}/secrets/db-password?${KV}`, { value: 'hunter2-cmk' })).status,
        200,
      );
      assert.equal((await t.request('GET', `${wsVault}/secrets/db-password?${KV}`)).body.value, 'hunter2-cmk');
      assert.equal((await t.request('POST', `${W}/listKeys?${V}`)).status, 200);
      // The key vault of a workspace with a customer key is its own.
      const other = await t.request('PUT', `${wsPath(t, 'cmk-ws-rg', 'sharer')}?${V}`, {
        location: 'local',
        properties: { keyVault: wsVault },
      });
      assert.equal(other.status, 409, other.text);
      assert.match(other.body.error.message, /customer-managed key/);
    });

    it('a key a workspace depends on cannot be disabled or deleted (409 naming it); changing keys needs key-management rights', async () => {
      const before = await t.server.ctx.db.selectFrom('vault_keys').selectAll().orderBy('version').execute();
      const off = await t.request('PATCH', `${rsaKid}?${KV}`, { attributes: { enabled: false } });
      assert.equal(off.status, 409, off.text);
      assert.equal(off.body.error.code, 'KeyInUse');
      assert.ok(off.body.error.message.includes(ws.id), off.body.error.message);
      const current = await t.request('PATCH', `${vault}/keys/ws-key?${KV}`, { attributes: { enabled: false } });
      assert.equal(current.status, 409, current.text);
      const ops = await t.request('PATCH', `${rsaKid}?${KV}`, { key_ops: ['sign', 'verify'] });
      assert.equal(ops.status, 409, ops.text);
      const del = await t.request('DELETE', `${vault}/keys/ws-key?${KV}`);
      assert.equal(del.status, 409, del.text);
      assert.ok(del.body.error.message.includes(ws.id), del.body.error.message);
      const delVault = await t.request('DELETE', `${vault}?api-version=2023-07-01`);
      assert.equal(delVault.status, 409, delVault.text);
      // Nor with its resource group (the workspace is in another group): refused before anything goes.
      const delGroup = await t.request('DELETE', `${groupPath(t, 'cmk-rg')}?${V}`);
      assert.equal(delGroup.status, 409, delGroup.text);
      assert.equal(delGroup.body.error.code, 'KeyInUse');
      assert.ok(delGroup.body.error.message.includes(ws.id), delGroup.body.error.message);
      assert.equal(
        (await t.request('GET', `${groupPath(t, 'cmk-rg')}?${V}`)).body.properties.provisioningState,
        'Succeeded',
      );
      assert.equal((await t.request('GET', `${vault}?api-version=2023-07-01`)).status, 200);
      assert.equal((await t.request('GET', `${rsaKid}?${KV}`)).status, 200);
      // Tags of a key in use may change; its data stays readable.
      assert.equal((await t.request('PATCH', `${rsaKid}?${KV}`, { tags: { note: 'in use' } })).status, 200);
      // An AzureML Data Scientist of the vault (assets/write, no control/write) may not manage keys, even unused ones.
      const scientist = await userWithRole(t, 'cmk-scientist', 'AzureML Data Scientist', vault);
      assert.equal((await t.request('GET', `${vault}/keys?${KV}`, undefined, { token: scientist.token })).status, 200);
      for (const [method, url, body] of [
        ['PATCH', `${vault}/keys/aes-key?${KV}`, { attributes: { enabled: false } }],
        ['DELETE', `${vault}/keys/aes-key?${KV}`, undefined],
        ['POST', `${vault}/keys/new-key/create?${KV}`, { kty: 'RSA' }],
      ] as const) {
        const r = await t.request(method, url, body, { token: scientist.token });
        assert.equal(r.status, 403, `${method} ${url}: ${r.text}`);
      }
      const after = await t.server.ctx.db.selectFrom('vault_keys').selectAll().orderBy('version').execute();
      assert.deepEqual(
        after.map((r) => [r.version, r.enabled, r.key_ops]),
        before.map((r) => [r.version, r.enabled, r.key_ops]),
      );
      assert.equal(
        (await t.request('GET', `${ws.properties.keyVault}/secrets/db-password?${KV}`)).body.value,
        'hunter2-cmk',
      );
    });

    it("a key disabled while in use (e.g. before that was refused) makes the workspace's secrets unreadable with a clear error; enabling it again restores them", async () => {
      const wsVault = ws.properties.keyVault;
      const ref = rsaKid.slice(t.url.length).toLowerCase();
      await t.server.ctx.db
        .updateTable('vault_keys')
        .set({ enabled: 0 })
        .where('version', '=', ref.split('/').at(-1)!)
        .execute();
      t.server.ctx.keys.dropCustomerKey(ref);
      const r = await t.request('GET', `${wsVault}/secrets/db-password?${KV}`);
      assert.equal(r.status, 403, r.text);
      assert.equal(r.body.error.code, 'CustomerManagedKeyDisabled');
      assert.match(r.body.error.message, /is disabled; enable it/);
      assert.ok(r.body.error.message.includes(rsaKid));
      const keys = await t.request('POST', `${W}/listKeys?${V}`);
      assert.equal(keys.status, 403);
      assert.equal(
        (await t.request('PUT', `${wsVault}/secrets/other?${KV}`, { value: 'x' })).status,
        403,
        'nor can new secrets be sealed',
      );
      // diagnoseWorkspace says which key and why.
      const post = await t.request('POST', `${W}/diagnose?${V}`, { value: {} });
      assert.equal(post.status, 202, post.text);
      let report: any;
      for (let i = 0; i < 200 && !report; i++) {
        const r = await t.request('GET', post.headers.get('location')!);
        if (r.status === 200) report = r.body.value;
        else await new Promise((res) => setTimeout(res, 20));
      }
      const kvResult = report.keyVaultResults.find((x: any) => x.code === 'CustomerManagedKeyUnusable');
      assert.ok(kvResult, JSON.stringify(report.keyVaultResults));
      assert.match(kvResult.message, /is disabled/);
      // A new workspace cannot be made with a disabled key.
      const refused = await t.request('PUT', `${wsPath(t, 'cmk-ws-rg', 'with-disabled')}?${V}`, {
        location: 'local',
        properties: {
          encryption: { status: 'Enabled', keyVaultProperties: { keyVaultArmId: vault, keyIdentifier: rsaKid } },
        },
      });
      assert.equal(refused.status, 400);
      assert.match(refused.body.error.message, /disabled/);
      assert.equal((await t.request('PATCH', `${rsaKid}?${KV}`, { attributes: { enabled: true } })).status, 200);
      assert.equal((await t.request('GET', `${wsVault}/secrets/db-password?${KV}`)).body.value, 'hunter2-cmk');
    });

    it('rotation: PATCH of keyIdentifier re-wraps the data keys (here onto the AES key); the old key is then not needed', async () => {
      const aesKid = (await t.request('GET', `${vault}/keys/aes-key?${KV}`)).body.key.kid;
      const p = await t.request('PATCH', `${W}?${V}`, {
        properties: { encryption: { keyVaultProperties: { keyIdentifier: aesKid } } },
      });
      assert.equal(p.status, 200, p.text);
      assert.equal(p.body.properties.encryption.keyVaultProperties.keyIdentifier, aesKid);
      assert.equal(p.body.properties.encryption.status, 'Enabled');
      assert.equal((await t.request('PATCH', `${rsaKid}?${KV}`, { attributes: { enabled: false } })).status, 200);
      assert.equal(
        (await t.request('GET', `${ws.properties.keyVault}/secrets/db-password?${KV}`)).body.value,
        'hunter2-cmk',
      );
      // A new version of the AES key, then rotate to it: the old version may be disabled after.
      const v2 = await t.request('POST', `${vault}/keys/aes-key/create?${KV}`, { kty: 'oct' });
      assert.equal((await t.request('GET', `${vault}/keys/aes-key/versions?${KV}`)).body.value.length, 2);
      assert.equal(
        (
          await t.request('PATCH', `${W}?${V}`, {
            properties: { encryption: { keyVaultProperties: { keyIdentifier: v2.body.key.kid } } },
          })
        ).status,
        200,
      );
      assert.equal((await t.request('PATCH', `${aesKid}?${KV}`, { attributes: { enabled: false } })).status, 200);
      assert.equal(
        (await t.request('GET', `${ws.properties.keyVault}/secrets/db-password?${KV}`)).body.value,
        'hunter2-cmk',
      );
      // GET-modify-PUT keeps it; turning it off or moving vaults is refused.
      const current = (await t.request('GET', `${W}?${V}`)).body;
      assert.equal(
        (
          await t.request('PUT', `${W}?${V}`, {
            location: 'local',
            properties: { encryption: current.properties.encryption },
          })
        ).status,
        200,
      );
      const off = await t.request('PATCH', `${W}?${V}`, { properties: { encryption: { status: 'Disabled' } } });
      assert.equal(off.status, 400);
      assert.match(off.body.error.message, /stay on/);
      const move = await t.request('PATCH', `${W}?${V}`, {
        properties: { encryption: { keyVaultProperties: { keyVaultArmId: ws.properties.keyVault } } },
      });
      assert.equal(move.status, 400);
    });

    it('deleting a workspace but keeping its key vault puts the vault back under server-managed keys', async () => {
      const kid = (await t.request('GET', `${vault}/keys/aes-key?${KV}`)).body.key.kid;
      const other = await createWorkspace(t, 'cmk-ws-rg', 'cmk-ws-2', {
        location: 'local',
        properties: {
          encryption: { status: 'Enabled', keyVaultProperties: { keyVaultArmId: vault, keyIdentifier: kid } },
        },
      });
      const kept = other.properties.keyVault;
      assert.equal((await t.request('PUT', `${kept}/secrets/keep?${KV}`, { value: 'kept' })).status, 200);
      const d = await t.request('DELETE', `${wsPath(t, 'cmk-ws-rg', 'cmk-ws-2')}?${V}`);
      if (d.status === 202)
        assert.equal((await waitForOperation(t, d.headers.get('azure-asyncoperation')!)).status, 'Succeeded');
      assert.equal(await t.server.ctx.keys.wrappedBy(kept), 'master');
      assert.equal((await t.request('GET', `${kept}/secrets/keep?${KV}`)).body.value, 'kept');
    });

    it('the key in use cannot be deleted; once its workspace is gone it can', async () => {
      const del = await t.request('DELETE', `${vault}/keys/aes-key?${KV}`);
      assert.equal(del.status, 409, del.text);
      assert.equal(
        (await t.request('GET', `${ws.properties.keyVault}/secrets/db-password?${KV}`)).body.value,
        'hunter2-cmk',
      );
      const d = await t.request('DELETE', `${W}?${V}&deleteDependentResources=true`);
      assert.ok(d.status === 202 || d.status === 200, d.text);
      if (d.status === 202)
        assert.equal((await waitForOperation(t, d.headers.get('azure-asyncoperation')!)).status, 'Succeeded');
      assert.equal((await t.request('GET', `${W}?${V}`)).status, 404);
      assert.equal((await t.request('DELETE', `${vault}/keys/aes-key?${KV}`)).status, 200);
      assert.equal((await t.request('DELETE', `${vault}?api-version=2023-07-01`)).status, 200);
    });
  });
}
