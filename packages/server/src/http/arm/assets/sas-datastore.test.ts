import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, testDialects, type TestServer } from '../../../testing/harness.js';
import { V, createWorkspace, groupPath, wsPath } from '../arm-test-helpers.js';
import { accountSas, serviceSas, verifySas } from '../../../assets/sas.js';

const hourFromNow = () => new Date(Date.now() + 3600_000).toISOString();

for (const dialect of testDialects()) {
  describe(`SAS-token datastores (${dialect})`, () => {
    let t: TestServer;
    let W: string;
    let acct: string;
    let name: string;

    before(async () => {
      t = await startTestServer(dialect);
      await createWorkspace(t, 'sas-rg', 'sas-ws');
      W = wsPath(t, 'sas-rg', 'sas-ws');
      name = `sasacct${dialect === 'sqlite' ? 's' : 'p'}`;
      acct = `${groupPath(t, 'sas-rg')}/providers/Microsoft.Storage/storageAccounts/${name}`;
      assert.equal((await t.request('PUT', `${acct}?${V}`, { location: 'local' })).status, 201);
    });
    after(async () => {
      await t?.close();
    });

    const sas = async (permission: string, container = 'shared', expiry = hourFromNow()) => {
      const r = await t.request('POST', `${acct}/listServiceSas?${V}`, {
        canonicalizedResource: `/blob/${name}/${container}`,
        signedResource: 'c',
        signedPermission: permission,
        signedExpiry: expiry,
      });
      assert.equal(r.status, 200, r.text);
      return r.body.serviceSasToken as string;
    };
    const register = (ds: string, token: string, container = 'shared') =>
      t.request('PUT', `${W}/datastores/${ds}?${V}`, {
        properties: {
          datastoreType: 'AzureBlob',
          accountName: name,
          containerName: container,
          credentials: { credentialsType: 'Sas', secrets: { secretsType: 'Sas', sasToken: token } },
        },
      });
    const upload = (ds: string, p: string, body: string) =>
      fetch(`${t.url}${W}/datastores/${ds}/files/${p}?${V}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${t.adminToken}`, 'content-type': 'application/octet-stream' },
        body,
      });

    it('the storage account signs tokens; a datastore with one reads and writes its container; the token is a secret', async () => {
      const token = await sas('rwdl');
      assert.match(token, /(^|&)sr=c(&|$)/);
      const put = await register('sasstore', token);
      assert.equal(put.status, 201, put.text);
      assert.equal(put.body.properties.credentials.credentialsType, 'Sas');
      assert.equal(put.text.includes(token), false);
      assert.equal((await t.request('GET', `${W}/datastores/sasstore?${V}`)).text.includes('sig='), false);
      assert.deepEqual((await t.request('POST', `${W}/datastores/sasstore/listSecrets?${V}`)).body, {
        secretsType: 'Sas',
        sasToken: token,
      });
      assert.equal((await upload('sasstore', 'a/b.txt', 'hello')).status, 201);
      const got = await fetch(`${t.url}${W}/datastores/sasstore/files/a/b.txt?${V}`, {
        headers: { authorization: `Bearer ${t.adminToken}` },
      });
      assert.equal(await got.text(), 'hello');
      const del = await t.request('DELETE', `${W}/datastores/sasstore/files/a/b.txt?${V}`);
      assert.equal(del.status, 200);
    });

    it('permissions, expiry, scope and signature are checked, at registration and on every use', async () => {
      const readOnly = await register('readonly', await sas('rl'));
      assert.equal(readOnly.status, 201, readOnly.text);
      const w = await upload('readonly', 'x.txt', 'x');
      assert.equal(w.status, 403);
      assert.match(((await w.json()) as any).error.message, /does not allow 'write'.*permissions are 'rl'/);
      assert.equal((await t.request('GET', `${W}/datastores/readonly/files?${V}`)).status, 200);

      const refused: [string, number, RegExp][] = [
        [await sas('rl', 'shared', new Date(Date.now() - 1000).toISOString()), 403, /expired/],
        [(await sas('rl')).replace(/sig=[^&]+/, 'sig=AAAA'), 403, /not signed by a current key/],
        [await sas('rl', 'other-container'), 403, /not signed by a current key .* for container 'shared'/],
        ['sv=2019-02-02&sp=r&se=2099-01-01&sr=c&sig=x', 400, /versions 2020-12-06 and later/],
        ['sp=r', 400, /has no 'sv'/],
      ];
      for (const [token, status, message] of refused) {
        const r = await register('refused', token);
        assert.equal(r.status, status, `${token}: ${r.text}`);
        assert.match(r.body.error.message, message);
      }
      assert.equal((await t.request('GET', `${W}/datastores/refused?${V}`)).status, 404);

      // An account SAS for blobs (containers and objects) works too.
      const acc = await t.request('POST', `${acct}/listAccountSas?${V}`, {
        signedServices: 'b',
        signedResourceTypes: 'co',
        signedPermission: 'rwl',
        signedExpiry: hourFromNow(),
      });
      assert.equal(acc.status, 200, acc.text);
      assert.equal((await register('accountsas', acc.body.accountSasToken)).status, 201);
      assert.equal((await upload('accountsas', 'y.txt', 'y')).status, 201);

      // Regenerating the key that signed the tokens revokes them.
      assert.equal((await t.request('POST', `${acct}/regenerateKey?${V}`, { keyName: 'key1' })).status, 200);
      const after = await upload('sasstore', 'z.txt', 'z');
      assert.equal(after.status, 403);
      assert.match(((await after.json()) as any).error.message, /not signed by a current key.*regenerated/);
    });

    it('signing and checking round trip; canonical permissions; other accounts and times refused', () => {
      const key = Buffer.alloc(64, 7).toString('base64');
      const s = serviceSas(
        { account: 'acct', container: 'c1', permissions: 'lr', expiry: '2030-01-01T00:00:00Z' },
        key,
      );
      assert.ok(s.includes('sp=rl'), 'permissions in canonical order');
      assert.deepEqual(
        verifySas(s, { account: 'acct', container: 'c1', keys: [key], need: ['r', 'l'], now: Date.parse('2029-01-01') })
          .permissions,
        'rl',
      );
      assert.throws(
        () => verifySas(s, { account: 'acct', container: 'c1', keys: [key], now: Date.parse('2031-01-01') }),
        /expired/,
      );
      const a = accountSas(
        { account: 'acct', services: 'b', resourceTypes: 'sco', permissions: 'rwdl', expiry: '2030-01-01T00:00:00Z' },
        key,
      );
      assert.ok(
        verifySas(a, { account: 'acct', container: 'any', keys: [key], need: ['w'], now: Date.parse('2029-01-01') }),
      );
      assert.throws(
        () => verifySas(a, { account: 'other', container: 'any', keys: [key], now: Date.parse('2029-01-01') }),
        /not signed/,
      );
    });
  });
}
