import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import crypto from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MANAGEMENT_AUDIENCE } from '../auth/authentication.js';
import { ConflictError, errorFromResponse, ServiceError, ValidationError } from '../errors.js';
import { fetchOrThrow, readBody } from '../http/fetch.js';
import type { ArmClient } from '../http/client.js';
import { encodePath, streamUpload } from '../assets/link.js';

/** Anything that leads to a workspace's server: a Workspace. */
export interface TrackingWorkspace {
  readonly id: string;
  readonly name: string;
  readonly serviceContext: { client: ArmClient };
}

/** Bytes moved so far, for progress bars. */
export interface TransferProgress {
  file: string;
  bytesDone: number;
  bytesTotal: number;
  filesDone: number;
  filesTotal: number;
}

/**
 * The MLflow REST client of one workspace: `{server}/mlflow/v1.0{W}/api/2.0/…`, with the caller's
 * token. JSON calls go through fetch; artifact uploads are streamed with node:http(s).
 */
export class TrackingClient {
  readonly client: ArmClient;
  /** `/mlflow/v1.0{W}`: the tracking URI's path on the server. */
  readonly prefix: string;
  constructor(readonly ws: TrackingWorkspace) {
    this.client = ws.serviceContext.client;
    this.prefix = `/mlflow/v1.0${ws.id}`;
  }
  get trackingUri(): string {
    return `${this.client.endpoint}${this.prefix}`;
  }

  private async token(force = false): Promise<string> {
    return (
      await this.client.auth.getToken({
        endpoint: this.client.endpoint,
        audience: MANAGEMENT_AUDIENCE,
        forceRefresh: force,
      })
    ).token;
  }

  /** One MLflow JSON call; `path` is below `/api/2.0/mlflow` (e.g. `/runs/get`). */
  async call<T = Record<string, unknown>>(
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    p: string,
    what: string,
    args: Record<string, unknown> = {},
  ): Promise<T> {
    let url = `${this.trackingUri}/api/2.0/mlflow${p}`;
    let body: string | undefined;
    if (method === 'GET') {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(args)) {
        if (v === undefined) continue;
        if (Array.isArray(v)) for (const x of v) q.append(k, String(x));
        else q.set(k, String(v));
      }
      const s = q.toString();
      if (s) url += `?${s}`;
    } else body = JSON.stringify(args);
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = {
        authorization: `Bearer ${await this.token(attempt > 0)}`,
        accept: 'application/json',
      };
      if (body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetchOrThrow(url, { method, headers, body });
      const { body: parsed, text } = await readBody(res);
      if (res.ok) return (parsed ?? {}) as T;
      if (res.status === 401 && attempt === 0) continue;
      throw errorFromResponse(res.status, parsed, text, res.headers.get('x-ms-request-id') ?? undefined, what);
    }
  }

  /** Every item of a paged MLflow search (`next_page_token`). */
  async *pages<T>(
    method: 'GET' | 'POST',
    p: string,
    field: string,
    what: string,
    args: Record<string, unknown>,
  ): AsyncGenerator<T> {
    let token: string | undefined;
    do {
      const r = await this.call<Record<string, unknown>>(method, p, what, {
        ...args,
        ...(token ? { page_token: token } : {}),
      });
      for (const x of (r[field] as T[] | undefined) ?? []) yield x;
      token = typeof r.next_page_token === 'string' && r.next_page_token ? r.next_page_token : undefined;
    } while (token);
  }

  private artifactUrl(proxyPath: string): string {
    return `${this.prefix}/api/2.0/mlflow-artifacts/artifacts/${encodePath(proxyPath)}`;
  }

  /** Streams a local file to an artifact (proxy path, e.g. `1/<run>/artifacts/x.txt`). */
  async uploadFile(local: string, proxyPath: string, onBytes?: (n: number) => void): Promise<number> {
    const st = await fsp.stat(local).catch(() => undefined);
    if (!st?.isFile())
      throw new ValidationError(`'${local}' is not a file; give the path of a file to upload`, { target: 'path' });
    const counted = async function* () {
      for await (const chunk of fs.createReadStream(local, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
        onBytes?.(chunk.length);
        yield chunk;
      }
    };
    await streamUpload(
      { id: this.ws.id, name: this.ws.name, client: this.client },
      'PUT',
      this.artifactUrl(proxyPath),
      counted(),
      st.size,
      `upload '${local}'`,
    );
    return st.size;
  }

  /** Uploads bytes held in memory (small things: images, JSON). */
  async uploadBytes(bytes: Uint8Array, proxyPath: string, what: string): Promise<void> {
    const one = async function* () {
      yield bytes;
    };
    await streamUpload(
      { id: this.ws.id, name: this.ws.name, client: this.client },
      'PUT',
      this.artifactUrl(proxyPath),
      one(),
      bytes.length,
      what,
    );
  }

  /**
   * Streams an artifact to a local file: written to a temp file beside it, renamed when complete
   * (an interrupted download leaves nothing). Refuses to replace a file unless `overwrite`.
   */
  async downloadFile(
    proxyPath: string,
    dest: string,
    opts: { overwrite?: boolean; onBytes?: (n: number) => void } = {},
  ): Promise<number> {
    if (!opts.overwrite && fs.existsSync(dest))
      throw new ConflictError(`'${dest}' exists already; remove it or allow overwriting`, { target: dest });
    const res = await fetchOrThrow(`${this.client.endpoint}${this.artifactUrl(proxyPath)}`, {
      headers: { authorization: `Bearer ${await this.token()}` },
    });
    if (!res.ok || !res.body) {
      const { body, text } = await readBody(res);
      throw errorFromResponse(
        res.status,
        body,
        text,
        res.headers.get('x-ms-request-id') ?? undefined,
        `download '${proxyPath}'`,
      );
    }
    await fsp.mkdir(path.dirname(dest), { recursive: true });
    const tmp = `${dest}.${crypto.randomBytes(4).toString('hex')}.part`;
    let n = 0;
    const count = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        n += chunk.length;
        opts.onBytes?.(chunk.length);
        cb(null, chunk);
      },
    });
    try {
      await pipeline(
        Readable.fromWeb(res.body as import('node:stream/web').ReadableStream),
        count,
        fs.createWriteStream(tmp),
      );
      await fsp.rename(tmp, dest);
    } catch (e) {
      await fsp.rm(tmp, { force: true });
      throw e;
    }
    return n;
  }

  /** Every file below a proxy folder, recursively: paths relative to it, with sizes. */
  async listFiles(proxyPath: string): Promise<{ path: string; size: number }[]> {
    const out: { path: string; size: number }[] = [];
    const walk = async (rel: string): Promise<void> => {
      const full = rel ? `${proxyPath}/${rel}` : proxyPath;
      const url = `${this.client.endpoint}${this.prefix}/api/2.0/mlflow-artifacts/artifacts?path=${encodeURIComponent(full)}`;
      const res = await fetchOrThrow(url, {
        headers: { authorization: `Bearer ${await this.token()}`, accept: 'application/json' },
      });
      const { body, text } = await readBody(res);
      if (!res.ok) throw errorFromResponse(res.status, body, text, undefined, `list artifacts at '${full}'`);
      const files =
        (body as { files?: { path: string; is_dir: boolean; file_size?: number | string }[] } | undefined)?.files ?? [];
      for (const f of files) {
        const r = rel ? `${rel}/${f.path}` : f.path;
        if (f.is_dir) await walk(r);
        else out.push({ path: r, size: Number(f.file_size ?? 0) });
      }
    };
    await walk('');
    return out;
  }

  /** Deletes a file or folder (a missing one is not an error). */
  async deleteArtifact(proxyPath: string): Promise<void> {
    const res = await fetchOrThrow(`${this.client.endpoint}${this.artifactUrl(proxyPath)}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${await this.token()}` },
    });
    const { body, text } = await readBody(res);
    if (!res.ok) throw errorFromResponse(res.status, body, text, undefined, `delete artifact '${proxyPath}'`);
  }
}

