import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startTestServer, testDialects, type TestServer } from '../../testing/harness.js';
import { makeWorkspace, type TestWorkspace } from './testing.js';

const token = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64');

// Input that once made the server answer 500: each is now a 4xx that says what is wrong.
for (const dialect of testDialects()) {
  describe(`MLflow routes refuse pathological input with a 4xx (${dialect})`, () => {
    let t: TestServer;
    let w: TestWorkspace;
    let api: string;
    let runId: string;
    let expId: string;
    before(async () => {
      t = await startTestServer(dialect);
      w = await makeWorkspace(t, 'bad-input-ws', 'bad-input-rg');
      api = `${w.trackingUri}/api/2.0/mlflow`;
      expId = (await t.request('POST', `${api}/experiments/create`, { name: 'bad-input' })).body.experiment_id;
      runId = (await t.request('POST', `${api}/runs/create`, { experiment_id: expId })).body.run.info.run_id;
    });
    after(async () => t?.close());

    const is4xx = (r: { status: number; text: string }, what: string) =>
      assert.ok(r.status >= 400 && r.status < 500, `${what}: ${r.status} ${r.text.slice(0, 300)}`);

    it('a 10,000-deep nested metric value', async () => {
      const deep = `${'['.repeat(10_000)}1${']'.repeat(10_000)}`;
      for (const path of ['runs/log-metric', 'runs/log-batch']) {
        const body =
          path === 'runs/log-metric'
            ? `{"run_id":"${runId}","key":"m","value":${deep},"timestamp":1,"step":0}`
            : `{"run_id":"${runId}","metrics":[{"key":"m","value":${deep},"timestamp":1,"step":0}]}`;
        const r = await t.request('POST', `${api}/${path}`, body);
        is4xx(r, path);
        assert.equal(r.body?.error_code, 'INVALID_PARAMETER_VALUE', r.text.slice(0, 300));
      }
      const nestedParams = await t.request('POST', `${api}/runs/log-batch`, `{"run_id":"${runId}","params":${deep}}`);
      is4xx(nestedParams, 'nested params');
    });

    it('a 5,000-clause run filter', async () => {
      const filter = Array.from({ length: 5000 }, (_, i) => `metrics.m${i % 50} > ${i}`).join(' and ');
      const r = await t.request('POST', `${api}/runs/search`, { experiment_ids: [expId], filter });
      is4xx(r, 'runs/search');
      assert.equal(r.body.error_code, 'INVALID_PARAMETER_VALUE');
      const models = await t.request(
        'GET',
        `${api}/registered-models/search?filter=${encodeURIComponent(Array.from({ length: 5000 }, () => "name = 'x'").join(' and '))}`,
      );
      is4xx(models, 'registered-models/search');
    });

    it('page tokens holding an offset of 1e300 (or other numbers beyond any page)', async () => {
      for (const offset of [1e300, 2 ** 63, -1, 1.5]) {
        is4xx(
          await t.request('POST', `${api}/runs/search`, { experiment_ids: [expId], page_token: token({ offset }) }),
          `runs ${offset}`,
        );
        is4xx(
          await t.request('POST', `${api}/experiments/search`, { max_results: 10, page_token: token({ offset }) }),
          `experiments ${offset}`,
        );
        is4xx(
          await t.request('GET', `${api}/registered-models/search?page_token=${encodeURIComponent(token({ offset }))}`),
          `models ${offset}`,
        );
        is4xx(
          await t.request('POST', `${api}/logged-models/search`, {
            experiment_ids: [expId],
            page_token: token({ offset }),
          }),
          `logged models ${offset}`,
        );
      }
      const history = await t.request(
        'GET',
        `${api}/metrics/get-history?run_id=${runId}&metric_key=m&page_token=${encodeURIComponent(token({ after: [1e300, 1e300, '1', 0] }))}`,
      );
      is4xx(history, 'get-history');
    });

    it('deleting the workspace while an artifact is being streamed in', async () => {
      const doomed = await makeWorkspace(t, 'bad-input-doomed', 'bad-input-rg');
      const u = new URL(`${doomed.trackingUri}/api/2.0/mlflow-artifacts/artifacts/1/big.bin`, t.url);
      const answer = new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = http.request(
          {
            host: u.hostname,
            port: u.port,
            path: u.pathname,
            method: 'PUT',
            headers: { authorization: `Bearer ${t.adminToken}`, 'content-type': 'application/octet-stream' },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
          },
        );
        req.on('error', reject);
        req.write(Buffer.alloc(256 * 1024, 1));
        // The rest of the file comes after the workspace was deleted.
        setTimeout(async () => {
          const del = await t.request('DELETE', `${doomed.armId}?api-version=2025-09-01&deleteDependentResources=true`);
          for (
            let i = 0;
            i < 200 && (await t.request('GET', `${doomed.armId}?api-version=2025-09-01`)).status !== 404;
            i++
          )
            await new Promise((r) => setTimeout(r, 25));
          assert.ok(del.status < 300, del.text);
          req.end(Buffer.alloc(256 * 1024, 2));
        }, 300);
      });
      const r = await answer;
      is4xx(r, 'upload into a deleted workspace');
    });
  });
}
