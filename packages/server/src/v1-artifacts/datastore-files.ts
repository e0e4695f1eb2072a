import type { Readable } from 'node:stream';
import type { AppContext } from '../context.js';
import type { Principal } from '../identity/principals.js';
import type { WorkspaceInfo } from '../resources/workspace-info.js';
import type { DatastoreService, DatastoreProps } from '../assets/datastores.js';
import type { LinkedArtifacts, WorkspaceRef } from '../tracking/artifacts/artifacts.js';
import { safeKey } from '../blob/blob-store.js';
import { blobSas, blobUri } from '../blob-service/access.js';
import { Conflict, InvalidInput } from '../errors.js';
import './tables.js';

/** Where a run file kept in a datastore is: the datastore, and the blob of its container. */
export interface DatastoreFile {
  datastore: string;
  account: string;
  container: string;
  /** The blob's path in the container (azureml-core's `dataPath.relativePath`). */
  blob: string;
}

/** The first two segments of an artifact path (`{experiment id}/{run id}`): the rows of one run. */
function rootOf(artifactPath: string): string | undefined {
  const parts = artifactPath.split('/');
  return parts.length >= 2 ? `${parts[0]}/${parts[1]}` : undefined;
}

/**
 * A run's files kept in a datastore (azureml-core's `run.upload_file(name, path, datastore_name=…)`):
 * the bytes are written where the named datastore keeps its files (its container, at
 * `ExperimentRun/dcid.{run id}/{name}`, as Azure ML does), and a row (`run_datastore_files`) makes
 * them the run's file `name` — an MLflow artifact path of the run. The artifact service
 * (tracking/artifacts/) lists, reads and deletes the tree through these rows (LinkedArtifacts), so
 * azureml-core's `get_file_names` / `download_file`, MLflow's `list_artifacts` / `download_artifacts`
 * and the studio see the same file, while `Datastore.download` finds it in the datastore.
 * Only blob datastores on this server's storage accounts can hold them: azureml-core uploads every
 * run file to a Blob REST URI with azure-storage-blob.
 */
export class RunDatastoreFiles implements LinkedArtifacts {
  constructor(
    private readonly ctx: AppContext,
    private readonly datastores: DatastoreService,
  ) {}

  /**
   * Where run file `name` of `container` (`dcid.{run id}`) goes in datastore `datastore`, checking
   * the caller may write there (the datastore's own credentials or identity rules, as its uploads).
   */
  async locate(
    ws: WorkspaceInfo,
    datastore: string,
    container: string,
    name: string,
    by: Principal,
  ): Promise<DatastoreFile> {
    const r = await this.datastores.get(ws, datastore);
    const p = r.properties as DatastoreProps;
    if (p.datastoreType !== 'AzureBlob' && p.datastoreType !== 'AzureDataLakeGen2')
      throw new InvalidInput(
        `datastore '${r.name}' is of type ${p.datastoreType}; azureml-core uploads run files with azure-storage-blob, so name a blob datastore (AzureBlob or AzureDataLakeGen2) such as 'workspaceblobstore'`,
        { target: 'datastoreName' },
      );
    await this.datastores.backend(ws, r.name, by, 'write');
    const blob = safeKey(`ExperimentRun/${container}/${name}`, 'artifact path');
    return { datastore: r.name, account: p.accountName!, container: (p.containerName ?? p.filesystem)!, blob };
  }

  /** A URI of the file's blob with a SAS for that blob (read, or read+create+write) lasting `minutes`. */
  async contentUri(f: DatastoreFile, write: boolean, minutes: number): Promise<string> {
    const account = await this.datastores.accounts.require(f.account);
    const [key] = await this.datastores.accounts.accessKeys(account);
    if (!key) throw new Conflict(`storage account '${f.account}' has no keys`, { code: 'STORAGE_ACCOUNT_HAS_NO_KEYS' });
    const sas = blobSas(
      {
        account: f.account,
        container: f.container,
        blob: f.blob,
        permissions: write ? 'rcw' : 'r',
        expiry: new Date(Date.now() + minutes * 60_000),
      },
      key,
    );
    return `${blobUri(this.ctx.config, f.account, f.container, f.blob)}?${sas}`;
  }

