import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { startTestServer, testDialects, type TestServer } from '../../testing/harness.js';
import { V, groupPath, rowCounts, userWithRole } from '../../http/arm/arm-test-helpers.js';
import { uniqueString } from './expressions.js';
import { clientPython } from '../../testing/tls-clients.js';

/**
 * The workspace template azure-ai-ml ships, from the Python that has the client packages
 * (ATELIER_TEST_PYTHON, else .ci/.venv); undefined when there is none (ATELIER_TEST_STRICT=1: an error).
 */
function azureAiMlWorkspaceTemplate(): string | undefined {
  const python = clientPython();
  const found =
    python &&
    // find_spec locates the package without running its __init__ (importing azure.ai.ml costs seconds).
    spawnSync(
      python,
      ['-c', 'import importlib.util as u; print(u.find_spec("azure.ai.ml").submodule_search_locations[0])'],
      { encoding: 'utf8' },
    );
  const file =
    found && found.status === 0
      ? path.join(found.stdout.trim(), '_arm_deployments', 'arm_templates', 'workspace_base.json')
      : undefined;
  if (file && fs.existsSync(file)) return file;
  const why = `azure-ai-ml's workspace template was not found (${python ?? 'no ATELIER_TEST_PYTHON'}${found && found.status !== 0 ? `: ${found.stderr.trim().split('\n').pop()}` : ''})`;
  if (process.env.ATELIER_TEST_STRICT === '1') throw new Error(why);
  return undefined;
}

/** A template shaped like the clients' (parameters with defaults and allowedValues, conditions, dependsOn, outputs). */
const TEMPLATE = {
  $schema: 'https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#',
  contentVersion: '1.0.0.0',
  parameters: {
    workspaceName: { type: 'string' },
    location: { type: 'string', defaultValue: '[resourceGroup().location]' },
    storageAccountName: {
      type: 'string',
      defaultValue: "[concat('sa', uniqueString(resourceGroup().name, parameters('workspaceName')))]",
    },
    keyVaultName: {
      type: 'string',
      defaultValue: "[concat('kv', uniqueString(resourceGroup().name, parameters('workspaceName')))]",
    },
    applicationInsightsOption: { type: 'string', defaultValue: 'new', allowedValues: ['new', 'none'] },
    nsgOption: { type: 'string', defaultValue: 'none', allowedValues: ['new', 'none'] },
    confidential_data: { type: 'string', defaultValue: 'false', allowedValues: ['false', 'true'] },
    tagValues: { type: 'object', defaultValue: {} },
  },
  variables: {
    storageAccount: "[resourceId('Microsoft.Storage/storageAccounts', parameters('storageAccountName'))]",
    keyVault: "[resourceId('Microsoft.KeyVault/vaults', parameters('keyVaultName'))]",
    insightsName: "[concat('ai', uniqueString(resourceGroup().name, parameters('workspaceName')))]",
  },
  resources: [
    {
      condition: "[equals(parameters('nsgOption'), 'new')]",
      type: 'Microsoft.Network/networkSecurityGroups',
      apiVersion: '2022-01-01',
      name: 'nsg1',
      location: "[parameters('location')]",
    },
    {
      type: 'Microsoft.MachineLearningServices/workspaces',
      apiVersion: '2023-08-01-preview',
      name: "[parameters('workspaceName')]",
      location: "[parameters('location')]",
      tags: "[parameters('tagValues')]",
      identity: { type: 'systemAssigned' },
      dependsOn: [
        "[variables('storageAccount')]",
        "[variables('keyVault')]",
        "[resourceId('Microsoft.Insights/components', variables('insightsName'))]",
        "[resourceId('Microsoft.Network/networkSecurityGroups', 'nsg1')]",
      ],
      properties: {
        friendlyName: "[parameters('workspaceName')]",
        storageAccount: "[variables('storageAccount')]",
        keyVault: "[variables('keyVault')]",
        applicationInsights:
          "[if(equals(parameters('applicationInsightsOption'), 'none'), json('null'), resourceId('Microsoft.Insights/components', variables('insightsName')))]",
        hbiWorkspace: "[parameters('confidential_data')]",
        systemDatastoresAuthMode: '',
      },
    },
    {
      type: 'Microsoft.Storage/storageAccounts',
      apiVersion: '2023-04-01',
      name: "[parameters('storageAccountName')]",
      location: "[parameters('location')]",
      sku: { name: 'Standard_LRS' },
      kind: 'StorageV2',
      properties: {},
    },
    {
      type: 'Microsoft.KeyVault/vaults',
      apiVersion: '2023-07-01',
      name: "[parameters('keyVaultName')]",
      location: "[parameters('location')]",
      properties: { tenantId: '[subscription().tenantId]', sku: { name: 'standard', family: 'A' }, accessPolicies: [] },
    },
    {
      condition: "[equals(parameters('applicationInsightsOption'), 'new')]",
      type: 'Microsoft.OperationalInsights/workspaces',
      apiVersion: '2020-08-01',
      name: "[concat('la', uniqueString(resourceGroup().name))]",
      location: "[parameters('location')]",
      properties: {},
    },
    {
      condition: "[equals(parameters('applicationInsightsOption'), 'new')]",
      type: 'Microsoft.Insights/components',
      apiVersion: '2020-02-02',
      name: "[variables('insightsName')]",
      location: "[parameters('location')]",
      kind: 'web',
      dependsOn: [
        "[resourceId('Microsoft.OperationalInsights/workspaces', concat('la', uniqueString(resourceGroup().name)))]",
      ],
      properties: { Application_Type: 'web' },
    },
  ],
  outputs: {
    workspaceId: {
      type: 'string',
      value:
        "[reference(resourceId('Microsoft.MachineLearningServices/workspaces', parameters('workspaceName'))).workspaceId]",
    },
    storage: { type: 'string', value: "[variables('storageAccount')]" },
  },
};

