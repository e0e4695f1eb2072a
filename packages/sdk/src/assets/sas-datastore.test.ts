import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestServer, type TestServer } from '../../../server/src/testing/harness.js';
import { Workspace, TokenAuthentication, Datastore, AuthorizationError, ValidationError } from '../index.js';

// A SAS-token datastore through the SDK against a real server (SQLite: the server's suites cover both dialects).
describe('Datastore.registerAzureBlobContainer with a SAS token (SDK)', () => {
  let t: TestServer;
  let tmp: string;
  before(async () => {
    t = await startTestServer('sqlite');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-sdk-sas-'));
  });
  after(async () => {
    await t?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('registers, uploads, lists; a read-only token cannot write', async () => {
    const ws = await Workspace.create({
      name: 'sas-sdk',
      subscriptionId: t.subscriptionId,
      resourceGroup: 'sas-sdk-rg',
      location: 'local',
      showOutput: false,
      endpoint: t.url,
      auth: new TokenAuthentication(t.adminToken),
      env: { ATELIER_CONFIG_DIR: path.join(tmp, 'cfg') },
    });
    const acct = `/subscriptions/${t.subscriptionId}/resourceGroups/sas-sdk-rg/providers/Microsoft.Storage/storageAccounts/sassdkacct`;
    assert.equal((await t.request('PUT', `${acct}?api-version=2023-05-01`, { location: 'local' })).status, 201);
    const token = async (sp: string) =>
      (
        await t.request('POST', `${acct}/listServiceSas?api-version=2023-05-01`, {
          canonicalizedResource: '/blob/sassdkacct/team',
          signedResource: 'c',
          signedPermission: sp,
          signedExpiry: new Date(Date.now() + 3600_000).toISOString(),
        })
      ).body.serviceSasToken as string;
    const ds = await Datastore.registerAzureBlobContainer(ws, {
      datastoreName: 'teamsas',
      containerName: 'team',
      accountName: 'sassdkacct',
      sasToken: `?${await token('rwl')}`,
    });
    assert.equal(ds.properties.credentials?.credentialsType, 'Sas');
    const file = path.join(tmp, 'notes.txt');
    fs.writeFileSync(file, 'via sas');
    await ds.uploadFiles([file], { targetPath: 'docs', showProgress: false });
    assert.deepEqual(
      (await ds.listFiles('docs', { recursive: true })).map((f) => f.path),
      ['docs/notes.txt'],
    );
    const ro = await Datastore.registerAzureBlobContainer(ws, {
      datastoreName: 'teamro',
      containerName: 'team',
      accountName: 'sassdkacct',
      sasToken: await token('rl'),
    });
    await assert.rejects(
      ro.uploadFiles([file], { targetPath: 'other', showProgress: false }),
      (e: Error) => e instanceof AuthorizationError && /does not allow 'write'/.test(e.message),
    );
    await assert.rejects(
      Datastore.registerAzureBlobContainer(ws, {
        datastoreName: 'x',
        containerName: 'team',
        accountName: 'sassdkacct',
        sasToken: 'a',
        accountKey: 'b',
      }),
      ValidationError,
    );
  });
});
