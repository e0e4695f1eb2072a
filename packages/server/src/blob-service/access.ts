import crypto from 'node:crypto';
import { Forbidden, InvalidInput } from '../errors.js';
import { SAS_VERSION, accountStringToSign, iso, serviceStringToSignFor, sign } from '../assets/sas.js';

/**
 * Shared access signatures for the Azure Blob REST subset (http/blob-rest/): what a client presents
 * on every request instead of a bearer token. Accepted: a service SAS for a container (sr=c, from the
 * storage account's listServiceSas), for one blob (sr=b), or for a directory (sr=d with sdd, what
 * `startPendingUpload` hands out: one upload folder, short-lived), and an account SAS (ss with b), all
 * signed by a current key of the storage account, as Azure Storage defines them (sv 2020-12-06+).
 */

/** Permission letters as Blob REST operations need them: read, add, create, write, delete, list. */
export type BlobPermission = 'r' | 'a' | 'c' | 'w' | 'd' | 'l';
const PERMISSION_NAMES: Record<BlobPermission, string> = {
  r: 'read',
  a: 'add',
  c: 'create',
  w: 'write',
  d: 'delete',
  l: 'list',
};
const MIN_VERSION = '2020-12-06';

/** A directory SAS (sr=d) for `directory` of a container: what an upload folder's client gets. */
export function directorySas(
  input: { account: string; container: string; directory: string; permissions: string; expiry: Date },
  key: string,
): string {
  const dir = input.directory.replace(/^\/+|\/+$/g, '');
  const q = new URLSearchParams();
  q.set('sv', SAS_VERSION);
  q.set('spr', 'https,http');
  q.set('se', iso(input.expiry, 'signedExpiry'));
  q.set('sr', 'd');
  q.set('sdd', String(dir.split('/').length));
  q.set('sp', input.permissions);
  q.set('sig', sign(key, serviceStringToSignFor(q, `/blob/${input.account}/${input.container}/${dir}`)));
  return q.toString();
}

/** A service SAS for a whole container (sr=c): what a datastore's expirable secret is. */
export function containerSas(
  input: { account: string; container: string; permissions: string; expiry: Date },
  key: string,
): string {
  const q = new URLSearchParams();
  q.set('sv', SAS_VERSION);
  q.set('spr', 'https,http');
  q.set('se', iso(input.expiry, 'signedExpiry'));
  q.set('sr', 'c');
  q.set('sp', input.permissions);
  q.set('sig', sign(key, serviceStringToSignFor(q, `/blob/${input.account}/${input.container}`)));
  return q.toString();
}

/** A service SAS for one blob (sr=b): what a v1 artifact's content URI carries. */
export function blobSas(
  input: { account: string; container: string; blob: string; permissions: string; expiry: Date },
  key: string,
): string {
  const q = new URLSearchParams();
  q.set('sv', SAS_VERSION);
  q.set('spr', 'https,http');
  q.set('se', iso(input.expiry, 'signedExpiry'));
  q.set('sr', 'b');
  q.set('sp', input.permissions);
  q.set('sig', sign(key, serviceStringToSignFor(q, `/blob/${input.account}/${input.container}/${input.blob}`)));
  return q.toString();
}

/**
 * The URI of a blob (or folder) of this server's Blob REST subset: host-style
 * `{scheme}://{account}.blob.{storageSuffix}[:port]/{container}/{blob}` when the server has a storage
 * suffix (azureml-core derives its upload client from the host name), else path-style
 * `{publicUrl}/blob/{account}/{container}/{blob}`. Each path segment is URL-encoded.
 */
export function blobUri(
  config: { publicUrl: string; storageSuffix?: string },
  account: string,
  container: string,
  blob: string,
): string {
  const path = [container, ...blob.split('/').filter(Boolean)].map(encodeURIComponent).join('/');
  if (!config.storageSuffix) return `${config.publicUrl}/blob/${account}/${path}`;
  const u = new URL(config.publicUrl);
  return `${u.protocol}//${account}.blob.${config.storageSuffix}${u.port ? `:${u.port}` : ''}/${path}`;
}

/**
 * Checks the SAS of a Blob REST request on `blob` (or, for container operations, on the container
 * and the listing's `prefix`) against the storage account's keys. Throws InvalidInput for a missing
 * or malformed token, Forbidden when it is not signed by a current key, out of its time window, for
 * another resource, or without the permission `need`.
 */
