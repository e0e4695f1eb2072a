import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, testDialects, type TestServer } from '../testing/harness.js';
import { ResourceEngine } from './engine.js';
import { OperationService } from '../operations/operations.js';
import { WorkspaceService, type WorkspaceInfo } from './workspaces.js';
import type { Principal } from '../identity/principals.js';

/** The hooks other features use: run on create and delete; a failing create hook undoes the create. */
for (const dialect of testDialects()) {
  describe(`workspace hooks (${dialect})`, () => {
    let t: TestServer;
    let service: WorkspaceService;
    let operations: OperationService;
    let admin: Principal;
    before(async () => {
      t = await startTestServer(dialect);
      const { ctx } = t.server;
      operations = new OperationService(ctx);
      service = new WorkspaceService(ctx, new ResourceEngine(ctx), operations);
      // The resource types (which type serves which dependency) are the server's.
      service.dependents.types = t.server.services.types;
      admin = (await ctx.principals.get((await ctx.principals.findByName('admin'))!.id))!;
      assert.equal(
        (
          await t.request('PUT', `/subscriptions/${t.subscriptionId}/resourceGroups/hooks?api-version=2025-09-01`, {
            location: 'local',
          })
        ).status,
        201,
      );
    });
    after(async () => {
      await operations?.stop();
      await t?.close();
    });

    it('runs onWorkspaceCreated before Succeeded and onWorkspaceDeleting on delete', async () => {
      const created: WorkspaceInfo[] = [];
      const deleting: WorkspaceInfo[] = [];
      service.onWorkspaceCreated.push(async (ws) => {
        created.push(ws);
        assert.equal(ws.provisioningState, 'Creating');
        assert.ok(ws.storageAccountId && ws.keyVaultId);
      });
      service.onWorkspaceDeleting.push(async (ws) => void deleting.push(ws));
      const { operation } = await service.put(t.subscriptionId, 'hooks', 'ws-hooked', { location: 'local' }, admin);
      await operations.drain();
      assert.equal((await operations.get(operation!.id))!.status, 'Succeeded');
      assert.equal(created.length, 1);
      assert.equal(
        (await service.get(t.subscriptionId, 'hooks', 'ws-hooked'))!.properties.provisioningState,
        'Succeeded',
      );
      // The registry is made lazily, by what needs it (image builds), once.
      const ws = (await service.get(t.subscriptionId, 'hooks', 'ws-hooked'))!;
      assert.equal(ws.properties.containerRegistry, undefined);
      const acr = await service.ensureContainerRegistry(ws, admin);
      assert.match(acr, /providers\/Microsoft\.ContainerRegistry\/registries\/wshooked[0-9a-f]{8}$/);
      const withAcr = (await service.get(t.subscriptionId, 'hooks', 'ws-hooked'))!;
      assert.equal(withAcr.properties.containerRegistry, acr);
      assert.equal(await service.ensureContainerRegistry(withAcr, admin), acr);
      const keys = await service.listKeys(withAcr);
      assert.equal((keys.containerRegistryCredentials as { passwords: unknown[] }).passwords.length, 2);
      await service.delete(t.subscriptionId, 'hooks', 'ws-hooked', admin, { deleteDependentResources: true });
      await operations.drain();
      assert.equal(deleting.length, 1);
      assert.equal(deleting[0]!.workspaceId, created[0]!.workspaceId);
      service.onWorkspaceCreated.length = 0;
      service.onWorkspaceDeleting.length = 0;
    });

    it('a failing onWorkspaceCreated hook fails the operation and undoes the workspace and its dependents', async () => {
      const deleting: string[] = [];
      service.onWorkspaceCreated.push(async () => {
        throw new Error('system datastores could not be made');
      });
      service.onWorkspaceDeleting.push(async (ws) => void deleting.push(ws.workspaceId));
      const before = await t.server.ctx.db.selectFrom('resources').select('id').execute();
      const { operation, resource } = await service.put(
        t.subscriptionId,
        'hooks',
        'ws-fails',
        { location: 'local' },
        admin,
      );
      await operations.drain();
      const op = (await operations.get(operation!.id))!;
      assert.equal(op.status, 'Failed');
      assert.match(op.error!.message, /system datastores could not be made/);
      assert.deepEqual(
        deleting,
        [resource.properties.workspaceId],
        'the delete hooks clean up what the create hooks made',
      );
      assert.equal(await service.get(t.subscriptionId, 'hooks', 'ws-fails'), undefined);
      const afterRows = await t.server.ctx.db.selectFrom('resources').select('id').execute();
      assert.deepEqual(afterRows.map((r) => r.id).sort(), before.map((r) => r.id).sort());
    });
  });
}
