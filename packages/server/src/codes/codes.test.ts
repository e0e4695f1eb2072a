import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { startTestServer, testDialects, type TestServer } from '../testing/harness.js';
import { V, createWorkspace, userWithRole, wsPath } from '../http/arm/arm-test-helpers.js';
import { resolveWorkspace } from '../resources/workspaces.js';

/** Code assets through the ARM routes, their uploads through the Blob REST subset, and snapshots. */
for (const dialect of testDialects()) {
  describe(`code assets and the Blob REST subset (${dialect})`, () => {
    let t: TestServer;
    let W: string;
    before(async () => {
      t = await startTestServer(dialect);
      await createWorkspace(t, 'code-rg', 'code-ws');
      W = wsPath(t, 'code-rg', 'code-ws');
    });
    after(async () => t?.close());

    /** A pending upload: the folder's blob URI and its SAS query. */
    async function pending(name: string) {
      const r = await t.request('POST', `${W}/codes/${name}/versions/1/startPendingUpload?${V}`, {
        pendingUploadType: 'TemporaryBlobReference',
      });
      assert.equal(r.status, 200, r.text);
      const ref = r.body.blobReferenceForConsumption;
      assert.equal(ref.credential.credentialType, 'SAS');
      const [base, sas] = ref.credential.sasUri.split('?');
      assert.equal(base, ref.blobUri);
      return { blobUri: ref.blobUri as string, sas: sas as string };
    }
    const put = (url: string, body: string | Buffer, headers: Record<string, string> = {}) =>
      fetch(url, { method: 'PUT', body, headers: { 'x-ms-blob-type': 'BlockBlob', ...headers } });

    it('uploads a folder with Put Blob and blocks, registers it, and keeps the version immutable', async () => {
      const { blobUri, sas } = await pending('train');
      // HEAD of a missing blob: 404 with Azure's error code header, no body.
      const head = await fetch(`${blobUri}/src/train.py?${sas}`, { method: 'HEAD' });
      assert.equal(head.status, 404);
      assert.equal(head.headers.get('x-ms-error-code'), 'BlobNotFound');
      const script = 'print("hello")\n';
      const md5 = crypto.createHash('md5').update(script).digest('base64');
      const created = await put(`${blobUri}/src/train.py?${sas}`, script, { 'content-md5': md5, 'if-none-match': '*' });
      assert.equal(created.status, 201, await created.text());
      // If-None-Match: * on an existing blob: 409 BlobAlreadyExists.
      const again = await put(`${blobUri}/src/train.py?${sas}`, script, { 'if-none-match': '*' });
      assert.equal(again.status, 409);
      assert.equal(again.headers.get('x-ms-error-code'), 'BlobAlreadyExists');
      // A wrong Content-MD5 leaves nothing behind.
      const wrong = await put(`${blobUri}/src/bad.py?${sas}`, 'x = 1\n', { 'content-md5': md5 });
      assert.equal(wrong.status, 400);
      assert.equal(wrong.headers.get('x-ms-error-code'), 'Md5Mismatch');
      assert.equal((await fetch(`${blobUri}/src/bad.py?${sas}`, { method: 'HEAD' })).status, 404);
      // Blocks: staged, then committed in the list's order.
      const ids = ['AAAA', 'AAAB'];
      for (const [i, part] of ['first,', 'second\n'].entries())
        assert.equal(
          (
            await fetch(`${blobUri}/src/data/words.txt?comp=block&blockid=${encodeURIComponent(ids[i]!)}&${sas}`, {
              method: 'PUT',
              body: part,
            })
          ).status,
          201,
        );
      const list = `<?xml version="1.0" encoding="utf-8"?><BlockList><Latest>${ids[0]}</Latest><Latest>${ids[1]}</Latest></BlockList>`;
      assert.equal(
        (await fetch(`${blobUri}/src/data/words.txt?comp=blocklist&${sas}`, { method: 'PUT', body: list })).status,
        201,
      );
      const got = await fetch(`${blobUri}/src/data/words.txt?${sas}`);
      assert.equal(await got.text(), 'first,second\n');
      const ranged = await fetch(`${blobUri}/src/data/words.txt?${sas}`, { headers: { 'x-ms-range': 'bytes=6-11' } });
      assert.equal(ranged.status, 206);
      assert.equal(await ranged.text(), 'second');
      // Metadata.
      const meta = await fetch(`${blobUri}/src/train.py?comp=metadata&${sas}`, {
        method: 'PUT',
        headers: { 'x-ms-meta-name': 'train', 'x-ms-meta-upload_status': 'completed' },
      });
      assert.equal(meta.status, 200);
      const props = await fetch(`${blobUri}/src/train.py?${sas}`, { method: 'HEAD' });
      assert.equal(props.headers.get('x-ms-meta-upload_status'), 'completed');
      assert.equal(props.headers.get('content-length'), String(script.length));
      // Listing needs 'l' below the folder.
      const container = new URL(blobUri).pathname.split('/').slice(0, 4).join('/');
      const folder = new URL(blobUri).pathname.split('/').slice(4).join('/');
      const listed = await fetch(
        `${new URL(blobUri).origin}${container}?restype=container&comp=list&prefix=${encodeURIComponent(folder + '/')}&${sas}`,
      );
      const xml = await listed.text();
      assert.equal(listed.status, 200, xml);
      assert.match(xml, /src\/train\.py/);
      assert.match(xml, /src\/data\/words\.txt/);

      const v1 = await t.request('PUT', `${W}/codes/train/versions/1?${V}`, {
        properties: { codeUri: `${blobUri}/src`, isAnonymous: true, description: 'the trainer' },
      });
      assert.equal(v1.status, 201, v1.text);
      assert.match(v1.body.properties.contentHash, /^sha256:[0-9a-f]{64}$/);
      assert.equal(v1.body.properties.isAnonymous, true);
      // The same folder again: the same version (200); other bytes in it: 409.
      assert.equal(
        (
          await t.request('PUT', `${W}/codes/train/versions/1?${V}`, {
            properties: { codeUri: `${blobUri}/src`, isAnonymous: true },
          })
        ).status,
        200,
      );
      await put(`${blobUri}/src/extra.py?${sas}`, 'y = 2\n');
      const changed = await t.request('PUT', `${W}/codes/train/versions/1?${V}`, {
        properties: { codeUri: `${blobUri}/src`, isAnonymous: true },
      });
      assert.equal(changed.status, 409, changed.text);
      assert.match(changed.body.error.message, /immutable/);

      // Hash look-up (what azure-ai-ml asks before uploading), across the workspace's code assets.
      const byHash = await t.request(
        'GET',
        `${W}/codes/anything/versions?hash=${v1.body.properties.contentHash.slice(7)}&hashVersion=202208&${V}`,
      );
      assert.equal(byHash.status, 200, byHash.text);
      assert.deepEqual(
        byHash.body.value.map((v: any) => v.id),
        [v1.body.id],
      );

      // The snapshot: a read-only folder with the registered bytes — but the folder changed (extra.py).
      const services = t.server.services;
      const ws = await resolveWorkspace(t.server.ctx, t.subscriptionId, 'code-rg', 'code-ws');
      await assert.rejects(services.codes.codes.snapshot(ws, v1.body.id), /changed after it was registered/);
      await fetch(`${blobUri}/src/extra.py?${sas}`, { method: 'DELETE' }).then((r) => assert.equal(r.status, 403)); // no 'd' in the SAS
    });

    it('gives a read-only snapshot folder, cached by content hash', async () => {
      const { blobUri, sas } = await pending('snap');
      await put(`${blobUri}/src/main.py?${sas}`, 'print(1)\n');
      await put(`${blobUri}/src/pkg/util.py?${sas}`, 'X = 1\n');
      const v = await t.request('PUT', `${W}/codes/snap/versions/1?${V}`, {
        properties: { codeUri: `${blobUri}/src` },
      });
      assert.equal(v.status, 201, v.text);
      const services = t.server.services;
      const ws = await resolveWorkspace(t.server.ctx, t.subscriptionId, 'code-rg', 'code-ws');
      const [a, b] = await Promise.all([
        services.codes.codes.snapshot(ws, v.body.id),
        services.codes.codes.snapshot(ws, 'snap:1'),
      ]);
      assert.equal(a.dir, b.dir);
      assert.equal(a.hash, v.body.properties.contentHash);
      assert.equal(fs.readFileSync(path.join(a.dir, 'pkg', 'util.py'), 'utf8'), 'X = 1\n');
      assert.equal(fs.statSync(path.join(a.dir, 'main.py')).mode & 0o222, 0);
      assert.equal(fs.statSync(a.dir).mode & 0o222, 0);
      // (root writes through any mode; others cannot add files to a snapshot)
      if (process.getuid?.() !== 0) assert.throws(() => fs.writeFileSync(path.join(a.dir, 'new.py'), ''));
    });

    it('refuses bad SAS tokens, escapes and foreign storage, and checks access', async () => {
      const { blobUri, sas } = await pending('bad');
      // No SAS, an altered signature, another folder: 403.
      assert.equal((await put(`${blobUri}/src/a.py`, 'a')).status, 403);
      const altered = sas.replace(/sig=[^&]+/, 'sig=' + encodeURIComponent(Buffer.alloc(32).toString('base64')));
      const r1 = await put(`${blobUri}/src/a.py?${altered}`, 'a');
      assert.equal(r1.status, 403);
      assert.equal(r1.headers.get('x-ms-error-code'), 'AuthenticationFailed');
      const other = blobUri.replace(/LocalUpload\/[^/]+$/, 'LocalUpload/someone-else');
      assert.equal((await put(`${other}/src/a.py?${sas}`, 'a')).status, 403);
      // '..' (also percent-encoded) never reaches the store.
      const slip = await put(`${blobUri}/src/%2e%2e/%2e%2e/%2e%2e/escape.py?${sas}`, 'a');
      assert.ok(slip.status === 400 || slip.status === 403, String(slip.status));
      // codeUri outside the workspace's storage, or not a URI: 400 naming it.
      for (const codeUri of [
        'https://evil.example.com/blob/otheraccount/c/src',
        'not a uri',
        'azureml://datastores/workspacefilestore/paths/src',
        `${blobUri}/nothing-here`,
      ]) {
        const r = await t.request('PUT', `${W}/codes/bad/versions/1?${V}`, { properties: { codeUri } });
        assert.equal(r.status, 400, `${codeUri}: ${r.text}`);
        assert.match(r.body.error.message, /codeUri/);
      }
      // A reader may not start uploads.
      const reader = await userWithRole(t, 'code-reader', 'Reader', W);
      const denied = await t.request(
        'POST',
        `${W}/codes/bad/versions/1/startPendingUpload?${V}`,
        {},
        { token: reader.token },
      );
      assert.equal(denied.status, 403, denied.text);
    });
  });
}
