import crypto from 'node:crypto';
import type { Principal } from '../identity/principals.js';
import type { Kysely } from 'kysely';
import type { Tables } from '../store/schema.js';
import type { Database, Tx } from '../store/database.js';
import { rowLocks } from '../store/row-locks.js';
import type { ResourceRow } from '../store/tables.js';
import { Conflict, InvalidInput, NotFound, PreconditionFailed, type ErrorCode } from '../errors.js';
import { groupId, systemData } from './arm-ids.js';
import { parseResourceId, sameType } from './resource-ids.js';

/**
 * The resource engine: one generic code path for ARM resources stored in the `resources` table
 * (top-level resources and child resources of a workspace alike). A resource type is described by a
 * `ResourceDefinition`; the engine does get/put/patch/delete/list with paging, tags, systemData,
 * etags with If-Match / If-None-Match, and keeps `properties.provisioningState`.
 */
export interface ResourceDefinition {
  /** Full ARM type, e.g. `Microsoft.Storage/storageAccounts` or `Microsoft.MachineLearningServices/workspaces/datastores`. */
  type: string;
  /** Throws InvalidInput (naming the rule) when `name` is not allowed. */
  checkName(name: string): void;
  /** Property names fixed at creation: a PUT/PATCH that changes one is refused with 400. */
  immutable?: string[];
}

export interface StoredResource {
  id: string;
  name: string;
  type: string;
  subscriptionId: string;
  resourceGroup: string;
  /** Lower-cased resource group id. */
  groupKey: string;
  parentId?: string;
  location?: string;
  kind?: string;
  tags: Record<string, string>;
  sku?: Record<string, unknown>;
  identity?: Record<string, unknown>;
  properties: Record<string, unknown>;
  etag: string;
  createdAt: number;
  createdBy: string;
  updatedAt: number;
  updatedBy: string;
}

export interface PutInput {
  location?: string;
  kind?: string;
  tags?: Record<string, string>;
  sku?: Record<string, unknown>;
  identity?: Record<string, unknown>;
  properties: Record<string, unknown>;
}

export interface PatchInput {
  tags?: Record<string, string>;
  sku?: Record<string, unknown>;
  identity?: Record<string, unknown>;
  /** Shallow-merged into the stored properties; `undefined` values are ignored, `null` removes. */
  properties?: Record<string, unknown>;
}

/** HTTP conditional headers, as ARM uses them. `*` = any version (If-Match) / none at all (If-None-Match). */
export interface Preconditions {
  ifMatch?: string;
  ifNoneMatch?: string;
}

/** An unpaged scan (server-side work such as sweeps and cascades; routes page with `list`). */
export interface ScanQuery {
  type?: string;
  /** Only resources directly in a resource group (not child resources of another resource). */
  topLevel?: boolean;
  subscriptionId?: string;
  /** Lower-cased resource group id. */
  groupKey?: string;
  /** Leave out these types. */
  exceptTypes?: string[];
  /** Only these provisioning states (`properties.provisioningState`). */
  provisioningStates?: string[];
  /** Only child resources of this resource. */
  parentId?: string;
}

export interface ListQuery {
  type: string;
  subscriptionId?: string;
  /** Lower-cased resource group id (`groupKey`). */
  groupKey?: string;
  parentId?: string;
  /** Keyset paging: return resources whose lower-cased id sorts after this. */
  after?: string;
  top: number;
  /** Keeps only what the caller may see (e.g. RBAC). */
  visible?: (r: StoredResource) => boolean | Promise<boolean>;
}

/** How a principal is recorded in systemData (`user:admin`, `servicePrincipal:<appId>`). */
export const actorOf = (p: Principal | string): string => (typeof p === 'string' ? p : `${p.kind}:${p.name}`);

function parseActor(a: string | null): { name: string; type: string } {
  if (!a) return { name: 'system', type: 'Application' };
  const i = a.indexOf(':');
  const kind = i > 0 ? a.slice(0, i) : 'user';
  return {
    name: i > 0 ? a.slice(i + 1) : a,
    type: kind === 'user' ? 'User' : kind === 'system' ? 'Application' : 'Application',
  };
}

const newEtag = (): string => `"${crypto.randomUUID()}"`;

