import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import { startTestServer, testDialects, type TestServer } from '../../../testing/harness.js';
import { V, createWorkspace, wsPath } from '../arm-test-helpers.js';

const LIMIT = 4096;

for (const dialect of testDialects()) {
  describe(`datastore upload size limit and mltable folders (${dialect})`, () => {
    let t: TestServer;
    let W: string;
    let ws: any;

    before(async () => {
      t = await startTestServer(dialect, { datastoreUploadLimit: LIMIT });
      ws = await createWorkspace(t, 'limits-rg', 'limits-ws');
      W = wsPath(t, 'limits-rg', 'limits-ws');
    });
    after(async () => {
      await t?.close();
    });

    const upload = (p: string, body: Buffer | string | ReadableStream, extra: Record<string, unknown> = {}) =>
      fetch(`${t.url}${W}/datastores/workspaceblobstore/files/${p}?${V}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${t.adminToken}`, 'content-type': 'application/octet-stream' },
        body,
        ...extra,
      } as Parameters<typeof fetch>[1]);
    /** A chunked upload (no Content-Length); the server may answer before the last chunk is sent. */
    const uploadChunked = (p: string, chunks: Buffer[]) =>
      new Promise<{ status: number; text: string }>((resolve, reject) => {
        let answered = false;
        const req = http.request(
          `${t.url}${W}/datastores/workspaceblobstore/files/${p}?${V}`,
          {
            method: 'PUT',
            headers: {
              authorization: `Bearer ${t.adminToken}`,
              'content-type': 'application/octet-stream',
              'transfer-encoding': 'chunked',
            },
          },
          (res) => {
            answered = true;
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => (text += c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
          },
        );
        req.on('error', (e: NodeJS.ErrnoException) => {
          // Writing the rest after the server answered and closed is expected; the answer counts.
          if (e.code !== 'EPIPE' && e.code !== 'ECONNRESET') reject(e);
        });
        req.on('close', () => {
          if (!answered) reject(new Error('the connection closed without an answer'));
        });
        const write = (i: number): void => {
          if (i === chunks.length) return void req.end();
          req.write(chunks[i], () => setTimeout(() => write(i + 1), 20));
        };
        write(0);
      });
    const accountFolder = () => path.join(t.home, 'blobs', ws.properties.storageAccount.split('/').pop());
    const filesIn = (dir: string): string[] =>
      fs.existsSync(dir) ? fs.readdirSync(dir, { recursive: true }).map(String) : [];

    it('an upload up to the limit is stored; a larger one is refused with a clear 413 and leaves nothing', async () => {
      const ok = await upload('limits/exact.bin', Buffer.alloc(LIMIT, 1));
      assert.equal(ok.status, 201, await ok.text());
      const big = await upload('limits/big.bin', Buffer.alloc(LIMIT + 1, 1));
      assert.equal(big.status, 413);
      const body = (await big.json()) as any;
      assert.equal(body.error.code, 'RequestEntityTooLarge');
      assert.match(body.error.message, /at most 4096 bytes.*ATELIER_DATASTORE_UPLOAD_LIMIT/);
      // Chunked (no Content-Length): counted while streaming, refused with the same 413 once the
      // limit is passed (the rest of the body is not read); the partial file is removed.
      const chunked = await uploadChunked('limits/chunked.bin', [Buffer.alloc(3000, 2), Buffer.alloc(3000, 3)]);
      assert.equal(chunked.status, 413, chunked.text);
      assert.equal(JSON.parse(chunked.text).error.code, 'RequestEntityTooLarge');
      const left = filesIn(accountFolder()).filter((f) => f.includes('big.bin') || f.includes('chunked.bin'));
      assert.deepEqual(left, [], 'no file or partial file is left');
      const list = await t.request('GET', `${W}/datastores/workspaceblobstore/files?${V}&path=limits`);
      assert.deepEqual(
        list.body.value.map((f: any) => f.path),
        ['limits/exact.bin'],
      );
    });

    it('an mltable data asset needs an MLTable file in its folder', async () => {
      assert.equal((await upload('tables/iris/data.csv', 'a,b\n1,2\n')).status, 201);
      const uri = 'azureml://datastores/workspaceblobstore/paths/tables/iris/';
      const refused = await t.request('PUT', `${W}/data/iris/versions/1?${V}`, {
        properties: { dataType: 'mltable', dataUri: uri },
      });
      assert.equal(refused.status, 400, refused.text);
      assert.match(refused.body.error.message, /must contain an MLTable file.*tables\/iris\/MLTable/);
      assert.equal((await t.request('GET', `${W}/data/iris/versions/1?${V}`)).status, 404, 'nothing registered');
      assert.equal(
        (
          await upload(
            'tables/iris/MLTable',
            'paths:\n  - file: ./data.csv\ntransformations:\n  - read_delimited:\n      delimiter: ","\n',
          )
        ).status,
        201,
      );
      const ok = await t.request('PUT', `${W}/data/iris/versions/1?${V}`, {
        properties: { dataType: 'mltable', dataUri: uri },
      });
      assert.equal(ok.status, 201, ok.text);
      const direct = await t.request('PUT', `${W}/data/iris/versions/2?${V}`, {
        properties: { dataType: 'mltable', dataUri: `${uri}MLTable` },
      });
      assert.equal(direct.status, 201, 'the URI may name the MLTable file itself');
      // A folder named MLTable is not the file.
      assert.equal((await upload('tables/odd/MLTable/x.txt', 'x')).status, 201);
      assert.equal(
        (
          await t.request('PUT', `${W}/data/odd/versions/1?${V}`, {
            properties: { dataType: 'mltable', dataUri: 'azureml://datastores/workspaceblobstore/paths/tables/odd' },
          })
        ).status,
        400,
      );
    });
  });
}
