import type { AppContext } from '../context.js';
import type { ComputeNodeRow } from './tables.js';
import type { Tx } from '../store/database.js';
import './tables.js';

/** A node of a cluster as `listNodes` and `nodeStateCounts` show it. */
export interface NodeView {
  nodeId: string;
  nodeState: 'running' | 'preparing' | 'idle';
  /** The job (run) on a running node, when the usage source names it. */
  runId?: string;
  /** When an idle node became idle (epoch ms). */
  idleSince?: number;
}

/** What the nodes of one cluster must look like now. */
export interface NodeDemand {
  /** Nodes running a job, and nodes preparing one (the usage source's counts). */
  running: number;
  preparing: number;
  /** Jobs on the running nodes (one entry per node), when known. */
  runIds?: string[];
  minNodeCount: number;
  maxNodeCount: number;
  /** How long a node stays idle after its last job before it leaves. */
  idleMs: number;
  /** A stopped cluster keeps no idle node (not even `minNodeCount`). */
  stopped: boolean;
}

const nodeNumber = (id: string): number => Number(/(\d+)$/.exec(id)?.[1] ?? 0);

/**
 * The node pool of compute clusters. Nodes are slots of this machine, so one is "allocated" the
 * moment a job needs it; what is kept is which nodes exist and since when each is idle, so that an
 * idle node leaves `nodeIdleTimeBeforeScaleDown` after its last job, as a cloud node would. The
 * pool is brought up to date (`reconcile`) whenever a cluster is read and by the operation
 * sweeper every few seconds; it writes only when something changed.
 */
export class NodePool {
  constructor(private readonly ctx: AppContext) {}

  async rows(computeKey: string): Promise<ComputeNodeRow[]> {
    const rows = await this.ctx.db
      .selectFrom('compute_nodes')
      .selectAll()
      .where('compute_key', '=', computeKey.toLowerCase())
      .execute();
    return rows
      .map((r) => ({
        ...r,
        created_at: Number(r.created_at),
        idle_since: r.idle_since === null ? null : Number(r.idle_since),
      }))
      .sort((a, b) => nodeNumber(a.node_id) - nodeNumber(b.node_id));
  }

  /** Brings the cluster's nodes in line with `d` at time `now`; returns them, busy ones first. */
  async reconcile(computeKey: string, d: NodeDemand, now = Date.now()): Promise<NodeView[]> {
    const key = computeKey.toLowerCase();
    const rows = await this.rows(key);
    const busy = Math.max(0, Math.min(d.maxNodeCount, d.running + d.preparing));
    // Nodes that were busy stay busy first (a job keeps its node); then the most recently idle ones.
    const ordered = [
      ...rows.filter((r) => r.idle_since === null),
      ...rows.filter((r) => r.idle_since !== null).sort((a, b) => b.idle_since! - a.idle_since!),
    ];
    const busyRows = ordered.slice(0, busy);
    const idleRows = ordered.slice(busy);
    const floor = d.stopped ? 0 : Math.min(d.minNodeCount, d.maxNodeCount);
    const keepIdleAtLeast = Math.max(0, floor - busy);
    const keepIdleAtMost = d.stopped ? 0 : Math.max(0, d.maxNodeCount - busy);
    const leaving: ComputeNodeRow[] = [];
    const staying: ComputeNodeRow[] = [];
    // Longest idle leave first; a node becoming idle now starts its idle time now.
    const byIdleAge = [...idleRows].sort((a, b) => (a.idle_since ?? now) - (b.idle_since ?? now));
    for (const r of byIdleAge) {
      const idleFor = now - (r.idle_since ?? now);
      const remaining = idleRows.length - leaving.length;
      if (remaining > keepIdleAtMost || (remaining > keepIdleAtLeast && idleFor >= d.idleMs)) leaving.push(r);
      else staying.push(r);
    }
    const toBusy = busyRows.filter((r) => r.idle_since !== null);
    const toIdle = staying.filter((r) => r.idle_since === null);
    const used = new Set(rows.filter((r) => !leaving.includes(r)).map((r) => nodeNumber(r.node_id)));
    const fresh: ComputeNodeRow[] = [];
    const freshId = () => {
      let n = 0;
      while (used.has(n)) n++;
      used.add(n);
      return `node-${n}`;
    };
    for (let i = busyRows.length; i < busy; i++)
      fresh.push({ compute_key: key, node_id: freshId(), created_at: now, idle_since: null });
    for (let i = staying.length; i < keepIdleAtLeast; i++)
      fresh.push({ compute_key: key, node_id: freshId(), created_at: now, idle_since: now });
    if (leaving.length || toBusy.length || toIdle.length || fresh.length) {
      await this.ctx.database.write(async ({ db }) => {
        for (const r of leaving)
          await db
            .deleteFrom('compute_nodes')
            .where('compute_key', '=', key)
            .where('node_id', '=', r.node_id)
            .execute();
        for (const r of toBusy)
          await db
            .updateTable('compute_nodes')
            .set({ idle_since: null })
            .where('compute_key', '=', key)
            .where('node_id', '=', r.node_id)
            .execute();
        for (const r of toIdle)
          await db
            .updateTable('compute_nodes')
            .set({ idle_since: now })
            .where('compute_key', '=', key)
            .where('node_id', '=', r.node_id)
            .execute();
        // Another replica may add the same node at the same moment: one row wins, the node is the same.
        for (const r of fresh)
          await db
            .insertInto('compute_nodes')
            .values(r)
            .onConflict((oc) => oc.columns(['compute_key', 'node_id']).doNothing())
            .execute();
      });
    }
    const busyNow = [...busyRows, ...fresh.filter((r) => r.idle_since === null)];
    const idleNow = [
      ...staying.map((r) => ({ ...r, idle_since: r.idle_since ?? now })),
      ...fresh.filter((r) => r.idle_since !== null),
    ];
    const out: NodeView[] = busyNow.map((r, i) => {
      const v: NodeView = { nodeId: r.node_id, nodeState: i < Math.min(d.running, busy) ? 'running' : 'preparing' };
      const runId = v.nodeState === 'running' ? d.runIds?.[i] : undefined;
      if (runId) v.runId = runId;
      return v;
    });
    for (const r of idleNow.sort((a, b) => nodeNumber(a.node_id) - nodeNumber(b.node_id)))
      out.push({ nodeId: r.node_id, nodeState: 'idle', idleSince: r.idle_since! });
    return out;
  }

  /**
   * Removes every node of the computes whose ids start with `prefix` (a deleted compute or workspace),
   * in `tx` when given (the compute's delete).
   */
  async forget(prefix: string, exact = true, tx: Pick<Tx, 'db'> = this.ctx): Promise<void> {
    const key = prefix.toLowerCase();
    if (exact) {
      await tx.db.deleteFrom('compute_nodes').where('compute_key', '=', key).execute();
      return;
    }
    const keys = (
      await tx.db.selectFrom('compute_nodes').select('compute_key').where('compute_key', 'like', `${key}%`).execute()
    )
      .map((r) => r.compute_key)
      // LIKE's '_' wildcard may match more than the prefix; the exact test is done here.
      .filter((k) => k.startsWith(key));
    for (const k of new Set(keys)) await tx.db.deleteFrom('compute_nodes').where('compute_key', '=', k).execute();
  }
}
