import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { migratedPostgres, testDialects } from '../../testing/harness.js';

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'main.ts');

// The real server as a child process logging at `trace`; everything it prints is searched for
// every secret that went through it.
for (const dialect of testDialects()) {
  describe(`secrets never reach the log (${dialect})`, () => {
    it('passwords, client secrets, access/refresh tokens and device codes stay out of the log', async () => {
      const home = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-logs-'));
      const pg = dialect === 'postgres' ? await migratedPostgres() : undefined;
      const adminPassword = 'Admin-Pw-7c1d9e2a';
      const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
        env: {
          PATH: process.env.PATH ?? '',
          TMPDIR: os.tmpdir(),
          HOME: home,
          ATELIER_HOME: home,
          ATELIER_PORT: '0',
          ATELIER_LOG_LEVEL: 'trace',
          ATELIER_ADMIN_PASSWORD: adminPassword,
          ...(pg ? { ATELIER_DATABASE_URL: pg.url } : {}),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let log = '';
      child.stdout.on('data', (d) => (log += d));
      child.stderr.on('data', (d) => (log += d));
      try {
        const url = await new Promise<string>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`server did not start: ${log}`)), 60_000);
          const look = () => {
            const m = /listening on (https?:\/\/\S+)/.exec(log);
            if (m) {
              clearTimeout(timer);
              resolve(m[1]!);
            }
          };
          child.stdout.on('data', look);
          child.on('exit', () => reject(new Error(`server exited: ${log}`)));
        });
        const form = (path: string, body: Record<string, string>, headers: Record<string, string> = {}) =>
          fetch(`${url}${path}`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
            body: new URLSearchParams(body),
          }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));
        const json = (method: string, p: string, token: string, body?: unknown) =>
          fetch(`${url}${p}`, {
            method,
            headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
            body: body ? JSON.stringify(body) : undefined,
          }).then(async (r) => ({ status: r.status, body: (await r.json().catch(() => undefined)) as any }));

        const secrets: string[] = [adminPassword];
        const admin = await form('/common/oauth2/v2.0/token', {
          grant_type: 'password',
          username: 'admin',
          password: adminPassword,
          scope: 'https://management.azure.com/.default offline_access',
        });
        assert.equal(admin.status, 200);
        secrets.push(admin.body.access_token, admin.body.refresh_token);
        const token = admin.body.access_token as string;
        const user = await json('POST', '/identity/users', token, { name: 'logged', password: 'User-Pw-93bd0f1e' });
        assert.equal(user.status, 201);
        secrets.push('User-Pw-93bd0f1e');
        const sp = await json('POST', '/identity/servicePrincipals', token, { displayName: 'logged-sp' });
        secrets.push(sp.body.secret.value);
        const reset = await json('POST', `/identity/servicePrincipals/${sp.body.appId}/secrets`, token, {
          replace: false,
        });
        secrets.push(reset.body.secret.value);
        const cc = await form('/common/oauth2/v2.0/token', {
          grant_type: 'client_credentials',
          client_id: sp.body.appId,
          client_secret: sp.body.secret.value,
          scope: 'https://management.azure.com/.default',
        });
        assert.equal(cc.status, 200);
        secrets.push(cc.body.access_token);
        const basic = await form(
          '/common/oauth2/v2.0/token',
          { grant_type: 'client_credentials', scope: 'https://management.azure.com/.default' },
          { authorization: `Basic ${Buffer.from(`${sp.body.appId}:${reset.body.secret.value}`).toString('base64')}` },
        );
        assert.equal(basic.status, 200);
        const refreshed = await form('/common/oauth2/v2.0/token', {
          grant_type: 'refresh_token',
          refresh_token: admin.body.refresh_token,
        });
        secrets.push(refreshed.body.refresh_token);
        const device = await form('/common/oauth2/v2.0/devicecode', { client_id: 'log-test' });
        secrets.push(device.body.device_code);
        // Failures too: wrong passwords and secrets, through every door.
        await form('/common/oauth2/v2.0/token', {
          grant_type: 'password',
          username: 'admin',
          password: 'Wrong-Pw-55aa11',
        });
        await form('/common/oauth2/v2.0/token', {
          grant_type: 'client_credentials',
          client_id: sp.body.appId,
          client_secret: 'Wrong-Secret-66bb22',
        });
        await fetch(`${url}/identity/me`, {
          headers: { authorization: `Basic ${Buffer.from('logged:Wrong-Basic-77cc33').toString('base64')}` },
        });
        await fetch(`${url}/identity/me`, {
          headers: { authorization: `Basic ${Buffer.from('logged:User-Pw-93bd0f1e').toString('base64')}` },
        });
        await fetch(`${url}/device`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({
            code: device.body.user_code,
            username: 'logged',
            password: 'User-Pw-93bd0f1e',
            action: 'approve',
          }),
        });
        secrets.push('Wrong-Pw-55aa11', 'Wrong-Secret-66bb22', 'Wrong-Basic-77cc33');
        // The list answers do not carry secrets either.
        const lists = JSON.stringify([
          (await json('GET', '/identity/servicePrincipals', token)).body,
          (await json('GET', '/identity/users', token)).body,
        ]);
        for (const s of [sp.body.secret.value, reset.body.secret.value, 'User-Pw-93bd0f1e', adminPassword])
          assert.equal(lists.includes(s), false);

        child.kill('SIGTERM');
        // 'close', not 'exit': the server's last lines may still be in its pipes when it has exited.
        await new Promise((r) => child.once('close', r));
        assert.ok(log.split('\n').length > 20, `the server logged requests at trace level:\n${log.slice(0, 500)}`);
        for (const s of secrets) {
          assert.ok(s && s.length > 8);
          assert.equal(log.includes(s), false, `a secret (${s.slice(0, 6)}…) is in the log`);
        }
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
        await pg?.drop();
        fs.rmSync(home, { recursive: true, force: true });
      }
    });
  });
}
