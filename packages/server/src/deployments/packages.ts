import crypto from 'node:crypto';
import type { AppContext } from '../context.js';
import type { WorkspaceInfo } from '../resources/workspace-info.js';
import { NotFound } from '../errors.js';

/** What a deployment package is made of (stored as JSON; its hash is the digest). */
export interface PackageContents {
  /** `local` | `ray-serve` */
  engine: string;
  mode: 'mlflow' | 'score';
  /** The model version's reference as the deployment names it, or null (a scoring script without a model). */
  model: string | null;
  /** `codeConfiguration.codeId` and the snapshot's content hash. */
  codeId: string | null;
  codeHash: string | null;
  scoringScript: string | null;
  /** The environment version's id, or '' (ATELIER_SERVING_PYTHON, or the MLflow model's own requirements). */
  environmentId: string;
  /** The environment build's digest (`sha256:<spec hash>`), or null when the server's Python runs it. */
  environmentDigest: string | null;
  pipRequirements: string[];
}

export interface PackageRecord {
  id: string;
  deploymentId: string;
  digest: string;
  status: 'Running' | 'Succeeded' | 'Failed';
  contents: PackageContents;
  log: string;
  engine: string;
  createdAt: number;
  finishedAt: number | null;
}

interface PackageRow {
  id: string;
  workspace_key: string;
  deployment_id: string;
  digest: string;
  status: string;
  contents: string;
  log: string;
  engine: string;
  created_at: number;
  finished_at: number | null;
}

declare module '../store/schema.js' {
  interface Tables {
    deployment_packages: PackageRow;
  }
}

const LOG_LIMIT = 200_000;

/** The digest of a package: sha256 of its contents' JSON (keys in a fixed order). */
export function packageDigest(c: PackageContents): string {
  const ordered = Object.fromEntries(Object.entries(c).sort(([a], [b]) => a.localeCompare(b)));
  return `sha256:${crypto.createHash('sha256').update(JSON.stringify(ordered)).digest('hex')}`;
}

/**
 * Records of deployment packages: each provisioning of an online deployment writes one — what it
 * assembled (model, code snapshot, environment build, engine), its digest, status and the
 * provisioning log. With the environment builds they are the workspace's images (`W/images`).
 */
export class DeploymentPackages {
  constructor(private readonly ctx: AppContext) {}

  /** A Running record; returns its id. */
  async begin(deploymentId: string, ws: WorkspaceInfo): Promise<string> {
    const id = crypto.randomUUID();
    await this.ctx.db
      .insertInto('deployment_packages')
      .values({
        id,
        workspace_key: ws.id.toLowerCase(),
        deployment_id: deploymentId,
        digest: '',
        status: 'Running',
        contents: '{}',
        log: '',
        engine: '',
        created_at: Date.now(),
        finished_at: null,
      })
      .execute();
    return id;
  }

  /** Ends a record: Succeeded with what the package holds, or Failed (contents as far as they were known). */
  async finish(
    id: string,
    status: 'Succeeded' | 'Failed',
    contents: Partial<PackageContents> | undefined,
    log: string,
  ): Promise<void> {
    const full = contents && contents.engine ? (contents as PackageContents) : undefined;
    await this.ctx.db
      .updateTable('deployment_packages')
      .set({
        status,
        digest: full ? packageDigest(full) : '',
        contents: JSON.stringify(contents ?? {}),
        engine: contents?.engine ?? '',
        log: log.slice(-LOG_LIMIT),
        finished_at: Date.now(),
      })
      .where('id', '=', id)
      .execute();
  }

  private toRecord(r: PackageRow): PackageRecord {
    return {
      id: r.id,
      deploymentId: r.deployment_id,
      digest: r.digest,
      status: r.status as PackageRecord['status'],
      contents: JSON.parse(r.contents) as PackageContents,
      log: r.log,
      engine: r.engine,
      createdAt: Number(r.created_at),
      finishedAt: r.finished_at === null ? null : Number(r.finished_at),
    };
  }

  /** The workspace's package records, newest first. */
  async list(ws: WorkspaceInfo, top = 100): Promise<PackageRecord[]> {
    const rows = await this.ctx.db
      .selectFrom('deployment_packages')
      .selectAll()
      .where('workspace_key', '=', ws.id.toLowerCase())
      .orderBy('created_at', 'desc')
      .limit(top)
      .execute();
    return rows.map((r) => this.toRecord(r));
  }

  /** One record of the workspace, or undefined. */
  async find(ws: WorkspaceInfo, id: string): Promise<PackageRecord | undefined> {
    const r = await this.ctx.db
      .selectFrom('deployment_packages')
      .selectAll()
      .where('id', '=', id)
      .where('workspace_key', '=', ws.id.toLowerCase())
      .executeTakeFirst();
    return r ? this.toRecord(r) : undefined;
  }

  async get(ws: WorkspaceInfo, id: string): Promise<PackageRecord> {
    const r = await this.find(ws, id);
    if (!r) throw new NotFound(`no deployment package '${id}' in workspace '${ws.name}'`);
    return r;
  }

  /** Removes a workspace's records (the workspace is being deleted). */
  async forgetWorkspace(ws: { id: string }): Promise<void> {
    await this.ctx.db.deleteFrom('deployment_packages').where('workspace_key', '=', ws.id.toLowerCase()).execute();
  }
}