export function fromRow(r: ResourceRow): StoredResource {
  const parsed = parseResourceId(r.id);
  return {
    id: r.id,
    name: r.name,
    type: r.type,
    subscriptionId: r.subscription_id,
    resourceGroup: parsed.resourceGroup,
    groupKey: r.group_key,
    parentId: parsed.parentId,
    location: r.location ?? undefined,
    kind: r.kind ?? undefined,
    tags: r.tags ? JSON.parse(r.tags) : {},
    sku: r.sku ? JSON.parse(r.sku) : undefined,
    identity: r.identity ? JSON.parse(r.identity) : undefined,
    properties: JSON.parse(r.properties),
    etag: r.etag,
    createdAt: r.created_at,
    createdBy: r.created_by ?? 'system',
    updatedAt: r.updated_at,
    updatedBy: r.updated_by ?? r.created_by ?? 'system',
  };
}

/** The ARM body of a stored resource (every field the engine owns; types add to `properties`). */
export function toArmBody(
  r: StoredResource,
  properties: Record<string, unknown> = r.properties,
): Record<string, unknown> {
  const c = parseActor(r.createdBy);
  const m = parseActor(r.updatedBy);
  const body: Record<string, unknown> = { id: r.id, name: r.name, type: r.type };
  if (r.location !== undefined) body.location = r.location;
  if (r.kind !== undefined) body.kind = r.kind;
  body.tags = r.tags;
  if (r.sku) body.sku = r.sku;
  if (r.identity) body.identity = r.identity;
  body.etag = r.etag;
  body.systemData = { ...systemData(c.name, c.type, r.createdAt, m.name, r.updatedAt), lastModifiedByType: m.type };
  body.properties = properties;
  return body;
}

