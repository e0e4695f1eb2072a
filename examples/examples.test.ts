import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startTestServer, ADMIN_PASSWORD, type TestServer } from '../packages/server/src/testing/harness.js';
import { Workspace, TokenAuthentication, NotFoundError, type WorkspaceDetails } from '@atelier/sdk';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');

/** `git status --porcelain` of the checkout (untracked files included), or undefined outside a git checkout. */
function gitStatus(): string | undefined {
  const r = spawnSync('git', ['status', '--porcelain', '--untracked-files=all'], { cwd: ROOT, encoding: 'utf8' });
  return r.status === 0 ? r.stdout : undefined;
}
const TSX = import.meta.resolve('tsx');

// Each of the seed's examples, run as a user would (`tsx examples/<name>.ts` from the checkout) against a real server.
describe('the seed examples, in TypeScript', () => {
  let t: TestServer;
  let cwd: string;
  let env: Record<string, string>;
  let first: WorkspaceDetails;
  let statusBefore: string | undefined;
  before(async () => {
    t = await startTestServer('sqlite');
    cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-examples-'));
    // TMPDIR: the examples' default folder (<temp>/atelier-examples) is this test's own.
    env = {
      PATH: process.env.PATH ?? '',
      HOME: cwd,
      TMPDIR: cwd,
      ATELIER_CONFIG_DIR: path.join(cwd, 'profile'),
      ATELIER_ENDPOINT: t.url,
      ATELIER_TOKEN: t.adminToken,
    };
    statusBefore = gitStatus();
  });
  after(async () => {
    await t?.close();
    fs.rmSync(cwd, { recursive: true, force: true });
  });

  function run(
    example: string,
    args: string[] = [],
    extra: Record<string, string> = {},
    where = ROOT,
  ): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(
        process.execPath,
        ['--conditions=atelier-source', '--import', TSX, path.join(HERE, example), ...args],
        { cwd: where, env: { ...env, ...extra }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
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
    // Into the examples folder (<temp>/atelier-examples), not the folder they are run from.
    const folder = path.join(cwd, 'atelier-examples');
    assert.ok(fs.existsSync(path.join(folder, 'file-path', 'ws_config.json')));
    assert.ok(fs.existsSync(path.join(folder, '.azureml', 'config.json')));
    r = await run('from-config.ts');
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
    await assert.rejects(
      Workspace.get('myworkspace', { ...sdk(), resourceGroup: 'myresourcegroup' }),
      (e: unknown) => e instanceof NotFoundError && /myworkspace/.test(e.message),
    );
    const storage = await t.request('GET', `${first.storageAccount}?api-version=2025-09-01`);
    assert.equal(storage.status, 404);
  });

  it('running them all from the checkout left no file in it (git status unchanged)', (tc) => {
    if (statusBefore === undefined) return tc.skip('not a git checkout');
    assert.equal(gitStatus(), statusBefore);
  });
});
