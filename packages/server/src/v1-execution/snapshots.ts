import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import type { AppContext } from '../context.js';
import type { Principal } from '../identity/principals.js';
import type { WorkspaceInfo } from '../resources/workspace-info.js';
import type { DatastoreService } from '../assets/datastores.js';
import type { DependentResources } from '../resources/dependents.js';
import type { BlobStore } from '../blob/blob-store.js';
import { parseResourceId } from '../resources/resource-ids.js';
import { blobUri, directorySas } from '../blob-service/access.js';
import { checkSnapshotPath, type CodeService } from '../codes/code-assets.js';
import { AtelierError, Conflict, InvalidInput, NotFound } from '../errors.js';

/** Where a snapshot's files are uploaded (one folder a `getblob` call) and kept (one folder a snapshot). */
const STAGING = 'LocalUpload/snapshot-uploads';
const SNAPSHOTS = 'snapshots';
/** Each snapshot's tree as the client sent it, and each principal's latest snapshot (the client diffs against it). */
const TREES = 'snapshot-trees';
const UPLOAD_SAS_MINUTES = 60;
/** azureml-core's own limits (azureml/_restclient/constants.py: SNAPSHOT_MAX_FILES, SNAPSHOT_MAX_SIZE_BYTES). */
const MAX_FILES = 2000;
const MAX_BYTES = 300 * 1024 * 1024;
/** The code asset version a snapshot is registered as (`W/codes/{snapshot id}/versions/1`). */
export const SNAPSHOT_VERSION = '1';
const SNAPSHOT_ID = /^[A-Za-z0-9][A-Za-z0-9-]{0,99}$/;

type Obj = Record<string, unknown>;
/** A principal's latest-snapshot pointer: a hash of its id (a safe blob name whatever the id holds). */
const latestKey = (by: Principal) => crypto.createHash('sha256').update(by.id).digest('hex');
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const bad = (target: string, message: string) => new InvalidInput(`${target} ${message}`, { target });

/** A case-insensitive field of azureml-core's PascalCase bodies. */
function field(o: Obj, name: string): unknown {
  const k = Object.keys(o).find((x) => x.toLowerCase() === name.toLowerCase());
  return k === undefined ? undefined : o[k];
}

/**
 * azureml-core's content service (`/content/v2.0/…/snapshots`), the source directory of a
 * `ScriptRunConfig` as it uploads it (azureml/_restclient/snapshots_client.py): `getblob` answers a
 * write URI per file (a folder of the workspace's blob container, through the Blob REST subset),
 * then `snapshots/{id}` names the whole tree (`DirTreeNode`), the files it uploaded
 * (`FileRevisionList`) and the snapshot the rest are unchanged from (`ParentSnapshotId`, from the
 * client's cache). The snapshot is put together in `snapshots/{id}/` and registered as the code
 * asset version `W/codes/{id}/versions/1` — one store: jobs, ARM and the studio see the same code.
 */
export class V1Snapshots {
  constructor(
    private readonly ctx: AppContext,
    private readonly codes: CodeService,
    private readonly datastores: DatastoreService,
    private readonly dependents: DependentResources,
  ) {}

  /** The workspace's storage account, default blob container and a key to sign with. */
  private async place(ws: WorkspaceInfo): Promise<{ account: string; container: string; key: string }> {
    if (!ws.storageAccountId)
      throw new Conflict(`workspace '${ws.name}' has no storage account to keep snapshots in`, {
        code: 'STORAGE_ACCOUNT_NOT_FOUND',
      });
    const account = parseResourceId(ws.storageAccountId).name;
    const blobstore = await this.datastores.get(ws, 'workspaceblobstore');
    const container = String((blobstore.properties as { containerName?: string }).containerName);
    const keys = await this.dependents.storageKeys(ws.storageAccountId);
    const key = keys.find((k) => k.keyName === 'key1') ?? keys[0];
    if (!key) throw new Conflict(`storage account '${account}' has no keys`, { code: 'STORAGE_ACCOUNT_HAS_NO_KEYS' });
    return { account, container, key: key.value };
  }

  private store(p: { account: string; container: string }): BlobStore {
    return this.ctx.blobs.account(p.account, p.container);
  }

