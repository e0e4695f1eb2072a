import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { startTestServer, testDialects, type TestServer } from '../testing/harness.js';
import { findMoto, startMoto, type Moto } from '../testing/moto.js';
import { V, createWorkspace, wsPath } from '../http/arm/arm-test-helpers.js';

/**
 * Stateless replicas: two servers on one PostgreSQL database and one S3 bucket (moto on loopback),
 * each with a data folder of its own (only the master key is shared). A client alternates between
 * them through an MLflow and datastore flow; every read, on either server, sees every write
 * acknowledged by the other.
 */
const python = findMoto('the replica tests');
const postgres = testDialects().includes('postgres');

describe('two servers on one PostgreSQL and one S3 bucket', { skip: !python || !postgres }, () => {
  let moto: Moto;
  let bucket: string;
  let a: TestServer;
  let b: TestServer;
  let homeB: string;
  before(async () => {
    moto = await startMoto(python!);
    const blobStore = await moto.bucket(undefined, 'atelier');
    bucket = blobStore.bucket;
    a = await startTestServer('postgres', { blobStore });
    homeB = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-replica-'));
    fs.copyFileSync(path.join(a.home, 'master.key'), path.join(homeB, 'master.key'));
    b = await startTestServer('postgres', { blobStore, home: homeB, databaseUrl: a.server.ctx.config.databaseUrl });
  });
  after(async () => {
    await b?.close();
    fs.rmSync(homeB, { recursive: true, force: true });
    await a?.close();
    moto?.stop();
  });

  it('MLflow and datastore writes on one server are read on the other', async () => {
    const ws = await createWorkspace(a, 'replica-rg', 'replica-ws');
    const W = wsPath(a, 'replica-rg', 'replica-ws');
    const tracking = (s: TestServer) => `${s.url}/mlflow/v1.0${ws.id}`;
    const api = (s: TestServer) => `${tracking(s)}/api/2.0/mlflow`;
    const artifacts = (s: TestServer) => `${tracking(s)}/api/2.0/mlflow-artifacts/artifacts`;
    const raw = (
      s: TestServer,
      method: string,
      url: string,
      body?: Buffer | string,
      headers: Record<string, string> = {},
    ) => fetch(url, { method, headers: { authorization: `Bearer ${s.adminToken}`, ...headers }, body });
    const ok = <R extends { status: number; text: string }>(r: R, status = 200): R => {
      assert.equal(r.status, status, r.text);
      return r;
    };

    // Tracking: experiment and run on A, metrics on B, read back on A.
    const exp = ok(await a.request('POST', `${api(a)}/experiments/create`, { name: 'replicated' })).body.experiment_id;
    const run = ok(await a.request('POST', `${api(a)}/runs/create`, { experiment_id: exp, start_time: Date.now() }))
      .body.run.info;
    ok(
      await b.request('POST', `${api(b)}/runs/log-batch`, {
        run_id: run.run_id,
        metrics: [1, 2, 3].map((step) => ({ key: 'loss', value: 1 / step, timestamp: Date.now(), step })),
      }),
    );
    const history = ok(await a.request('GET', `${api(a)}/metrics/get-history?run_id=${run.run_id}&metric_key=loss`))
      .body.metrics;
    assert.deepEqual(
      history.map((m: { step: number }) => m.step),
      [1, 2, 3],
    );

    // Artifacts: uploaded on A, listed and downloaded (whole and a range) on B.
    const root = String(run.artifact_uri).replace(/^mlflow-artifacts:\//, '');
    const model = crypto.randomBytes(300_000);
    assert.equal((await raw(a, 'PUT', `${artifacts(a)}/${root}/model/model.bin`, model)).status, 200);
    const mlmodel = 'artifact_path: model\n';
    assert.equal((await raw(a, 'PUT', `${artifacts(a)}/${root}/model/MLmodel`, mlmodel)).status, 200);
    const listed = ok(await b.request('GET', `${artifacts(b)}?path=${encodeURIComponent(`${root}/model`)}`)).body.files;
    assert.deepEqual(listed, [
      { path: 'MLmodel', is_dir: false, file_size: mlmodel.length },
      { path: 'model.bin', is_dir: false, file_size: model.length },
    ]);
    const down = await raw(b, 'GET', `${artifacts(b)}/${root}/model/model.bin`);
    assert.deepEqual(Buffer.from(await down.arrayBuffer()), model);
    const range = await raw(b, 'GET', `${artifacts(b)}/${root}/model/model.bin`, undefined, {
      range: 'bytes=1000-1999',
    });
    assert.equal(range.status, 206);
    assert.deepEqual(Buffer.from(await range.arrayBuffer()), model.subarray(1000, 2000));

    // A multipart upload started on B, its parts sent to A and B in turn, completed on A.
    const created = ok(
      await b.request('POST', `${tracking(b)}/api/2.0/mlflow-artifacts/mpu/create/${root}/big`, {
        path: 'weights.bin',
        num_parts: 2,
      }),
    ).body;
    const partBytes = [crypto.randomBytes(200_000), crypto.randomBytes(123_456)];
    const parts = [];
    for (const [i, c] of (
      created.credentials as { url: string; part_number: number; headers: Record<string, string> }[]
    ).entries()) {
      const to = i === 0 ? a : b;
      const url = c.url.replace(b.url, to.url);
      const r = await fetch(url, { method: 'PUT', headers: c.headers, body: partBytes[i] });
      assert.equal(r.status, 200, await r.text());
      parts.push({ part_number: c.part_number, etag: r.headers.get('etag')! });
    }
    ok(
      await a.request('POST', `${tracking(a)}/api/2.0/mlflow-artifacts/mpu/complete/${root}/big`, {
        path: 'weights.bin',
        upload_id: created.upload_id,
        parts,
      }),
    );
    const joined = await raw(b, 'GET', `${artifacts(b)}/${root}/big/weights.bin`);
    assert.deepEqual(Buffer.from(await joined.arrayBuffer()), Buffer.concat(partBytes));

    // Registry: a model version made on B from the run's model, its files read on A.
    ok(await b.request('POST', `${api(b)}/registered-models/create`, { name: 'replicated-model' }));
    const mv = ok(
      await b.request('POST', `${api(b)}/model-versions/create`, {
        name: 'replicated-model',
        source: `${run.artifact_uri}/model`,
        run_id: run.run_id,
      }),
    ).body.model_version;
    assert.equal(
      ok(await a.request('GET', `${api(a)}/model-versions/get?name=replicated-model&version=${mv.version}`)).body
        .model_version.source,
      `${run.artifact_uri}/model`,
    );
    const mvFile = await raw(
      a,
      'GET',
      `${tracking(a)}/model-versions/get-artifact?name=replicated-model&version=${mv.version}&path=model.bin`,
    );
    assert.equal(mvFile.status, 200, await mvFile.clone().text());
    assert.deepEqual(Buffer.from(await mvFile.arrayBuffer()), model);

    // Datastores: uploaded through B, downloaded and listed through A; MLflow's artifacts are seen
    // through the workspaceartifactstore datastore (the same bytes, not a copy).
    const data = crypto.randomBytes(50_000);
    assert.equal(
      (await raw(b, 'PUT', `${b.url}${W}/datastores/workspaceblobstore/files/train/part-0.bin`, data)).status,
      201,
    );
    const fromA = await raw(a, 'GET', `${a.url}${W}/datastores/workspaceblobstore/files/train/part-0.bin`);
    assert.equal(fromA.status, 200);
    assert.deepEqual(Buffer.from(await fromA.arrayBuffer()), data);
    assert.deepEqual(
      ok(await a.request('GET', `${W}/datastores/workspaceblobstore/files?recursive=true`)).body.value.map(
        (f: { path: string; size: number }) => [f.path, f.size],
      ),
      [['train/part-0.bin', data.length]],
    );
    const store = ok(
      await a.request(
        'GET',
        `${W}/datastores/workspaceartifactstore/files?path=${encodeURIComponent(`mlflow/${ws.properties.workspaceId}/${root}/model`)}`,
      ),
    ).body.value;
    assert.deepEqual(
      store.map((f: { path: string }) => f.path.split('/').pop()),
      ['MLmodel', 'model.bin'],
    );

    // Diagnose finds the storage account writable (a probe written to the bucket and removed).
    const post = ok(await a.request('POST', `${W}/diagnose?${V}`, { value: {} }), 202);
    let report: { storageAccountResults: { code: string; level: string }[] } | undefined;
    for (let i = 0; i < 200 && !report; i++) {
      const r = await b.request('GET', post.headers.get('location')!.replace(a.url, b.url));
      if (r.status === 200) report = r.body.value;
      else {
        assert.equal(r.status, 202, r.text);
        await new Promise((res) => setTimeout(res, 20));
      }
    }
    assert.deepEqual(
      report?.storageAccountResults.map((r) => `${r.level}:${r.code}`),
      ['Information:StorageWritable'],
    );

    // Deletes on one side are seen on the other.
    ok(await a.request('DELETE', `${artifacts(a)}/${root}/model/MLmodel`));
    assert.equal((await b.request('GET', `${artifacts(b)}/${root}/model/MLmodel`)).status, 404);
    ok(await b.request('DELETE', `${W}/datastores/workspaceblobstore/files/train/part-0.bin?${V}`));
    assert.equal((await a.request('GET', `${W}/datastores/workspaceblobstore/files/train/part-0.bin`)).status, 404);

    // Nothing was written to either server's own folder: the bytes are all in the bucket.
    for (const s of [a, b]) assert.equal(fs.existsSync(path.join(s.home, 'blobs')), false, `${s.home}/blobs`);
    const s3 = moto.client();
    const count = async (prefix: string) =>
      ((await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))).Contents ?? []).length;
    const account = String(ws.properties.storageAccount).split('/').pop();
    const mlflowPrefix = `atelier/${account}/azureml/mlflow/${String(ws.properties.workspaceId).toLowerCase()}/`;
    assert.equal(await count(mlflowPrefix), 2, 'model.bin and weights.bin');
    assert.equal(await count(`atelier/${account}/.atelier-diagnose`), 0, 'the diagnose probe is gone');

    // Deleting the workspace (through B) removes its artifacts from the bucket.
    const del = await b.request('DELETE', `${W}?${V}`);
    assert.ok(del.status === 200 || del.status === 202, del.text);
    for (let i = 0; i < 200 && (await a.request('GET', `${W}?${V}`)).status !== 404; i++)
      await new Promise((r) => setTimeout(r, 50));
    assert.equal((await a.request('GET', `${W}?${V}`)).status, 404);
    assert.equal(await count(mlflowPrefix), 0);
    s3.destroy();
  });
});
