import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import crypto from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { Conflict, InvalidInput, NotFound, type ErrorCode } from '../errors.js';

export interface BlobInfo {
  /** Path relative to the container root, '/'-separated. */
  path: string;
  size: number;
  isDir: boolean;
  modified: number;
}

export interface ListOptions {
  /** Every file below the prefix instead of its direct children (files and folders). */
  recursive?: boolean;
  /** A page: at most this many entries… */
  limit?: number;
  /** …whose paths sort after this one (the last path of the previous page). */
  startAfter?: string;
}

/**
 * Where bytes live: a folder on the server (LocalBlobStore) or a prefix of an S3-compatible bucket
 * (S3BlobStore); made by the BlobStores factory (blob/factory.ts). Streaming only: no method takes or
 * returns a whole file in memory. Both behave as a file tree: a write is atomic (readers see the old
 * file or the whole new one; an interrupted write leaves nothing), a name cannot be a file and a
 * folder at once (a write that would make it one throws BlobPathConflict), folders exist while
 * something is below them.
 */
export interface BlobStore {
  /** For messages and the log: where the bytes are (no secrets). */
  readonly where: string;
  /** Makes the store's root exist (a folder; nothing to do on S3). */
  init(): Promise<void>;
  /** Streams `body` to `key`, replacing a file there. */
  put(key: string, body: Readable): Promise<{ size: number }>;
  /** The file, or its bytes `range.start`..`range.end` (inclusive); `size` is the whole file's. NotFound if missing. */
  get(key: string, range?: { start: number; end?: number }): Promise<{ stream: Readable; size: number }>;
  /** A file, a folder, or undefined. The root ('') of an S3 store always exists. */
  stat(key: string): Promise<BlobInfo | undefined>;
  /** Direct children of `prefix` (a folder), or every file below it when `recursive`; sorted by path. */
  list(prefix: string, opts?: ListOptions): Promise<BlobInfo[]>;
  delete(key: string): Promise<void>;
  /** Removes the folder `prefix` and everything below it ('' = the whole store). */
  deletePrefix(prefix: string): Promise<void>;
}

/** A write that would make a name both a file and a folder (a file below a file, a file over a folder). */
export class BlobPathConflict extends Conflict {
  static override defaultCode: ErrorCode = 'BLOB_PATH_TAKEN';
}

/** Longest name of one path segment and of a whole key, in UTF-8 bytes (file systems' and S3's limits). */
export const MAX_SEGMENT_BYTES = 255;
export const MAX_KEY_BYTES = 1024;

/** A key a write may use: non-empty, no segment or whole key longer than the stores allow. */
export function writableKey(key: string): string {
  const k = safeKey(key);
  if (!k) throw new InvalidInput('path must name a file, not be empty');
  if (Buffer.byteLength(k) > MAX_KEY_BYTES || k.split('/').some((s) => Buffer.byteLength(s) > MAX_SEGMENT_BYTES)) {
    throw new InvalidInput(
      `path '${k.slice(0, 200)}…' is too long: at most ${MAX_SEGMENT_BYTES} bytes per name and ${MAX_KEY_BYTES} in all; use shorter names`,
      { code: 'BLOB_PATH_TOO_LONG' },
    );
  }
  return k;
}

/** Sorts by path in code-unit order and applies `startAfter` / `limit` (shared by both stores). */
export function pageOf(entries: BlobInfo[], opts: ListOptions): BlobInfo[] {
  let out = entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  if (opts.startAfter !== undefined) out = out.filter((e) => e.path > opts.startAfter!);
  return opts.limit !== undefined ? out.slice(0, opts.limit) : out;
}

/**
 * Turns a user-given relative path into a safe key: '/'-separated, no '..', no absolute paths, no
 * NUL, no backslashes. Throws InvalidInput otherwise.
 */
export function safeKey(p: string, what = 'path'): string {
  if (typeof p !== 'string') throw new InvalidInput(`${what} must be a string`);
  if (p.includes('\0')) throw new InvalidInput(`${what} must not contain NUL`);
  if (p.includes('\\')) throw new InvalidInput(`${what} must use '/' separators, not '\\'`);
  const parts = p.split('/').filter((s) => s !== '' && s !== '.');
  if (parts.some((s) => s === '..')) throw new InvalidInput(`${what} must not contain '..': '${p}'`);
  return parts.join('/');
}