  /** Makes the file at `artifactPath` (a path of a run: `{experiment}/{run}/…`) the datastore's `f`. */
  async link(ws: WorkspaceRef, artifactPath: string, f: DatastoreFile): Promise<void> {
    const root = rootOf(artifactPath);
    if (!root) throw new InvalidInput(`'${artifactPath}' is not a path of a run's files`, { target: 'path' });
    const row = { ...f, created_at: Date.now() };
    await this.ctx.db
      .insertInto('run_datastore_files')
      .values({ workspace_id: ws.workspaceId, root, path: artifactPath, ...row })
      .onConflict((oc) => oc.columns(['workspace_id', 'root', 'path']).doUpdateSet(row))
      .execute();
  }

  /** The datastore file at `artifactPath`, if it is one. */
  async find(ws: WorkspaceRef, artifactPath: string): Promise<DatastoreFile | undefined> {
    const root = rootOf(artifactPath);
    if (!root) return undefined;
    const row = await this.ctx.db
      .selectFrom('run_datastore_files')
      .select(['datastore', 'account', 'container', 'blob'])
      .where('workspace_id', '=', ws.workspaceId)
      .where('root', '=', root)
      .where('path', '=', artifactPath)
      .executeTakeFirst();
    return row;
  }

  /** Forgets the link at `artifactPath` (the run's file there is now kept in the run's own store). */
  async unlink(ws: WorkspaceRef, artifactPath: string): Promise<void> {
    const root = rootOf(artifactPath);
    if (!root) return;
    await this.ctx.db
      .deleteFrom('run_datastore_files')
      .where('workspace_id', '=', ws.workspaceId)
      .where('root', '=', root)
      .where('path', '=', artifactPath)
      .execute();
  }

  private async rows(ws: WorkspaceRef, artifactPath: string) {
    let q = this.ctx.db.selectFrom('run_datastore_files').selectAll().where('workspace_id', '=', ws.workspaceId);
    const root = rootOf(artifactPath);
    if (root) q = q.where('root', '=', root);
    const rows = await q.execute();
    return rows.filter((r) => !artifactPath || r.path === artifactPath || r.path.startsWith(`${artifactPath}/`));
  }

  private store(f: DatastoreFile) {
    return this.ctx.blobs.account(f.account, f.container);
  }

  async below(ws: WorkspaceRef, artifactPath: string) {
    const out: { path: string; size: number; modified: number }[] = [];
    for (const r of await this.rows(ws, artifactPath)) {
      // A path reserved by batch/metadata whose bytes never came is no file yet.
      const st = await this.store(r).stat(r.blob);
      if (st && !st.isDir) out.push({ path: r.path, size: st.size, modified: st.modified });
    }
    return out;
  }

  async open(ws: WorkspaceRef, artifactPath: string, range?: { start: number; end: number }) {
    const f = await this.find(ws, artifactPath);
    if (!f) return undefined;
    const st = await this.store(f).stat(f.blob);
    if (!st || st.isDir) return undefined;
    return this.store(f).get(f.blob, range) as Promise<{ stream: Readable; size: number }>;
  }

  async delete(ws: WorkspaceRef, artifactPath: string): Promise<void> {
    for (const r of await this.rows(ws, artifactPath)) {
      const st = await this.store(r).stat(r.blob);
      if (st && !st.isDir) await this.store(r).delete(r.blob);
      await this.unlink(ws, r.path);
    }
  }

  /** A deleted workspace's links (the bytes stay in their datastores, which the workspace's deletion handles). */
  async forgetWorkspace(ws: { workspaceId?: string }): Promise<void> {
    if (!ws.workspaceId) return;
    await this.ctx.db.deleteFrom('run_datastore_files').where('workspace_id', '=', ws.workspaceId).execute();
  }
}
