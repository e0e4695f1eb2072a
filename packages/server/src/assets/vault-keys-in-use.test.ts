import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, testDialects, type TestServer } from '../testing/harness.js';
import { gate, startBehind } from '../testing/write-race.js';
import { Conflict } from '../errors.js';
import { keyRef, type VaultKeyService } from './vault-keys.js';
import { KeyRing, loadMasterKey } from '../secrets/envelope.js';

const KV = 'api-version=7.4';

// Deleting or disabling a customer-managed key checks that no data depends on it in the same write
// transaction as the change, and putting data under a key holds the key in the transaction that
// does so: of a delete and a concurrent wrap, exactly one wins and the other gets a 409.
for (const dialect of testDialects()) {
  describe(`vault keys: the in-use check is atomic with delete and disable (${dialect})`, () => {
    let t: TestServer;
    let vault: string;
    let keys: VaultKeyService;
    // How the wrap behind a delete or disable loses. SQLite: the paused transaction holds the one
    // connection, so the wrap's first read comes after that commit and finds the key gone (403,
    // before it writes anything). PostgreSQL: the wrap read the key before, and the transaction that
    // puts the data under it waits for the key's row, then finds it gone (409).
    const lostTo = (change: 'deleted' | 'disabled') =>
      dialect === 'postgres'
        ? 'KEY_CHANGED'
        : change === 'deleted'
          ? 'CUSTOMER_KEY_NOT_FOUND'
          : 'CUSTOMER_KEY_DISABLED';
    const owner = (n: string) => `/subscriptions/race/resourcegroups/race/providers/x/owners/${n}`;
    const makeKey = async (name: string) => {
      const r = await t.request('POST', `${vault}/keys/${name}/create?${KV}`, { kty: 'RSA' });
      assert.equal(r.status, 200, r.text);
      return keyRef(vault, name, r.body.key.kid.split('/').pop());
    };

    before(async () => {
      t = await startTestServer(dialect);
      const rg = `/subscriptions/${t.subscriptionId}/resourceGroups/race-rg`;
      assert.equal((await t.request('PUT', `${rg}?api-version=2025-09-01`, { location: 'local' })).status, 201);
      const v = await t.request('PUT', `${rg}/providers/Microsoft.KeyVault/vaults/race-vault?api-version=2023-07-01`, {
        location: 'local',
      });
      assert.equal(v.status, 201, v.text);
      vault = v.body.id;
      keys = t.server.services.assets.vaultKeys;
    });
    after(async () => t?.close());

    it('a data key read while its owner is forgotten is not kept: what is sealed after the forget stays readable', async () => {
      // Rings on the same store and master key (other processes, or this one after a restart).
      const ring = () => new KeyRing(t.server.ctx.database, loadMasterKey(t.server.ctx.config.home));
      const o = owner('forgotten');
      const old = await ring().dataKey(o);
      const reader = ring();
      const g = gate();
      reader.testHooks.keyRead = g.hook;
      const reading = reader.dataKey(o);
      await g.reached;
      reader.testHooks.keyRead = undefined;
      await reader.forget(o);
      g.open();
      assert.deepEqual(await reading, old, 'a read that began before the forget answers what it read');
      const sealed = await reader.encrypt(o, 'sealed after the forget');
      assert.notDeepEqual(await reader.dataKey(o), old, 'the forgotten key is not used again');
      assert.equal(await ring().decrypt(o, sealed), 'sealed after the forget');
    });

    it('a delete that checked first wins: the wrap waiting behind it loses and wraps nothing', async () => {
      const ref = await makeKey('first-delete');
      const g = gate();
      keys.testHooks.inUseChecked = g.hook;
      const del = keys.delete(vault, 'first-delete');
      await g.reached;
      keys.testHooks.inUseChecked = undefined;
      const { outcome } = await startBehind(t.server.ctx.database, () => t.server.ctx.keys.protect(owner('a'), ref));
      g.open();
      await del;
      const wrap = await outcome;
      assert.equal(wrap.ok, false, 'the wrap must lose');
      assert.equal(!wrap.ok && wrap.error.code, lostTo('deleted'));
      if (dialect === 'postgres') assert.ok(!wrap.ok && wrap.error instanceof Conflict);
      assert.match(!wrap.ok ? wrap.error.message : '', /deleted/);
      assert.equal(await t.server.ctx.keys.wrappedBy(owner('a')), 'master', 'the data key stays under the master key');
      assert.equal((await t.request('GET', `${vault}/keys/first-delete?${KV}`)).status, 404);
    });

    it('a wrap that holds the key first wins: the delete waiting behind it sees the data and answers 409', async () => {
      const ref = await makeKey('first-wrap');
      const g = gate();
      t.server.ctx.keys.testHooks.protectHeld = g.hook;
      const wrap = t.server.ctx.keys.protect(owner('b'), ref);
      await g.reached;
      t.server.ctx.keys.testHooks.protectHeld = undefined;
      const { outcome } = await startBehind(t.server.ctx.database, () => keys.delete(vault, 'first-wrap'));
      g.open();
      await wrap;
      const del = await outcome;
      assert.equal(del.ok, false, 'the delete must lose');
      assert.equal(!del.ok && del.error.code, 'KEY_IN_USE');
      assert.match(!del.ok ? del.error.message : '', /owners\/b/);
      assert.equal(await t.server.ctx.keys.wrappedBy(owner('b')), ref);
      assert.equal((await t.request('GET', `${vault}/keys/first-wrap?${KV}`)).status, 200);
      // Through HTTP, the same refusal.
      const r = await t.request('DELETE', `${vault}/keys/first-wrap?${KV}`);
      assert.equal(r.status, 409, r.text);
    });

    it('disable: a wrap waiting behind a disable fails; a disable waiting behind a wrap is refused', async () => {
      const ref = await makeKey('disable-race');
      const version = ref.split('/').pop()!;
      let g = gate();
      keys.testHooks.inUseChecked = g.hook;
      const disable = keys.update(vault, 'disable-race', version, { enabled: false });
      await g.reached;
      keys.testHooks.inUseChecked = undefined;
      const behind = await startBehind(t.server.ctx.database, () => t.server.ctx.keys.protect(owner('c'), ref));
      g.open();
      assert.equal((await disable).enabled, false);
      const lost = await behind.outcome;
      assert.equal(!lost.ok && lost.error.code, lostTo('disabled'));
      assert.match(!lost.ok ? lost.error.message : '', /disabled/);
      // Enabled again, a wrap that holds it first makes the disable lose.
      await keys.update(vault, 'disable-race', version, { enabled: true });
      g = gate();
      t.server.ctx.keys.testHooks.protectHeld = g.hook;
      const wrap = t.server.ctx.keys.protect(owner('c'), ref);
      await g.reached;
      t.server.ctx.keys.testHooks.protectHeld = undefined;
      const second = await startBehind(t.server.ctx.database, () =>
        keys.update(vault, 'disable-race', version, { enabled: false }),
      );
      g.open();
      await wrap;
      const refused = await second.outcome;
      assert.equal(!refused.ok && refused.error.code, 'KEY_IN_USE');
      assert.equal((await keys.get(vault, 'disable-race', version)).enabled, true);
    });

    // The vault itself: its delete holds the vault's row and its keys' rows while it checks for data
    // under its keys; a key made in it holds the vault FOR SHARE, a wrap holds its key.
    const makeVault = async (name: string) => {
      const rg = `/subscriptions/${t.subscriptionId}/resourceGroups/race-rg`;
      const v = await t.request('PUT', `${rg}/providers/Microsoft.KeyVault/vaults/${name}?api-version=2023-07-01`, {
        location: 'local',
      });
      assert.equal(v.status, 201, v.text);
      return v.body.id as string;
    };

    it('a vault delete that checked first wins: a key made in it behind the delete fails and leaves nothing', async () => {
      const id = await makeVault('race-vault-del');
      const deps = t.server.services.workspaces.dependents;
      const g = gate();
      deps.testHooks.inUseChecked = g.hook;
      const del = deps.deleteKeyVaultIfUnused(id);
      await g.reached;
      deps.testHooks.inUseChecked = undefined;
      const { outcome } = await startBehind(t.server.ctx.database, () => keys.create(id, 'late', { kty: 'oct' }));
      g.open();
      assert.equal(await del, true);
      const made = await outcome;
      assert.equal(made.ok, false, 'the key must not be made');
      assert.equal(!made.ok && made.error.code, 'KEY_VAULT_NOT_FOUND', !made.ok ? String(made.error?.stack) : '');
      const left = await t.server.ctx.db
        .selectFrom('vault_keys')
        .select('name')
        .where('vault_key', '=', id.toLowerCase())
        .execute();
      assert.deepEqual(left, [], 'no key row of the deleted vault');
    });

    it('a wrap that holds a key of the vault first wins: the vault delete waiting behind it sees the data and answers 409', async () => {
      const id = await makeVault('race-vault-wrap');
      const r = await t.request('POST', `${id}/keys/k/create?${KV}`, { kty: 'RSA' });
      assert.equal(r.status, 200, r.text);
      const ref = keyRef(id, 'k', r.body.key.kid.split('/').pop());
      const deps = t.server.services.workspaces.dependents;
      const g = gate();
      t.server.ctx.keys.testHooks.protectHeld = g.hook;
      const wrap = t.server.ctx.keys.protect(owner('v'), ref);
      await g.reached;
      t.server.ctx.keys.testHooks.protectHeld = undefined;
      const { outcome } = await startBehind(t.server.ctx.database, () => deps.deleteKeyVaultIfUnused(id));
      g.open();
      await wrap;
      const del = await outcome;
      assert.equal(del.ok, false, 'the vault delete must lose');
      assert.equal(!del.ok && del.error.code, 'KEY_IN_USE');
      assert.match(!del.ok ? del.error.message : '', /key vault 'race-vault-wrap' cannot be deleted.*owners\/v/);
      assert.equal(await t.server.ctx.keys.wrappedBy(owner('v')), ref);
      assert.equal((await t.request('GET', `${id}/keys/k?${KV}`)).status, 200, 'the vault and its key stay');
    });
  });
}
