import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ConflictError, ValidationError } from '../errors.js';
import { encodePath, linkOf, rawRequest, streamUpload, type HasServiceContext, type WorkspaceLink } from './link.js';
import type * as C from '@atelier/contracts';

/** Progress of a datastore transfer, for progress bars. */
export interface TransferProgress {
  /** The file being moved (relative path). */
  file: string;
  filesDone: number;
  filesTotal: number;
  bytesDone: number;
  bytesTotal: number;
}

export interface TransferOptions {
  /** Replace files that already exist (default false: an existing file is an error). */
  overwrite?: boolean;
  /** Print one line per file to standard error (the seed's show_progress; default true). */
  showProgress?: boolean;
  onProgress?: (p: TransferProgress) => void;
}

export type DatastoreFile = C.DatastoreFile;

export type DatastoreResource = C.Datastore;

const human = (n: number): string =>
  n < 1024 ? `${n} B` : n < 1 << 20 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / (1 << 20)).toFixed(1)} MiB`;

/** Walks a local folder: every file below it, '/'-separated relative paths, in a stable order. */
async function localFiles(root: string): Promise<{ rel: string; full: string; size: number }[]> {
  const out: { rel: string; full: string; size: number }[] = [];
  const walk = async (dir: string, rel: string) => {
    const entries = (await fsp.readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      const full = path.join(dir, e.name);
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(full, r);
      else if (e.isFile()) out.push({ rel: r, full, size: (await fsp.stat(full)).size });
    }
  };
  await walk(root, '');
  return out;
}

function joinTarget(targetPath: string | undefined, rel: string): string {
  const t = (targetPath ?? '')
    .replace(/\\/g, '/')
    .split('/')
    .filter((s) => s && s !== '.');
  if (t.includes('..'))
    throw new ValidationError(`targetPath must not contain '..': '${targetPath}'`, { target: 'targetPath' });
  return [...t, rel].filter(Boolean).join('/');
}

/**
 * A datastore of a workspace (the seed's `Datastore`): its definition, and its files — uploaded
 * and downloaded as streams through `W/datastores/{name}/files/…`.
 */
export class Datastore {
  readonly name: string;
  readonly datastoreType: string;
  readonly isDefault: boolean;
  readonly properties: DatastoreResource['properties'];
  private readonly link: WorkspaceLink;

  constructor(ws: HasServiceContext | WorkspaceLink, resource: DatastoreResource) {
    this.link = linkOf(ws);
    this.name = resource.name;
    this.datastoreType = resource.properties.datastoreType;
    this.isDefault = resource.properties.isDefault === true;
    this.properties = resource.properties;
  }

  /** The workspace this datastore belongs to. */
  get workspace(): WorkspaceLink {
    return this.link;
  }

  private get base(): string {
    return `${this.link.id}/datastores/${encodeURIComponent(this.name)}`;
  }

  /** `azureml://datastores/{name}/paths/{path}`: how data assets refer to a path here. */
  uri(p = ''): string {
    return `azureml://datastores/${this.name}/paths/${p.replace(/^\/+/, '')}`;
  }

  static async get(ws: HasServiceContext | WorkspaceLink, name: string): Promise<Datastore> {
    const link = linkOf(ws);
    const r = await link.client.request<DatastoreResource>('GET', `${link.id}/datastores/${encodeURIComponent(name)}`, {
      what: `get datastore '${name}'`,
    });
    return new Datastore(link, r.body);
  }

  static async list(ws: HasServiceContext | WorkspaceLink): Promise<Map<string, Datastore>> {
    const link = linkOf(ws);
    const out = new Map<string, Datastore>();
    for await (const d of link.client.list<DatastoreResource>(`${link.id}/datastores`, { what: 'list datastores' }))
      out.set(d.name, new Datastore(link, d));
    return out;
  }

  /** Creates or replaces a datastore from its 2025-09-01 `properties` (secrets go to the workspace's key vault). */
  static async register(
    ws: HasServiceContext | WorkspaceLink,
    name: string,
    properties: Record<string, unknown>,
  ): Promise<Datastore> {
    const link = linkOf(ws);
    const r = await link.client.request<DatastoreResource>('PUT', `${link.id}/datastores/${encodeURIComponent(name)}`, {
      body: { properties },
      what: `register datastore '${name}'`,
    });
    return new Datastore(link, r.body);
  }

  /**
   * The seed's `register_azure_blob_container`: account key (`accountKey`) or SAS token (`sasToken`,
   * from the storage account's listServiceSas; checked on every use: permissions, expiry, key)
   * credentials, or neither (each caller's own access to the account).
   */
  static registerAzureBlobContainer(
    ws: HasServiceContext | WorkspaceLink,
    opts: {
      datastoreName: string;
      containerName: string;
      accountName: string;
      accountKey?: string;
      sasToken?: string;
      subscriptionId?: string;
      resourceGroup?: string;
    },
  ): Promise<Datastore> {
    if (opts.accountKey && opts.sasToken)
      return Promise.reject(new ValidationError('give accountKey or sasToken, not both', { target: 'sasToken' }));
    return Datastore.register(ws, opts.datastoreName, {
      datastoreType: 'AzureBlob',
      accountName: opts.accountName,
      containerName: opts.containerName,
      ...(opts.subscriptionId ? { subscriptionId: opts.subscriptionId } : {}),
      ...(opts.resourceGroup ? { resourceGroup: opts.resourceGroup } : {}),
      credentials: opts.accountKey
        ? { credentialsType: 'AccountKey', secrets: { secretsType: 'AccountKey', key: opts.accountKey } }
        : opts.sasToken
          ? { credentialsType: 'Sas', secrets: { secretsType: 'Sas', sasToken: opts.sasToken.replace(/^\?/, '') } }
          : { credentialsType: 'None' },
    });
  }

  /** An S3-compatible bucket (an Atelier datastore type). */
  static registerS3(
    ws: HasServiceContext | WorkspaceLink,
    opts: {
      datastoreName: string;
      endpoint: string;
      bucket: string;
      region?: string;
      prefix?: string;
      accessKeyId: string;
      secretAccessKey: string;
    },
  ): Promise<Datastore> {
    return Datastore.register(ws, opts.datastoreName, {
      datastoreType: 'S3',
      endpoint: opts.endpoint,
      bucket: opts.bucket,
      ...(opts.region ? { region: opts.region } : {}),
      ...(opts.prefix ? { prefix: opts.prefix } : {}),
      credentials: {
        credentialsType: 'AccessKey',
        accessKeyId: opts.accessKeyId,
        secrets: { secretsType: 'AccessKey', secretAccessKey: opts.secretAccessKey },
      },
    });
  }

  /** A folder on the server that an administrator allowed (ATELIER_DATASTORE_ROOTS). */
  static registerServerFolder(
    ws: HasServiceContext | WorkspaceLink,
    opts: { datastoreName: string; path: string },
  ): Promise<Datastore> {
    return Datastore.register(ws, opts.datastoreName, { datastoreType: 'ServerFolder', path: opts.path });
  }

  /** Files and folders below `prefix` (all files below it when `recursive`). */
  async listFiles(prefix = '', opts: { recursive?: boolean } = {}): Promise<DatastoreFile[]> {
    const r = await this.link.client.request<C.DatastoreFileList>('GET', `${this.base}/files`, {
      query: { path: prefix || undefined, recursive: opts.recursive ? 'true' : undefined },
      what: `list files of datastore '${this.name}'`,
    });
    return r.body.value;
  }

  /** Uploads every file below the local folder `srcDir` to `targetPath` in the datastore. */
  async upload(
    srcDir: string,
    opts: TransferOptions & { targetPath?: string } = {},
  ): Promise<{ files: number; bytes: number }> {
    const st = await fsp.stat(srcDir).catch(() => undefined);
    if (!st?.isDirectory())
      throw new ValidationError(`'${srcDir}' is not a folder; upload a folder, or use uploadFiles for single files`, {
        target: 'srcDir',
      });
    const files = await localFiles(srcDir);
    return this.send(
      files.map((f) => ({ ...f, target: joinTarget(opts.targetPath, f.rel) })),
      opts,
    );
  }

  /**
   * Uploads the given files. Each lands at `targetPath` + its path relative to `relativeRoot`
   * (default: the files' common folder), as the seed's `upload_files`.
   */
  async uploadFiles(
    files: string[],
    opts: TransferOptions & { targetPath?: string; relativeRoot?: string } = {},
  ): Promise<{ files: number; bytes: number }> {
    if (!Array.isArray(files) || files.length === 0)
      throw new ValidationError('files must be a non-empty list of local file paths', { target: 'files' });
    const abs = files.map((f) => path.resolve(f));
    const root = path.resolve(opts.relativeRoot ?? commonFolder(abs));
    const list = [];
    for (const full of abs) {
      const s = await fsp.stat(full).catch(() => undefined);
      if (!s?.isFile()) throw new ValidationError(`'${full}' is not a file`, { target: 'files' });
      const rel = path.relative(root, full);
      if (rel.startsWith('..') || path.isAbsolute(rel))
        throw new ValidationError(`'${full}' is not below relativeRoot '${root}'`, { target: 'relativeRoot' });
      list.push({
        rel: rel.split(path.sep).join('/'),
        full,
        size: s.size,
        target: joinTarget(opts.targetPath, rel.split(path.sep).join('/')),
      });
    }
    return this.send(list, opts);
  }

  private async send(
    files: { rel: string; full: string; size: number; target: string }[],
    opts: TransferOptions,
  ): Promise<{ files: number; bytes: number }> {
    const bytesTotal = files.reduce((n, f) => n + f.size, 0);
    let bytesDone = 0;
    let filesDone = 0;
    const show = opts.showProgress ?? true;
    for (const f of files) {
      const report = () =>
        opts.onProgress?.({ file: f.target, filesDone, filesTotal: files.length, bytesDone, bytesTotal });
      if (show)
        process.stderr.write(
          `Uploading ${f.full} → ${this.name}:${f.target} (${human(f.size)}), ${filesDone + 1} of ${files.length}\n`,
        );
      async function* counted(): AsyncGenerator<Uint8Array> {
        for await (const chunk of fs.createReadStream(f.full)) {
          bytesDone += (chunk as Buffer).length;
          report();
          yield chunk as Buffer;
        }
      }
      try {
        await streamUpload(
          this.link,
          'PUT',
          `${this.base}/files/${encodePath(f.target)}${opts.overwrite ? '?overwrite=true' : ''}`,
          counted(),
          f.size,
          `upload '${f.rel}' to datastore '${this.name}'`,
        );
      } catch (e) {
        if (e instanceof ConflictError)
          throw new ConflictError(
            `${f.target} already exists in datastore '${this.name}'; pass overwrite: true to replace it`,
            { code: 'FileExists' },
          );
        throw e;
      }
      filesDone++;
      report();
    }
    if (show) process.stderr.write(`Uploaded ${filesDone} files, ${human(bytesDone)}\n`);
    return { files: filesDone, bytes: bytesDone };
  }

  /**
   * Downloads the files below `prefix` (or the one file `prefix` names) into the local folder
   * `targetPath`, keeping their paths relative to `prefix`'s folder.
   */
  async download(
    targetPath: string,
    opts: TransferOptions & { prefix?: string } = {},
  ): Promise<{ files: number; bytes: number }> {
    const prefix = (opts.prefix ?? '').replace(/^\/+|\/+$/g, '');
    const entries = (await this.listFiles(prefix, { recursive: true })).filter((f) => !f.isDir);
    const single = entries.length === 1 && entries[0]!.path === prefix;
    const base = single ? prefix.split('/').slice(0, -1).join('/') : prefix;
    const dest = path.resolve(targetPath);
    const bytesTotal = entries.reduce((n, f) => n + f.size, 0);
    let bytesDone = 0;
    let filesDone = 0;
    const show = opts.showProgress ?? true;
    for (const f of entries) {
      const rel = base ? f.path.slice(base.length + 1) : f.path;
      const local = path.resolve(dest, ...rel.split('/'));
      // A path from the server must not lead out of the target folder.
      if (!local.startsWith(dest + path.sep))
        throw new ValidationError(`the server listed '${f.path}', which would leave '${dest}'; not downloaded`);
      if (!opts.overwrite && fs.existsSync(local))
        throw new ConflictError(`'${local}' already exists; pass overwrite: true to replace it`, {
          code: 'FileExists',
        });
      if (show)
        process.stderr.write(
          `Downloading ${this.name}:${f.path} → ${local} (${human(f.size)}), ${filesDone + 1} of ${entries.length}\n`,
        );
      const res = await rawRequest(this.link, 'GET', `${this.base}/files/${encodePath(f.path)}`, {
        what: `download '${f.path}' from datastore '${this.name}'`,
      });
      await fsp.mkdir(path.dirname(local), { recursive: true });
      const tmp = `${local}.${crypto.randomBytes(4).toString('hex')}.partial`;
      const report = () =>
        opts.onProgress?.({ file: f.path, filesDone, filesTotal: entries.length, bytesDone, bytesTotal });
      try {
        await pipeline(
          Readable.fromWeb(res.body as unknown as import('node:stream/web').ReadableStream),
          async function* (src: AsyncIterable<Buffer>) {
            for await (const chunk of src) {
              bytesDone += chunk.length;
              report();
              yield chunk;
            }
          },
          fs.createWriteStream(tmp),
        );
        await fsp.rename(tmp, local);
      } catch (e) {
        await fsp.rm(tmp, { force: true });
        throw e;
      }
      filesDone++;
      report();
    }
    if (show) process.stderr.write(`Downloaded ${filesDone} files, ${human(bytesDone)}\n`);
    return { files: filesDone, bytes: bytesDone };
  }

  /** Opens one file of the datastore as a stream. */
  async openFile(p: string): Promise<Readable> {
    const res = await rawRequest(this.link, 'GET', `${this.base}/files/${encodePath(p)}`, {
      what: `read '${p}' from datastore '${this.name}'`,
    });
    return Readable.fromWeb(res.body as unknown as import('node:stream/web').ReadableStream);
  }

  /** `POST …/listSecrets` (needs the right to read secrets). */
  async listSecrets(): Promise<Record<string, string>> {
    return (
      await this.link.client.request<Record<string, string>>('POST', `${this.base}/listSecrets`, {
        what: `list the secrets of datastore '${this.name}'`,
      })
    ).body;
  }

  async delete(): Promise<void> {
    await this.link.client.request('DELETE', this.base, { what: `delete datastore '${this.name}'` });
  }
}

function commonFolder(files: string[]): string {
  let parts = path.dirname(files[0]!).split(path.sep);
  for (const f of files.slice(1)) {
    const p = path.dirname(f).split(path.sep);
    let i = 0;
    while (i < parts.length && i < p.length && parts[i] === p[i]) i++;
    parts = parts.slice(0, i);
  }
  return parts.join(path.sep) || path.sep;
}
