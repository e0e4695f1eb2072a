import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import crypto from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { InvalidInput, NotFound } from '../errors.js';

export interface BlobInfo {
  /** Path relative to the container root, '/'-separated. */
  path: string;
  size: number;
  isDir: boolean;
  modified: number;
}

/** Where bytes live. Streaming only: no method takes or returns a whole file in memory. */
export interface BlobStore {
  put(key: string, body: Readable): Promise<{ size: number }>;
  get(key: string, range?: { start: number; end?: number }): Promise<{ stream: Readable; size: number }>;
  stat(key: string): Promise<BlobInfo | undefined>;
  /** Direct children of `prefix` (a folder), or every file below it when `recursive`. */
  list(prefix: string, opts?: { recursive?: boolean }): Promise<BlobInfo[]>;
  delete(key: string): Promise<void>;
  deletePrefix(prefix: string): Promise<void>;
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
  constructor(readonly root: string) {}

  private resolve(key: string): string {
    const k = safeKey(key);
    const full = path.resolve(this.root, k);
    if (full !== path.resolve(this.root) && !full.startsWith(path.resolve(this.root) + path.sep)) throw new InvalidInput(`path escapes its folder: '${key}'`);
    return full;
  }

  async put(key: string, body: Readable): Promise<{ size: number }> {
    const file = this.resolve(key);
    if (!safeKey(key)) throw new InvalidInput('path must not be empty');
    await fsp.mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.${crypto.randomBytes(6).toString('hex')}.partial`;
    try {
      await pipeline(body, fs.createWriteStream(tmp));
      const fh = await fsp.open(tmp, 'r+');
      try { await fh.sync(); } finally { await fh.close(); }
      await fsp.rename(tmp, file);
    } catch (e) {
      await fsp.rm(tmp, { force: true });
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

  async list(prefix: string, opts: { recursive?: boolean } = {}): Promise<BlobInfo[]> {
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
    return out;
  }

  async delete(key: string): Promise<void> {
    await fsp.rm(this.resolve(key), { force: true });
  }

  async deletePrefix(prefix: string): Promise<void> {
    await fsp.rm(this.resolve(prefix), { recursive: true, force: true });
  }
}