  /** `POST …/snapshots/getblob` `{FileNames}`: `{fileNodes: [{fullName, blobUri}]}`, one fresh upload folder. */
  async uploadUris(ws: WorkspaceInfo, body: unknown) {
    const names = isObj(body) ? field(body, 'FileNames') : undefined;
    if (!Array.isArray(names)) throw bad('FileNames', 'must be the list of the files to upload');
    if (names.length > MAX_FILES)
      throw bad('FileNames', `lists ${names.length} files; a snapshot holds at most ${MAX_FILES}`);
    const files = names.map((n, i) => {
      if (typeof n !== 'string' || !n) throw bad(`FileNames[${i}]`, 'must be a file path');
      const p = checkSnapshotPath(n.replace(/\\/g, '/'));
      if (!p) throw bad(`FileNames[${i}]`, 'must name a file');
      return { fullName: n, path: p };
    });
    const p = await this.place(ws);
    const directory = `${STAGING}/${crypto.randomUUID()}`;
    const sas = directorySas(
      {
        account: p.account,
        container: p.container,
        directory,
        // r: azureml-core reads the blob's properties back to check the size it uploaded.
        permissions: 'rcw',
        expiry: new Date(Date.now() + UPLOAD_SAS_MINUTES * 60_000),
      },
      p.key,
    );
    return {
      fileNodes: files.map((f) => ({
        fullName: f.fullName,
        blobUri: `${blobUri(this.ctx.config, p.account, p.container, `${directory}/${f.path}`)}?${sas}`,
      })),
    };
  }

  /** The blob key below the workspace's container an upload URI of `uploadUris` names; 400 for any other. */
  private uploaded(p: { account: string; container: string }, uri: unknown, file: string, target: string): string {
    if (typeof uri !== 'string') throw bad(target, 'must be the blob URI the file was uploaded to');
    let u: URL;
    try {
      u = new URL(uri);
    } catch {
      throw bad(target, 'is not a URI');
    }
    let segments: string[];
    try {
      segments = u.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    } catch {
      throw bad(target, 'has invalid URL encoding');
    }
    const host = /^([a-z0-9]{3,24})\.blob\./i.exec(u.hostname);
    if (host) segments.unshift(host[1]!.toLowerCase());
    else if (segments[0] === 'blob') segments.shift();
    const [account, container, ...rest] = segments;
    const key = rest.join('/');
    const m = new RegExp(`^${STAGING}/[0-9a-f-]{36}/(.+)$`).exec(key);
    if (account !== p.account || container !== p.container || !m || m[1] !== file)
      throw bad(target, `is not the upload URI 'snapshots/getblob' gave for '${file}'`);
    return key;
  }

  /** The files of a `DirTreeNode` (azureml-core's merkle tree: `{type, children: {name: node}}`), '/'-joined. */
  private treeFiles(node: unknown, prefix: string, out: string[], target: string): void {
    if (!isObj(node)) throw bad(target, 'must be a directory tree node');
    const type = String(field(node, 'type') ?? '');
    if (/^file$/i.test(type)) {
      out.push(checkSnapshotPath(prefix));
      if (out.length > MAX_FILES)
        throw bad('DirTreeNode', `holds more than ${MAX_FILES} files; keep data out of the source directory`);
      return;
    }
    if (!/^directory$/i.test(type)) throw bad(`${target}.type`, `must be 'File' or 'Directory'; got '${type}'`);
    const children = field(node, 'children') ?? {};
    if (!isObj(children)) throw bad(`${target}.children`, 'must be an object of nodes by name');
    for (const [name, child] of Object.entries(children)) {
      if (!name || name === '.' || name === '..' || name.includes('/') || name.includes('\\'))
        throw bad(`${target}.children`, `has an entry '${name.slice(0, 200)}' that is not a file name`);
      this.treeFiles(child, prefix ? `${prefix}/${name}` : name, out, `${target}.children.${name}`);
    }
  }

