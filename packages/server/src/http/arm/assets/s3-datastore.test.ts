import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { S3Client, CreateBucketCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { startTestServer, testDialects, type TestServer } from '../../../testing/harness.js';
import { V, createWorkspace, wsPath } from '../arm-test-helpers.js';
import { findMoto, startMoto, type Moto } from '../../../testing/moto.js';

// A real S3-compatible server on loopback (moto), or the suite is skipped (fails under ATELIER_TEST_STRICT=1).
const python = findMoto('the S3 datastore tests');

for (const dialect of testDialects()) {
  describe(`S3 datastores against a real S3-compatible server (${dialect})`, { skip: !python }, () => {
    let t: TestServer;
    let moto: Moto;
    let W: string;
    const creds = {
      accessKeyId: 'AKIAATELIERTEST',
      secretAccessKey: `secret-${crypto.randomBytes(6).toString('hex')}`,
    };
    before(async () => {
      moto = await startMoto(python!);
      const s3 = new S3Client({
        endpoint: moto.endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: creds,
      });
      await s3.send(new CreateBucketCommand({ Bucket: 'team-bucket' }));
      s3.destroy();
      process.env.ATELIER_S3_ENDPOINTS = moto.endpoint;
      t = await startTestServer(dialect);
      delete process.env.ATELIER_S3_ENDPOINTS;
      await createWorkspace(t, 's3-rg', 's3-ws');
      W = wsPath(t, 's3-rg', 's3-ws');
    });
    after(async () => {
      await t?.close();
      moto?.stop();
    });

    it('creates the datastore only when the bucket answers; files go to the bucket and come back', async () => {
      const body = (bucket: string) => ({
        properties: {
          datastoreType: 'S3',
          endpoint: moto.endpoint,
          bucket,
          prefix: 'atelier',
          credentials: {
            credentialsType: 'AccessKey',
            accessKeyId: creds.accessKeyId,
            secrets: { secretsType: 'AccessKey', secretAccessKey: creds.secretAccessKey },
          },
        },
      });
      const elsewhere = await t.request('PUT', `${W}/datastores/elsewhere?${V}`, {
        properties: { ...body('team-bucket').properties, endpoint: 'http://127.0.0.1:1' },
      });
      assert.equal(elsewhere.status, 400);
      assert.match(elsewhere.body.error.message, /ATELIER_S3_ENDPOINTS/);
      const missing = await t.request('PUT', `${W}/datastores/nobucket?${V}`, body('no-such-bucket'));
      assert.equal(missing.status, 400, missing.text);
      assert.match(missing.body.error.message, /does not exist/);
      const put = await t.request('PUT', `${W}/datastores/s3store?${V}`, body('team-bucket'));
      assert.equal(put.status, 201, put.text);
      assert.equal(put.text.includes(creds.secretAccessKey), false);
      assert.deepEqual(put.body.properties.credentials, {
        credentialsType: 'AccessKey',
        accessKeyId: creds.accessKeyId,
      });

      const bytes = crypto.randomBytes(70_000);
      const up = await fetch(`${t.url}${W}/datastores/s3store/files/data/a.bin`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${t.adminToken}` },
        body: bytes,
      });
      assert.equal(up.status, 201, await up.text());
      // Really in the bucket, below the prefix.
      const s3 = new S3Client({
        endpoint: moto.endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: creds,
      });
      const obj = await s3.send(new GetObjectCommand({ Bucket: 'team-bucket', Key: 'atelier/data/a.bin' }));
      assert.deepEqual(Buffer.from(await obj.Body!.transformToByteArray()), bytes);
      s3.destroy();

      const down = await fetch(`${t.url}${W}/datastores/s3store/files/data/a.bin`, {
        headers: { authorization: `Bearer ${t.adminToken}` },
      });
      assert.equal(down.status, 200);
      assert.deepEqual(Buffer.from(await down.arrayBuffer()), bytes);
      const part = await fetch(`${t.url}${W}/datastores/s3store/files/data/a.bin`, {
        headers: { authorization: `Bearer ${t.adminToken}`, range: 'bytes=10-19' },
      });
      assert.equal(part.status, 206);
      assert.equal(part.headers.get('content-range'), 'bytes 10-19/70000');
      assert.deepEqual(Buffer.from(await part.arrayBuffer()), bytes.subarray(10, 20));
      const again = await fetch(`${t.url}${W}/datastores/s3store/files/data/a.bin`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${t.adminToken}` },
        body: 'x',
      });
      assert.equal(again.status, 409);
      const list = await t.request('GET', `${W}/datastores/s3store/files?recursive=true`);
      assert.deepEqual(
        list.body.value.map((f: any) => [f.path, f.size]),
        [['data/a.bin', 70_000]],
      );
      assert.equal(
        (await t.request('POST', `${W}/datastores/s3store/listSecrets?${V}`)).body.secretAccessKey,
        creds.secretAccessKey,
      );
      assert.equal((await t.request('DELETE', `${W}/datastores/s3store/files/data?${V}`)).status, 200);
      assert.equal((await t.request('GET', `${W}/datastores/s3store/files/data/a.bin`)).status, 404);
    });
  });
}
