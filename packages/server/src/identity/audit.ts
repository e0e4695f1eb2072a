import crypto from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Tables } from '../store/schema.js';
import type { AuditRow } from './tables.js';
import type { Principal } from './principals.js';
import './tables.js';

export interface AuditEntry {
  principal: Principal;
  method: string;
  /** Request path without the query string (queries may hold values we must not keep). */
  path: string;
  route: string;
  status: number;
  clientAddress?: string;
  requestId: string;
}

/** Paths that are data plane (tracking, artifacts): too many writes to audit, and not "who changed what" of the control plane. */
const DATA_PLANE = /^\/(mlflow|api\/2\.0|ajax-api|mlflow-artifacts)\//i;
// Actions (POST …/listKeys) target the resource they act on.
const ACTIONS =
  /\/(listKeys|listSecrets|resyncKeys|diagnose|listNotebookKeys|listStorageAccountKeys|listNotebookAccessToken)$/i;

export function shouldAudit(method: string, path: string, status: number): boolean {
  if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return false;
  if (status >= 400) return false;
  return !DATA_PLANE.test(path);
}

/** Who changed what, when: the audit log (never request bodies, never secrets). */
export class AuditLog {
  private counter = 0;
  constructor(private readonly db: Kysely<Tables>) {}

  async record(e: AuditEntry): Promise<void> {
    const at = Date.now();
    this.counter = (this.counter + 1) % 1000;
    const target = e.path.replace(ACTIONS, '') || '/';
    const sub = /^\/subscriptions\/([0-9a-f-]{36})(\/|$)/i.exec(e.path)?.[1]?.toLowerCase() ?? null;
    const row: AuditRow = {
      id: crypto.randomUUID(),
      seq: at * 1000 + this.counter,
      at,
      principal_id: e.principal.id,
      principal_name: e.principal.name,
      principal_kind: e.principal.kind,
      method: e.method,
      path: e.path.slice(0, 1000),
      route: e.route.slice(0, 1000),
      target: target.slice(0, 1000),
      target_key: target.toLowerCase().slice(0, 1000),
      subscription_id: sub,
      status: e.status,
      client_address: e.clientAddress?.slice(0, 64) ?? null,
      request_id: e.requestId.slice(0, 64),
    };
    await this.db.insertInto('audit_log').values(row).execute();
  }

  /** Newest first; `before` is the seq of the last row of the previous page. */
  async query(opts: {
    subscriptionId?: string;
    from?: number;
    to?: number;
    principalId?: string;
    targetPrefix?: string;
    before?: number;
    top: number;
  }): Promise<AuditRow[]> {
    let q = this.db
      .selectFrom('audit_log')
      .selectAll()
      .orderBy('seq', 'desc')
      .limit(opts.top + 1);
    if (opts.subscriptionId) q = q.where('subscription_id', '=', opts.subscriptionId.toLowerCase());
    if (opts.from !== undefined) q = q.where('at', '>=', opts.from);
    if (opts.to !== undefined) q = q.where('at', '<=', opts.to);
    if (opts.principalId) q = q.where('principal_id', '=', opts.principalId);
    if (opts.targetPrefix) {
      const t = opts.targetPrefix.toLowerCase().replace(/\/+$/, '');
      const below = `${t}/`;
      // substr works alike in SQLite and PostgreSQL (LIKE escaping does not).
      q = q.where((eb) =>
        eb.or([eb('target_key', '=', t), eb(sql<string>`substr(target_key, 1, ${below.length})`, '=', below)]),
      );
    }
    if (opts.before !== undefined) q = q.where('seq', '<', opts.before);
    return q.execute();
  }
}
