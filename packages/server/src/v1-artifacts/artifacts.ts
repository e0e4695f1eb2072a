import type { Readable } from 'node:stream';
import type { AppContext } from '../context.js';
import type { ArtifactService } from '../tracking/artifacts/artifacts.js';
import type { RunHistoryService } from '../run-history/run-history.js';
import type { WorkspaceInfo } from '../resources/workspace-info.js';
import type { Principal } from '../identity/principals.js';
import type { RunDatastoreFiles } from './datastore-files.js';
import { safeKey } from '../blob/blob-store.js';
import { blobSas, blobUri } from '../blob-service/access.js';
import { Conflict, InvalidInput, NotFound, NotImplemented } from '../errors.js';

/** The origin of a run's files in azureml-core (`RUN_ORIGIN`). */
export const RUN_ORIGIN = 'ExperimentRun';
/** How long a content URI (read or write SAS of one blob) lasts. */
export const CONTENT_SAS_MINUTES = 60;
/** Files of one listing page. */
const PAGE = 500;
const ORIGIN = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
const CONTAINER = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;

export interface ArtifactDto {
  artifactId: string;
  origin: string;
  container: string;
  path: string;
  etag?: string;
  createdTime?: string;
  /** Where a run file kept in a datastore is (`run.upload_file(…, datastore_name=…)`). */
  dataPath?: { dataStoreName: string; relativePath: string };
}
export interface ContentInfoDto {
  contentUri: string;
  origin: string;
  container: string;
  path: string;
}

/** Where one `{origin}/{container}` lives: a folder (MLflow artifact path) of the workspace's artifact store. */
interface Place {
  origin: string;
  container: string;
  /** MLflow artifact path of the container's root (ArtifactService paths). */
  root: string;
}

/**
 * azureml-core's artifact service (`/artifact/v2.0/…`) over the MLflow artifact store: one store.
 * A run's files (origin `ExperimentRun`, container `dcid.{runId}`) are the MLflow run's artifacts,
 * so `run.upload_file` is what `mlflow.artifacts.list_artifacts` sees and the reverse. Other origins
 * (azureml-core's `LocalUpload` of `Model.register`, …) get a folder `v1/{origin}/{container}` of
 * the workspace's artifact store (MLflow paths start with a numeric experiment id, so they never
 * meet). Bytes move through the Blob REST subset (http/blob-rest/) with a SAS for the one blob.
 */
export class V1ArtifactService {
  constructor(
    private readonly ctx: AppContext,
    private readonly artifacts: ArtifactService,
    private readonly history: RunHistoryService,
    private readonly storageKeys: (accountId: string) => Promise<{ keyName: string; value: string }[]>,
    private readonly datastoreFiles: RunDatastoreFiles,
  ) {}

  /** The folder of `{origin}/{container}`; a run container needs the run to exist. */
  async place(ws: WorkspaceInfo, origin: string, container: string): Promise<Place> {
    if (!ORIGIN.test(origin))
      throw new InvalidInput(`origin '${origin}' is not valid: use letters, digits, '_' and '-'`, { target: 'origin' });
    if (!CONTAINER.test(container))
      throw new InvalidInput(`container '${container}' is not valid: use letters, digits, '.', '_' and '-'`, {
        target: 'container',
      });
    if (origin !== RUN_ORIGIN) return { origin, container, root: `v1/${origin}/${container}` };
    const runId = container.startsWith('dcid.') ? container.slice('dcid.'.length) : container;
    const run = await this.history.getRun(ws.workspaceId, runId);
    const uri = run.info.artifact_uri ?? '';
    if (!uri.startsWith('mlflow-artifacts:/'))
      throw new NotImplemented(
        `run '${runId}' keeps its artifacts at '${uri}', outside the workspace's artifact store; the v1 artifact service serves only runs whose experiment uses the default artifact location`,
        { code: 'NOT_IMPLEMENTED' },
      );
    return { origin, container, root: safeKey(uri.slice('mlflow-artifacts:/'.length), 'artifact root') };
  }