/** Blobs as files below one root folder. Writes go to a temp file then rename: never half-written. */
export class LocalBlobStore implements BlobStore {
  readonly where: string;
  constructor(readonly root: string) {
    this.where = `folder ${root}`;
  }

  async init(): Promise<void> {
    await fsp.mkdir(this.root, { recursive: true });
  }

  private resolve(key: string): string {
    const k = safeKey(key);
    const full = path.resolve(this.root, k);
    if (full !== path.resolve(this.root) && !full.startsWith(path.resolve(this.root) + path.sep))
      throw new InvalidInput(`path escapes its folder: '${key}'`);
    return full;
  }

  async put(key: string, body: Readable): Promise<{ size: number }> {
    const k = writableKey(key);
    const file = this.resolve(k);
    const tmp = `${file}.${crypto.randomBytes(6).toString('hex')}.partial`;
    try {
      await fsp.mkdir(path.dirname(file), { recursive: true });
      await pipeline(body, fs.createWriteStream(tmp));
      const fh = await fsp.open(tmp, 'r+');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      await fsp.rename(tmp, file);
    } catch (e) {
      await fsp.rm(tmp, { force: true }).catch(() => {});
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR' || code === 'EEXIST' || code === 'EISDIR')
        throw new BlobPathConflict(`'${k}' conflicts with an existing file or folder of the same name`);
      if (code === 'ENAMETOOLONG')
        throw new InvalidInput(`path '${k.slice(0, 200)}…' is too long; use shorter names`, {
          code: 'BLOB_PATH_TOO_LONG',
        });
      // The folder went away under the write (its workspace or storage account was deleted meanwhile).
      if (code === 'ENOENT')
        throw new NotFound(
          `'${k}' could not be written: its folder was removed while the file was being written (was its workspace or storage account deleted?)`,
          { code: 'BLOB_FOLDER_REMOVED' },
        );
      throw e;
    }
    return { size: (await fsp.stat(file)).size };
  }

  async get(key: string, range?: { start: number; end?: number }): Promise<{ stream: Readable; size: number }> {
    const file = this.resolve(key);
    let st: fs.Stats;
    try {
      st = await fsp.stat(file);
    } catch {
      throw new NotFound(`no file at '${key}'`);
    }
    if (!st.isFile()) throw new NotFound(`no file at '${key}'`);
    const stream = fs.createReadStream(file, range ? { start: range.start, end: range.end } : {});
    return { stream, size: st.size };
  }

  async stat(key: string): Promise<BlobInfo | undefined> {
    try {
      const st = await fsp.stat(this.resolve(key));
      return { path: safeKey(key), size: st.isFile() ? st.size : 0, isDir: st.isDirectory(), modified: st.mtimeMs };
    } catch {
      return undefined;
    }
  }

  async list(prefix: string, opts: ListOptions = {}): Promise<BlobInfo[]> {
    const base = safeKey(prefix);
    const dir = this.resolve(base);
    const out: BlobInfo[] = [];
    const walk = async (d: string, rel: string): Promise<void> => {
      let entries: fs.Dirent[];
      try {
        entries = await fsp.readdir(d, { withFileTypes: true });
      } catch {
        return;
      }
      entries.sort((a, b) => a.name.localeCompare(b.name));
      for (const e of entries) {
        if (e.name.endsWith('.partial')) continue;
        const r = rel ? `${rel}/${e.name}` : e.name;
        const full = path.join(d, e.name);
        if (e.isDirectory()) {
          if (opts.recursive) await walk(full, r);
          else out.push({ path: r, size: 0, isDir: true, modified: (await fsp.stat(full)).mtimeMs });
        } else if (e.isFile()) {
          const st = await fsp.stat(full);
          out.push({ path: r, size: st.size, isDir: false, modified: st.mtimeMs });
        }
      }
    };
    await walk(dir, base);
    return opts.limit !== undefined || opts.startAfter !== undefined ? pageOf(out, opts) : out;
  }

  async delete(key: string): Promise<void> {
    await fsp.rm(this.resolve(key), { force: true });
  }

  async deletePrefix(prefix: string): Promise<void> {
    await fsp.rm(this.resolve(prefix), { recursive: true, force: true });
  }
}
