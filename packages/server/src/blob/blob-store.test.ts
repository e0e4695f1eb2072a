import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { ListMultipartUploadsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { BlobStores } from './factory.js';
import { BlobPathConflict, type BlobStore } from './blob-store.js';
import { blobStoreConfig } from '../config.js';
import { findMoto, startMoto, type Moto } from '../testing/moto.js';

const python = findMoto('the S3 blob store tests');

async function text(s: AsyncIterable<Uint8Array>): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(Buffer.from(c));
  return Buffer.concat(parts).toString();
}

/** A body that sends `bytes` bytes, then fails (a client that went away mid-upload). */
function failingBody(bytes: number): Readable {
  const out = new PassThrough();
  const chunk = Buffer.alloc(1024 * 1024, 5);
  let left = bytes;
  const pump = (): void => {
    while (left > 0) {
      const c = chunk.subarray(0, Math.min(left, chunk.length));
      left -= c.length;
      if (!out.write(c)) return void out.once('drain', pump);
    }
    setImmediate(() => out.destroy(new Error('client went away')));
  };
  pump();
  return out;
}

// The same behaviour from both stores the factory makes: a folder and a prefix of an S3 bucket.
for (const kind of ['local', 's3'] as const) {
  describe(`blob store: ${kind}`, { skip: kind === 's3' && !python }, () => {
    let home: string;
    let moto: Moto | undefined;
    let blobs: BlobStores;
    let store: BlobStore;
    let bucket = '';
    before(async () => {
      home = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-blob-'));
      if (kind === 's3') {
        moto = await startMoto(python!);
        const cfg = await moto.bucket(undefined, 'replicas/one');
        bucket = cfg.bucket;
        blobs = new BlobStores(cfg, path.join(home, 'blobs'));
      } else blobs = new BlobStores({ kind: 'local' }, path.join(home, 'blobs'));
      await blobs.check();
      store = blobs.account('acct1');
      await store.init();
    });
    after(() => {
      blobs?.close();
      moto?.stop();
      fs.rmSync(home, { recursive: true, force: true });
    });

    it('put, get (whole and ranges), stat, overwrite', async () => {
      assert.deepEqual(await store.put('a/b/c.txt', Readable.from([Buffer.from('0123'), Buffer.from('456789')])), {
        size: 10,
      });
      const whole = await store.get('a/b/c.txt');
      assert.equal(whole.size, 10);
      assert.equal(await text(whole.stream), '0123456789');
      const part = await store.get('a/b/c.txt', { start: 2, end: 5 });
      assert.equal(part.size, 10, 'size is the whole file');
      assert.equal(await text(part.stream), '2345');
      assert.equal(await text((await store.get('a/b/c.txt', { start: 7 })).stream), '789');
      const st = await store.stat('a/b/c.txt');
      assert.equal(st?.isDir, false);
      assert.equal(st?.size, 10);
      assert.equal((await store.stat('a/b'))?.isDir, true);
      assert.equal(await store.stat('a/nothing'), undefined);
      await store.put('a/b/c.txt', Readable.from([Buffer.from('v2')]));
      assert.equal(await text((await store.get('a/b/c.txt')).stream), 'v2');
      await assert.rejects(store.get('a/none.txt'), { name: 'NotFound' });
      await store.put('empty', Readable.from([]));
      assert.equal((await store.stat('empty'))?.size, 0);
    });

    it('a name is a file or a folder, never both', async () => {
      await store.put('tree/file', Readable.from([Buffer.from('x')]));
      await assert.rejects(
        store.put('tree/file/below', Readable.from([Buffer.from('y')])),
        (e) => e instanceof BlobPathConflict,
      );
      await assert.rejects(store.put('tree', Readable.from([Buffer.from('y')])), (e) => e instanceof BlobPathConflict);
      assert.equal(await store.stat('tree/file/below'), undefined);
      assert.equal(await text((await store.get('tree/file')).stream), 'x');
    });

    it('paths cannot leave the store; over-long names are refused', async () => {
      for (const bad of ['../x', 'a/../../x', 'a\\b', 'a\0b']) {
        await assert.rejects(store.put(bad, Readable.from([Buffer.from('evil')])), { name: 'InvalidInput' }, bad);
        await assert.rejects(store.get(bad), { name: 'InvalidInput' }, bad);
      }
      await assert.rejects(store.put('', Readable.from([])), { name: 'InvalidInput' });
      await assert.rejects(store.put(`${'n'.repeat(256)}/f`, Readable.from([Buffer.from('x')])), {
        name: 'InvalidInput',
        code: 'BLOB_PATH_TOO_LONG',
      });
      // Reading a name no store could hold finds nothing (not a store error).
      const huge = Array.from({ length: 6 }, () => 'h'.repeat(250)).join('/');
      await assert.rejects(store.get(huge), { name: 'NotFound' });
      assert.equal(await store.stat(huge), undefined);
      assert.deepEqual(await store.list(huge), []);
      // The sibling account is not reachable from this one, and a shorter name is not a prefix of it.
      const other = blobs.account('acct1x');
      await other.put('a/b/c.txt', Readable.from([Buffer.from('other')]));
      assert.equal(await text((await store.get('a/b/c.txt')).stream), 'v2');
      await store.deletePrefix('');
      assert.equal(await text((await other.get('a/b/c.txt')).stream), 'other');
      assert.throws(() => blobs.account('../acct1'), { name: 'InvalidInput' });
      assert.throws(() => blobs.account('acct1', '..'), { name: 'InvalidInput' });
    });

    it('lists children or everything below, in pages', async () => {
      for (const k of ['l/b.txt', 'l/a.txt', 'l/sub/c.txt', 'l/sub/deeper/d.txt', 'l/z.txt'])
        await store.put(k, Readable.from([Buffer.from(k)]));
      assert.deepEqual(
        (await store.list('l')).map((e) => [e.path, e.isDir]),
        [
          ['l/a.txt', false],
          ['l/b.txt', false],
          ['l/sub', true],
          ['l/z.txt', false],
        ],
      );
      const all = (await store.list('l', { recursive: true })).map((e) => e.path);
      assert.deepEqual(all, ['l/a.txt', 'l/b.txt', 'l/sub/c.txt', 'l/sub/deeper/d.txt', 'l/z.txt']);
      const pages: string[][] = [];
      let after: string | undefined;
      for (;;) {
        const page = await store.list('l', { recursive: true, limit: 2, startAfter: after });
        if (!page.length) break;
        pages.push(page.map((e) => e.path));
        after = page[page.length - 1]!.path;
      }
      assert.deepEqual(pages, [['l/a.txt', 'l/b.txt'], ['l/sub/c.txt', 'l/sub/deeper/d.txt'], ['l/z.txt']]);
      assert.deepEqual(await store.list('missing'), []);
    });

    it('deletes a file and a whole prefix (and nothing beside it)', async () => {
      for (const k of ['d/x/1', 'd/x/2', 'd/x2/3', 'd/keep']) await store.put(k, Readable.from([Buffer.from(k)]));
      await store.delete('d/keep');
      assert.equal(await store.stat('d/keep'), undefined);
      await store.deletePrefix('d/x');
      assert.deepEqual(
        (await store.list('d', { recursive: true })).map((e) => e.path),
        ['d/x2/3'],
      );
      await store.delete('d/never');
    });

    it('streams a large file both ways; an interrupted upload leaves nothing, not even parts', async () => {
      const size = 20 * 1024 * 1024 + 3; // more than two S3 parts
      let sent = 0;
      const big = Readable.from(
        (async function* () {
          const c = Buffer.alloc(1024 * 1024, 9);
          while (sent < size) {
            const n = Math.min(c.length, size - sent);
            sent += n;
            yield c.subarray(0, n);
          }
        })(),
      );
      assert.deepEqual(await store.put('big/file.bin', big), { size });
      let got = 0;
      for await (const c of (await store.get('big/file.bin')).stream) got += (c as Buffer).length;
      assert.equal(got, size);

      await store.put('cut/file.bin', Readable.from([Buffer.from('old')]));
      // The body's own error comes back (not a store error), and nothing is stored.
      await assert.rejects(store.put('cut/file.bin', failingBody(12 * 1024 * 1024)), { message: 'client went away' });
      await assert.rejects(store.put('cut/new.bin', failingBody(3 * 1024 * 1024)), { message: 'client went away' });
      assert.equal(await text((await store.get('cut/file.bin')).stream), 'old', 'the old file is intact');
      assert.equal(await store.stat('cut/new.bin'), undefined);
      if (kind === 's3') {
        const s3 = moto!.client();
        const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
        assert.deepEqual(uploads.Uploads ?? [], [], 'the multipart upload was aborted');
        const keys = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'replicas/one/acct1/cut/' }));
        assert.deepEqual(
          (keys.Contents ?? []).map((o) => o.Key),
          ['replicas/one/acct1/cut/file.bin'],
        );
        s3.destroy();
      } else {
        const left = fs.readdirSync(path.join(home, 'blobs', 'acct1', 'cut'));
        assert.deepEqual(left, ['file.bin']);
      }
    });
  });
}

