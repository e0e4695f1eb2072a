import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestServer, type TestServer } from '../../../server/src/testing/harness.js';
import { Workspace, TokenAuthentication, AuthorizationError, ConflictError, ValidationError } from '../index.js';

// Customer-managed keys through the SDK against a real server (SQLite: the server's suites cover both dialects).
describe('customer-managed keys (SDK) against a real server', () => {
  let t: TestServer;
  let tmp: string;
  let conn: { endpoint: string; auth: TokenAuthentication; env: NodeJS.ProcessEnv };
  before(async () => {
    t = await startTestServer('sqlite');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-sdk-cmk-'));
    conn = {
      endpoint: t.url,
      auth: new TokenAuthentication(t.adminToken),
      env: { ATELIER_CONFIG_DIR: path.join(tmp, 'profile') },
    };
  });
  after(async () => {
    await t?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('keys in a vault; Workspace.create({cmkKeyvault, resourceCmkUri}); a key in use cannot be disabled or deleted; a disabled one locks the secrets', async () => {
    const holder = await Workspace.create({
      name: 'key-holder',
      subscriptionId: t.subscriptionId,
      resourceGroup: 'cmk-sdk-rg',
      location: 'local',
      showOutput: false,
      ...conn,
    });
    const kv = holder.getKeyvault(holder.getDefaultKeyvault().id);
    const key = await kv.createKey('workspace-key', { kty: 'RSA', keySize: 2048 });
    assert.equal(key.name, 'workspace-key');
    assert.equal(key.kty, 'RSA');
    assert.ok(key.n && key.kid.endsWith(`/keys/workspace-key/${key.version}`));
    assert.deepEqual(
      (await kv.listKeys()).map((k) => k.name),
      ['workspace-key'],
    );
    assert.equal((await kv.getKey('workspace-key')).kid, key.kid);
    assert.throws(() => holder.getKeyvault('not-a-vault'), ValidationError);

    const ws = await Workspace.create({
      name: 'cmk-sdk',
      subscriptionId: t.subscriptionId,
      resourceGroup: 'cmk-sdk-rg',
      location: 'local',
      showOutput: false,
      cmkKeyvault: kv.id,
      resourceCmkUri: key.kid,
      ...conn,
    });
    assert.equal((await ws.getDetails()).resourceCmkUri, key.kid);
    const secrets = ws.getDefaultKeyvault();
    await secrets.setSecret('db-password', 's3cret');
    assert.equal(await secrets.getSecret('db-password'), 's3cret');

    // The workspace depends on the key: it cannot be disabled (nor deleted) while so.
    await assert.rejects(
      kv.setKeyEnabled('workspace-key', false),
      (e: Error) => e instanceof ConflictError && e.message.includes('cmk-sdk'),
    );
    await assert.rejects(kv.deleteKey('workspace-key'), (e: Error) => e instanceof ConflictError);
    assert.equal(await secrets.getSecret('db-password'), 's3cret');
    // A key disabled anyway (by an older server) locks the secrets with an error that says so.
    await t.server.ctx.db.updateTable('vault_keys').set({ enabled: 0 }).where('version', '=', key.version).execute();
    t.server.ctx.keys.dropCustomerKey('');
    await assert.rejects(
      secrets.getSecret('db-password'),
      (e: Error) => e instanceof AuthorizationError && /customer-managed key .* is disabled/.test(e.message),
    );
    await kv.setKeyEnabled('workspace-key', true);
    assert.equal(await secrets.getSecret('db-password'), 's3cret');

    // A new version: listed among the versions; the workspace still uses the version it was given.
    const v2 = await kv.createKey('workspace-key');
    assert.deepEqual(
      (await kv.listKeyVersions('workspace-key')).map((v) => v.version).sort(),
      [key.version, v2.version].sort(),
    );
    assert.equal((await ws.getDetails()).resourceCmkUri, key.kid);
  });
});
