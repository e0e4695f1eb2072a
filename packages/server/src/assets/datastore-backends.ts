import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { BlobPathConflict, safeKey, type BlobInfo, type BlobStore } from '../blob/blob-store.js';
import { BlobStoreUnavailable, type S3Bucket } from '../blob/s3-blob-store.js';
import type { BlobStores } from '../blob/factory.js';
import { Conflict, InvalidInput, NotFound } from '../errors.js';

/** The bytes of a datastore: a container of a storage account, an admin-allowed server folder or an S3 bucket. */
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
  if (!k)
    throw new InvalidInput('a file path is required (relative to the datastore, e.g. data/train.csv)', {
      code: 'INVALID_PATH',
    });
  return k;
}

/** A datastore over a BlobStore from the factory (storage account containers, file shares). */
export class StoreBackend implements DatastoreBackend {
  constructor(
    protected readonly store: BlobStore,
    readonly where: string,
  ) {}

  /** Runs before each use (a server folder checks it is still there and the path stays inside). */
  protected async guard(_key: string, _mode: 'read' | 'write'): Promise<void> {}

  async put(key: string, body: Readable, opts: { overwrite: boolean }): Promise<{ size: number }> {
    const k = fileKey(key);
    await this.guard(k, 'write');
    const existing = await this.store.stat(k);
    if (existing?.isDir)
      throw new Conflict(`'${k}' is a folder in the datastore; choose another path`, { code: 'PATH_IS_FOLDER' });
    if (existing && !opts.overwrite)
      throw new Conflict(`'${k}' already exists in the datastore; pass overwrite=true to replace it`, {
        code: 'FILE_EXISTS',
      });
    try {
      return await this.store.put(k, body);
    } catch (e) {
      if (e instanceof BlobPathConflict)
        throw new Conflict(
          `'${k}' lies below a file of the datastore (a name cannot be a file and a folder); choose another path`,
          { code: 'PATH_IS_FILE' },
        );
      throw e;
    }
  }

  async get(key: string, range?: { start: number; end?: number }): Promise<{ stream: Readable; size: number }> {
    const k = fileKey(key);
    await this.guard(k, 'read');
    return this.store.get(k, range).catch((e) => {
      if (e instanceof NotFound) throw new NotFound(`no file '${k}' in the datastore`, { code: 'FILE_NOT_FOUND' });
      throw e;
    });
  }

  async stat(key: string): Promise<BlobInfo | undefined> {
    const k = safeKey(key);
    await this.guard(k, 'read');
    return this.store.stat(k);
  }

  async list(prefix: string, opts: { recursive: boolean }): Promise<BlobInfo[]> {
    const k = safeKey(prefix);
    await this.guard(k, 'read');
    return this.store.list(k, opts);
  }

  async delete(key: string): Promise<boolean> {
    const k = fileKey(key);
    await this.guard(k, 'write');
    const st = await this.store.stat(k);
    if (!st) return false;
    if (st.isDir) await this.store.deletePrefix(k);
    else await this.store.delete(k);
    return true;
  }

  async check(): Promise<void> {
    await this.store.init();
    const probe = `.atelier-probe-${process.pid}-${Date.now()}`;
    try {
      await this.store.put(probe, Readable.from([Buffer.from('ok')]));
    } catch (e) {
      throw new Error(`${this.where} is not writable: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    } finally {
      await this.store.delete(probe).catch(() => {});
    }
  }
}

/**
 * A folder on the server an administrator allowed. Every path is also checked after resolving
 * symbolic links, so a link inside the folder cannot lead out of it; the folder must exist.
 */
export class FolderBackend extends StoreBackend {
  constructor(
    blobs: BlobStores,
    readonly root: string,
    where: string,
  ) {
    super(blobs.folder(root), where);
  }

  protected override async guard(key: string): Promise<void> {
    if (!fs.existsSync(this.root))
      throw new NotFound(`the datastore's folder is missing (${this.where})`, { code: 'DATASTORE_UNAVAILABLE' });
    const realRoot = await fsp.realpath(this.root);
    let p = path.resolve(this.root, key);
    // The deepest existing ancestor decides where the path really goes.
    for (;;) {
      try {
        const real = await fsp.realpath(p);
        if (real !== realRoot && !real.startsWith(realRoot + path.sep))
          throw new InvalidInput(`path '${key}' leads out of the datastore's folder`, { code: 'INVALID_PATH' });
        return;
      } catch (e) {
        if (e instanceof InvalidInput) throw e;
        const up = path.dirname(p);
        if (up === p) return;
        p = up;
      }
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

/** A datastore's own S3-compatible bucket (optionally below a key prefix), as a store of the factory. */
export class S3Backend extends StoreBackend {
  private readonly bucket: S3Bucket;
  constructor(
    blobs: BlobStores,
    private readonly loc: S3Location,
  ) {
    const { bucket, store } = blobs.s3(
      {
        endpoint: loc.endpoint,
        bucket: loc.bucket,
        region: loc.region,
        forcePathStyle: true,
        credentials: { accessKeyId: loc.accessKeyId, secretAccessKey: loc.secretAccessKey },
      },
      loc.prefix,
    );
    super(store, `s3 bucket '${loc.bucket}' at ${loc.endpoint}`);
    this.bucket = bucket;
  }

  /** The bucket is the datastore's, so its refusals are the datastore's settings' fault (400), not the server's. */
  private explain(e: unknown): never {
    if (e instanceof BlobStoreUnavailable) {
      const code =
        e.code === 'BLOB_STORE_CREDENTIALS_REJECTED'
          ? 'DATASTORE_CREDENTIALS_REJECTED'
          : e.code === 'BLOB_BUCKET_NOT_FOUND'
            ? 'S3_BUCKET_NOT_FOUND'
            : 'DATASTORE_UNAVAILABLE';
      const hint = code === 'DATASTORE_CREDENTIALS_REJECTED' ? "; update the datastore's access key" : '';
      throw new InvalidInput(`${e.message}${hint}`, { code });
    }
    throw e;
  }

  override put(key: string, body: Readable, opts: { overwrite: boolean }): Promise<{ size: number }> {
    return super.put(key, body, opts).catch((e) => this.explain(e));
  }
  override get(key: string, range?: { start: number; end?: number }): Promise<{ stream: Readable; size: number }> {
    return super.get(key, range).catch((e) => this.explain(e));
  }
  override stat(key: string): Promise<BlobInfo | undefined> {
    return super.stat(key).catch((e) => this.explain(e));
  }
  override list(prefix: string, opts: { recursive: boolean }): Promise<BlobInfo[]> {
    return super.list(prefix, opts).catch((e) => this.explain(e));
  }
  override delete(key: string): Promise<boolean> {
    return super.delete(key).catch((e) => this.explain(e));
  }

  override async check(): Promise<void> {
    try {
      await this.bucket.check();
    } catch (e) {
      if (e instanceof BlobStoreUnavailable && e.code === 'BLOB_BUCKET_NOT_FOUND') {
        throw new InvalidInput(
          `bucket '${this.loc.bucket}' does not exist at ${this.loc.endpoint}; create it first or check the name`,
          { code: 'S3_BUCKET_NOT_FOUND' },
        );
      }
      this.explain(e);
    }
  }
}
