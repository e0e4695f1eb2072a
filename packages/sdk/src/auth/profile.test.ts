import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestServer, ADMIN_PASSWORD, type TestServer } from '../../../server/src/testing/harness.js';
// The Node defaults (environment, profile) that the @atelier/sdk entry installs; this test imports modules directly.
import '../node-host.js';
import {
  loginWithPassword,
  readProfile,
  writeProfile,
  profilePath,
  ProfileAuthentication,
  deleteProfile,
} from './profile.js';
import { resolveConnection } from '../connection.js';
import { AuthenticationError, ConfigurationError, ConnectionError } from '../errors.js';
import { Workspace } from '../workspace/workspace.js';
import { MANAGEMENT_AUDIENCE } from './authentication.js';

describe('profile sign-in (atelier login plumbing) against a real server', () => {
  let t: TestServer;
  let dir: string;
  before(async () => {
    t = await startTestServer('sqlite');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-sdk-profile-'));
  });
  after(async () => {
    await t?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const env = () => ({ ATELIER_CONFIG_DIR: dir });

  it('a wrong password saves nothing', async () => {
    await assert.rejects(
      loginWithPassword({ endpoint: t.url, username: 'admin', password: 'wrong', configDir: dir }),
      AuthenticationError,
    );
    assert.equal(readProfile(dir), undefined);
  });

  it('no endpoint anywhere is a clear ConfigurationError', () => {
    assert.throws(
      () => resolveConnection({ env: env() }),
      (e: unknown) => e instanceof ConfigurationError && /atelier login/.test(e.message),
    );
  });

  it('login saves a 0600 profile, and the SDK then finds server and token from it', async () => {
    const p = await loginWithPassword({
      endpoint: `${t.url}/`,
      username: 'admin',
      password: ADMIN_PASSWORD,
      configDir: dir,
    });
    assert.equal(p.endpoint, t.url);
    const st = fs.statSync(profilePath(dir));
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal(fs.statSync(dir).mode & 0o077, 0, 'the folder is private');
    const c = resolveConnection({ env: env() });
    assert.equal(c.endpoint, t.url);
    assert.equal(c.endpointSource, 'profile');
    const all = await Workspace.list({ env: env() });
    assert.ok(all instanceof Map);
  });

  it('ATELIER_ENDPOINT and ATELIER_TOKEN come before the profile', async () => {
    const c = resolveConnection({
      env: { ...env(), ATELIER_ENDPOINT: 'http://127.0.0.1:1', ATELIER_TOKEN: t.adminToken },
    });
    assert.equal(c.endpoint, 'http://127.0.0.1:1');
    assert.match(c.auth.description, /ATELIER_TOKEN/);
    await assert.rejects(
      Workspace.list({ env: { ...env(), ATELIER_ENDPOINT: 'http://127.0.0.1:1' } }),
      (e: unknown) => e instanceof AuthenticationError && /signed in to/.test(e.message),
    );
    await assert.rejects(
      Workspace.list({ env: { ATELIER_ENDPOINT: 'http://127.0.0.1:1', ATELIER_TOKEN: 'x' } }),
      ConnectionError,
    );
  });

  it('an expired sign-in is renewed with the refresh token, or needs a new login', async () => {
    const p = readProfile(dir)!;
    writeProfile({ ...p, expiresOn: Date.now() - 1000 }, dir);
    const auth = new ProfileAuthentication(dir);
    if (p.refreshToken) {
      const tok = await auth.getToken({ endpoint: t.url, audience: MANAGEMENT_AUDIENCE });
      assert.ok(tok.expiresOnTimestamp > Date.now());
      const saved = readProfile(dir)!;
      assert.equal(saved.accessToken, tok.token);
      assert.ok(saved.expiresOn > Date.now());
      assert.ok(saved.refreshToken);
      const ok = await Workspace.list({ env: env() });
      assert.ok(ok instanceof Map);
      // A refresh token the server no longer accepts: sign in again.
      writeProfile({ ...saved, expiresOn: Date.now() - 1000, refreshToken: 'not-a-refresh-token' }, dir);
      await assert.rejects(
        auth.getToken({ endpoint: t.url, audience: MANAGEMENT_AUDIENCE }),
        (e: unknown) => e instanceof AuthenticationError && /atelier login/.test(e.message),
      );
    } else {
      await assert.rejects(
        auth.getToken({ endpoint: t.url, audience: MANAGEMENT_AUDIENCE }),
        (e: unknown) =>
          e instanceof AuthenticationError && e.code === 'TokenExpired' && /atelier login/.test(e.message),
      );
    }
  });

  it('concurrent refreshes in one process use the single-use refresh token once', async () => {
    await loginWithPassword({ endpoint: t.url, username: 'admin', password: ADMIN_PASSWORD, configDir: dir });
    const p = readProfile(dir)!;
    assert.ok(p.refreshToken, 'this server issues refresh tokens');
    for (let round = 0; round < 2; round++) {
      writeProfile({ ...readProfile(dir)!, expiresOn: Date.now() - 1000 }, dir);
      const auth = new ProfileAuthentication(dir);
      const tokens = await Promise.all(
        Array.from({ length: 5 }, () => auth.getToken({ endpoint: t.url, audience: MANAGEMENT_AUDIENCE })),
      );
      assert.equal(new Set(tokens.map((x) => x.token)).size, 1);
      // The sign-in is still valid (a replayed refresh token would have revoked it).
      const all = await Promise.all([Workspace.list({ env: env() }), Workspace.list({ env: env() })]);
      assert.ok(all.every((m) => m instanceof Map));
    }
    assert.equal(fs.existsSync(path.join(dir, 'profile.lock')), false, 'the lock is released');
  });

  it('logout removes the profile; then the SDK says to sign in', async () => {
    assert.equal(deleteProfile(dir), true);
    assert.equal(deleteProfile(dir), false);
    await assert.rejects(
      Workspace.list({ endpoint: t.url, env: env() }),
      (e: unknown) => e instanceof AuthenticationError && e.code === 'NotSignedIn',
    );
  });

  it('a damaged profile is a clear error', () => {
    fs.writeFileSync(profilePath(dir), '{oops', { mode: 0o600 });
    assert.throws(
      () => readProfile(dir),
      (e: unknown) => e instanceof ConfigurationError && /logout/.test(e.message),
    );
    fs.rmSync(profilePath(dir));
  });
});
