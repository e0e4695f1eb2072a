import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startTestServer, ADMIN_PASSWORD, type TestServer } from '../packages/server/src/testing/harness.js';
import { Workspace, TokenAuthentication, type WorkspaceDetails } from '@atelier/sdk';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const TSX = import.meta.resolve('tsx');

// Each of the seed's examples, run as a user would (`tsx examples/<name>.ts`) against a real server.
describe('the seed examples, in TypeScript', () => {
  let t: TestServer;
  let cwd: string;
  let env: Record<string, string>;
  let first: WorkspaceDetails;
  before(async () => {
    t = await startTestServer('sqlite');
    cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-examples-'));
    env = { PATH: process.env.PATH ?? '', HOME: cwd, ATELIER_CONFIG_DIR: path.join(cwd, 'profile'), ATELIER_ENDPOINT: t.url, ATELIER_TOKEN: t.adminToken };
  });
  after(async () => {
    await t?.close();
    fs.rmSync(cwd, { recursive: true, force: true });
  });

  function run(example: string, args: string[] = [], extra: Record<string, string> = {}, where = cwd): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--conditions=atelier-source', '--import', TSX, path.join(HERE, example), ...args], { cwd: where, env: { ...env, ...extra }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  }
  const sdk = () => ({ endpoint: t.url, auth: new TokenAuthentication(t.adminToken), env: {} });

  it('create-workspace.ts: makes the group, the workspace and its resources, showing progress', async () => {
    const r = await run('create-workspace.ts');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Created resource group 'myresourcegroup'/);
    assert.match(r.stdout, /created \/subscriptions\/.+\/workspaces\/myworkspace/);
    first = await (await Workspace.get('myworkspace', { ...sdk(), resourceGroup: 'myresourcegroup' })).getDetails();
    assert.equal(first.location, 'eastus2');
  });

  it('get-workspace.ts: loads it without a config file', async () => {
    const r = await run('get-workspace.ts');
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.name, 'myworkspace');
    assert.equal(out.subscriptionId, t.subscriptionId);
    assert.equal(out.sku, 'Basic');
  });

  it('write-config.ts then from-config.ts (from a sub-folder) find it again', async () => {
    let r = await run('write-config.ts');
    assert.equal(r.code, 0, r.stderr);
    assert.ok(fs.existsSync(path.join(cwd, 'file-path', 'ws_config.json')));
    assert.ok(fs.existsSync(path.join(cwd, '.azureml', 'config.json')));
    const sub = path.join(cwd, 'notebooks');
    fs.mkdirSync(sub, { recursive: true });
    fs.cpSync(path.join(cwd, 'file-path'), path.join(sub, 'file-path'), { recursive: true });
    r = await run('from-config.ts', [], {}, sub);
    assert.equal(r.code, 0, r.stderr);
    const details = JSON.parse(r.stdout.slice(0, r.stdout.lastIndexOf('}') + 1));
    assert.equal(details.id, first.id);
    assert.match(r.stdout, /also loaded myworkspace/);
  });

  it('mlflow-tracking-uri.ts: prints the tracking URI of the workspace', async () => {
    const r = await run('mlflow-tracking-uri.ts');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), `export MLFLOW_TRACKING_URI='${t.url}/mlflow/v1.0${first.id}'`);
  });

  it('list-workspaces.ts: lists by name', async () => {
    const r = await run('list-workspaces.ts', ['myresourcegroup']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^myworkspace: myresourcegroup \(eastus2\)$/m);
  });

  it('create-with-existing-resources.ts: reuses existing resources by ARM id, signing in by callback', async () => {
    // The first workspace goes; its resources stay, to be reused.
    await (await Workspace.get('myworkspace', { ...sdk(), resourceGroup: 'myresourcegroup' })).delete();
    const r = await run('create-with-existing-resources.ts', [], {
      ATELIER_TOKEN: '',
      ATELIER_PASSWORD: ADMIN_PASSWORD,
      ATELIER_STORAGE_ACCOUNT: first.storageAccount!,
      ATELIER_KEY_VAULT: first.keyVault!,
      ATELIER_APP_INSIGHTS: first.applicationInsights!,
    });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    assert.equal(out.friendlyName, 'My workspace');
    assert.equal(out.storageAccount.toLowerCase(), first.storageAccount!.toLowerCase());
    assert.equal(out.keyVault.toLowerCase(), first.keyVault!.toLowerCase());
  });

  it('delete-workspace.ts: deletes it with its dependent resources', async () => {
    const r = await run('delete-workspace.ts');
    assert.equal(r.code, 0, r.stderr);
    await assert.rejects(Workspace.get('myworkspace', { ...sdk(), resourceGroup: 'myresourcegroup' }));
    const storage = await t.request('GET', `${first.storageAccount}?api-version=2025-09-01`);
    assert.equal(storage.status, 404);
  });
});
