import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cliFixture, type CliFixture } from '../testing.js';
import { resolveWorkspace } from '../../../server/src/resources/workspaces.js';
import { findUv } from '../../../server/src/environment-builds/environment-builds.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
/** uv from ATELIER_UV, PATH, or the CI venv: the image test builds a real environment; CI (strict) fails without it. */
function uvForTests(): string | undefined {
  const ci = path.join(ROOT, '.ci', '.venv', 'bin', 'uv');
  const found = findUv() ?? (fs.existsSync(ci) ? ci : undefined);
  if (!found && process.env.ATELIER_TEST_STRICT === '1')
    throw new Error('uv is not installed (ATELIER_UV or .ci/.venv/bin/uv): image list/show cannot be tested');
  return found;
}
const uv = uvForTests();

// `atelier data|environment|private-endpoint|experiment create/delete` as child processes against a real server (SQLite).
describe('atelier data, environment, private-endpoint, experiment create/delete (CLI)', () => {
  let home: string;
  let atelier: CliFixture['atelier'];
  let f: CliFixture | undefined;
  const savedUv = process.env.ATELIER_UV;
  before(async () => {
    if (uv) process.env.ATELIER_UV = uv;
    f = await cliFixture('cli-assets', { writeConfig: true });
    ({ home, atelier } = f);
  });
  after(async () => {
    if (savedUv === undefined) delete process.env.ATELIER_UV;
    else process.env.ATELIER_UV = savedUv;
    await f?.close();
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
  it('data and environment archive / restore / delete (a name or one version); private-endpoint create', async () => {
    fs.writeFileSync(path.join(home, 'req.txt'), 'numpy\n');
    for (const v of ['1', '2'])
      assert.equal((await atelier(['data', 'create', 'life', '--path', `data/v${v}`, '--create-new-version'])).code, 0);
    const names = async (kind: string) => (await atelier([kind, 'list', '--query', '[].name'])).json as string[];
    // The name archived: gone from the list, still readable; restored: back.
    const arch = await atelier(['data', 'archive', 'life']);
    assert.equal(arch.code, 0, arch.stderr);
    assert.deepEqual(arch.json, { name: 'life', version: null, archived: true });
    assert.equal((await names('data')).includes('life'), false);
    const shown = await atelier(['data', 'show', 'life', '-v', '2']);
    assert.equal(shown.code, 0, shown.stderr);
    assert.equal(shown.json.version, '2');
    assert.equal((await atelier(['data', 'restore', 'life'])).code, 0);
    assert.equal((await names('data')).includes('life'), true);
    // One version archived: the name stays listed.
    const v1 = await atelier(['data', 'archive', 'life', '--data-version', '1', '-o', 'tsv']);
    assert.equal(v1.code, 0, v1.stderr);
    assert.equal(v1.stdout, 'life\t1\ttrue\n');
    assert.equal((await names('data')).includes('life'), true);
    // Delete: asks first; one version, then the name; a name that is not there is an error.
    assert.equal((await atelier(['data', 'delete', 'life', '-v', '1'])).code, 2);
    assert.deepEqual((await atelier(['data', 'delete', 'life', '-v', '1', '--yes'])).json, {
      deleted: 'life',
      version: '1',
    });
    assert.equal((await atelier(['data', 'show', 'life', '-v', '1'])).code, 1);
    assert.equal((await atelier(['data', 'show', 'life', '-v', '2'])).code, 0);
    assert.equal((await atelier(['data', 'delete', 'life', '--yes', '-o', 'none'])).stdout, '');
    const gone = await atelier(['data', 'delete', 'life', '--yes']);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /life/);
    assert.equal((await names('data')).includes('life'), false);

    assert.equal((await atelier(['env', 'create', 'lenv', '--pip-requirements', 'req.txt'])).code, 0);
    assert.equal((await atelier(['env', 'create', 'lenv', '--pip-requirements', 'req.txt'])).code, 0);
    assert.equal((await atelier(['environment', 'archive', 'lenv', '--query', 'archived'])).stdout, 'true\n');
    assert.equal((await names('env')).includes('lenv'), false);
    assert.equal((await atelier(['environment', 'restore', 'lenv'])).code, 0);
    assert.equal((await names('env')).includes('lenv'), true);
    assert.equal((await atelier(['env', 'delete', 'lenv', '--env-version', '2', '--yes'])).code, 0);
    assert.equal((await atelier(['env', 'show', 'lenv'])).json.version, '1');
    assert.equal((await atelier(['env', 'delete', 'lenv', '-y'])).code, 0);
    assert.equal((await atelier(['env', 'show', 'lenv'])).code, 1);

    const pe = await atelier([
      'private-endpoint',
      'create',
      'lab-pe',
      '--address-prefixes',
      '10.1.0.0/24',
      '10.2.0.0/16',
    ]);
    assert.equal(pe.code, 0, pe.stderr);
    assert.equal(pe.json.status, 'Approved');
    assert.match(pe.json.privateEndpointId, /\/privateEndpoints\/lab-pe$/);
    const manual = await atelier([
      'private-endpoint',
      'create',
      'lab-pe2',
      '--address-prefixes',
      '10.3.0.0/24',
      '--manual-approval',
    ]);
    assert.equal(manual.code, 0, manual.stderr);
    assert.equal(manual.json.status, 'Pending');
    const listed = await atelier(['private-endpoint', 'list', '-o', 'table']);
    assert.match(listed.stdout, /Approved/);
    assert.match(listed.stdout, /Pending/);
    const noNets = await atelier(['private-endpoint', 'create', 'lab-pe3']);
    assert.equal(noNets.code, 2);
    assert.match(noNets.stderr, /--address-prefixes/);
    const badNet = await atelier(['private-endpoint', 'create', 'lab-pe4', '--address-prefixes', 'ten']);
    assert.equal(badNet.code, 1);
    assert.doesNotMatch(badNet.stderr, /addressPrefixes/);
    // In a virtual network of the server, the subnet gives the networks.
    const t = f!.t;
    const net = await t.request(
      'PUT',
      `/subscriptions/${t.subscriptionId}/resourceGroups/cli-assets-rg/providers/Microsoft.Network/virtualNetworks/lab-net?api-version=2023-09-01`,
      {
        properties: {
          addressSpace: { addressPrefixes: ['10.7.0.0/16'] },
          subnets: [{ name: 'default', properties: { addressPrefix: '10.7.0.0/24' } }],
        },
      },
    );
    assert.equal(net.status, 201, net.text);
    const inNet = await atelier(['private-endpoint', 'create', 'lab-pe5', '--vnet-name', 'lab-net']);
    assert.equal(inNet.code, 0, inNet.stderr);
    assert.equal(inNet.json.status, 'Approved');
  });

  it('image list / show (a real environment build); workspace diagnose; workspace list-linked-services', async () => {
    const t = f!.t;
    const W = `/subscriptions/${t.subscriptionId}/resourceGroups/cli-assets-rg/providers/Microsoft.MachineLearningServices/workspaces/cli-assets`;
    assert.equal((await atelier(['image', 'list'])).json.length, 0);
    if (uv) {
      const env = await t.request('PUT', `${W}/environments/bare/versions/1?api-version=2025-09-01`, {
        properties: { image: 'python:3.11-slim', pipRequirements: 'six==1.17.0\n' },
      });
      assert.equal(env.status, 201, env.text);
      const info = await resolveWorkspace(t.server.ctx, t.subscriptionId, 'cli-assets-rg', 'cli-assets');
      assert.equal((await t.server.services.environmentBuilds.ensure(info, 'bare:1')).status, 'Succeeded');
      const list = await atelier(['image', 'list', '--kind', 'environment']);
      assert.equal(list.code, 0, list.stderr);
      assert.equal(list.json.length, 1);
      assert.equal(list.json[0].status, 'Succeeded');
      assert.match(list.json[0].digest, /^sha256:[0-9a-f]{64}$/);
      assert.match(list.json[0].environmentId, /bare/);
      assert.equal((await atelier(['image', 'list', '--kind', 'deployment'])).json.length, 0);
      const show = await atelier(['image', 'show', list.json[0].name]);
      assert.equal(show.code, 0, show.stderr);
      assert.equal(typeof show.json.log, 'string');
      assert.equal((await atelier(['image', 'show', list.json[0].name, '--no-log'])).json.log, undefined);
    }
    assert.equal((await atelier(['image', 'list', '--kind', 'docker'])).code, 2);
    assert.equal((await atelier(['image', 'list', '--top', '0'])).code, 2);
    const missing = await atelier(['image', 'show', 'nope']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /nope/);

    const diag = await atelier(['workspace', 'diagnose']);
    assert.equal(diag.code, 0, diag.stderr);
    assert.ok(
      diag.json.some((r: any) => r.category === 'storageAccount' && r.code === 'StorageWritable'),
      JSON.stringify(diag.json),
    );
    assert.deepEqual(
      diag.json.filter((r: any) => r.level === 'Error'),
      [],
    );

    assert.deepEqual((await atelier(['workspace', 'list-linked-services'])).json, []);
    const syn = `/subscriptions/${t.subscriptionId}/resourceGroups/cli-assets-rg/providers/Microsoft.Synapse/workspaces/lake`;
    const put = await t.request('PUT', `${W}/linkedServices/lake?api-version=2025-09-01`, {
      properties: { linkedServiceResourceId: syn },
    });
    assert.ok(put.status === 200 || put.status === 201, put.text);
    const linked = await atelier(['workspace', 'list-linked-services', 'cli-assets', '-g', 'cli-assets-rg']);
    assert.equal(linked.code, 0, linked.stderr);
    assert.deepEqual(
      linked.json.map((l: any) => [l.name, l.linkType, l.linkedServiceResourceId]),
      [['lake', 'Synapse', syn]],
    );
  });
});