async function waitDeployment(t: TestServer, url: string, token?: string): Promise<any> {
  for (let i = 0; i < 600; i++) {
    const r = await t.request('GET', url, undefined, token ? { token } : {});
    assert.equal(r.status, 200, r.text);
    if (r.body.status !== 'Running') return r.body;
    await new Promise((res) => setTimeout(res, 25));
  }
  throw new Error('deployment did not end');
}

for (const dialect of testDialects()) {
  describe(`template deployments (${dialect})`, () => {
    let t: TestServer;
    let g: string;
    const dep = (name: string) => `${g}/providers/Microsoft.Resources/deployments/${name}`;
    before(async () => {
      t = await startTestServer(dialect);
      g = groupPath(t, 'tpl');
      assert.equal((await t.request('PUT', `${g}?${V}`, { location: 'local' })).status, 201);
    });
    after(async () => {
      await t?.close();
    });

    it('deploys a workspace with its storage account, key vault, log analytics record and Application Insights, in dependsOn order', async () => {
      const put = await t.request('PUT', `${dep('d1')}?${V}`, {
        properties: {
          mode: 'Incremental',
          template: TEMPLATE,
          parameters: { workspaceName: { value: 'tplws' }, tagValues: { value: { team: 'a' } } },
        },
      });
      assert.equal(put.status, 201, put.text);
      assert.equal(put.body.properties.provisioningState, 'Accepted');
      assert.equal(put.body.properties.parameters.workspaceName.value, 'tplws');
      const status = await waitDeployment(t, put.headers.get('azure-asyncoperation')!);
      assert.equal(status.status, 'Succeeded', JSON.stringify(status));

      const got = await t.request('GET', `${dep('d1')}?${V}`);
      assert.equal(got.status, 200);
      assert.equal(got.body.properties.provisioningState, 'Succeeded');
      const sa = `sa${uniqueString(['tpl', 'tplws'])}`;
      assert.equal(got.body.properties.outputs.storage.value, `${g}/providers/Microsoft.Storage/storageAccounts/${sa}`);
      assert.match(got.body.properties.outputs.workspaceId.value, /^[0-9a-f-]{36}$/);
      assert.equal(got.body.properties.outputResources.length, 5);

      const ws = await t.request('GET', `${g}/providers/Microsoft.MachineLearningServices/workspaces/tplws?${V}`);
      assert.equal(ws.status, 200);
      assert.equal(ws.body.properties.provisioningState, 'Succeeded');
      assert.equal(
        ws.body.properties.storageAccount.toLowerCase(),
        `${g}/providers/Microsoft.Storage/storageAccounts/${sa}`.toLowerCase(),
      );
      assert.equal(ws.body.properties.hbiWorkspace, false);
      assert.equal(ws.body.properties.workspaceId, got.body.properties.outputs.workspaceId.value);
      assert.deepEqual(ws.body.tags, { team: 'a' });
      const keys = await t.request(
        'POST',
        `${g}/providers/Microsoft.MachineLearningServices/workspaces/tplws/listKeys?${V}`,
      );
      assert.ok(keys.body.userStorageKey);
      assert.ok(keys.body.appInsightsInstrumentationKey);
      assert.equal((await t.request('GET', `${g}/providers/Microsoft.Storage/storageAccounts/${sa}?${V}`)).status, 200);

      const ops = await t.request('GET', `${dep('d1')}/operations?${V}`);
      assert.equal(ops.status, 200);
      const order = ops.body.value.map((o: any) => o.properties.targetResource.resourceType);
      assert.deepEqual(order, [
        'Microsoft.Storage/storageAccounts',
        'Microsoft.KeyVault/vaults',
        'Microsoft.OperationalInsights/workspaces',
        'Microsoft.Insights/components',
        'Microsoft.MachineLearningServices/workspaces',
      ]);
      assert.ok(ops.body.value.every((o: any) => o.properties.provisioningState === 'Succeeded'));

      const list = await t.request('GET', `${g}/providers/Microsoft.Resources/deployments?${V}`);
      assert.deepEqual(
        list.body.value.map((d: any) => d.name),
        ['d1'],
      );

      // Deploying again (Incremental) updates what exists: same workspace, new tags, nothing doubled.
      const again = await t.request('PUT', `${dep('d1')}?${V}`, {
        properties: {
          mode: 'Incremental',
          template: TEMPLATE,
          parameters: { workspaceName: { value: 'tplws' }, tagValues: { value: { team: 'b' } } },
        },
      });
      assert.equal(again.status, 200, again.text);
      assert.equal((await waitDeployment(t, again.headers.get('azure-asyncoperation')!)).status, 'Succeeded');
      const ws2 = await t.request('GET', `${g}/providers/Microsoft.MachineLearningServices/workspaces/tplws?${V}`);
      assert.equal(ws2.body.properties.workspaceId, ws.body.properties.workspaceId);
      assert.deepEqual(ws2.body.tags, { team: 'b' });
      const res = await t.request('GET', `${g}/resources?${V}`);
      assert.equal(res.body.value.filter((r: any) => r.type === 'Microsoft.Storage/storageAccounts').length, 1);
    });

    it('validate: a good template passes; a type the server does not serve names the parameter to change', async () => {
      const ok = await t.request('POST', `${dep('v1')}/validate?${V}`, {
        properties: { mode: 'Incremental', template: TEMPLATE, parameters: { workspaceName: { value: 'val-ws' } } },
      });
      assert.equal(ok.status, 200, ok.text);
      assert.equal(ok.body.properties.validatedResources.length, 5);
      const bad = await t.request('POST', `${dep('v1')}/validate?${V}`, {
        properties: {
          mode: 'Incremental',
          template: TEMPLATE,
          parameters: { workspaceName: { value: 'val-ws' }, nsgOption: { value: 'new' } },
        },
      });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.code, 'InvalidTemplate');
      assert.match(
        bad.body.error.message,
        /'Microsoft.Network\/networkSecurityGroups', which this server does not serve; change the parameter\(s\) its condition uses \(nsgOption\)/,
      );
      const notAllowed = await t.request('PUT', `${dep('v2')}?${V}`, {
        properties: {
          mode: 'Incremental',
          template: TEMPLATE,
          parameters: { workspaceName: { value: 'x1' }, confidential_data: { value: 'maybe' } },
        },
      });
      assert.equal(notAllowed.status, 400);
      assert.match(
        notAllowed.body.error.message,
        /parameter 'confidential_data' is "maybe"; allowed values: "false", "true"/,
      );
      const missing = await t.request('PUT', `${dep('v2')}?${V}`, {
        properties: { mode: 'Incremental', template: TEMPLATE },
      });
      assert.equal(missing.status, 400);
      assert.match(missing.body.error.message, /parameter 'workspaceName' has no value/);
      const nestedBad = await t.request('PUT', `${dep('v2')}?${V}`, {
        properties: {
          mode: 'Incremental',
          template: {
            resources: [
              {
                type: 'Microsoft.Resources/deployments',
                apiVersion: '2019-10-01',
                name: 'inner',
                properties: {
                  mode: 'Incremental',
                  template: {
                    resources: [
                      {
                        type: 'Microsoft.Network/networkSecurityGroups',
                        apiVersion: '2020-01-01',
                        name: 'nsg',
                        location: 'local',
                      },
                    ],
                  },
                },
              },
            ],
          },
        },
      });
      assert.equal(nestedBad.status, 400, nestedBad.text);
      assert.match(
        nestedBad.body.error.message,
        /'Microsoft.Network\/networkSecurityGroups', which this server does not serve; remove it from the template/,
      );
      const complete = await t.request('PUT', `${dep('v2')}?${V}`, {
        properties: { mode: 'Complete', template: TEMPLATE },
      });
      assert.equal(complete.status, 501);
      const link = await t.request('PUT', `${dep('v2')}?${V}`, {
        properties: { mode: 'Incremental', templateLink: { uri: 'https://example.com/t.json' } },
      });
      assert.equal(link.status, 400);
      assert.match(link.body.error.message, /send the template inline/);
      assert.equal((await t.request('GET', `${dep('v2')}?${V}`)).status, 404);
      // Subscription-level deployments are not served as requests of their own.
      const subDep = await t.request(
        'PUT',
        `/subscriptions/${t.subscriptionId}/providers/Microsoft.Resources/deployments/s1?${V}`,
        { properties: { mode: 'Incremental', template: {} } },
      );
      assert.equal(subDep.status, 501);
      assert.match(subDep.body.error.message, /deploy to a resource group/);
      assert.deepEqual(
        (await t.request('GET', `/subscriptions/${t.subscriptionId}/providers/Microsoft.Resources/deployments?${V}`))
          .body,
        { value: [] },
      );
      // The older path without providers/Microsoft.Resources answers the same.
      const legacy = await t.request(
        'GET',
        `/subscriptions/${t.subscriptionId}/resourcegroups/tpl/deployments/d1/operations?${V}`,
      );
      assert.equal(legacy.status, 200, legacy.text);
      assert.equal(legacy.body.value.length, 5);
    });

    it('a failed resource fails the deployment and removes what it had made', async () => {
      const before = await rowCounts(t);
      const template = {
        resources: [
          {
            type: 'Microsoft.Storage/storageAccounts',
            apiVersion: '2023-04-01',
            name: 'rollbacksa01',
            location: 'local',
          },
          {
            type: 'Microsoft.KeyVault/vaults',
            apiVersion: '2023-07-01',
            name: '9-not-a-vault-name',
            location: 'local',
            dependsOn: ['rollbacksa01'],
          },
        ],
      };
      const put = await t.request('PUT', `${dep('fails')}?${V}`, { properties: { mode: 'Incremental', template } });
      assert.equal(put.status, 201, put.text);
      const status = await waitDeployment(t, put.headers.get('azure-asyncoperation')!);
      assert.equal(status.status, 'Failed');
      assert.equal(status.error.code, 'DeploymentFailed');
      assert.match(status.error.message, /key vault name '9-not-a-vault-name' is invalid/);
      assert.match(status.error.message, /rollbacksa01\) was removed/);
      assert.equal(
        (await t.request('GET', `${g}/providers/Microsoft.Storage/storageAccounts/rollbacksa01?${V}`)).status,
        404,
      );
      const got = await t.request('GET', `${dep('fails')}?${V}`);
      assert.equal(got.body.properties.provisioningState, 'Failed');
      assert.equal(got.body.properties.error.details[0].code, 'InvalidResourceName');
      const ops = await t.request('GET', `${dep('fails')}/operations?${V}`);
      assert.deepEqual(
        ops.body.value.map((o: any) => o.properties.provisioningState),
        ['Succeeded', 'Failed'],
      );
      // the failed resource's status and error in ARM's terms (the domain records a kind and a domain code)
      const failed = ops.body.value[1].properties;
      assert.equal(failed.statusCode, '400');
      assert.equal(failed.statusMessage.error.code, 'InvalidResourceName');
      assert.ok(
        !('kind' in failed.statusMessage.error) &&
          !('kind' in got.body.properties.error) &&
          !('kind' in got.body.properties.error.details[0]) &&
          !('kind' in status.error),
      );
      const after = await rowCounts(t);
      // Only the deployment record and its operation remain.
      assert.equal(after.resources, before.resources + 1);
      assert.equal(after.global_names, before.global_names);
      assert.equal(after.resource_keys, before.resource_keys);
    });

    it('a user-assigned managed identity and a role assignment for it (scope, reference().principalId); a failure removes both; deleting the identity removes its principal and roles', async () => {
      const uai = (n: string) => `[resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', '${n}')]`;
      const template = (n: string, role: string) => ({
        resources: [
          {
            type: 'Microsoft.ManagedIdentity/userAssignedIdentities',
            apiVersion: '2018-11-30',
            name: n,
            location: 'local',
          },
          {
            type: 'Microsoft.Authorization/roleAssignments',
            apiVersion: '2022-04-01',
            name: `[guid(${uai(n).slice(1, -1)}, resourceGroup().id)]`,
            scope: '[resourceGroup().id]',
            // a full id of something the template does not deploy is nothing to wait for (as azure-ai-ml's feature-store template has it)
            dependsOn: [
              uai(n),
              "[resourceId('Microsoft.MachineLearningServices/workspaces/connections', 'elsewhere', 'c1')]",
            ],
            properties: {
              roleDefinitionId: `[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '${role}')]`,
              principalId: `[reference(${uai(n).slice(1, -1)}, '2018-11-30').principalId]`,
              principalType: 'ServicePrincipal',
            },
          },
        ],
      });
      const DATA_SCIENTIST = 'f6c7c914-8db3-469d-8ca1-694a8f32e121';
      const put = await t.request('PUT', `${dep('uai')}?${V}`, {
        properties: { mode: 'Incremental', template: template('uai-1', DATA_SCIENTIST) },
      });
      assert.equal(put.status, 201, put.text);
      const done = await waitDeployment(t, put.headers.get('azure-asyncoperation')!);
      assert.equal(done.status, 'Succeeded', JSON.stringify(done));
      const id = `${g}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai-1`;
      const got = await t.request('GET', `${id}?${V}`);
      assert.equal(got.status, 200, got.text);
      const { principalId, clientId, tenantId } = got.body.properties;
      assert.match(principalId, /^[0-9a-f-]{36}$/);
      assert.match(clientId, /^[0-9a-f-]{36}$/);
      assert.equal(tenantId, t.server.ctx.tenantId);
      const ras = await t.request(
        'GET',
        `${g}/providers/Microsoft.Authorization/roleAssignments?${V}&$filter=${encodeURIComponent(`principalId eq '${principalId}'`)}`,
      );
      assert.equal(ras.status, 200, ras.text);
      assert.equal(ras.body.value.length, 1, ras.text);
      assert.match(ras.body.value[0].properties.roleDefinitionId, new RegExp(`${DATA_SCIENTIST}$`));
      assert.equal(ras.body.value[0].properties.scope.toLowerCase(), g.toLowerCase());
      // The identity's principal holds the role (RBAC sees it), and cannot sign in (it has no credential).
      assert.equal(await t.server.ctx.access.can(principalId, `${g}/providers/x/y/z`, 'data/write'), true);
      await assert.rejects(t.server.ctx.principals.checkClientSecret(clientId, ''), {
        code: 'MANAGED_IDENTITY_CREDENTIAL',
      });
      const listed = await t.request('GET', `${g}/providers/Microsoft.ManagedIdentity/userAssignedIdentities?${V}`);
      assert.deepEqual(
        listed.body.value.map((r: any) => r.name),
        ['uai-1'],
      );

      // An unknown role fails the deployment: the identity (and its principal) made before it are removed.
      const before = await rowCounts(t);
      const bad = await t.request('PUT', `${dep('uai-bad')}?${V}`, {
        properties: { mode: 'Incremental', template: template('uai-2', '00000000-0000-0000-0000-000000000001') },
      });
      const failed = await waitDeployment(t, bad.headers.get('azure-asyncoperation')!);
      assert.equal(failed.status, 'Failed');
      assert.match(failed.error.message, /role definition .* does not exist/);
      assert.equal(
        (await t.request('GET', `${g}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai-2?${V}`)).status,
        404,
      );
      const after = await rowCounts(t);
      assert.equal(after.resources, before.resources + 1); // the deployment record only
      assert.equal(after.role_assignments, before.role_assignments);

      // Deleting the identity removes its principal and so its role assignment.
      assert.equal((await t.request('DELETE', `${id}?${V}`)).status, 200);
      assert.equal(await t.server.ctx.principals.get(principalId), undefined);
      assert.equal(await t.server.ctx.access.can(principalId, `${g}/providers/x/y/z`, 'data/write'), false);
      assert.equal((await rowCounts(t)).role_assignments, before.role_assignments - 1);
    });

    it('nested deployments: a subscription-level one makes a resource group, a group-level one (inner scope, parameters) fills it', async () => {
      const template = {
        resources: [
          {
            type: 'Microsoft.Resources/deployments',
            apiVersion: '2019-10-01',
            name: 'MakeGroup',
            subscriptionId: t.subscriptionId,
            location: 'local',
            properties: {
              mode: 'Incremental',
              template: {
                resources: [
                  {
                    type: 'Microsoft.Resources/resourceGroups',
                    apiVersion: '2018-05-01',
                    name: 'DefaultResourceGroup-local',
                    location: 'local',
                    properties: {},
                  },
                ],
              },
            },
          },
          {
            type: 'Microsoft.Resources/deployments',
            apiVersion: '2019-10-01',
            name: 'FillGroup',
            resourceGroup: 'DefaultResourceGroup-local',
            subscriptionId: t.subscriptionId,
            dependsOn: ['MakeGroup'],
            properties: {
              mode: 'Incremental',
              expressionEvaluationOptions: { scope: 'inner' },
              parameters: { laName: { value: "[concat('DefaultWorkspace-', 'local')]" } },
              template: {
                parameters: { laName: { type: 'string' } },
                resources: [
                  {
                    type: 'Microsoft.OperationalInsights/workspaces',
                    apiVersion: '2020-08-01',
                    name: "[parameters('laName')]",
                    location: '[resourceGroup().location]',
                    properties: {},
                  },
                ],
                outputs: { group: { type: 'string', value: '[resourceGroup().name]' } },
              },
            },
          },
        ],
        outputs: { inner: { type: 'string', value: "[reference('FillGroup').outputs.group.value]" } },
      };
      const put = await t.request('PUT', `${dep('nested')}?${V}`, { properties: { mode: 'Incremental', template } });
      assert.equal(put.status, 201, put.text);
      const status = await waitDeployment(t, put.headers.get('azure-asyncoperation')!);
      assert.equal(status.status, 'Succeeded', JSON.stringify(status));
      const got = await t.request('GET', `${dep('nested')}?${V}`);
      assert.equal(got.body.properties.outputs.inner.value, 'DefaultResourceGroup-local');
      assert.equal((await t.request('GET', `${groupPath(t, 'DefaultResourceGroup-local')}?${V}`)).status, 200);
      const res = await t.request('GET', `${groupPath(t, 'DefaultResourceGroup-local')}/resources?${V}`);
      assert.deepEqual(
        res.body.value.map((r: any) => r.name),
        ['DefaultWorkspace-local'],
      );
    });

    it("RBAC: a Reader cannot deploy; a resource outside the caller's rights fails the deployment", async () => {
      const reader = await userWithRole(t, 'tpl-reader', 'Reader', g);
      const r = await t.request(
        'PUT',
        `${dep('r1')}?${V}`,
        { properties: { mode: 'Incremental', template: { resources: [] } } },
        { token: reader.token },
      );
      assert.equal(r.status, 403, r.text);
      assert.equal((await t.request('PUT', `${groupPath(t, 'tpl-other')}?${V}`, { location: 'local' })).status, 201);
      const contributor = await userWithRole(t, 'tpl-contrib', 'Contributor', g);
      const put = await t.request(
        'PUT',
        `${dep('r2')}?${V}`,
        {
          properties: {
            mode: 'Incremental',
            template: {
              resources: [
                {
                  type: 'Microsoft.Storage/storageAccounts',
                  apiVersion: '2023-04-01',
                  name: 'rbacsa001',
                  resourceGroup: 'tpl-other',
                  location: 'local',
                },
              ],
            },
          },
        },
        { token: contributor.token },
      );
      assert.equal(put.status, 201, put.text);
      const status = await waitDeployment(t, put.headers.get('azure-asyncoperation')!, contributor.token);
      assert.equal(status.status, 'Failed');
      assert.match(status.error.message, /resource group 'tpl-other' could not be found/);
      assert.equal(
        (
          await t.request(
            'GET',
            `${groupPath(t, 'tpl-other')}/providers/Microsoft.Storage/storageAccounts/rbacsa001?${V}`,
          )
        ).status,
        404,
      );
    });

    it('a deployment whose process stopped is failed and what its journal says it made is removed (sweeper)', async () => {
      const sa = await t.request('PUT', `${g}/providers/Microsoft.Storage/storageAccounts/orphansa01?${V}`, {
        location: 'local',
      });
      assert.equal(sa.status, 201, sa.text);
      const ctx = t.server.ctx;
      const id = `${g}/providers/Microsoft.Resources/deployments/crashed`;
      const now = Date.now();
      // As a process that stopped mid-deployment leaves it: the deployment Running, its operation
      // failed by another server's sweeper, the journal listing what was made.
      await ctx.db
        .insertInto('resources')
        .values({
          id_key: id.toLowerCase(),
          id,
          name: 'crashed',
          type: 'Microsoft.Resources/deployments',
          type_key: 'microsoft.resources/deployments',
          subscription_id: t.subscriptionId,
          group_key: g.toLowerCase(),
          parent_key: null,
          location: null,
          kind: null,
          tags: '{}',
          sku: null,
          identity: null,
          properties: JSON.stringify({ provisioningState: 'Running', startedAt: now - 60_000 }),
          etag: '"x"',
          created_at: now - 60_000,
          created_by: null,
          updated_at: now - 60_000,
          updated_by: null,
        })
        .execute();
      await ctx.db
        .insertInto('operations')
        .values({
          id: crypto.randomUUID(),
          subscription_id: t.subscriptionId,
          location: 'local',
          kind: 'deployment.create',
          resource_id: id,
          status: 'Failed',
          error: JSON.stringify({ code: 'OperationInterrupted', message: 'stopped' }),
          result: JSON.stringify({ made: [{ kind: 'dependent', id: sa.body.id }] }),
          owner: 'gone',
          created_at: now - 50_000,
          updated_at: now - 30_000,
        })
        .execute();
      let state = '';
      for (let i = 0; i < 200 && state !== 'Failed'; i++) {
        await new Promise((res) => setTimeout(res, 100));
        state = (await t.request('GET', `${id}?${V}`)).body.properties.provisioningState;
      }
      assert.equal(state, 'Failed');
      assert.equal(
        (await t.request('GET', `${g}/providers/Microsoft.Storage/storageAccounts/orphansa01?${V}`)).status,
        404,
      );
    });

    it("azure-ai-ml's own workspace template (from its package) deploys with the parameters the client sends", async (tc) => {
      const file = azureAiMlWorkspaceTemplate();
      if (!file) return tc.skip('azure-ai-ml is not installed (ATELIER_TEST_PYTHON, .ci/.venv)');
      const template = JSON.parse(fs.readFileSync(file, 'utf8'));
      const params = {
        workspaceName: 'aimltpl',
        location: 'local',
        resourceGroupName: 'tpl',
        description: '',
        friendlyName: 'aimltpl',
        kind: 'default',
        tagValues: {},
        keyVaultOption: 'new',
        storageAccountOption: 'new',
        applicationInsightsOption: 'new',
        containerRegistryOption: 'none',
      };
      const put = await t.request('PUT', `${dep('aiml')}?${V}`, {
        properties: {
          mode: 'Incremental',
          template,
          parameters: Object.fromEntries(Object.entries(params).map(([k, v]) => [k, { value: v }])),
        },
      });
      assert.equal(put.status, 201, put.text);
      const status = await waitDeployment(t, put.headers.get('azure-asyncoperation')!);
      assert.equal(status.status, 'Succeeded', JSON.stringify(status));
      const ws = await t.request('GET', `${g}/providers/Microsoft.MachineLearningServices/workspaces/aimltpl?${V}`);
      assert.equal(ws.status, 200);
      assert.equal(
        ws.body.properties.keyVault.toLowerCase(),
        `${g}/providers/Microsoft.KeyVault/vaults/kv${uniqueString(['tpl', 'aimltpl'])}`.toLowerCase(),
      );
    });
  });
}
