import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { startTestServer, testDialects, type TestServer } from '../../../testing/harness.js';
import { V, createWorkspace, groupPath, userWithRole, waitForOperation, wsPath } from '../arm-test-helpers.js';

/** Every file below `dir` (recursively). */
function filesBelow(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true })
    .map((f) => path.join(dir, String(f)))
    .filter((f) => fs.statSync(f).isFile());
}

for (const dialect of testDialects()) {
  describe(`datastores and key vault (${dialect})`, () => {
    let t: TestServer;
    let W: string;
    let ws: any;
    const roots = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-ds-roots-'));
    const allowed = path.join(roots, 'allowed');
    const outside = path.join(roots, 'outside');
    const second = path.join(roots, 'second');

    before(async () => {
      fs.mkdirSync(allowed);
      fs.mkdirSync(outside);
      fs.mkdirSync(path.join(second, 'teamb', 'sub'), { recursive: true });
      fs.writeFileSync(path.join(outside, 'secret.txt'), 'outside the allowed folder');
      fs.symlinkSync(outside, path.join(allowed, 'escape'));
      process.env.ATELIER_DATASTORE_ROOTS = [allowed, second].join(path.delimiter);
      t = await startTestServer(dialect);
      delete process.env.ATELIER_DATASTORE_ROOTS;
      ws = await createWorkspace(t, 'assets-rg', 'assets-ws');
      W = wsPath(t, 'assets-rg', 'assets-ws');
    });
    after(async () => {
      await t?.close();
      fs.rmSync(roots, { recursive: true, force: true });
    });

    it('makes the four system datastores with the workspace, workspaceblobstore the default', async () => {
      const r = await t.request('GET', `${W}/datastores?${V}`);
      assert.equal(r.status, 200, r.text);
      const names = r.body.value.map((d: any) => d.name).sort();
      assert.deepEqual(names, [
        'workspaceartifactstore',
        'workspaceblobstore',
        'workspacefilestore',
        'workspaceworkingdirectory',
      ]);
      const blob = r.body.value.find((d: any) => d.name === 'workspaceblobstore');
      assert.equal(blob.properties.isDefault, true);
      assert.equal(blob.properties.datastoreType, 'AzureBlob');
      assert.equal(blob.properties.containerName, `azureml-blobstore-${ws.properties.workspaceId}`);
      assert.equal(blob.properties.accountName, ws.properties.storageAccount.split('/').pop());
      assert.equal(blob.properties.credentials.credentialsType, 'AccountKey');
      assert.equal(JSON.stringify(r.body).includes('"key"'), false);
      const def = await t.request('GET', `${W}/datastores?${V}&isDefault=true`);
      assert.deepEqual(
        def.body.value.map((d: any) => d.name),
        ['workspaceblobstore'],
      );
    });

    it('streams files in and out of a datastore; bytes land in the storage account folder', async () => {
      const bytes = crypto.randomBytes(300_000);
      const up = await fetch(`${t.url}${W}/datastores/workspaceblobstore/files/train/part%201.bin`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${t.adminToken}`, 'content-type': 'application/octet-stream' },
        body: bytes,
      });
      assert.equal(up.status, 201, await up.text());
      const onDisk = filesBelow(path.join(t.home, 'blobs')).filter((f) => f.endsWith(path.join('train', 'part 1.bin')));
      assert.equal(onDisk.length, 1);
      assert.ok(onDisk[0]!.includes(`azureml-blobstore-${ws.properties.workspaceId}`));
      assert.deepEqual(fs.readFileSync(onDisk[0]!), bytes);

      const down = await fetch(`${t.url}${W}/datastores/workspaceblobstore/files/train/part%201.bin`, {
        headers: { authorization: `Bearer ${t.adminToken}` },
      });
      assert.equal(down.status, 200);
      assert.deepEqual(Buffer.from(await down.arrayBuffer()), bytes);

      const part = await fetch(`${t.url}${W}/datastores/workspaceblobstore/files/train/part%201.bin`, {
        headers: { authorization: `Bearer ${t.adminToken}`, range: 'bytes=100-199' },
      });
      assert.equal(part.status, 206);
      assert.equal(part.headers.get('content-range'), `bytes 100-199/${bytes.length}`);
      assert.deepEqual(Buffer.from(await part.arrayBuffer()), bytes.subarray(100, 200));
      const tail = await fetch(`${t.url}${W}/datastores/workspaceblobstore/files/train/part%201.bin`, {
        headers: { authorization: `Bearer ${t.adminToken}`, range: 'bytes=-10' },
      });
      assert.deepEqual(Buffer.from(await tail.arrayBuffer()), bytes.subarray(bytes.length - 10));
      const beyond = await fetch(`${t.url}${W}/datastores/workspaceblobstore/files/train/part%201.bin`, {
        headers: { authorization: `Bearer ${t.adminToken}`, range: `bytes=${bytes.length}-` },
      });
      assert.equal(beyond.status, 416);

      const again = await fetch(`${t.url}${W}/datastores/workspaceblobstore/files/train/part%201.bin`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${t.adminToken}` },
        body: 'x',
      });
      assert.equal(again.status, 409);
      assert.match(((await again.json()) as any).error.message, /overwrite=true/);
      const over = await fetch(`${t.url}${W}/datastores/workspaceblobstore/files/train/part%201.bin?overwrite=true`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${t.adminToken}` },
        body: 'small',
      });
      assert.equal(over.status, 201);

      const list = await t.request('GET', `${W}/datastores/workspaceblobstore/files?path=train`);
      assert.deepEqual(
        list.body.value.map((f: any) => [f.path, f.size]),
        [['train/part 1.bin', 5]],
      );
      const root = await t.request('GET', `${W}/datastores/workspaceblobstore/files?recursive=true`);
      assert.deepEqual(
        root.body.value.map((f: any) => f.path),
        ['train/part 1.bin'],
      );

      const escape = await fetch(`${t.url}${W}/datastores/workspaceblobstore/files/..%2F..%2Fescape.txt`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${t.adminToken}` },
        body: 'x',
      });
      assert.equal(escape.status, 400);
      const del = await t.request('DELETE', `${W}/datastores/workspaceblobstore/files/train`);
      assert.equal(del.status, 200);
      assert.equal((await t.request('GET', `${W}/datastores/workspaceblobstore/files/train/part%201.bin`)).status, 404);
    });

    it('user datastores on another storage account: key checked, kept in the key vault, never returned by GET', async () => {
      const acct = `${groupPath(t, 'assets-rg')}/providers/Microsoft.Storage/storageAccounts/otheracct${dialect === 'sqlite' ? 's' : 'p'}`;
      assert.equal((await t.request('PUT', `${acct}?${V}`, { location: 'local' })).status, 201);
      const keys = await t.request('POST', `${acct}/listKeys?${V}`);
      const key = keys.body.keys[0].value as string;
      const name = acct.split('/').pop()!;
      const body = (k: string) => ({
        properties: {
          datastoreType: 'AzureBlob',
          accountName: name,
          containerName: 'team-data',
          credentials: { credentialsType: 'AccountKey', secrets: { secretsType: 'AccountKey', key: k } },
        },
      });

      const wrong = await t.request('PUT', `${W}/datastores/teamdata?${V}`, body('bm90LWEta2V5'));
      assert.equal(wrong.status, 400, wrong.text);
      assert.match(wrong.body.error.message, /not an access key/);
      assert.equal((await t.request('GET', `${W}/datastores/teamdata?${V}`)).status, 404);

      const put = await t.request('PUT', `${W}/datastores/teamdata?${V}`, body(key));
      assert.equal(put.status, 201, put.text);
      assert.equal(put.text.includes(key), false);
      const got = await t.request('GET', `${W}/datastores/teamdata?${V}`);
      assert.equal(got.text.includes(key), false);
      assert.equal(got.body.properties.credentials.credentialsType, 'AccountKey');
      const secrets = await t.request('POST', `${W}/datastores/teamdata/listSecrets?${V}`);
      assert.equal(secrets.status, 200);
      assert.deepEqual(secrets.body, { secretsType: 'AccountKey', key });

      const reader = await userWithRole(t, `reader-${dialect}`, 'Reader', W);
      assert.equal(
        (await t.request('GET', `${W}/datastores/teamdata?${V}`, undefined, { token: reader.token })).status,
        200,
      );
      const denied = await t.request('POST', `${W}/datastores/teamdata/listSecrets?${V}`, undefined, {
        token: reader.token,
      });
      assert.equal(denied.status, 403);
      assert.equal(
        (await t.request('PUT', `${W}/datastores/other?${V}`, body(key), { token: reader.token })).status,
        403,
      );
      const stranger = await userWithRole(t, `stranger-${dialect}`, null);
      assert.equal((await t.request('GET', `${W}/datastores?${V}`, undefined, { token: stranger.token })).status, 404);

      const up = await fetch(`${t.url}${W}/datastores/teamdata/files/x.txt`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${t.adminToken}` },
        body: 'hello',
      });
      assert.equal(up.status, 201);
      assert.ok(filesBelow(path.join(t.home, 'blobs', name, 'team-data')).some((f) => f.endsWith('x.txt')));
      // Rotating the account's key invalidates the datastore's copy.
      for (const keyName of ['key1', 'key2'])
        assert.equal((await t.request('POST', `${acct}/regenerateKey?${V}`, { keyName })).status, 200);
      const stale = await t.request('GET', `${W}/datastores/teamdata/files/x.txt`);
      assert.equal(stale.status, 403);
      assert.match(stale.body.error.message, /no longer valid/);
    });

    it('default datastore: one at a time; system and default datastores cannot be deleted', async () => {
      const fresh = (
        await t.request(
          'POST',
          `${groupPath(t, 'assets-rg')}/providers/Microsoft.Storage/storageAccounts/otheracct${dialect === 'sqlite' ? 's' : 'p'}/listKeys?${V}`,
        )
      ).body.keys[0].value;
      const name = `otheracct${dialect === 'sqlite' ? 's' : 'p'}`;
      const put = await t.request('PUT', `${W}/datastores/teamdata?${V}`, {
        properties: {
          datastoreType: 'AzureBlob',
          accountName: name,
          containerName: 'team-data',
          isDefault: true,
          credentials: { credentialsType: 'AccountKey', secrets: { secretsType: 'AccountKey', key: fresh } },
        },
      });
      assert.equal(put.status, 200, put.text);
      const defs = await t.request('GET', `${W}/datastores?${V}&isDefault=true`);
      assert.deepEqual(
        defs.body.value.map((d: any) => d.name),
        ['teamdata'],
      );
      assert.equal((await t.request('DELETE', `${W}/datastores/teamdata?${V}`)).status, 409);
      assert.equal((await t.request('DELETE', `${W}/datastores/workspacefilestore?${V}`)).status, 409);
      const blob = await t.request('GET', `${W}/datastores/workspaceblobstore?${V}`);
      const back = await t.request('PUT', `${W}/datastores/workspaceblobstore?${V}`, {
        properties: { ...blob.body.properties, isDefault: true },
      });
      assert.equal(back.status, 200, back.text);
      assert.equal((await t.request('DELETE', `${W}/datastores/teamdata?${V}`)).status, 200);
      assert.equal((await t.request('GET', `${W}/datastores/teamdata?${V}`)).status, 404);
    });

    it('server folders: only inside the folders the administrator allowed, links cannot lead out', async () => {
      const bad = await t.request('PUT', `${W}/datastores/outside?${V}`, {
        properties: { datastoreType: 'ServerFolder', path: outside },
      });
      assert.equal(bad.status, 400);
      assert.match(bad.body.error.message, /ATELIER_DATASTORE_ROOTS/);
      const rel = await t.request('PUT', `${W}/datastores/rel?${V}`, {
        properties: { datastoreType: 'ServerFolder', path: 'relative/x' },
      });
      assert.equal(rel.status, 400);
      const ok = await t.request('PUT', `${W}/datastores/shared?${V}`, {
        properties: { datastoreType: 'ServerFolder', path: allowed },
      });
      assert.equal(ok.status, 201, ok.text);
      const up = await fetch(`${t.url}${W}/datastores/shared/files/in.txt?overwrite=true`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${t.adminToken}` },
        body: 'inside',
      });
      assert.equal(up.status, 201);
      assert.equal(fs.readFileSync(path.join(allowed, 'in.txt'), 'utf8'), 'inside');
      const leak = await t.request('GET', `${W}/datastores/shared/files/escape/secret.txt`);
      assert.equal(leak.status, 400, leak.text);
      assert.equal(leak.text.includes('outside the allowed folder'), false);
    });

    it("server folders belong to one workspace: another workspace's member cannot register or reach them unless an administrator shares them", async () => {
      await createWorkspace(t, 'folder-rg-b', 'folder-ws-b');
      const WB = wsPath(t, 'folder-rg-b', 'folder-ws-b');
      const memberA = await userWithRole(t, `ds-folder-a-${dialect}`, 'AzureML Data Scientist', W);
      const memberB = await userWithRole(t, `ds-folder-b-${dialect}`, 'AzureML Data Scientist', WB);
      const teamb = path.join(second, 'teamb');
      const reg = (ws: string, name: string, folder: string, token: string) =>
        t.request(
          'PUT',
          `${ws}/datastores/${name}?${V}`,
          { properties: { datastoreType: 'ServerFolder', path: folder } },
          { token },
        );
      const own = await reg(WB, 'teamb', teamb, memberB.token);
      assert.equal(own.status, 201, own.text);
      const put = await fetch(`${t.url}${WB}/datastores/teamb/files/b.txt`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${memberB.token}` },
        body: 'team b only',
      });
      assert.equal(put.status, 201);
      // The same folder, a folder inside it, or one holding it: refused for workspace A's member, saying what to do.
      for (const folder of [teamb, path.join(teamb, 'sub'), second, `${teamb}${path.sep}`]) {
        const r = await reg(W, 'stolen', folder, memberA.token);
        assert.equal(r.status, 403, `${folder}: ${r.text}`);
        assert.equal(r.body.error.code, 'ServerFolderOfAnotherWorkspace');
        assert.match(r.body.error.message, /administrator/);
        assert.doesNotMatch(r.body.error.message, /folder-ws-b/, 'does not name a workspace the caller cannot see');
      }
      assert.equal((await t.request('GET', `${W}/datastores/stolen?${V}`)).status, 404);
      // Workspace B can add more datastores inside its own folder.
      assert.equal((await reg(WB, 'teambsub', path.join(teamb, 'sub'), memberB.token)).status, 201);
      // A datastore made before folders had owners (here: written into the store directly) cannot reach B's files either.
      const row = await t.server.ctx.db
        .selectFrom('resources')
        .selectAll()
        .where('id_key', '=', `${W}/datastores/shared`.toLowerCase())
        .executeTakeFirstOrThrow();
      await t.server.ctx.db
        .insertInto('resources')
        .values({
          ...row,
          id: `${row.id.slice(0, -'shared'.length)}legacy`,
          id_key: `${row.id_key.slice(0, -'shared'.length)}legacy`,
          name: 'legacy',
          properties: JSON.stringify({ ...JSON.parse(row.properties), path: teamb, isDefault: false }),
        })
        .execute();
      const read = await fetch(`${t.url}${W}/datastores/legacy/files/b.txt`, {
        headers: { authorization: `Bearer ${memberA.token}` },
      });
      assert.equal(read.status, 403, await read.text());
      const write = await fetch(`${t.url}${W}/datastores/legacy/files/b.txt?overwrite=true`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${memberA.token}` },
        body: 'overwritten',
      });
      assert.equal(write.status, 403);
      assert.equal(fs.readFileSync(path.join(teamb, 'b.txt'), 'utf8'), 'team b only');
      // An administrator shares it explicitly by registering it in workspace A; then A's members may use it.
      const shared = await reg(W, 'fromb', teamb, t.adminToken);
      assert.equal(shared.status, 201, shared.text);
      const got = await fetch(`${t.url}${W}/datastores/fromb/files/b.txt`, {
        headers: { authorization: `Bearer ${memberA.token}` },
      });
      assert.equal(got.status, 200);
      assert.equal(await got.text(), 'team b only');
      assert.equal(
        (
          await fetch(`${t.url}${W}/datastores/legacy/files/b.txt`, {
            headers: { authorization: `Bearer ${memberA.token}` },
          })
        ).status,
        200,
      );
      // Deleting workspace B frees its folder.
      const del = await t.request('DELETE', `${WB}?${V}`);
      if (del.status === 202)
        assert.equal((await waitForOperation(t, del.headers.get('azure-asyncoperation')!)).status, 'Succeeded');
      assert.equal((await reg(W, 'nowmine', path.join(teamb, 'sub'), memberA.token)).status, 201);
    });

    it('a datastore on a storage account the caller cannot see answers as if the account did not exist, unless its key is given', async () => {
      const hidden = `hiddenacct${dialect === 'sqlite' ? 's' : 'p'}`;
      assert.equal((await t.request('PUT', `${groupPath(t, 'hidden-rg')}?${V}`, { location: 'local' })).status, 201);
      const acct = `${groupPath(t, 'hidden-rg')}/providers/Microsoft.Storage/storageAccounts/${hidden}`;
      assert.equal((await t.request('PUT', `${acct}?${V}`, { location: 'local' })).status, 201);
      const key = (await t.request('POST', `${acct}/listKeys?${V}`)).body.keys[0].value as string;
      const member = await userWithRole(t, `ds-hidden-${dialect}`, 'AzureML Data Scientist', W);
      const put = (name: string, account: string, credentials: unknown) =>
        t.request(
          'PUT',
          `${W}/datastores/${name}?${V}`,
          {
            properties: {
              datastoreType: 'AzureBlob',
              accountName: account,
              containerName: 'stuff',
              ...(credentials ? { credentials } : {}),
            },
          },
          { token: member.token },
        );
      const missing = await put('probe0', 'nosuchacct42', { credentialsType: 'None' });
      assert.equal(missing.status, 400, missing.text);
      const wrongKey = { credentialsType: 'AccountKey', secrets: { secretsType: 'AccountKey', key: 'bm90LWEta2V5' } };
      for (const [name, credentials] of [
        ['probe1', { credentialsType: 'None' }],
        ['probe2', undefined],
        ['probe3', wrongKey],
      ] as const) {
        const r = await put(name, hidden, credentials);
        assert.equal(r.status, 400, `${name}: ${r.text}`);
        assert.equal(r.body.error.message, missing.body.error.message.replace('nosuchacct42', hidden), r.text);
        assert.doesNotMatch(r.text, /hidden-rg/);
        assert.equal((await t.request('GET', `${W}/datastores/${name}?${V}`)).status, 404);
      }
      // Giving the account's key proves the caller may use it.
      const ok = await put('withkey', hidden, {
        credentialsType: 'AccountKey',
        secrets: { secretsType: 'AccountKey', key },
      });
      assert.equal(ok.status, 201, ok.text);
    });

    it('validates datastore bodies and leaves nothing behind', async () => {
      const before = (await t.request('GET', `${W}/datastores?${V}`)).body.value.length;
      for (const [name, body] of [
        ['bad-name', { properties: { datastoreType: 'ServerFolder', path: allowed } }],
        ['x1', { properties: { datastoreType: 'Ftp' } }],
        [
          'x2',
          {
            properties: {
              datastoreType: 'AzureBlob',
              accountName: 'nosuchacct',
              containerName: 'abc',
              credentials: { credentialsType: 'None' },
            },
          },
        ],
        ['x3', { properties: { datastoreType: 'AzureBlob', accountName: 'UPPER', containerName: 'abc' } }],
        ['x4', { properties: { datastoreType: 'ServerFolder', path: allowed, extra: 1 } }],
        [
          'x5',
          {
            properties: {
              datastoreType: 'S3',
              endpoint: 'ftp://x',
              bucket: 'abc',
              credentials: { credentialsType: 'AccessKey', accessKeyId: 'a', secrets: { secretAccessKey: 'b' } },
            },
          },
        ],
        ['workspaceblobstore2', { nope: true }],
      ] as const) {
        const r = await t.request('PUT', `${W}/datastores/${name}?${V}`, body);
        assert.equal(r.status, 400, `${name}: ${r.text}`);
        assert.ok(r.body.error.message.length > 10);
      }
      assert.equal((await t.request('GET', `${W}/datastores?${V}`)).body.value.length, before);
    });

    it('key vault secrets: values sealed at rest, names-only listing, secrets/read to read', async () => {
      const vault = ws.properties.keyVault as string;
      const value = `s3cr3t-${crypto.randomBytes(8).toString('hex')}`;
      const set = await t.request('PUT', `${vault}/secrets/db-password?api-version=7.4`, {
        value,
        contentType: 'text/plain',
        tags: { team: 'a' },
      });
      assert.equal(set.status, 200, set.text);
      assert.equal(set.body.value, value);
      assert.equal(set.body.contentType, 'text/plain');
      const got = await t.request('GET', `${vault}/secrets/DB-PASSWORD?api-version=7.4`);
      assert.equal(got.body.value, value);
      const list = await t.request('GET', `${vault}/secrets?api-version=7.4`);
      assert.ok(list.body.value.some((s: any) => s.id.endsWith('/secrets/db-password')));
      assert.equal(list.text.includes(value), false);

      const reader = await userWithRole(t, `kvreader-${dialect}`, 'Reader', groupPath(t, 'assets-rg'));
      assert.equal(
        (await t.request('GET', `${vault}/secrets?api-version=7.4`, undefined, { token: reader.token })).status,
        200,
      );
      assert.equal(
        (await t.request('GET', `${vault}/secrets/db-password?api-version=7.4`, undefined, { token: reader.token }))
          .status,
        403,
      );
      assert.equal(
        (await t.request('PUT', `${vault}/secrets/x?api-version=7.4`, { value: 'v' }, { token: reader.token })).status,
        403,
      );
      assert.equal((await t.request('PUT', `${vault}/secrets/bad_name?api-version=7.4`, { value: 'v' })).status, 400);
      // A role on the workspace reaches the workspace's key vault (ws.getDefaultKeyvault()).
      const wsContributor = await userWithRole(t, `kv-ws-contrib-${dialect}`, 'Contributor', W);
      assert.equal(
        (
          await t.request('GET', `${vault}/secrets/db-password?api-version=7.4`, undefined, {
            token: wsContributor.token,
          })
        ).body.value,
        value,
      );
      const wsReader = await userWithRole(t, `kv-ws-reader-${dialect}`, 'Reader', W);
      assert.equal(
        (await t.request('GET', `${vault}/secrets/db-password?api-version=7.4`, undefined, { token: wsReader.token }))
          .status,
        403,
      );
      const outsider = await userWithRole(t, `kv-outsider-${dialect}`, null);
      assert.equal(
        (await t.request('GET', `${vault}/secrets?api-version=7.4`, undefined, { token: outsider.token })).status,
        404,
      );

      // Nothing on disk or in the database holds the value in clear.
      if (dialect === 'sqlite') {
        t.server.ctx.database.sqlite!.pragma('wal_checkpoint(FULL)');
        for (const f of [...filesBelow(t.home)])
          assert.equal(fs.readFileSync(f).includes(value), false, `${f} holds the secret`);
      } else {
        for (const table of ['vault_secrets', 'resources', 'resource_keys', 'data_keys']) {
          const rows = await t.server.ctx.db
            .selectFrom(table as 'resources')
            .selectAll()
            .execute();
          assert.equal(JSON.stringify(rows).includes(value), false, `${table} holds the secret`);
        }
        for (const f of filesBelow(t.home))
          assert.equal(fs.readFileSync(f).includes(value), false, `${f} holds the secret`);
      }

      const del = await t.request('DELETE', `${vault}/secrets/db-password?api-version=7.4`);
      assert.equal(del.status, 200);
      assert.equal((await t.request('GET', `${vault}/secrets/db-password?api-version=7.4`)).status, 404);
    });

    it('deleting the workspace removes its datastores and their secrets from the key vault it leaves behind', async () => {
      const vault = ws.properties.keyVault as string;
      const acct = `${groupPath(t, 'assets-rg')}/providers/Microsoft.Storage/storageAccounts/otheracct${dialect === 'sqlite' ? 's' : 'p'}`;
      const key = (await t.request('POST', `${acct}/listKeys?${V}`)).body.keys[0].value;
      const put = await t.request('PUT', `${W}/datastores/lastone?${V}`, {
        properties: {
          datastoreType: 'AzureBlob',
          accountName: acct.split('/').pop(),
          containerName: 'last',
          credentials: { credentialsType: 'AccountKey', secrets: { secretsType: 'AccountKey', key } },
        },
      });
      assert.equal(put.status, 201, put.text);
      assert.equal((await t.request('PUT', `${vault}/secrets/keep-me?api-version=7.4`, { value: 'kept' })).status, 200);
      const secretNames = async () =>
        (
          await t.server.ctx.db
            .selectFrom('vault_secrets')
            .select('name')
            .where('vault_key', '=', vault.toLowerCase())
            .execute()
        ).map((r) => r.name);
      assert.ok((await secretNames()).some((n) => n.startsWith('datastore-')));
      const del = await t.request('DELETE', `${W}?${V}`);
      assert.equal(del.status, 202, del.text);
      assert.equal((await waitForOperation(t, del.headers.get('azure-asyncoperation')!)).status, 'Succeeded');
      assert.deepEqual(await secretNames(), ['keep-me']);
      const left = await t.server.ctx.db
        .selectFrom('resources')
        .select('id')
        .where('id_key', 'like', `${W.toLowerCase()}/%`)
        .execute();
      assert.deepEqual(left, []);
    });
  });
}
