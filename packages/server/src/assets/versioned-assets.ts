import type { AppContext } from '../context.js';
import type { Tx } from '../store/database.js';
import type { Principal } from '../identity/principals.js';
import { toArmBody, type ResourceEngine, type ResourceDefinition, type StoredResource } from '../resources/engine.js';
import type { WorkspaceInfo } from '../resources/workspaces.js';
import { Conflict, InvalidInput, NotFound } from '../errors.js';
import { bool, obj, str, stringMap, type Obj } from './validate.js';

/** Azure ML asset names and versions: a letter or digit, then letters, digits, '-', '_', '.'. */
export const ASSET_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,254}$/;
export const ASSET_VERSION = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,99}$/;

/** A kind of versioned asset (data, environments): its types and what a version may hold. */
export interface VersionedKind {
  /** URL segment: 'data' | 'environments'. */
  segment: string;
  label: string;
  containerType: string;
  versionType: string;
  /**
   * Checks a version's `properties` (the whole body's properties, already known to be an object) and
   * returns what to store. `common` holds description/tags/properties/isArchived/isAnonymous.
   */
  /** `by`: the caller (e.g. to read the datastore a data asset points at). */
  validate(ws: WorkspaceInfo, name: string, p: Obj, by: Principal): Promise<Obj>;
  /** Keys of the body a version's kind allows besides the common ones. */
  keys: string[];
  /** Property that a container and all its versions share (e.g. data's dataType), and its check. */
  containerKey?: string;
  checkContainerKey?(v: unknown): string;
  /** Read-only versions served from code (curated environments), by lower-cased name. */
  builtIn?: Map<string, { name: string; versions: Record<string, Obj>; description: string }>;
  reservedPrefix?: string;
}

const COMMON = [
  'description',
  'tags',
  'properties',
  'isArchived',
  'isAnonymous',
  'provisioningState',
  'stage',
  'intellectualProperty',
];
/** What may change on an existing version; everything else is fixed once written (versions are immutable). */
const MUTABLE = ['description', 'tags', 'isArchived', 'stage', 'properties'];

function defs(kind: VersionedKind): { container: ResourceDefinition; version: ResourceDefinition } {
  const checkName = (name: string) => {
    if (!ASSET_NAME.test(name))
      throw new InvalidInput(
        `${kind.label} name '${name}' is invalid: use letters, digits, '-', '_' and '.', starting with a letter or digit (at most 255)`,
        { code: 'INVALID_ASSET_NAME', target: 'name' },
      );
  };
  return {
    container: { type: kind.containerType, checkName },
    version: {
      type: kind.versionType,
      checkName(v: string) {
        if (!ASSET_VERSION.test(v))
          throw new InvalidInput(
            `version '${v}' is invalid: use letters, digits, '-', '_' and '.', starting with a letter or digit (at most 100)`,
            { code: 'INVALID_ASSET_VERSION', target: 'version' },
          );
      },
    },
  };
}

/**
 * An asset reference: `azureml:name:version`, `name:version`, `azureml:name@latest`, or the ARM id
 * `…/{segment}/{name}/versions/{version}` (or of the container: the latest version).
 */
export function parseAssetRef(ref: string, segment: string): { name: string; version?: string } | undefined {
  if (ref.startsWith('/')) {
    const m = new RegExp(`/workspaces/[^/]+/${segment}/([^/]+)(?:/versions/([^/]+))?$`, 'i').exec(ref);
    return m ? { name: decodeURIComponent(m[1]!), ...(m[2] ? { version: decodeURIComponent(m[2]) } : {}) } : undefined;
  }
  const s = ref.replace(/^azureml:/i, '');
  if (s.includes('//')) return undefined;
  const at = /^([a-zA-Z0-9][a-zA-Z0-9_.-]*)@latest$/.exec(s);
  if (at) return { name: at[1]! };
  const m = /^([a-zA-Z0-9][a-zA-Z0-9_.-]*):([a-zA-Z0-9][a-zA-Z0-9_.-]*)$/.exec(s);
  return m ? { name: m[1]!, version: m[2]! } : undefined;
}

