import crypto from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import type { AppContext } from '../context.js';
import type { StorageAccountLookup } from '../assets/storage-accounts.js';
import { safeKey, writableKey, type BlobInfo, type BlobStore } from '../blob/blob-store.js';
import { Conflict, InvalidInput, NotFound } from '../errors.js';
import { verifyBlobSas, type BlobPermission } from './access.js';
import './tables.js';

/** Azure's container names: 3–63 lower-case letters, digits and single hyphens. */
export const CONTAINER_NAME = /^(?=.{3,63}$)[a-z0-9]+(?:-[a-z0-9]+)*$/;
/** Staged blocks of one blob at most (Azure: 100,000 uncommitted blocks). */
const MAX_BLOCKS = 50_000;

/** A container reached with a valid SAS: where its bytes are, and where its uncommitted blocks wait. */
export interface BlobContainer {
  account: string;
  container: string;
  store: BlobStore;
  blocks: BlobStore;
}

export interface BlobProperties {
  info: BlobInfo;
  metadata: Record<string, string>;
  contentType?: string;
  contentMd5?: string;
  etag: string;
}

export interface WriteOptions {
  metadata?: Record<string, string>;
  contentType?: string;
  /** Base64 MD5 the client computed: the bytes must match it. */
  contentMd5?: string;
  /** `If-None-Match: *`: refuse to replace an existing blob. */
  ifNoneMatch?: string;
}

const etagOf = (info: BlobInfo) =>
  `"0x${info.modified.toString(16).toUpperCase()}${info.size.toString(16).toUpperCase()}"`;

/** Passes bytes through, computing their MD5; fails the stream (so the write leaves nothing) when `expected` differs. */
function md5Check(expected: string | undefined): Transform & { digest?: string } {
  const hash = crypto.createHash('md5');
  const t: Transform & { digest?: string } = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      cb(null, chunk);
    },
    flush(cb) {
      t.digest = hash.digest('base64');
      if (expected && expected !== t.digest)
        cb(
          new InvalidInput(
            `the bytes received do not match the Content-MD5 '${expected}' of the request (got '${t.digest}'); send them again`,
            { code: 'CONTENT_MD5_MISMATCH' },
          ),
        );
      else cb();
    },
  });
  // The consumer (the store's write) sees the failure through its pipeline; this keeps a late second
  // emission of it from becoming an uncaught exception.
  t.on('error', () => {});
  return t;
}

/**
 * The Azure Blob REST subset over the storage accounts' blob stores (the factory's `account(name,
 * container)`): properties and metadata beside the bytes (table blob_properties), block uploads
 * staged below the account's `.blocks` folder (a name no container can have) until their block list
 * is committed. Every operation starts with `open`, which checks the request's SAS.
 */
export class BlobService {
  constructor(
    private readonly ctx: AppContext,
    private readonly accounts: StorageAccountLookup,
  ) {}

  /** The container, once the SAS `q` allows `need` on `blob` (or on the container / a listing's prefix). */
  async open(
    account: string,
    container: string,
    blob: string | undefined,
    q: URLSearchParams,
    need: BlobPermission,
  ): Promise<BlobContainer> {
    if (!CONTAINER_NAME.test(container))
      throw new InvalidInput(
        `'${container}' is not a container name: use 3–63 lower-case letters, digits and single hyphens`,
        { code: 'INVALID_BLOB_REQUEST', target: 'container' },
      );
    const ref = /^[a-z0-9]{3,24}$/.test(account) ? await this.accounts.byName(account) : undefined;
    if (!ref)
      throw new NotFound(`storage account '${account}' does not exist on this server`, {
        code: 'STORAGE_ACCOUNT_NOT_FOUND',
      });
    verifyBlobSas(q, { account: ref.name, container, blob, keys: await this.accounts.accessKeys(ref), need });
    return {
      account: ref.name,
      container,
      store: this.ctx.blobs.account(ref.name, container),
      blocks: this.ctx.blobs.account(ref.name, '.blocks', container),
    };
  }

  private keyHash(c: BlobContainer, blob: string): string {
    return crypto.createHash('sha256').update(`${c.account}\n${c.container}\n${blob}`).digest('hex');
  }

