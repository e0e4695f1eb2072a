import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startTestServer, testDialects, type TestServer } from '../testing/harness.js';
import { V, createWorkspace, wsPath } from '../http/arm/arm-test-helpers.js';
import { waitOperation } from '../testing/deploy-models.js';
import { uploadCode } from '../testing/code-upload.js';
import { uvForTests } from '../testing/uv.js';

/**
 * Deployments in built environments: a scoring script (a code asset) runs in the Python of a
 * workspace environment that uv builds from PyPI (one tiny pure-Python package, six) — the server
 * has no ATELIER_SERVING_PYTHON, so the environment's is the only Python the workers can use.
 */
const uv = uvForTests();

const SCORE_PY = `import json, sys
import six

def init():
    global greeting
    greeting = "six " + six.__version__

def run(raw_data):
    data = json.loads(raw_data)
    return {"greeting": greeting, "prefix": sys.prefix, "doubled": [2 * x for x in data["x"]]}
`;

/** For the conda-file environment: a package the server's own Python does not have. */
const CONDA_SCORE_PY = `import json, sys
import idna

def init():
    pass

def run(raw_data):
    host = json.loads(raw_data)["host"]
    return {"ascii": idna.encode(host).decode(), "idna": idna.__version__, "python": "%d.%d" % sys.version_info[:2], "prefix": sys.prefix}
`;

