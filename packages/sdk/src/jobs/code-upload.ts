/**
 * A job's source folder as a code asset (`W/codes/{name}/versions/1`), the way azure-ai-ml does it:
 * the folder's content hash is looked up first (an unchanged folder is never uploaded twice), else
 * a pending upload is started and the files go to its SAS URI over the Azure Blob REST subset.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import ignore, { type Ignore } from 'ignore';
import { ValidationError, errorFromResponse } from '../errors.js';
import { linkOf, type HasServiceContext, type WorkspaceLink } from '../assets/link.js';

/** Always left out of a snapshot (as azureml-core leaves them out). */
const ALWAYS_SKIPPED = ['.git', 'node_modules', '__pycache__', '.ipynb_checkpoints', '.azureml'];
const MAX_FILES = 20_000;
/** Files up to this size go in one Put Blob; larger ones in blocks of BLOCK bytes. */
const SINGLE_PUT = 32 * 1024 * 1024;
const BLOCK = 8 * 1024 * 1024;
const V = { 'api-version': '2025-09-01' };

export interface SnapshotFile {
  /** Relative to the source folder, '/'-separated. */
  path: string;
  abs: string;
  size: number;
}

/**
 * The files of a source folder: everything below it but `.git`, `node_modules`, `__pycache__`,
 * `.ipynb_checkpoints`, `.azureml`, and what `.amlignore` (else `.gitignore`) at its top lists
 * (gitignore rules, read with the `ignore` package). Symbolic links are refused: a snapshot holds
 * only the folder's own files.
 */