describe('ATELIER_BLOB_STORE configuration', () => {
  it('local by default; s3://bucket/prefix with its settings; clear errors otherwise', () => {
    assert.deepEqual(blobStoreConfig({}), { kind: 'local' });
    assert.deepEqual(blobStoreConfig({ ATELIER_BLOB_STORE: 'local' }), { kind: 'local' });
    assert.deepEqual(
      blobStoreConfig({
        ATELIER_BLOB_STORE: 's3://team-bucket/atelier/prod/',
        ATELIER_BLOB_S3_ENDPOINT: 'http://127.0.0.1:9000/',
        ATELIER_BLOB_S3_ACCESS_KEY_ID: 'k',
        ATELIER_BLOB_S3_SECRET_ACCESS_KEY: 's',
      }),
      {
        kind: 's3',
        bucket: 'team-bucket',
        prefix: 'atelier/prod',
        endpoint: 'http://127.0.0.1:9000',
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { accessKeyId: 'k', secretAccessKey: 's' },
      },
    );
    const aws = blobStoreConfig({ ATELIER_BLOB_STORE: 's3://team-bucket', AWS_REGION: 'eu-west-1' });
    assert.deepEqual(aws, {
      kind: 's3',
      bucket: 'team-bucket',
      prefix: '',
      endpoint: undefined,
      region: 'eu-west-1',
      forcePathStyle: false,
      credentials: undefined,
    });
    const bad: [Record<string, string>, RegExp][] = [
      [{ ATELIER_BLOB_STORE: 'gs://x/y' }, /must be 'local' or s3:\/\/bucket\/prefix/],
      [{ ATELIER_BLOB_STORE: 's3://No_Such' }, /not a valid bucket name/],
      [{ ATELIER_BLOB_STORE: 's3://team-bucket/a/../b' }, /must not contain/],
      [{ ATELIER_BLOB_STORE: 's3://team-bucket', ATELIER_BLOB_S3_ENDPOINT: 'ftp://x' }, /http or https/],
      [{ ATELIER_BLOB_STORE: 's3://team-bucket', ATELIER_BLOB_S3_ACCESS_KEY_ID: 'k' }, /set together/],
      [{ ATELIER_BLOB_STORE: 's3://team-bucket', ATELIER_BLOB_S3_PATH_STYLE: 'yes' }, /true or false/],
      [{ ATELIER_BLOB_S3_ENDPOINT: 'http://127.0.0.1:9000' }, /ATELIER_BLOB_STORE is not an s3:\/\/ URL/],
    ];
    for (const [env, msg] of bad) assert.throws(() => blobStoreConfig(env), msg, JSON.stringify(env));
  });

  it('a server does not start on a bucket it cannot use', { skip: !python }, async () => {
    const moto = await startMoto(python!);
    try {
      const cfg = await moto.bucket();
      const missing = new BlobStores({ ...cfg, bucket: 'no-such-bucket' }, os.tmpdir());
      await assert.rejects(missing.check(), /no-such-bucket.*does not exist/);
      missing.close();
      const { startTestServer } = await import('../testing/harness.js');
      await assert.rejects(
        startTestServer('sqlite', { blobStore: { ...cfg, bucket: 'no-such-bucket' } }),
        /ATELIER_BLOB_STORE.*does not exist/,
      );
    } finally {
      moto.stop();
    }
  });
});

describe('BlobStores factory', () => {
  it('reuses the client of a datastore bucket with the same settings, not with changed keys', () => {
    const blobs = new BlobStores({ kind: 'local' }, os.tmpdir());
    const target = {
      endpoint: 'http://127.0.0.1:9',
      region: 'us-east-1',
      bucket: 'team-bucket',
      forcePathStyle: true,
      credentials: { accessKeyId: 'k', secretAccessKey: 's1' },
    };
    const one = blobs.s3(target, 'a');
    assert.equal(blobs.s3(target, 'b').bucket, one.bucket);
    assert.notEqual(
      blobs.s3({ ...target, credentials: { accessKeyId: 'k', secretAccessKey: 's2' } }, 'a').bucket,
      one.bucket,
    );
    assert.equal(one.store.root, 'a');
    // At most 32 kept: the least recently used goes first.
    for (let i = 0; i < 40; i++) blobs.s3({ ...target, bucket: `bucket-${i}` }, '');
    assert.notEqual(blobs.s3(target, 'a').bucket, one.bucket);
    blobs.close();
  });
});