function checkPreconditions(existing: StoredResource | undefined, pre: Preconditions, id: string): void {
  if (pre.ifNoneMatch !== undefined) {
    if (pre.ifNoneMatch.trim() === '*' && existing)
      throw new PreconditionFailed(
        `'${id}' already exists and If-None-Match: * was sent; drop the header to update it`,
        { code: 'PRECONDITION_FAILED' },
      );
    if (
      existing &&
      pre.ifNoneMatch
        .split(',')
        .map((s) => s.trim())
        .includes(existing.etag)
    )
      throw new PreconditionFailed(`'${id}' still has etag ${existing.etag} (If-None-Match)`, {
        code: 'PRECONDITION_FAILED',
      });
  }
  if (pre.ifMatch !== undefined) {
    const wanted = pre.ifMatch.split(',').map((s) => s.trim());
    if (!existing)
      throw new PreconditionFailed(`'${id}' does not exist but If-Match was sent`, { code: 'PRECONDITION_FAILED' });
    if (!wanted.includes('*') && !wanted.includes(existing.etag) && !wanted.includes(existing.etag.replace(/"/g, ''))) {
      throw new PreconditionFailed(
        `'${id}' has changed: its etag is ${existing.etag}, not ${pre.ifMatch}; GET it again and retry`,
        { code: 'PRECONDITION_FAILED' },
      );
    }
  }
}

function checkImmutable(def: ResourceDefinition, existing: StoredResource, props: Record<string, unknown>): void {
  for (const k of def.immutable ?? []) {
    if (props[k] === undefined) continue;
    const before = existing.properties[k];
    const same =
      typeof before === 'string' && typeof props[k] === 'string'
        ? before.toLowerCase() === (props[k] as string).toLowerCase()
        : JSON.stringify(before ?? null) === JSON.stringify(props[k]);
    if (!same) {
      throw new InvalidInput(
        `properties.${k} cannot be changed after the resource is created (it is ${JSON.stringify(before ?? null)}); leave it out or send the same value`,
        {
          code: 'IMMUTABLE_PROPERTY',
          target: `properties.${k}`,
        },
      );
    }
  }
}

/**
 * One resource by id (any case), for the few readers that hold only a database handle (workspace
 * resolution, the logger's HBI list); everything else goes through a ResourceEngine.
 */
export async function readResource(db: Kysely<Tables>, id: string): Promise<StoredResource | undefined> {
  const row = await db.selectFrom('resources').selectAll().where('id_key', '=', id.toLowerCase()).executeTakeFirst();
  return row ? fromRow(row) : undefined;
}

/** Every resource a scan query matches, ordered by lower-cased id (see ResourceEngine.scan). */
export async function scanResources(db: Kysely<Tables>, q: ScanQuery): Promise<StoredResource[]> {
  let query = db.selectFrom('resources').selectAll();
  if (q.type) query = query.where('type_key', '=', q.type.toLowerCase());
  if (q.topLevel) query = query.where('parent_key', 'is', null);
  if (q.parentId) query = query.where('parent_key', '=', q.parentId.toLowerCase());
  if (q.subscriptionId) query = query.where('subscription_id', '=', q.subscriptionId.toLowerCase());
  if (q.groupKey) query = query.where('group_key', '=', q.groupKey.toLowerCase());
  for (const t of q.exceptTypes ?? []) query = query.where('type_key', '!=', t.toLowerCase());
  const states = q.provisioningStates;
  // A cheap pre-filter on the stored JSON; the exact test is done on the parsed properties.
  if (states?.length)
    query = query.where((eb) => eb.or(states.map((s) => eb('properties', 'like', `%"provisioningState":"${s}"%`))));
  const rows = (await query.orderBy('id_key').execute()).map(fromRow);
  return states?.length ? rows.filter((r) => states.includes(String(r.properties.provisioningState))) : rows;
}

export class ResourceEngine {
  constructor(private readonly ctx: { db: Kysely<Tables>; database: Database }) {}

  async get(id: string): Promise<StoredResource | undefined> {
    return readResource(this.ctx.db, id);
  }

  /** Every resource a scan query matches, ordered by lower-cased id (in `tx` when given: an in-use check's). */
  async scan(q: ScanQuery, tx: Pick<Tx, 'db'> = this.ctx): Promise<StoredResource[]> {
    return scanResources(tx.db, q);
  }

  /** A resource of `type` by name (names unique per type, e.g. storage accounts), optionally in a subscription. */
  async findByName(type: string, name: string, subscriptionId?: string): Promise<StoredResource[]> {
    let q = this.ctx.db
      .selectFrom('resources')
      .selectAll()
      .where('type_key', '=', type.toLowerCase())
      .where('name', '=', name.toLowerCase());
    if (subscriptionId) q = q.where('subscription_id', '=', subscriptionId.toLowerCase());
    return (await q.execute()).map(fromRow);
  }

  /** Removes every resource row of a resource group (the group is being deleted; hooks ran first). */
  async deleteGroupRows(groupKey: string): Promise<void> {
    await this.ctx.db.deleteFrom('resources').where('group_key', '=', groupKey.toLowerCase()).execute();
  }

  async require(id: string, message?: string, code: ErrorCode = 'NOT_FOUND'): Promise<StoredResource> {
    const r = await this.get(id);
    if (!r) throw new NotFound(message ?? `the resource '${id}' could not be found`, { code });
    return r;
  }

  /**
   * Create or replace (ARM PUT). The id must already be valid for `def` (name checked here); the
   * resource group must exist, and a child resource's parent too. Immutable properties are kept.
   * In `tx` when given: a write transaction of the caller's that holds what the resource depends on.
   */
  async put(
    def: ResourceDefinition,
    id: string,
    input: PutInput,
    by: Principal | string,
    pre: Preconditions = {},
    tx: Pick<Tx, 'db'> = this.ctx,
  ): Promise<{ resource: StoredResource; created: boolean }> {
    const db = tx.db;
    const p = parseResourceId(id);
    if (!sameType(p.type, def.type))
      throw new InvalidInput(`'${id}' is not a ${def.type}`, { code: 'INVALID_RESOURCE_TYPE' });
    def.checkName(p.name);
    const gk = groupId(p.subscriptionId, p.resourceGroup).toLowerCase();
    const group = await db
      .selectFrom('resource_groups')
      .select(['name', 'provisioning_state'])
      .where('id_key', '=', gk)
      .executeTakeFirst();
    if (!group)
      throw new NotFound(`resource group '${p.resourceGroup}' could not be found`, {
        code: 'RESOURCE_GROUP_NOT_FOUND',
      });
    if (group.provisioning_state === 'Deleting')
      throw new Conflict(`resource group '${group.name}' is being deleted`, { code: 'RESOURCE_GROUP_BEING_DELETED' });
    if (p.parentId && !(await readResource(db, p.parentId)))
      throw new NotFound(`the parent resource '${p.parentId}' could not be found`, {
        code: 'PARENT_RESOURCE_NOT_FOUND',
      });
    const existing = await readResource(db, id);
    checkPreconditions(existing, pre, id);
    const now = Date.now();
    const actor = actorOf(by);
    if (existing) {
      checkImmutable(def, existing, input.properties);
      const props = { ...input.properties };
      for (const k of def.immutable ?? []) if (existing.properties[k] !== undefined) props[k] = existing.properties[k];
      const etag = newEtag();
      const res = await db
        .updateTable('resources')
        .set({
          location: input.location ?? existing.location ?? null,
          kind: input.kind ?? existing.kind ?? null,
          tags: JSON.stringify(input.tags ?? {}),
          sku: input.sku ? JSON.stringify(input.sku) : null,
          identity: input.identity ? JSON.stringify(input.identity) : null,
          properties: JSON.stringify(props),
          etag,
          updated_at: now,
          updated_by: actor,
        })
        .where('id_key', '=', id.toLowerCase())
        .where('etag', '=', existing.etag)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) !== 1)
        throw new Conflict(`'${id}' was changed by another request at the same time; retry`, {
          code: 'CONCURRENT_UPDATE',
        });
      return { resource: (await readResource(db, id))!, created: false };
    }
    const canonicalId = p.parentId
      ? `${(await readResource(db, p.parentId))!.id}${id.slice(p.parentId.length)}`
      : `${groupId(p.subscriptionId, group.name)}${id.slice(gk.length)}`;
    const row: ResourceRow = {
      id_key: id.toLowerCase(),
      id: canonicalId,
      subscription_id: p.subscriptionId,
      group_key: gk,
      parent_key: p.parentId ? p.parentId.toLowerCase() : null,
      type: def.type,
      type_key: def.type.toLowerCase(),
      name: p.name,
      location: input.location ?? null,
      kind: input.kind ?? null,
      tags: JSON.stringify(input.tags ?? {}),
      sku: input.sku ? JSON.stringify(input.sku) : null,
      identity: input.identity ? JSON.stringify(input.identity) : null,
      properties: JSON.stringify(input.properties),
      etag: newEtag(),
      created_at: now,
      created_by: actor,
      updated_at: now,
      updated_by: actor,
    };
    // ON CONFLICT rather than a caught error: a failed statement would end the caller's transaction on PostgreSQL.
    const inserted = await db
      .insertInto('resources')
      .values(row)
      .onConflict((oc) => oc.doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0) !== 1)
      throw new Conflict(`'${id}' was created by another request at the same time; retry`, {
        code: 'CONCURRENT_UPDATE',
      });
    return { resource: fromRow(row), created: true };
  }

  /** ARM PATCH: tags/sku/identity replace; properties merge shallowly. */
  async patch(
    def: ResourceDefinition,
    id: string,
    input: PatchInput,
    by: Principal | string,
    pre: Preconditions = {},
  ): Promise<StoredResource> {
    const existing = await this.require(id);
    checkPreconditions(existing, pre, id);
    const merged = { ...existing.properties };
    if (input.properties) {
      checkImmutable(def, existing, input.properties);
      for (const [k, v] of Object.entries(input.properties)) {
        if (v === undefined) continue;
        if (v === null) delete merged[k];
        else merged[k] = v;
      }
    }
    const res = await this.ctx.db
      .updateTable('resources')
      .set({
        tags: input.tags ? JSON.stringify(input.tags) : JSON.stringify(existing.tags),
        sku: input.sku ? JSON.stringify(input.sku) : existing.sku ? JSON.stringify(existing.sku) : null,
        identity: input.identity
          ? JSON.stringify(input.identity)
          : existing.identity
            ? JSON.stringify(existing.identity)
            : null,
        properties: JSON.stringify(merged),
        etag: newEtag(),
        updated_at: Date.now(),
        updated_by: actorOf(by),
      })
      .where('id_key', '=', id.toLowerCase())
      .where('etag', '=', existing.etag)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) !== 1)
      throw new Conflict(`'${id}' was changed by another request at the same time; retry`, {
        code: 'CONCURRENT_UPDATE',
      });
    return (await this.get(id))!;
  }

  /**
   * Server-side property changes (provisioningState, references): new etag, no systemData change.
   * In `tx` when given (a write transaction of the caller's that holds what the change depends on).
   */
  async setProperties(
    id: string,
    changes: Record<string, unknown>,
    tx: Pick<Tx, 'db'> = this.ctx,
  ): Promise<StoredResource | undefined> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const existing = await readResource(tx.db, id);
      if (!existing) return undefined;
      const merged = { ...existing.properties };
      for (const [k, v] of Object.entries(changes)) {
        if (v === undefined || v === null) delete merged[k];
        else merged[k] = v;
      }
      const res = await tx.db
        .updateTable('resources')
        .set({ properties: JSON.stringify(merged), etag: newEtag() })
        .where('id_key', '=', id.toLowerCase())
        .where('etag', '=', existing.etag)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) === 1) return (await readResource(tx.db, id))!;
    }
    throw new Conflict(`'${id}' kept changing; retry`, { code: 'CONCURRENT_UPDATE' });
  }

  /** Deletes a resource and every child resource below it. Returns false when it did not exist. */
  async delete(id: string, pre: Preconditions = {}): Promise<boolean> {
    if (pre.ifMatch !== undefined || pre.ifNoneMatch !== undefined) checkPreconditions(await this.get(id), pre, id);
    return this.ctx.database.write((tx) => this.deleteIn(tx, id));
  }

  /** `delete` inside a write transaction the caller holds (with the checks that allow it). */
  async deleteIn(tx: Pick<Tx, 'db'>, id: string): Promise<boolean> {
    const key = id.toLowerCase();
    // LIKE's '_' wildcard may match more than the prefix; the exact test is done here.
    const below = (await tx.db.selectFrom('resources').select('id_key').where('id_key', 'like', `${key}/%`).execute())
      .map((r) => r.id_key)
      .filter((k) => k.startsWith(`${key}/`));
    for (let i = 0; i < below.length; i += 500)
      await tx.db
        .deleteFrom('resources')
        .where('id_key', 'in', below.slice(i, i + 500))
        .execute();
    const res = await tx.db.deleteFrom('resources').where('id_key', '=', key).executeTakeFirst();
    return Number(res.numDeletedRows) > 0;
  }

  /**
   * A resource read inside a write transaction with its row locked until the transaction ends (see
   * store/row-locks.ts): `update` by the side that deletes or changes it after a check (an in-use
   * check), `share` by a write that comes to depend on it (a job bound to a compute), so that of two
   * such transactions one waits for the other and then sees its result. Undefined when it is gone.
   */
  async lock(tx: Tx, id: string, mode: 'update' | 'share'): Promise<StoredResource | undefined> {
    const q = tx.db.selectFrom('resources').selectAll().where('id_key', '=', id.toLowerCase());
    const locks = rowLocks(tx);
    const row = await (mode === 'update' ? locks.forUpdate(q) : locks.forShare(q)).executeTakeFirst();
    return row ? fromRow(row) : undefined;
  }

  /**
   * The resource group of a resource (`id`), its row locked as `lock` locks a resource's: a group
   * delete marks the group Deleting (waiting for a `share` holder) before it looks at what is inside.
   * Undefined when the group is gone.
   */
  async lockGroup(
    tx: Tx,
    id: string,
    mode: 'update' | 'share',
  ): Promise<{ name: string; provisioningState: string } | undefined> {
    const p = parseResourceId(id);
    const q = tx.db
      .selectFrom('resource_groups')
      .select(['name', 'provisioning_state'])
      .where('id_key', '=', groupId(p.subscriptionId, p.resourceGroup).toLowerCase());
    const locks = rowLocks(tx);
    const row = await (mode === 'update' ? locks.forUpdate(q) : locks.forShare(q)).executeTakeFirst();
    return row ? { name: row.name, provisioningState: row.provisioning_state } : undefined;
  }

  /** One page of a group-level type's resources in a subscription, or in one of its groups (`group`: its name). */
  async listInSubscription(
    type: string,
    sub: string,
    group: string | undefined,
    opts: Pick<ListQuery, 'after' | 'top' | 'visible'>,
  ): Promise<{ value: StoredResource[]; hasMore: boolean; lastKey?: string }> {
    return this.list({ type, subscriptionId: sub, groupKey: group ? groupId(sub, group) : undefined, ...opts });
  }

  /** One page of resources of a type (ordered by lower-cased id), filtered by `visible`. */
  async list(q: ListQuery): Promise<{ value: StoredResource[]; hasMore: boolean; lastKey?: string }> {
    const out: StoredResource[] = [];
    let after = q.after;
    const batch = Math.min(Math.max(q.top + 1, 50), 1000);
    for (;;) {
      let query = this.ctx.db.selectFrom('resources').selectAll().where('type_key', '=', q.type.toLowerCase());
      if (q.subscriptionId) query = query.where('subscription_id', '=', q.subscriptionId.toLowerCase());
      if (q.groupKey) query = query.where('group_key', '=', q.groupKey.toLowerCase());
      if (q.parentId) query = query.where('parent_key', '=', q.parentId.toLowerCase());
      if (after) query = query.where('id_key', '>', after);
      const rows = await query.orderBy('id_key').limit(batch).execute();
      for (const row of rows) {
        const r = fromRow(row);
        if (!q.visible || (await q.visible(r))) {
          out.push(r);
          if (out.length > q.top)
            return { value: out.slice(0, q.top), hasMore: true, lastKey: out[q.top - 1]!.id.toLowerCase() };
        }
      }
      if (rows.length < batch) return { value: out, hasMore: false, lastKey: out.at(-1)?.id.toLowerCase() };
      after = rows.at(-1)!.id_key;
    }
  }
}
