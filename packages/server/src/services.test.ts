import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from './config.js';
import { createContext } from './context.js';
import { createServices } from './services.js';
import { workspaceInfo } from './resources/workspaces.js';
import { ADMIN_PASSWORD, migratedPostgres, testDialects } from './testing/harness.js';

/**
 * The composition root without HTTP: what a job worker does. The services are built from config +
 * database alone, a workspace is created and read through them, and the hooks the asset and
 * tracking modules registered on it run (its system datastores are made, and removed with it).
 */
for (const dialect of testDialects()) {
  describe(`services without Fastify (${dialect})`, () => {
    it('builds every service from the context and runs a workspace through them', async () => {
      const home = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-services-'));
      const pg = dialect === 'postgres' ? await migratedPostgres() : undefined;
      const ctx = await createContext(
        loadConfig({}, { home, databaseUrl: pg?.url, logLevel: 'silent', adminPassword: ADMIN_PASSWORD }),
      );
      const services = createServices(ctx);
      try {
        const admin = (await ctx.principals.get((await ctx.principals.findByName('admin'))!.id))!;
        const sub = ctx.defaultSubscriptionId;
        await services.groups.put(sub, 'worker', { location: 'local' }, admin);
        const { resource, operation } = await services.workspaces.put(
          sub,
          'worker',
          'ws-worker',
          { location: 'local' },
          admin,
        );
        assert.ok(operation);
        await services.operations.drain();
        assert.equal((await services.operations.get(operation.id))!.status, 'Succeeded');

        const stored = await services.resources.require(resource.id);
        assert.equal(stored.properties.provisioningState, 'Succeeded');
        const ws = workspaceInfo(ctx, stored);
        // Made by the assets module's onWorkspaceCreated hook (assets/services.ts), not by an HTTP plugin.
        const names = (await services.assets.datastores.list(ws, { top: 100 })).value.map((d) => d.name).sort();
        assert.deepEqual(names, [
          'workspaceartifactstore',
          'workspaceblobstore',
          'workspacefilestore',
          'workspaceworkingdirectory',
        ]);
        const exp = await services.tracking.experiments.create(ws.workspaceId, 'from-a-worker', undefined, undefined);
        assert.equal((await services.tracking.experiments.get(ws.workspaceId, exp)).name, 'from-a-worker');

        const del = await services.workspaces.delete(sub, 'worker', 'ws-worker', admin, {
          deleteDependentResources: true,
        });
        assert.ok(del);
        await services.operations.drain();
        assert.equal(await services.resources.get(resource.id), undefined);
        assert.equal(await services.resources.get(`${resource.id}/datastores/workspaceblobstore`), undefined);
        // The tracking module's onWorkspaceDeleting hook took the experiment along.
        await assert.rejects(
          services.tracking.experiments.get(ws.workspaceId, exp),
          /No Experiment with id=\d+ exists/,
        );
      } finally {
        await services.operations.stop();
        for (const f of ctx.onClose.reverse()) await f();
        await ctx.database.close();
        await pg?.drop();
        fs.rmSync(home, { recursive: true, force: true });
      }
    });
  });
}
