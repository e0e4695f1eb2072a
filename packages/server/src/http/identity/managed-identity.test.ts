import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { clientDialects } from '../../testing/harness.js';
import { startAzureClientServer, type AzureClientServer } from '../../testing/azure-client-server.js';
import { clientPython, httpsJson } from '../../testing/tls-clients.js';
import { ROOT } from '../../jobs/testing.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const python = clientPython();
const skip = python ? undefined : 'no Python with azureml-core (ATELIER_TEST_PYTHON)';
const mlflowPython = [
  process.env.ATELIER_TEST_AZUREML_MLFLOW_PYTHON,
  path.join(ROOT, '.ci', '.azureml-mlflow-venv', 'bin', 'python'),
].find((p): p is string => !!p && fs.existsSync(p));
if (!mlflowPython && process.env.ATELIER_TEST_STRICT === '1')
  throw new Error('ATELIER_TEST_AZUREML_MLFLOW_PYTHON is not set: the azureml-mlflow step cannot run (see .ci/run)');

/**
 * The managed identity endpoint (`GET /identity/msi/token`, App Service style): a personal access
 * token or a service principal's `{id}:{secret}` in the `secret` header gives that principal's
 * token for the resource asked; azureml-core's default authentication (`Workspace.from_config()`
 * and `Workspace.setup()` without `auth`) signs in through it.
 */
