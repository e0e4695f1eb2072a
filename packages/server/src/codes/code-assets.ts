import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { AppContext } from '../context.js';
import type { ResourceEngine, StoredResource } from '../resources/engine.js';
import type { WorkspaceInfo } from '../resources/workspace-info.js';
import type { DatastoreService } from '../assets/datastores.js';
import type { DependentResources } from '../resources/dependents.js';
import { parseDatastoreUri } from '../assets/data-assets.js';
import { VersionedAssetService, type VersionedKind } from '../assets/versioned-assets.js';
import { invalid, str, type Obj } from '../assets/validate.js';
import { parseResourceId } from '../resources/resource-ids.js';
import { safeKey, type BlobStore } from '../blob/blob-store.js';
import { Conflict, InvalidInput } from '../errors.js';
import { directorySas } from '../blob-service/access.js';

export const CODE_CONTAINER_TYPE = 'Microsoft.MachineLearningServices/workspaces/codes';
export const CODE_VERSION_TYPE = 'Microsoft.MachineLearningServices/workspaces/codes/versions';
/** Where the Blob REST subset is served (http/blob-rest/): `{publicUrl}/blob/{account}/{container}/{blob}`. */
export const BLOB_PATH_PREFIX = '/blob';
/** How long an upload folder's SAS lasts. */
export const UPLOAD_SAS_MINUTES = 60;
/** Limits of one code snapshot. */
const MAX_FILES = 20_000;
const MAX_BYTES = 2 * 1024 ** 3;

/** Where a code snapshot's files are: a folder of a container of the workspace's storage account. */
export interface CodeLocation {
  account: string;
  container: string;
  /** Folder inside the container ('' = the whole container). */
  folder: string;
}

export interface CodeFile {
  /** Path relative to the snapshot's folder, '/'-separated. */
  path: string;
  size: number;
}

/** A path of a snapshot's file is safe when it stays inside its folder: relative, no '..', no NUL or '\'. */
export function checkSnapshotPath(p: string): string {
  const why =
    p.startsWith('/') || /^[A-Za-z]:/.test(p)
      ? 'is absolute'
      : p.includes('\0')
        ? 'contains NUL'
        : p.includes('\\')
          ? "contains '\\'"
          : p.split('/').includes('..')
            ? "contains '..'"
            : undefined;
  if (why)
    throw new InvalidInput(
      `the code snapshot's entry '${p.slice(0, 300)}' ${why}: it would escape the snapshot's folder`,
      {
        code: 'UNSAFE_CODE_CONTENT',
      },
    );
  return p
    .split('/')
    .filter((s) => s && s !== '.')
    .join('/');
}

/**
 * Code assets `W/codes/{name}/versions/{v}`: an immutable, content-hashed snapshot of a folder in the
 * workspace's own storage account (where `startPendingUpload` lets clients upload, through the Blob
 * REST subset). A version's `contentHash` is computed from the bytes when it is registered; a second
 * PUT whose folder holds other bytes changes the hash and is refused (versions are immutable), and a
 * snapshot whose bytes changed after registration is refused when it is materialised.
 */
export class CodeService {
  readonly versions: VersionedAssetService;
  private readonly building = new Map<string, Promise<{ dir: string; hash: string }>>();

  constructor(
    private readonly ctx: AppContext,
    private readonly engine: ResourceEngine,
    private readonly datastores: DatastoreService,
    private readonly dependents: DependentResources,
  ) {
    const kind: VersionedKind = {
      segment: 'codes',
      label: 'code',
      containerType: CODE_CONTAINER_TYPE,
      versionType: CODE_VERSION_TYPE,
      keys: ['codeUri', 'contentHash'],
      validate: async (ws: WorkspaceInfo, _name: string, p: Obj): Promise<Obj> => {
        const codeUri = str(p, 'codeUri', 'properties', { required: true, max: 2000 })!;
        const loc = await this.locate(ws, codeUri);
        const { hash } = await this.hashOf(loc);
        if (p.contentHash !== undefined && p.contentHash !== hash)
          throw invalid('properties.contentHash', `is set by the server ('${hash}'); leave it out`);
        return { codeUri, contentHash: hash };
      },
    };
    this.versions = new VersionedAssetService(ctx, engine, kind);
  }

  /** The workspace's storage account name (codes live there). */
  private async accountOf(ws: WorkspaceInfo): Promise<{ name: string; id: string }> {
    if (!ws.storageAccountId)
      throw new Conflict(`workspace '${ws.name}' has no storage account to keep code in`, {
        code: 'STORAGE_ACCOUNT_NOT_FOUND',
      });
    return { id: ws.storageAccountId, name: parseResourceId(ws.storageAccountId).name };
  }

