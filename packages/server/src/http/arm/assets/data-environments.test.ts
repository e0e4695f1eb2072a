import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, testDialects, type TestServer } from '../../../testing/harness.js';
import { V, createWorkspace, userWithRole, wsPath } from '../arm-test-helpers.js';

for (const dialect of testDialects()) {
  describe(`data assets and environments (${dialect})`, () => {
    let t: TestServer;
    let W: string;
    before(async () => {
      t = await startTestServer(dialect);
      await createWorkspace(t, 'data-rg', 'data-ws');
      W = wsPath(t, 'data-rg', 'data-ws');
    });
    after(async () => t?.close());

    it('registers data versions; versions are immutable; the container tracks latest/next version', async () => {
      const uri = 'azureml://datastores/workspaceblobstore/paths/iris/iris.csv';
      const v1 = await t.request('PUT', `${W}/data/iris/versions/1?${V}`, {
        properties: { dataType: 'uri_file', dataUri: uri, description: 'the iris data', tags: { source: 'uci' } },
      });
      assert.equal(v1.status, 201, v1.text);
      assert.equal(v1.body.properties.dataUri, uri);
      assert.equal(v1.body.type, 'Microsoft.MachineLearningServices/workspaces/data/versions');
      // Same content again: fine. A new description: fine. A new URI: refused.
      assert.equal(
        (
          await t.request('PUT', `${W}/data/iris/versions/1?${V}`, {
            properties: { dataType: 'uri_file', dataUri: uri, description: 'better words' },
          })
        ).status,
        200,
      );
      const changed = await t.request('PUT', `${W}/data/iris/versions/1?${V}`, {
        properties: { dataType: 'uri_file', dataUri: 'azureml://datastores/workspaceblobstore/paths/other.csv' },
      });
      assert.equal(changed.status, 409);
      assert.match(changed.body.error.message, /immutable/);
      assert.equal((await t.request('GET', `${W}/data/iris/versions/1?${V}`)).body.properties.dataUri, uri);

      const wrongType = await t.request('PUT', `${W}/data/iris/versions/2?${V}`, {
        properties: { dataType: 'uri_folder', dataUri: 'azureml://datastores/workspaceblobstore/paths/iris/' },
      });
      assert.equal(wrongType.status, 400);
      assert.equal(
        (
          await t.request('PUT', `${W}/data/iris/versions/2?${V}`, {
            properties: { dataType: 'uri_file', dataUri: 'https://example.com/iris.csv' },
          })
        ).status,
        201,
      );
      const c = await t.request('GET', `${W}/data/iris?${V}`);
      assert.equal(c.body.properties.dataType, 'uri_file');
      assert.equal(c.body.properties.latestVersion, '2');
      assert.equal(c.body.properties.nextVersion, '3');
      const versions = await t.request('GET', `${W}/data/iris/versions?${V}`);
      assert.deepEqual(
        versions.body.value.map((v: any) => v.name),
        ['1', '2'],
      );
      const all = await t.request('GET', `${W}/data?${V}`);
      assert.deepEqual(
        all.body.value.map((v: any) => v.name),
        ['iris'],
      );
    });

    it('validates data versions: types, URIs, datastores, names', async () => {
      for (const [path, body] of [
        ['x/versions/1', { properties: { dataType: 'table', dataUri: 'https://e.com/x' } }],
        ['x/versions/1', { properties: { dataType: 'uri_file' } }],
        [
          'x/versions/1',
          { properties: { dataType: 'uri_file', dataUri: 'azureml://datastores/nosuchstore/paths/a.csv' } },
        ],
        ['x/versions/1', { properties: { dataType: 'uri_file', dataUri: 'file:///etc/passwd' } }],
        [
          'x/versions/1',
          { properties: { dataType: 'uri_file', dataUri: 'azureml://datastores/workspaceblobstore/paths/../../etc' } },
        ],
        ['x/versions/1', { properties: { dataType: 'uri_folder', dataUri: 'https://e.com/x', extra: 1 } }],
        ['-bad/versions/1', { properties: { dataType: 'uri_folder', dataUri: 'https://e.com/x' } }],
        ['x/versions/bad version', { properties: { dataType: 'uri_folder', dataUri: 'https://e.com/x' } }],
      ] as const) {
        const r = await t.request('PUT', `${W}/data/${path}?${V}`, body);
        assert.equal(r.status, 400, `${path} ${JSON.stringify(body)}: ${r.text}`);
      }
      assert.equal((await t.request('GET', `${W}/data/x?${V}`)).status, 404);
    });

    it('environments: curated ones in every workspace, user versions validated and immutable', async () => {
      const list = await t.request('GET', `${W}/environments?${V}`);
      const curated = list.body.value.map((e: any) => e.name);
      assert.ok(curated.includes('AzureML-sklearn-1.5'), list.text);
      const cv = await t.request('GET', `${W}/environments/AzureML-sklearn-1.5/versions/1?${V}`);
      assert.equal(cv.status, 200);
      assert.equal(cv.body.properties.environmentType, 'Curated');
      assert.match(cv.body.properties.condaFile, /scikit-learn==1\.5/);
      assert.equal(
        (
          await t.request('PUT', `${W}/environments/AzureML-mine/versions/1?${V}`, {
            properties: { image: 'python:3.11' },
          })
        ).status,
        400,
      );
      assert.equal((await t.request('DELETE', `${W}/environments/AzureML-sklearn-1.5/versions/1?${V}`)).status, 409);

      const props = {
        image: 'python:3.11-slim',
        condaFile:
          'name: train\nchannels: [conda-forge]\ndependencies:\n  - python=3.11\n  - pip:\n    - pandas==2.2.3\n',
        pipRequirements: 'scikit-learn>=1.5\n# a comment\nmlflow-skinny==3.1.1 ; python_version >= "3.9"\n',
        environmentVariables: { OMP_NUM_THREADS: '2' },
        description: 'training',
      };
      const put = await t.request('PUT', `${W}/environments/train-env/versions/1?${V}`, { properties: props });
      assert.equal(put.status, 201, put.text);
      assert.equal(put.body.properties.environmentType, 'UserCreated');
      assert.deepEqual(put.body.properties.environmentVariables, { OMP_NUM_THREADS: '2' });
      const changed = await t.request('PUT', `${W}/environments/train-env/versions/1?${V}`, {
        properties: { ...props, image: 'python:3.12-slim' },
      });
      assert.equal(changed.status, 409);
      const names = (await t.request('GET', `${W}/environments?${V}`)).body.value.map((e: any) => e.name);
      assert.ok(names.includes('train-env'));

      for (const bad of [
        { condaFile: 'name: x' },
        { image: 'python:3.11', condaFile: 'name: [unclosed' },
        { image: 'python:3.11', condaFile: 'name: x\ndependencies: pandas' },
        { image: 'python:3.11', pipRequirements: 'pandas==2.2\nthis is not a requirement!' },
        { image: 'Not An Image' },
        { image: 'python:3.11', environmentVariables: { '1BAD': 'x' } },
        { image: 'python:3.11', build: { contextUri: 'azureml://datastores/workspaceblobstore/paths/ctx' } },
      ]) {
        const r = await t.request('PUT', `${W}/environments/bad-env/versions/1?${V}`, { properties: bad });
        assert.equal(r.status, 400, `${JSON.stringify(bad)}: ${r.text}`);
      }
    });

    it('assets need assets/write to change and a role to be seen', async () => {
      const reader = await userWithRole(t, `data-reader-${dialect}`, 'Reader', W);
      assert.equal(
        (await t.request('GET', `${W}/data/iris/versions/1?${V}`, undefined, { token: reader.token })).status,
        200,
      );
      assert.equal(
        (
          await t.request(
            'PUT',
            `${W}/data/iris/versions/9?${V}`,
            { properties: { dataType: 'uri_file', dataUri: 'https://e.com/a' } },
            { token: reader.token },
          )
        ).status,
        403,
      );
      const ds = await userWithRole(t, `data-scientist-${dialect}`, 'AzureML Data Scientist', W);
      assert.equal(
        (
          await t.request(
            'PUT',
            `${W}/data/iris/versions/9?${V}`,
            { properties: { dataType: 'uri_file', dataUri: 'https://e.com/a' } },
            { token: ds.token },
          )
        ).status,
        201,
      );
      const nobody = await userWithRole(t, `data-nobody-${dialect}`, null);
      assert.equal((await t.request('GET', `${W}/data?${V}`, undefined, { token: nobody.token })).status, 404);
    });
  });
}
