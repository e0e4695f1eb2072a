import crypto from 'node:crypto';
import type { AppContext } from '../context.js';
import type { OperationRow } from '../store/tables.js';
import { AtelierError, NotFound, recordError, type RecordedError } from '../errors.js';
import '../resources/tables.js';

/**
 * Long-running operations (ARM LROs). The status lives in the `operations` table so any replica can
 * answer a poll. The process running an operation refreshes `updated_at` (a heartbeat); an
 * operation whose heartbeat stopped (its process crashed) is failed by the sweeper of any process,
 * which first runs the recovery registered for its kind (e.g. rolling back a half-made workspace).
 */
export type OperationStatus = 'InProgress' | 'Succeeded' | 'Failed' | 'Canceled';

export interface Operation {
  id: string;
  kind: string;
  resourceId: string;
  subscriptionId: string;
  location: string;
  status: OperationStatus;
  startTime: string;
  endTime?: string;
  /** Why a failed operation failed (its edge maps code and kind to its own code and status). */
  error?: RecordedError;
  requestedBy?: string;
}

/** What a running operation may record as it goes, so a crash can be undone by recovery. */
export interface OperationJournal {
  /** Merges `data` into the operation's journal (stored in the database at once). */
  record(data: Record<string, unknown>): Promise<void>;
  readonly data: Record<string, unknown>;
}

export type OperationWork = (journal: OperationJournal) => Promise<void>;
/**
 * Undoes what a crashed operation of this kind left behind, from its journal; or, when the work had
 * in fact finished (the process died before the operation was marked so), returns 'completed' and
 * undoes nothing: the operation is then recorded as Succeeded.
 */
export type OperationRecovery = (op: Operation, journal: Record<string, unknown>) => Promise<void | 'completed'>;

const HEARTBEAT_MS = 5_000;
/** An operation (or a transitional state) this old without a heartbeat is taken as abandoned. */
export const STALE_MS = 20_000;
const RETENTION_MS = 7 * 86_400_000;

export function toOperation(r: OperationRow): Operation {
  const op: Operation = {
    id: r.id,
    kind: r.kind,
    resourceId: r.resource_id,
    subscriptionId: r.subscription_id,
    location: r.location,
    status: r.status as OperationStatus,
    startTime: new Date(r.created_at).toISOString(),
  };
  if (r.status !== 'InProgress') op.endTime = new Date(r.updated_at).toISOString();
  if (r.error) {
    const { code, kind, message, target } = JSON.parse(r.error) as RecordedError;
    op.error = { code, message, ...(kind ? { kind } : {}), ...(target ? { target } : {}) };
  }
  if (r.requested_by) op.requestedBy = r.requested_by;
  return op;
}

export class OperationService {
  private readonly recoveries = new Map<string, OperationRecovery>();
  private readonly running = new Map<string, Promise<void>>();
  private timer?: NodeJS.Timeout;
  private sweeping?: Promise<void>;
  private lastPurge = 0;

  constructor(private readonly ctx: AppContext) {}

  /** Extra checks each sweep runs (e.g. resources left in a transitional state with no operation). */
  private readonly sweepers: (() => Promise<void>)[] = [];
  onSweep(f: () => Promise<void>): void {
    this.sweepers.push(f);
  }

  /** Registers how to undo a crashed operation of `kind`. */
  onRecover(kind: string, recovery: OperationRecovery): void {
    this.recoveries.set(kind, recovery);
  }

  /**
   * Records an InProgress operation and runs `work` after the current request has been answered.
   * A thrown error fails the operation with the error's code and message.
   */
  async start(
    kind: string,
    resource: { id: string; subscriptionId: string; location: string },
    requestedBy: string | undefined,
    work: OperationWork,
  ): Promise<Operation> {
    const now = Date.now();
    const row: OperationRow = {
      id: crypto.randomUUID(),
      subscription_id: resource.subscriptionId.toLowerCase(),
      location: resource.location || 'local',
      kind,
      resource_id: resource.id,
      status: 'InProgress',
      error: null,
      result: '{}',
      owner: this.ctx.instanceId,
      created_at: now,
      updated_at: now,
      requested_by: requestedBy ?? null,
    };
    await this.ctx.db.insertInto('operations').values(row).execute();
    const journalData: Record<string, unknown> = {};
    const journal: OperationJournal = {
      data: journalData,
      record: async (data) => {
        Object.assign(journalData, data);
        await this.ctx.db
          .updateTable('operations')
          .set({ result: JSON.stringify(journalData), updated_at: Date.now() })
          .where('id', '=', row.id)
          .execute();
      },
    };
    const p = new Promise<void>((resolve) => setImmediate(resolve))
      .then(async () => {
        const beat = setInterval(() => {
          void this.ctx.db
            .updateTable('operations')
            .set({ updated_at: Date.now() })
            .where('id', '=', row.id)
            .where('status', '=', 'InProgress')
            .execute()
            .catch(() => {});
        }, HEARTBEAT_MS);
        beat.unref();
        try {
          await work(journal);
          await this.finish(row.id, 'Succeeded');
        } catch (e) {
          const err = recordError(e, 'the operation failed: ');
          if (!(e instanceof AtelierError)) this.ctx.log.error({ err: e, operation: row.id, kind }, 'operation failed');
          await this.finish(row.id, 'Failed', err).catch((e2) =>
            this.ctx.log.error({ err: e2 }, 'could not record a failed operation'),
          );
        } finally {
          clearInterval(beat);
        }
      })
      .finally(() => this.running.delete(row.id));
    this.running.set(row.id, p);
    return toOperation(row);
  }

