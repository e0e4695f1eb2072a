import assert from 'node:assert/strict';
import type { TestServer } from './harness.js';

/**
 * Registers a code asset version from files in memory, the way azure-ai-ml does: a pending upload,
 * one Put Blob per file into its SAS folder, then the version PUT naming the folder. Returns its ARM id.
 */
export async function uploadCode(
  t: TestServer,
  W: string,
  name: string,
  version: string,
  files: Record<string, string>,
  V = 'api-version=2025-09-01',
): Promise<string> {
  const pending = await t.request('POST', `${W}/codes/${name}/versions/${version}/startPendingUpload?${V}`, {
    pendingUploadType: 'TemporaryBlobReference',
  });
  assert.equal(pending.status, 200, pending.text);
  const [base, sas] = (pending.body.blobReferenceForConsumption.credential.sasUri as string).split('?');
  for (const [file, text] of Object.entries(files)) {
    const r = await fetch(`${base}/${file}?${sas}`, {
      method: 'PUT',
      body: text,
      headers: { 'x-ms-blob-type': 'BlockBlob' },
    });
    assert.equal(r.status, 201, await r.text());
  }
  const put = await t.request('PUT', `${W}/codes/${name}/versions/${version}?${V}`, {
    properties: { codeUri: base, isAnonymous: false },
  });
  assert.ok(put.status === 201 || put.status === 200, put.text);
  return put.body.id as string;
}
