import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, testDialects, type TestServer } from '../../testing/harness.js';
import { lengthenBlock } from '../../testing/throttle.js';

const form = (o: Record<string, string>) => new URLSearchParams(o).toString();

for (const dialect of testDialects()) {
  describe(`token service (${dialect})`, () => {
    let t: TestServer;
    let sp: { appId: string; id: string; secret: { value: string; keyId: string } };
    before(async () => {
      t = await startTestServer(dialect);
      const r = await t.request('POST', '/identity/servicePrincipals', { displayName: 'ci-bot' });
      assert.equal(r.status, 201, r.text);
      sp = r.body;
    });
    after(async () => {
      await t?.close();
    });

    const token = async (
      body: Record<string, string>,
      opts: { path?: string; headers?: Record<string, string> } = {},
    ) => {
      const res = await fetch(`${t.url}${opts.path ?? '/common/oauth2/v2.0/token'}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...(opts.headers ?? {}) },
        body: form(body),
      });
      return { status: res.status, headers: res.headers, body: (await res.json()) as any };
    };
    const me = (tok: string) => t.request('GET', '/identity/me', undefined, { token: tok });

    it('publishes OIDC discovery, JWKS and instance discovery', async () => {
      let r = await t.request('GET', `/${t.server.ctx.tenantId}/v2.0/.well-known/openid-configuration`, undefined, {
        token: null,
      });
      assert.equal(r.status, 200);
      assert.equal(r.body.issuer, `${t.url}/${t.server.ctx.tenantId}/v2.0`);
      assert.ok(r.body.grant_types_supported.includes('client_credentials'));
      assert.equal(r.body.device_authorization_endpoint, `${t.url}/${t.server.ctx.tenantId}/oauth2/v2.0/devicecode`);
      r = await t.request('GET', '/common/discovery/v2.0/keys', undefined, { token: null });
      assert.equal(r.body.keys[0].kty, 'EC');
      assert.equal(r.body.keys[0].d, undefined, 'no private part');
      r = await t.request('GET', '/common/discovery/instance?api-version=1.1', undefined, { token: null });
      assert.match(r.body.tenant_discovery_endpoint, /\/common\/v2\.0\/\.well-known\/openid-configuration$/);
      r = await t.request(
        'GET',
        '/00000000-0000-0000-0000-000000000001/v2.0/.well-known/openid-configuration',
        undefined,
        { token: null },
      );
      assert.equal(r.status, 404);
      assert.equal(r.body.error, 'invalid_tenant');
    });

    it('client_credentials: secret in the form or a Basic header; wrong secret is invalid_client', async () => {
      let r = await token({
        grant_type: 'client_credentials',
        client_id: sp.appId,
        client_secret: sp.secret.value,
        scope: 'https://management.azure.com/.default',
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.token_type, 'Bearer');
      assert.equal(r.body.refresh_token, undefined, 'no refresh token for an app');
      const who = await me(r.body.access_token);
      assert.equal(who.status, 200);
      assert.equal(who.body.kind, 'servicePrincipal');
      assert.equal(who.body.appId, sp.appId);
      assert.equal(JSON.stringify(who.body).includes(sp.secret.value), false);
      r = await token(
        { grant_type: 'client_credentials', scope: `${t.url}/.default` },
        { headers: { authorization: `Basic ${Buffer.from(`${sp.appId}:${sp.secret.value}`).toString('base64')}` } },
      );
      assert.equal(r.status, 200);
      r = await token({
        grant_type: 'client_credentials',
        client_id: sp.appId,
        client_secret: 'wrong',
        scope: `${t.url}/.default`,
      });
      assert.equal(r.status, 401);
      assert.equal(r.body.error, 'invalid_client');
      r = await token({
        grant_type: 'client_credentials',
        client_id: sp.appId,
        client_secret: sp.secret.value,
        scope: 'https://evil.example/.default',
      });
      assert.equal(r.status, 400);
      assert.equal(r.body.error, 'invalid_resource');
      r = await token({ grant_type: 'magic' });
      assert.equal(r.body.error, 'unsupported_grant_type');
    });

    it('v1 /oauth2/token with resource=', async () => {
      const r = await token(
        {
          grant_type: 'client_credentials',
          client_id: sp.appId,
          client_secret: sp.secret.value,
          resource: 'https://management.core.windows.net/',
        },
        { path: '/common/oauth2/token' },
      );
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.resource, 'https://management.core.windows.net/');
      assert.equal(typeof r.body.expires_on, 'string');
      assert.equal((await me(r.body.access_token)).status, 200);
    });

    it('password grant gives rotating refresh tokens; a replayed one revokes the sign-in', async () => {
      let r = await token({
        grant_type: 'password',
        username: 'admin',
        password: 'test-admin-password-1',
        scope: `${t.url}/.default openid offline_access`,
        client_id: 'cli',
        client_info: '1',
      });
      assert.equal(r.status, 200);
      assert.ok(r.body.refresh_token);
      assert.ok(r.body.id_token);
      assert.ok(r.body.client_info);
      // An id token is not an access token.
      assert.equal((await me(r.body.id_token)).status, 401);
      const first = r.body.refresh_token as string;
      r = await token({ grant_type: 'refresh_token', refresh_token: first, client_id: 'cli' });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const second = r.body.refresh_token as string;
      assert.notEqual(second, first);
      assert.equal((await me(r.body.access_token)).status, 200);
      r = await token({ grant_type: 'refresh_token', refresh_token: second, client_id: 'another' });
      assert.equal(r.body.error, 'invalid_grant');
      r = await token({ grant_type: 'refresh_token', refresh_token: first, client_id: 'cli' });
      assert.equal(r.status, 400);
      assert.equal(r.body.error, 'invalid_grant');
      assert.match(r.body.error_description, /already used/);
      r = await token({ grant_type: 'refresh_token', refresh_token: second, client_id: 'cli' });
      assert.equal(r.body.error, 'invalid_grant', 'the whole chain was revoked');
    });

    it('device code: pending, slow_down, approved in the browser page, then a token once', async () => {
      let r = await token(
        { client_id: 'atelier-cli', scope: `${t.url}/.default openid offline_access` },
        { path: '/common/oauth2/v2.0/devicecode' },
      );
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const { device_code, user_code, verification_uri, interval } = r.body;
      assert.equal(verification_uri, `${t.url}/device`);
      assert.equal(interval, 5);
      const grant = {
        grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
        device_code,
        client_id: 'atelier-cli',
      };
      r = await token(grant);
      assert.equal(r.body.error, 'authorization_pending');
      r = await token(grant);
      assert.equal(r.body.error, 'slow_down');
      let page = await fetch(`${verification_uri}?code=${user_code}`);
      assert.equal(page.status, 200);
      assert.equal(page.headers.get('x-frame-options'), 'DENY');
      // Before signing in, the page tells nothing of the code: a pending one looks like an unknown one.
      const pendingPage = await page.text();
      assert.doesNotMatch(pendingPage, /atelier-cli|offline_access|unknown|expired/);
      const unknownPage = await (await fetch(`${verification_uri}?code=ZZZZ-ZZZZ`)).text();
      assert.equal(unknownPage.replace('ZZZZ-ZZZZ', user_code), pendingPage);
      page = await fetch(verification_uri, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form({ code: user_code.toLowerCase(), username: 'admin', password: 'nope-nope', action: 'approve' }),
      });
      assert.equal(page.status, 401);
      page = await fetch(verification_uri, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form({ code: user_code, username: 'admin', password: 'test-admin-password-1', action: 'approve' }),
      });
      assert.equal(page.status, 200);
      const approved = await page.text();
      assert.match(approved, /Signed in as <b>admin<\/b>/);
      assert.match(approved, /atelier-cli/, 'once signed in, the page says which program was approved');
      r = await token(grant);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.ok(r.body.refresh_token);
      assert.equal((await me(r.body.access_token)).body.name, 'admin');
      r = await token(grant);
      assert.equal(r.body.error, 'invalid_grant');
      // denied
      r = await token({ client_id: 'x' }, { path: '/common/oauth2/v2.0/devicecode' });
      page = await fetch(verification_uri, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form({ code: r.body.user_code, username: 'admin', password: 'test-admin-password-1', action: 'deny' }),
      });
      assert.equal(page.status, 200);
      r = await token({ grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: r.body.device_code });
      assert.equal(r.body.error, 'access_denied');
    });

    it('refuses forged, expired, wrong-audience and other-tenant tokens (401)', async () => {
      const ctx = t.server.ctx;
      const claims = { oid: (await me(t.adminToken)).body.id, idtyp: 'user' };
      const good = (await ctx.tokens.issue(claims)).token;
      assert.equal((await me(good)).status, 200);
      const [h, p, s] = good.split('.');
      const flipped = `${h}.${p}.${s!.startsWith('A') ? 'B' : 'A'}${s!.slice(1)}`;
      const forgedPayload = Buffer.from(
        JSON.stringify({ ...JSON.parse(Buffer.from(p!, 'base64url').toString()), oid: 'someone-else' }),
      ).toString('base64url');
      const cases: [string, string][] = [
        ['bad signature', flipped],
        ['changed payload', `${h}.${forgedPayload}.${s}`],
        ['expired', (await ctx.tokens.issue(claims, { ttlSeconds: -120 })).token],
        ['wrong audience', (await ctx.tokens.issue(claims, { audience: 'https://evil.example' })).token],
        ['other tenant', (await ctx.tokens.issue({ ...claims, tid: '11111111-2222-3333-4444-555555555555' })).token],
        ['alg none', `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${p}.`],
        ['garbage', 'not-a-jwt'],
      ];
      for (const [what, tok] of cases) {
        const r = await me(tok);
        assert.equal(r.status, 401, what);
        assert.equal(r.body.error.code, 'InvalidAuthenticationToken', what);
      }
    });

    it('rotating the signing key logs nobody out; retiring a key does', async () => {
      const before = t.adminToken;
      let r = await t.request('POST', '/identity/signingKeys/rotate');
      assert.equal(r.status, 200);
      const newKid = r.body.kid;
      assert.equal((await me(before)).status, 200, 'old token still valid');
      const jwks = (await t.request('GET', '/common/discovery/v2.0/keys', undefined, { token: null })).body.keys;
      assert.ok(jwks.length >= 2);
      const fresh = (
        await token({
          grant_type: 'password',
          username: 'admin',
          password: 'test-admin-password-1',
          scope: `${t.url}/.default`,
        })
      ).body.access_token;
      assert.equal(JSON.parse(Buffer.from(fresh.split('.')[0], 'base64url').toString()).kid, newKid);
      // Retiring the new key (as after a leak) ends its tokens; the older key signs again.
      r = await t.request('POST', `/identity/signingKeys/${newKid}/retire`);
      assert.equal(r.status, 200, r.text);
      assert.equal((await me(fresh)).status, 401);
      assert.equal((await me(before)).status, 200);
      r = await t.request('POST', `/identity/signingKeys/${newKid}/retire`);
      assert.equal(r.status, 404);
    });

    it('slows brute force: wrong passwords lead to 429 with Retry-After, for the token endpoint and Basic auth', async () => {
      assert.equal(
        (await t.request('POST', '/identity/users', { name: 'victim', password: 'right-password-1' })).status,
        201,
      );
      const statuses: number[] = [];
      let last: { status: number; headers: Headers; body: any } | undefined;
      for (let i = 0; i < 8; i++) {
        last = await token({
          grant_type: 'password',
          username: 'victim',
          password: `wrong-${i}`,
          scope: `${t.url}/.default`,
        });
        statuses.push(last.status);
      }
      assert.ok(statuses.includes(429), `statuses ${statuses}`);
      assert.ok(Number(last!.headers.get('retry-after')) >= 1);
      // Even the right password is refused while blocked. (The block is 1 s from the 6th failure: on a
      // loaded machine the requests below could outlast it, so it is made long enough first.)
      await lengthenBlock(
        t,
        'principal:victim',
        async (n) =>
          (
            await token({
              grant_type: 'password',
              username: 'victim',
              password: `wrong-more-${n}`,
              scope: `${t.url}/.default`,
            })
          ).status,
      );
      const r = await token({
        grant_type: 'password',
        username: 'victim',
        password: 'right-password-1',
        scope: `${t.url}/.default`,
      });
      assert.equal(r.status, 429);
      const basic = await t.request('GET', '/identity/me', undefined, {
        token: null,
        headers: { authorization: `Basic ${Buffer.from('victim:right-password-1').toString('base64')}` },
      });
      assert.equal(basic.status, 429);
      // Every edge's 429 says when to come back (the block's seconds), not only the token endpoint's.
      assert.ok(Number(basic.headers.get('retry-after')) >= 1, 'ARM edge: Retry-After');
      const mlflow = await t.request(
        'GET',
        '/mlflow/v1.0/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws/api/2.0/mlflow/experiments/search',
        undefined,
        {
          token: null,
          headers: { authorization: `Basic ${Buffer.from('victim:right-password-1').toString('base64')}` },
        },
      );
      assert.equal(mlflow.status, 429);
      assert.equal(mlflow.body?.error_code, 'REQUEST_LIMIT_EXCEEDED');
      assert.ok(Number(mlflow.headers.get('retry-after')) >= 1, 'MLflow edge: Retry-After');
    });

    it('parallel guesses do not get past the throttle: at most a few of 200 simultaneous grants are checked', async () => {
      assert.equal(
        (await t.request('POST', '/identity/users', { name: 'parallel-victim', password: 'right-password-2' })).status,
        201,
      );
      // Also across servers on the same database: half the requests go to a second replica.
      const b = await startTestServer(dialect, { home: t.home, databaseUrl: t.server.ctx.config.databaseUrl });
      try {
        const attempt = (url: string, password: string) =>
          fetch(`${url}/common/oauth2/v2.0/token`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: form({ grant_type: 'password', username: 'parallel-victim', password, scope: `${url}/.default` }),
          }).then((r) => r.status);
        const started = Date.now();
        const statuses = await Promise.all(
          Array.from({ length: 200 }, (_, i) =>
            attempt(i % 2 ? b.url : t.url, i === 199 ? 'right-password-2' : `wrong-${i}`),
          ),
        );
        const checked = statuses.filter((s) => s !== 429);
        // 5 free failures, the 6th attempt (which starts the first 1 s block) is still checked, and
        // then one more each time a block (1 s, 2 s, 4 s …) ends while the 200 are being answered.
        const seconds = (Date.now() - started) / 1000;
        const bound = 6 + Math.ceil(Math.log2(seconds + 1));
        assert.ok(
          checked.length <= bound,
          `checked ${checked.length} of 200 in ${seconds} s (at most ${bound}): ${statuses.join(',')}`,
        );
        assert.ok(
          statuses.every((s) => s === 429 || s === 400 || s === 200),
          statuses.join(','),
        );
        assert.equal(statuses.length, 200);
      } finally {
        await b.close({ keepData: true });
      }
    });
  });
}