  /**
   * `POST …/snapshots/{id}`: the snapshot's folder, put together from the uploaded files and the
   * parent snapshot's unchanged ones, registered as code version `{id}/1`. Checked first; a failure
   * midway removes the folder (nothing is registered).
   */
  async create(ws: WorkspaceInfo, snapshotId: string, body: unknown, by: Principal) {
    if (!SNAPSHOT_ID.test(snapshotId))
      throw bad('snapshotId', `'${snapshotId.slice(0, 100)}' is not valid: letters, digits and hyphens`);
    if (!isObj(body)) throw new InvalidInput('the snapshot must be a JSON object', { target: 'body' });
    const files: string[] = [];
    this.treeFiles(field(body, 'DirTreeNode'), '', files, 'DirTreeNode');
    if (!files.length) throw bad('DirTreeNode', 'holds no files; a snapshot needs the source directory’s files');
    const p = await this.place(ws);
    const revisions = field(body, 'FileRevisionList');
    const nodes =
      revisions === undefined || revisions === null ? [] : isObj(revisions) ? field(revisions, 'FileNodes') : undefined;
    if (!Array.isArray(nodes)) throw bad('FileRevisionList.FileNodes', 'must be the list of uploaded files');
    const sources = new Map<string, string>();
    nodes.forEach((n, i) => {
      const t = `FileRevisionList.FileNodes[${i}]`;
      if (!isObj(n)) throw bad(t, 'must be {FullName, BlobUri, FileSize}');
      const name = field(n, 'FullName');
      if (typeof name !== 'string' || !name) throw bad(`${t}.FullName`, 'must be a file path');
      const file = checkSnapshotPath(name.replace(/\\/g, '/'));
      if (!files.includes(file)) throw bad(`${t}.FullName`, `'${file}' is not a file of DirTreeNode`);
      sources.set(file, this.uploaded(p, field(n, 'BlobUri'), file, `${t}.BlobUri`));
    });
    const parent = field(body, 'ParentSnapshotId');
    if (parent !== undefined && parent !== null && (typeof parent !== 'string' || !SNAPSHOT_ID.test(parent)))
      throw bad('ParentSnapshotId', 'must be the id of an earlier snapshot');
    const store = this.store(p);
    const folder = `${SNAPSHOTS}/${snapshotId}`;
    let bytes = 0;
    for (const f of files) {
      let from = sources.get(f);
      if (!from) {
        if (!parent)
          throw bad('FileRevisionList', `does not list '${f}' and there is no ParentSnapshotId it is unchanged from`);
        from = `${SNAPSHOTS}/${parent}/${f}`;
      }
      const st = await store.stat(from);
      if (!st || st.isDir)
        throw bad(
          sources.has(f) ? 'FileRevisionList' : 'ParentSnapshotId',
          sources.has(f)
            ? `lists '${f}', which was not uploaded; upload it to the URI 'snapshots/getblob' gave`
            : `'${String(parent)}' has no file '${f}'; upload the file (or the whole snapshot again)`,
        );
      bytes += st.size;
      if (bytes > MAX_BYTES)
        throw bad('DirTreeNode', `holds more than ${MAX_BYTES / 1024 ** 2} MB; keep data out of the source directory`);
    }
    if (await store.stat(folder))
      throw new Conflict(`snapshot '${snapshotId}' exists; a snapshot cannot change (send a new id)`, {
        code: 'CONFLICT',
      });
    try {
      for (const f of files) {
        const from = sources.get(f) ?? `${SNAPSHOTS}/${String(parent)}/${f}`;
        const { stream } = await store.get(from);
        await store.put(`${folder}/${f}`, stream);
      }
      const codeUri = `azureml://datastores/workspaceblobstore/paths/${folder}`;
      const { resource } = await this.codes.versions.putVersion(
        ws,
        snapshotId,
        SNAPSHOT_VERSION,
        {
          properties: {
            codeUri,
            description: 'source directory of an azureml-core run (snapshot)',
            isAnonymous: true,
          },
        },
        by,
      );
      for (const key of new Set(sources.values())) await store.delete(key).catch(() => {});
      // The tree and the principal's latest snapshot, for the next upload's diff (a lost one only
      // means the next upload sends every file).
      await store
        .put(`${TREES}/${snapshotId}.json`, Readable.from([JSON.stringify(field(body, 'DirTreeNode'))]))
        .then(() => store.put(`${TREES}/latest/${latestKey(by)}`, Readable.from([snapshotId])))
        .catch(() => {});
      return { id: snapshotId, codeId: resource.id, fileCount: files.length, size: bytes };
    } catch (e) {
      await store.deletePrefix(folder).catch(() => {});
      throw e;
    }
  }

