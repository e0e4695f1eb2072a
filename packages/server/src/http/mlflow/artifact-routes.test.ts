import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Readable } from 'node:stream';
import { startTestServer, testDialects, type TestServer } from '../../testing/harness.js';
import {
  artifactWorkspace,
  generatedBytes,
  sha256Of,
  userWithRole,
  type ArtifactTestWorkspace,
} from './artifacts-testing.js';
import { findMoto, startMoto, type Moto } from '../../testing/moto.js';
import type { BlobStoreConfig } from '../../blob/factory.js';
import { ListMultipartUploadsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';

function put(
  t: TestServer,
  url: string,
  body: string | Readable,
  headers: Record<string, string> = {},
  auth: string | null = `Bearer ${t.adminToken}`,
): Promise<Response> {
  const h: Record<string, string> = { ...headers };
  if (auth) h.authorization = auth;
  const payload = body instanceof Readable ? (Readable.toWeb(body) as ReadableStream) : body;
  return fetch(url, { method: 'PUT', headers: h, body: payload, duplex: 'half' } as RequestInit);
}

function get(
  t: TestServer,
  url: string,
  headers: Record<string, string> = {},
  auth: string | null = `Bearer ${t.adminToken}`,
): Promise<Response> {
  return fetch(url, { headers: auth ? { ...headers, authorization: auth } : headers });
}

// Each variant runs on the local blob store and, with moto on loopback, on an S3 bucket.
const python = findMoto('the S3 variants of the artifact tests');
let moto: Moto | undefined;
after(() => moto?.stop());

for (const dialect of testDialects())
  for (const kind of python ? (['local', 's3'] as const) : (['local'] as const)) {
    test(`mlflow-artifacts proxy (${dialect}${kind === 's3' ? ', S3 blob store' : ''})`, async (tt) => {
      const blobStore = kind === 's3' ? await (moto ??= await startMoto(python!)).bucket() : undefined;
      const t = await startTestServer(dialect, blobStore ? { blobStore } : {});
      tt.after(() => t.close());
      const w = await artifactWorkspace(t);
      const stored = () => storedFiles(t, blobStore);

      await tt.test('upload, list, download, delete; JSON bodies are stored as bytes, not parsed', async () => {
        const json = '{"a": 1, "b": [NaN]}';
        let r = await put(t, `${w.artifacts}/1/run1/artifacts/config.json`, json, {
          'content-type': 'application/json',
        });
        assert.equal(r.status, 200, await r.text());
        r = await put(t, `${w.artifacts}/1/run1/artifacts/sub%20dir/notes.txt`, 'hello notes', {
          'content-type': 'text/plain',
        });
        assert.equal(r.status, 200);
        r = await put(t, `${w.artifacts}/1/run1/artifacts/empty.bin`, '');
        assert.equal(r.status, 200, await r.text());

        const list = await t.request('GET', `${w.artifacts}?path=${encodeURIComponent('1/run1/artifacts')}`);
        assert.equal(list.status, 200);
        assert.deepEqual(list.body.files, [
          { path: 'config.json', is_dir: false, file_size: json.length },
          { path: 'empty.bin', is_dir: false, file_size: 0 },
          { path: 'sub dir', is_dir: true },
        ]);
        const sub = await t.request('GET', `${w.artifacts}?path=${encodeURIComponent('1/run1/artifacts/sub dir')}`);
        assert.deepEqual(sub.body, { files: [{ path: 'notes.txt', is_dir: false, file_size: 11 }] });
        // A file or a missing path lists as empty, as MLflow's local store does.
        assert.deepEqual((await t.request('GET', `${w.artifacts}?path=1/run1/artifacts/config.json`)).body, {});
        assert.deepEqual((await t.request('GET', `${w.artifacts}?path=nothing/here`)).body, {});

        const d = await get(t, `${w.artifacts}/1/run1/artifacts/config.json`);
        assert.equal(d.status, 200);
        assert.equal(await d.text(), json);
        assert.equal(d.headers.get('content-type'), 'application/json');
        assert.match(d.headers.get('content-disposition') ?? '', /^attachment; filename="config.json"/);
        assert.equal(d.headers.get('x-content-type-options'), 'nosniff');
        assert.equal(await (await get(t, `${w.artifacts}/1/run1/artifacts/sub%20dir/notes.txt`)).text(), 'hello notes');

        // Overwrite replaces.
        await put(t, `${w.artifacts}/1/run1/artifacts/sub%20dir/notes.txt`, 'v2');
        assert.equal(await (await get(t, `${w.artifacts}/1/run1/artifacts/sub%20dir/notes.txt`)).text(), 'v2');

        const missing = await t.request('GET', `${w.artifacts}/1/run1/artifacts/nope.txt`);
        assert.equal(missing.status, 404);
        assert.equal(missing.body.error_code, 'RESOURCE_DOES_NOT_EXIST');
        const folder = await t.request('GET', `${w.artifacts}/1/run1/artifacts/sub%20dir`);
        assert.equal(folder.status, 400);

        // A file where a folder is, and the other way round: refused, nothing changed.
        const clash = await put(t, `${w.artifacts}/1/run1/artifacts/config.json/inner.txt`, 'x');
        assert.equal(clash.status, 400);
        assert.equal(((await clash.json()) as { error_code: string }).error_code, 'RESOURCE_ALREADY_EXISTS');
        const clash2 = await put(t, `${w.artifacts}/1/run1/artifacts/sub%20dir`, 'x');
        assert.equal(clash2.status, 400);

        assert.equal((await t.request('DELETE', `${w.artifacts}/1/run1/artifacts/sub%20dir`)).status, 200);
        assert.deepEqual(
          (await t.request('GET', `${w.artifacts}?path=1/run1/artifacts`)).body.files.map(
            (f: { path: string }) => f.path,
          ),
          ['config.json', 'empty.bin'],
        );
        assert.equal((await t.request('DELETE', `${w.artifacts}/1/run1/artifacts/config.json`)).status, 200);
        assert.equal((await t.request('DELETE', `${w.artifacts}/1/run1/artifacts/never-there`)).status, 200);
        assert.equal((await t.request('GET', `${w.artifacts}/1/run1/artifacts/config.json`)).status, 404);
      });

      await tt.test('Range requests', async () => {
        await put(t, `${w.artifacts}/r/file.bin`, '0123456789');
        let r = await get(t, `${w.artifacts}/r/file.bin`, { range: 'bytes=2-5' });
        assert.equal(r.status, 206);
        assert.equal(await r.text(), '2345');
        assert.equal(r.headers.get('content-range'), 'bytes 2-5/10');
        r = await get(t, `${w.artifacts}/r/file.bin`, { range: 'bytes=-3' });
        assert.equal(await r.text(), '789');
        r = await get(t, `${w.artifacts}/r/file.bin`, { range: 'bytes=7-' });
        assert.equal(await r.text(), '789');
        r = await get(t, `${w.artifacts}/r/file.bin`, { range: 'bytes=20-30' });
        assert.equal(r.status, 416);
        assert.equal(r.headers.get('content-range'), 'bytes */10');
        r = await get(t, `${w.artifacts}/r/file.bin`, { range: 'lines=1-2' });
        assert.equal(r.status, 200);
        assert.equal(await r.text(), '0123456789');
      });

      await tt.test('paths cannot escape the workspace artifact root', async () => {
        const before = await stored();
        // Sent byte for byte (fetch would resolve '..' segments before sending).
        for (const p of [
          '../escape.txt',
          '%2E%2E/escape.txt',
          'a/../../escape.txt',
          'a/%2E%2E/%2E%2E/escape.txt',
          'a%2F..%2F..%2Fescape.txt',
          'a%5C..%5Cescape.txt',
          'a/x%00y',
        ]) {
          const r = await rawRequest(t, 'PUT', `${w.artifacts}/${p}`, 'evil');
          assert.equal(r.status, 400, `${p}: ${r.status} ${r.text}`);
          assert.equal(JSON.parse(r.text).error_code, 'INVALID_PARAMETER_VALUE');
          const g = await rawRequest(t, 'GET', `${w.artifacts}/${p}`);
          assert.equal(g.status, 400, p);
        }
        for (const p of ['..', '../..', 'a/../../..', '/etc']) {
          const r = await t.request('GET', `${w.artifacts}?path=${encodeURIComponent(p)}`);
          if (p === '/etc') {
            // An absolute path is read relative to the workspace root: nothing there.
            assert.deepEqual(r.body, {});
          } else assert.equal(r.status, 400, p);
        }
        assert.equal((await rawRequest(t, 'DELETE', `${w.artifacts}/%2E%2E`)).status, 400);
        assert.deepEqual(
          (await stored()).filter((f) => f.includes('escape')),
          [],
        );
        assert.deepEqual(
          (await stored()).filter(
            (f) => !before.includes(f) && !f.includes(w.storageAccount) && !f.startsWith('atelier.db'),
          ),
          [],
        );
      });

      await tt.test("another workspace's artifacts are not reachable; roles decide", async () => {
        await put(t, `${w.artifacts}/shared/path.txt`, 'secret of w');
        const other: ArtifactTestWorkspace = await artifactWorkspace(t);
        const r = await t.request('GET', `${other.artifacts}/shared/path.txt`);
        assert.equal(r.status, 404);
        assert.deepEqual((await t.request('GET', `${other.artifacts}?path=shared`)).body, {});

        const reader = await userWithRole(t, 'Reader', w.armId);
        assert.equal(await (await get(t, `${w.artifacts}/shared/path.txt`, {}, reader)).text(), 'secret of w');
        const denied = await put(t, `${w.artifacts}/shared/path.txt`, 'overwrite', {}, reader);
        assert.equal(denied.status, 403);
        assert.equal(((await denied.json()) as { error_code: string }).error_code, 'PERMISSION_DENIED');
        assert.equal(
          (
            await t.request('DELETE', `${w.artifacts}/shared/path.txt`, undefined, {
              token: null,
              headers: { authorization: reader },
            })
          ).status,
          403,
        );
        // No role on the other workspace: it does not exist for this user.
        assert.equal((await get(t, `${other.artifacts}/shared/path.txt`, {}, reader)).status, 404);
        assert.equal((await get(t, `${w.artifacts}/shared/path.txt`, {}, null)).status, 401);
        assert.equal(await (await get(t, `${w.artifacts}/shared/path.txt`)).text(), 'secret of w');
      });

      await tt.test('streams a few MB both ways', async () => {
        const size = 8 * 1024 * 1024 + 17;
        const expected = await sha256Of(generatedBytes(size, 3));
        const r = await put(t, `${w.artifacts}/big/blob.bin`, generatedBytes(size, 3), {
          'content-type': 'application/octet-stream',
        });
        assert.equal(r.status, 200, await r.text());
        const d = await get(t, `${w.artifacts}/big/blob.bin`);
        assert.equal(d.headers.get('content-length'), String(size));
        assert.deepEqual(await sha256Of(d.body as unknown as AsyncIterable<Uint8Array>), expected);
      });

      await tt.test('an interrupted upload leaves nothing behind; over-long names are refused', async () => {
        await put(t, `${w.artifacts}/cut/file.bin`, 'old content');
        const u = new URL(`${w.artifacts}/cut/file.bin`);
        await new Promise<void>((resolve) => {
          const req = http.request({
            host: u.hostname,
            port: u.port,
            method: 'PUT',
            path: u.pathname,
            headers: { authorization: `Bearer ${t.adminToken}`, 'content-length': String(10 * 1024 * 1024) },
          });
          req.on('error', () => resolve());
          req.write(Buffer.alloc(256 * 1024, 7));
          // Cut once the server is writing the file (its .partial is there; on S3 none shows: a pause).
          void (async () => {
            for (const end = Date.now() + 30_000; kind === 'local' && Date.now() < end;) {
              if ((await stored()).some((f) => f.endsWith('.partial'))) break;
              await new Promise((r) => setTimeout(r, 20));
            }
            if (kind !== 'local') await new Promise((r) => setTimeout(r, 300));
            req.destroy();
            resolve();
          })();
        });
        // The server sees the connection drop, then removes what it had written: wait for that.
        let partial: string[] = [];
        for (const end = Date.now() + 30_000; Date.now() < end;) {
          partial = (await stored()).filter((f) => f.endsWith('.partial'));
          if (!partial.length) break;
          await new Promise((r) => setTimeout(r, 50));
        }
        assert.deepEqual(partial, []);
        assert.equal(
          await (await get(t, `${w.artifacts}/cut/file.bin`)).text(),
          'old content',
          'the old file is intact',
        );
        const long = await put(t, `${w.artifacts}/${'x'.repeat(300)}/f.txt`, 'x');
        assert.equal(long.status, 400);
      });

      await tt.test('multipart upload with part URLs pointing back at the server', async () => {
        const partSize = 1024 * 1024;
        const total = partSize * 2 + 1000;
        const created = await t.request('POST', `${w.trackingUri}/api/2.0/mlflow-artifacts/mpu/create/mp`, {
          path: '/home/me/models/model.bin',
          num_parts: 3,
        });
        assert.equal(created.status, 200, created.text);
        const { upload_id, credentials } = created.body as {
          upload_id: string;
          credentials: { url: string; part_number: number; headers?: Record<string, string> }[];
        };
        assert.equal(credentials.length, 3);
        assert.ok(credentials[0]!.url.startsWith(t.url));
        // The credential is a header, never in the URL; without it, or with a wrong one, refused.
        assert.ok(!credentials[0]!.url.includes('?'));
        assert.equal(
          (await put(t, credentials[0]!.url, 'x', { 'x-atelier-upload-token': 'forged' }, null)).status,
          404,
        );
        assert.equal((await put(t, credentials[0]!.url, 'x', {}, null)).status, 404);
        assert.equal(
          (
            await put(
              t,
              credentials[0]!.url,
              'x',
              {
                ...credentials[1]!.headers,
                'x-atelier-upload-token': 'x' + credentials[0]!.headers!['x-atelier-upload-token'],
              },
              null,
            )
          ).status,
          404,
        );
        // Parts are sent without credentials, out of order, one of them twice.
        const parts: { part_number: number; etag: string }[] = [];
        for (const i of [2, 0, 1, 1]) {
          const c = credentials[i]!;
          const len = i < 2 ? partSize : total - 2 * partSize;
          const res = await put(t, c.url, generatedBytes(len, 10 + i), c.headers ?? {}, null);
          assert.equal(res.status, 200, await res.text());
          const etag = res.headers.get('etag');
          assert.ok(etag);
          parts[i] = { part_number: c.part_number, etag };
        }
        const badEtag = await t.request('POST', `${w.trackingUri}/api/2.0/mlflow-artifacts/mpu/complete/mp`, {
          path: '/home/me/models/model.bin',
          upload_id,
          parts: parts.map((p) => ({ ...p, etag: '"0"' })),
        });
        assert.equal(badEtag.status, 400);
        const wrongPath = await t.request('POST', `${w.trackingUri}/api/2.0/mlflow-artifacts/mpu/complete/mp`, {
          path: 'other.bin',
          upload_id,
          parts,
        });
        assert.equal(wrongPath.status, 400);
        const done = await t.request('POST', `${w.trackingUri}/api/2.0/mlflow-artifacts/mpu/complete/mp`, {
          path: 'C:\\Users\\me\\model.bin',
          upload_id,
          parts,
        });
        assert.equal(done.status, 200, done.text);
        const d = await get(t, `${w.artifacts}/mp/model.bin`);
        assert.equal(d.headers.get('content-length'), String(total));
        const got = await sha256Of(d.body as unknown as AsyncIterable<Uint8Array>);
        const { PassThrough } = await import('node:stream');
        const joined = new PassThrough();
        void (async () => {
          for (const [i, len] of [
            [0, partSize],
            [1, partSize],
            [2, total - 2 * partSize],
          ] as const)
            for await (const c of generatedBytes(len, 10 + i)) joined.write(c);
          joined.end();
        })();
        assert.deepEqual(got, await sha256Of(joined));
        // The upload is gone: its parts cannot be sent again.
        assert.equal((await put(t, credentials[0]!.url, 'late', credentials[0]!.headers ?? {}, null)).status, 404);

        // Abort forgets an upload.
        const second = await t.request('POST', `${w.trackingUri}/api/2.0/mlflow-artifacts/mpu/create/mp`, {
          path: 'aborted.bin',
          num_parts: 1,
        });
        await put(t, second.body.credentials[0].url, 'part', second.body.credentials[0].headers, null);
        const aborted = await t.request('POST', `${w.trackingUri}/api/2.0/mlflow-artifacts/mpu/abort/mp`, {
          path: 'aborted.bin',
          upload_id: second.body.upload_id,
        });
        assert.equal(aborted.status, 200);
        assert.equal((await t.request('GET', `${w.artifacts}/mp/aborted.bin`)).status, 404);
        assert.equal(
          (
            await t.request('POST', `${w.trackingUri}/api/2.0/mlflow-artifacts/mpu/abort/mp`, {
              path: 'aborted.bin',
              upload_id: second.body.upload_id,
            })
          ).status,
          404,
        );
        assert.equal((await stored()).filter((f) => f.includes('.multipart/') && !f.endsWith('/')).length, 0);

        // An upload left unfinished past its expiry is swept away with its parts.
        const stale = await t.request('POST', `${w.trackingUri}/api/2.0/mlflow-artifacts/mpu/create/mp`, {
          path: 'stale.bin',
          num_parts: 1,
        });
        await put(t, stale.body.credentials[0].url, 'part', stale.body.credentials[0].headers, null);
        await t.server.ctx.db
          .updateTable('mlflow_artifact_uploads')
          .set({ expires_at: Date.now() - 1 })
          .where('upload_id', '=', stale.body.upload_id)
          .execute();
        assert.equal(
          (await put(t, stale.body.credentials[0].url, 'late', stale.body.credentials[0].headers, null)).status,
          404,
        );
        await t.request('POST', `${w.trackingUri}/api/2.0/mlflow-artifacts/mpu/create/mp`, {
          path: 'fresh.bin',
          num_parts: 1,
        });
        assert.equal(
          await t.server.ctx.db
            .selectFrom('mlflow_artifact_uploads')
            .select('upload_id')
            .where('upload_id', '=', stale.body.upload_id)
            .executeTakeFirst(),
          undefined,
        );
        assert.ok(!(await stored()).some((f) => f.includes(stale.body.upload_id)));

        // Bad input: no file name, an escaping folder.
        assert.equal(
          (
            await t.request('POST', `${w.trackingUri}/api/2.0/mlflow-artifacts/mpu/create/mp`, {
              path: '/tmp/..',
              num_parts: 1,
            })
          ).status,
          400,
        );
        assert.equal(
          (await t.request('POST', `${w.trackingUri}/api/2.0/mlflow-artifacts/mpu/create/mp`, { num_parts: 1 })).status,
          400,
        );
        assert.equal(
          (
            await rawRequest(
              t,
              'POST',
              `${w.trackingUri}/api/2.0/mlflow-artifacts/mpu/create/%2E%2E/%2E%2E`,
              JSON.stringify({ path: 'x.bin', num_parts: 1 }),
            )
          ).status,
          400,
        );
        assert.equal(
          (
            await t.request('POST', `${w.trackingUri}/api/2.0/mlflow-artifacts/mpu/create/mp`, {
              path: 'x.bin',
              num_parts: 0,
            })
          ).status,
          400,
        );
        assert.equal(
          (
            await t.request('POST', `${w.trackingUri}/api/2.0/mlflow-artifacts/mpu/create/mp`, {
              path: 'x.bin',
              num_parts: 3,
              extra: 1,
            })
          ).status,
          400,
        );
        // Another workspace cannot complete this workspace's upload.
        const third = await t.request('POST', `${w.trackingUri}/api/2.0/mlflow-artifacts/mpu/create/mp`, {
          path: 'x.bin',
          num_parts: 1,
        });
        const other = await artifactWorkspace(t);
        const stolen = await t.request('POST', `${other.trackingUri}/api/2.0/mlflow-artifacts/mpu/complete/mp`, {
          path: 'x.bin',
          upload_id: third.body.upload_id,
          parts: [{ part_number: 1 }],
        });
        assert.equal(stolen.status, 404);
      });

      await tt.test('server-info and presigned downloads', async () => {
        const info = await t.request('GET', `${w.trackingUri}/api/3.0/mlflow/server-info`);
        assert.equal(info.status, 200);
        assert.equal(info.body.store_type, 'SqlStore');
        const presigned = await t.request('GET', `${w.trackingUri}/api/2.0/mlflow-artifacts/presigned/r/file.bin`);
        assert.equal(presigned.status, 501);
        assert.equal(presigned.body.error_code, 'NOT_IMPLEMENTED');
      });
    });
  }

/** An HTTP request whose path is sent exactly as written. */
function rawRequest(
  t: TestServer,
  method: string,
  url: string,
  body?: string,
): Promise<{ status: number; text: string }> {
  const u = new URL(t.url);
  const pathPart = url.slice(t.url.length);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        method,
        path: pathPart,
        headers: {
          authorization: `Bearer ${t.adminToken}`,
          ...(body !== undefined
            ? {
                'content-length': String(Buffer.byteLength(body)),
                ...(method === 'POST' ? { 'content-type': 'application/json' } : {}),
              }
            : {}),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * What the server stored: the files below its data folder, or the keys of its S3 bucket plus, for
 * each unfinished S3 multipart upload, its key + '.partial' (S3's half-written file).
 */
async function storedFiles(t: TestServer, blobStore?: BlobStoreConfig): Promise<string[]> {
  if (blobStore?.kind !== 's3')
    return (fs.readdirSync(t.home, { recursive: true }) as string[]).map((f) => f.split(path.sep).join('/'));
  const s3 = moto!.client();
  try {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const r = await s3.send(new ListObjectsV2Command({ Bucket: blobStore.bucket, ContinuationToken: token }));
      keys.push(...(r.Contents ?? []).map((o) => o.Key!));
      token = r.NextContinuationToken;
    } while (token);
    const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: blobStore.bucket }));
    return [...keys, ...(uploads.Uploads ?? []).map((u) => `${u.Key}.partial`)];
  } finally {
    s3.destroy();
  }
}