  /**
   * Where `codeUri` points, if it is a folder of the workspace's storage account:
   * `{this server}/blob/{account}/{container}/{folder}` (the Blob REST subset, what azure-ai-ml
   * registers after its upload), `https://{account}.blob.core.windows.net/{container}/{folder}`, or
   * `azureml://datastores/{blob datastore}/paths/{folder}`.
   */
  async locate(ws: WorkspaceInfo, codeUri: string): Promise<CodeLocation> {
    const account = await this.accountOf(ws);
    const bad = (why: string) => invalid('properties.codeUri', why);
    let loc: CodeLocation;
    const ds = /^azureml:/i.test(codeUri) ? parseDatastoreUri(codeUri) : undefined;
    if (/^azureml:/i.test(codeUri)) {
      if (!ds) throw bad(`'${codeUri}' is not an azureml://datastores/{name}/paths/{folder} URI`);
      const d = await this.datastores.get(ws, ds.datastore);
      const props = d.properties as { datastoreType?: string; accountName?: string; containerName?: string };
      if (props.datastoreType !== 'AzureBlob' || !props.containerName)
        throw bad(`datastore '${ds.datastore}' is not a blob container; code must be in a blob datastore`);
      loc = { account: String(props.accountName), container: props.containerName, folder: ds.path };
    } else {
      let u: URL;
      try {
        u = new URL(codeUri);
      } catch {
        throw bad(`'${codeUri.slice(0, 200)}' is not a URI; give the blob folder the code was uploaded to`);
      }
      if (u.protocol !== 'https:' && u.protocol !== 'http:')
        throw bad(`'${u.protocol}' URIs are not supported; use the blob URI of the uploaded folder or azureml://`);
      let segments: string[];
      try {
        segments = u.pathname.split('/').filter(Boolean).map(decodeURIComponent);
      } catch {
        throw bad('has invalid URL encoding');
      }
      const host = /^([a-z0-9]{3,24})\.blob\./.exec(u.hostname);
      if (host) segments.unshift(host[1]!);
      else if (segments[0] === BLOB_PATH_PREFIX.slice(1)) segments.shift();
      else
        throw bad(
          `'${codeUri.slice(0, 200)}' is not a blob URI of this server ({server}${BLOB_PATH_PREFIX}/{account}/{container}/{folder}); upload the code with startPendingUpload first`,
        );
      const [acct = '', container = '', ...rest] = segments;
      loc = { account: acct, container, folder: rest.join('/') };
    }
    if (loc.account.toLowerCase() !== account.name.toLowerCase())
      throw bad(
        `storage account '${loc.account}' is not the storage account of workspace '${ws.name}' ('${account.name}'); code must be uploaded to the workspace's own storage`,
      );
    if (!/^[a-z0-9-]{3,63}$/.test(loc.container)) throw bad(`'${loc.container}' is not a container name`);
    return { account: account.name, container: loc.container, folder: safeKey(checkSnapshotPath(loc.folder)) };
  }

  private store(loc: CodeLocation): BlobStore {
    return this.ctx.blobs.account(loc.account, loc.container);
  }