for (const dialect of clientDialects('sqlite')) {
  describe(`managed identity endpoint (${dialect})`, { skip }, () => {
    let s: AzureClientServer;
    let pat: string;
    let readOnlyPat: string;
    before(async () => {
      s = await startAzureClientServer(dialect, 'msi');
      await s.workspace('msi-ws');
      const { ctx, services } = s.server;
      const user = await ctx.principals.createUser('msi-user', 'msi-user-password-1');
      await ctx.access.assign(user.id, `/subscriptions/${ctx.defaultSubscriptionId}`, 'Contributor', null);
      pat = (await services.identity.personalAccessTokens.create(user, { name: 'msi' })).token;
      readOnlyPat = (await services.identity.personalAccessTokens.create(user, { name: 'ro', readOnly: true })).token;
    });
    after(async () => s?.close());

    const msi = (query: string, headers: Record<string, string>) =>
      new Promise<{ status: number; body: any }>((resolve, reject) => {
        void import('node:https').then(({ request }) => {
          const req = request(`${s.server.url}/identity/msi/token/?${query}`, { ca: s.ca, headers }, (res) => {
            let text = '';
            res.on('data', (c) => (text += c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
          });
          req.on('error', reject);
          req.end();
        });
      });

    it("answers the secret's principal's token, as App Service's endpoint does", async () => {
      const resource = `${s.server.url}/`;
      const q = `resource=${resource}&api-version=2017-09-01`;
      const r = await msi(q, { secret: pat });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.token_type, 'Bearer');
      assert.equal(r.body.resource, resource);
      assert.equal(r.body.client_id, 'msi-user');
      assert.match(r.body.expires_on, /^\d+$/);
      const me = await httpsJson('GET', `${s.server.url}/identity/me`, s.ca, r.body.access_token);
      assert.equal(me.status, 200, JSON.stringify(me.body));
      assert.equal(me.body.name, 'msi-user');
      // A service principal: '{application id}:{secret}'; ARM's audience too.
      const sp = await msi('resource=https://management.azure.com/&api-version=2017-09-01', {
        secret: `${s.env.AZURE_CLIENT_ID}:${s.env.AZURE_CLIENT_SECRET}`,
      });
      assert.equal(sp.status, 200, JSON.stringify(sp.body));
      assert.equal(sp.body.client_id, s.env.AZURE_CLIENT_ID);
      // azure-identity's App Service 2019-08-01 header.
      const v2019 = await msi(`resource=${resource}&api-version=2019-08-01`, { 'x-identity-header': pat });
      assert.equal(v2019.status, 200, JSON.stringify(v2019.body));
    });

    it('refuses a missing or wrong secret, an unknown resource, a read-only token, another clientid', async () => {
      const q = `resource=${s.server.url}/&api-version=2017-09-01`;
      const none = await msi(q, {});
      assert.equal(none.status, 401);
      assert.match(JSON.stringify(none.body), /secret/);
      const wrong = await msi(q, { secret: 'atp_' + 'x'.repeat(43) });
      assert.equal(wrong.status, 401);
      const wrongSp = await msi(q, { secret: `${s.env.AZURE_CLIENT_ID}:not-the-secret` });
      assert.equal(wrongSp.status, 401);
      const shape = await msi(q, { secret: 'just-a-string' });
      assert.equal(shape.status, 401);
      assert.match(JSON.stringify(shape.body), /application id/);
      const resource = await msi('resource=https://example.com/&api-version=2017-09-01', { secret: pat });
      assert.equal(resource.status, 400);
      assert.match(JSON.stringify(resource.body), /not served here/);
      const missing = await msi('api-version=2017-09-01', { secret: pat });
      assert.equal(missing.status, 400);
      assert.match(JSON.stringify(missing.body), /resource/);
      const ro = await msi(q, { secret: readOnlyPat });
      assert.equal(ro.status, 400);
      assert.match(JSON.stringify(ro.body), /read-only/);
      const other = await msi(`${q}&clientid=someone-else`, { secret: pat });
      assert.equal(other.status, 400);
      assert.match(JSON.stringify(other.body), /clientid/);
    });

    it('azureml-core without auth: Workspace.from_config() and Workspace.setup() sign in through it', async () => {
      for (const secret of [pat, `${s.env.AZURE_CLIENT_ID}:${s.env.AZURE_CLIENT_SECRET}`]) {
        const steps = await s.steps(python!, path.join(HERE, 'clients', 'azureml_core_default_auth.py'), {
          WORKSPACE: 'msi-ws',
          APPSETTING_WEBSITE_SITE_NAME: 'atelier',
          MSI_ENDPOINT: `${s.server.url}/identity/msi/token`,
          MSI_SECRET: secret,
        });
        steps.ok('from_config');
        assert.equal(steps.ok('auth type'), 'InteractiveLoginAuthentication');
        assert.equal(steps.ok('ambient auth type'), 'MsiAuthentication');
        assert.equal(steps.ok('get_details'), 'msi-ws');
        assert.ok(steps.ok('datastores').includes('workspaceblobstore'));
        const runId = steps.ok('start_logging');
        assert.equal(steps.ok('setup'), 'msi-ws');
        const metric = await httpsJson(
          'GET',
          `${s.server.url}/mlflow/v1.0${s.workspaceId('msi-ws')}/api/2.0/mlflow/runs/get?run_id=${String(runId).replace(/-/g, '')}`,
          s.ca,
          s.token,
        );
        assert.equal(metric.status, 200, JSON.stringify(metric.body));
        assert.deepEqual(
          metric.body.run.data.metrics.map((m: any) => [m.key, m.value]),
          [['auc', 0.75]],
        );
      }
    });

    it("azureml-mlflow's own azureml:// store with azureml-core's default authentication", async (tc) => {
      if (!mlflowPython) return tc.skip('no Python with azureml-mlflow (set ATELIER_TEST_AZUREML_MLFLOW_PYTHON)');
      const steps = await s.steps(mlflowPython, path.join(HERE, 'clients', 'azureml_mlflow_default_auth.py'), {
        WORKSPACE: 'msi-ws',
        APPSETTING_WEBSITE_SITE_NAME: 'atelier',
        MSI_ENDPOINT: `${s.server.url}/identity/msi/token`,
        MSI_SECRET: pat,
      });
      assert.match(steps.ok('get_mlflow_tracking_uri'), /^azureml:\/\//);
      const [runId, metrics] = steps.ok('azureml-mlflow store');
      assert.deepEqual(metrics, { loss: 0.5 });
      const run = await httpsJson(
        'GET',
        `${s.server.url}/mlflow/v1.0${s.workspaceId('msi-ws')}/api/2.0/mlflow/runs/get?run_id=${runId}`,
        s.ca,
        s.token,
      );
      assert.equal(run.status, 200, JSON.stringify(run.body));
    });
  });
}