  private async finish(id: string, status: OperationStatus, error?: RecordedError): Promise<void> {
    await this.ctx.db
      .updateTable('operations')
      .set({ status, error: error ? JSON.stringify(error) : null, updated_at: Date.now() })
      .where('id', '=', id)
      .execute();
  }

  async get(id: string): Promise<Operation | undefined> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
    const row = await this.ctx.db
      .selectFrom('operations')
      .selectAll()
      .where('id', '=', id.toLowerCase())
      .executeTakeFirst();
    return row ? toOperation(row) : undefined;
  }

  /** What an operation recorded in its journal (e.g. a diagnosis report), once it ended. */
  async journalOf(id: string): Promise<Record<string, unknown> | undefined> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
    const row = await this.ctx.db
      .selectFrom('operations')
      .select('result')
      .where('id', '=', id.toLowerCase())
      .executeTakeFirst();
    return row?.result ? (JSON.parse(row.result) as Record<string, unknown>) : undefined;
  }

  async require(id: string): Promise<Operation> {
    const op = await this.get(id);
    if (!op) throw new NotFound(`operation '${id}' could not be found`, { code: 'OPERATION_NOT_FOUND' });
    return op;
  }

  /** Waits for this process's operations to end (tests, shutdown). */
  async drain(): Promise<void> {
    while (this.running.size) await Promise.allSettled([...this.running.values()]);
  }

  /** The InProgress operation on `resourceId`, if any. */
  async activeOn(resourceId: string): Promise<Operation | undefined> {
    const row = await this.ctx.db
      .selectFrom('operations')
      .selectAll()
      .where('resource_id', '=', resourceId)
      .where('status', '=', 'InProgress')
      .executeTakeFirst();
    return row ? toOperation(row) : undefined;
  }

  /**
   * Fails operations whose process stopped: at start, those owned by another process whose
   * heartbeat is older than STALE_MS; recovery undoes what they left. Runs again every few seconds.
   */
  async sweep(): Promise<number> {
    if (this.sweeping) {
      await this.sweeping;
      return 0;
    }
    let n = 0;
    const run = (async () => {
      const cutoff = Date.now() - STALE_MS;
      const rows = await this.ctx.db
        .selectFrom('operations')
        .selectAll()
        .where('status', '=', 'InProgress')
        .where('updated_at', '<', cutoff)
        .execute();
      for (const row of rows) {
        if (row.owner === this.ctx.instanceId && this.running.has(row.id)) continue;
        // Claim it: only one sweeper (of possibly several replicas) recovers an operation.
        const claimed = await this.ctx.db
          .updateTable('operations')
          .set({ owner: this.ctx.instanceId, updated_at: Date.now() })
          .where('id', '=', row.id)
          .where('status', '=', 'InProgress')
          .where('updated_at', '=', row.updated_at)
          .executeTakeFirst();
        if (Number(claimed.numUpdatedRows) !== 1) continue;
        const op = toOperation(row);
        const recovery = this.recoveries.get(row.kind);
        let message = 'the server stopped while this operation was running; what it had done was undone — run it again';
        try {
          if (recovery && (await recovery(op, row.result ? JSON.parse(row.result) : {})) === 'completed') {
            await this.finish(row.id, 'Succeeded');
            n++;
            continue;
          }
        } catch (e) {
          message = `the server stopped while this operation was running, and undoing it failed: ${(e as Error).message}`;
          this.ctx.log.error({ err: e, operation: row.id }, 'operation recovery failed');
        }
        await this.finish(row.id, 'Failed', { code: 'OPERATION_INTERRUPTED', kind: 'internal', message });
        n++;
      }
      // Finished operations are kept a week (clients poll them for minutes at most).
      if (Date.now() - this.lastPurge > 60_000) {
        this.lastPurge = Date.now();
        await this.ctx.db
          .deleteFrom('operations')
          .where('status', 'in', ['Succeeded', 'Failed', 'Canceled'])
          .where('updated_at', '<', Date.now() - RETENTION_MS)
          .execute();
      }
      for (const f of this.sweepers) {
        try {
          await f();
        } catch (e) {
          this.ctx.log.error({ err: e }, 'sweep task failed');
        }
      }
    })();
    this.sweeping = run;
    try {
      await run;
    } finally {
      this.sweeping = undefined;
    }
    return n;
  }

  /** Starts the periodic sweeper (stopped with `stop`). */
  startSweeper(intervalMs = HEARTBEAT_MS): void {
    if (this.timer) return;
    this.timer = setInterval(
      () => void this.sweep().catch((e) => this.ctx.log.error({ err: e }, 'operation sweep failed')),
      intervalMs,
    );
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.drain();
    if (this.sweeping) await this.sweeping.catch(() => {});
  }
}
