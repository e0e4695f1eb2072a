import crypto from 'node:crypto';
import path from 'node:path';
import { InvalidInput } from '../errors.js';
import { LocalBlobStore, safeKey, type BlobStore } from './blob-store.js';
import { S3Bucket, type S3BlobStore, type S3Target } from './s3-blob-store.js';

/**
 * Where the server keeps the bytes of storage accounts (MLflow artifacts, datastore containers and
 * file shares, multipart parts): folders below the data root (default), or one S3-compatible
 * bucket shared by every replica (ATELIER_BLOB_STORE=s3://bucket/prefix).
 */
export type BlobStoreConfig = { kind: 'local' } | ({ kind: 's3'; prefix: string } & S3Target);

const ACCOUNT = /^[a-z0-9]{3,24}$/;
/** Clients of datastores' own buckets kept for reuse (their connection pools), least recently used first out. */
const MAX_DATASTORE_BUCKETS = 32;

/**
 * The one place blob stores are made. Services ask it for the store of a storage account (or a
 * container of one); datastores also for a server folder or an S3 bucket of their own.
 */
export class BlobStores {
  readonly kind: 'local' | 's3';
  /** For messages and the log (no secrets). */
  readonly where: string;
  private readonly bucket?: S3Bucket;
  private readonly prefix: string;
  private readonly datastoreBuckets = new Map<string, S3Bucket>();

  constructor(
    config: BlobStoreConfig,
    /** Folder of the storage accounts when local (`<home>/blobs`). */
    private readonly localRoot: string,
  ) {
    this.kind = config.kind;
    if (config.kind === 's3') {
      this.bucket = new S3Bucket(config);
      this.prefix = safeKey(config.prefix, 'ATELIER_BLOB_STORE prefix');
      this.where = `${this.bucket.where}${this.prefix ? `, below '${this.prefix}/'` : ''}`;
    } else {
      this.prefix = '';
      this.where = `folder ${localRoot}`;
    }
  }

  /** The store of storage account `name`, or of a folder (container, file share) inside it. */
  account(name: string, ...folders: string[]): BlobStore {
    if (!ACCOUNT.test(name))
      throw new InvalidInput(`storage account name '${name}' is invalid: use 3–24 lower-case letters and digits`);
    const below = folders.map((f) => {
      const k = safeKey(f, 'container');
      if (!k) throw new InvalidInput('a container name is required');
      return k;
    });
    if (this.bucket) return this.bucket.store([this.prefix, name, ...below].filter(Boolean).join('/'));
    return new LocalBlobStore(path.join(this.localRoot, name, ...below));
  }

  /** A folder on the server an administrator allowed (server-folder datastores). */
  folder(root: string): LocalBlobStore {
    return new LocalBlobStore(root);
  }

  /**
   * A bucket given by a datastore (not the server's own). Its client is reused by later requests
   * with the same settings (the key includes a hash of the secret, so a changed key gets a new one).
   */
  s3(target: S3Target, prefix: string): { bucket: S3Bucket; store: S3BlobStore } {
    const key = crypto
      .createHash('sha256')
      .update(
        JSON.stringify([target.endpoint, target.region, target.bucket, target.forcePathStyle, target.credentials]),
      )
      .digest('hex');
    let bucket = this.datastoreBuckets.get(key);
    if (bucket) this.datastoreBuckets.delete(key);
    else bucket = new S3Bucket(target);
    this.datastoreBuckets.set(key, bucket);
    if (this.datastoreBuckets.size > MAX_DATASTORE_BUCKETS) {
      // Not destroyed: a request may still be using it; its idle connections close by themselves.
      this.datastoreBuckets.delete(this.datastoreBuckets.keys().next().value!);
    }
    return { bucket, store: bucket.store(prefix) };
  }

  /** At start: throws, saying what to fix, unless the store can be used. */
  async check(): Promise<void> {
    if (this.bucket) await this.bucket.check();
  }

  close(): void {
    this.bucket?.destroy();
    for (const b of this.datastoreBuckets.values()) b.destroy();
    this.datastoreBuckets.clear();
  }
}