/** `mlflow-artifacts:/1/abc/artifacts` → `1/abc/artifacts`; other schemes are not on this server. */
export function proxyPathOf(uri: string, what: string): string {
  const m = /^mlflow-artifacts:(?:\/\/[^/]*)?\/+(.*?)\/*$/.exec(uri);
  if (!m)
    throw new ServiceError(
      `${what}: the files are at '${uri}', outside this server's artifact store; read them from there`,
    );
  return m[1]!;
}

/** A relative artifact name: forward slashes, no `..`, no leading `/`. */
export function checkArtifactName(name: unknown, what = 'name'): string {
  if (typeof name !== 'string' || !name.trim())
    throw new ValidationError(`${what} must be a non-empty relative path such as 'outputs/model.pkl'`, {
      target: what,
    });
  const clean = name.replace(/\\/g, '/').replace(/^\/+/, '').replace(/\/+$/, '');
  const parts = clean.split('/');
  if (parts.some((p) => p === '..' || p === '.' || p === '') || clean.includes('\0'))
    throw new ValidationError(`${what} '${name}' must be a relative path without '.', '..' or empty parts`, {
      target: what,
    });
  return clean;
}

/** Every file below a local folder (relative paths with forward slashes), sorted. */
export async function localFiles(folder: string): Promise<{ rel: string; abs: string; size: number }[]> {
  const out: { rel: string; abs: string; size: number }[] = [];
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
      const abs = path.join(dir, e.name);
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(abs, r);
      else if (e.isFile()) out.push({ rel: r, abs, size: (await fsp.stat(abs)).size });
    }
  };
  await walk(folder, '');
  return out.sort((a, b) => a.rel.localeCompare(b.rel));
}