  async properties(c: BlobContainer, blob: string): Promise<BlobProperties> {
    const key = safeKey(blob, 'blob name');
    const info = key ? await c.store.stat(key) : undefined;
    if (!info || info.isDir)
      throw new NotFound(`no blob '${key}' in container '${c.container}'`, { code: 'BLOB_NOT_FOUND' });
    const row = await this.ctx.db
      .selectFrom('blob_properties')
      .selectAll()
      .where('key_hash', '=', this.keyHash(c, key))
      .executeTakeFirst();
    return {
      info,
      metadata: row ? (JSON.parse(row.metadata) as Record<string, string>) : {},
      contentType: row?.content_type ?? undefined,
      contentMd5: row?.content_md5 ?? undefined,
      etag: etagOf(info),
    };
  }

  async get(
    c: BlobContainer,
    blob: string,
    range?: { start: number; end?: number },
  ): Promise<{ stream: Readable; size: number }> {
    return c.store.get(safeKey(blob, 'blob name'), range).catch((e) => {
      if (e instanceof NotFound)
        throw new NotFound(`no blob '${blob}' in container '${c.container}'`, { code: 'BLOB_NOT_FOUND' });
      throw e;
    });
  }

  private async record(c: BlobContainer, key: string, opts: WriteOptions, md5: string | undefined): Promise<void> {
    const row = {
      key_hash: this.keyHash(c, key),
      account: c.account,
      container: c.container,
      blob: key,
      metadata: JSON.stringify(opts.metadata ?? {}),
      content_type: opts.contentType ?? null,
      content_md5: md5 ?? null,
      updated_at: Date.now(),
    };
    await this.ctx.db
      .insertInto('blob_properties')
      .values(row)
      .onConflict((oc) =>
        oc.column('key_hash').doUpdateSet({
          metadata: row.metadata,
          content_type: row.content_type,
          content_md5: row.content_md5,
          updated_at: row.updated_at,
        }),
      )
      .execute();
  }

  private async checkNew(c: BlobContainer, key: string, opts: WriteOptions): Promise<void> {
    if (opts.ifNoneMatch === undefined) return;
    if (opts.ifNoneMatch.trim() !== '*')
      throw new InvalidInput(`If-None-Match must be '*' on a write; got '${opts.ifNoneMatch}'`, {
        code: 'INVALID_BLOB_REQUEST',
        target: 'If-None-Match',
      });
    if (await c.store.stat(key))
      throw new Conflict(`blob '${key}' exists already in container '${c.container}'`, { code: 'BLOB_EXISTS' });
  }

  /** Put Blob: the whole blob in one request (streamed), replacing its metadata. */
  async put(c: BlobContainer, blob: string, body: Readable, opts: WriteOptions): Promise<BlobProperties> {
    const key = writableKey(blob);
    await this.checkNew(c, key, opts);
    const check = md5Check(opts.contentMd5);
    body.on('error', (e) => check.destroy(e));
    await c.store.put(key, body.pipe(check));
    await this.record(c, key, opts, check.digest);
    return this.properties(c, key);
  }

  private blockKey(c: BlobContainer, blob: string, blockId: string): string {
    const raw = Buffer.from(blockId, 'base64');
    if (!blockId || raw.length === 0 || raw.length > 64 || raw.toString('base64') !== blockId)
      throw new InvalidInput(
        `block id '${blockId.slice(0, 100)}' is not valid: it must be Base64 of at most 64 bytes, the same length for every block of a blob`,
        { code: 'INVALID_BLOB_REQUEST', target: 'blockid' },
      );
    return `${this.keyHash(c, blob)}/${raw.toString('hex')}`;
  }

  /** Put Block: one staged block, kept until the blob's block list is committed. */
  async stageBlock(
    c: BlobContainer,
    blob: string,
    blockId: string,
    body: Readable,
    contentMd5?: string,
  ): Promise<void> {
    const key = writableKey(blob);
    const check = md5Check(contentMd5);
    body.on('error', (e) => check.destroy(e));
    await c.blocks.put(this.blockKey(c, key, blockId), body.pipe(check));
  }

