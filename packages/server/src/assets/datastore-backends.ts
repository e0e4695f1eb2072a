import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { S3Client, ListObjectsV2CommandOutput } from '@aws-sdk/client-s3';

// The AWS SDK takes ~0.3 s to load: it is loaded on first use of an S3 datastore, not at start.
type S3Module = typeof import('@aws-sdk/client-s3');
let s3Module: Promise<S3Module> | undefined;
const loadS3 = (): Promise<S3Module> => (s3Module ??= import('@aws-sdk/client-s3'));
import { LocalBlobStore, safeKey, type BlobInfo } from '../blob/blob-store.js';
import { Conflict, InvalidInput, NotFound } from '../errors.js';

/** The bytes of a datastore: a folder (storage account container, admin-allowed server folder) or an S3 bucket. */
export interface DatastoreBackend {
  /** For messages: where the bytes live (no secrets). */
  readonly where: string;
  /** Streams `body` to `key`; refuses to replace an existing file unless `overwrite`. */
  put(key: string, body: Readable, opts: { overwrite: boolean; size?: number }): Promise<{ size: number }>;
  /** The file, or the bytes `range.start`..`range.end` (inclusive) of it; `size` is the whole file's. */
  get(key: string, range?: { start: number; end?: number }): Promise<{ stream: Readable; size: number }>;
  stat(key: string): Promise<BlobInfo | undefined>;
  list(prefix: string, opts: { recursive: boolean }): Promise<BlobInfo[]>;
  delete(key: string): Promise<boolean>;
  /** Throws (with what to fix) unless the store is reachable and writable. */
  check(): Promise<void>;
}

function fileKey(key: string): string {
  const k = safeKey(key);
  if (!k) throw new InvalidInput('a file path is required (relative to the datastore, e.g. data/train.csv)', { code: 'InvalidPath' });
  return k;
}

/**
 * A folder on the server. With `confine`, every path is also checked after resolving symbolic links,
 * so a link inside an admin-allowed folder cannot lead out of it.
 */
export class FolderBackend implements DatastoreBackend {
  private readonly store: LocalBlobStore;
  constructor(
    readonly root: string,
    readonly where: string,
    private readonly opts: { create: boolean; confine?: boolean },
  ) {
    this.store = new LocalBlobStore(root);
  }

  private async confined(key: string): Promise<void> {
    if (!this.opts.confine) return;
    const realRoot = await fsp.realpath(this.root);
    let p = path.resolve(this.root, key);
    // The deepest existing ancestor decides where the path really goes.
    for (;;) {
      try {
        const real = await fsp.realpath(p);
        if (real !== realRoot && !real.startsWith(realRoot + path.sep)) throw new InvalidInput(`path '${key}' leads out of the datastore's folder`, { code: 'InvalidPath' });
        return;
      } catch (e) {
        if (e instanceof InvalidInput) throw e;
        const up = path.dirname(p);
        if (up === p) return;
        p = up;
      }
    }
  }

  private async ready(): Promise<void> {
    if (this.opts.create) await fsp.mkdir(this.root, { recursive: true });
    else if (!fs.existsSync(this.root)) throw new NotFound(`the datastore's folder is missing (${this.where})`, { code: 'DatastoreUnavailable' });
  }

  async put(key: string, body: Readable, opts: { overwrite: boolean }): Promise<{ size: number }> {
    const k = fileKey(key);
    await this.ready();
    await this.confined(k);
    const existing = await this.store.stat(k);
    if (existing?.isDir) throw new Conflict(`'${k}' is a folder in the datastore; choose another path`, { code: 'PathIsFolder' });
    if (existing && !opts.overwrite) throw new Conflict(`'${k}' already exists in the datastore; pass overwrite=true to replace it`, { code: 'FileExists' });
    return this.store.put(k, body);
  }

