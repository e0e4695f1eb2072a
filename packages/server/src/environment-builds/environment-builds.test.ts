import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startTestServer, testDialects, type TestServer } from '../testing/harness.js';
import { V, createWorkspace, wsPath } from '../http/arm/arm-test-helpers.js';
import { resolveWorkspace } from '../resources/workspaces.js';
import type { WorkspaceInfo } from '../resources/workspace-info.js';
import { EnvironmentBuildService, findUv } from './environment-builds.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

/** uv from ATELIER_UV, PATH, or the CI venv (.ci/.venv/bin/uv); CI (strict) fails without it. */
function uvForTests(): string | undefined {
  const ci = path.join(ROOT, '.ci', '.venv', 'bin', 'uv');
  const found = findUv() ?? (fs.existsSync(ci) ? ci : undefined);
  if (!found && process.env.ATELIER_TEST_STRICT === '1')
    throw new Error('uv is not installed (ATELIER_UV or .ci/.venv/bin/uv): environment builds cannot be tested');
  return found;
}
const uv = uvForTests();

/** Real builds from PyPI with one tiny pure-Python package (six), the uv cache shared with the machine. */
for (const dialect of testDialects()) {
  describe(`environment builds (${dialect})`, { skip: uv ? undefined : 'uv is not installed' }, () => {
    let t: TestServer;
    let W: string;
    let ws: WorkspaceInfo;
    const saved = process.env.ATELIER_UV;
    before(async () => {
      process.env.ATELIER_UV = uv;
      t = await startTestServer(dialect);
      await createWorkspace(t, 'env-rg', 'env-ws');
      W = wsPath(t, 'env-rg', 'env-ws');
      ws = await resolveWorkspace(t.server.ctx, t.subscriptionId, 'env-rg', 'env-ws');
      const envs: Record<string, object> = {
        tiny: { image: 'python:3.11-slim', pipRequirements: 'six==1.17.0\n' },
        'tiny-conda': {
          image: 'python:3.11-slim',
          condaFile:
            'name: t\nchannels: [conda-forge]\ndependencies:\n  - python=3.11\n  - pip\n  - pip:\n    - six==1.17.0\n',
        },
        'image-only': { image: 'python:3.11-slim' },
        'conda-only': {
          image: 'python:3.11-slim',
          condaFile: 'dependencies:\n  - python=3.11\n  - cudatoolkit=11.8\n',
        },
        broken: { image: 'python:3.11-slim', pipRequirements: 'atelier-no-such-package-for-tests==0.0.1\n' },
      };
      for (const [name, properties] of Object.entries(envs)) {
        const r = await t.request('PUT', `${W}/environments/${name}/versions/1?${V}`, { properties });
        assert.equal(r.status, 201, r.text);
      }
    });
    after(async () => {
      if (saved === undefined) delete process.env.ATELIER_UV;
      else process.env.ATELIER_UV = saved;
      await t?.close();
    });

    it('builds a pip environment once (concurrent ensure), then reuses it, also from a new process', async () => {
      const builds = t.server.services.environmentBuilds;
      const [a, b] = await Promise.all([
        builds.ensure(ws, 'tiny:1'),
        builds.ensure(ws, `${W}/environments/tiny/versions/1`),
      ]);
      assert.equal(a.envDir, b.envDir);
      assert.equal(a.status, 'Succeeded');
      assert.deepEqual(a.pipRequirements, ['six==1.17.0']);
      assert.ok(a.envDir.startsWith(path.join(t.home, 'environments')));
      const version = execFileSync(a.pythonPath, ['-c', 'import six; print(six.__version__)'], { encoding: 'utf8' });
      assert.equal(version.trim(), '1.17.0');
      assert.match(a.log, /uv/);
      // The conda file with the same python and pip list is another spec (python pinned) — built separately.
      const conda = await builds.ensure(ws, 'azureml:tiny-conda:1');
      assert.notEqual(conda.specHash, a.specHash);
      // A new service over the same data root (a restarted server) reuses the folder.
      const again = new EnvironmentBuildService(t.server.ctx, t.server.services.assets.environments, uv);
      const reused = await again.ensure(ws, 'tiny:1');
      assert.equal(reused.envDir, a.envDir);
      assert.match(reused.log, /reused/);
      const records = await builds.list(ws);
      const built = records.filter((r) => r.digest === `sha256:${a.specHash}` && r.tool === 'uv');
      assert.equal(built.length, 1, JSON.stringify(records.map((r) => [r.digest, r.tool, r.status])));
      assert.equal(built[0]!.status, 'Succeeded');
      assert.ok(built[0]!.sizeBytes! > 0);
      assert.match((await builds.get(ws, built[0]!.id)).log, /six/);
    });

    it('refuses image-only and conda-only environments with a 400 naming why; records a failed build with its log', async () => {
      const builds = t.server.services.environmentBuilds;
      await assert.rejects(builds.ensure(ws, 'image-only:1'), (e: any) => {
        assert.equal(e.code, 'ENVIRONMENT_NEEDS_CONTAINER');
        assert.equal(e.kind, 'invalid');
        assert.match(e.message, /no container runtime/);
        return true;
      });
      await assert.rejects(builds.ensure(ws, 'conda-only:1'), (e: any) => {
        assert.equal(e.code, 'CONDA_PACKAGE_UNSUPPORTED');
        assert.match(e.message, /cudatoolkit/);
        return true;
      });
      await assert.rejects(builds.ensure(ws, 'missing:1'), (e: any) => e.code === 'ASSET_NOT_FOUND');
      await assert.rejects(builds.ensure(ws, 'broken:1'), (e: any) => {
        assert.equal(e.code, 'ENVIRONMENT_BUILD_FAILED');
        assert.match(e.message, /atelier-no-such-package-for-tests/);
        return true;
      });
      const failed = (await builds.list(ws)).filter((r) => r.status === 'Failed');
      assert.equal(failed.length, 1);
      assert.match(failed[0]!.log, /atelier-no-such-package-for-tests/);
      // Retried on the next ensure (and recorded again).
      await assert.rejects(builds.ensure(ws, 'broken:1'));
      assert.equal((await builds.list(ws)).filter((r) => r.status === 'Failed').length, 2);
      assert.equal(fs.readdirSync(path.join(t.home, 'environments')).filter((n) => n.includes('.tmp-')).length, 0);
    });

    it('serves the build records as images (GET W/images)', async () => {
      const list = await t.request('GET', `${W}/images?${V}`);
      assert.equal(list.status, 200, list.text);
      const ok = list.body.value.find((i: any) => i.properties.status === 'Succeeded');
      assert.ok(ok);
      assert.match(ok.properties.digest, /^sha256:[0-9a-f]{64}$/);
      const one = await t.request('GET', `${W}/images/${ok.name}?${V}`);
      assert.equal(one.status, 200);
      assert.match(one.body.properties.log, /six/);
      assert.equal((await t.request('GET', `${W}/images/nope?${V}`)).status, 404);
    });
  });
}