for (const dialect of testDialects()) {
  describe(`deployments in built environments (${dialect})`, { skip: uv ? undefined : 'uv is not installed' }, () => {
    let t: TestServer;
    let W: string;
    let E: string;
    let key: string;
    let scoringUri: string;
    const saved = process.env.ATELIER_UV;

    const deploy = (name: string, properties: Record<string, unknown>) =>
      t.request('PUT', `${E}/deployments/${name}?${V}`, { location: 'local', sku: { capacity: 1 }, properties });

    before(async () => {
      process.env.ATELIER_UV = uv;
      t = await startTestServer(dialect, { servingPython: undefined });
      await createWorkspace(t, 'env-deploy-rg', 'env-deploy-ws');
      W = wsPath(t, 'env-deploy-rg', 'env-deploy-ws');
      const envs: Record<string, object> = {
        scorer: { image: 'python:3.11-slim', pipRequirements: 'six==1.17.0\n' },
        'image-only': { image: 'python:3.11-slim' },
        broken: { image: 'python:3.11-slim', pipRequirements: 'atelier-no-such-package-for-tests==0.0.1\n' },
        // A conda file as azure-ai-ml's Environment(conda_file=…) sends it: the interpreter, pip and a pip: list.
        'conda-idna': {
          image: 'python:3.11-slim',
          condaFile:
            'name: idna-env\nchannels: [conda-forge]\ndependencies:\n  - python=3.11\n  - pip\n  - pip:\n    - idna==3.10\n',
        },
      };
      for (const [name, properties] of Object.entries(envs)) {
        const r = await t.request('PUT', `${W}/environments/${name}/versions/1?${V}`, { properties });
        assert.equal(r.status, 201, r.text);
      }
      await uploadCode(t, W, 'scorer', '1', { 'score.py': SCORE_PY });
      await uploadCode(t, W, 'idna-scorer', '1', { 'score.py': CONDA_SCORE_PY });
      E = `${W}/onlineEndpoints/ep-env`;
      const ep = await t.request('PUT', `${E}?${V}`, { location: 'local', properties: { authMode: 'Key' } });
      assert.equal(ep.status, 201, ep.text);
      scoringUri = ep.body.properties.scoringUri;
      key = (await t.request('POST', `${E}/listKeys?${V}`)).body.primaryKey;
    });
    after(async () => {
      if (saved === undefined) delete process.env.ATELIER_UV;
      else process.env.ATELIER_UV = saved;
      await t?.close();
    });

    it('runs a scoring script in the Python of its environmentId, built by uv', async () => {
      const put = await deploy('blue', {
        codeConfiguration: { codeId: `${W}/codes/scorer/versions/1`, scoringScript: 'score.py' },
        environmentId: 'azureml:scorer:1',
      });
      assert.equal(put.status, 201, put.text);
      const op = await waitOperation(t, put.headers.get('azure-asyncoperation')!, 300_000);
      assert.equal(op.status, 'Succeeded', JSON.stringify(op));
      const traffic = await t.request('PATCH', `${E}?${V}`, { properties: { traffic: { blue: 100 } } });
      assert.equal(traffic.status, 200, traffic.text);
      const r = await fetch(scoringUri, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ x: [1, 2] }),
      });
      const text = await r.text();
      assert.equal(r.status, 200, text);
      const out = JSON.parse(text);
      assert.equal(out.greeting, 'six 1.17.0');
      assert.deepEqual(out.doubled, [2, 4]);
      assert.ok(
        out.prefix.startsWith(path.join(t.home, 'environments')),
        `the worker runs in the built environment, not ${out.prefix}`,
      );
      // The build is in the deployment's log, and recorded as an image of the workspace.
      const logs = await t.request('POST', `${E}/deployments/blue/getLogs?${V}`, {});
      assert.match(logs.body.content, /uv|reused the environment/);
      const images = await t.request('GET', `${W}/images?${V}`);
      // The deployment package names the environment build it ran in.
      const pkg = images.body.value.find((i: any) => i.properties.kind === 'deployment');
      assert.equal(pkg.properties.status, 'Succeeded');
      assert.match(pkg.properties.codeId, /codes\/scorer\/versions\/1$/);
      const env = images.body.value.find(
        (i: any) => i.properties.kind === 'environment' && i.properties.digest === pkg.properties.environmentDigest,
      );
      assert.ok(env, images.text);
      assert.ok(
        images.body.value.some(
          (i: any) =>
            i.properties.status === 'Succeeded' &&
            /environments\/scorer\/versions\/1$/.test(i.properties.environmentId),
        ),
        images.text,
      );
    });

    it('runs a scoring script in an environment made from a conda file (python + pip: list), importing its package', async () => {
      const put = await deploy('conda', {
        codeConfiguration: { codeId: `${W}/codes/idna-scorer/versions/1`, scoringScript: 'score.py' },
        environmentId: `${W}/environments/conda-idna/versions/1`,
      });
      assert.equal(put.status, 201, put.text);
      const op = await waitOperation(t, put.headers.get('azure-asyncoperation')!, 300_000);
      assert.equal(op.status, 'Succeeded', JSON.stringify(op));
      const r = await fetch(scoringUri, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${key}`,
          'content-type': 'application/json',
          'azureml-model-deployment': 'conda',
        },
        body: JSON.stringify({ host: 'bücher.example' }),
      });
      const text = await r.text();
      assert.equal(r.status, 200, text);
      const out = JSON.parse(text);
      assert.deepEqual([out.ascii, out.idna, out.python], ['xn--bcher-kva.example', '3.10', '3.11']);
      assert.ok(out.prefix.startsWith(path.join(t.home, 'environments')), out.prefix);
      assert.equal((await t.request('DELETE', `${E}/deployments/conda?${V}`)).status, 200);
    });

    it('refuses an environmentId that does not exist or cannot be built here, storing nothing', async () => {
      const code = { codeId: `${W}/codes/scorer/versions/1`, scoringScript: 'score.py' };
      const missing = await deploy('bad', { codeConfiguration: code, environmentId: 'azureml:nope:1' });
      assert.equal(missing.status, 400, missing.text);
      assert.match(missing.body.error.message, /environmentId/);
      assert.match(missing.body.error.message, /nope/);
      const image = await deploy('bad', { codeConfiguration: code, environmentId: 'azureml:image-only:1' });
      assert.equal(image.status, 400, image.text);
      assert.match(image.body.error.message, /container runtime/);
      const other = await deploy('bad', { codeConfiguration: code, environmentId: '/subscriptions/x/environments/e' });
      assert.equal(other.status, 400, other.text);
      assert.equal((await t.request('GET', `${E}/deployments/bad?${V}`)).status, 404);
    });

    it('fails a deployment whose environment does not build, with the build log in its error and logs', async () => {
      const put = await deploy('broken', {
        codeConfiguration: { codeId: `${W}/codes/scorer/versions/1`, scoringScript: 'score.py' },
        environmentId: 'azureml:broken:1',
      });
      assert.equal(put.status, 201, put.text);
      const op = await waitOperation(t, put.headers.get('azure-asyncoperation')!, 300_000);
      assert.equal(op.status, 'Failed');
      assert.match(op.error.message, /atelier-no-such-package-for-tests/);
      const got = await t.request('GET', `${E}/deployments/broken?${V}`);
      assert.equal(got.body.properties.provisioningState, 'Failed');
      const logs = await t.request('POST', `${E}/deployments/broken/getLogs?${V}`, { tail: 100 });
      assert.match(logs.body.content, /atelier-no-such-package-for-tests/);
      // Its package record (an image) failed too, with the build's log.
      const images = await t.request('GET', `${W}/images?${V}`);
      const pkg = images.body.value.find(
        (i: any) => i.properties.kind === 'deployment' && i.properties.deploymentId.endsWith('/deployments/broken'),
      );
      assert.equal(pkg.properties.status, 'Failed');
      const one = await t.request('GET', `${W}/images/${pkg.name}?${V}`);
      assert.match(one.body.properties.log, /atelier-no-such-package-for-tests/);
      assert.equal((await t.request('DELETE', `${E}/deployments/broken?${V}`)).status, 200);
    });
  });
}
