import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { clientDialects } from '../../../testing/harness.js';
import { startAzureClientServer, type AzureClientServer } from '../../../testing/azure-client-server.js';
import { clientPython as python, httpsJson } from '../../../testing/tls-clients.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..', '..', '..', '..', '..');
const run = promisify(execFile);
const V = 'api-version=2025-09-01';

// The official Azure clients, each in its own process as a user runs it, against a real server
// over HTTPS (self-signed CA trusted through NODE_EXTRA_CA_CERTS / REQUESTS_CA_BUNDLE), signed in
// as a service principal with Contributor on the subscription (testing/azure-client-server.ts).
for (const dialect of clientDialects('sqlite')) {
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

    it('azure-ai-ml MLClient (custom cloud, azure-identity tokens): workspaces.get, list, begin_create (an ARM template deployment; private with a managed network), feature_stores.begin_create', async (tc) => {
      const py = python();
      if (!py) return tc.skip('no Python with azure-ai-ml (set ATELIER_TEST_PYTHON)');
      await workspace('aiml-ws');
      // A group where the service principal is Owner (feature stores assign roles to their identity).
      const sub = env.AZURE_SUBSCRIPTION_ID;
      const fg = await httpsJson('PUT', `${server.url}/subscriptions/${sub}/resourcegroups/features?${V}`, ca, token, {
        location: 'local',
      });
      assert.equal(fg.status, 201, JSON.stringify(fg.body));
      const sp = await server.ctx.principals.require(env.AZURE_CLIENT_ID!);
      await server.ctx.access.assign(sp.id, `/subscriptions/${sub}/resourceGroups/features`, 'Owner', null);
      const { stdout } = await run(py, [path.join(HERE, 'azure_ai_ml_client.py')], {
        env: { ...env, WORKSPACE: 'aiml-ws', FEATURE_GROUP: 'features' },
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
      // No public access and a managed network of approved outbound rules, read back by the client.
      assert.equal(out.private_error, undefined, out.private_error);
      assert.deepEqual(out.private, {
        name: 'aiml-private',
        public_network_access: 'Disabled',
        isolation_mode: 'allow_only_approved_outbound',
        rules: ['pypi', 'to-store'],
      });
      // Feature stores: as a Contributor the role assignments are refused and nothing stays behind.
      assert.match(out.feature_store_denied, /permission to perform 'access\/write'/);
      assert.equal(out.feature_store_denied_left, false);
      // As Owner: the store, its materialization identity (a principal) and that identity's roles.
      assert.equal(out.feature_store_error, undefined, out.feature_store_error);
      assert.equal(out.feature_store.name, 'aiml-fs');
      assert.equal(out.feature_store.description, 'features');
      assert.deepEqual(out.feature_stores_list, ['aiml-fs']);
      const fgBase = `${server.url}/subscriptions/${sub}/resourceGroups/features/providers`;
      const uais = await httpsJson('GET', `${fgBase}/Microsoft.ManagedIdentity/userAssignedIdentities?${V}`, ca, token);
      assert.equal(uais.body.value.length, 1, JSON.stringify(uais.body));
      const uaiPrincipal = uais.body.value[0].properties.principalId;
      const roles = await httpsJson(
        'GET',
        `${fgBase}/Microsoft.Authorization/roleAssignments?${V}&$filter=${encodeURIComponent(`principalId eq '${uaiPrincipal}'`)}`,
        ca,
        token,
      );
      assert.deepEqual(
        roles.body.value.map((r: any) => r.properties.roleDefinitionId.split('/').pop()).sort(),
        [
          'ba92f5b4-2d11-453d-a403-e96b0029c9fe',
          'ba92f5b4-2d11-453d-a403-e96b0029c9fe',
          'f6c7c914-8db3-469d-8ca1-694a8f32e121',
        ],
        JSON.stringify(roles.body),
      );
      const fsGot = await httpsJson(
        'GET',
        `${fgBase}/Microsoft.MachineLearningServices/workspaces/aiml-fs?${V}`,
        ca,
        token,
      );
      assert.equal(fsGot.body.kind.toLowerCase(), 'featurestore');
      assert.equal(
        fsGot.body.identity.userAssignedIdentities[uais.body.value[0].id]?.principalId,
        uaiPrincipal,
        JSON.stringify(fsGot.body.identity),
      );
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
