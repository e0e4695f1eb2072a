import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, testDialects, type TestServer } from '../../testing/harness.js';

for (const dialect of testDialects()) {
  describe(`resource groups (${dialect})`, () => {
    let t: TestServer;
    before(async () => {
      t = await startTestServer(dialect);
    });
    after(async () => {
      await t?.close();
    });
    const rg = (name: string) => `/subscriptions/${t.subscriptionId}/resourcegroups/${name}?api-version=2025-09-01`;

    it('answers /health without auth', async () => {
      const r = await t.request('GET', '/health', undefined, { token: null });
      assert.equal(r.status, 200);
      assert.equal(r.body.database, dialect);
    });

    it('refuses requests without a token', async () => {
      const r = await t.request('GET', '/subscriptions?api-version=2025-09-01', undefined, { token: null });
      assert.equal(r.status, 401);
      assert.equal(r.body.error.code, 'AuthenticationFailed');
    });

    it('lists the default subscription', async () => {
      const r = await t.request('GET', '/subscriptions?api-version=2025-09-01');
      assert.equal(r.status, 200);
      assert.deepEqual(
        r.body.value.map((s: { subscriptionId: string }) => s.subscriptionId),
        [t.subscriptionId],
      );
    });

    it('creates, reads, lists, tags and deletes a group', async () => {
      let r = await t.request('PUT', rg('team-a'), { location: 'Local', tags: { env: 'dev' } });
      assert.equal(r.status, 201);
      assert.equal(r.body.location, 'local');
      r = await t.request('PUT', rg('team-a'), { location: 'local', tags: { env: 'prod' } });
      assert.equal(r.status, 200);
      assert.deepEqual(r.body.tags, { env: 'prod' });
      r = await t.request('GET', rg('TEAM-A'));
      assert.equal(r.status, 200);
      assert.equal(r.body.name, 'team-a');
      r = await t.request('PUT', rg('team-a'), { location: 'elsewhere' });
      assert.equal(r.status, 409);
      r = await t.request('GET', `/subscriptions/${t.subscriptionId}/resourcegroups?api-version=2025-09-01`);
      assert.ok(r.body.value.some((g: { name: string }) => g.name === 'team-a'));
      r = await t.request('DELETE', rg('team-a'));
      assert.equal(r.status, 200);
      r = await t.request('GET', rg('team-a'));
      assert.equal(r.status, 404);
      assert.equal(r.body.error.code, 'ResourceGroupNotFound');
      r = await t.request('DELETE', rg('team-a'));
      assert.equal(r.status, 204);
    });

    it('pages lists with nextLink', async () => {
      for (let i = 0; i < 5; i++)
        assert.equal((await t.request('PUT', rg(`page-${i}`), { location: 'local' })).status, 201);
      const seen: string[] = [];
      let next: string | undefined = `/subscriptions/${t.subscriptionId}/resourcegroups?api-version=2025-09-01&$top=2`;
      while (next) {
        const r = await t.request('GET', next);
        assert.equal(r.status, 200);
        assert.ok(r.body.value.length <= 2);
        seen.push(...r.body.value.map((g: { name: string }) => g.name));
        next = r.body.nextLink;
      }
      assert.deepEqual(
        seen.filter((n) => n.startsWith('page-')),
        ['page-0', 'page-1', 'page-2', 'page-3', 'page-4'],
      );
    });

    it('validates names, bodies and api-version without changing anything', async () => {
      const before = (
        await t.request('GET', `/subscriptions/${t.subscriptionId}/resourcegroups?api-version=2025-09-01`)
      ).body.value.length;
      for (const [path, body, code] of [
        [rg('bad name'), { location: 'local' }, 400],
        [rg('x'.repeat(91)), { location: 'local' }, 400],
        [rg('ok-name'), { location: 'local', extra: 1 }, 400],
        [rg('ok-name'), { location: 5 }, 400],
        [rg('ok-name'), '{not json', 400],
        [`/subscriptions/${t.subscriptionId}/resourcegroups/ok-name`, { location: 'local' }, 400],
        [`/subscriptions/${t.subscriptionId}/resourcegroups/ok-name?api-version=yesterday`, { location: 'local' }, 400],
        [`/subscriptions/not-a-guid/resourcegroups/ok-name?api-version=2025-09-01`, { location: 'local' }, 400],
      ] as const) {
        const r = await t.request('PUT', path, body);
        assert.equal(r.status, code, `${path} ${JSON.stringify(body)} → ${r.text}`);
        assert.equal(typeof r.body.error.code, 'string');
        assert.equal(typeof r.body.error.message, 'string');
      }
      const afterCount = (
        await t.request('GET', `/subscriptions/${t.subscriptionId}/resourcegroups?api-version=2025-09-01`)
      ).body.value.length;
      assert.equal(afterCount, before);
    });
  });
}