/** The keys under which jobs and deployments name the versions they run with, and the kind each names. */
const USE_KEYS: Record<string, string> = { environmentId: 'environments', codeId: 'codes' };

/**
 * The environment and code versions a job spec or a deployment's properties name with an explicit
 * version (`environmentId`, `codeId`, at any depth: a sweep's trial, a deployment's
 * codeConfiguration), as `{segment}/{name}/{version}` lower-cased. `@latest` names no version: it is
 * resolved when the job runs, so deleting the latest version leaves it the one before.
 */
export function versionsNamed(value: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const v of value) versionsNamed(v, out);
  else if (value && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) {
      const segment = USE_KEYS[k];
      const ref = segment && typeof v === 'string' ? parseAssetRef(v, segment) : undefined;
      if (ref?.version) out.add(`${segment}/${ref.name}/${ref.version}`.toLowerCase());
      else versionsNamed(v, out);
    }
  return out;
}

/**
 * Who uses a version (`key`: `{segment}/{name}/{version}` lower-cased) in a workspace: a queued or
 * running job, a deployment. Read in the version delete's transaction, which holds the version's row;
 * whoever comes to use a version holds that row FOR SHARE while it writes (`hold`).
 */
export type AssetUsers = (tx: Pick<Tx, 'db'>, ws: WorkspaceInfo, key: string) => Promise<string[]>;

const stripUndefined = (o: Obj): Obj => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

/** Containers `W/{segment}/{name}` and their immutable versions `W/{segment}/{name}/versions/{v}`. */
export class VersionedAssetService {
  readonly def: { container: ResourceDefinition; version: ResourceDefinition };
  /** Who uses a version (jobs, deployments: registered at the composition root); a delete is refused while any does. */
  readonly users: AssetUsers[] = [];
  /** Test-only: called inside a version delete's transaction after the in-use check, before the delete. */
  testHooks: { inUseChecked?: () => Promise<void> } = {};
  constructor(
    private readonly ctx: AppContext,
    private readonly engine: ResourceEngine,
    readonly kind: VersionedKind,
  ) {
    this.def = defs(kind);
  }

  containerId(ws: WorkspaceInfo, name: string): string {
    return `${ws.id}/${this.kind.segment}/${name}`;
  }
  versionId(ws: WorkspaceInfo, name: string, version: string): string {
    return `${this.containerId(ws, name)}/versions/${version}`;
  }

  private builtIn(name: string) {
    return this.kind.builtIn?.get(name.toLowerCase());
  }

  private checkNotReserved(name: string): void {
    if (this.kind.reservedPrefix && name.toLowerCase().startsWith(this.kind.reservedPrefix.toLowerCase())) {
      throw new InvalidInput(
        `${this.kind.label} names starting with '${this.kind.reservedPrefix}' are reserved for curated ${this.kind.segment}; choose another name`,
        { code: 'RESERVED_NAME', target: 'name' },
      );
    }
  }

  /** A fake stored resource for a built-in (curated) version or container. */
  private virtual(ws: WorkspaceInfo, type: string, id: string, name: string, properties: Obj): StoredResource {
    return {
      id,
      name,
      type,
      subscriptionId: ws.subscriptionId,
      resourceGroup: ws.resourceGroup,
      groupKey: '',
      tags: {},
      properties,
      etag: '"curated"',
      createdAt: 0,
      createdBy: 'system:atelier',
      updatedAt: 0,
      updatedBy: 'system:atelier',
    };
  }

  private builtInContainer(
    ws: WorkspaceInfo,
    b: NonNullable<ReturnType<VersionedAssetService['builtIn']>>,
  ): StoredResource {
    const versions = Object.keys(b.versions);
    return this.virtual(ws, this.kind.containerType, this.containerId(ws, b.name), b.name, {
      description: b.description,
      tags: {},
      properties: {},
      isArchived: false,
      latestVersion: versions.at(-1),
      nextVersion: null,
      provisioningState: 'Succeeded',
    });
  }

