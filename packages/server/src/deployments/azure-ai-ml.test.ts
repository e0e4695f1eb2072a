import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freshPostgres, testDialects } from '../testing/harness.js';
import { startServer, type RunningServer } from '../server.js';
import { prepareTls } from '../identity/tls.js';
import { clientCredentialsToken, clientPython, httpsJson } from '../testing/tls-clients.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const run = promisify(execFile);
const V = 'api-version=2025-09-01';

/**
 * azure-ai-ml's `online_endpoints.begin_create_or_update`, `online_deployments.begin_create_or_update`,
 * `online_endpoints.invoke`, `get_keys`, `online_deployments.get_logs`, lists and `begin_delete`,
 * as a user runs them (its own process, HTTPS with the server's CA), serving an MLflow model the
 * MLflow client registered. The workers run ATELIER_TEST_PYTHON (ATELIER_SERVING_PYTHON).
 */
const python = clientPython();
const skip = python ? undefined : 'no Python with azure-ai-ml (ATELIER_TEST_PYTHON)';
if (!python && process.env.ATELIER_TEST_STRICT === '1') throw new Error(skip);

for (const dialect of testDialects()) {
  describe(`azure-ai-ml online endpoints (${dialect})`, { skip }, () => {
    let home: string;
    let server: RunningServer;
    let drop: (() => Promise<void>) | undefined;
    let env: Record<string, string>;

    before(async () => {
      home = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-aiml-deploy-'));
      let databaseUrl: string | undefined;
      if (dialect === 'postgres') ({ url: databaseUrl, drop } = await freshPostgres());
      const tls = await prepareTls({ home, host: '127.0.0.1', env: {} });
      const ca = fs.readFileSync(tls.caFile!, 'utf8');
      server = await startServer({
        home,
        port: 0,
        logLevel: 'silent',
        adminPassword: 'aiml-admin-password',
        tlsCert: tls.tlsCert,
        tlsKey: tls.tlsKey,
        databaseUrl,
        servingPython: python,
      });
      const ctx = server.ctx;
      const { principal, secret } = await ctx.principals.createServicePrincipal('aiml-deployer');
      await ctx.access.assign(principal.id, `/subscriptions/${ctx.defaultSubscriptionId}`, 'Contributor', null);
      env = {
        PATH: process.env.PATH ?? '',
        HOME: home,
        ATELIER_URL: server.url,
        AZURE_TENANT_ID: ctx.tenantId,
        AZURE_CLIENT_ID: principal.name,
        AZURE_CLIENT_SECRET: secret.value,
        AZURE_SUBSCRIPTION_ID: ctx.defaultSubscriptionId,
        RESOURCE_GROUP: 'aiml',
        WORKSPACE: 'aiml-ws',
        REQUESTS_CA_BUNDLE: tls.caFile!,
        SSL_CERT_FILE: tls.caFile!,
        MLFLOW_DISABLE_TELEMETRY: 'true',
        DO_NOT_TRACK: 'true',
        PYTHONDONTWRITEBYTECODE: '1',
      };
      const token = await clientCredentialsToken(server.url, ctx.tenantId, ca, principal.name, secret.value);
      const base = `${server.url}/subscriptions/${ctx.defaultSubscriptionId}/resourceGroups/aiml`;
      const rg = await httpsJson('PUT', `${base}?${V}`, ca, token, { location: 'local' });
      assert.ok(rg.status < 300, JSON.stringify(rg.body));
      const put = await httpsJson(
        'PUT',
        `${base}/providers/Microsoft.MachineLearningServices/workspaces/aiml-ws?${V}`,
        ca,
        token,
        { location: 'local' },
      );
      assert.equal(put.status, 201, JSON.stringify(put.body));
      for (let i = 0; i < 400; i++) {
        const op = await httpsJson('GET', String(put.headers['azure-asyncoperation']), ca, token);
        if ((op.body as { status: string }).status !== 'InProgress') break;
        await new Promise((r) => setTimeout(r, 50));
      }
    });
    after(async () => {
      await server?.close();
      await drop?.();
      if (home) fs.rmSync(home, { recursive: true, force: true });
    });

    it('creates an endpoint and a deployment, sets traffic, invokes, reads logs and deletes', async () => {
      let stdout: string;
      try {
        ({ stdout } = await run(python!, [path.join(HERE, 'azure_ai_ml_deploy.py')], {
          env,
          timeout: 300_000,
          maxBuffer: 16 * 1024 * 1024,
        }));
      } catch (e) {
        const err = e as { stderr?: string; stdout?: string };
        assert.fail(`azure_ai_ml_deploy.py failed:\n${(err.stderr ?? '').slice(-4000)}\n${err.stdout ?? ''}`);
      }
      const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
      assert.ok(line, `no RESULT line in:\n${stdout}`);
      const out = JSON.parse(line.slice('RESULT '.length));
      assert.equal(out.endpoint.name, 'aiml-ep');
      assert.equal(out.endpoint.auth_mode, 'key');
      assert.match(out.endpoint.scoring_uri, /\/endpoints\/[0-9a-f-]{36}\/aiml-ep\/score$/);
      assert.equal(out.deployment.state, 'Succeeded');
      assert.equal(out.deployment.instance_count, 1);
      assert.deepEqual(out.traffic, { blue: 100 });
      assert.deepEqual(out.invoke, { predictions: [3, 6] });
      assert.deepEqual(out.invoke_blue, { predictions: [3, 6] });
      assert.equal(out.keys, true);
      assert.match(out.logs, /listening on 127\.0\.0\.1/);
      assert.deepEqual(out.deployments, ['blue']);
      assert.deepEqual(out.endpoints, ['aiml-ep']);
      assert.deepEqual(out.deleted, []);
    });
  });
}
