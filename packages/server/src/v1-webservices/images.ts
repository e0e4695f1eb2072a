import type { WorkspaceInfo } from '../resources/workspace-info.js';
import type { BuildRecord, EnvironmentBuildService } from '../environment-builds/environment-builds.js';
import type { DeploymentPackages, PackageRecord } from '../deployments/packages.js';
import type { AppContext } from '../context.js';
import { parseModelRef } from '../deployments/model-source.js';
import { NotFound } from '../errors.js';

/** An ISO 8601 time of epoch milliseconds (undefined stays undefined). */
export const iso = (ms: number | undefined | null): string | undefined =>
  ms === undefined || ms === null ? undefined : new Date(ms).toISOString();

/** Most records one listing reads (the newest), as `W/images` does at most. */
const MAX_RECORDS = 1000;

/** An image in azureml-core's shape (its `Image` / `UnknownImage`), made from one build record. */
export interface V1Image {
  id: string;
  name: string;
  version: number;
  createdAt: number;
  /** The record's digest (`sha256:…`; '' while it builds or when it failed early). */
  digest: string;
  modelIds: string[];
  /** The online deployment a package record was made for. */
  deploymentId?: string;
  dto: Record<string, unknown>;
}

/** `name:version` of a model reference, or undefined when it is none of ours. */
function modelIdOf(ref: string | null | undefined, ws: WorkspaceInfo): string | undefined {
  if (!ref) return undefined;
  try {
    const r = parseModelRef(ref, ws);
    return `${r.name}:${r.version}`;
  } catch {
    return undefined;
  }
}

const STATES: Record<string, string> = { Running: 'Running', Succeeded: 'Succeeded', Failed: 'Failed' };

/**
 * The workspace's images as azureml-core sees them (`ws.images`, `Image(ws, name|id)`,
 * `Image.list(…)`): the same build records as ARM `W/images` — environment builds and deployment
 * packages. There is no container registry here: an image is a Python environment (or a deployment's
 * package of model + code + environment), so `imageType` is `Environment` or `DeploymentPackage` and
 * azureml-core gives them its `UnknownImage` class. Each record's id is the image id; the name is the
 * environment's name (or `{endpoint}-{deployment}` for a package) and the version counts the records
 * of that name, oldest first.
 */
export class V1Images {
  constructor(
    private readonly ctx: AppContext,
    private readonly builds: EnvironmentBuildService,
    private readonly packages: DeploymentPackages,
    /** The images `Image.create` made (packages of model + code + environment). */
    private readonly made?: { list(ws: WorkspaceInfo, top: number): Promise<V1Image[]> },
  ) {}

  private logUri(ws: WorkspaceInfo, id: string): string {
    return `${this.ctx.config.publicUrl}${ws.id}/images/${id}?api-version=2025-09-01`;
  }

  /** Every image of the workspace (the newest MAX_RECORDS records), newest first. */
  async all(ws: WorkspaceInfo): Promise<V1Image[]> {
    const [builds, packages, made] = await Promise.all([
      this.builds.list(ws, MAX_RECORDS),
      this.packages.list(ws, MAX_RECORDS),
      this.made ? this.made.list(ws, MAX_RECORDS) : Promise.resolve([]),
    ]);
    const named = [
      ...builds.map((r) => ({
        at: r.createdAt,
        name: buildName(r),
        build: r as BuildRecord | undefined,
        pkg: undefined,
      })),
      ...packages.map((r) => ({
        at: r.createdAt,
        name: packageName(r),
        build: undefined,
        pkg: r as PackageRecord | undefined,
      })),
    ].sort((a, b) => a.at - b.at || (a.build?.id ?? a.pkg!.id).localeCompare(b.build?.id ?? b.pkg!.id));
    const counts = new Map<string, number>();
    const out: V1Image[] = [];
    for (const x of named) {
      const version = (counts.get(x.name) ?? 0) + 1;
      counts.set(x.name, version);
      out.push(x.build ? this.fromBuild(ws, x.build, x.name, version) : this.fromPackage(ws, x.pkg!, x.name, version));
    }
    // Image.create's images keep their own name:version; all newest first.
    return [...out.reverse(), ...made].sort((a, b) => b.createdAt - a.createdAt);
  }

  private base(ws: WorkspaceInfo, id: string, name: string, version: number, r: BuildRecord | PackageRecord) {
    return {
      id,
      name,
      version,
      createdTime: iso(r.createdAt),
      creationState: STATES[r.status] ?? r.status,
      imageBuildLogUri: this.logUri(ws, id),
      // No registry holds it: the image is this server's own build (see properties.digest).
      imageLocation: null,
      kvTags: {},
    };
  }

