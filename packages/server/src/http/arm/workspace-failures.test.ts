import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { startTestServer, testDialects, migratedPostgres, type TestServer } from '../../testing/harness.js';
import { ResourceEngine } from '../../resources/engine.js';
import { DependentResources } from '../../resources/dependents.js';
import { workspaceDef } from '../../resources/workspaces.js';
import { V, createWorkspace, groupPath, rowCounts, waitForOperation, wsPath } from './arm-test-helpers.js';

for (const dialect of testDialects()) {
  describe(`workspace failures and recovery (${dialect})`, () => {
    let t: TestServer;
    before(async () => {
      t = await startTestServer(dialect);
    });
    after(async () => {
      await t?.close();
    });

    it('a failed provisioning (blob folder cannot be made) fails the operation and undoes everything', async () => {
      assert.equal((await t.request('PUT', `${groupPath(t, 'broken')}?${V}`, { location: 'local' })).status, 201);
      const before = await rowCounts(t);
      // A real failure: the blob root is a file, so no storage account folder can be created.
      const blobs = path.join(t.home, 'blobs');
      fs.rmSync(blobs, { recursive: true, force: true });
      fs.writeFileSync(blobs, 'not a folder');
      try {
        const put = await t.request('PUT', `${wsPath(t, 'broken', 'ws-broken')}?${V}`, { location: 'local' });
        assert.equal(put.status, 201, put.text);
        const op = await waitForOperation(t, put.headers.get('azure-asyncoperation')!);
        assert.equal(op.status, 'Failed');
        assert.match(op.error!.message, /blob folder/);
        const loc = await t.request('GET', put.headers.get('location')!);
        assert.ok(loc.status >= 400, `Location poll of a failed operation answers an error (${loc.status})`);
        assert.equal(loc.body.error.code, op.error!.code);
      } finally {
        fs.rmSync(blobs, { force: true });
        fs.mkdirSync(blobs);
      }
      assert.equal((await t.request('GET', `${wsPath(t, 'broken', 'ws-broken')}?${V}`)).status, 404);
      const inGroup = await t.request('GET', `${groupPath(t, 'broken')}/resources?${V}`);
      assert.deepEqual(inGroup.body.value, [], 'no vault, insights or storage account is left');
      const afterCounts = await rowCounts(t);
      assert.deepEqual({ ...afterCounts, operations: 0 }, { ...before, operations: 0 });
      assert.equal(afterCounts.operations, before.operations + 1);
      // The same name works once the cause is gone.
      await createWorkspace(t, 'broken', 'ws-broken');
    });

    it('deleting a resource group deletes its workspaces, dependents, blobs and keys', async () => {
      const before = await rowCounts(t);
      const ws = await createWorkspace(t, 'doomed', 'ws-doomed');
      const account = ws.properties.storageAccount.split('/').pop();
      assert.ok(fs.existsSync(path.join(t.home, 'blobs', account)));
      const r = await t.request('DELETE', `${groupPath(t, 'doomed')}?${V}`);
      assert.equal(r.status, 200, r.text);
      assert.equal((await t.request('GET', `${wsPath(t, 'doomed', 'ws-doomed')}?${V}`)).status, 404);
      assert.equal(fs.existsSync(path.join(t.home, 'blobs', account)), false);
      const afterCounts = await rowCounts(t);
      for (const table of ['resources', 'resource_keys', 'workspace_ids', 'data_keys', 'resource_groups'] as const)
        assert.equal(afterCounts[table], before[table], table);
    });
  });

  describe(`operations interrupted by a crash (${dialect})`, () => {
    it('are failed and undone when a server starts', async () => {
      const home = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-crash-'));
      const pg = dialect === 'postgres' ? await migratedPostgres() : undefined;
      try {
        let t = await startTestServer(dialect, { home, databaseUrl: pg?.url });
        const { ctx } = t.server;
        assert.equal((await t.request('PUT', `${groupPath(t, 'crash')}?${V}`, { location: 'local' })).status, 201);
        // What a process that died half-way through a create leaves: a workspace in Creating, a key
        // vault it made (recorded in the journal), and an InProgress operation nobody beats for.
        const engine = new ResourceEngine(ctx);
        const deps = new DependentResources(ctx, engine);
        const vault = await deps.createKeyVault(
          { subscriptionId: t.subscriptionId, resourceGroup: 'crash', name: 'kvcrash01', location: 'local' },
          'user:admin',
        );
        const wsId = wsPath(t, 'crash', 'ws-crash');
        await engine.put(
          workspaceDef,
          wsId,
          { location: 'local', properties: { workspaceId: crypto.randomUUID(), provisioningState: 'Creating' } },
          'user:admin',
        );
        const old = Date.now() - 60_000;
        // And one that died before it even recorded the operation.
        const orphan = wsPath(t, 'crash', 'ws-orphan');
        await engine.put(
          workspaceDef,
          orphan,
          {
            location: 'local',
            properties: { workspaceId: crypto.randomUUID(), provisioningState: 'Creating', stateSince: old },
          },
          'user:admin',
        );
        const opId = crypto.randomUUID();
        await ctx.db
          .insertInto('operations')
          .values({
            id: opId,
            subscription_id: t.subscriptionId,
            location: 'local',
            kind: 'workspace.create',
            resource_id: wsId,
            status: 'InProgress',
            error: null,
            result: JSON.stringify({ made: [vault.id] }),
            owner: 'a-process-that-crashed',
            created_at: old,
            updated_at: old,
            requested_by: null,
          })
          .execute();
        // A finished operation older than the retention (a week) is purged.
        const ancient = Date.now() - 8 * 86_400_000;
        const oldOp = crypto.randomUUID();
        await ctx.db
          .insertInto('operations')
          .values({
            id: oldOp,
            subscription_id: t.subscriptionId,
            location: 'local',
            kind: 'workspace.resyncKeys',
            resource_id: wsId,
            status: 'Succeeded',
            error: null,
            result: '{}',
            owner: 'gone',
            created_at: ancient,
            updated_at: ancient,
            requested_by: null,
          })
          .execute();
        // And one that died after its workspace reached Succeeded, before the operation was marked done.
        const done = await createWorkspace(t, 'crash', 'ws-done');
        const doneOp = crypto.randomUUID();
        const doneMade = [
          done.properties.keyVault,
          done.properties.applicationInsights,
          done.properties.storageAccount,
        ];
        await ctx.db
          .insertInto('operations')
          .values({
            id: doneOp,
            subscription_id: t.subscriptionId,
            location: 'local',
            kind: 'workspace.create',
            resource_id: done.id,
            status: 'InProgress',
            error: null,
            result: JSON.stringify({ made: doneMade, hooks: true }),
            owner: 'a-process-that-crashed',
            created_at: old,
            updated_at: old,
            requested_by: null,
          })
          .execute();
        await t.close({ keepData: true });

        t = await startTestServer(dialect, { home, databaseUrl: pg?.url });
        try {
          // Recovery never removes a workspace that reached Succeeded: its operation is Succeeded too.
          const finished = await t.request(
            'GET',
            `/subscriptions/${t.subscriptionId}/providers/Microsoft.MachineLearningServices/locations/local/workspaceOperationsStatus/${doneOp}?${V}`,
          );
          assert.equal(finished.body.status, 'Succeeded', finished.text);
          const kept = await t.request('GET', `${done.id}?${V}`);
          assert.equal(kept.status, 200, kept.text);
          assert.equal(kept.body.properties.provisioningState, 'Succeeded');
          for (const dep of doneMade) assert.equal((await t.request('GET', `${dep}?${V}`)).status, 200, dep);
          assert.equal((await t.request('GET', `${done.id}/datastores/workspaceblobstore?${V}`)).status, 200);
          assert.equal((await t.request('POST', `${done.id}/listKeys?${V}`)).status, 200);
          const op = await t.request(
            'GET',
            `/subscriptions/${t.subscriptionId}/providers/Microsoft.MachineLearningServices/locations/local/workspaceOperationsStatus/${opId}?${V}`,
          );
          assert.equal(op.status, 200, op.text);
          assert.equal(op.body.status, 'Failed');
          assert.equal(op.body.error.code, 'OperationInterrupted');
          assert.equal((await t.request('GET', `${wsId}?${V}`)).status, 404);
          assert.equal((await t.request('GET', `${vault.id}?${V}`)).status, 404);
          assert.equal((await t.request('GET', `${orphan}?${V}`)).status, 404);
          assert.equal(
            (await t.server.ctx.db.selectFrom('operations').select('id').where('id', '=', oldOp).execute()).length,
            0,
          );
        } finally {
          await t.close({ keepData: true });
        }
      } finally {
        await pg?.drop();
        fs.rmSync(home, { recursive: true, force: true });
      }
    });
  });
}
