import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { clientDialects } from '../../testing/harness.js';
import { clientPython, httpsJson } from '../../testing/tls-clients.js';
import { startAzureClientServer, type AzureClientServer, type Steps } from '../../testing/azure-client-server.js';
import { findUv } from '../../environment-builds/environment-builds.js';
import { BUILD_OPERATION } from '../../v1-environments/environments.js';
import { resolveWorkspaceById } from '../../resources/workspaces.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..', '..', '..', '..');
const ci = path.join(ROOT, '.ci', '.venv', 'bin', 'uv');
const uv = findUv() ?? (fs.existsSync(ci) ? ci : undefined);
if (!uv && process.env.ATELIER_TEST_STRICT === '1')
  throw new Error('uv is not installed (ATELIER_UV or .ci/.venv/bin/uv): environment builds cannot be tested');
const V = 'api-version=2025-09-01';

/** A GET with no credentials at all (as `requests.get(logUrl)` in ImageBuildDetails.get_log()). */
function anonGet(url: string, ca: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca }, (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      })
      .on('error', reject);
  });
}

// Issue 11: azureml-core's environment builds — on a named compute, and the build log through get_log().
for (const dialect of clientDialects('sqlite')) {
  describe(`azureml-core environment builds (${dialect})`, { skip: uv ? undefined : 'uv is not installed' }, () => {
    let s: AzureClientServer;
    let out: Steps;
    let savedUv: string | undefined;
    const ok = (k: string) => out.ok(k);
    const error = (k: string) => out.err(k);
    before(async () => {
      savedUv = process.env.ATELIER_UV;
      process.env.ATELIER_UV = uv;
      s = await startAzureClientServer(dialect, 'envbuilds');
      await s.workspace('build-ws');
      const W = `${s.server.url}${s.workspaceId('build-ws')}`;
      for (const name of ['cpu', 'halted']) {
        const body = {
          location: 'local',
          properties: {
            computeType: 'AmlCompute',
            properties: { vmSize: 'Standard_DS3_v2', scaleSettings: { minNodeCount: 0, maxNodeCount: 1 } },
          },
        };
        const put = await httpsJson('PUT', `${W}/computes/${name}?${V}`, s.ca, s.token, body);
        assert.equal(put.status, 201, JSON.stringify(put.body));
        for (let i = 0; ; i++) {
          const c = await httpsJson('GET', `${W}/computes/${name}?${V}`, s.ca, s.token);
          if (c.body.properties.provisioningState === 'Succeeded') break;
          assert.ok(i < 500, `compute ${name}: ${JSON.stringify(c.body)}`);
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      const stop = await httpsJson('POST', `${W}/computes/halted/stop?${V}`, s.ca, s.token);
      assert.equal(stop.status, 200, JSON.stringify(stop.body));
    });
    after(async () => {
      await s?.close();
      if (savedUv === undefined) delete process.env.ATELIER_UV;
      else process.env.ATELIER_UV = savedUv;
    });

    it('env.build(ws, image_build_compute=…) and env.build(ws): wait_for_completion(), get_log()', async (tc) => {
      const py = clientPython();
      if (!py) return tc.skip('no Python with azureml-core (set ATELIER_TEST_PYTHON)');
      out = await s.steps(py, path.join(HERE, 'azureml_core_environment_builds.py'), {
        WORKSPACE: 'build-ws',
        COMPUTE: 'cpu',
        STOPPED: 'halted',
      });
      assert.equal(ok('env.register'), '1');
      // On the AmlCompute: the build for it, its log (uv's own lines) read through the signed logUrl.
      const onCompute = ok('env.build(image_build_compute=COMPUTE)');
      assert.equal(onCompute.status, 'Succeeded');
      assert.match(onCompute.log, /built for compute 'cpu' \(AmlCompute/);
      assert.match(onCompute.log, /uv pip install[\s\S]*six==1\.17\.0/);
      assert.match(onCompute.logUrl, /\/builds\/[0-9a-f-]+\/log\?sig=/);
      // Without a compute: the same environment (the cache), its own record and log.
      const plain = ok('env.build(ws)');
      assert.equal(plain.status, 'Succeeded');
      assert.doesNotMatch(plain.log, /built for compute/);
      assert.match(plain.log, /six|reused the environment/);
      // A compute that is not there or takes no work: refused, naming it, and nothing started.
      assert.match(
        error('env.build(image_build_compute=missing)'),
        /Code: 400[\s\S]*compute 'no-such-compute' could not be found in workspace 'build-ws'/,
      );
      assert.match(error('env.build(image_build_compute=STOPPED)'), /Code: 409[\s\S]*compute 'halted' is stopped/);
      const ops = await s.server.ctx.db
        .selectFrom('operations')
        .selectAll()
        .where('kind', '=', BUILD_OPERATION)
        .execute();
      assert.equal(ops.length, 2, JSON.stringify(ops));

      // The log URL is the credential for that one build's log only: no token needed, a changed
      // signature or another build's path is refused.
      const url = new URL(onCompute.logUrl);
      const anon = await anonGet(url.toString(), s.ca);
      assert.equal(anon.status, 200);
      assert.equal(anon.text, onCompute.log);
      const tampered = new URL(url);
      tampered.searchParams.set('sig', `${url.searchParams.get('sig')!.slice(0, -4)}AAAA`);
      assert.equal((await anonGet(tampered.toString(), s.ca)).status, 401);
      const other = ops.map((o) => o.id).find((id) => !url.pathname.includes(id))!;
      const elsewhere = new URL(url);
      elsewhere.pathname = url.pathname.replace(/\/builds\/[^/]+\/log$/, `/builds/${other}/log`);
      const refused = await anonGet(elsewhere.toString(), s.ca);
      assert.equal(refused.status, 401);
      assert.match(refused.text, /signed for another build/);
      const none = new URL(url);
      none.search = '';
      assert.equal((await anonGet(none.toString(), s.ca)).status, 401);

      // env.build_local(ws): the recipe's scripts made a real virtual environment on this machine
      // with the version's pip list and Python; the second call's check script found it (not rebuilt).
      assert.equal(ok('docker.enabled'), false);
      const local = ok('env.build_local(ws)');
      assert.equal(local.dirs.length, 1);
      assert.match(local.dirs[0], /^azureml_[0-9a-f]{32}$/);
      assert.equal(local.six, '1.17.0');
      assert.equal(local.python, '3.11');
      assert.deepEqual(ok('env.build_local(ws) again (version 1)'), local);
      assert.match(
        error('env.build_local(ws, useDocker=True)'),
        /Code: 501[\s\S]*useDocker=True\) builds the environment as a Docker image with Docker on your machine/,
      );
      assert.match(error('env.build_local(ws, platform=Windows)'), /Code: 501[\s\S]*bash scripts/);

      // docker.base_dockerfile: one environment version for v1 and ARM; the Dockerfile is its build
      // context in the workspace's blob datastore; building it is refused (no container runtime).
      const dockerfile = 'FROM python:3.11-slim\nRUN pip install six==1.17.0\n';
      assert.equal(ok('Dockerfile env.register'), '1');
      assert.equal(ok('Dockerfile env.register (same again)'), '1');
      assert.deepEqual(ok('Dockerfile Environment.get'), ['1', null, dockerfile, true]);
      assert.match(error('Dockerfile env.build'), /Code: 400[\s\S]*built from a Dockerfile[\s\S]*container runtime/);
      const arm = await httpsJson(
        'GET',
        `${s.server.url}${s.workspaceId('build-ws')}/environments/from-dockerfile/versions/1?${V}`,
        s.ca,
        s.token,
      );
      assert.equal(arm.status, 200, JSON.stringify(arm.body));
      assert.equal(arm.body.properties.image, undefined);
      assert.equal(arm.body.properties.build.dockerfilePath, 'Dockerfile');
      const m =
        /^azureml:\/\/datastores\/workspaceblobstore\/paths\/(environments\/from-dockerfile\/dockerfile-[0-9a-f]{32}\/)$/.exec(
          arm.body.properties.build.contextUri,
        );
      assert.ok(m, arm.body.properties.build.contextUri);
      const ws = await resolveWorkspaceById(s.server.ctx, s.workspaceId('build-ws'));
      const principal = (await s.server.ctx.principals.get(
        (await s.server.ctx.principals.require('admin', 'user')).id,
      ))!;
      const store = await s.server.services.assets.datastores.backend(ws, 'workspaceblobstore', principal, 'read');
      const { stream } = await store.get(`${m[1]}Dockerfile`);
      let text = '';
      for await (const c of stream) text += String(c);
      assert.equal(text, dockerfile);
      // Both a base image and a Dockerfile: a 400, and nothing is made.
      const E = `${s.server.url}/environment/v1.0${s.workspaceId('build-ws')}/environments/both-ways`;
      const both = await httpsJson('PUT', E, s.ca, s.token, {
        name: 'both-ways',
        docker: { baseImage: 'python:3.11-slim', baseDockerfile: dockerfile },
        python: { userManagedDependencies: true },
      });
      assert.equal(both.status, 400, JSON.stringify(both.body));
      assert.match(JSON.stringify(both.body), /both docker.base_image and docker.base_dockerfile/);
      assert.equal((await httpsJson('GET', E, s.ca, s.token)).status, 404);
      // ARM refuses the same build (a job or deployment naming it, or env.build through ARM's view).
      const viaArm = await s.server.services.environmentBuilds.check(ws, 'from-dockerfile:1').catch((e: Error) => e);
      assert.match(String(viaArm), /built from a Dockerfile/);
    });
  });
}