  async getContainer(ws: WorkspaceInfo, name: string): Promise<StoredResource> {
    const b = this.builtIn(name);
    if (b) return this.builtInContainer(ws, b);
    const r = await this.engine.get(this.containerId(ws, name));
    if (!r)
      throw new NotFound(`${this.kind.label} '${name}' could not be found in workspace '${ws.name}'`, {
        code: 'ASSET_NOT_FOUND',
      });
    return r;
  }

  async listContainers(
    ws: WorkspaceInfo,
    opts: { after?: string; top: number; includeArchived?: boolean },
  ): Promise<{ value: StoredResource[]; hasMore: boolean; lastKey?: string }> {
    const page = await this.engine.list({
      type: this.kind.containerType,
      parentId: ws.id,
      after: opts.after,
      top: opts.top,
      visible: (r) => opts.includeArchived || r.properties.isArchived !== true,
    });
    if (!this.kind.builtIn || opts.after) return page;
    // Curated ones first on the first page.
    return {
      ...page,
      value: [...[...this.kind.builtIn.values()].map((b) => this.builtInContainer(ws, b)), ...page.value],
    };
  }

  async putContainer(
    ws: WorkspaceInfo,
    name: string,
    body: { properties?: unknown },
    by: Principal,
  ): Promise<{ resource: StoredResource; created: boolean }> {
    this.def.container.checkName(name);
    this.checkNotReserved(name);
    const p = obj(body.properties ?? {}, 'properties')!;
    const allowed = [
      ...COMMON,
      'latestVersion',
      'nextVersion',
      ...(this.kind.containerKey ? [this.kind.containerKey] : []),
    ];
    for (const k of Object.keys(p))
      if (!allowed.includes(k))
        throw new InvalidInput(`properties.${k}: unknown property; remove it`, { target: `properties.${k}` });
    const existing = await this.engine.get(this.containerId(ws, name));
    const props = stripUndefined({
      description: str(p, 'description', 'properties', { max: 5000 }),
      tags: stringMap(p, 'tags', 'properties') ?? {},
      properties: stringMap(p, 'properties', 'properties') ?? {},
      isArchived: bool(p, 'isArchived', 'properties') ?? false,
      latestVersion: existing?.properties.latestVersion ?? null,
      nextVersion: existing?.properties.nextVersion ?? '1',
      provisioningState: 'Succeeded',
    });
    if (this.kind.containerKey) {
      const v = p[this.kind.containerKey] ?? existing?.properties[this.kind.containerKey];
      if (v === undefined)
        throw new InvalidInput(`properties.${this.kind.containerKey} is required`, {
          target: `properties.${this.kind.containerKey}`,
        });
      if (
        existing &&
        existing.properties[this.kind.containerKey] !== undefined &&
        String(existing.properties[this.kind.containerKey]).toLowerCase() !== String(v).toLowerCase()
      ) {
        throw new InvalidInput(
          `properties.${this.kind.containerKey} cannot change (it is '${existing.properties[this.kind.containerKey]}')`,
          { code: 'IMMUTABLE_PROPERTY', target: `properties.${this.kind.containerKey}` },
        );
      }
      props[this.kind.containerKey] = this.kind.checkContainerKey ? this.kind.checkContainerKey(v) : v;
    }
    return this.engine.put(this.def.container, this.containerId(ws, name), { properties: props }, by);
  }

  async deleteContainer(ws: WorkspaceInfo, name: string): Promise<boolean> {
    if (this.builtIn(name)) throw new Conflict(`'${name}' is curated and cannot be deleted`, { code: 'ASSET_CURATED' });
    return this.engine.delete(this.containerId(ws, name));
  }

  async getVersion(ws: WorkspaceInfo, name: string, version: string): Promise<StoredResource> {
    const b = this.builtIn(name);
    if (b) {
      const v = b.versions[version];
      if (!v)
        throw new NotFound(`${this.kind.label} '${name}' has no version '${version}'`, { code: 'ASSET_NOT_FOUND' });
      return this.virtual(ws, this.kind.versionType, this.versionId(ws, b.name, version), version, v);
    }
    const r = await this.engine.get(this.versionId(ws, name, version));
    if (!r)
      throw new NotFound(
        `${this.kind.label} '${name}' version '${version}' could not be found in workspace '${ws.name}'`,
        { code: 'ASSET_NOT_FOUND' },
      );
    return r;
  }

