import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { migratedPostgres, startTestServer, testDialects, type TestServer } from '../testing/harness.js';
import { V, createWorkspace, wsPath } from '../http/arm/arm-test-helpers.js';
import { findUv } from '../environment-builds/environment-builds.js';
import { BUILD_OPERATION } from './environments.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const ci = path.join(ROOT, '.ci', '.venv', 'bin', 'uv');
const uv = findUv() ?? (fs.existsSync(ci) ? ci : undefined);
if (!uv && process.env.ATELIER_TEST_STRICT === '1')
  throw new Error('uv is not installed (ATELIER_UV or .ci/.venv/bin/uv): environment builds cannot be tested');

type Status = { status: string; log: string; buildId?: string; error?: { code: string; message: string } };

async function poll(t: TestServer, location: string): Promise<Status> {
  for (let i = 0; i < 1200; i++) {
    const r = await t.request('GET', location);
    assert.equal(r.status, 200, r.text);
    const b = r.body as Status;
    if (b.status !== 'Running') return b;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error('the build did not end');
}

// azureml-core's env.build(ws) (POST /environment/v2.0/…/image, then polls the answered location):
// a durable operation row, answered after a restart; a build whose server died is recovered.
for (const dialect of testDialects()) {
  describe(`env.build as a durable operation (${dialect})`, { skip: uv ? undefined : 'uv is not installed' }, () => {
    it('polls to Succeeded/Failed with the log; the row survives a restart; a crashed build is recovered', async () => {
      const saved = process.env.ATELIER_UV;
      process.env.ATELIER_UV = uv;
      const home = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-envbuild-'));
      const db = dialect === 'postgres' ? await migratedPostgres() : undefined;
      let t = await startTestServer(dialect, { home, databaseUrl: db?.url });
      try {
        await createWorkspace(t, 'eb-rg', 'eb-ws');
        const W = wsPath(t, 'eb-rg', 'eb-ws');
        const envs: Record<string, object> = {
          tiny: { image: 'python:3.11-slim', pipRequirements: 'six==1.17.0\n' },
          broken: { image: 'python:3.11-slim', pipRequirements: 'atelier-no-such-package-for-tests==0.0.1\n' },
          'image-only': { image: 'python:3.11-slim' },
        };
        const ids: Record<string, string> = {};
        for (const [name, properties] of Object.entries(envs)) {
          const r = await t.request('PUT', `${W}/environments/${name}/versions/1?${V}`, { properties });
          assert.equal(r.status, 201, r.text);
          ids[name] = (r.body as { id: string }).id;
        }
        const build = (name: string) =>
          t.request('POST', `/environment/v2.0${W}/environments/${name}/versions/1/image`, {});

        const ok = await build('tiny');
        assert.equal(ok.status, 202, ok.text);
        // (A path: the restarted server below listens on another port.)
        const location = new URL((ok.body as { location: string }).location).pathname;
        const done = await poll(t, location);
        assert.equal(done.status, 'Succeeded', JSON.stringify(done));
        assert.match(done.log, /six/);
        const bad = await build('broken');
        assert.equal(bad.status, 202, bad.text);
        const failed = await poll(t, (bad.body as { location: string }).location);
        assert.equal(failed.status, 'Failed');
        assert.match(failed.log, /atelier-no-such-package-for-tests/);
        // A version that cannot be built is refused before anything starts: no operation row.
        const refused = await build('image-only');
        assert.equal(refused.status, 400, refused.text);
        const rows = await t.server.ctx.db
          .selectFrom('operations')
          .selectAll()
          .where('kind', '=', BUILD_OPERATION)
          .execute();
        assert.deepEqual(rows.map((r) => r.resource_id).sort(), [ids.broken, ids.tiny].sort());
        // Another build's location is no build of this version.
        const other = location.replace('/environments/tiny/', '/environments/broken/');
        assert.equal((await t.request('GET', other)).status, 404);

        // Two builds whose server died mid-way (stale heartbeats): one had finished its build record.
        const stale = Date.now() - 60_000;
        const row = (id: string, result: object) => ({
          id,
          subscription_id: t.subscriptionId.toLowerCase(),
          location: 'local',
          kind: BUILD_OPERATION,
          resource_id: ids.tiny!,
          status: 'InProgress',
          error: null,
          result: JSON.stringify(result),
          owner: 'a-stopped-server',
          created_at: stale,
          updated_at: stale,
          requested_by: null,
        });
        const finished = '00000000-0000-4000-8000-000000000001';
        const interrupted = '00000000-0000-4000-8000-000000000002';
        const ws = { id: W, name: 'eb-ws' };
        await t.server.ctx.db
          .insertInto('operations')
          .values([row(finished, { workspace: ws, buildId: done.buildId }), row(interrupted, { workspace: ws })])
          .execute();

        await t.close({ keepData: true });
        t = await startTestServer(dialect, { home, databaseUrl: db?.url });
        await t.server.services.operations.sweep();
        // The finished build's row answers after the restart, from the database.
        const after = await poll(t, location);
        assert.equal(after.status, 'Succeeded');
        assert.match(after.log, /six/);
        const at = (id: string) => location.replace(/\/builds\/[^/]+$/, `/builds/${id}`);
        assert.equal((await poll(t, at(finished))).status, 'Succeeded');
        const lost = await poll(t, at(interrupted));
        assert.equal(lost.status, 'Failed');
        assert.match(lost.log, /server stopped/);
      } finally {
        await t.close();
        await db?.drop();
        fs.rmSync(home, { recursive: true, force: true });
        if (saved === undefined) delete process.env.ATELIER_UV;
        else process.env.ATELIER_UV = saved;
      }
    });
  });
}
