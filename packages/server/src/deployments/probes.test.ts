import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { migratedPostgres, startTestServer, testDialects, type TestServer } from '../testing/harness.js';
import { findPython, makeWorkspace } from '../../test/mlflow-client/python.js';
import { waitOperation, until } from '../testing/deploy-models.js';
import { uploadCode } from '../testing/code-upload.js';

/**
 * The local engine's liveness probe and a server restart, through real HTTP and real workers: a
 * worker that stops answering `/ping` (its scoring script freezes the process) is killed after
 * `failureThreshold` failed probes and restarted; a server stopped and started again on the same
 * data root and database brings its deployments back by itself (before any request asks).
 */
const { python, skip } = findPython();
const V = 'api-version=2025-09-01';

/** `{"freeze": true}` answers, then stops the whole process (SIGSTOP): it no longer answers anything. */
const SCORE_PY = `import json, os, signal, threading

def init():
    pass

def run(raw_data):
    data = json.loads(raw_data)
    if data.get("freeze"):
        threading.Timer(0.2, lambda: os.kill(os.getpid(), signal.SIGSTOP)).start()
    return {"pid": os.getpid()}
`;

for (const dialect of testDialects()) {
  describe(`deployment probes and restarts (${dialect})`, { skip }, () => {
    let t: TestServer;
    let home: string;
    let databaseUrl: string | undefined;
    let drop: (() => Promise<void>) | undefined;
    let W: string;
    let E: string;
    let key: string;
    let scoringUri: string;

    const score = (body: unknown) =>
      fetch(scoringUri, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const logs = async () =>
      (await t.request('POST', `${E}/deployments/live/getLogs?${V}`, { tail: 500 })).body.content as string;

    before(async () => {
      home = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-probes-'));
      if (dialect === 'postgres') ({ url: databaseUrl, drop } = await migratedPostgres());
      t = await startTestServer(dialect, { servingPython: python, home, databaseUrl });
      W = (await makeWorkspace(t, 'rg-probes', 'ws-probes')).armId;
      await uploadCode(t, W, 'prober', '1', { 'score.py': SCORE_PY });
      E = `${W}/onlineEndpoints/ep-probes`;
      const ep = await t.request('PUT', `${E}?${V}`, { location: 'local', properties: { authMode: 'Key' } });
      assert.equal(ep.status, 201, ep.text);
      key = (await t.request('POST', `${E}/listKeys?${V}`)).body.primaryKey;
      scoringUri = ep.body.properties.scoringUri;
      const put = await t.request('PUT', `${E}/deployments/live?${V}`, {
        location: 'local',
        sku: { name: 'Default', capacity: 1 },
        properties: {
          codeConfiguration: { codeId: `${W}/codes/prober/versions/1`, scoringScript: 'score.py' },
          livenessProbe: { initialDelay: 'PT0S', period: 'PT1S', timeout: 'PT0.5S', failureThreshold: 2 },
          requestSettings: { requestTimeout: 'PT2S' },
        },
      });
      assert.equal(put.status, 201, put.text);
      assert.deepEqual(put.body.properties.livenessProbe, {
        initialDelay: 'PT0S',
        period: 'PT1S',
        timeout: 'PT0.5S',
        failureThreshold: 2,
        successThreshold: 1,
      });
      const op = await waitOperation(t, put.headers.get('azure-asyncoperation')!);
      assert.equal(op.status, 'Succeeded', JSON.stringify(op));
      const traffic = await t.request('PATCH', `${E}?${V}`, { properties: { traffic: { live: 100 } } });
      assert.equal(traffic.status, 200, traffic.text);
    });
    after(async () => {
      await t?.close();
      await drop?.();
      if (home) fs.rmSync(home, { recursive: true, force: true });
    });

    it('restarts a worker that stops answering its liveness probe, and serves again', async () => {
      const first = await score({ freeze: true });
      assert.equal(first.status, 200, await first.clone().text());
      const { pid } = (await first.json()) as { pid: number };
      // The frozen worker answers no /ping: after 2 failed probes (1 s apart) it is killed and restarted.
      // The log is an append stream: its lines reach the file in separate writes, so wait for the last one.
      const log = await until('the liveness probe restarts the worker', async () => {
        const l = await logs();
        return /restarting in \d+ ms/.test(l) ? l : undefined;
      });
      assert.match(
        log,
        /liveness probe failed 2 times; restarting\n.*exited \(signal SIGKILL\)\n.*restarting in \d+ ms/s,
      );
      const again = await until('the new worker answers', async () => {
        const r = await score({});
        return r.status === 200 ? ((await r.json()) as { pid: number }) : undefined;
      });
      assert.notEqual(again.pid, pid, 'a new process answers');
    });

    it('brings deployments back when the server restarts on the same data root and database', async () => {
      const id = `${E}/deployments/live`;
      await t.close({ keepData: true });
      t = await startTestServer(dialect, { servingPython: python, home, databaseUrl });
      const runtimes = t.server.services.serving.runtimes;
      // Resumed at start, not on a first request: no request is sent until it runs.
      await until('the deployment runs again', async () => runtimes.runtime(id)?.ready().length === 1);
      const ep = await t.request('GET', `${E}?${V}`);
      assert.equal(ep.status, 200, ep.text);
      assert.deepEqual(ep.body.properties.traffic, { live: 100 });
      scoringUri = ep.body.properties.scoringUri;
      assert.ok(scoringUri.startsWith(t.url), 'the new server’s scoring URI');
      assert.equal((await t.request('POST', `${E}/listKeys?${V}`)).body.primaryKey, key, 'the keys are kept');
      const r = await score({});
      assert.equal(r.status, 200, await r.clone().text());
      assert.equal(r.headers.get('azureml-model-deployment'), 'live');
      const d = await t.request('GET', `${id}?${V}`);
      assert.equal(d.body.properties.provisioningState, 'Succeeded');
      assert.equal((await logs()).match(/starting 1 instance\(s\) of live/g)?.length, 2, 'started twice');
    });
  });
}
