import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, testDialects, type TestServer } from '../../../testing/harness.js';
import { V, createWorkspace, groupPath } from '../arm-test-helpers.js';
import { CUSTOMER_KEY_RECHECK_MS } from '../../../secrets/envelope.js';

const KV = 'api-version=7.4';

// Two servers on one database (replicas): a key disabled through one is refused by the other once
// its cached data key is rechecked (every CUSTOMER_KEY_RECHECK_MS), and a rotation is followed.
for (const dialect of testDialects()) {
  describe(`customer-managed keys across servers on one database (${dialect})`, () => {
    let a: TestServer;
    let b: TestServer;

    before(async () => {
      a = await startTestServer(dialect);
      b = await startTestServer(dialect, { home: a.home, databaseUrl: a.server.ctx.config.databaseUrl });
    });
    after(async () => {
      await b?.close();
      await a?.close();
    });

    it('disable and rotate on one server; the other follows', async () => {
      await a.request('PUT', `${groupPath(a, 'rep-rg')}?${V}`, { location: 'local' });
      const vault = (
        await a.request(
          'PUT',
          `${groupPath(a, 'rep-rg')}/providers/Microsoft.KeyVault/vaults/rep-vault-${dialect}?api-version=2023-07-01`,
          { location: 'local' },
        )
      ).body.id;
      const k1 = (await a.request('POST', `${vault}/keys/k/create?${KV}`, { kty: 'oct' })).body.key.kid;
      const ws = await createWorkspace(a, 'rep-rg', 'rep-ws', {
        location: 'local',
        properties: {
          encryption: { status: 'Enabled', keyVaultProperties: { keyVaultArmId: vault, keyIdentifier: k1 } },
        },
      });
      const secret = `${ws.properties.keyVault}/secrets/s?${KV}`;
      assert.equal((await a.request('PUT', secret, { value: 'shared' })).status, 200);
      const readOnB = () => b.request('GET', secret);
      assert.equal((await readOnB()).body.value, 'shared');

      // In use, the key cannot be disabled through the API; one disabled anyway (an older server) is noticed by b.
      assert.equal((await a.request('PATCH', `${k1}?${KV}`, { attributes: { enabled: false } })).status, 409);
      await a.server.ctx.db
        .updateTable('vault_keys')
        .set({ enabled: 0 })
        .where('version', '=', k1.split('/').at(-1)!)
        .execute();
      await new Promise((r) => setTimeout(r, CUSTOMER_KEY_RECHECK_MS + 200));
      const refused = await readOnB();
      assert.equal(refused.status, 403, refused.text);
      assert.equal(refused.body.error.code, 'CustomerManagedKeyDisabled');

      // Enable, let b cache again, then rotate on a to a new version and disable the old one: b reads with the new wrapping.
      assert.equal((await a.request('PATCH', `${k1}?${KV}`, { attributes: { enabled: true } })).status, 200);
      assert.equal((await readOnB()).body.value, 'shared');
      const k2 = (await a.request('POST', `${vault}/keys/k/create?${KV}`, { kty: 'oct' })).body.key.kid;
      assert.equal(
        (
          await a.request('PATCH', `${ws.id}?${V}`, {
            properties: { encryption: { keyVaultProperties: { keyIdentifier: k2 } } },
          })
        ).status,
        200,
      );
      assert.equal((await a.request('PATCH', `${k1}?${KV}`, { attributes: { enabled: false } })).status, 200);
      await new Promise((r) => setTimeout(r, CUSTOMER_KEY_RECHECK_MS + 200));
      const after = await readOnB();
      assert.equal(after.status, 200, after.text);
      assert.equal(after.body.value, 'shared');
    });
  });
}
