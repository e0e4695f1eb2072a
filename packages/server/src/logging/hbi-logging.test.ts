import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, testDialects, type TestServer } from '../testing/harness.js';
import { V, createWorkspace, wsPath } from '../http/arm/arm-test-helpers.js';
import { HBI_REDACTED } from './logger.js';

/**
 * hbiWorkspace: the server's log carries no data of a high-business-impact workspace. A real
 * server logs at debug (every request line) into a stream the test reads, while MLflow, datastore,
 * key vault and asset routes of a normal and an HBI workspace are used with names that are unique
 * to each; the normal workspace's names show in the log, the HBI one's never do.
 */
for (const dialect of testDialects()) {
  describe(`hbiWorkspace keeps its data out of the log (${dialect})`, () => {
    let t: TestServer;
    const lines: string[] = [];

    before(async () => {
      t = await startTestServer(dialect, {
        logLevel: 'debug',
        logDestination: { write: (s: string) => void lines.push(s) },
      });
    });
    after(async () => {
      await t?.close();
    });

    /** Uses a workspace the way clients do; every name in it carries `tag`. Returns the names used. */
    async function exercise(name: string, hbi: boolean, tag: string): Promise<string[]> {
      const ws = await createWorkspace(t, 'log-rg', name, { location: 'local', properties: { hbiWorkspace: hbi } });
      assert.equal(ws.properties.hbiWorkspace, hbi);
      const W = wsPath(t, 'log-rg', name);
      const api = `/mlflow/v1.0${W}/api/2.0/mlflow`;
      const ok = (r: { status: number; text: string }, what: string) =>
        assert.ok(r.status < 300, `${what}: ${r.status} ${r.text}`);
      const exp = await t.request('POST', `${api}/experiments/create`, { name: `experiment-${tag}` });
      ok(exp, 'experiment');
      ok(await t.request('GET', `${api}/experiments/get-by-name?experiment_name=experiment-${tag}`), 'get-by-name');
      const run = await t.request('POST', `${api}/runs/create`, {
        experiment_id: exp.body.experiment_id,
        run_name: `run-${tag}`,
        start_time: Date.now(),
      });
      ok(run, 'run');
      const runId: string = run.body.run.info.run_id;
      ok(
        await t.request('POST', `${api}/runs/log-metric`, {
          run_id: runId,
          key: `metric-${tag}`,
          value: 1.5,
          timestamp: Date.now(),
          step: 0,
        }),
        'metric',
      );
      ok(await t.request('GET', `${api}/runs/get?run_id=${runId}`), 'get run');
      ok(await t.request('GET', `${api}/metrics/get-history?run_id=${runId}&metric_key=metric-${tag}`), 'history');
      const art = await fetch(
        `${t.url}/mlflow/v1.0${W}/api/2.0/mlflow-artifacts/artifacts/${exp.body.experiment_id}/${runId}/artifacts/artifact-${tag}/model.txt`,
        {
          method: 'PUT',
          headers: { authorization: `Bearer ${t.adminToken}`, 'content-type': 'application/octet-stream' },
          body: 'bytes',
        },
      );
      assert.ok(art.status < 300, await art.text());
      // A client error that names things (answered 404; its message names the missing experiment).
      assert.equal(
        (await t.request('GET', `${api}/experiments/get-by-name?experiment_name=missing-${tag}`)).status,
        404,
      );
      // Datastore upload and listing, data asset, key vault secret.
      const up = await fetch(`${t.url}${W}/datastores/workspaceblobstore/files/upload-${tag}/part.bin?${V}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${t.adminToken}`, 'content-type': 'application/octet-stream' },
        body: 'data',
      });
      assert.equal(up.status, 201, await up.text());
      ok(await t.request('GET', `${W}/datastores/workspaceblobstore/files?${V}&path=upload-${tag}`), 'list files');
      const data = await t.request('PUT', `${W}/data/dataset-${tag}/versions/1?${V}`, {
        properties: { dataType: 'uri_folder', dataUri: `azureml://datastores/workspaceblobstore/paths/upload-${tag}/` },
      });
      ok(data, 'data asset');
      ok(
        await t.request('PUT', `${ws.properties.keyVault}/secrets/secret-${tag}?api-version=7.4`, { value: 'v' }),
        'secret',
      );
      // An error logged by server code about this workspace (as failures of background work are).
      t.server.ctx.log.error(
        { err: new Error(`could not finish run-${tag}`), workspace: ws.id },
        `cleanup of experiment-${tag} failed`,
      );
      t.server.ctx.log.warn({ workspaceId: ws.properties.workspaceId }, `metric-${tag} dropped`);
      return [
        `experiment-${tag}`,
        `run-${tag}`,
        runId,
        `metric-${tag}`,
        `artifact-${tag}`,
        `missing-${tag}`,
        `upload-${tag}`,
        `dataset-${tag}`,
        `secret-${tag}`,
      ];
    }

    it('names of a normal workspace appear in the log; those of an HBI workspace never do', async () => {
      const normal = await exercise('plain-ws', false, 'plainzz');
      const hbi = await exercise('hbi-ws', true, 'hbizz');
      const log = lines.join('');
      for (const n of normal) assert.ok(log.includes(n), `the normal workspace's '${n}' is logged`);
      for (const n of hbi) assert.equal(log.includes(n), false, `the HBI workspace's '${n}' must not be logged`);
      assert.equal(log.includes('hbizz'), false);
      // The HBI workspace's requests are still logged: method, the path up to the workspace, status.
      const parsed = lines.map((l) => JSON.parse(l));
      const hbiLines = parsed.filter((l) => l.hbi === true);
      assert.ok(hbiLines.some((l) => l.req?.url?.includes('/workspaces/hbi-ws/') && l.req.url.endsWith(HBI_REDACTED)));
      assert.ok(hbiLines.some((l) => l.msg === 'request completed' && l.res?.statusCode === 404));
      const errLine = parsed.find((l) => l.level === 50 && l.hbi === true && l.err);
      assert.ok(errLine, 'the error line is kept');
      assert.equal(errLine.err.type, 'Error');
      assert.equal(errLine.msg, HBI_REDACTED);
    });

    it('the HBI list follows creates in this server and reloads from the database', async () => {
      const id = wsPath(t, 'log-rg', 'hbi-ws').toLowerCase();
      assert.equal(t.server.ctx.hbi.urlIsHbi(`${id}/experiments`), true);
      assert.equal(t.server.ctx.hbi.urlIsHbi(`${wsPath(t, 'log-rg', 'plain-ws')}/x`), false);
      // A workspace nobody knows yet counts as HBI (fail closed).
      assert.equal(t.server.ctx.hbi.urlIsHbi(`${wsPath(t, 'log-rg', 'not-yet')}/x`), true);
      await t.server.ctx.hbi.load();
      assert.equal(t.server.ctx.hbi.urlIsHbi(`${wsPath(t, 'log-rg', 'plain-ws')}/x`), false);
    });
  });
}
