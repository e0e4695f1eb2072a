import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import os from 'node:os';
import { cliFixture, type CliFixture } from '../testing.js';
import { findMoto, startMoto, MOTO_CREDENTIALS, type Moto } from '../../../server/src/testing/moto.js';

const python = findMoto('the S3 datastore create test');

// `atelier datastore …`, the real command as a child process, against a real server (SQLite).
describe('atelier datastore (CLI)', () => {
  let home: string;
  let atelier: CliFixture['atelier'];
  let f: CliFixture | undefined;
  let roots: string;
  let moto: Moto | undefined;
  before(async () => {
    if (python) {
      moto = await startMoto(python);
      process.env.ATELIER_S3_ENDPOINTS = moto.endpoint;
    }
    // server-folder datastores need a folder the administrator allowed; the server reads it at start.
    roots = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-cli-ds-roots-'));
    process.env.ATELIER_DATASTORE_ROOTS = roots;
    f = await cliFixture('cli-ds', { location: 'local' });
    delete process.env.ATELIER_DATASTORE_ROOTS;
    delete process.env.ATELIER_S3_ENDPOINTS;
    ({ home, atelier } = f);
  });
  after(async () => {
    await f?.close();
    moto?.stop();
    fs.rmSync(roots, { recursive: true, force: true });
  });

  it('lists datastores, uploads a folder, lists its files, downloads them back', async () => {
    const list = await atelier(['datastore', 'list', '-w', 'cli-ds']);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(list.json.map((d: any) => d.name).sort(), [
      'workspaceartifactstore',
      'workspaceblobstore',
      'workspacefilestore',
      'workspaceworkingdirectory',
    ]);

    const src = path.join(home, 'data');
    fs.mkdirSync(path.join(src, 'inner'), { recursive: true });
    const bytes = crypto.randomBytes(150_000);
    fs.writeFileSync(path.join(src, 'x.bin'), bytes);
    fs.writeFileSync(path.join(src, 'inner', 'y.csv'), 'a,b\n1,2\n');
    const up = await atelier(['datastore', 'upload', src, '-w', 'cli-ds', '-t', 'runs/1']);
    assert.equal(up.code, 0, up.stderr);
    assert.deepEqual(up.json, { datastore: 'workspaceblobstore', targetPath: 'runs/1', files: 2, bytes: 150_008 });
    const again = await atelier(['datastore', 'upload', src, '-w', 'cli-ds', '-t', 'runs/1']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exists.*overwrite/);

    const files = await atelier(['datastore', 'files', 'runs/1', '-r', '-w', 'cli-ds']);
    assert.deepEqual(
      files.json.map((f: any) => f.path),
      ['runs/1/inner/y.csv', 'runs/1/x.bin'],
    );

    const dest = path.join(home, 'out');
    const down = await atelier(['datastore', 'download', 'runs/1', dest, '-w', 'cli-ds', '-d', 'workspaceblobstore']);
    assert.equal(down.code, 0, down.stderr);
    assert.equal(down.json.files, 2);
    assert.deepEqual(fs.readFileSync(path.join(dest, 'x.bin')), bytes);
    assert.equal(fs.readFileSync(path.join(dest, 'inner', 'y.csv'), 'utf8'), 'a,b\n1,2\n');

    const missing = await atelier(['datastore', 'upload', path.join(home, 'nope'), '-w', 'cli-ds']);
    assert.equal(missing.code, 2);
  });
  it('set-default switches the default; delete asks first, refuses a system datastore and names a missing one', async () => {
    const W = ['-w', 'cli-ds'];
    const def = await atelier(['datastore', 'set-default', 'workspaceartifactstore', ...W]);
    assert.equal(def.code, 0, def.stderr);
    const defaults = async () =>
      (await atelier(['datastore', 'list', ...W, '--query', '[?isDefault].name'])).json as string[];
    assert.deepEqual(await defaults(), ['workspaceartifactstore']);
    assert.equal((await atelier(['datastore', 'set-default', 'workspaceblobstore', ...W])).code, 0);
    assert.deepEqual(await defaults(), ['workspaceblobstore']);
    assert.equal((await atelier(['datastore', 'delete', 'workspaceartifactstore', ...W])).code, 2, 'asks first');
    const system = await atelier(['datastore', 'delete', 'workspaceartifactstore', '--yes', ...W]);
    assert.equal(system.code, 1);
    assert.match(system.stderr, /system datastore/);
    const missing = await atelier(['datastore', 'delete', 'nope', '--yes', ...W]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /nope/);
    assert.equal((await defaults()).length, 1);
  });

  it('create registers server-folder and azure-blob datastores (secrets from a file, never printed), delete removes one', async () => {
    const W = ['-w', 'cli-ds'];
    const folder = path.join(roots, 'shared');
    fs.mkdirSync(folder);
    fs.writeFileSync(path.join(folder, 'seen.txt'), 'on the server');
    const sf = await atelier(['datastore', 'create', 'shared', '--type', 'server-folder', '--path', folder, ...W]);
    assert.equal(sf.code, 0, sf.stderr);
    assert.equal(sf.json.type, 'ServerFolder');
    const files = await atelier(['datastore', 'files', '-d', 'shared', ...W]);
    assert.deepEqual(
      files.json.map((x: any) => x.path),
      ['seen.txt'],
    );
    const outside = await atelier(['datastore', 'create', 'bad', '--type', 'server-folder', '--path', home, ...W]);
    assert.equal(outside.code, 1);
    assert.match(outside.stderr, /outside the folders allowed/);

    const acct = `/subscriptions/${f!.t.subscriptionId}/resourceGroups/cli-ds-rg/providers/Microsoft.Storage/storageAccounts/clidsacct`;
    assert.equal((await f!.t.request('PUT', `${acct}?api-version=2023-05-01`, { location: 'local' })).status, 201);
    const keys = await f!.t.request('POST', `${acct}/listKeys?api-version=2023-05-01`);
    const key = (keys.body as { keys: { value: string }[] }).keys[0]!.value;
    const keyFile = path.join(home, 'key.txt');
    fs.writeFileSync(keyFile, `${key}\n`);
    const blob = await atelier([
      'datastore',
      'create',
      'team',
      '--type',
      'azure-blob',
      '--account-name',
      'clidsacct',
      '--container-name',
      'team',
      '--account-key-file',
      keyFile,
      ...W,
    ]);
    assert.equal(blob.code, 0, blob.stderr);
    assert.equal(blob.json.type, 'AzureBlob');
    assert.equal(blob.json.credentialsType, 'AccountKey');
    const shown = await atelier(['datastore', 'list', ...W, '-o', 'json']);
    for (const out of [blob.stdout + blob.stderr, shown.stdout])
      assert.ok(!out.includes(key), 'the key is never printed');

    const noContainer = await atelier([
      'datastore',
      'create',
      'x',
      '--type',
      'azure-blob',
      '--account-name',
      'a',
      ...W,
    ]);
    assert.equal(noContainer.code, 2);
    assert.match(noContainer.stderr, /--container-name/);
    const mixed = await atelier([
      'datastore',
      'create',
      'x',
      '--type',
      'server-folder',
      '--path',
      folder,
      '--bucket',
      'b',
      ...W,
    ]);
    assert.equal(mixed.code, 2);
    assert.match(mixed.stderr, /--bucket does not apply to a server-folder datastore/);
    const badType = await atelier(['datastore', 'create', 'x', '--type', 'nfs', ...W]);
    assert.equal(badType.code, 2);
    assert.match(badType.stderr, /--type must be one of azure-blob, server-folder, s3/);

    const del = await atelier(['datastore', 'delete', 'shared', '--yes', ...W]);
    assert.equal(del.code, 0, del.stderr);
    assert.deepEqual(del.json, { deleted: 'shared' });
    const names = (await atelier(['datastore', 'list', ...W])).json.map((d: any) => d.name);
    assert.ok(!names.includes('shared') && names.includes('team'), String(names));
    assert.ok(fs.existsSync(path.join(folder, 'seen.txt')), 'its files stay');
  });

  it('create --type s3 registers a real bucket (secret from the environment, never printed); a disallowed endpoint names --endpoint-url', async () => {
    const W = ['-w', 'cli-ds'];
    const denied = await atelier([
      'datastore',
      'create',
      'elsewhere',
      '--type',
      's3',
      '--endpoint-url',
      'http://127.0.0.1:9',
      '--bucket',
      'b-1',
      '--access-key-id',
      'AK',
      '--secret-access-key',
      'sk',
      ...W,
    ]);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /--endpoint-url: .*ATELIER_S3_ENDPOINTS/);
    const noKey = await atelier([
      'datastore',
      'create',
      'x',
      '--type',
      's3',
      '--endpoint-url',
      'http://h',
      '--bucket',
      'b-1',
      ...W,
    ]);
    assert.equal(noKey.code, 2);
    assert.match(noKey.stderr, /--access-key-id/);
    if (!moto) return;
    const bucket = (await moto.bucket()).bucket;
    const s3 = await atelier(
      [
        'datastore',
        'create',
        'lake',
        '--type',
        's3',
        '--endpoint-url',
        moto.endpoint,
        '--bucket',
        bucket,
        '--prefix',
        'team',
        ...W,
      ],
      {
        env: {
          AWS_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId,
          AWS_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey,
        },
      },
    );
    assert.equal(s3.code, 0, s3.stderr);
    assert.equal(s3.json.type, 'S3');
    assert.equal(s3.json.location, bucket);
    assert.ok(!(s3.stdout + s3.stderr).includes(MOTO_CREDENTIALS.secretAccessKey), 'the secret is never printed');
    fs.writeFileSync(path.join(home, 'lake.txt'), 'in the bucket');
    assert.equal((await atelier(['datastore', 'upload', path.join(home, 'lake.txt'), '-d', 'lake', ...W])).code, 0);
    const files = await atelier(['datastore', 'files', '-d', 'lake', ...W]);
    assert.deepEqual(
      files.json.map((x: any) => x.path),
      ['lake.txt'],
    );
  });
});