export async function snapshotFiles(sourceDirectory: string): Promise<SnapshotFile[]> {
  const root = path.resolve(sourceDirectory);
  const st = await fsp.stat(root).catch(() => undefined);
  if (!st?.isDirectory())
    throw new ValidationError(`sourceDirectory '${sourceDirectory}' is not a folder`, { target: 'sourceDirectory' });
  let rules: Ignore | undefined;
  for (const name of ['.amlignore', '.gitignore']) {
    const file = path.join(root, name);
    if (fs.existsSync(file)) {
      rules = ignore().add(await fsp.readFile(file, 'utf8'));
      break;
    }
  }
  const out: SnapshotFile[] = [];
  const walk = async (dir: string, rel: string): Promise<void> => {
    const entries = await fsp.readdir(dir, { withFileTypes: true });
    for (const e of entries) {
      if (ALWAYS_SKIPPED.includes(e.name)) continue;
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (rules?.ignores(e.isDirectory() ? `${r}/` : r)) continue;
      const abs = path.join(dir, e.name);
      if (e.isSymbolicLink())
        throw new ValidationError(
          `'${r}' in sourceDirectory is a symbolic link: a code snapshot holds only the folder's own files (copy it in, or list it in .amlignore)`,
          { target: 'sourceDirectory' },
        );
      if (e.isDirectory()) await walk(abs, r);
      else if (e.isFile()) {
        out.push({ path: r, abs, size: (await fsp.stat(abs)).size });
        if (out.length > MAX_FILES)
          throw new ValidationError(
            `sourceDirectory '${sourceDirectory}' has more than ${MAX_FILES} files; list what the job does not need in .amlignore`,
            { target: 'sourceDirectory' },
          );
      }
    }
  };
  await walk(root, '');
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** The server's content hash of a snapshot: sha256 over each file's path, size and sha256, in path order. */
export async function contentHash(files: SnapshotFile[]): Promise<string> {
  const total = crypto.createHash('sha256');
  for (const f of files) {
    const h = crypto.createHash('sha256');
    for await (const chunk of fs.createReadStream(f.abs)) h.update(chunk as Buffer);
    total.update(`${f.path}\0${f.size}\0${h.digest('hex')}\n`);
  }
  return total.digest('hex');
}

async function blobPut(url: string, body: Uint8Array | string, headers: Record<string, string>, what: string) {
  const res = await fetch(url, { method: 'PUT', body, headers });
  if (!res.ok) {
    const text = await res.text();
    throw errorFromResponse(res.status, undefined, text, res.headers.get('x-ms-request-id') ?? undefined, what);
  }
}

/** Uploads one file to `{blobUri}/{path}?{sas}`: one Put Blob, or blocks and a block list. */
async function uploadFile(blobUri: string, sas: string, f: SnapshotFile): Promise<void> {
  const url = `${blobUri}/${f.path.split('/').map(encodeURIComponent).join('/')}`;
  const what = `upload '${f.path}'`;
  if (f.size <= SINGLE_PUT) {
    await blobPut(`${url}?${sas}`, await fsp.readFile(f.abs), { 'x-ms-blob-type': 'BlockBlob' }, what);
    return;
  }
  const fh = await fsp.open(f.abs, 'r');
  const ids: string[] = [];
  try {
    const buf = Buffer.alloc(BLOCK);
    for (let offset = 0, i = 0; offset < f.size; i++) {
      const { bytesRead } = await fh.read(buf, 0, BLOCK, offset);
      if (bytesRead === 0) break;
      const id = Buffer.from(String(i).padStart(8, '0')).toString('base64');
      ids.push(id);
      await blobPut(`${url}?comp=block&blockid=${encodeURIComponent(id)}&${sas}`, buf.subarray(0, bytesRead), {}, what);
      offset += bytesRead;
    }
  } finally {
    await fh.close();
  }
  const list = `<?xml version="1.0" encoding="utf-8"?><BlockList>${ids.map((id) => `<Latest>${id}</Latest>`).join('')}</BlockList>`;
  await blobPut(`${url}?comp=blocklist&${sas}`, list, { 'content-type': 'application/xml' }, what);
}

interface CodeVersion {
  id: string;
  name: string;
  properties: { contentHash?: string; codeUri?: string };
}

/**
 * The code version of a source folder: an existing one with the same content hash, else a new
 * one (named by its hash, version 1) after uploading the files. Returns its ARM id and hash.
 */
export async function uploadCode(
  ws: HasServiceContext | WorkspaceLink,
  sourceDirectory: string,
): Promise<{ id: string; hash: string; uploaded: boolean; files: number }> {
  const link = linkOf(ws);
  const files = await snapshotFiles(sourceDirectory);
  if (!files.length)
    throw new ValidationError(`sourceDirectory '${sourceDirectory}' has no files to run`, {
      target: 'sourceDirectory',
    });
  const hash = await contentHash(files);
  const name = `code-${hash.slice(0, 32)}`;
  const found = await link.client.request<{ value: CodeVersion[] }>('GET', `${link.id}/codes/${name}/versions`, {
    query: { ...V, hash, hashVersion: '202208' },
    what: 'look up the code snapshot by hash',
  });
  const same = found.body.value.find((v) => v.properties.contentHash === `sha256:${hash}`);
  if (same) return { id: same.id, hash, uploaded: false, files: files.length };
  const pending = await link.client.request<{
    blobReferenceForConsumption: { blobUri: string; credential: { sasUri: string } };
  }>('POST', `${link.id}/codes/${name}/versions/1/startPendingUpload`, {
    body: { pendingUploadType: 'TemporaryBlobReference' },
    query: V,
    what: 'start the code upload',
  });
  const ref = pending.body.blobReferenceForConsumption;
  const sas = ref.credential.sasUri.split('?')[1] ?? '';
  const folder = `${ref.blobUri}/code`;
  // A few files at a time: small files dominate source folders.
  const queue = [...files];
  await Promise.all(
    Array.from({ length: Math.min(4, queue.length) }, async () => {
      for (let f = queue.shift(); f; f = queue.shift()) await uploadFile(folder, sas, f);
    }),
  );
  const made = await link.client.request<CodeVersion>('PUT', `${link.id}/codes/${name}/versions/1`, {
    body: { properties: { codeUri: folder, isAnonymous: true } },
    query: V,
    what: 'register the code snapshot',
  });
  if (made.body.properties.contentHash !== `sha256:${hash}`)
    throw new ValidationError(
      `the code snapshot changed while it was uploaded (server hash ${made.body.properties.contentHash}, local sha256:${hash}); submit again`,
      { target: 'sourceDirectory' },
    );
  return { id: made.body.id, hash, uploaded: true, files: files.length };
}
