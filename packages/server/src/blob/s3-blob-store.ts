import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream';
import type { S3Client, ListObjectsV2CommandOutput } from '@aws-sdk/client-s3';
import { AtelierError, NotFound, type ErrorCode } from '../errors.js';
import {
  BlobPathConflict,
  MAX_KEY_BYTES,
  pageOf,
  safeKey,
  writableKey,
  type BlobInfo,
  type BlobStore,
  type ListOptions,
} from './blob-store.js';

// The AWS SDK takes ~0.3 s to load: it is loaded when an S3 store is first used, not at start.
type S3Module = typeof import('@aws-sdk/client-s3');
type StorageModule = typeof import('@aws-sdk/lib-storage');
let s3Module: Promise<S3Module> | undefined;
let storageModule: Promise<StorageModule> | undefined;
const loadS3 = (): Promise<S3Module> => (s3Module ??= import('@aws-sdk/client-s3'));
const loadStorage = (): Promise<StorageModule> => (storageModule ??= import('@aws-sdk/lib-storage'));

/** Multipart uploads buffer at most PART_BYTES × PARTS_IN_FLIGHT of a body at a time. */
const PART_BYTES = 8 * 1024 * 1024;
const PARTS_IN_FLIGHT = 2;

/** Where an S3-compatible bucket is and how to sign for it. */
export interface S3Target {
  bucket: string;
  /** http(s) URL of an S3-compatible server; unset = AWS S3 of `region`. */
  endpoint?: string;
  region: string;
  /** Bucket in the path (`endpoint/bucket/key`) rather than the host name; most S3-compatible servers need it. */
  forcePathStyle: boolean;
  /** Explicit keys; unset = the AWS SDK's usual chain (AWS_ACCESS_KEY_ID…, profiles, instance roles). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

/** The store (S3 server or the bucket) failed: not the caller's fault (kind 'internal'). */
export class BlobStoreUnavailable extends AtelierError {
  static override defaultCode: ErrorCode = 'BLOB_STORE_UNAVAILABLE';
}

const statusOf = (e: unknown): number | undefined =>
  (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;

/** One S3 client for one bucket; stores below prefixes of it share it (and its connection pool). */
export class S3Bucket {
  readonly where: string;
  private client?: Promise<{ m: S3Module; client: S3Client }>;
  constructor(readonly target: S3Target) {
    this.where = `s3 bucket '${target.bucket}'${target.endpoint ? ` at ${target.endpoint}` : ` (AWS, ${target.region})`}`;
  }

  /** The SDK module and the client, made on first use. */
  async s3(): Promise<{ m: S3Module; client: S3Client }> {
    this.client ??= loadS3().then((m) => ({
      m,
      client: new m.S3Client({
        ...(this.target.endpoint ? { endpoint: this.target.endpoint } : {}),
        region: this.target.region,
        forcePathStyle: this.target.forcePathStyle,
        ...(this.target.credentials ? { credentials: this.target.credentials } : {}),
        // Checksums only where S3 requires them: many S3-compatible servers reject the newer ones.
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        maxAttempts: 3,
      }),
    }));
    return this.client;
  }

  /** A store rooted at `prefix` ('' = the whole bucket) of this bucket. */
  store(prefix: string): S3BlobStore {
    return new S3BlobStore(this, safeKey(prefix, 'blob store prefix'));
  }

  /** Turns an SDK error into a business error naming the store (never its credentials). */
  fail(e: unknown, what: string): never {
    if (e instanceof AtelierError) throw e;
    const err = e as { name?: string; message?: string };
    const status = statusOf(e);
    if (status === 404 || err.name === 'NoSuchKey' || err.name === 'NotFound')
      throw new NotFound(`no ${what} in ${this.where}`, { code: 'FILE_NOT_FOUND' });
    if (err.name === 'NoSuchBucket')
      throw new BlobStoreUnavailable(`${this.where} does not exist; create the bucket or correct its name`, {
        code: 'BLOB_BUCKET_NOT_FOUND',
      });
    if (
      status === 403 ||
      err.name === 'InvalidAccessKeyId' ||
      err.name === 'SignatureDoesNotMatch' ||
      err.name === 'AccessDenied' ||
      err.name === 'CredentialsProviderError'
    ) {
      throw new BlobStoreUnavailable(
        `${this.where} refused the credentials for ${what} (${err.name ?? status}); check the access key and its rights`,
        { code: 'BLOB_STORE_CREDENTIALS_REJECTED' },
      );
    }
    throw new BlobStoreUnavailable(
      `${this.where} could not be reached for ${what}: ${`${err.name ?? ''} ${err.message ?? ''}`.trim()}`,
    );
  }

  /** Throws, saying what to fix, unless the bucket exists and the credentials may use it. */
  async check(): Promise<void> {
    const { m, client } = await this.s3();
    try {
      await client.send(new m.HeadBucketCommand({ Bucket: this.target.bucket }));
    } catch (e) {
      if (statusOf(e) === 404)
        throw new BlobStoreUnavailable(`${this.where} does not exist; create the bucket or correct its name`, {
          code: 'BLOB_BUCKET_NOT_FOUND',
        });
      this.fail(e, 'the bucket');
    }
  }

  destroy(): void {
    void this.client?.then(({ client }) => client.destroy());
  }
}

/**
 * A prefix of an S3-compatible bucket as a file tree. Writes are single PutObjects or multipart
 * uploads (lib-storage, a bounded number of parts in memory), both invisible until complete; a
 * failed multipart upload is aborted, so it leaves no object and no stored parts. Folders are
 * common prefixes: a folder exists while a key is below it.
 */
export class S3BlobStore implements BlobStore {
  readonly where: string;
  constructor(
    private readonly bucket: S3Bucket,
    /** Key prefix without a trailing '/' ('' = the bucket's top). */
    readonly root: string,
  ) {
    this.where = root ? `${bucket.where}, below '${root}/'` : bucket.where;
  }

  private full(key: string): string {
    return this.root ? (key ? `${this.root}/${key}` : this.root) : key;
  }

  /** The key of a folder's contents: '<root>/<key>/' ('' = the whole store, '<root>/'). */
  private folder(key: string): string {
    const f = this.full(key);
    return f ? `${f}/` : '';
  }

  async init(): Promise<void> {}

  private async isFile(key: string): Promise<boolean> {
    const { m, client } = await this.bucket.s3();
    try {
      await client.send(new m.HeadObjectCommand({ Bucket: this.bucket.target.bucket, Key: this.full(key) }));
      return true;
    } catch (e) {
      if (statusOf(e) === 404) return false;
      this.bucket.fail(e, `file '${key}'`);
    }
  }

  async put(key: string, body: Readable): Promise<{ size: number }> {
    const k = writableKey(key);
    let bodyError: Error | undefined;
    try {
      // As in a folder: no file below a file, no file where a folder is.
      const parts = k.split('/');
      const ancestors = parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join('/'));
      const [fileAbove, folderHere] = await Promise.all([
        Promise.all(ancestors.map((a) => this.isFile(a))).then((r) => r.some(Boolean)),
        this.list(k, { recursive: true, limit: 1 }).then((r) => r.length > 0),
      ]);
      if (fileAbove || folderHere)
        throw new BlobPathConflict(`'${k}' conflicts with an existing file or folder of the same name`);
      const { client } = await this.bucket.s3();
      const { Upload } = await loadStorage();
      let size = 0;
      const meter = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          size += chunk.length;
          cb(null, chunk);
        },
      });
      // A body that fails or ends early fails the meter, so the upload fails and is aborted.
      pipeline(body, meter, (err) => {
        if (err) bodyError = err;
      });
      // Bodies up to one part go in one PutObject; larger ones as a multipart upload that, failing,
      // is aborted (leavePartsOnError false), so no part stays stored.
      const upload = new Upload({
        client,
        params: { Bucket: this.bucket.target.bucket, Key: this.full(k), Body: meter },
        partSize: PART_BYTES,
        queueSize: PARTS_IN_FLIGHT,
        leavePartsOnError: false,
      });
      await upload.done();
      return { size };
    } catch (e) {
      // The body's own failure (the client went away, a size limit) is the caller's, not the store's.
      if (bodyError && !statusOf(e)) throw bodyError;
      this.bucket.fail(e, `file '${k}'`);
    }
  }

  /** A key longer than S3 allows names nothing (S3 would refuse the request instead of answering 404). */
  private tooLong(key: string): boolean {
    return Buffer.byteLength(this.full(key)) > MAX_KEY_BYTES;
  }

  async get(key: string, range?: { start: number; end?: number }): Promise<{ stream: Readable; size: number }> {
    const k = safeKey(key);
    if (this.tooLong(k)) throw new NotFound(`no file at '${k.slice(0, 200)}…'`);
    const { m, client } = await this.bucket.s3();
    try {
      const r = await client.send(
        new m.GetObjectCommand({
          Bucket: this.bucket.target.bucket,
          Key: this.full(k),
          ...(range ? { Range: `bytes=${range.start}-${range.end ?? ''}` } : {}),
        }),
      );
      const stream = r.Body instanceof Readable ? r.Body : Readable.from(r.Body as AsyncIterable<Uint8Array>);
      const size = range
        ? Number(/\/(\d+)$/.exec(r.ContentRange ?? '')?.[1] ?? r.ContentLength ?? 0)
        : Number(r.ContentLength ?? 0);
      return { stream, size };
    } catch (e) {
      if (statusOf(e) === 404) throw new NotFound(`no file at '${k}'`);
      this.bucket.fail(e, `file '${k}'`);
    }
  }

  async stat(key: string): Promise<BlobInfo | undefined> {
    const k = safeKey(key);
    if (!k) return { path: '', size: 0, isDir: true, modified: 0 };
    if (this.tooLong(k)) return undefined;
    const { m, client } = await this.bucket.s3();
    try {
      const r = await client.send(new m.HeadObjectCommand({ Bucket: this.bucket.target.bucket, Key: this.full(k) }));
      return { path: k, size: Number(r.ContentLength ?? 0), isDir: false, modified: r.LastModified?.getTime() ?? 0 };
    } catch (e) {
      if (statusOf(e) !== 404) this.bucket.fail(e, `file '${k}'`);
    }
    const below = await this.list(k, { recursive: true, limit: 1 });
    return below.length ? { path: k, size: 0, isDir: true, modified: 0 } : undefined;
  }

  async list(prefix: string, opts: ListOptions = {}): Promise<BlobInfo[]> {
    const k = safeKey(prefix);
    if (this.tooLong(k)) return [];
    const base = this.folder(k);
    const strip = this.root ? this.root.length + 1 : 0;
    const { m, client } = await this.bucket.s3();
    const out: BlobInfo[] = [];
    let token: string | undefined;
    // S3 sorts keys by their UTF-8 bytes; StartAfter skips to the next page.
    const startAfter = opts.startAfter !== undefined ? this.full(safeKey(opts.startAfter)) : undefined;
    do {
      let r: ListObjectsV2CommandOutput;
      try {
        r = await client.send(
          new m.ListObjectsV2Command({
            Bucket: this.bucket.target.bucket,
            Prefix: base,
            Delimiter: opts.recursive ? undefined : '/',
            ContinuationToken: token,
            StartAfter: token ? undefined : startAfter,
            MaxKeys: Math.min(opts.limit ?? 1000, 1000),
          }),
        );
      } catch (e) {
        this.bucket.fail(e, `the listing of '${k || '/'}'`);
      }
      for (const p of r.CommonPrefixes ?? [])
        if (p.Prefix) out.push({ path: p.Prefix.slice(strip).replace(/\/$/, ''), size: 0, isDir: true, modified: 0 });
      for (const o of r.Contents ?? [])
        if (o.Key && !o.Key.endsWith('/'))
          out.push({
            path: o.Key.slice(strip),
            size: Number(o.Size ?? 0),
            isDir: false,
            modified: o.LastModified?.getTime() ?? 0,
          });
      if (opts.limit !== undefined && out.length >= opts.limit) break;
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    return pageOf(out, opts);
  }

  async delete(key: string): Promise<void> {
    const k = writableKey(key);
    const { m, client } = await this.bucket.s3();
    try {
      await client.send(new m.DeleteObjectCommand({ Bucket: this.bucket.target.bucket, Key: this.full(k) }));
    } catch (e) {
      if (statusOf(e) !== 404) this.bucket.fail(e, `file '${k}'`);
    }
  }

  async deletePrefix(prefix: string): Promise<void> {
    const k = safeKey(prefix);
    const { m, client } = await this.bucket.s3();
    // As rm -r: a file of that name goes too.
    if (k) await this.delete(k);
    // A page of at most 1000 keys, deleted in one request, until none is left.
    for (;;) {
      const page = await this.list(k, { recursive: true, limit: 1000 });
      if (page.length === 0) return;
      try {
        const r = await client.send(
          new m.DeleteObjectsCommand({
            Bucket: this.bucket.target.bucket,
            Delete: { Objects: page.map((f) => ({ Key: this.full(f.path) })), Quiet: true },
          }),
        );
        if (r.Errors?.length)
          throw new BlobStoreUnavailable(
            `${this.bucket.where} did not delete '${r.Errors[0]!.Key}': ${r.Errors[0]!.Code ?? ''} ${r.Errors[0]!.Message ?? ''}`.trim(),
          );
      } catch (e) {
        this.bucket.fail(e, `the files below '${k || '/'}'`);
      }
    }
  }
}