  /** Put Block List: the blob becomes its staged blocks in this order (streamed from the staging area); the staging is then cleared. */
  async commitBlocks(c: BlobContainer, blob: string, blockIds: string[], opts: WriteOptions): Promise<BlobProperties> {
    const key = writableKey(blob);
    if (blockIds.length > MAX_BLOCKS)
      throw new InvalidInput(`a block list may name at most ${MAX_BLOCKS} blocks`, { code: 'INVALID_BLOB_REQUEST' });
    await this.checkNew(c, key, opts);
    const keys = blockIds.map((id) => this.blockKey(c, key, id));
    for (const [i, k] of keys.entries())
      if (!(await c.blocks.stat(k)))
        throw new InvalidInput(
          `block '${blockIds[i]}' of the block list was not staged (or was committed already); upload it with comp=block first`,
          { code: 'INVALID_BLOB_REQUEST', target: 'BlockList' },
        );
    const blocks = c.blocks;
    async function* concatenated(): AsyncGenerator<Buffer> {
      for (const k of keys) {
        const { stream } = await blocks.get(k);
        for await (const chunk of stream) yield chunk as Buffer;
      }
    }
    const check = md5Check(opts.contentMd5);
    const source = Readable.from(concatenated());
    source.on('error', (e) => check.destroy(e));
    await c.store.put(key, source.pipe(check));
    await this.record(c, key, opts, check.digest);
    await c.blocks.deletePrefix(this.keyHash(c, key));
    return this.properties(c, key);
  }

  /** Set Blob Metadata: replaces the user metadata of an existing blob. */
  async setMetadata(c: BlobContainer, blob: string, metadata: Record<string, string>): Promise<BlobProperties> {
    const p = await this.properties(c, blob);
    await this.record(c, p.info.path, { metadata, contentType: p.contentType }, p.contentMd5);
    return { ...p, metadata };
  }

  async delete(c: BlobContainer, blob: string): Promise<void> {
    const p = await this.properties(c, blob);
    await c.store.delete(p.info.path);
    await this.ctx.db.deleteFrom('blob_properties').where('key_hash', '=', this.keyHash(c, p.info.path)).execute();
  }

  /**
   * List Blobs: names starting with `prefix` (a string prefix, as in Azure), after `marker`, at most
   * `max`; with a `delimiter`, names are rolled up into prefixes at its next occurrence.
   */
  async list(
    c: BlobContainer,
    opts: { prefix: string; delimiter?: string; marker?: string; max: number; metadata: boolean },
  ): Promise<{
    blobs: (BlobInfo & { metadata?: Record<string, string> })[];
    prefixes: string[];
    nextMarker?: string;
  }> {
    const folder = opts.prefix.includes('/') ? opts.prefix.slice(0, opts.prefix.lastIndexOf('/')) : '';
    const base = safeKey(folder, 'prefix');
    const exists = base ? await c.store.stat(base) : undefined;
    const all = !base || exists?.isDir ? await c.store.list(base, { recursive: true }) : [];
    const items: { name: string; blob?: BlobInfo }[] = [];
    const seen = new Set<string>();
    for (const f of all) {
      if (f.isDir || !f.path.startsWith(opts.prefix)) continue;
      if (opts.delimiter) {
        const i = f.path.indexOf(opts.delimiter, opts.prefix.length);
        if (i >= 0) {
          const p = f.path.slice(0, i + opts.delimiter.length);
          if (!seen.has(p)) {
            seen.add(p);
            items.push({ name: p });
          }
          continue;
        }
      }
      items.push({ name: f.path, blob: f });
    }
    items.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const after = opts.marker ? items.filter((x) => x.name > opts.marker!) : items;
    const page = after.slice(0, opts.max);
    const blobs: (BlobInfo & { metadata?: Record<string, string> })[] = [];
    for (const x of page) {
      if (!x.blob) continue;
      blobs.push(opts.metadata ? { ...x.blob, metadata: (await this.properties(c, x.blob.path)).metadata } : x.blob);
    }
    return {
      blobs,
      prefixes: page.filter((x) => !x.blob).map((x) => x.name),
      nextMarker: after.length > opts.max ? page.at(-1)!.name : undefined,
    };
  }

  etag(info: BlobInfo): string {
    return etagOf(info);
  }
}
