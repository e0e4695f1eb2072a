import type { DeploymentRuntime } from './engines/engine.js';
import {
  DeploymentBalancer,
  ScoringError,
  type BalancerSettings,
  type ProxyAnswer,
  type ProxyRequest,
} from './proxy/balancer.js';

interface Running {
  runtime: DeploymentRuntime;
  balancer: DeploymentBalancer;
  /** What was started (deploymentVersion of the record): a replica restarts instances whose record changed. */
  version: string;
}

/**
 * The deployments running in this process: each one's runtime (its instances, from an engine) and
 * the balancer in front of them, by lower-cased deployment id. Replacing a deployment's runtime
 * (an update) swaps the balancer at once — new requests go to the new instances — and stops the
 * old instances once the requests they hold have been answered.
 */
export class ServingRuntimes {
  private readonly running = new Map<string, Running>();

  get(deploymentId: string): DeploymentBalancer | undefined {
    return this.running.get(deploymentId.toLowerCase())?.balancer;
  }

  runtime(deploymentId: string): DeploymentRuntime | undefined {
    return this.running.get(deploymentId.toLowerCase())?.runtime;
  }

  has(deploymentId: string): boolean {
    return this.running.has(deploymentId.toLowerCase());
  }

  /** The deployments running here, with the version each was started from. */
  entries(): { id: string; version: string }[] {
    return [...this.running.entries()].map(([id, r]) => ({ id, version: r.version }));
  }

  /** Puts a started runtime in service; the one it replaces is drained and stopped. */
  async set(deploymentId: string, runtime: DeploymentRuntime, settings: BalancerSettings, version = ''): Promise<void> {
    const key = deploymentId.toLowerCase();
    const old = this.running.get(key);
    this.running.set(key, { runtime, balancer: new DeploymentBalancer(runtime, settings), version });
    if (old) await drainAndStop(old);
  }

  /** Stops a deployment's instances (delete, endpoint delete, server stop). */
  async remove(deploymentId: string): Promise<void> {
    const key = deploymentId.toLowerCase();
    const old = this.running.get(key);
    if (!old) return;
    this.running.delete(key);
    await drainAndStop(old);
  }

  async stopAll(): Promise<void> {
    const all = [...this.running.values()];
    this.running.clear();
    await Promise.all(all.map((r) => drainAndStop(r, 2_000)));
  }

  /** Sends a request to a deployment running here (503 when it is not). */
  async send(deploymentId: string, name: string, req: ProxyRequest): Promise<ProxyAnswer> {
    const b = this.get(deploymentId);
    if (!b)
      throw new ScoringError(
        503,
        'ONLINE_DEPLOYMENT_NOT_READY',
        `deployment '${name}' is not running (it is being created or updated, or it failed: see its provisioningState and getLogs)`,
      );
    return b.send(req);
  }
}

/** Waits (at most `graceMs`) for the requests a balancer holds, then stops its instances. */
async function drainAndStop(r: Running, graceMs = 30_000): Promise<void> {
  const until = Date.now() + graceMs;
  while (Date.now() < until) {
    const { inflight, waiting } = r.balancer.load();
    if (!inflight && !waiting) break;
    await new Promise((res) => setTimeout(res, 20));
  }
  await r.balancer.close();
  await r.runtime.stop();
}

/**
 * Picks the deployment of a request: the one the `azureml-model-deployment` header names, or one
 * drawn by the traffic percents. Returns undefined when no deployment gets traffic.
 */
export function pickDeployment(traffic: Record<string, number>, rnd = Math.random()): string | undefined {
  let x = rnd * 100;
  let last: string | undefined;
  for (const [d, p] of Object.entries(traffic)) {
    if (p <= 0) continue;
    last = d;
    if (x < p) return d;
    x -= p;
  }
  return last;
}

/** The deployment to mirror a request to, if the draw says so. */
export function pickMirror(mirror: Record<string, number>, rnd = Math.random()): string | undefined {
  for (const [d, p] of Object.entries(mirror)) if (p > 0 && rnd * 100 < p) return d;
  return undefined;
}
