import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { decodeJwt } from 'jose';
import { startTestServer, testDialects, ADMIN_PASSWORD, type TestServer } from '../../testing/harness.js';
import { lengthenBlock } from '../../testing/throttle.js';

const b64url = (b: Buffer) => b.toString('base64url');
const pkce = () => {
  const verifier = b64url(crypto.randomBytes(32));
  return { verifier, challenge: b64url(crypto.createHash('sha256').update(verifier).digest()) };
};

for (const dialect of testDialects()) {
  describe(`authorization code + PKCE (${dialect})`, () => {
    let t: TestServer;
    let redirectUri: string;
    before(async () => {
      t = await startTestServer(dialect);
      redirectUri = `${t.url}/studio/callback`;
    });
    after(async () => {
      await t?.close();
    });

    const authorizeUrl = (params: Record<string, string>) =>
      `${t.url}/common/oauth2/v2.0/authorize?${new URLSearchParams(params).toString()}`;
    const goodParams = (challenge: string, extra: Record<string, string> = {}) => ({
      client_id: 'atelier-studio',
      redirect_uri: redirectUri,
      response_type: 'code',
      scope: `${t.url}/.default openid offline_access`,
      state: 'st-123',
      nonce: 'n-456',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      ...extra,
    });

    /** Opens the sign-in form: its cookie and hidden fields, as a browser would keep them. */
    const openForm = async (params: Record<string, string>) => {
      const res = await fetch(authorizeUrl(params), { redirect: 'manual' });
      const text = await res.text();
      assert.equal(res.status, 200, text);
      assert.match(res.headers.get('content-type') ?? '', /text\/html/);
      assert.doesNotMatch(text, /<script/i, 'no script on the page');
      assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'none'/);
      const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
      assert.match(res.headers.get('set-cookie')!, /HttpOnly/);
      assert.match(res.headers.get('set-cookie')!, /SameSite=Strict/);
      const fields: Record<string, string> = {};
      for (const m of text.matchAll(/<input type="hidden" name="([a-z_]+)" value="([^"]*)">/g))
        fields[m[1]!] = m[2]!
          .replace(/&amp;/g, '&')
          .replace(/&quot;/g, '"')
          .replace(/&#39;/g, "'");
      assert.ok(fields.csrf, 'a CSRF field');
      return { cookie, fields, text };
    };

    const submit = (
      form: { cookie?: string; fields: Record<string, string> },
      extra: Record<string, string>,
      headers: Record<string, string> = {},
    ) =>
      fetch(`${t.url}/common/oauth2/v2.0/authorize`, {
        method: 'POST',
        redirect: 'manual',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          ...(form.cookie ? { cookie: form.cookie } : {}),
          ...headers,
        },
        body: new URLSearchParams({ ...form.fields, ...extra }).toString(),
      });

    const signIn = async (challenge: string, params: Record<string, string> = {}) => {
      const form = await openForm(goodParams(challenge, params));
      const res = await submit(form, { username: 'admin', password: ADMIN_PASSWORD, action: 'sign_in' });
      assert.equal(res.status, 302, await res.text());
      return new URL(res.headers.get('location')!);
    };

    const token = async (body: Record<string, string>) => {
      const res = await fetch(`${t.url}/common/oauth2/v2.0/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(body).toString(),
      });
      return { status: res.status, body: (await res.json()) as any };
    };
    const redeem = (code: string, verifier: string, extra: Record<string, string> = {}) =>
      token({
        grant_type: 'authorization_code',
        client_id: 'atelier-studio',
        redirect_uri: redirectUri,
        code,
        code_verifier: verifier,
        ...extra,
      });

    it('discovery advertises the flow with S256 only', async () => {
      const r = await t.request('GET', '/common/v2.0/.well-known/openid-configuration', undefined, { token: null });
      assert.ok(r.body.grant_types_supported.includes('authorization_code'));
      assert.deepEqual(r.body.code_challenge_methods_supported, ['S256']);
      assert.equal(r.body.authorization_endpoint, `${t.url}/common/oauth2/v2.0/authorize`);
    });

    it('the whole flow: form, 302 with code and state, tokens, id token with nonce, refresh', async () => {
      const { verifier, challenge } = pkce();
      const loc = await signIn(challenge);
      assert.equal(`${loc.origin}${loc.pathname}`, redirectUri);
      assert.equal(loc.searchParams.get('state'), 'st-123');
      const code = loc.searchParams.get('code')!;
      assert.ok(code);
      const r = await redeem(code, verifier);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.ok(r.body.access_token && r.body.refresh_token && r.body.id_token);
      const me = await t.request('GET', '/identity/me', undefined, { token: r.body.access_token });
      assert.equal(me.status, 200);
      assert.equal(me.body.name, 'admin');
      const id = decodeJwt(r.body.id_token);
      assert.equal(id.nonce, 'n-456');
      assert.equal(id.aud, 'atelier-studio');
      const access = decodeJwt(r.body.access_token);
      assert.equal(access.appid, 'atelier-studio');
      // Refresh works (silently, as the studio does) and rotates.
      const again = await token({
        grant_type: 'refresh_token',
        client_id: 'atelier-studio',
        refresh_token: r.body.refresh_token,
      });
      assert.equal(again.status, 200, JSON.stringify(again.body));
      assert.notEqual(again.body.refresh_token, r.body.refresh_token);
      const me2 = await t.request('GET', '/identity/me', undefined, { token: again.body.access_token });
      assert.equal(me2.status, 200);
    });

    it('the fragment response mode and the root redirect URI work too', async () => {
      const { challenge } = pkce();
      const form = await openForm(goodParams(challenge, { redirect_uri: `${t.url}/`, response_mode: 'fragment' }));
      const res = await submit(form, { username: 'admin', password: ADMIN_PASSWORD, action: 'sign_in' });
      assert.equal(res.status, 302);
      const loc = res.headers.get('location')!;
      assert.ok(loc.startsWith(`${t.url}/#`), loc);
      const frag = new URLSearchParams(loc.slice(loc.indexOf('#') + 1));
      assert.ok(frag.get('code'));
      assert.equal(frag.get('state'), 'st-123');
    });

    it('a wrong verifier, another redirect_uri or another client do not redeem the code', async () => {
      const { verifier, challenge } = pkce();
      const code = (await signIn(challenge)).searchParams.get('code')!;
      let r = await redeem(code, pkce().verifier);
      assert.equal(r.status, 400);
      assert.equal(r.body.error, 'invalid_grant');
      assert.match(r.body.error_description, /code_verifier/);
      r = await redeem(code, 'short');
      assert.equal(r.status, 400);
      assert.equal(r.body.error, 'invalid_request');
      r = await redeem(code, verifier, { redirect_uri: `${t.url}/` });
      assert.equal(r.body.error, 'invalid_grant');
      r = await redeem(code, verifier, { client_id: 'atelier' });
      assert.equal(r.status, 401);
      assert.equal(r.body.error, 'invalid_client');
      r = await redeem(code, verifier, { client_secret: 'x' });
      assert.equal(r.body.error, 'invalid_client');
      // None of these used the code up.
      r = await redeem(code, verifier);
      assert.equal(r.status, 200, JSON.stringify(r.body));
    });

    it('a code works once: a replay fails and revokes the tokens the first use bought', async () => {
      const { verifier, challenge } = pkce();
      const code = (await signIn(challenge)).searchParams.get('code')!;
      const first = await redeem(code, verifier);
      assert.equal(first.status, 200);
      const replay = await redeem(code, verifier);
      assert.equal(replay.status, 400);
      assert.equal(replay.body.error, 'invalid_grant');
      assert.match(replay.body.error_description, /already used/);
      const refresh = await token({
        grant_type: 'refresh_token',
        client_id: 'atelier-studio',
        refresh_token: first.body.refresh_token,
      });
      assert.equal(refresh.body.error, 'invalid_grant', 'the refresh token of the first use is revoked');
    });

    it('an expired code is refused', async () => {
      const { verifier, challenge } = pkce();
      const code = (await signIn(challenge)).searchParams.get('code')!;
      const hash = crypto.createHash('sha256').update(code).digest('hex');
      // Codes last 60 s: age this one instead of waiting.
      await t.server.ctx.db
        .updateTable('authorization_codes')
        .set({ expires_at: Date.now() - 1 })
        .where('hash', '=', hash)
        .execute();
      const r = await redeem(code, verifier);
      assert.equal(r.status, 400);
      assert.equal(r.body.error, 'invalid_grant');
      assert.match(r.body.error_description, /expired/);
    });

    it('never redirects to an unregistered URI or for an unknown client', async () => {
      const { challenge } = pkce();
      for (const bad of [
        'https://evil.example/callback',
        `${t.url}/studio/callback/../../evil`,
        `${t.url}/studio/callback?x=1`,
        `${t.url}/studio/callbackx`,
        `${t.url.replace('127.0.0.1', 'localhost')}/`,
        `//evil.example/`,
      ]) {
        const res = await fetch(authorizeUrl(goodParams(challenge, { redirect_uri: bad })), { redirect: 'manual' });
        assert.equal(res.status, 400, bad);
        assert.equal(res.headers.get('location'), null, bad);
        assert.match(await res.text(), /not registered/);
      }
      let res = await fetch(authorizeUrl({ ...goodParams(challenge), client_id: 'evil-app' }), { redirect: 'manual' });
      assert.equal(res.status, 400);
      assert.equal(res.headers.get('location'), null);
      const { redirect_uri: _omit, ...noRedirect } = goodParams(challenge);
      res = await fetch(authorizeUrl(noRedirect), { redirect: 'manual' });
      assert.equal(res.status, 400);
      assert.equal(res.headers.get('location'), null);
      // Nor when the form is posted with an unregistered URI substituted.
      const form = await openForm(goodParams(challenge));
      res = await submit(
        { ...form, fields: { ...form.fields, redirect_uri: 'https://evil.example/' } },
        { username: 'admin', password: ADMIN_PASSWORD, action: 'sign_in' },
      );
      assert.equal(res.status, 400);
      assert.equal(res.headers.get('location'), null);
    });

    it('other request errors go back to the client as error= with the state', async () => {
      const { challenge } = pkce();
      const cases: [Record<string, string>, string][] = [
        [{ code_challenge_method: 'plain' }, 'invalid_request'],
        [{ code_challenge: '' }, 'invalid_request'],
        [{ code_challenge: 'short' }, 'invalid_request'],
        [{ response_type: 'token' }, 'unsupported_response_type'],
        [{ scope: 'https://elsewhere.example/.default' }, 'invalid_scope'],
        [{ prompt: 'none' }, 'login_required'],
      ];
      for (const [change, error] of cases) {
        const res = await fetch(authorizeUrl(goodParams(challenge, change)), { redirect: 'manual' });
        assert.equal(res.status, 302, JSON.stringify(change));
        const loc = new URL(res.headers.get('location')!);
        assert.equal(`${loc.origin}${loc.pathname}`, redirectUri);
        assert.equal(loc.searchParams.get('error'), error, JSON.stringify(change));
        assert.equal(loc.searchParams.get('state'), 'st-123');
        assert.equal(loc.searchParams.get('code'), null);
      }
    });

    it('the form is CSRF-safe, cancel is access_denied, wrong passwords are throttled', async () => {
      const { challenge } = pkce();
      const form = await openForm(goodParams(challenge));
      const creds = { username: 'admin', password: ADMIN_PASSWORD, action: 'sign_in' };
      let res = await submit({ fields: form.fields }, creds);
      assert.equal(res.status, 403, 'no cookie');
      assert.equal(res.headers.get('location'), null);
      res = await submit({ ...form, fields: { ...form.fields, csrf: 'forged' } }, creds);
      assert.equal(res.status, 403, 'field does not repeat the cookie');
      res = await submit(form, creds, { origin: 'https://evil.example' });
      assert.equal(res.status, 403, 'another site posted it');
      res = await submit(form, { action: 'cancel' });
      assert.equal(res.status, 302);
      assert.equal(new URL(res.headers.get('location')!).searchParams.get('error'), 'access_denied');

      const u = await t.request('POST', '/identity/users', { name: 'guesser', password: 'right-password-1234' });
      assert.equal(u.status, 201, u.text);
      const statuses: number[] = [];
      for (let i = 0; i < 8; i++) {
        res = await submit(form, { username: 'guesser', password: `wrong-${i}`, action: 'sign_in' });
        statuses.push(res.status);
        assert.equal(res.headers.get('location'), null);
        assert.match(await res.text(), /<form/);
      }
      assert.equal(statuses[0], 401);
      assert.ok(statuses.includes(429), `statuses ${statuses}`);
      // (The block is 1 s from the 6th failure: on a loaded machine the requests below could outlast
      // it, so it is made long enough first.)
      await lengthenBlock(
        t,
        'principal:guesser',
        async (n) =>
          (await submit(form, { username: 'guesser', password: `wrong-more-${n}`, action: 'sign_in' })).status,
      );
      // Right after, even the right password waits (the same throttle as the password grant).
      res = await submit(form, { username: 'guesser', password: 'right-password-1234', action: 'sign_in' });
      assert.equal(res.status, 429);
      const grant = await token({ grant_type: 'password', username: 'guesser', password: 'right-password-1234' });
      assert.equal(grant.status, 429);
    });
  });
}