  private fromBuild(ws: WorkspaceInfo, r: BuildRecord, name: string, version: number): V1Image {
    const dto = {
      ...this.base(ws, r.id, name, version, r),
      description: `Python environment built by ${r.tool}`,
      imageType: 'Environment',
      modelIds: [],
      properties: {
        kind: 'environment',
        digest: r.digest,
        environmentId: r.environmentId,
        tool: r.tool,
        ...(r.sizeBytes !== null ? { sizeBytes: String(r.sizeBytes) } : {}),
        ...(r.finishedAt ? { finishedTime: iso(r.finishedAt)! } : {}),
      },
    };
    return { id: r.id, name, version, createdAt: r.createdAt, digest: r.digest, modelIds: [], dto };
  }

  private fromPackage(ws: WorkspaceInfo, r: PackageRecord, name: string, version: number): V1Image {
    const model = modelIdOf(r.contents.model, ws);
    const modelIds = model ? [model] : [];
    const dto = {
      ...this.base(ws, r.id, name, version, r),
      description: `Package of online deployment ${name}`,
      imageType: 'DeploymentPackage',
      modelIds,
      properties: {
        kind: 'deployment',
        digest: r.digest,
        deploymentId: r.deploymentId,
        engine: r.engine,
        ...(r.contents.environmentId ? { environmentId: r.contents.environmentId } : {}),
        ...(r.contents.environmentDigest ? { environmentDigest: r.contents.environmentDigest } : {}),
        ...(r.contents.codeId ? { codeId: r.contents.codeId } : {}),
        ...(r.finishedAt ? { finishedTime: iso(r.finishedAt)! } : {}),
      },
    };
    return {
      id: r.id,
      name,
      version,
      createdAt: r.createdAt,
      digest: r.digest,
      modelIds,
      deploymentId: r.deploymentId,
      dto,
    };
  }

  /** The images of one deployment (its package records), newest first. */
  async ofDeployment(ws: WorkspaceInfo, deploymentId: string, all?: V1Image[]): Promise<V1Image[]> {
    const list = all ?? (await this.all(ws));
    const key = deploymentId.toLowerCase();
    return list.filter((i) => i.deploymentId?.toLowerCase() === key);
  }

  /** `GET images?name=&version=&modelName=&modelId=&tags=&properties=&count=&orderBy=`. */
  async query(ws: WorkspaceInfo, q: Record<string, string | undefined>): Promise<V1Image[]> {
    let list = await this.all(ws);
    if (q.name) list = list.filter((i) => i.name === q.name);
    if (q.version) list = list.filter((i) => String(i.version) === q.version);
    if (q.modelName) list = list.filter((i) => i.modelIds.some((m) => m.split(':')[0] === q.modelName));
    if (q.modelId) list = list.filter((i) => i.modelIds.includes(q.modelId!));
    for (const [k, v] of pairs(q.tags))
      list = list.filter((i) => matches(i.dto.kvTags as Record<string, string>, k, v));
    for (const [k, v] of pairs(q.properties))
      list = list.filter((i) => matches(i.dto.properties as Record<string, string>, k, v));
    if (q.orderBy === 'CreatedAtAsc') list = [...list].reverse();
    const count = q.count ? Number(q.count) : undefined;
    if (count !== undefined && Number.isInteger(count) && count > 0) list = list.slice(0, count);
    return list;
  }

  async get(ws: WorkspaceInfo, id: string): Promise<V1Image> {
    const found = (await this.all(ws)).find((i) => i.id === id || `${i.name}:${i.version}` === id);
    if (!found) throw new NotFound(`image '${id}' could not be found in workspace '${ws.name}'`, { code: 'NOT_FOUND' });
    return found;
  }
}

/** The environment's name of a build record (`…/environments/{name}/versions/{v}`), or `requirements` (a model's own). */
function buildName(r: BuildRecord): string {
  const m = /\/environments\/([^/]+)\/versions\/[^/]+$/i.exec(r.environmentId);
  return m ? decodeURIComponent(m[1]!) : 'requirements';
}

/** `{endpoint}-{deployment}` of a package record. */
function packageName(r: PackageRecord): string {
  const m = /\/onlineEndpoints\/([^/]+)\/deployments\/([^/]+)$/i.exec(r.deploymentId);
  return m ? `${m[1]}-${m[2]}` : r.deploymentId.split('/').pop()!;
}

/** `k1=v1,k2` → [[k1, v1], [k2, undefined]] (azureml-core's tag and property filters). */
export function pairs(s: string | undefined): [string, string | undefined][] {
  return (s ?? '')
    .split(',')
    .filter(Boolean)
    .map((p) => {
      const i = p.indexOf('=');
      return i < 0 ? [p, undefined] : [p.slice(0, i), p.slice(i + 1)];
    });
}

export function matches(map: Record<string, string> | undefined, k: string, v: string | undefined): boolean {
  if (!map || !(k in map)) return false;
  return v === undefined || map[k] === v;
}