  private ref(ws: WorkspaceInfo) {
    return { workspaceId: ws.workspaceId, storageAccountId: ws.storageAccountId ?? null };
  }

  /** A file path inside a container: '/'-separated, no '..', not empty. */
  private file(path: string): string {
    const p = safeKey(typeof path === 'string' ? path.replace(/\\/g, '/') : path, 'artifact path');
    if (!p) throw new InvalidInput('an artifact path must name a file', { target: 'path' });
    return p;
  }

  dto(p: Place, path: string, modified?: number): ArtifactDto {
    return {
      artifactId: `${p.origin}/${p.container}/${path}`,
      origin: p.origin,
      container: p.container,
      path,
      ...(modified !== undefined ? { createdTime: new Date(modified).toISOString() } : {}),
    };
  }

  /** A content URI (one blob, read or read+create+write) for an artifact path of the place. */
  private async contentUri(ws: WorkspaceInfo, p: Place, path: string, write: boolean): Promise<string> {
    const ref = this.ref(ws);
    // A run file missing from the run's own store may be kept in a datastore: its URI is that blob's.
    if (
      !write &&
      p.origin === RUN_ORIGIN &&
      !(await this.artifacts.blobs(ref).stat(this.artifacts.key(ref, `${p.root}/${path}`)))
    ) {
      const linked = await this.datastoreFiles.find(ref, `${p.root}/${path}`);
      if (linked) return this.datastoreFiles.contentUri(linked, false, CONTENT_SAS_MINUTES);
    }
    const key = this.artifacts.key(ref, `${p.root}/${path}`);
    const account = ref.storageAccountId!.replace(/\/+$/, '').split('/').pop()!;
    const keys = await this.storageKeys(ref.storageAccountId!);
    const k = keys.find((x) => x.keyName === 'key1') ?? keys[0];
    if (!k) throw new Conflict(`storage account '${account}' has no keys`, { code: 'STORAGE_ACCOUNT_HAS_NO_KEYS' });
    const slash = key.indexOf('/');
    const container = key.slice(0, slash);
    const blob = key.slice(slash + 1);
    const sas = blobSas(
      {
        account,
        container,
        blob,
        permissions: write ? 'rcw' : 'r',
        expiry: new Date(Date.now() + CONTENT_SAS_MINUTES * 60_000),
      },
      k.value,
    );
    return `${blobUri(this.ctx.config, account, container, blob)}?${sas}`;
  }

  /**
   * `batch/metadata`: reserves paths for upload and answers, per path, the artifact and a write URI
   * (the client then PUTs the bytes there with azure-storage-blob). Every path is checked first.
   * With `datastoreName` (a run's files only) the write URIs are blobs of that datastore and the
   * paths become the run's files kept there (datastore-files.ts); without, a path kept in a
   * datastore before goes back to the run's own store.
   */
  async createEmpty(
    ws: WorkspaceInfo,
    origin: string,
    container: string,
    paths: unknown,
    datastoreName?: string,
    by?: Principal,
  ) {
    if (!Array.isArray(paths) || !paths.length)
      throw new InvalidInput('paths must be a non-empty list of {path}', { target: 'paths' });
    const p = await this.place(ws, origin, container);
    if (datastoreName && origin !== RUN_ORIGIN)
      throw new InvalidInput(`only a run's files (origin '${RUN_ORIGIN}') can be kept in a datastore`, {
        target: 'datastoreName',
      });
    this.artifacts.blobs(this.ref(ws));
    const names = paths.map((x, i) => {
      const path = (x as { path?: unknown } | null)?.path;
      if (typeof path !== 'string') throw new InvalidInput(`paths[${i}].path must be a string`, { target: 'paths' });
      return this.file(path);
    });
    const ref = this.ref(ws);
    const located = [];
    for (const path of names) {
      const st = await this.artifacts.stat(ref, `${p.root}/${path}`);
      if (st?.isDir)
        throw new Conflict(`artifact path '${path}' is a folder; upload to a file path below it`, {
          code: 'ARTIFACT_PATH_TAKEN',
        });
      if (!datastoreName) {
        located.push(undefined);
        continue;
      }
      if (st && !(await this.datastoreFiles.find(ref, `${p.root}/${path}`)))
        throw new Conflict(
          `the run already has a file '${path}' in its own store; delete it first or upload to another name`,
          { code: 'ARTIFACT_PATH_TAKEN' },
        );
      located.push(await this.datastoreFiles.locate(ws, datastoreName, p.container, path, by!));
    }
    const artifacts: Record<string, ArtifactDto> = {};
    const artifactContentInformation: Record<string, ContentInfoDto> = {};
    for (let i = 0; i < names.length; i++) {
      // The client looks the answers up by the path it sent.
      const asked = (paths[i] as { path: string }).path;
      const path = names[i]!;
      const at = located[i];
      if (at) await this.datastoreFiles.link(ref, `${p.root}/${path}`, at);
      else if (origin === RUN_ORIGIN) await this.datastoreFiles.unlink(ref, `${p.root}/${path}`);
      artifacts[asked] = {
        ...this.dto(p, path),
        ...(at ? { dataPath: { dataStoreName: at.datastore, relativePath: at.blob } } : {}),
      };
      artifactContentInformation[asked] = {
        contentUri: at
          ? await this.datastoreFiles.contentUri(at, true, CONTENT_SAS_MINUTES)
          : await this.contentUri(ws, p, path, true),
        origin: p.origin,
        container: p.container,
        path,
      };
    }
    return { artifacts, artifactContentInformation, errors: {} };
  }

