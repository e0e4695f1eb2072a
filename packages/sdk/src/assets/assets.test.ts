import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { startTestServer, type TestServer } from '../../../server/src/testing/harness.js';
import {
  Workspace,
  TokenAuthentication,
  Dataset,
  Datastore,
  Environment,
  ConflictError,
  TabularDataset,
  AuthorizationError,
} from '../index.js';

// The SDK's asset surface against a real server (SQLite: the server's own suites cover both dialects).
describe('workspace assets (SDK) against a real server', () => {
  let t: TestServer;
  let ws: Workspace;
  let tmp: string;
  before(async () => {
    t = await startTestServer('sqlite');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-sdk-assets-'));
    const conn = {
      endpoint: t.url,
      auth: new TokenAuthentication(t.adminToken),
      env: { ATELIER_CONFIG_DIR: path.join(tmp, 'profile') },
    };
    ws = await Workspace.create({
      name: 'sdk-assets',
      subscriptionId: t.subscriptionId,
      resourceGroup: 'sdk-assets-rg',
      location: 'local',
      showOutput: false,
      ...conn,
    });
  });
  after(async () => {
    await t?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('datastores: default, upload a folder and files, download them back', async () => {
    const stores = await ws.datastores();
    assert.deepEqual([...stores.keys()].sort(), [
      'workspaceartifactstore',
      'workspaceblobstore',
      'workspacefilestore',
      'workspaceworkingdirectory',
    ]);
    const ds = await ws.getDefaultDatastore();
    assert.equal(ds.name, 'workspaceblobstore');

    const src = path.join(tmp, 'src');
    fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
    const big = crypto.randomBytes(200_000);
    fs.writeFileSync(path.join(src, 'a.bin'), big);
    fs.writeFileSync(path.join(src, 'sub', 'b.txt'), 'bee');
    const seen: number[] = [];
    const up = await ds.upload(src, {
      targetPath: 'proj/v1',
      overwrite: false,
      showProgress: false,
      onProgress: (p) => seen.push(p.bytesDone),
    });
    assert.deepEqual(up, { files: 2, bytes: 200_003 });
    assert.equal(seen.at(-1), 200_003);
    await assert.rejects(ds.upload(src, { targetPath: 'proj/v1', showProgress: false }), ConflictError);
    await ds.upload(src, { targetPath: 'proj/v1', overwrite: true, showProgress: false });
    await ds.uploadFiles([path.join(src, 'sub', 'b.txt')], { targetPath: 'single', showProgress: false });
    assert.deepEqual(
      (await ds.listFiles('single', { recursive: true })).map((f) => f.path),
      ['single/b.txt'],
    );

    const dest = path.join(tmp, 'dest');
    const down = await ds.download(dest, { prefix: 'proj/v1', showProgress: false });
    assert.equal(down.files, 2);
    assert.deepEqual(fs.readFileSync(path.join(dest, 'a.bin')), big);
    assert.equal(fs.readFileSync(path.join(dest, 'sub', 'b.txt'), 'utf8'), 'bee');
    await assert.rejects(ds.download(dest, { prefix: 'proj/v1', showProgress: false }), ConflictError);

    await ws.setDefaultDatastore('workspaceartifactstore');
    assert.equal((await ws.getDefaultDatastore()).name, 'workspaceartifactstore');
    await ws.setDefaultDatastore('workspaceblobstore');
  });

  it('datasets: tabular from delimited files (schema, take, toRecords), register, getByName, datasets()', async () => {
    const ds = await Datastore.get(ws, 'workspaceblobstore');
    const csv = path.join(tmp, 'iris.csv');
    fs.writeFileSync(
      csv,
      'sepal_length,species,ok,when\n5.1,setosa,true,2024-01-02\n4.9,setosa,false,2024-01-03\n7.0,"versi,color",true,2024-02-01\n',
    );
    await ds.uploadFiles([csv], { targetPath: 'iris', showProgress: false });
    const tab = Dataset.Tabular.fromDelimitedFiles([ds, 'iris/iris.csv']);
    assert.deepEqual(await tab.schema(), [
      { name: 'sepal_length', type: 'float' },
      { name: 'species', type: 'string' },
      { name: 'ok', type: 'bool' },
      { name: 'when', type: 'datetime' },
    ]);
    const first = await tab.take(2).toRecords();
    assert.equal(first.length, 2);
    assert.deepEqual(first[0], { sepal_length: 5.1, species: 'setosa', ok: true, when: new Date('2024-01-02') });
    assert.equal((await tab.toRecords())[2]!.species, 'versi,color');

    await tab.register(ws, { name: 'iris', description: 'iris rows', tags: { kind: 'demo' } });
    assert.equal(tab.version, '1');
    // The same data again is the same version; other data needs createNewVersion.
    assert.equal(
      (await Dataset.Tabular.fromDelimitedFiles([ds, 'iris/iris.csv']).register(ws, { name: 'iris' })).version,
      '1',
    );
    await assert.rejects(Dataset.File.fromFiles([ds, 'proj/v1/a.bin']).register(ws, { name: 'iris' }), ConflictError);
    const v2 = await Dataset.File.fromFiles([ds, 'single/b.txt']).register(ws, {
      name: 'iris',
      createNewVersion: true,
    });
    assert.equal(v2.version, '2');

    const got = await Dataset.getByName(ws, 'iris', 1);
    assert.ok(got instanceof TabularDataset);
    assert.equal((await got.take(1).toRecords())[0]!.species, 'setosa');
    assert.equal((await Dataset.getByName(ws, 'iris')).version, '2');
    const all = await ws.datasets();
    assert.deepEqual([...all.keys()], ['iris']);

    // A file dataset downloads its file; a tabular dataset over a folder reads its delimited files in order.
    const fileDs = await Dataset.getByName(ws, 'iris', 2);
    assert.ok(!(fileDs instanceof TabularDataset));
    await (fileDs as import('./dataset.js').FileDataset).download(path.join(tmp, 'fd'), { showProgress: false });
    assert.equal(fs.readFileSync(path.join(tmp, 'fd', 'b.txt'), 'utf8'), 'bee');
    const parts = path.join(tmp, 'parts');
    fs.mkdirSync(parts);
    fs.writeFileSync(path.join(parts, '1.csv'), 'n;label\n1;a\n2;b\n');
    fs.writeFileSync(path.join(parts, '2.csv'), 'n;label\n3;c\n');
    fs.writeFileSync(path.join(parts, 'README.md'), 'not data');
    await ds.upload(parts, { targetPath: 'parts', showProgress: false });
    const folder = Dataset.Tabular.fromDelimitedFiles([ds, 'parts/'], { separator: ';' });
    assert.deepEqual(await folder.toRecords(), [
      { n: 1, label: 'a' },
      { n: 2, label: 'b' },
      { n: 3, label: 'c' },
    ]);
    assert.deepEqual(await folder.take(2).toRecords(), [
      { n: 1, label: 'a' },
      { n: 2, label: 'b' },
    ]);
  });

  it('environments, key vault, connections, private endpoints, diagnose, linked services', async () => {
    const envs = await ws.environments();
    assert.ok(envs.has('AzureML-sklearn-1.5'));
    const env = new Environment('train');
    env.image = 'python:3.11-slim';
    env.pipRequirements = 'pandas==2.2.3\n';
    env.environmentVariables = { A: '1' };
    const reg = await env.register(ws);
    assert.equal(reg.version, '1');
    assert.equal((await Environment.get(ws, 'train')).pipRequirements, 'pandas==2.2.3\n');
    // As the README writes it: a name alone gets the seed's default base image.
    const plain = await new Environment('plain').register(ws);
    assert.equal(plain.image, Environment.DEFAULT_CPU_IMAGE);
    assert.equal((await Environment.get(ws, 'plain')).image, 'mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04');

    const kv = ws.getDefaultKeyvault();
    await kv.setSecrets({ 'db-user': 'alice', 'db-pass': 'hunter2-xyz' });
    await kv.setSecret('token', 'abc', 'text/plain');
    assert.equal(await kv.getSecret('db-pass'), 'hunter2-xyz');
    assert.equal(await kv.getSecretContentType('token'), 'text/plain');
    assert.deepEqual(await kv.getSecrets(['db-user', 'token']), { 'db-user': 'alice', token: 'abc' });
    assert.deepEqual(
      (await kv.listSecrets())
        .map((s) => s.name)
        .filter((n) => !n.startsWith('datastore-'))
        .sort(),
      ['db-pass', 'db-user', 'token'],
    );
    await kv.deleteSecrets(['db-user', 'token']);
    assert.deepEqual(
      (await kv.listSecrets()).map((s) => s.name),
      ['db-pass'],
    );

    await ws.setConnection('feed', 'PythonFeed', 'https://pypi.example.com', 'PAT', '{"pat":"xyz"}');
    assert.equal((await ws.getConnection('feed')).properties.value, undefined);
    assert.deepEqual(
      (await ws.listConnections('PythonFeed')).map((c) => c.name),
      ['feed'],
    );
    assert.deepEqual(await ws.listConnections('Git'), []);
    await ws.deleteConnection('feed');

    const pe = await ws.addPrivateEndpoint({
      privateEndpointConfig: { name: 'sdk-pe', addressPrefixes: ['127.0.0.2/32'] },
      showOutput: false,
    });
    assert.equal(pe.status, 'Approved');
    assert.deepEqual([...(await ws.privateEndpoints()).keys()], [pe.name]);
    await ws.deletePrivateEndpointConnection(pe.name);
    assert.equal((await ws.privateEndpoints()).size, 0);
    // In a virtual network the server keeps: the subnet gives the networks.
    const net = await t.request(
      'PUT',
      `/subscriptions/${t.subscriptionId}/resourceGroups/sdk-assets-rg/providers/Microsoft.Network/virtualNetworks/sdk-net?api-version=2023-09-01`,
      {
        properties: {
          addressSpace: { addressPrefixes: ['10.4.0.0/16'] },
          subnets: [{ name: 'default', properties: { addressPrefix: '10.4.1.0/24' } }],
        },
      },
    );
    assert.equal(net.status, 201, net.text);
    const inNet = await ws.addPrivateEndpoint({
      privateEndpointConfig: { name: 'sdk-pe-net', vnetName: 'sdk-net' },
      showOutput: false,
    });
    assert.equal(inNet.status, 'Approved');
    const conn = await t.request('GET', `${inNet.id}?api-version=2023-09-01`);
    assert.deepEqual(conn.body.properties.privateEndpoint.addressPrefixes, ['10.4.1.0/24']);
    await assert.rejects(
      ws.addPrivateEndpoint({ privateEndpointConfig: { name: 'sdk-pe-none' }, showOutput: false }),
      /addressPrefixes must list the networks/,
    );
    await ws.deletePrivateEndpointConnection(inNet.name);

    const report = await ws.diagnoseWorkspace();
    assert.ok(report.storageAccountResults.some((r) => r.code === 'StorageWritable'));
    assert.deepEqual(
      Object.values(report)
        .flat()
        .filter((r) => r.level === 'Error'),
      [],
    );
    assert.equal((await ws.linkedServices()).size, 0);
    void AuthorizationError;
  });
});
