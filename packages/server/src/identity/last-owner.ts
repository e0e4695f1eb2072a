import { sql, type Kysely } from 'kysely';
import type { Tables } from '../store/schema.js';
import { Conflict } from '../errors.js';
import './tables.js';

/**
 * The last-administrator rule: some enabled principal must keep the Owner role at the root scope
 * ('/'), or nobody could manage the server. Call inside the transaction that disables or deletes a
 * principal (`principalId`) or deletes a role assignment (`assignmentId`). It first writes the root
 * Owner assignments (a no-op update), which makes concurrent callers wait for each other — row
 * locks on PostgreSQL, the write lock on SQLite — so two Owners removing each other at the same
 * moment cannot both pass; then throws Conflict LAST_OWNER if nobody would be left.
 */
export async function keepAnAdministrator(
  trx: Kysely<Tables>,
  losing: { principalId?: string; assignmentId?: string },
): Promise<void> {
  await trx
    .updateTable('role_assignments')
    .set({ role: sql`role` })
    .where('scope_key', '=', '/')
    .where('role', '=', 'Owner')
    .execute();
  const owners = await trx
    .selectFrom('role_assignments')
    .innerJoin('principals', 'principals.id', 'role_assignments.principal_id')
    .select(['role_assignments.id', 'role_assignments.principal_id'])
    .where('role_assignments.scope_key', '=', '/')
    .where('role_assignments.role', '=', 'Owner')
    .where('principals.enabled', '=', 1)
    .execute();
  const left = owners.filter((o) => o.principal_id !== losing.principalId && o.id !== losing.assignmentId);
  if (owners.length > 0 && left.length === 0) {
    throw new Conflict(
      losing.assignmentId
        ? 'this is the last Owner assignment at the root scope; assign another Owner at / first, or nobody could manage the server'
        : 'this is the last enabled principal with the Owner role at the root scope; assign another Owner at / first, or nobody could manage the server',
      { code: 'LAST_OWNER' },
    );
  }
}