  async get(key: string, range?: { start: number; end?: number }): Promise<{ stream: Readable; size: number }> {
    const k = fileKey(key);
    await this.confined(k);
    return this.store.get(k, range).catch(() => {
      throw new NotFound(`no file '${k}' in the datastore`, { code: 'FileNotFound' });
    });
  }

  async stat(key: string): Promise<BlobInfo | undefined> {
    const k = safeKey(key);
    await this.confined(k);
    return this.store.stat(k);
  }

  async list(prefix: string, opts: { recursive: boolean }): Promise<BlobInfo[]> {
    const k = safeKey(prefix);
    await this.confined(k);
    return this.store.list(k, opts);
  }

  async delete(key: string): Promise<boolean> {
    const k = fileKey(key);
    await this.confined(k);
    const st = await this.store.stat(k);
    if (!st) return false;
    if (st.isDir) await this.store.deletePrefix(k);
    else await this.store.delete(k);
    return true;
  }

  async check(): Promise<void> {
    await this.ready();
    const probe = path.join(this.root, `.atelier-probe-${process.pid}-${Date.now()}`);
    try {
      await fsp.writeFile(probe, 'ok');
    } catch (e) {
      throw new Error(`the folder ${this.where} is not writable: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    } finally {
      await fsp.rm(probe, { force: true });
    }
  }
}

export interface S3Location {
  endpoint: string;
  bucket: string;
  region: string;
  prefix: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/** An S3-compatible bucket (optionally below a key prefix), through the AWS SDK's S3 client. */
export class S3Backend implements DatastoreBackend {
  readonly where: string;
  private client?: S3Client;
  constructor(private readonly loc: S3Location) {
    this.where = `s3 bucket '${loc.bucket}' at ${loc.endpoint}`;
  }

  private async s3(): Promise<S3Client> {
    const m = await loadS3();
    this.client ??= new m.S3Client({
      endpoint: this.loc.endpoint,
      region: this.loc.region,
      forcePathStyle: true,
      credentials: { accessKeyId: this.loc.accessKeyId, secretAccessKey: this.loc.secretAccessKey },
      maxAttempts: 2,
    });
    return this.client;
  }

  private full(key: string): string {
    return this.loc.prefix ? `${this.loc.prefix}/${key}` : key;
  }

  private fail(e: unknown, what: string): never {
    const err = e as { name?: string; $metadata?: { httpStatusCode?: number }; message?: string };
    const status = err.$metadata?.httpStatusCode;
    if (status === 404 || err.name === 'NoSuchKey' || err.name === 'NotFound') throw new NotFound(`no ${what} in ${this.where}`, { code: 'FileNotFound' });
    if (status === 403 || err.name === 'InvalidAccessKeyId' || err.name === 'SignatureDoesNotMatch') {
      throw new InvalidInput(`${this.where} refused the datastore's credentials (${err.name ?? status}); update the datastore's access key`, { code: 'DatastoreCredentialsRejected' });
    }
    throw new InvalidInput(`${this.where} could not be reached for ${what}: ${err.name ?? ''} ${err.message ?? ''}`.trim(), { code: 'DatastoreUnavailable' });
  }

  async put(key: string, body: Readable, opts: { overwrite: boolean; size?: number }): Promise<{ size: number }> {
    const k = fileKey(key);
    if (opts.size === undefined) throw new InvalidInput('uploads to an S3 datastore need a Content-Length header (chunked bodies cannot be sent to S3 in one request)', { code: 'LengthRequired' });
    if (!opts.overwrite && (await this.stat(k))) throw new Conflict(`'${k}' already exists in the datastore; pass overwrite=true to replace it`, { code: 'FileExists' });
    try {
      await (await this.s3()).send(new (await loadS3()).PutObjectCommand({ Bucket: this.loc.bucket, Key: this.full(k), Body: body, ContentLength: opts.size }));
    } catch (e) {
      body.destroy();
      this.fail(e, `file '${k}'`);
    }
    return { size: opts.size };
  }

  async get(key: string, range?: { start: number; end?: number }): Promise<{ stream: Readable; size: number }> {
    const k = fileKey(key);
    try {
      const r = await (await this.s3()).send(new (await loadS3()).GetObjectCommand({ Bucket: this.loc.bucket, Key: this.full(k), ...(range ? { Range: `bytes=${range.start}-${range.end ?? ''}` } : {}) }));
      const stream = r.Body instanceof Readable ? r.Body : Readable.from(r.Body as AsyncIterable<Uint8Array>);
      const total = range ? Number(/\/(\d+)$/.exec(r.ContentRange ?? '')?.[1] ?? r.ContentLength ?? 0) : Number(r.ContentLength ?? 0);
      return { stream, size: total };
    } catch (e) {
      this.fail(e, `file '${k}'`);
    }
  }

  async stat(key: string): Promise<BlobInfo | undefined> {
    const k = safeKey(key);
    if (!k) return { path: '', size: 0, isDir: true, modified: 0 };
    try {
      const r = await (await this.s3()).send(new (await loadS3()).HeadObjectCommand({ Bucket: this.loc.bucket, Key: this.full(k) }));
      return { path: k, size: Number(r.ContentLength ?? 0), isDir: false, modified: r.LastModified?.getTime() ?? 0 };
    } catch (e) {
      const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status !== 404) this.fail(e, `file '${k}'`);
    }
    const below = await this.list(k, { recursive: true, max: 1 });
    return below.length ? { path: k, size: 0, isDir: true, modified: 0 } : undefined;
  }

  async list(prefix: string, opts: { recursive: boolean; max?: number }): Promise<BlobInfo[]> {
    const k = safeKey(prefix);
    const base = this.full(k ? `${k}/` : '');
    const strip = this.loc.prefix ? this.loc.prefix.length + 1 : 0;
    const out: BlobInfo[] = [];
    let token: string | undefined;
    do {
      let r: ListObjectsV2CommandOutput;
      try {
        r = await (await this.s3()).send(new (await loadS3()).ListObjectsV2Command({ Bucket: this.loc.bucket, Prefix: base, Delimiter: opts.recursive ? undefined : '/', ContinuationToken: token, MaxKeys: opts.max ?? 1000 }));
      } catch (e) {
        this.fail(e, `the listing of '${k || '/'}'`);
      }
      for (const p of r.CommonPrefixes ?? []) if (p.Prefix) out.push({ path: p.Prefix.slice(strip).replace(/\/$/, ''), size: 0, isDir: true, modified: 0 });
      for (const o of r.Contents ?? []) if (o.Key) out.push({ path: o.Key.slice(strip), size: Number(o.Size ?? 0), isDir: false, modified: o.LastModified?.getTime() ?? 0 });
      if (opts.max && out.length >= opts.max) break;
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  async delete(key: string): Promise<boolean> {
    const k = fileKey(key);
    const st = await this.stat(k);
    if (!st) return false;
    const keys = st.isDir ? (await this.list(k, { recursive: true })).map((f) => f.path) : [k];
    for (const f of keys) {
      try {
        await (await this.s3()).send(new (await loadS3()).DeleteObjectCommand({ Bucket: this.loc.bucket, Key: this.full(f) }));
      } catch (e) {
        this.fail(e, `file '${f}'`);
      }
    }
    return true;
  }

  async check(): Promise<void> {
    try {
      await (await this.s3()).send(new (await loadS3()).HeadBucketCommand({ Bucket: this.loc.bucket }));
    } catch (e) {
      if ((e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) {
        throw new InvalidInput(`bucket '${this.loc.bucket}' does not exist at ${this.loc.endpoint}; create it first or check the name`, { code: 'BucketNotFound' });
      }
      this.fail(e, 'the bucket');
    }
  }

  destroy(): void {
    this.client?.destroy();
  }
}
