import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AzureMachineLearningWorkspaces } from '@azure/arm-machinelearning';
import type { TokenCredential } from '@azure/core-auth';
import { startServer, type RunningServer } from '../../../server.js';
import { ensureSelfSignedCertificate } from '../../../identity/tls.js';
import { ADMIN_PASSWORD } from '../../../testing/harness.js';
import { httpsJson, passwordToken } from '../../../testing/tls-clients.js';

/**
 * The official Azure SDK for JavaScript (@azure/arm-machinelearning) against the asset routes over
 * HTTPS: datastores (+listSecrets), data and environment versions, connections, private endpoint
 * connections and diagnose. SQLite: this checks wire shapes; the store suites cover PostgreSQL.
 */

describe('Azure SDK for JavaScript against the workspace assets', () => {
  let server: RunningServer;
  let home: string;
  let client: AzureMachineLearningWorkspaces;
  const lro = { updateIntervalInMs: 20 };

  before(async () => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-azsdk-assets-'));
    const tls = await ensureSelfSignedCertificate(home, ['127.0.0.1', 'localhost']);
    const ca = fs.readFileSync(tls.caFile, 'utf8');
    server = await startServer(
      { home, port: 0, logLevel: 'silent', adminPassword: ADMIN_PASSWORD, tlsCert: tls.certFile, tlsKey: tls.keyFile },
      {},
    );
    const token = await passwordToken(server.url, ca, 'admin', ADMIN_PASSWORD);
    const sub = server.ctx.defaultSubscriptionId;
    await httpsJson(
      'PUT',
      `${server.url}/subscriptions/${sub}/resourcegroups/sdk-rg?api-version=2025-09-01`,
      ca,
      token,
      { location: 'local' },
    );
    const credential: TokenCredential = {
      getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3_600_000 }),
    };
    client = new AzureMachineLearningWorkspaces(credential, sub, {
      endpoint: server.url,
      credentialScopes: ['https://management.azure.com/.default'],
      tlsOptions: { ca },
      retryOptions: { maxRetries: 0 },
    });
    await client.workspaces.beginCreateOrUpdateAndWait('sdk-rg', 'sdk-ws', { location: 'local' }, lro);
  });
  after(async () => {
    await server?.close();
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('datastores: list, get, create on another storage account, listSecrets, delete', async () => {
    const names: string[] = [];
    for await (const d of client.datastores.list('sdk-rg', 'sdk-ws')) names.push(d.name!);
    assert.deepEqual(names.sort(), [
      'workspaceartifactstore',
      'workspaceblobstore',
      'workspacefilestore',
      'workspaceworkingdirectory',
    ]);
    const blob = await client.datastores.get('sdk-rg', 'sdk-ws', 'workspaceblobstore');
    assert.equal(blob.properties.datastoreType, 'AzureBlob');
    assert.equal(blob.properties.isDefault, true);

    const ws = await client.workspaces.get('sdk-rg', 'sdk-ws');
    const account = ws.storageAccount!.split('/').pop()!;
    const keys = await client.workspaces.listKeys('sdk-rg', 'sdk-ws');
    const made = await client.datastores.createOrUpdate('sdk-rg', 'sdk-ws', 'mydata', {
      properties: {
        datastoreType: 'AzureBlob',
        accountName: account,
        containerName: 'mine',
        credentials: {
          credentialsType: 'AccountKey',
          secrets: { secretsType: 'AccountKey', key: keys.userStorageKey },
        },
      },
    } as never);
    assert.equal(made.name, 'mydata');
    const secrets = (await client.datastores.listSecrets('sdk-rg', 'sdk-ws', 'mydata')) as {
      secretsType: string;
      key?: string;
    };
    assert.equal(secrets.secretsType, 'AccountKey');
    assert.equal(secrets.key, keys.userStorageKey);
    await client.datastores.delete('sdk-rg', 'sdk-ws', 'mydata');
    await assert.rejects(
      client.datastores.get('sdk-rg', 'sdk-ws', 'mydata'),
      (e: { statusCode?: number }) => e.statusCode === 404,
    );
  });

  it('data and environment versions, connections, private endpoint connections, diagnose', async () => {
    const v = await client.dataVersions.createOrUpdate('sdk-rg', 'sdk-ws', 'iris', '1', {
      properties: {
        dataType: 'uri_file',
        dataUri: 'azureml://datastores/workspaceblobstore/paths/iris.csv',
        description: 'iris',
      },
    } as never);
    assert.equal(
      (v.properties as { dataUri: string }).dataUri,
      'azureml://datastores/workspaceblobstore/paths/iris.csv',
    );
    const c = await client.dataContainers.get('sdk-rg', 'sdk-ws', 'iris');
    assert.equal(c.properties.latestVersion, '1');

    const env = await client.environmentVersions.createOrUpdate('sdk-rg', 'sdk-ws', 'train', '1', {
      properties: { image: 'python:3.11-slim', condaFile: 'name: x\ndependencies:\n  - python=3.11\n' },
    });
    assert.equal(env.properties.image, 'python:3.11-slim');
    const envNames: string[] = [];
    for await (const e of client.environmentContainers.list('sdk-rg', 'sdk-ws')) envNames.push(e.name!);
    assert.ok(envNames.includes('train') && envNames.includes('AzureML-sklearn-1.5'), envNames.join(','));

    const conn = await client.workspaceConnections.create('sdk-rg', 'sdk-ws', 'git', {
      properties: {
        authType: 'PAT',
        category: 'Git',
        target: 'https://git.example.com/repo',
        credentials: { pat: 'tok-abc' },
      } as never,
    });
    assert.equal(conn.properties.category, 'Git');
    assert.equal(JSON.stringify(conn).includes('tok-abc'), false);
    const conns: string[] = [];
    for await (const x of client.workspaceConnections.list('sdk-rg', 'sdk-ws', { category: 'Git' }))
      conns.push(x.name!);
    assert.deepEqual(conns, ['git']);
    await client.workspaceConnections.delete('sdk-rg', 'sdk-ws', 'git');

    const pecs: string[] = [];
    for await (const p of client.privateEndpointConnections.list('sdk-rg', 'sdk-ws')) pecs.push(p.name!);
    assert.deepEqual(pecs, []);

    const report = await client.workspaces.beginDiagnoseAndWait('sdk-rg', 'sdk-ws', {
      parameters: { value: {} },
      ...lro,
    });
    assert.ok(
      report.value?.storageAccountResults?.some((r) => r.code === 'StorageWritable'),
      JSON.stringify(report),
    );
  });
});
