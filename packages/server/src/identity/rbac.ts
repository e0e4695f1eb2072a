import crypto from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Tables } from '../store/schema.js';
import { Forbidden, InvalidInput, NotFound } from '../errors.js';

/**
 * What a request wants to do. Control-plane routes ask for `control/*`, workspace child assets for
 * `assets/write`, tracking (data plane) for `data/*`, key listing for `secrets/read`.
 */
export type Action =
  'control/read' | 'control/write' | 'assets/write' | 'data/read' | 'data/write' | 'secrets/read' | 'access/write';

export const ROLES: Record<string, { id: string; description: string; actions: Action[] }> = {
  Owner: {
    id: '8e3af657-a8ff-443c-a75c-2fe8c4bcb635',
    description: 'Full access, including assigning roles.',
    actions: [
      'control/read',
      'control/write',
      'assets/write',
      'data/read',
      'data/write',
      'secrets/read',
      'access/write',
    ],
  },
  Contributor: {
    id: 'b24988ac-6180-42a0-ab88-20f7382dd24c',
    description: 'Full access, except assigning roles.',
    actions: ['control/read', 'control/write', 'assets/write', 'data/read', 'data/write', 'secrets/read'],
  },
  Reader: {
    id: 'acdd72a7-3385-48ef-bd42-f606fba81ae7',
    description: 'Reads everything, changes nothing.',
    actions: ['control/read', 'data/read'],
  },
  'AzureML Data Scientist': {
    id: 'f6c7c914-8db3-469d-8ca1-694a8f32e121',
    description:
      'Reads the workspace, writes its assets and tracking data; cannot create, change or delete workspaces or compute, list keys, or assign roles.',
    actions: ['control/read', 'assets/write', 'data/read', 'data/write'],
  },
  // Azure's data role for blobs (azure-ai-ml's feature stores give it to their materialization
  // identity on the offline store). It grants reading and writing data at its scope; Atelier's Blob
  // REST subset takes shared access signatures only, so on a storage account nothing reads it yet.
  'Storage Blob Data Contributor': {
    id: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe',
    description: 'Reads and writes data (blobs) at its scope; manages nothing.',
    actions: ['data/read', 'data/write'],
  },
};

export function roleByName(name: string): string {
  const hit = Object.keys(ROLES).find(
    (r) => r.toLowerCase() === name.toLowerCase() || ROLES[r]!.id === name.toLowerCase(),
  );
  if (!hit)
    throw new InvalidInput(`unknown role '${name}'; roles are: ${Object.keys(ROLES).join(', ')}`, {
      code: 'ROLE_NOT_FOUND',
    });
  return hit;
}

/** Does assignment scope `scope` cover `target`? Both ARM ids; '/' covers everything. */
export function scopeCovers(scope: string, target: string): boolean {
  const s = scope.toLowerCase().replace(/\/+$/, '');
  const t = target.toLowerCase().replace(/\/+$/, '');
  return s === '' || t === s || t.startsWith(s + '/');
}

interface Assignment {
  scope: string;
  role: string;
}

/** Role-based access: assignments at any scope, inherited downward. */
export class AccessControl {
  private cache = new Map<string, { at: number; list: Assignment[] }>();
  /** Bumped by every invalidation: a read that began before a change does not fill the cache. */
  private generation = 0;
  constructor(private readonly db: Kysely<Tables>) {}

  async assignmentsOf(principalId: string): Promise<Assignment[]> {
    const hit = this.cache.get(principalId);
    if (hit && Date.now() - hit.at < 2000) return hit.list;
    const generation = this.generation;
    const at = Date.now();
    const rows = await this.db
      .selectFrom('role_assignments')
      .select(['scope', 'role'])
      .where('principal_id', '=', principalId)
      .execute();
    if (generation === this.generation) {
      if (this.cache.size >= 10_000) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(principalId, { at, list: rows });
    }
    return rows;
  }

  invalidate(principalId?: string): void {
    this.generation++;
    if (principalId) this.cache.delete(principalId);
    else this.cache.clear();
  }

  async can(principalId: string, target: string, action: Action): Promise<boolean> {
    const list = await this.assignmentsOf(principalId);
    return list.some((a) => scopeCovers(a.scope, target) && ROLES[a.role]?.actions.includes(action));
  }

  /** Whether the principal has any role on `target` or below it (so may know it exists). */
  async canSee(principalId: string, target: string): Promise<boolean> {
    const list = await this.assignmentsOf(principalId);
    return list.some((a) => scopeCovers(a.scope, target) || scopeCovers(target, a.scope));
  }

  /**
   * Throws unless allowed. Where the principal has no role at all on the target, answers 404 as if
   * it did not exist (existence must not leak); otherwise 403.
   */
  async require(principalId: string, target: string, action: Action, notFoundMessage: string): Promise<void> {
    if (await this.can(principalId, target, action)) return;
    if (!(await this.canSee(principalId, target))) throw new NotFound(notFoundMessage);
    // Name the roles the caller holds there and those that would allow it (clients show the message).
    const held = [
      ...new Set(
        (await this.assignmentsOf(principalId)).filter((a) => scopeCovers(a.scope, target)).map((a) => a.role),
      ),
    ];
    const allowing = Object.keys(ROLES).filter((r) => ROLES[r]!.actions.includes(action));
    throw new Forbidden(
      `the client does not have permission to perform '${action}' on '${target}': ${
        held.length ? `its role there (${held.join(', ')}) does not allow it` : 'it has no role there'
      }; roles that do: ${allowing.join(', ')}`,
    );
  }

  async assign(
    principalId: string,
    scope: string,
    role: string,
    by: string | null,
    id: string = crypto.randomUUID(),
  ): Promise<string> {
    const roleName = roleByName(role);
    await this.db
      .insertInto('role_assignments')
      .values({
        id,
        scope,
        scope_key: scope.toLowerCase(),
        principal_id: principalId,
        role: roleName,
        created_at: Date.now(),
        created_by: by,
      })
      .execute();
    this.invalidate(principalId);
    return id;
  }
}