  /** The artifact of a path, or NotFound. */
  async get(ws: WorkspaceInfo, origin: string, container: string, path: string): Promise<ArtifactDto> {
    const p = await this.place(ws, origin, container);
    const f = this.file(path);
    const st = await this.artifacts.stat(this.ref(ws), `${p.root}/${f}`);
    if (!st || st.isDir) throw this.missing(p, f);
    const linked = origin === RUN_ORIGIN ? await this.datastoreFiles.find(this.ref(ws), `${p.root}/${f}`) : undefined;
    return {
      ...this.dto(p, f, st.modified),
      ...(linked ? { dataPath: { dataStoreName: linked.datastore, relativePath: linked.blob } } : {}),
    };
  }

  private missing(p: Place, path: string) {
    return new NotFound(`no artifact '${path}' in container '${p.container}' of origin '${p.origin}'`, {
      code: 'ARTIFACT_NOT_FOUND',
    });
  }

  /** A read URI of an existing file. */
  async contentInfo(ws: WorkspaceInfo, origin: string, container: string, path: string): Promise<ContentInfoDto> {
    const a = await this.get(ws, origin, container, path);
    const p = await this.place(ws, origin, container);
    return { contentUri: await this.contentUri(ws, p, a.path, false), origin, container, path: a.path };
  }

  /** A write URI for a path (made or replaced by the client's upload). */
  async writeInfo(ws: WorkspaceInfo, origin: string, container: string, path: string): Promise<ContentInfoDto> {
    const p = await this.place(ws, origin, container);
    const f = this.file(path);
    return { contentUri: await this.contentUri(ws, p, f, true), origin, container, path: f };
  }

  /** Files below a folder of the container ('' = all), sorted by path, one page after `token`. */
  private async files(ws: WorkspaceInfo, p: Place, prefix: string, token: string | undefined) {
    const folder = safeKey(prefix.replace(/\\/g, '/'), 'artifact path');
    const at = folder ? `${p.root}/${folder}` : p.root;
    const st = await this.artifacts.stat(this.ref(ws), at);
    let all: { path: string; modified?: number }[] = [];
    if (st?.isDir)
      all = (await this.artifacts.listRecursive(this.ref(ws), at)).map((f) => ({
        path: folder ? `${folder}/${f.path}` : f.path,
      }));
    else if (st && folder) all = [{ path: folder, modified: st.modified }];
    all.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const from = token ? all.findIndex((f) => f.path > token) : 0;
    const page = from < 0 ? [] : all.slice(from, from + PAGE);
    const more = from >= 0 && from + PAGE < all.length;
    return { page, continuationToken: more ? page[page.length - 1]!.path : undefined };
  }

