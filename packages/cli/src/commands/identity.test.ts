import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runAtelier, type CliRun } from '../testing.js';
import { startTestServer, ADMIN_PASSWORD, type TestServer } from '../../../server/src/testing/harness.js';

type Run = CliRun;

// `atelier user|sp|role` as child processes against a real server (SQLite).
describe('atelier user, sp and role commands', () => {
  let t: TestServer;
  let home: string;
  before(async () => {
    t = await startTestServer('sqlite');
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-cli-identity-'));
    const r = await atelier(['login', '--endpoint', t.url, '--username', 'admin', '--password-stdin'], {
      input: `${ADMIN_PASSWORD}\n`,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      (
        await t.request('PUT', `/subscriptions/${t.subscriptionId}/resourceGroups/cli-rg?api-version=2025-09-01`, {
          location: 'local',
        })
      ).status,
      201,
    );
  });
  after(async () => {
    await t?.close();
    fs.rmSync(home, { recursive: true, force: true });
  });

  const atelier = (args: string[], opts: { input?: string; env?: Record<string, string> } = {}): Promise<Run> =>
    runAtelier(args, {
      cwd: home,
      env: { HOME: home, ATELIER_CONFIG_DIR: path.join(home, 'config'), ...(opts.env ?? {}) },
      input: opts.input,
    });

  it('user create/list/show/disable/delete', async () => {
    let r = await atelier(['user', 'create', 'erin', '--display-name', 'Erin E', '--password-stdin'], {
      input: 'erin-password-1\n',
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json.name, 'erin');
    assert.equal(r.stdout.includes('erin-password-1'), false);
    r = await atelier(['user', 'create', 'x y', '--password', 'long-enough-1']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /user name 'x y' is invalid/);
    r = await atelier(['user', 'list']);
    assert.deepEqual(r.json.map((u: { name: string }) => u.name).sort(), ['admin', 'erin']);
    r = await atelier(['-o', 'table', 'user', 'list']);
    assert.match(r.stdout, /erin/);
    r = await atelier(['user', 'disable', 'erin']);
    assert.equal(r.json.enabled, false);
    r = await atelier(['user', 'delete', 'erin']);
    assert.equal(r.code, 2, 'asks for --yes without a terminal');
    r = await atelier(['user', 'delete', 'erin', '--yes']);
    assert.equal(r.code, 0, r.stderr);
    r = await atelier(['user', 'show', 'erin']);
    assert.equal(r.code, 1);
  });

  it('sp create shows the secret once; reset-secret replaces it; list shows hints only', async () => {
    let r = await atelier(['sp', 'create', '--display-name', 'trainer', '--expires-in-days', '30']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /shown only now/);
    const { appId, secret, tenantId } = r.json;
    assert.equal(tenantId, t.server.ctx.tenantId);
    const cc = async (s: string) =>
      (
        await fetch(`${t.url}/${tenantId}/oauth2/v2.0/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({
            grant_type: 'client_credentials',
            client_id: appId,
            client_secret: s,
            scope: 'https://management.azure.com/.default',
          }),
        })
      ).status;
    assert.equal(await cc(secret), 200);
    r = await atelier(['sp', 'list']);
    assert.equal(r.stdout.includes(secret), false);
    assert.ok(r.json.some((s: { appId: string }) => s.appId === appId));
    r = await atelier(['sp', 'reset-secret', appId]);
    assert.equal(r.code, 0, r.stderr);
    assert.notEqual(r.json.secret, secret);
    assert.equal(await cc(secret), 401);
    assert.equal(await cc(r.json.secret), 200);
    r = await atelier(['sp', 'create', '--display-name', 'x', '--expires-in-days', '0']);
    assert.equal(r.code, 2);
    r = await atelier(['sp', 'delete', appId, '--yes']);
    assert.equal(r.code, 0, r.stderr);
    // A managed identity's principal: shown as such, and `reset-secret` prints the rule (Azure's).
    const mi = await t.request(
      'PUT',
      `/subscriptions/${t.subscriptionId}/resourceGroups/cli-rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/cli-mi?api-version=2025-09-01`,
      { location: 'local' },
    );
    assert.equal(mi.status, 201, mi.text);
    r = await atelier(['sp', 'show', mi.body.properties.clientId]);
    assert.match(r.json.managedIdentity, /userAssignedIdentities\/cli-mi$/);
    r = await atelier(['sp', 'reset-secret', mi.body.properties.clientId]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /managed identity has no secrets.*managed identity endpoint only/);
  });

  it('role assignment create/list/delete at a resource group', async () => {
    await atelier(['user', 'create', 'frank', '--password', 'frank-password-1']);
    let r = await atelier(['role', 'assignment', 'create', '--assignee', 'frank', '--role', 'reader', '-g', 'cli-rg']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json.role, 'Reader');
    assert.equal(r.json.scope, `/subscriptions/${t.subscriptionId}/resourceGroups/cli-rg`);
    r = await atelier(['role', 'assignment', 'create', '--assignee', 'frank', '--role', 'Wizard', '-g', 'cli-rg']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown role 'Wizard'/);
    r = await atelier(['role', 'assignment', 'list', '--assignee', 'frank']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      r.json.map((a: { role: string; principal: string }) => `${a.role}:${a.principal}`),
      ['Reader:frank'],
    );
    r = await atelier(['role', 'list']);
    assert.ok(r.json.some((d: { role: string }) => d.role === 'AzureML Data Scientist'));
    r = await atelier([
      'role',
      'assignment',
      'delete',
      '--assignee',
      'frank',
      '--role',
      'Reader',
      '-g',
      'cli-rg',
      '--yes',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json.deleted.length, 1);
    r = await atelier(['role', 'assignment', 'list', '--assignee', 'frank']);
    assert.deepEqual(r.json, []);
  });
  it("user set-password: your own with the current one; an Owner sets another user's", async () => {
    let r = await atelier(['user', 'create', 'gwen', '--password-stdin'], { input: 'gwen-password-1\n' });
    assert.equal(r.code, 0, r.stderr);
    const gwen = { ATELIER_CONFIG_DIR: path.join(home, 'gwen-config') };
    const login = (pw: string) =>
      atelier(['login', '--endpoint', t.url, '--username', 'gwen', '--password-stdin'], {
        env: gwen,
        input: `${pw}\n`,
      });
    assert.equal((await login('gwen-password-1')).code, 0);
    r = await atelier(['user', 'set-password', '--current-password', 'not-it-at-all', '--password-stdin'], {
      env: gwen,
      input: 'gwen-password-2\n',
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /: --current-password is wrong/, 'the server field is named by its flag');
    r = await atelier(['user', 'set-password'], { env: gwen });
    assert.equal(r.code, 2, 'no terminal to ask the current password on');
    assert.match(r.stderr, /--current-password is needed/);
    r = await atelier(['user', 'set-password', '--current-password', 'gwen-password-1', '--password-stdin'], {
      env: gwen,
      input: 'gwen-password-2\n',
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json.name, 'gwen');
    assert.equal(r.json.passwordChanged, true);
    assert.equal((await login('gwen-password-1')).code, 1, 'the old password is gone');
    assert.equal((await login('gwen-password-2')).code, 0);
    // Gwen is no Owner: she cannot set someone else's.
    r = await atelier(['user', 'set-password', 'admin', '--password', 'hijacked-password-1'], { env: gwen });
    assert.equal(r.code, 1);
    assert.equal((await atelier(['user', 'list'])).code, 0, 'admin still signs in');
    // The admin (Owner) sets Gwen's without knowing it.
    r = await atelier(['user', 'set-password', 'gwen', '--password-stdin'], { input: 'gwen-password-3\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await login('gwen-password-3')).code, 0);
    r = await atelier(['user', 'set-password', 'gwen', '--current-password', 'x', '--password', 'gwen-password-4']);
    assert.equal(r.code, 2);
    r = await atelier(['user', 'set-password', 'gwen', '--password', 'short']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /at least|characters/);
    assert.equal((await login('gwen-password-3')).code, 0, 'a refused change changes nothing');
  });
});
