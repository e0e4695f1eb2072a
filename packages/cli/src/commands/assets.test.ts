import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runAtelier } from '../testing.js';
import { startTestServer, type TestServer } from '../../../server/src/testing/harness.js';
import { Workspace, TokenAuthentication } from '@atelier/sdk';

// `atelier data|environment|private-endpoint|experiment create/delete` as child processes against a real server (SQLite).
describe('atelier data, environment, private-endpoint, experiment create/delete (CLI)', () => {
  let t: TestServer;
  let home: string;
  before(async () => {
    t = await startTestServer('sqlite');
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-cli-assets-'));
    const ws = await Workspace.create({
      name: 'cli-assets',
      subscriptionId: t.subscriptionId,
      resourceGroup: 'cli-assets-rg',
      showOutput: false,
      endpoint: t.url,
      auth: new TokenAuthentication(t.adminToken),
      env: { ATELIER_CONFIG_DIR: path.join(home, 'cfg') },
    });
    ws.writeConfig({ path: path.join(home, '.azureml') });
  });
  after(async () => {
    await t?.close();
    fs.rmSync(home, { recursive: true, force: true });
  });
  const atelier = (args: string[]) =>
    runAtelier(args, {
      cwd: home,
      env: {
        HOME: home,
        ATELIER_CONFIG_DIR: path.join(home, 'cfg'),
        ATELIER_ENDPOINT: t.url,
        ATELIER_TOKEN: t.adminToken,
      },
    });

  it('data: upload, create (file and tabular), list, show, download', async () => {
    fs.mkdirSync(path.join(home, 'iris'));
    fs.writeFileSync(path.join(home, 'iris', 'iris.csv'), 'a,b\n1,2\n3,4\n');
    assert.equal((await atelier(['datastore', 'upload', 'iris', '-t', 'data/iris'])).code, 0);
    const file = await atelier(['data', 'create', 'iris-files', '--path', 'data/iris', '--tags', 'k=v']);
    assert.equal(file.code, 0, file.stderr);
    assert.equal(file.json.version, '1');
    assert.equal(file.json.type, 'file');
    assert.deepEqual(file.json.tags, { k: 'v' });
    const table = await atelier(['dataset', 'create', 'iris-table', '--path', 'data/iris/iris.csv', '-t', 'tabular']);
    assert.equal(table.code, 0, table.stderr);
    assert.equal(table.json.type, 'tabular');
    const list = await atelier(['data', 'list', '--query', '[].[name, type]']);
    assert.deepEqual(list.json, [
      ['iris-files', 'file'],
      ['iris-table', 'tabular'],
    ]);
    const show = await atelier(['data', 'show', 'iris-files', '--data-version', '1']);
    assert.equal(show.json.version, '1');
    const down = await atelier(['data', 'download', 'iris-files', 'out']);
    assert.equal(down.code, 0, down.stderr);
    assert.equal(down.json.files, 1);
    assert.equal(fs.readFileSync(path.join(home, 'out', 'iris.csv'), 'utf8'), 'a,b\n1,2\n3,4\n');
    const badType = await atelier(['data', 'create', 'x', '--path', 'p', '-t', 'image']);
    assert.equal(badType.code, 2);
    assert.match(badType.stderr, /--type must be file or tabular/);
    const missing = await atelier(['data', 'show', 'nope']);
    assert.equal(missing.code, 1);
  });

  it('environment: create from a pip requirements file, list, show; bad input', async () => {
    fs.writeFileSync(path.join(home, 'requirements.txt'), 'numpy==2.1.0\n');
    const made = await atelier([
      'environment',
      'create',
      'np',
      '--pip-requirements',
      'requirements.txt',
      '--environment-variables',
      'A=1',
    ]);
    assert.equal(made.code, 0, made.stderr);
    assert.equal(made.json.version, '1');
    assert.equal(made.json.pipRequirements, 'numpy==2.1.0\n');
    assert.deepEqual(made.json.environmentVariables, { A: '1' });
    const again = await atelier(['env', 'create', 'np', '--pip-requirements', 'requirements.txt']);
    assert.equal(again.json.version, '2');
    const show = await atelier(['env', 'show', 'np', '--env-version', '1']);
    assert.equal(show.json.version, '1');
    const list = await atelier(['env', 'list', '--query', "[?name=='np'].version"]);
    assert.deepEqual(list.json, ['2']);
    const empty = await atelier(['env', 'create', 'e2']);
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /--conda-file, --pip-requirements or --image/);
    const unreadable = await atelier(['env', 'create', 'e2', '--conda-file', 'nope.yml']);
    assert.equal(unreadable.code, 2);
    assert.match(unreadable.stderr, /--conda-file nope\.yml: cannot read it/);
  });

  it('experiment create / delete / restore; private-endpoint list / delete', async () => {
    const made = await atelier(['experiment', 'create', 'exp1', '--tags', 'team=a']);
    assert.equal(made.code, 0, made.stderr);
    assert.equal(made.json.name, 'exp1');
    const noYes = await atelier(['experiment', 'delete', 'exp1']);
    assert.equal(noYes.code, 2);
    const del = await atelier(['experiment', 'delete', 'exp1', '--yes']);
    assert.equal(del.code, 0, del.stderr);
    assert.deepEqual((await atelier(['experiment', 'list', '--query', '[].name'])).json.includes('exp1'), false);
    const back = await atelier(['experiment', 'restore', 'exp1']);
    assert.equal(back.code, 0, back.stderr);
    assert.deepEqual((await atelier(['experiment', 'list', '--query', '[].name'])).json.includes('exp1'), true);

    const pes = await atelier(['private-endpoint', 'list']);
    assert.equal(pes.code, 0, pes.stderr);
    assert.deepEqual(pes.json, []);
    // ARM deletes are idempotent: a connection that is not there is already deleted.
    const gone = await atelier(['private-endpoint', 'delete', 'nope', '--yes']);
    assert.equal(gone.code, 0, gone.stderr);
    assert.deepEqual(gone.json, { deleted: 'nope' });
    const noYes2 = await atelier(['private-endpoint', 'delete', 'nope']);
    assert.equal(noYes2.code, 2);
    assert.match(noYes2.stderr, /pass --yes/);
  });
});
