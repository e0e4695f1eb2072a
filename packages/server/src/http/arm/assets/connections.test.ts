import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, testDialects, type TestServer } from '../../../testing/harness.js';
import { V, createWorkspace, userWithRole, wsPath } from '../arm-test-helpers.js';

for (const dialect of testDialects()) {
  describe(`connections (${dialect})`, () => {
    let t: TestServer;
    let W: string;
    before(async () => {
      t = await startTestServer(dialect);
      await createWorkspace(t, 'conn-rg', 'conn-ws');
      W = wsPath(t, 'conn-rg', 'conn-ws');
    });
    after(async () => t?.close());

    it('v2 shape: secret parts kept in the key vault, only listsecrets returns them', async () => {
      const put = await t.request('PUT', `${W}/connections/feed?${V}`, {
        properties: {
          category: 'PythonFeed',
          target: 'https://pypi.example.com/simple',
          authType: 'UsernamePassword',
          credentials: { username: 'bot', password: 'pa55-word-xyz' },
          metadata: { team: 'a' },
        },
      });
      assert.equal(put.status, 200, put.text);
      assert.deepEqual(put.body.properties.credentials, { username: 'bot' });
      assert.equal(put.text.includes('pa55-word-xyz'), false);
      const got = await t.request('GET', `${W}/connections/feed?${V}`);
      assert.equal(got.text.includes('pa55-word-xyz'), false);
      const list = await t.request('GET', `${W}/connections?${V}`);
      assert.equal(list.text.includes('pa55-word-xyz'), false);
      const secrets = await t.request('POST', `${W}/connections/feed/listsecrets?${V}`);
      assert.equal(secrets.status, 200);
      assert.deepEqual(secrets.body.properties.credentials, { username: 'bot', password: 'pa55-word-xyz' });
      const rows = await t.server.ctx.db.selectFrom('resources').selectAll().execute();
      assert.equal(JSON.stringify(rows).includes('pa55-word-xyz'), false);
      const vault = await t.server.ctx.db.selectFrom('vault_secrets').selectAll().execute();
      assert.equal(JSON.stringify(vault).includes('pa55-word-xyz'), false);

      const reader = await userWithRole(t, `conn-reader-${dialect}`, 'Reader', W);
      assert.equal(
        (await t.request('GET', `${W}/connections/feed?${V}`, undefined, { token: reader.token })).status,
        200,
      );
      assert.equal(
        (await t.request('POST', `${W}/connections/feed/listsecrets?${V}`, undefined, { token: reader.token })).status,
        403,
      );
    });

    it('v1 shape (set_connection value), category/target filters, delete', async () => {
      const put = await t.request('PUT', `${W}/connections/acr?${V}`, {
        properties: {
          category: 'ContainerRegistry',
          target: 'registry.example.com',
          authType: 'PAT',
          value: '{"pat":"tok-123456"}',
        },
      });
      assert.equal(put.status, 200, put.text);
      assert.equal(put.body.properties.value, undefined);
      assert.equal(
        (await t.request('POST', `${W}/connections/acr/listsecrets?${V}`)).body.properties.value,
        '{"pat":"tok-123456"}',
      );
      const byCat = await t.request('GET', `${W}/connections?${V}&category=containerregistry`);
      assert.deepEqual(
        byCat.body.value.map((c: any) => c.name),
        ['acr'],
      );
      const byTarget = await t.request(
        'GET',
        `${W}/connections?${V}&target=${encodeURIComponent('https://pypi.example.com/simple')}`,
      );
      assert.deepEqual(
        byTarget.body.value.map((c: any) => c.name),
        ['feed'],
      );
      assert.equal((await t.request('DELETE', `${W}/connections/acr?${V}`)).status, 200);
      assert.equal((await t.request('GET', `${W}/connections/acr?${V}`)).status, 404);
      const left = await t.server.ctx.db.selectFrom('vault_secrets').select('tags').execute();
      assert.equal(
        left.some((r) => String(r.tags).includes('"acr"')),
        false,
      );
    });

    it('validates connections and changes nothing when refused', async () => {
      for (const body of [
        { properties: { category: 'Git', target: 'https://git.example.com', authType: 'Magic' } },
        { properties: { category: 'Git', target: 'https://git.example.com', authType: 'PAT' } },
        {
          properties: {
            category: 'Git',
            target: 'https://git.example.com',
            authType: 'PAT',
            credentials: { pat: 'x', extra: 'y' },
          },
        },
        { properties: { category: 'Git', authType: 'None' } },
        { properties: { category: 'bad category!', target: 'x', authType: 'None' } },
        { properties: { category: 'Git', target: 'x', authType: 'None', expiryTime: 'tomorrow' } },
      ]) {
        const r = await t.request('PUT', `${W}/connections/bad?${V}`, body);
        assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
      }
      assert.equal((await t.request('GET', `${W}/connections/bad?${V}`)).status, 404);
    });
  });
}
