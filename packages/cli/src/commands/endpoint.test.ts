import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runAtelier } from '../testing.js';
import { startTestServer, type TestServer } from '../../../server/src/testing/harness.js';
import { registerTestModels } from '../../../server/src/testing/deploy-models.js';
import { findPython } from '../../../server/test/mlflow-client/python.js';

// `atelier endpoint …` and `atelier deployment …`, the real command, against a real server (SQLite),
// serving a model the MLflow client registered (workers: ATELIER_TEST_PYTHON).
const { python, skip } = findPython();

describe('atelier endpoint and deployment (CLI)', { skip }, () => {
  let t: TestServer;
  let home: string;
  before(async () => {
    t = await startTestServer('sqlite', { servingPython: python });
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-cli-endpoint-'));
  });
  after(async () => {
    await t?.close();
    fs.rmSync(home, { recursive: true, force: true });
  });

  const atelier = (args: string[]) =>
    runAtelier(args, {
      cwd: home,
      env: {
        HOME: home,
        ATELIER_CONFIG_DIR: path.join(home, 'cfg'),
        ATELIER_ENDPOINT: t.url,
        ATELIER_TOKEN: t.adminToken,
      },
    });
  const file = (name: string, text: string) => {
    const p = path.join(home, name);
    fs.writeFileSync(p, text);
    return p;
  };

  it('creates an endpoint and a deployment from YAML, invokes, reads logs, shifts traffic, deletes', async () => {
    const ws = await atelier(['workspace', 'create', 'cli-ep', '-g', 'cli-ep-rg', '-l', 'local']);
    assert.equal(ws.code, 0, ws.stderr);
    const w = ['-w', 'cli-ep', '-g', 'cli-ep-rg'];
    const shown = await atelier(['workspace', 'show', 'cli-ep', '-g', 'cli-ep-rg']);
    assert.equal(shown.code, 0, shown.stderr);
    await registerTestModels(python!, shown.json.mlflowTrackingUri, t);

    const ep = await atelier(['endpoint', 'create', '-f', file('ep.yml', 'name: cli-ep1\nauth_mode: key\n'), ...w]);
    assert.equal(ep.code, 0, ep.stderr);
    assert.match(ep.json.properties.scoringUri, /\/cli-ep1\/score$/);
    const bad = await atelier(['endpoint', 'create', '-f', file('bad.yml', 'name: cli-ep2\nauth_mode: maybe\n'), ...w]);
    assert.equal(bad.code, 2, bad.stderr);

    const dep = await atelier([
      'deployment',
      'create',
      '--all-traffic',
      '-f',
      file(
        'blue.yml',
        'name: blue\nendpoint_name: cli-ep1\nmodel: azureml:doubler:1\ninstance_count: 1\nrequest_settings:\n  max_concurrent_requests_per_instance: 2\n  request_timeout_ms: 3000\n',
      ),
      ...w,
    ]);
    assert.equal(dep.code, 0, dep.stderr);
    assert.equal(dep.json.properties.provisioningState, 'Succeeded');
    assert.equal(dep.json.properties.requestSettings.requestTimeout, 'PT3S');

    const inv = await atelier([
      'endpoint',
      'invoke',
      '-n',
      'cli-ep1',
      '-r',
      file('req.json', JSON.stringify({ dataframe_records: [{ x: 4 }] })),
      ...w,
    ]);
    assert.equal(inv.code, 0, inv.stderr);
    assert.deepEqual(inv.json, { predictions: [8] });

    const logs = await atelier(['deployment', 'get-logs', '-n', 'blue', '-e', 'cli-ep1', '--lines', '50', ...w]);
    assert.equal(logs.code, 0, logs.stderr);
    assert.match(logs.stdout, /listening on/);
    const one = await atelier([
      'deployment',
      'get-logs',
      '-n',
      'blue',
      '-e',
      'cli-ep1',
      '--instance',
      'instance-0',
      '--container-type',
      'InferenceServer',
      ...w,
    ]);
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, /\[instance-0\] .*listening on/);
    assert.doesNotMatch(one.stdout, /\[atelier\]/);

    const list = await atelier(['endpoint', 'list', ...w]);
    assert.deepEqual(
      list.json.map((e: any) => e.name),
      ['cli-ep1'],
    );
    const deps = await atelier(['deployment', 'list', '-e', 'cli-ep1', ...w]);
    assert.deepEqual(
      deps.json.map((d: any) => d.name),
      ['blue'],
    );
    const creds = await atelier(['endpoint', 'get-credentials', '-n', 'cli-ep1', ...w]);
    assert.ok(creds.json.primaryKey);

    const epShow = await atelier(['endpoint', 'show', '-n', 'cli-ep1', ...w]);
    assert.equal(epShow.code, 0, epShow.stderr);
    assert.equal(epShow.json.name, 'cli-ep1');
    assert.equal(epShow.json.properties.authMode, 'Key');
    assert.deepEqual(epShow.json.properties.traffic, { blue: 100 });
    assert.equal(epShow.json.properties.scoringUri, ep.json.properties.scoringUri);
    assert.match(epShow.json.properties.swaggerUri, /\/cli-ep1\/swagger\.json$/);
    assert.ok(!epShow.stdout.includes(creds.json.primaryKey), 'show never prints a key');
    const depShow = await atelier(['deployment', 'show', '-n', 'blue', '-e', 'cli-ep1', ...w]);
    assert.equal(depShow.code, 0, depShow.stderr);
    assert.equal(depShow.json.name, 'blue');
    assert.equal(depShow.json.properties.provisioningState, 'Succeeded');
    assert.equal(depShow.json.properties.model, 'azureml:doubler:1');
    assert.equal(depShow.json.sku.capacity, 1);
    assert.equal(depShow.json.properties.requestSettings.maxConcurrentRequestsPerInstance, 2);
    const noEp = await atelier(['endpoint', 'show', '-n', 'cli-nope', ...w]);
    assert.notEqual(noEp.code, 0);
    assert.match(noEp.stderr, /cli-nope/);
    const noDep = await atelier(['deployment', 'show', '-n', 'green', '-e', 'cli-ep1', ...w]);
    assert.notEqual(noDep.code, 0);
    assert.match(noDep.stderr, /green/);

    const shift = await atelier(['endpoint', 'update', '-n', 'cli-ep1', '--traffic', 'blue=0', ...w]);
    assert.equal(shift.code, 0, shift.stderr);
    assert.deepEqual(shift.json.properties.traffic, { blue: 0 });
    const wrong = await atelier(['endpoint', 'update', '-n', 'cli-ep1', '--traffic', 'green=100', ...w]);
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /green/);

    assert.equal((await atelier(['deployment', 'delete', '-n', 'blue', '-e', 'cli-ep1', ...w])).code, 0);
    assert.equal((await atelier(['endpoint', 'delete', '-n', 'cli-ep1', ...w])).code, 0);
    const none = await atelier(['endpoint', 'list', ...w]);
    assert.deepEqual(none.json, []);
  });
});