export function verifyBlobSas(
  q: URLSearchParams,
  where: {
    account: string;
    container: string;
    /** The blob (or, for a listing, its prefix); undefined for the container itself. */
    blob?: string;
    keys: string[];
    need: BlobPermission;
    now?: number;
  },
): void {
  const bad = (why: string) => new InvalidInput(`the SAS token ${why}`, { code: 'INVALID_SAS_TOKEN', target: 'sig' });
  if (!q.get('sig'))
    throw new Forbidden(
      'this request carries no shared access signature (sv, sp, se, sig in the query string): ask the server for one (e.g. startPendingUpload of a code version, or listServiceSas of the storage account)',
      { code: 'SAS_SIGNATURE_MISMATCH' },
    );
  for (const k of ['sv', 'sp', 'se']) if (!q.get(k)) throw bad(`has no '${k}' parameter`);
  const sv = q.get('sv')!;
  if (!/^\d{4}-\d{2}-\d{2}$/.test(sv) || sv < MIN_VERSION)
    throw bad(`has signed version '${sv}'; versions ${MIN_VERSION} and later are supported`);
  if (q.get('si')) throw bad('refers to a stored access policy (si), which storage accounts here do not have');
  let stringToSign: string;
  if (q.has('ss')) {
    if (!q.get('ss')!.includes('b')) throw bad("is an account SAS without the blob service (ss must contain 'b')");
    const srt = q.get('srt') ?? '';
    const needType = where.blob === undefined || where.need === 'l' ? 'c' : 'o';
    if (!srt.includes(needType))
      throw new Forbidden(
        `the account SAS does not cover ${needType === 'c' ? 'containers' : 'objects'} (srt '${srt}')`,
        { code: 'SAS_PERMISSION_MISMATCH' },
      );
    stringToSign = accountStringToSign(q, where.account);
  } else {
    const sr = q.get('sr');
    const base = `/blob/${where.account}/${where.container}`;
    if (sr === 'c') stringToSign = serviceStringToSignFor(q, base);
    else if (sr === 'b') {
      if (!where.blob || where.need === 'l')
        throw new Forbidden('a SAS for one blob (sr=b) cannot list or reach the container', {
          code: 'SAS_PERMISSION_MISMATCH',
        });
      stringToSign = serviceStringToSignFor(q, `${base}/${where.blob}`);
    } else if (sr === 'd') {
      const depth = Number(q.get('sdd'));
      if (!Number.isInteger(depth) || depth < 1 || depth > 100) throw bad('has sr=d without a valid sdd (depth)');
      const parts = (where.blob ?? '').split('/').filter(Boolean);
      // A blob must lie below the directory (more segments than its depth); a listing's prefix may name it.
      if (parts.length < depth + (where.need === 'l' ? 0 : 1))
        throw new Forbidden(
          `the SAS is for a directory ${depth} level(s) deep; '${where.blob ?? ''}' is not inside one`,
          { code: 'SAS_PERMISSION_MISMATCH' },
        );
      stringToSign = serviceStringToSignFor(q, `${base}/${parts.slice(0, depth).join('/')}`);
    } else throw bad(`has an unsupported signed resource '${sr ?? ''}' (use c, b, d or an account SAS)`);
  }
  const given = Buffer.from(q.get('sig')!, 'base64');
  const ok = where.keys.some((k) => {
    const expected = Buffer.from(sign(k, stringToSign), 'base64');
    return expected.length === given.length && crypto.timingSafeEqual(expected, given);
  });
  if (!ok)
    throw new Forbidden(
      `the SAS token is not signed by a current key of storage account '${where.account}' for this resource (the key was regenerated, the token was altered, or it is for another container or folder)`,
      { code: 'SAS_SIGNATURE_MISMATCH' },
    );
  const now = where.now ?? Date.now();
  const expiry = Date.parse(q.get('se')!);
  if (!Number.isFinite(expiry)) throw bad(`has an unreadable expiry '${q.get('se')}'`);
  if (now >= expiry)
    throw new Forbidden(`the SAS token expired at ${q.get('se')}; ask for a new one`, { code: 'SAS_EXPIRED' });
  const st = q.get('st');
  if (st && now < Date.parse(st))
    throw new Forbidden(`the SAS token is not valid before ${st}`, { code: 'SAS_NOT_YET_VALID' });
  const sp = q.get('sp')!;
  // Azure: creating or replacing a blob needs c or w.
  const has = where.need === 'c' || where.need === 'w' ? sp.includes('c') || sp.includes('w') : sp.includes(where.need);
  if (!has)
    throw new Forbidden(
      `the SAS token does not allow '${PERMISSION_NAMES[where.need]}' (its permissions are '${sp}')`,
      { code: 'SAS_PERMISSION_MISMATCH' },
    );
}
