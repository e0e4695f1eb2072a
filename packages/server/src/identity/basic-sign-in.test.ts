import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startTestServer, testDialects, type TestServer } from '../testing/harness.js';
import { makeWorkspace, type TestWorkspace } from '../http/mlflow/testing.js';
import { PRINCIPAL_CACHE_MS } from './principals.js';
import { lengthenBlock } from '../testing/throttle.js';

const READER = 'acdd72a7-3385-48ef-bd42-f606fba81ae7';
const basic = (name: string, password: string) => ({
  authorization: `Basic ${Buffer.from(`${name}:${password}`).toString('base64')}`,
});

for (const dialect of testDialects()) {
  describe(`Basic sign-in, as MLflow clients send it (${dialect})`, () => {
    let t: TestServer;
    let ws: TestWorkspace;
    let checks = 0;
    before(async () => {
      t = await startTestServer(dialect);
      ws = await makeWorkspace(t);
      // Counts the password checks (scrypt) that Basic requests cause.
      const principals = t.server.ctx.principals;
      const check = principals.checkPassword.bind(principals);
      principals.checkPassword = (name, password) => {
        checks++;
        return check(name, password);
      };
    });
    after(async () => {
      await t?.close();
    });

    const makeUser = async (password: string): Promise<{ id: string; name: string }> => {
      const name = `u${crypto.randomBytes(4).toString('hex')}`;
      const r = await t.request('POST', '/identity/users', { name, password });
      assert.equal(r.status, 201, r.text);
      const a = await t.request(
        'PUT',
        `${ws.armId}/providers/Microsoft.Authorization/roleAssignments/${crypto.randomUUID()}?api-version=2022-04-01`,
        {
          properties: {
            roleDefinitionId: `/subscriptions/${t.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${READER}`,
            principalId: r.body.id,
          },
        },
      );
      assert.equal(a.status, 201, a.text);
      return { id: r.body.id, name };
    };
    const search = (name: string, password: string, url = t.url) =>
      t.request(
        'POST',
        `${ws.api.replace(t.url, url)}/experiments/search`,
        { max_results: 10 },
        { token: null, headers: basic(name, password) },
      );
    const me = (name: string, password: string, url = t.url) =>
      t.request('GET', `${url}/identity/me`, undefined, { token: null, headers: basic(name, password) });

    it('40 simultaneous requests of one user with the right password all answer 200, with one password check; then none', async () => {
      const u = await makeUser('right-password-a');
      checks = 0;
      let statuses = (await Promise.all(Array.from({ length: 40 }, () => search(u.name, 'right-password-a')))).map(
        (r) => r.status,
      );
      assert.deepEqual(statuses, Array(40).fill(200), statuses.join(','));
      assert.equal(checks, 1, 'simultaneous identical sign-ins share one attempt');
      statuses = (await Promise.all(Array.from({ length: 40 }, () => search(u.name, 'right-password-a')))).map(
        (r) => r.status,
      );
      assert.deepEqual(statuses, Array(40).fill(200), statuses.join(','));
      assert.equal(checks, 1, 'a remembered password costs no further check');
      const rows = await t.server.ctx.db
        .selectFrom('sign_in_throttle')
        .selectAll()
        .where('key', '=', `principal:${u.name}`)
        .execute();
      assert.deepEqual(rows, [], 'nothing is left counted against the user');
    });

    it('a disabled user is refused at once, though the password was remembered', async () => {
      const u = await makeUser('right-password-b');
      assert.equal((await me(u.name, 'right-password-b')).status, 200);
      assert.equal((await t.request('PATCH', `/identity/users/${u.id}`, { enabled: false })).status, 200);
      const r = await me(u.name, 'right-password-b');
      assert.equal(r.status, 401, r.text);
      assert.equal((await t.request('PATCH', `/identity/users/${u.id}`, { enabled: true })).status, 200);
      assert.equal((await me(u.name, 'right-password-b')).status, 200);
      assert.equal((await t.request('DELETE', `/identity/users/${u.id}`)).status, 204);
      assert.equal((await me(u.name, 'right-password-b')).status, 401);
    });

    it('a changed or reset password makes the old one fail at once', async () => {
      const u = await makeUser('right-password-c');
      assert.equal((await search(u.name, 'right-password-c')).status, 200);
      // The user changes it (signed in with Basic) ...
      let r = await t.request(
        'POST',
        '/identity/me/password',
        { currentPassword: 'right-password-c', newPassword: 'right-password-d' },
        { token: null, headers: basic(u.name, 'right-password-c') },
      );
      assert.ok(r.status < 300, r.text);
      assert.equal((await search(u.name, 'right-password-c')).status, 401);
      assert.equal((await search(u.name, 'right-password-d')).status, 200);
      // ... and an administrator resets it.
      r = await t.request('PATCH', `/identity/users/${u.id}`, { password: 'right-password-e' });
      assert.equal(r.status, 200, r.text);
      assert.equal((await search(u.name, 'right-password-d')).status, 401);
      assert.equal((await search(u.name, 'right-password-e')).status, 200);
    });

    it('another server process refuses a remembered password within PRINCIPAL_CACHE_MS of its change', async () => {
      const u = await makeUser('right-password-f');
      const b = await startTestServer(dialect, { home: t.home, databaseUrl: t.server.ctx.config.databaseUrl });
      try {
        assert.equal((await me(u.name, 'right-password-f', b.url)).status, 200);
        assert.equal(
          (await t.request('PATCH', `/identity/users/${u.id}`, { password: 'right-password-g' })).status,
          200,
        );
        await new Promise((r) => setTimeout(r, PRINCIPAL_CACHE_MS + 200));
        assert.equal((await me(u.name, 'right-password-f', b.url)).status, 401);
        assert.equal((await me(u.name, 'right-password-g', b.url)).status, 200);
      } finally {
        await b.close({ keepData: true });
      }
    });

    // Last: it blocks this client address for a while.
    it('wrong passwords in parallel are still throttled, and then even the right one is refused', async () => {
      const u = await makeUser('right-password-h');
      const started = Date.now();
      const statuses = (await Promise.all(Array.from({ length: 40 }, (_, i) => search(u.name, `wrong-${i}`)))).map(
        (r) => r.status,
      );
      const checked = statuses.filter((s) => s !== 429);
      const seconds = (Date.now() - started) / 1000;
      const bound = 6 + Math.ceil(Math.log2(seconds + 1));
      assert.ok(
        checked.length <= bound,
        `checked ${checked.length} of 40 in ${seconds} s (at most ${bound}): ${statuses.join(',')}`,
      );
      assert.ok(
        statuses.every((s) => s === 429 || s === 401),
        statuses.join(','),
      );
      // Blocked now: the right password is refused too. The block the burst earned may be nearly over,
      // and on a loaded machine the next request can take a while to be checked: made long enough first.
      const row = await t.server.ctx.db
        .selectFrom('sign_in_throttle')
        .select('failures')
        .where('key', '=', `principal:${u.name}`)
        .executeTakeFirstOrThrow();
      assert.ok(Number(row.failures) >= 6, `failures ${row.failures}`);
      await lengthenBlock(t, `principal:${u.name}`, async (n) => (await search(u.name, `wrong-again-${n}`)).status);
      const r = await search(u.name, 'right-password-h');
      assert.equal(r.status, 429, r.text);
      assert.match(r.text, /too many failed sign-in attempts/);
    });
  });
}
