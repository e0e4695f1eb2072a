import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import pg from 'pg';

/**
 * CPU time per operation, split by who spent it: the server's process tree, the PostgreSQL
 * server's processes (its postmaster's tree, when it runs on this machine) and the bench client
 * itself. On a machine shared with other work, throughput says little; CPU microseconds per
 * operation are what a change to the write path moves. Linux only (/proc); elsewhere undefined.
 */
export interface CpuSplit {
  /** Microseconds of CPU per operation. */
  server: number;
  database?: number;
  client: number;
}

export interface CpuSampler {
  /** Starts counting (before the measured operations). */
  start(): void;
  /** CPU µs per operation since start(), for `ops` operations. */
  stop(ops: number): CpuSplit | undefined;
}

/** A process and all its descendants (from /proc). */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(d));
      children.set(ppid, list);
    } catch {
      // exited meanwhile
    }
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) out.push(...(children.get(out[i]!) ?? []));
  return out;
}

let tickUs: number | undefined;
function usPerTick(): number {
  if (tickUs === undefined) {
    const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim();
    tickUs = 1e6 / (Number(out) || 100);
  }
  return tickUs;
}

/**
 * CPU of a process tree, microseconds: each live process's utime + stime, plus cutime + cstime (what
 * its children that exited and were waited for used: a PostgreSQL backend or autovacuum worker that
 * ended during the measurement still counts, under its postmaster).
 */
function treeCpuUs(root: number): number {
  let ticks = 0;
  for (const p of descendants(root)) {
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // Fields 14-17 of stat (utime, stime, cutime, cstime): 11-14 after the command name and state.
      ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    } catch {
      // exited meanwhile
    }
  }
  return ticks * usPerTick();
}

/**
 * The postmaster of the PostgreSQL server at `url` when it runs on this machine: the parent of
 * the backend that answers (pg_backend_pid) if /proc shows that process as a PostgreSQL one.
 */
export async function localPostmaster(url: string): Promise<number | undefined> {
  if (!fs.existsSync('/proc/self/stat')) return undefined;
  const c = new pg.Client({ connectionString: url });
  try {
    await c.connect();
    const { rows } = await c.query<{ pid: number }>('select pg_backend_pid() as pid');
    const stat = fs.readFileSync(`/proc/${rows[0]!.pid}/stat`, 'utf8');
    if (!/\((postgres|postmaster)\)/.test(stat)) return undefined;
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  } finally {
    await c.end().catch(() => {});
  }
}

export function cpuSampler(serverPid: number | undefined, postmasterPid?: number): CpuSampler {
  let t0: { server: number; database?: number; client: NodeJS.CpuUsage } | undefined;
  const live = serverPid !== undefined && fs.existsSync(`/proc/${serverPid}/stat`);
  return {
    start() {
      if (!live) return;
      t0 = {
        server: treeCpuUs(serverPid!),
        database: postmasterPid ? treeCpuUs(postmasterPid) : undefined,
        client: process.cpuUsage(),
      };
    },
    stop(ops) {
      if (!t0 || ops <= 0) return undefined;
      const c = process.cpuUsage(t0.client);
      const per = (us: number) => Math.round(us / ops);
      return {
        server: per(treeCpuUs(serverPid!) - t0.server),
        ...(postmasterPid && t0.database !== undefined
          ? { database: per(treeCpuUs(postmasterPid) - t0.database) }
          : {}),
        client: per(c.user + c.system),
      };
    },
  };
}
