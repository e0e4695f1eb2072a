import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestServer, type TestServer } from '../../../server/src/testing/harness.js';
import {
  Workspace,
  TokenAuthentication,
  DETAIL_KEYS,
  ArmClient,
  AuthenticationError,
  ConflictError,
  NotFoundError,
  NotImplementedError,
  ValidationError,
  DEFAULT_CPU_CLUSTER_NAME,
  DEFAULT_GPU_CLUSTER_CONFIGURATION,
  type WorkspaceResource,
} from '../index.js';

// SDK against the real server (SQLite: these tests exercise the SDK, not the store).
describe('Workspace (SDK) against a real server', () => {
  let t: TestServer;
  let auth: TokenAuthentication;
  let conn: { endpoint: string; auth: TokenAuthentication; env: NodeJS.ProcessEnv };
  let tmp: string;
  before(async () => {
    t = await startTestServer('sqlite');
    auth = new TokenAuthentication(t.adminToken);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-sdk-ws-'));
    // An empty environment: nothing from the developer's own profile or variables leaks in.
    conn = { endpoint: t.url, auth, env: { ATELIER_CONFIG_DIR: path.join(tmp, 'profile') } };
  });
  after(async () => {
    await t?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('creates a workspace with its resource group and dependent resources, printing progress', async () => {
    const lines: string[] = [];
    const ws = await Workspace.create({
      ...conn,
      name: 'myworkspace',
      resourceGroup: 'myresourcegroup',
      createResourceGroup: true,
      location: 'eastus2',
      output: (l) => lines.push(l),
      tags: { team: 'a' },
    });
    assert.equal(ws.name, 'myworkspace');
    assert.equal(ws.resourceGroup, 'myresourcegroup');
    assert.equal(ws.subscriptionId, t.subscriptionId);
    assert.equal(ws.location, 'eastus2');
    assert.equal(ws.sku, 'Basic');
    assert.deepEqual(ws.tags, { team: 'a' });
    assert.equal(ws.provisioningState, 'Succeeded');
    assert.ok(
      lines.some((l) => /Created resource group 'myresourcegroup'/.test(l)),
      lines.join('\n'),
    );
    assert.ok(
      lines.some((l) => /is ready/.test(l)),
      lines.join('\n'),
    );
    assert.ok(
      lines.some((l) => /storage account: \/subscriptions\/.+Microsoft\.Storage\/storageAccounts\//.test(l)),
      lines.join('\n'),
    );
  });

  it('getDetails has exactly the seed keys, with the real values', async () => {
    const ws = await Workspace.get('myworkspace', { ...conn, resourceGroup: 'myresourcegroup' });
    const d = await ws.getDetails();
    assert.deepEqual(Object.keys(d).sort(), [...DETAIL_KEYS].sort());
    assert.equal(
      d.id,
      `/subscriptions/${t.subscriptionId}/resourceGroups/myresourcegroup/providers/Microsoft.MachineLearningServices/workspaces/myworkspace`,
    );
    assert.equal(d.type, 'Microsoft.MachineLearningServices/workspaces');
    assert.match(d.workspaceid ?? '', /^[0-9a-f-]{36}$/);
    assert.match(d.storageAccount ?? '', /Microsoft\.Storage\/storageAccounts\//);
    assert.match(d.keyVault ?? '', /Microsoft\.KeyVault\/vaults\//);
    assert.match(d.applicationInsights ?? '', /Microsoft\.Insights\/components\//);
    assert.equal(d.containerRegistry, null, 'the registry is made only when first needed');
    assert.equal(d.hbiWorkspace, false);
    assert.equal(d.sku, 'Basic');
    assert.ok(d.creationTime && !Number.isNaN(Date.parse(d.creationTime)));
    assert.equal(ws.workspaceId, d.workspaceid);
    assert.equal(ws.serviceContext.workspaceName, 'myworkspace');
    assert.equal(ws.serviceContext.endpoint, t.url);
    assert.equal(ws.getMlflowTrackingUri(), `${t.url}/mlflow/v1.0${d.id}`);
  });

  it('refuses to create it again unless existOk, and needs the group when createResourceGroup is false', async () => {
    await assert.rejects(
      Workspace.create({ ...conn, name: 'myworkspace', resourceGroup: 'myresourcegroup', showOutput: false }),
      (e: unknown) => e instanceof ConflictError && e.code === 'WorkspaceAlreadyExists',
    );
    const again = await Workspace.create({
      ...conn,
      name: 'myworkspace',
      resourceGroup: 'myresourcegroup',
      existOk: true,
      showOutput: false,
    });
    assert.equal(again.id, (await Workspace.get('myworkspace', { ...conn, resourceGroup: 'myresourcegroup' })).id);
    await assert.rejects(
      Workspace.create({
        ...conn,
        name: 'other',
        resourceGroup: 'no-such-group',
        createResourceGroup: false,
        showOutput: false,
      }),
      (e: unknown) => e instanceof NotFoundError && e.code === 'ResourceGroupNotFound',
    );
    const groups = await t.request(
      'GET',
      `/subscriptions/${t.subscriptionId}/resourcegroups/no-such-group?api-version=2025-09-01`,
    );
    assert.equal(groups.status, 404, 'nothing was made');
  });

  it('validates input before sending anything', async () => {
    for (const name of ['a', 'x'.repeat(33), '-lead', 'has space', 'ünï', '../up', '']) {
      await assert.rejects(
        Workspace.create({ ...conn, name, resourceGroup: 'myresourcegroup', showOutput: false }),
        ValidationError,
        name,
      );
    }
    await assert.rejects(
      Workspace.create({
        ...conn,
        name: 'okname',
        resourceGroup: 'myresourcegroup',
        storageAccount: 'not-an-arm-id',
        showOutput: false,
      }),
      (e: unknown) => e instanceof ValidationError && e.target === 'storageAccount',
    );
    await assert.rejects(
      Workspace.create({
        ...conn,
        name: 'okname',
        resourceGroup: 'myresourcegroup',
        privateEndpointConfig: {},
        showOutput: false,
      }),
      NotImplementedError,
    );
    const list = await Workspace.list({ ...conn, resourceGroup: 'myresourcegroup' });
    assert.deepEqual([...list.keys()], ['myworkspace']);
  });

  it('reuses existing dependent resources given by ARM id (the seed example without leading /)', async () => {
    const first = await Workspace.get('myworkspace', { ...conn, resourceGroup: 'myresourcegroup' });
    const d = await first.getDetails();
    const ws = await Workspace.create({
      ...conn,
      name: 'shared-deps',
      resourceGroup: 'myresourcegroup',
      createResourceGroup: false,
      friendlyName: 'My workspace',
      storageAccount: d.storageAccount!.slice(1),
      keyVault: d.keyVault!,
      appInsights: d.applicationInsights!,
      showOutput: false,
    });
    const d2 = await ws.getDetails();
    assert.equal(d2.storageAccount?.toLowerCase(), d.storageAccount!.toLowerCase());
    assert.equal(d2.keyVault?.toLowerCase(), d.keyVault!.toLowerCase());
    assert.equal(d2.friendlyName, 'My workspace');
    const missing = d.storageAccount!.replace(/storageAccounts\/.+$/, 'storageAccounts/nosuchaccount');
    await assert.rejects(
      Workspace.create({
        ...conn,
        name: 'bad-deps',
        resourceGroup: 'myresourcegroup',
        storageAccount: missing,
        showOutput: false,
      }),
      (e: unknown) => (e as { status?: number }).status! >= 400 && (e as { status?: number }).status! < 500,
    );
    await assert.rejects(
      Workspace.get('bad-deps', { ...conn, resourceGroup: 'myresourcegroup' }),
      NotFoundError,
      'a failed create leaves nothing',
    );
    // A resource group made for a workspace that could not be made is removed again.
    await assert.rejects(
      Workspace.create({
        ...conn,
        name: 'bad-deps',
        resourceGroup: 'fresh-group',
        storageAccount: missing,
        showOutput: false,
      }),
    );
    assert.equal(
      (await t.request('GET', `/subscriptions/${t.subscriptionId}/resourcegroups/fresh-group?api-version=2025-09-01`))
        .status,
      404,
    );
    await ws.delete();
  });

  it('get searches the subscription without a resource group, and says when the name is ambiguous', async () => {
    const found = await Workspace.get('myworkspace', conn);
    assert.equal(found.resourceGroup, 'myresourcegroup');
    await Workspace.create({
      ...conn,
      name: 'myworkspace',
      resourceGroup: 'second-group',
      location: 'local',
      showOutput: false,
    });
    await assert.rejects(
      Workspace.get('myworkspace', conn),
      (e: unknown) =>
        e instanceof ValidationError && e.code === 'AmbiguousWorkspaceName' && /second-group/.test(e.message),
    );
    await assert.rejects(Workspace.get('nosuchworkspace', conn), NotFoundError);
    await assert.rejects(
      Workspace.get('nosuchworkspace', { ...conn, resourceGroup: 'myresourcegroup' }),
      NotFoundError,
    );
    const byId = await Workspace.get('myworkspace', { ...conn, id: found.workspaceId });
    assert.equal(byId.resourceGroup, 'myresourcegroup');
  });

  it('list returns a Map of name → workspaces, following nextLink', async () => {
    const all = await Workspace.list(t.subscriptionId, { endpoint: conn.endpoint, auth, env: conn.env });
    assert.equal(all.get('myworkspace')?.length, 2);
    const inGroup = await Workspace.list({ ...conn, resourceGroup: 'second-group' });
    assert.deepEqual([...inGroup.keys()], ['myworkspace']);
    // Pages of one: the client follows every nextLink.
    const client = new ArmClient(t.url, auth);
    const names: string[] = [];
    for await (const w of client.list<WorkspaceResource>(
      `/subscriptions/${t.subscriptionId}/providers/Microsoft.MachineLearningServices/workspaces`,
      { query: { $top: '1' } },
    ))
      names.push(w.name);
    assert.deepEqual(names.sort(), ['myworkspace', 'myworkspace']);
  });

  it('update changes friendly name, description and tags; hbiWorkspace stays fixed', async () => {
    const ws = await Workspace.get('myworkspace', { ...conn, resourceGroup: 'second-group' });
    const d = await ws.update({ friendlyName: 'Friendly', description: 'About it', tags: { stage: 'dev' } });
    assert.equal(d.friendlyName, 'Friendly');
    assert.equal(d.description, 'About it');
    assert.deepEqual(d.tags, { stage: 'dev' });
    assert.deepEqual((await ws.getDetails()).tags, { stage: 'dev' });
    await assert.rejects(ws.update({}), ValidationError);
  });

  it('updateDependencies refuses a registry that does not exist', async () => {
    const ws = await Workspace.get('myworkspace', { ...conn, resourceGroup: 'second-group' });
    const reg = `/subscriptions/${t.subscriptionId}/resourceGroups/second-group/providers/Microsoft.ContainerRegistry/registries/nosuchregistry`;
    await assert.rejects(
      ws.updateDependencies({ containerRegistry: reg }),
      (e: unknown) => (e as { status: number }).status >= 400 && (e as { status: number }).status < 500,
    );
    await assert.rejects(ws.updateDependencies({}), ValidationError);
    assert.equal((await ws.getDetails()).containerRegistry, null);
  });

  it('listKeys returns the real keys, and syncKeys completes', async () => {
    const ws = await Workspace.get('myworkspace', { ...conn, resourceGroup: 'second-group' });
    const keys = await ws.listKeys();
    assert.equal(typeof keys.userStorageKey, 'string');
    assert.ok(keys.userStorageKey!.length > 20);
    assert.equal(keys.userStorageResourceId?.toLowerCase(), (await ws.getDetails()).storageAccount?.toLowerCase());
    assert.equal(typeof keys.appInsightsInstrumentationKey, 'string');
    const seen: string[] = [];
    await ws.syncKeys({ onProgress: (p) => seen.push(p.status) });
    assert.equal(seen.at(-1), 'Succeeded');
    assert.equal((await ws.listKeys()).userStorageKey, keys.userStorageKey);
  });

  it('writeConfig then fromConfig finds the same workspace, with the endpoint from the file', async () => {
    const ws = await Workspace.get('myworkspace', { ...conn, resourceGroup: 'second-group' });
    const dir = path.join(tmp, 'project');
    const file = ws.writeConfig({ path: path.join(dir, '.azureml') });
    assert.equal(JSON.parse(fs.readFileSync(file, 'utf8')).endpoint, t.url);
    const deep = path.join(dir, 'src', 'notebooks');
    fs.mkdirSync(deep, { recursive: true });
    // No endpoint option: it comes from the file.
    const loaded = await Workspace.fromConfig({ path: deep, auth, env: conn.env });
    assert.equal(loaded.id, ws.id);
    const setup = await Workspace.setup({ path: deep, auth, env: conn.env });
    assert.equal(setup.id, ws.id);
  });

  it('setup creates the named workspace when there is no config file, and writes one', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-sdk-setup-'));
    try {
      const ws = await Workspace.setup({
        ...conn,
        name: 'set-up',
        resourceGroup: 'setup-group',
        location: 'local',
        path: dir,
        showOutput: false,
      });
      assert.equal(ws.name, 'set-up');
      const again = await Workspace.fromConfig({ path: dir, auth, env: conn.env });
      assert.equal(again.id, ws.id);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('delete removes the workspace (and with deleteDependentResources, its resources)', async () => {
    const ws = await Workspace.get('myworkspace', { ...conn, resourceGroup: 'second-group' });
    const d = await ws.getDetails();
    await ws.delete({ deleteDependentResources: true });
    await assert.rejects(Workspace.get('myworkspace', { ...conn, resourceGroup: 'second-group' }), NotFoundError);
    const storage = await t.request('GET', `${d.storageAccount}?api-version=2025-09-01`);
    assert.equal(storage.status, 404, 'the storage account is gone');
    const kept = await Workspace.get('myworkspace', { ...conn, resourceGroup: 'myresourcegroup' });
    await kept.delete({ noWait: true });
  });

  it('maps server errors to typed errors with code and status', async () => {
    const bad = { endpoint: t.url, auth: new TokenAuthentication('not-a-token'), env: conn.env };
    await assert.rejects(
      Workspace.list(bad),
      (e: unknown) => e instanceof AuthenticationError && e.status === 401 && typeof e.code === 'string',
    );
    let calls = 0;
    const callback = new TokenAuthentication(async () => (++calls === 1 ? 'expired-or-bad' : t.adminToken));
    const ok = await Workspace.list({ endpoint: t.url, auth: callback, env: conn.env });
    assert.ok(ok instanceof Map);
    assert.equal(calls, 2, 'a refused token is asked for again once');
  });

  it('exposes the seed constants', () => {
    assert.equal(Workspace.DEFAULT_CPU_CLUSTER_NAME, 'cpu-cluster');
    assert.equal(DEFAULT_CPU_CLUSTER_NAME, 'cpu-cluster');
    assert.equal(Workspace.DEFAULT_GPU_CLUSTER_NAME, 'gpu-cluster');
    assert.deepEqual(Workspace.DEFAULT_CPU_CLUSTER_CONFIGURATION, {
      vmSize: 'STANDARD_DS2_V2',
      minNodes: 0,
      maxNodes: 2,
      vmPriority: 'dedicated',
    });
    assert.equal(DEFAULT_GPU_CLUSTER_CONFIGURATION.vmSize, 'STANDARD_NC6');
  });
});