  /**
   * A name's versions, a page at a time (by id; `orderBy` 'createdtime desc|asc', ARM's `$orderBy`,
   * orders them by creation — azure-ai-ml finds the 'latest' label with `$orderBy=createdtime desc&$top=1`).
   */
  async listVersions(
    ws: WorkspaceInfo,
    name: string,
    opts: {
      after?: string;
      top: number;
      includeArchived?: boolean;
      filter?: (r: StoredResource) => boolean;
      orderBy?: string;
    },
  ): Promise<{ value: StoredResource[]; hasMore: boolean; lastKey?: string }> {
    const order = opts.orderBy?.trim() ? /^createdtime(?:\s+(asc|desc))?$/i.exec(opts.orderBy.trim()) : undefined;
    if (order === null)
      throw new InvalidInput(`$orderBy '${opts.orderBy}' is not served; use 'createdtime desc' or 'createdtime asc'`, {
        code: 'INVALID_QUERY_PARAMETER',
        target: '$orderBy',
      });
    const b = this.builtIn(name);
    if (b && !order)
      return {
        value: Object.entries(b.versions).map(([v, p]) =>
          this.virtual(ws, this.kind.versionType, this.versionId(ws, b.name, v), v, p),
        ),
        hasMore: false,
      };
    if (!b) await this.getContainer(ws, name);
    const list = (after: string | undefined, top: number) =>
      b
        ? Promise.resolve({
            value: Object.entries(b.versions).map(([v, p]) =>
              this.virtual(ws, this.kind.versionType, this.versionId(ws, b.name, v), v, p),
            ),
            hasMore: false,
            lastKey: undefined as string | undefined,
          })
        : this.engine.list({
            type: this.kind.versionType,
            parentId: this.containerId(ws, name),
            after,
            top,
            visible: (r) =>
              (opts.includeArchived || r.properties.isArchived !== true) && (!opts.filter || opts.filter(r)),
          });
    if (!order) return list(opts.after, opts.top);
    // By creation: every version of the name, sorted, then the page after the last one answered
    // (the continuation stays a version's id, as in the keyset pages).
    const all: StoredResource[] = [];
    for (let after: string | undefined; ;) {
      const page = await list(after, 1000);
      all.push(...page.value);
      if (!page.hasMore || !page.lastKey) break;
      after = page.lastKey;
    }
    const desc = (order[1] ?? 'asc').toLowerCase() === 'desc';
    all.sort((x, y) => (x.createdAt - y.createdAt || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0)) * (desc ? -1 : 1));
    const from = opts.after ? all.findIndex((r) => r.id === opts.after) + 1 : 0;
    const value = all.slice(from, from + opts.top);
    const hasMore = from + opts.top < all.length;
    return { value, hasMore, lastKey: hasMore ? value.at(-1)?.id : undefined };
  }

  /**
   * Creates a version (and its container when missing). Versions are immutable: a PUT on an
   * existing version may change only description, tags, stage and isArchived.
   */
  async putVersion(
    ws: WorkspaceInfo,
    name: string,
    version: string,
    body: { properties?: unknown },
    by: Principal,
  ): Promise<{ resource: StoredResource; created: boolean }> {
    this.def.container.checkName(name);
    this.def.version.checkName(version);
    this.checkNotReserved(name);
    const p = obj(body.properties, 'properties')!;
    const allowed = [...COMMON, ...this.kind.keys];
    for (const k of Object.keys(p))
      if (!allowed.includes(k))
        throw new InvalidInput(`properties.${k}: unknown property; remove it (allowed: ${allowed.join(', ')})`, {
          target: `properties.${k}`,
        });
    const props: Obj = stripUndefined({
      ...(await this.kind.validate(ws, name, p, by)),
      description: str(p, 'description', 'properties', { max: 5000 }),
      tags: stringMap(p, 'tags', 'properties') ?? {},
      properties: stringMap(p, 'properties', 'properties') ?? {},
      isArchived: bool(p, 'isArchived', 'properties') ?? false,
      isAnonymous: bool(p, 'isAnonymous', 'properties') ?? false,
      stage: str(p, 'stage', 'properties', { max: 100 }),
      provisioningState: 'Succeeded',
    });
    const id = this.versionId(ws, name, version);
    const existing = await this.engine.get(id);
    if (existing) {
      const changed = Object.keys({ ...existing.properties, ...props }).filter(
        (k) =>
          !MUTABLE.includes(k) &&
          k !== 'provisioningState' &&
          JSON.stringify(existing.properties[k] ?? null) !== JSON.stringify(props[k] ?? null),
      );
      if (changed.length) {
        throw new Conflict(
          `${this.kind.label} '${name}' version '${version}' already exists and versions are immutable (${changed.map((k) => `properties.${k}`).join(', ')} would change); register a new version instead`,
          { code: 'ASSET_VERSION_IMMUTABLE', target: `properties.${changed[0]}` },
        );
      }
      return this.engine.put(
        this.def.version,
        id,
        { properties: { ...existing.properties, ...Object.fromEntries(MUTABLE.map((k) => [k, props[k]])) } },
        by,
      );
    }
    let container = await this.engine.get(this.containerId(ws, name));
    if (!container) {
      const cprops: Obj = {
        description: props.description,
        tags: {},
        properties: {},
        isArchived: false,
        provisioningState: 'Succeeded',
        latestVersion: null,
        nextVersion: '1',
      };
      if (this.kind.containerKey) cprops[this.kind.containerKey] = props[this.kind.containerKey];
      try {
        await this.engine.put(
          this.def.container,
          this.containerId(ws, name),
          { properties: stripUndefined(cprops) },
          by,
          { ifNoneMatch: '*' },
        );
      } catch (e) {
        if (
          (e as { code?: string }).code !== 'PRECONDITION_FAILED' &&
          (e as { code?: string }).code !== 'CONCURRENT_UPDATE'
        )
          throw e;
      }
      container = (await this.engine.get(this.containerId(ws, name)))!;
    }
    if (this.kind.containerKey) {
      const c = String(container.properties[this.kind.containerKey] ?? '');
      if (c && c.toLowerCase() !== String(props[this.kind.containerKey]).toLowerCase()) {
        throw new InvalidInput(
          `${this.kind.label} '${name}' holds ${this.kind.containerKey} '${c}'; a version of it cannot be '${props[this.kind.containerKey]}'`,
          { code: 'ASSET_CONTAINER_MISMATCH', target: `properties.${this.kind.containerKey}` },
        );
      }
    }
    let out: { resource: StoredResource; created: boolean };
    try {
      out = await this.engine.put(this.def.version, id, { properties: props }, by, { ifNoneMatch: '*' });
    } catch (e) {
      if (
        (e as { code?: string }).code === 'PRECONDITION_FAILED' ||
        (e as { code?: string }).code === 'CONCURRENT_UPDATE'
      ) {
        throw new Conflict(
          `${this.kind.label} '${name}' version '${version}' was just created by another request; versions are immutable`,
          { code: 'ASSET_VERSION_IMMUTABLE' },
        );
      }
      throw e;
    }
    const numeric = /^\d+$/.test(version) ? Number(version) : 0;
    const next = Math.max(Number(container.properties.nextVersion ?? 1) || 1, numeric + 1);
    await this.engine.setProperties(container.id, { latestVersion: version, nextVersion: String(next) });
    return out;
  }

  /**
   * Changes what may change on a version (description, tags, isArchived, stage, properties) through
   * the same PUT as ARM's (its checks included), keeping everything else as it is.
   */
  async updateVersion(ws: WorkspaceInfo, name: string, version: string, changes: Obj, by: Principal) {
    const existing = await this.getVersion(ws, name, version);
    const allowed = [...COMMON, ...this.kind.keys];
    const body: Obj = {};
    for (const [k, v] of Object.entries(existing.properties))
      if (allowed.includes(k) && k !== 'provisioningState' && v !== undefined && v !== null) body[k] = v;
    for (const [k, v] of Object.entries(changes)) {
      if (!MUTABLE.includes(k)) throw new Error(`updateVersion: '${k}' cannot change on a version`);
      body[k] = v;
    }
    return (await this.putVersion(ws, name, version, { properties: body }, by)).resource;
  }

  /**
   * Archives a name (its container, then each of its versions: a retry after a failure midway
   * finishes it), or restores its container alone (the archived versions stay archived).
   */
  async setArchived(ws: WorkspaceInfo, name: string, archived: boolean, by: Principal): Promise<void> {
    const c = await this.getContainer(ws, name);
    const allowed = [
      ...COMMON,
      'latestVersion',
      'nextVersion',
      ...(this.kind.containerKey ? [this.kind.containerKey] : []),
    ];
    const body: Obj = {};
    for (const [k, v] of Object.entries(c.properties))
      if (allowed.includes(k) && k !== 'provisioningState' && v !== undefined && v !== null) body[k] = v;
    if (c.properties.isArchived !== archived)
      await this.putContainer(ws, name, { properties: { ...body, isArchived: archived } }, by);
    for (let after: string | undefined; archived;) {
      const page = await this.listVersions(ws, name, { after, top: 1000, includeArchived: true });
      for (const v of page.value)
        if (v.properties.isArchived !== true) await this.updateVersion(ws, name, v.name, { isArchived: true }, by);
      if (!page.hasMore || !page.lastKey) break;
      after = page.lastKey;
    }
  }

  /**
   * Deletes a version nobody uses (409 naming the jobs and deployments that do). The in-use check
   * and the delete are one write transaction holding the version's row (FOR UPDATE on PostgreSQL);
   * a job or deployment that names the version is written holding it FOR SHARE (`hold`), so of a
   * delete and such a write one always loses.
   */
  async deleteVersion(ws: WorkspaceInfo, name: string, version: string): Promise<boolean> {
    if (this.builtIn(name)) throw new Conflict(`'${name}' is curated and cannot be deleted`, { code: 'ASSET_CURATED' });
    const deleted = await this.ctx.database.write(async (tx) => {
      const r = await this.engine.lock(tx, this.versionId(ws, name, version), 'update');
      if (!r) return false;
      const users: string[] = [];
      const key = `${this.kind.segment}/${name}/${version}`.toLowerCase();
      for (const u of this.users) users.push(...(await u(tx, ws, key)));
      if (users.length)
        throw new Conflict(
          `${this.kind.label} '${name}' version '${version}' is used by ${users.join(', ')}; cancel or wait for the job(s) and delete the deployment(s) (or move them to another version) first`,
          { code: 'ASSET_IN_USE' },
        );
      await this.testHooks.inUseChecked?.();
      return this.engine.deleteIn(tx, r.id);
    });
    // The latest version deleted: the latest is the newest one left (none: the name has no versions).
    const container = await this.engine.get(this.containerId(ws, name));
    if (
      deleted &&
      container &&
      String(container.properties.latestVersion ?? '').toLowerCase() === version.toLowerCase()
    ) {
      const left = await this.engine.list({ type: this.kind.versionType, parentId: container.id, top: 100_000 });
      const newest = left.value.sort((a, b) => a.createdAt - b.createdAt).at(-1);
      await this.engine.setProperties(container.id, { latestVersion: newest?.name ?? null });
    }
    return deleted;
  }

  /**
   * Holds a version in a write transaction that comes to use it (a job submitted, a deployment
   * written): its row locked FOR SHARE until the transaction ends, so a delete waits for that write
   * and then sees the user, or this waits for the delete and then throws NotFound. Curated versions
   * are never deleted and are not held.
   */
  async hold(tx: Tx, ws: WorkspaceInfo, name: string, version: string): Promise<void> {
    if (this.builtIn(name)) return;
    if (!(await this.engine.lock(tx, this.versionId(ws, name, version), 'share')))
      throw new NotFound(
        `${this.kind.label} '${name}' version '${version}' could not be found in workspace '${ws.name}'`,
        {
          code: 'ASSET_NOT_FOUND',
        },
      );
  }

  toBody(r: StoredResource): Record<string, unknown> {
    const body = toArmBody(r);
    delete body.tags;
    if (this.kind.builtIn && r.type === this.kind.versionType && r.createdAt === 0) delete body.etag;
    return body;
  }
}