  /**
   * The project zip of `startrun` (azureml-core with `AML_FORCE_EXECUTE_WITH_ZIP`: the source directory
   * as one `project.zip` instead of an uploaded snapshot) as a new snapshot: the same folder and code
   * asset version a snapshot is, so the job runs it alike. The zip is read with yauzl (its entry
   * names and sizes checked: no path leaves the folder, azureml-core's file and size limits hold)
   * before anything is written; a failure midway removes the folder.
   */
  async fromZip(ws: WorkspaceInfo, zip: Buffer, by: Principal): Promise<string> {
    const { default: yauzl } = await import('yauzl');
    const open = () =>
      new Promise<import('yauzl').ZipFile>((resolve, reject) =>
        yauzl.fromBuffer(zip, { lazyEntries: true, validateEntrySizes: true, strictFileNames: false }, (e, z) =>
          e ? reject(e) : resolve(z),
        ),
      );
    /** Each file entry in turn (directories skipped); `visit` may read it. */
    const each = async (
      visit: (z: import('yauzl').ZipFile, e: import('yauzl').Entry, path: string) => Promise<void>,
    ) => {
      const z = await open();
      await new Promise<void>((resolve, reject) => {
        z.on('error', reject);
        z.on('end', () => resolve());
        z.on('entry', (e: import('yauzl').Entry) => {
          const name = e.fileName.replace(/\\/g, '/');
          if (name.endsWith('/')) return z.readEntry();
          visit(z, e, name).then(() => z.readEntry(), reject);
        });
        z.readEntry();
      });
    };
    const files: string[] = [];
    let bytes = 0;
    try {
      await each(async (_z, e, name) => {
        files.push(checkSnapshotPath(name));
        bytes += e.uncompressedSize;
        if (files.length > MAX_FILES)
          throw bad('project.zip', `holds more than ${MAX_FILES} files; keep data out of the source directory`);
        if (bytes > MAX_BYTES)
          throw bad(
            'project.zip',
            `holds more than ${MAX_BYTES / 1024 ** 2} MB; keep data out of the source directory`,
          );
      });
    } catch (e) {
      if (e instanceof AtelierError) throw e;
      throw bad('project.zip', `is not a readable zip (${(e as Error).message})`);
    }
    if (!files.length) throw bad('project.zip', 'holds no files; the source directory is empty');
    if (new Set(files).size !== files.length) throw bad('project.zip', 'names a file twice');
    const id = crypto.randomUUID();
    const store = this.store(await this.place(ws));
    const folder = `${SNAPSHOTS}/${id}`;
    try {
      await each(async (z, e, name) => {
        const stream = await new Promise<Readable>((resolve, reject) =>
          z.openReadStream(e, (err, r) => (err ? reject(err) : resolve(r))),
        );
        await store.put(`${folder}/${checkSnapshotPath(name)}`, stream);
      });
      await this.codes.versions.putVersion(
        ws,
        id,
        SNAPSHOT_VERSION,
        {
          properties: {
            codeUri: `azureml://datastores/workspaceblobstore/paths/${folder}`,
            description: 'source directory of an azureml-core run (project zip)',
            isAnonymous: true,
          },
        },
        by,
      );
      return id;
    } catch (e) {
      await store.deletePrefix(folder).catch(() => {});
      throw e;
    }
  }

  /**
   * `GET /content/v1.0/…/snapshots/latest/metadata`: the caller's latest snapshot `{id, root}` (its
   * tree), which azureml-core diffs the source directory against when it has no cache of its own;
   * `{id: null, root: {}}` when there is none (every file is uploaded).
   */
  async latest(ws: WorkspaceInfo, by: Principal): Promise<{ id: string | null; root: unknown }> {
    const none = { id: null, root: {} };
    const p = await this.place(ws);
    const store = this.store(p);
    const text = async (key: string) => {
      const { stream } = await store.get(key);
      const chunks: Buffer[] = [];
      for await (const c of stream) chunks.push(Buffer.from(c as Buffer));
      return Buffer.concat(chunks).toString('utf8');
    };
    try {
      const id = (await text(`${TREES}/latest/${latestKey(by)}`)).trim();
      if (!SNAPSHOT_ID.test(id)) return none;
      // A snapshot whose code asset was deleted is no parent any more.
      await this.codes.versions.getVersion(ws, id, SNAPSHOT_VERSION);
      return { id, root: JSON.parse(await text(`${TREES}/${id}.json`)) as unknown };
    } catch (e) {
      if (e instanceof AtelierError && e.kind !== 'not_found') throw e;
      return none;
    }
  }

  /** The code version a snapshot id names (`SnapshotId` of a run definition); 400 when there is none. */
  async codeIdOf(ws: WorkspaceInfo, snapshotId: string, target: string): Promise<string> {
    if (!SNAPSHOT_ID.test(snapshotId)) throw bad(target, `'${snapshotId.slice(0, 100)}' is not a snapshot id`);
    try {
      return (await this.codes.versions.getVersion(ws, snapshotId, SNAPSHOT_VERSION)).id;
    } catch (e) {
      if (e instanceof NotFound || (e instanceof AtelierError && e.kind === 'not_found'))
        throw bad(
          target,
          `names snapshot '${snapshotId}', which workspace '${ws.name}' does not have; upload it first`,
        );
      throw e;
    }
  }
}
