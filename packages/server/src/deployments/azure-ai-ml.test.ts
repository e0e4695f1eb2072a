import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { clientDialects } from '../testing/harness.js';
import { startAzureClientServer, type AzureClientServer } from '../testing/azure-client-server.js';
import { clientPython } from '../testing/tls-clients.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const run = promisify(execFile);

/**
 * azure-ai-ml's `online_endpoints.begin_create_or_update`, `online_deployments.begin_create_or_update`,
 * `online_endpoints.invoke`, `get_keys`, `online_deployments.get_logs`, lists and `begin_delete`,
 * as a user runs them (its own process, HTTPS with the server's CA), serving an MLflow model the
 * MLflow client registered. The workers run ATELIER_TEST_PYTHON (ATELIER_SERVING_PYTHON).
 */
const python = clientPython();
const skip = python ? undefined : 'no Python with azure-ai-ml (ATELIER_TEST_PYTHON)';
if (!python && process.env.ATELIER_TEST_STRICT === '1') throw new Error(skip);

for (const dialect of clientDialects('postgres')) {
  describe(`azure-ai-ml online endpoints (${dialect})`, { skip }, () => {
    let c: AzureClientServer;
    let env: Record<string, string>;

    before(async () => {
      c = await startAzureClientServer(dialect, 'aiml', { servingPython: python });
      await c.workspace('aiml-ws');
      env = {
        ...c.env,
        WORKSPACE: 'aiml-ws',
        MLFLOW_DISABLE_TELEMETRY: 'true',
        DO_NOT_TRACK: 'true',
        PYTHONDONTWRITEBYTECODE: '1',
      };
    });
    after(async () => c?.close());

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
