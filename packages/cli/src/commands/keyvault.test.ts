import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runAtelier } from '../testing.js';
import { startTestServer, type TestServer } from '../../../server/src/testing/harness.js';

// `atelier keyvault key …` and `workspace create --cmk-keyvault --resource-cmk-uri`, the real command, against a real server (SQLite).
describe('atelier keyvault key and customer-managed keys (CLI)', () => {
  let t: TestServer;
  let home: string;
  before(async () => {
    t = await startTestServer('sqlite');
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-cli-kv-'));
  });
  after(async () => {
    await t?.close();
    fs.rmSync(home, { recursive: true, force: true });
  });

  const atelier = (args: string[], input?: string) =>
    runAtelier(args, {
      cwd: home,
      env: {
        HOME: home,
        ATELIER_CONFIG_DIR: path.join(home, 'cfg'),
        ATELIER_ENDPOINT: t.url,
        ATELIER_TOKEN: t.adminToken,
      },
      input,
    });

  it('creates keys, makes a workspace encrypted with one; a key in use cannot be disabled', async () => {
    const holder = await atelier(['workspace', 'create', 'cli-key-holder', '-g', 'cli-kv-rg', '-l', 'local']);
    assert.equal(holder.code, 0, holder.stderr);
    const vault: string = holder.json.keyVault;
    const created = await atelier(['keyvault', 'key', 'create', 'cmk', '-w', 'cli-key-holder', '--kty', 'RSA']);
    assert.equal(created.code, 0, created.stderr);
    assert.equal(created.json.kty, 'RSA');
    const kid: string = created.json.kid;
    const list = await atelier(['keyvault', 'key', 'list', '-w', 'cli-key-holder']);
    assert.deepEqual(
      list.json.map((k: any) => k.name),
      ['cmk'],
    );
    const bad = await atelier(['keyvault', 'key', 'create', 'x', '-w', 'cli-key-holder', '--kty', 'EC']);
    assert.equal(bad.code, 2);

    const ws = await atelier([
      'workspace',
      'create',
      'cli-cmk',
      '-g',
      'cli-kv-rg',
      '--cmk-keyvault',
      vault,
      '--resource-cmk-uri',
      kid,
    ]);
    assert.equal(ws.code, 0, ws.stderr);
    assert.equal(ws.json.resourceCmkUri, kid);
    // The workspace depends on the key: disabling it is refused, naming the workspace; an unused key can be.
    const off = await atelier(['keyvault', 'key', 'disable', 'cmk', '-w', 'cli-cmk', '--vault', vault]);
    assert.notEqual(off.code, 0, off.stdout);
    assert.match(off.stderr, /cannot be disabled: it protects the data of workspace .*cli-cmk/);
    assert.equal((await atelier(['workspace', 'list-keys', 'cli-cmk', '-g', 'cli-kv-rg'])).code, 0);
    assert.equal(
      (await atelier(['keyvault', 'key', 'create', 'spare', '-w', 'cli-key-holder', '--kty', 'oct'])).code,
      0,
    );
    const spare = await atelier(['keyvault', 'key', 'disable', 'spare', '-w', 'cli-key-holder']);
    assert.equal(spare.code, 0, spare.stderr);
    assert.equal(spare.json.enabled, false);
    assert.equal((await atelier(['keyvault', 'key', 'enable', 'spare', '-w', 'cli-key-holder'])).json.enabled, true);
  });
  it('keyvault secret set|list|show|delete', async () => {
    let r = await atelier(
      ['keyvault', 'secret', 'set', 'db-password', '-w', 'cli-key-holder', '--value-stdin'],
      's3cret value\n',
    );
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stdout.includes('s3cret'), 'set does not print the value');
    r = await atelier(['keyvault', 'secret', 'set', 'x', '-w', 'cli-key-holder']);
    assert.equal(r.code, 2, 'no value given');
    r = await atelier(['keyvault', 'secret', 'list', '-w', 'cli-key-holder']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.json.some((x: { name: string }) => x.name === 'db-password'));
    assert.ok(!r.stdout.includes('s3cret'), 'list shows no values');
    r = await atelier([
      'keyvault',
      'secret',
      'show',
      'db-password',
      '-w',
      'cli-key-holder',
      '-o',
      'tsv',
      '--query',
      'value',
    ]);
    assert.equal(r.stdout, 's3cret value\n');
    r = await atelier(['keyvault', 'secret', 'delete', 'db-password', '-w', 'cli-key-holder']);
    assert.equal(r.code, 0, r.stderr);
    r = await atelier(['keyvault', 'secret', 'show', 'db-password', '-w', 'cli-key-holder']);
    assert.equal(r.code, 1);
  });
  it('connection set|list|show|delete', async () => {
    let r = await atelier(
      [
        'connection',
        'set',
        'feed',
        '-w',
        'cli-key-holder',
        '--category',
        'PythonFeed',
        '--target',
        'https://pypi.example.com',
        '--auth-type',
        'PAT',
        '--value-stdin',
      ],
      '{"pat":"xyz"}\n',
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json.name, 'feed');
    r = await atelier(['connection', 'list', '-w', 'cli-key-holder', '--query', '[].name']);
    assert.deepEqual(r.json, ['feed']);
    r = await atelier(['connection', 'show', 'feed', '-w', 'cli-key-holder']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json.properties.target, 'https://pypi.example.com');
    r = await atelier(['connection', 'set', 'feed2', '-w', 'cli-key-holder', '--target', 'x', '--auth-type', 'PAT']);
    assert.equal(r.code, 2, '--category is required');
    r = await atelier(['connection', 'delete', 'feed', '-w', 'cli-key-holder']);
    assert.equal(r.code, 0, r.stderr);
    r = await atelier(['connection', 'show', 'feed', '-w', 'cli-key-holder']);
    assert.equal(r.code, 1);
  });
});
