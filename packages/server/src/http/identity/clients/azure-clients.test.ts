import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { testDialects } from '../../../testing/harness.js';
import { startAzureClientServer, type AzureClientServer } from '../../../testing/azure-client-server.js';
import { clientPython as python, httpsJson } from '../../../testing/tls-clients.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..', '..', '..', '..', '..');
const run = promisify(execFile);
const V = 'api-version=2025-09-01';

// The official Azure clients, each in its own process as a user runs it, against a real server
// over HTTPS (self-signed CA trusted through NODE_EXTRA_CA_CERTS / REQUESTS_CA_BUNDLE), signed in
// as a service principal with Contributor on the subscription (testing/azure-client-server.ts).
for (const dialect of testDialects()) {
  describe(`official Azure clients over TLS (${dialect})`, () => {
    let c: AzureClientServer;
    let server: AzureClientServer['server'];
    let home: string;
    let ca: string;
    let env: Record<string, string>;
    let token: string;

    before(async () => {
      c = await startAzureClientServer(dialect, 'clients');
      ({ server, home, ca, env, token } = c);
    });
    after(async () => c?.close());

    /** A workspace made through the REST API, with a description the clients read back. */
    const workspace = (name: string) => c.workspace(name, { description: `for ${name}` });

    it('@azure/identity (ClientSecret, UsernamePassword, DeviceCode credentials) + @azure/arm-machinelearning: create, get, list, update, listKeys, delete', async () => {
      const { stdout } = await run(process.execPath, ['--import', 'tsx', path.join(HERE, 'azure-js-client.ts')], {
        env: { ...env, WORKSPACE: 'js-ws', ATELIER_USER: 'admin', ATELIER_PASSWORD: 'clients-admin-password' },
        cwd: ROOT,
        timeout: 180_000,
      });
      const out = JSON.parse(stdout.trim().split('\n').pop()!);
      assert.equal(out.tokenExpires, true);
      assert.equal(out.created.name, 'js-ws');
      assert.equal(out.created.provisioningState, 'Succeeded');
      assert.equal(out.created.friendlyName, 'From the JS SDK');
      assert.match(out.created.workspaceId, /^[0-9a-f-]{36}$/);
      assert.equal(out.got.description, 'made by @azure/arm-machinelearning');
      assert.equal(out.got.mlFlowTrackingUri, `${server.url}/mlflow/v1.0${out.got.id}`);
      assert.deepEqual(out.listed.inGroup, ['js-ws']);
      assert.ok(out.listed.inSub.includes('js-ws'));
      assert.equal(out.updated.description, 'updated by the JS SDK');
      assert.deepEqual(out.updated.tags, { via: 'js', step: 'update' });
      assert.equal(out.keys.hasStorageKey, true);
      assert.equal(out.keys.userStorageResourceId, out.created.storageAccount);
      assert.equal(out.afterDelete, 404);
      // MSAL's public-client flows: username/password, and device code approved in the browser page.
      assert.equal(out.usernamePassword, true);
      assert.equal(out.deviceCode, true);
      assert.match(out.devicePrompt, /\/device/);
    });

    it('azure-ai-ml MLClient (custom cloud, azure-identity tokens): workspaces.get, list, begin_create (an ARM template deployment)', async (tc) => {
      const py = python();
      if (!py) return tc.skip('no Python with azure-ai-ml (set ATELIER_TEST_PYTHON)');
      await workspace('aiml-ws');
      const { stdout } = await run(py, [path.join(HERE, 'azure_ai_ml_client.py')], {
        env: { ...env, WORKSPACE: 'aiml-ws' },
        timeout: 300_000,
      });
      const out = JSON.parse(stdout.trim().split('\n').pop()!);
      assert.equal(out.token, true);
      assert.equal(out.get.name, 'aiml-ws');
      assert.equal(out.get.location, 'local');
      assert.equal(out.get.description, 'for aiml-ws');
      assert.ok(out.list.includes('aiml-ws'));
      // begin_create deploys the client's own ARM template: a real workspace with its dependents.
      assert.equal(out.begin_create_error, undefined, out.begin_create_error);
      assert.equal(out.begin_create.name, 'made-by-ai-ml');
      assert.equal(out.begin_create.description, 'made by azure-ai-ml');
      assert.equal(out.begin_create.tags.via, 'ai-ml'); // the client adds its own createdByToolkit tag
      assert.match(
        out.begin_create.storage_account,
        /\/providers\/Microsoft\.Storage\/storageAccounts\/[a-z0-9]{3,24}$/,
      );
      assert.match(
        out.begin_create.key_vault,
        /\/providers\/Microsoft\.KeyVault\/vaults\/[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]$/,
      );
      assert.match(out.begin_create.application_insights, /\/providers\/Microsoft\.Insights\/components\/[^/]+$/i); // names the client chose
      assert.equal(out.begin_create_get.name, 'made-by-ai-ml');
      assert.equal(out.begin_create_get.location, 'local');
      // …and the server has it: GET over REST, and the deployment that made it.
      const base = `${server.url}/subscriptions/${env.AZURE_SUBSCRIPTION_ID}/resourceGroups/clients/providers`;
      const got = await httpsJson(
        'GET',
        `${base}/Microsoft.MachineLearningServices/workspaces/made-by-ai-ml?${V}`,
        ca,
        token,
      );
      assert.equal(got.status, 200);
      assert.equal(got.body.properties.provisioningState, 'Succeeded');
      assert.equal(got.body.properties.description, 'made by azure-ai-ml');
      assert.equal(got.body.properties.storageAccount, out.begin_create.storage_account);
      const deps = await httpsJson('GET', `${base}/Microsoft.Resources/deployments?${V}`, ca, token);
      assert.ok(
        deps.body.value.some(
          (d: any) =>
            d.properties.provisioningState === 'Succeeded' &&
            d.properties.outputResources.some((r: any) => r.id.toLowerCase() === got.body.id.toLowerCase()),
        ),
        JSON.stringify(deps.body),
      );
    });

    it('azureml-core (the seed SDK) with TokenAuthentication and a custom cloud: get, list, get_details, write_config/from_config, list_keys, Workspace.create', async (tc) => {
      const py = python();
      if (!py) return tc.skip('no Python with azureml-core (set ATELIER_TEST_PYTHON)');
      await workspace('core-ws');
      const work = path.join(home, 'work');
      fs.mkdirSync(work, { recursive: true });
      const { stdout, stderr } = await run(py, [path.join(HERE, 'azureml_core_client.py')], {
        env: { ...env, WORKSPACE: 'core-ws', WORKDIR: work, AZURE_CONFIG_DIR: path.join(home, 'azure') },
        timeout: 300_000,
      }).catch((e: { stdout?: string; stderr?: string; message: string }) => {
        throw new Error(`${e.message}\n${e.stderr ?? ''}`);
      });
      const out = JSON.parse(stdout.trim().split('\n').pop()!);
      assert.equal(out.get.name, 'core-ws', stderr);
      assert.equal(out.details.name, 'core-ws');
      assert.match(out.details.workspaceid, /^[0-9a-f-]{36}$/);
      assert.match(out.details.storageAccount, /Microsoft\.Storage\/storageAccounts\//);
      assert.ok(out.list.includes('core-ws'));
      assert.equal(out.from_config.name, 'core-ws');
      assert.ok(fs.existsSync(path.join(work, '.azureml', 'config.json')));
      assert.ok(out.list_keys.includes('userStorageKey'), JSON.stringify(out.list_keys));
      // Workspace.create deploys azureml-core's template; with no DefaultResourceGroup-local yet it
      // also makes that group and its DefaultWorkspace-local log analytics record (nested deployments).
      assert.equal(out.create_error, undefined, out.create_error);
      assert.equal(out.create.name, 'made-by-core');
      assert.equal(out.create.provisioningState, 'Succeeded');
      assert.match(out.create.workspaceid, /^[0-9a-f-]{36}$/);
      assert.match(out.create.storageAccount, /\/providers\/Microsoft\.Storage\/storageAccounts\//);
      assert.match(out.create.keyVault, /\/providers\/Microsoft\.KeyVault\/vaults\//);
      assert.match(out.create.applicationInsights, /\/providers\/microsoft\.insights\/components\//i);
      assert.deepEqual(out.create_get, { name: 'made-by-core', workspaceid: out.create.workspaceid });
      assert.deepEqual(out.create_second, { name: 'made-by-core-2', provisioningState: 'Succeeded' });
      const base = `${server.url}/subscriptions/${env.AZURE_SUBSCRIPTION_ID}/resourceGroups`;
      const got = await httpsJson(
        'GET',
        `${base}/clients/providers/Microsoft.MachineLearningServices/workspaces/made-by-core?${V}`,
        ca,
        token,
      );
      assert.equal(got.status, 200);
      assert.equal(got.body.properties.workspaceId, out.create.workspaceid);
      const la = await httpsJson('GET', `${base}/DefaultResourceGroup-local/resources?${V}`, ca, token);
      assert.deepEqual(
        la.body.value?.map((r: any) => r.type),
        ['Microsoft.OperationalInsights/workspaces'],
        JSON.stringify(la.body),
      );
    });
  });
}