  /** `artifacts/{origin}/{container}[/{path}]`: the files of the container (below path). */
  async list(ws: WorkspaceInfo, origin: string, container: string, prefix: string, token?: string) {
    const p = await this.place(ws, origin, container);
    const { page, continuationToken } = await this.files(ws, p, prefix, token);
    return {
      value: page.map((f) => this.dto(p, f.path, f.modified)),
      ...(continuationToken ? { continuationToken } : {}),
    };
  }

  /** `prefix/contentinfo/…`: read URIs of every file below a folder (run.download_files, logs). */
  async listContent(ws: WorkspaceInfo, origin: string, container: string, prefix: string, token?: string) {
    const p = await this.place(ws, origin, container);
    const { page, continuationToken } = await this.files(ws, p, prefix, token);
    const value: ContentInfoDto[] = [];
    for (const f of page)
      value.push({ contentUri: await this.contentUri(ws, p, f.path, false), origin, container, path: f.path });
    return { value, ...(continuationToken ? { continuationToken } : {}) };
  }

  /** `artifacts/content/…` GET: the bytes, streamed. */
  async download(ws: WorkspaceInfo, origin: string, container: string, path: string) {
    const p = await this.place(ws, origin, container);
    const f = this.file(path);
    const st = await this.artifacts.stat(this.ref(ws), `${p.root}/${f}`);
    if (!st || st.isDir) throw this.missing(p, f);
    return this.artifacts.download(this.ref(ws), `${p.root}/${f}`);
  }

  /** `artifacts/content/…` POST: the request body becomes the file (replacing it). */
  async upload(ws: WorkspaceInfo, origin: string, container: string, path: string, body: Readable) {
    const p = await this.place(ws, origin, container);
    const f = this.file(path);
    const out = await this.artifacts.upload(this.ref(ws), `${p.root}/${f}`, body);
    return { ...this.dto(p, f, Date.now()), size: out.size };
  }

  /** Deletes one file; a missing one is not an error. */
  async delete(ws: WorkspaceInfo, origin: string, container: string, path: string): Promise<void> {
    const p = await this.place(ws, origin, container);
    const f = this.file(path);
    const st = await this.artifacts.stat(this.ref(ws), `${p.root}/${f}`);
    if (st?.isDir) throw new InvalidInput(`'${f}' is a folder; delete its files one by one`, { target: 'path' });
    await this.artifacts.delete(this.ref(ws), `${p.root}/${f}`);
  }

  /**
   * The `mlflow-artifacts:/…` URI of a file or folder of `{origin}/{container}` (what the model
   * registry keeps as a version's source when azureml-core registers uploaded files); NotFound when
   * nothing is there.
   */
  async locate(ws: WorkspaceInfo, origin: string, container: string, path: string): Promise<string> {
    const p = await this.place(ws, origin, container);
    const f = safeKey(path.replace(/\\/g, '/'), 'artifact path');
    const at = f ? `${p.root}/${f}` : p.root;
    if (!(await this.artifacts.stat(this.ref(ws), at))) throw this.missing(p, f);
    return `mlflow-artifacts:/${at}`;
  }

  /** Run log files (`logs/`, `azureml-logs/`, `user_logs/`, `system_logs/`) with read URIs: run details' logFiles. */
  async runLogFiles(ws: WorkspaceInfo, runId: string): Promise<Record<string, string>> {
    const container = `dcid.${runId}`;
    const out: Record<string, string> = {};
    let p: Place;
    try {
      p = await this.place(ws, RUN_ORIGIN, container);
    } catch (e) {
      if (e instanceof NotImplemented) return out;
      throw e;
    }
    for (const folder of ['azureml-logs', 'logs', 'user_logs', 'system_logs']) {
      let token: string | undefined;
      do {
        const r = await this.files(ws, p, folder, token);
        for (const f of r.page) out[f.path] = await this.contentUri(ws, p, f.path, false);
        token = r.continuationToken;
      } while (token);
    }
    return out;
  }
}