  /** The files of a snapshot (sorted), refusing unsafe names and sizes past the limits. */
  async files(loc: CodeLocation): Promise<CodeFile[]> {
    const store = this.store(loc);
    const st = loc.folder ? await store.stat(loc.folder) : { isDir: true };
    if (!st)
      throw invalid(
        'properties.codeUri',
        `names folder '${loc.folder}' of container '${loc.container}', which holds no files; upload the code first`,
      );
    const all = st.isDir
      ? await store.list(loc.folder, { recursive: true })
      : [{ path: loc.folder, size: (st as { size: number }).size, isDir: false, modified: 0 }];
    const base =
      st.isDir && loc.folder ? `${loc.folder}/` : st.isDir ? '' : loc.folder.slice(0, loc.folder.lastIndexOf('/') + 1);
    const out: CodeFile[] = [];
    let bytes = 0;
    for (const f of all) {
      if (f.isDir) continue;
      out.push({ path: checkSnapshotPath(f.path.slice(base.length)), size: f.size });
      bytes += f.size;
      if (out.length > MAX_FILES || bytes > MAX_BYTES)
        throw invalid(
          'properties.codeUri',
          `the code folder holds more than ${MAX_FILES} files or ${MAX_BYTES / 1024 ** 3} GiB; keep data out of code snapshots (use data assets)`,
        );
    }
    if (!out.length)
      throw invalid('properties.codeUri', `folder '${loc.folder}' of container '${loc.container}' holds no files`);
    return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /** The content hash: sha256 over each file's path, size and sha256, in path order. */
  async hashOf(loc: CodeLocation): Promise<{ hash: string; files: CodeFile[] }> {
    const files = await this.files(loc);
    const store = this.store(loc);
    const total = crypto.createHash('sha256');
    const prefix = await this.prefixOf(loc);
    for (const f of files) {
      const h = crypto.createHash('sha256');
      const { stream } = await store.get(prefix + f.path);
      for await (const chunk of stream) h.update(chunk as Buffer);
      total.update(`${f.path}\0${f.size}\0${h.digest('hex')}\n`);
    }
    return { hash: `sha256:${total.digest('hex')}`, files };
  }

  private async prefixOf(loc: CodeLocation): Promise<string> {
    if (!loc.folder) return '';
    const st = await this.store(loc).stat(loc.folder);
    return st?.isDir ? `${loc.folder}/` : loc.folder.slice(0, loc.folder.lastIndexOf('/') + 1);
  }

  /** A code version by ARM id (`…/codes/{name}/versions/{v}`) or `name:version` / `azureml:name:version`. */
  async resolve(ws: WorkspaceInfo, codeId: string): Promise<StoredResource> {
    const short = /^(?:azureml:)?([^/:]+):([^/:]+)$/.exec(codeId);
    if (short) return this.versions.getVersion(ws, short[1]!, short[2]!);
    const m = /\/codes\/([^/]+)\/versions\/([^/]+)$/i.exec(codeId);
    if (!m || !codeId.toLowerCase().startsWith(`${ws.id.toLowerCase()}/`))
      throw new InvalidInput(
        `'${codeId}' is not a code version of workspace '${ws.name}' (give ${ws.id}/codes/{name}/versions/{version} or name:version)`,
        { code: 'INVALID_CODE_URI', target: 'codeId' },
      );
    return this.versions.getVersion(ws, m[1]!, m[2]!);
  }

  /** Versions of any code asset of the workspace whose client-side hash (`properties.hash_sha256`) or server hash is `hash`. */
  async findByHash(ws: WorkspaceInfo, hash: string, top: number) {
    const prefix = `${ws.id.toLowerCase()}/codes/`;
    return this.engine.list({
      type: CODE_VERSION_TYPE,
      subscriptionId: ws.subscriptionId,
      top,
      visible: (r) =>
        r.id.toLowerCase().startsWith(prefix) &&
        r.properties.isArchived !== true &&
        ((r.properties.properties as Record<string, string> | undefined)?.hash_sha256 === hash ||
          r.properties.contentHash === hash ||
          r.properties.contentHash === `sha256:${hash}`),
    });
  }

  /**
   * `startPendingUpload`: a fresh folder `LocalUpload/{id}` of the workspace's default blob container
   * and a SAS for it alone (read, create, write, list; {@link UPLOAD_SAS_MINUTES} minutes), served by
   * the Blob REST subset. The client uploads there, then registers the version with codeUri = blobUri/{folder}.
   */
  async startPendingUpload(ws: WorkspaceInfo, body: { pendingUploadId?: string; pendingUploadType?: string }) {
    const type = body.pendingUploadType ?? 'TemporaryBlobReference';
    if (type !== 'TemporaryBlobReference')
      throw new InvalidInput(`pendingUploadType must be 'TemporaryBlobReference'; got '${type}'`, {
        target: 'pendingUploadType',
      });
    const id = body.pendingUploadId ?? crypto.randomUUID();
    if (!/^[A-Za-z0-9-]{1,100}$/.test(id))
      throw new InvalidInput('pendingUploadId must be letters, digits and hyphens', { target: 'pendingUploadId' });
    const account = await this.accountOf(ws);
    const blobstore = await this.datastores.get(ws, 'workspaceblobstore');
    const container = String((blobstore.properties as { containerName?: string }).containerName);
    const keys = await this.dependents.storageKeys(account.id);
    const key = keys.find((k) => k.keyName === 'key1') ?? keys[0];
    if (!key)
      throw new Conflict(`storage account '${account.name}' has no keys`, { code: 'STORAGE_ACCOUNT_HAS_NO_KEYS' });
    const directory = `LocalUpload/${id}`;
    const sas = directorySas(
      {
        account: account.name,
        container,
        directory,
        permissions: 'rcwl',
        expiry: new Date(Date.now() + UPLOAD_SAS_MINUTES * 60_000),
      },
      key.value,
    );
    const blobUri = `${this.ctx.config.publicUrl}${BLOB_PATH_PREFIX}/${account.name}/${container}/${directory}`;
    return {
      pendingUploadId: id,
      pendingUploadType: 'TemporaryBlobReference',
      blobReferenceForConsumption: {
        blobUri,
        storageAccountArmId: account.id,
        credential: { credentialType: 'SAS', sasUri: `${blobUri}?${sas}` },
      },
    };
  }

  /**
   * A read-only local folder holding the code version's files (for a job's working copy), cached by
   * content hash below the data root: made in a temporary folder and renamed into place, so a
   * snapshot is whole or absent. Refused when the stored bytes no longer match the version's hash.
   */
  async snapshot(ws: WorkspaceInfo, codeId: string): Promise<{ dir: string; hash: string }> {
    const v = await this.resolve(ws, codeId);
    const expected = String(v.properties.contentHash ?? '');
    const loc = await this.locate(ws, String(v.properties.codeUri));
    const hex = expected.replace(/^sha256:/, '');
    if (!/^[0-9a-f]{64}$/.test(hex))
      throw new Conflict(`code version '${codeId}' has no content hash; register it again`, { code: 'CONFLICT' });
    const dir = path.join(this.ctx.config.home, 'code-snapshots', hex);
    if (fs.existsSync(dir)) return { dir, hash: expected };
    let p = this.building.get(hex);
    if (!p) {
      p = this.materialise(loc, dir, expected).finally(() => this.building.delete(hex));
      this.building.set(hex, p);
    }
    return p;
  }

  private async materialise(loc: CodeLocation, dir: string, expected: string): Promise<{ dir: string; hash: string }> {
    const root = path.dirname(dir);
    await fsp.mkdir(root, { recursive: true });
    const tmp = await fsp.mkdtemp(path.join(root, '.tmp-'));
    try {
      const files = await this.files(loc);
      const prefix = await this.prefixOf(loc);
      const store = this.store(loc);
      const total = crypto.createHash('sha256');
      for (const f of files) {
        const rel = checkSnapshotPath(f.path);
        const target = path.resolve(tmp, rel);
        if (!target.startsWith(tmp + path.sep))
          throw new InvalidInput(`the entry '${rel}' escapes the snapshot folder`, { code: 'UNSAFE_CODE_CONTENT' });
        await fsp.mkdir(path.dirname(target), { recursive: true });
        const h = crypto.createHash('sha256');
        // O_EXCL | O_NOFOLLOW: never write through a link or over an entry that is there already.
        const fh = await fsp.open(
          target,
          fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW,
          0o644,
        );
        const stream = await store.get(prefix + f.path).then(
          (r) => r.stream,
          async (e: unknown) => {
            await fh.close();
            throw e;
          },
        );
        // The hash listener and the file are attached in the same tick: a 'data' listener starts the
        // flow, and chunks read before the pipeline was attached would be hashed but never written.
        stream.on('data', (c: Buffer) => h.update(c));
        await pipeline(stream, fh.createWriteStream());
        total.update(`${rel}\0${f.size}\0${h.digest('hex')}\n`);
      }
      const hash = `sha256:${total.digest('hex')}`;
      if (hash !== expected)
        throw new Conflict(
          `the files of the code version changed after it was registered (hash ${hash}, registered ${expected}); register a new version`,
          { code: 'ASSET_VERSION_IMMUTABLE' },
        );
      await readOnly(tmp);
      try {
        await fsp.rename(tmp, dir);
      } catch (e) {
        // Another process made the same snapshot meanwhile: theirs is the same bytes.
        if (!fs.existsSync(dir)) throw e;
        await removeTree(tmp);
      }
      return { dir, hash };
    } catch (e) {
      await removeTree(tmp).catch(() => {});
      throw e;
    }
  }
}

/** Files 0444, folders 0555 (deepest first): nobody writes into a shared snapshot. */
async function readOnly(dir: string): Promise<void> {
  for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) await readOnly(p);
    else await fsp.chmod(p, 0o444);
  }
  await fsp.chmod(dir, 0o555);
}

async function removeTree(dir: string): Promise<void> {
  // Read-only folders must be writable again before their entries can go.
  const walk = async (d: string) => {
    await fsp.chmod(d, 0o700).catch(() => {});
    for (const e of await fsp.readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) await walk(path.join(d, e.name));
    }
  };
  await walk(dir);
  await fsp.rm(dir, { recursive: true, force: true });
}
