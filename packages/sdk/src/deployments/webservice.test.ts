import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestServer, type TestServer } from '../../../server/src/testing/harness.js';
import { registerTestModels } from '../../../server/src/testing/deploy-models.js';
import { findPython } from '../../../server/test/mlflow-client/python.js';
import { Workspace, TokenAuthentication, Model, Webservice, Image, ValidationError, ServiceError } from '../index.js';

// The seed's v1 deployment surface against a real server (SQLite: the server's suites cover both
// dialects): Model.deploy → Webservice (run, getLogs, getKeys, regenKey, update, delete) and
// ws.webservices(), ws.images(). The workers run ATELIER_TEST_PYTHON.
const { python, skip } = findPython();

describe('web services (SDK) against a real server', { skip }, () => {
  let t: TestServer;
  let ws: Workspace;
  let tmp: string;
  before(async () => {
    t = await startTestServer('sqlite', { servingPython: python });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-sdk-deploy-'));
    ws = await Workspace.create({
      name: 'sdk-deploy',
      subscriptionId: t.subscriptionId,
      resourceGroup: 'sdk-deploy-rg',
      location: 'local',
      showOutput: false,
      endpoint: t.url,
      auth: new TokenAuthentication(t.adminToken),
      env: { ATELIER_CONFIG_DIR: path.join(tmp, 'profile') },
    });
    await registerTestModels(python!, ws.getMlflowTrackingUri(), t);
  });
  after(async () => {
    await t?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('deploys a registered MLflow model and scores it; keys, logs, update and delete', async () => {
    const models = await ws.models();
    const doubler = models.get('doubler')!;
    assert.ok(doubler, 'the model is registered');
    await assert.rejects(Model.deploy(ws, 'x', [doubler]), ValidationError);
    const svc = await Model.deploy(ws, 'sdk-svc', [doubler], undefined, { instanceCount: 1 });
    assert.equal(svc.state, 'Succeeded');
    assert.match(svc.scoringUri, /\/endpoints\/.+\/sdk-svc\/score$/);
    assert.deepEqual(await svc.run({ dataframe_split: { columns: ['x'], data: [[21]] } }), { predictions: [42] });
    await assert.rejects(
      svc.run('not json'),
      (e: Error) => e instanceof ServiceError && /answered 400/.test(e.message),
    );
    const [primary, secondary] = await svc.getKeys();
    assert.ok(primary && secondary && primary !== secondary);
    await svc.regenKey('Primary');
    assert.notEqual((await svc.getKeys())[0], primary);
    assert.deepEqual(await svc.run({ dataframe_records: [{ x: 1 }] }), { predictions: [2] });
    assert.match(await svc.getLogs(200), /listening on/);
    assert.equal((await svc.getLogs(3)).trim().split('\n').length, 3);
    await assert.rejects(Model.deploy(ws, 'sdk-svc', [doubler]), /exists already/);

    const all = await ws.webservices();
    assert.deepEqual([...all.keys()], ['sdk-svc']);
    assert.equal(all.get('sdk-svc')!.state, 'Succeeded');

    await svc.update({ deploymentConfig: { instanceCount: 2 } });
    assert.equal(svc.state, 'Succeeded');
    assert.deepEqual(await svc.run({ dataframe_records: [{ x: 5 }] }), { predictions: [10] });

    // Each provisioning is a deployment package among the workspace's images; the same model, code,
    // environment and engine give the same digest (the instance count is not part of the package).
    const images = [...(await ws.images()).values()].filter(
      (i) => i.kind === 'deployment' && i.deploymentId?.endsWith('/onlineEndpoints/sdk-svc/deployments/default'),
    );
    assert.equal(images.length, 2, JSON.stringify(images.map((i) => i.properties)));
    assert.ok(images.every((i) => i.status === 'Succeeded' && i.tool === 'local'));
    assert.match(images[0]!.digest, /^sha256:[0-9a-f]{64}$/);
    assert.equal(images[0]!.digest, images[1]!.digest);
    assert.match(images[0]!.modelId!, /doubler/);
    assert.ok(images[0]!.createdTime >= images[1]!.createdTime, 'newest first');
    const one = await Image.get(ws, images[0]!.name);
    assert.match(await one.getLogs(), /model doubler:1 fetched/);
    await assert.rejects(Image.get(ws, 'no-such-image'), /no environment build|not found|could not be found/i);

    await svc.delete();
    assert.equal((await ws.webservices()).size, 0);
    await assert.rejects(Webservice.get(ws, 'sdk-svc'), /could not be found/);
  });
});
