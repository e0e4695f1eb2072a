import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestServer, ADMIN_PASSWORD, type TestServer } from '../../../server/src/testing/harness.js';
import { ServicePrincipalAuthentication, needsRenewal } from './service-principal.js';
import { InteractiveLoginAuthentication, type DeviceCodePrompt } from './interactive-login.js';
import { loginWithDeviceCode } from './profile.js';
import { readProfile } from './profile.js';
import { MANAGEMENT_AUDIENCE, jwtClaims } from './authentication.js';
import { AuthenticationError } from '../errors.js';

describe('SDK authentication classes against a real server', () => {
  let t: TestServer;
  let sp: { appId: string; secret: { value: string } };
  before(async () => {
    t = await startTestServer('sqlite');
    sp = (await t.request('POST', '/identity/servicePrincipals', { displayName: 'sdk-sp' })).body;
  });
  after(async () => {
    await t?.close();
  });

  const whoAmI = async (token: string) => (await t.request('GET', '/identity/me', undefined, { token })).body;
  /** Approves a device sign-in the way a person does in the browser page. */
  const approve = async (p: DeviceCodePrompt) => {
    const res = await fetch(p.verificationUri, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ code: p.userCode, username: 'admin', password: ADMIN_PASSWORD, action: 'approve' }),
    });
    assert.equal(res.status, 200);
  };

  it('ServicePrincipalAuthentication gets, caches and renews client-credentials tokens', async () => {
    const auth = new ServicePrincipalAuthentication(t.server.ctx.tenantId, sp.appId, sp.secret.value);
    const a = await auth.getToken({ endpoint: t.url, audience: MANAGEMENT_AUDIENCE });
    assert.equal((await whoAmI(a.token)).appId, sp.appId);
    assert.ok(a.expiresOnTimestamp > Date.now());
    const b = await auth.getToken({ endpoint: t.url, audience: MANAGEMENT_AUDIENCE });
    assert.equal(b.token, a.token, 'cached');
    const c = await auth.getToken({ endpoint: t.url, audience: MANAGEMENT_AUDIENCE, forceRefresh: true });
    assert.notEqual(c.token, a.token);
    assert.equal(JSON.stringify(auth).includes(sp.secret.value), false);
    const bad = new ServicePrincipalAuthentication('common', sp.appId, 'wrong-secret');
    await assert.rejects(
      bad.getToken({ endpoint: t.url, audience: MANAGEMENT_AUDIENCE }),
      (e: unknown) => e instanceof AuthenticationError && /client_secret/.test((e as Error).message),
    );
  });

  it('renews before expiry: 5 minutes ahead, or at half-life for short tokens', () => {
    const now = 1_000_000_000;
    assert.equal(needsRenewal({ token: 'x', expiresOnTimestamp: now + 3600_000 }, now, now + 10_000), false);
    assert.equal(needsRenewal({ token: 'x', expiresOnTimestamp: now + 3600_000 }, now, now + 3600_000 - 299_000), true);
    assert.equal(needsRenewal({ token: 'x', expiresOnTimestamp: now + 120_000 }, now, now + 59_000), false);
    assert.equal(needsRenewal({ token: 'x', expiresOnTimestamp: now + 120_000 }, now, now + 61_000), true);
  });

  it('InteractiveLoginAuthentication: one device-code sign-in, then refresh tokens', async () => {
    const prompts: DeviceCodePrompt[] = [];
    const auth = new InteractiveLoginAuthentication({
      onPrompt: (p) => {
        prompts.push(p);
        void approve(p);
      },
    });
    const a = await auth.getToken({ endpoint: t.url, audience: MANAGEMENT_AUDIENCE });
    assert.equal(prompts.length, 1);
    assert.match(prompts[0]!.message, /\/device/);
    assert.equal((await whoAmI(a.token)).name, 'admin');
    const b = await auth.getToken({ endpoint: t.url, audience: MANAGEMENT_AUDIENCE, forceRefresh: true });
    assert.notEqual(b.token, a.token);
    assert.equal(prompts.length, 1, 'renewed with the refresh token, no new prompt');
    assert.equal(jwtClaims(b.token).aud, MANAGEMENT_AUDIENCE);
  });

  it('loginWithDeviceCode saves the profile of whoever approved', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-sdk-device-'));
    try {
      const p = await loginWithDeviceCode({ endpoint: t.url, configDir: dir, onPrompt: (pr) => void approve(pr) });
      assert.equal(p.username, 'admin');
      assert.ok(readProfile(dir)?.refreshToken);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
