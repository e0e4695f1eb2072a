import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, testDialects, type TestServer } from '../../testing/harness.js';
import { trackingClient, type TrackingClient } from '../mlflow/tracking-helpers.js';

for (const dialect of testDialects()) {
  describe(`personal access tokens (${dialect})`, () => {
    let t: TestServer;
    let c: TrackingClient;
    before(async () => {
      t = await startTestServer(dialect);
      c = await trackingClient(t);
    });
    after(async () => t?.close());

    const mlflow = (auth: string, path = '/experiments/search?max_results=5', method = 'GET', body?: unknown) =>
      t.request(method, `${c.ws.api}${path}`, body, { token: null, headers: { authorization: auth } });

    it('create (secret once), use as Bearer and as MLflow Basic password, list without secrets, revoke at once', async () => {
      const made = await t.request('POST', '/identity/me/tokens', { name: 'ci job', expiresInDays: 7 });
      assert.equal(made.status, 201, made.text);
      const secret: string = made.body.token;
      assert.match(secret, /^atp_/);
      assert.equal(made.body.readOnly, false);
      let r = await t.request('GET', '/identity/me', undefined, { token: secret });
      assert.equal(r.status, 200);
      assert.equal(r.body.name, 'admin');
      assert.equal((await mlflow(`Bearer ${secret}`)).status, 200);
      const basic = `Basic ${Buffer.from(`admin:${secret}`).toString('base64')}`;
      assert.equal((await mlflow(basic)).status, 200);
      assert.equal((await mlflow(`Basic ${Buffer.from(`other:${secret}`).toString('base64')}`)).status, 401);
      const list = await t.request('GET', '/identity/me/tokens');
      assert.equal(list.status, 200);
      assert.equal(list.text.includes(secret), false, 'no secret in the list');
      assert.equal(list.body.value[0].hint, secret.slice(-4));
      // A token cannot make tokens.
      r = await t.request('POST', '/identity/me/tokens', { name: 'x' }, { token: secret });
      assert.equal(r.status, 403);
      r = await t.request('DELETE', `/identity/me/tokens/${made.body.id}`);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.revoked, true);
      assert.equal((await mlflow(`Bearer ${secret}`)).status, 401);
      assert.equal((await mlflow(basic)).status, 401);
    });

    it('read-only and workspace limits hold; bad input is 400; a disabled user’s tokens stop', async () => {
      for (const bad of [{ name: '' }, { name: 'x', expiresInDays: 0 }, { name: 'x', expiresInDays: 366 }]) {
        const r = await t.request('POST', '/identity/me/tokens', bad);
        assert.equal(r.status, 400, JSON.stringify(bad));
      }
      const ro = await t.request('POST', '/identity/me/tokens', { name: 'reader', readOnly: true });
      assert.equal(ro.status, 201);
      assert.equal((await mlflow(`Bearer ${ro.body.token}`)).status, 200);
      const w = await mlflow(`Bearer ${ro.body.token}`, '/experiments/create', 'POST', { name: 'nope' });
      assert.equal(w.status, 403);
      const wsId = /(\/subscriptions\/.*\/workspaces\/[^/]+)/.exec(c.ws.api)![1]!;
      const scoped = await t.request('POST', '/identity/me/tokens', { name: 'one ws', workspace: wsId });
      assert.equal(scoped.status, 201, scoped.text);
      assert.equal((await mlflow(`Bearer ${scoped.body.token}`)).status, 200);
      const elsewhere = await t.request(
        'GET',
        `/subscriptions/${t.subscriptionId}/resourcegroups?api-version=2021-04-01`,
        undefined,
        {
          token: scoped.body.token,
        },
      );
      assert.equal(elsewhere.status, 403);

      const u = await t.request('POST', '/identity/users', { name: 'pat-user', password: 'pat-user-password-1' });
      assert.equal(u.status, 201);
      const login = await fetch(`${t.url}/common/oauth2/v2.0/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'password', username: 'pat-user', password: 'pat-user-password-1' }),
      });
      const tok = ((await login.json()) as { access_token: string }).access_token;
      const mine = await t.request('POST', '/identity/me/tokens', { name: 'mine' }, { token: tok });
      assert.equal(mine.status, 201);
      assert.equal((await t.request('GET', '/identity/me', undefined, { token: mine.body.token })).status, 200);
      assert.equal((await t.request('PATCH', `/identity/users/${u.body.id}`, { enabled: false })).status, 200);
      assert.equal((await t.request('GET', '/identity/me', undefined, { token: mine.body.token })).status, 401);
    });
  });
}
