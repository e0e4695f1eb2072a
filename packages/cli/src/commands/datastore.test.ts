import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { cliFixture, type CliFixture } from '../testing.js';

// `atelier datastore …`, the real command as a child process, against a real server (SQLite).
describe('atelier datastore (CLI)', () => {
  let home: string;
  let atelier: CliFixture['atelier'];
  let f: CliFixture | undefined;
  before(async () => {
    f = await cliFixture('cli-ds', { location: 'local' });
    ({ home, atelier } = f);
  });
  after(() => f?.close());

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
});
