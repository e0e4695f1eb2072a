import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AzureMachineLearningWorkspaces } from '@azure/arm-machinelearning';
import type { TokenCredential } from '@azure/core-auth';
import { startServer, type RunningServer } from '../../server.js';
import { ensureSelfSignedCertificate } from '../../identity/tls.js';
import { migratedPostgres, testDialects, ADMIN_PASSWORD } from '../../testing/harness.js';
import { httpsJson, passwordToken } from '../../testing/tls-clients.js';

/**
 * The official Azure SDK for JavaScript (@azure/arm-machinelearning, api-version 2022-10-01) against
 * a real server over HTTPS (the SDK refuses bearer tokens over plain http): LRO create/update/
 * delete, get, both lists, listKeys, resyncKeys, and its error type.
 */

for (const dialect of testDialects()) {
  describe(`Azure SDK for JavaScript against the control plane (${dialect})`, () => {
    let server: RunningServer;
    let home: string;
    let drop: (() => Promise<void>) | undefined;
    let client: AzureMachineLearningWorkspaces;
    const lro = { updateIntervalInMs: 20 };

    before(async () => {
      home = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-azsdk-'));
      const tls = await ensureSelfSignedCertificate(home, ['127.0.0.1', 'localhost']);
      const ca = fs.readFileSync(tls.caFile, 'utf8');
      let databaseUrl: string | undefined;
      if (dialect === 'postgres') ({ url: databaseUrl, drop } = await migratedPostgres());
      server = await startServer(
        {
          home,
          port: 0,
          logLevel: 'silent',
          adminPassword: ADMIN_PASSWORD,
          tlsCert: tls.certFile,
          tlsKey: tls.keyFile,
          databaseUrl,
        },
        {},
      );
      const token = await passwordToken(server.url, ca, 'admin', ADMIN_PASSWORD);
      const sub = server.ctx.defaultSubscriptionId;
      const rg = await httpsJson(
        'PUT',
        `${server.url}/subscriptions/${sub}/resourcegroups/sdk-rg?api-version=2025-09-01`,
        ca,
        token,
        { location: 'local' },
      );
      assert.equal(rg.status, 201);
      const credential: TokenCredential = {
        getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3_600_000 }),
      };
      client = new AzureMachineLearningWorkspaces(credential, sub, {
        endpoint: server.url,
        credentialScopes: ['https://management.azure.com/.default'],
        tlsOptions: { ca },
        retryOptions: { maxRetries: 0 },
      });
    });
    after(async () => {
      await server?.close();
      await drop?.();
      fs.rmSync(home, { recursive: true, force: true });
    });

    it('creates, reads, lists, updates, lists keys, resyncs and deletes a workspace', async () => {
      const created = await client.workspaces.beginCreateOrUpdateAndWait(
        'sdk-rg',
        'sdk-ws',
        { location: 'local', friendlyName: 'From the SDK', tags: { via: 'sdk' } },
        lro,
      );
      assert.equal(created.provisioningState, 'Succeeded');
      assert.match(created.workspaceId!, /^[0-9a-f-]{36}$/);
      assert.equal(created.friendlyName, 'From the SDK');
      assert.match(created.storageAccount!, /Microsoft\.Storage\/storageAccounts/);
      assert.equal(created.mlFlowTrackingUri, `${server.url}/mlflow/v1.0${created.id}`);
      assert.equal(created.systemData?.createdBy, 'admin');

      const got = await client.workspaces.get('sdk-rg', 'sdk-ws');
      assert.equal(got.workspaceId, created.workspaceId);
      assert.equal(got.identity?.type, 'SystemAssigned');
      const byGroup = [];
      for await (const w of client.workspaces.listByResourceGroup('sdk-rg')) byGroup.push(w.name);
      assert.deepEqual(byGroup, ['sdk-ws']);
      const bySub = [];
      for await (const w of client.workspaces.listBySubscription()) bySub.push(w.name);
      assert.ok(bySub.includes('sdk-ws'));

      const updated = await client.workspaces.beginUpdateAndWait(
        'sdk-rg',
        'sdk-ws',
        { description: 'updated', tags: { via: 'sdk', v: '2' } },
        lro,
      );
      assert.equal(updated.description, 'updated');
      assert.deepEqual(updated.tags, { via: 'sdk', v: '2' });

      const keys = await client.workspaces.listKeys('sdk-rg', 'sdk-ws');
      assert.ok(keys.userStorageKey && keys.userStorageKey.length > 40);
      assert.equal(keys.userStorageResourceId, created.storageAccount);
      assert.match(keys.appInsightsInstrumentationKey!, /^[0-9a-f-]{36}$/);
      await client.workspaces.beginResyncKeysAndWait('sdk-rg', 'sdk-ws', lro);

      await assert.rejects(
        client.workspaces.get('sdk-rg', 'no-such-ws'),
        (e: { statusCode?: number; code?: string }) => e.statusCode === 404 && e.code === 'ResourceNotFound',
      );
      await assert.rejects(
        client.workspaces.beginUpdateAndWait('sdk-rg', 'sdk-ws', { publicNetworkAccess: 'Sometimes' }, lro),
        (e: { statusCode?: number }) => e.statusCode === 400,
      );

      await client.workspaces.beginDeleteAndWait('sdk-rg', 'sdk-ws', lro);
      await assert.rejects(
        client.workspaces.get('sdk-rg', 'sdk-ws'),
        (e: { statusCode?: number }) => e.statusCode === 404,
      );
    });
  });
}
