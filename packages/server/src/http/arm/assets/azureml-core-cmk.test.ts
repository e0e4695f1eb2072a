import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freshPostgres, testDialects } from '../../../testing/harness.js';
import { startServer, type RunningServer } from '../../../server.js';
import { prepareTls } from '../../../identity/tls.js';
import { clientCredentialsToken, clientPython as python, httpsJson } from '../../../testing/tls-clients.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const run = promisify(execFile);
const V = 'api-version=2025-09-01';

// The seed's SDK v1 (azureml-core) creating a workspace with a customer-managed key and
// hbi_workspace, over HTTPS, as a user runs it (its own ARM template deployment).
for (const dialect of testDialects()) {
  describe(`azureml-core Workspace.create(cmk_keyvault, resource_cmk_uri, hbi_workspace) (${dialect})`, () => {
    let home: string;
    let server: RunningServer;
    let drop: (() => Promise<void>) | undefined;
    let ca: string;
    let env: Record<string, string>;
    let token: string;

    before(async () => {
      home = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-cmk-core-'));
      let databaseUrl: string | undefined;
      if (dialect === 'postgres') ({ url: databaseUrl, drop } = await freshPostgres());
      const tls = await prepareTls({ home, host: '127.0.0.1', env: {} });
      ca = fs.readFileSync(tls.caFile!, 'utf8');
      server = await startServer(
        {
          home,
          port: 0,
          logLevel: 'silent',
          adminPassword: 'cmk-admin-password',
          tlsCert: tls.tlsCert,
          tlsKey: tls.tlsKey,
          databaseUrl,
        },
        {},
      );
      const ctx = server.ctx;
      const { principal, secret } = await ctx.principals.createServicePrincipal('cmk-core');
      await ctx.access.assign(principal.id, `/subscriptions/${ctx.defaultSubscriptionId}`, 'Contributor', null);
      env = {
        PATH: process.env.PATH ?? '',
        HOME: home,
        ATELIER_URL: server.url,
        AZURE_TENANT_ID: ctx.tenantId,
        AZURE_CLIENT_ID: principal.name,
        AZURE_CLIENT_SECRET: secret.value,
        AZURE_SUBSCRIPTION_ID: ctx.defaultSubscriptionId,
        RESOURCE_GROUP: 'cmk-core',
        AZURE_CONFIG_DIR: path.join(home, 'azure'),
        REQUESTS_CA_BUNDLE: tls.caFile!,
        SSL_CERT_FILE: tls.caFile!,
      };
      token = await clientCredentialsToken(server.url, ctx.tenantId, ca, principal.name, secret.value);
      const group = `${server.url}/subscriptions/${ctx.defaultSubscriptionId}/resourceGroups/cmk-core`;
      assert.equal((await httpsJson('PUT', `${group}?${V}`, ca, token, { location: 'local' })).status, 201);
      const vault = await httpsJson(
        'PUT',
        `${group}/providers/Microsoft.KeyVault/vaults/cmkcore${dialect === 'sqlite' ? 's' : 'p'}?api-version=2023-07-01`,
        ca,
        token,
        { location: 'local' },
      );
      assert.equal(vault.status, 201, JSON.stringify(vault.body));
      const key = await httpsJson(
        'POST',
        `${server.url}${vault.body.id}/keys/core-key/create?api-version=7.4`,
        ca,
        token,
        { kty: 'RSA' },
      );
      assert.equal(key.status, 200, JSON.stringify(key.body));
      env.CMK_VAULT = vault.body.id;
      env.CMK_KID = key.body.key.kid;
    });
    after(async () => {
      await server?.close();
      await drop?.();
      fs.rmSync(home, { recursive: true, force: true });
    });

    it('the workspace is made with its data keys under the customer key, HBI, and shows both', async (tc) => {
      const py = python();
      if (!py) return tc.skip('no Python with azureml-core (set ATELIER_TEST_PYTHON)');
      const { stdout } = await run(py, [path.join(HERE, 'azureml_core_cmk.py')], { env, timeout: 300_000 }).catch(
        (e: { stderr?: string; message: string }) => {
          throw new Error(`${e.message}\n${e.stderr ?? ''}`);
        },
      );
      const out = JSON.parse(stdout.trim().split('\n').pop()!);
      assert.equal(out.create_error, undefined, out.create_error);
      assert.equal(out.create.name, 'cmk-core');
      assert.equal(out.create.provisioningState, 'Succeeded');
      assert.equal(out.create.hbiWorkspace, true);
      const got = await httpsJson(
        'GET',
        `${server.url}/subscriptions/${env.AZURE_SUBSCRIPTION_ID}/resourceGroups/cmk-core/providers/Microsoft.MachineLearningServices/workspaces/cmk-core?${V}`,
        ca,
        token,
      );
      assert.equal(got.body.properties.encryption.status, 'Enabled');
      assert.equal(got.body.properties.encryption.keyVaultProperties.keyIdentifier, env.CMK_KID);
      const ref = `cmk:${env.CMK_KID!.slice(server.url.length).toLowerCase()}`;
      for (const owner of [got.body.id, got.body.properties.keyVault]) {
        const row = await server.ctx.db
          .selectFrom('data_keys')
          .select('wrapped_by')
          .where('owner_key', '=', String(owner).toLowerCase())
          .executeTakeFirst();
        assert.equal(row?.wrapped_by, ref, owner);
      }
      // A key that does not exist: the client's deployment fails with the server's message, and nothing is left.
      assert.match(out.bad_error, /no-such-key/);
      const bad = await httpsJson(
        'GET',
        `${server.url}/subscriptions/${env.AZURE_SUBSCRIPTION_ID}/resourceGroups/cmk-core/providers/Microsoft.MachineLearningServices/workspaces/cmk-core-bad?${V}`,
        ca,
        token,
      );
      assert.equal(bad.status, 404);
    });
  });
}
