import { InvalidInput } from '../errors.js';
import { originList } from '../config.js';
import { invalid } from '../assets/validate.js';

/**
 * Ray clusters attached as computes. The server submits jobs (code, environment variables, a
 * workspace token) to a Ray cluster's Jobs API, so which clusters may be attached is the
 * administrator's decision, as for S3 endpoints: `ATELIER_RAY_ADDRESSES` lists the dashboard
 * origins (comma-separated, e.g. `http://127.0.0.1:8265`); with none listed, attaching is refused.
 */
export function rayDashboards(env: NodeJS.ProcessEnv = process.env): string[] {
  return originList(
    env.ATELIER_RAY_ADDRESSES,
    'ATELIER_RAY_ADDRESSES',
    'http(s) origins of Ray dashboards like http://127.0.0.1:8265',
  );
}

/** Checks a Ray dashboard (Jobs API) address: an http(s) origin the administrator allowed. Returns the origin. */
export function checkRayDashboard(v: string, target: string, allowed: string[]): string {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw invalid(target, `must be the http(s) address of the Ray dashboard, like http://127.0.0.1:8265; got '${v}'`);
  }
  if (
    (u.protocol !== 'http:' && u.protocol !== 'https:') ||
    u.username ||
    u.password ||
    (u.pathname !== '/' && u.pathname !== '') ||
    u.search ||
    u.hash
  )
    throw invalid(
      target,
      `must be the http(s) address of the Ray dashboard, like http://127.0.0.1:8265 (no path, no credentials); got '${v}'`,
    );
  if (!allowed.includes(u.origin))
    throw invalid(
      target,
      allowed.length
        ? `${u.origin} is not one of the Ray clusters allowed by the administrator (ATELIER_RAY_ADDRESSES): ${allowed.join(', ')}`
        : 'Ray computes are disabled: an administrator must list the allowed Ray dashboard addresses in ATELIER_RAY_ADDRESSES',
    );
  return u.origin;
}

/** Checks a Ray GCS address (`host:port`, as `ray start --address` takes it). */
export function checkRayGcsAddress(v: string, target: string): string {
  const m = /^(\[[0-9a-fA-F:]+\]|[a-zA-Z0-9.-]{1,253}):(\d{1,5})$/.exec(v);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535)
    throw invalid(target, `must be the Ray cluster's GCS address host:port, like 127.0.0.1:6379; got '${v}'`);
  return v;
}

interface RayNode {
  node_id?: string;
  node_ip?: string;
  state?: string;
}

/**
 * The nodes of an attached Ray cluster, from Ray's state API (`GET /api/v0/nodes`). Ray does not
 * say which node runs what, so alive nodes count as running as many as the usage source says run
 * there, the rest idle; dead nodes are unusable.
 */
export async function listRayNodes(
  dashboardUrl: string,
  usage: { running: number },
): Promise<Record<string, unknown>[]> {
  let body: { data?: { result?: { result?: RayNode[] } } };
  try {
    const res = await fetch(`${dashboardUrl}/api/v0/nodes?limit=1000`, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    body = (await res.json()) as typeof body;
  } catch (e) {
    throw new InvalidInput(`the Ray cluster at ${dashboardUrl} could not be reached (${(e as Error).message})`, {
      code: 'COMPUTE_UNREACHABLE',
    });
  }
  let busy = usage.running;
  return (body.data?.result?.result ?? []).map((n) => {
    const alive = n.state === 'ALIVE';
    const running = alive && busy > 0;
    if (running) busy--;
    return {
      nodeId: n.node_id ?? '',
      privateIpAddress: n.node_ip ?? null,
      publicIpAddress: null,
      port: null,
      nodeState: alive ? (running ? 'running' : 'idle') : 'unusable',
      runId: null,
    };
  });
}
