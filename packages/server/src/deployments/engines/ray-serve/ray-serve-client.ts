import { RayDashboardClient } from '../../../jobs/executors/ray/ray-jobs-client.js';

/**
 * Ray Serve's REST API on a cluster's dashboard (`/api/serve/applications/`, Ray 2.x), and the state
 * API's log files (`/api/v0/logs/file`), the subset the Ray Serve engine uses. The Serve API is
 * declarative: a PUT names every application of the cluster (those left out are deleted), so the
 * engine reads, changes and writes the list under a lock.
 */

/** One application as Serve's config schema takes it (`ServeApplicationSchema`). */
export interface ServeAppConfig {
  name: string;
  route_prefix: string;
  import_path: string;
  runtime_env?: Record<string, unknown>;
  args?: Record<string, unknown>;
  [k: string]: unknown;
}

export type ServeAppStatus = 'NOT_STARTED' | 'DEPLOYING' | 'DEPLOY_FAILED' | 'RUNNING' | 'UNHEALTHY' | 'DELETING';

export interface ServeReplica {
  replica_id: string;
  state: string;
  node_id: string;
  log_file_path?: string;
}

export interface ServeAppDetails {
  status: ServeAppStatus;
  message?: string;
  deployed_app_config?: ServeAppConfig | null;
  deployments: Record<string, { status: string; message?: string; replicas?: ServeReplica[] }>;
}

export interface ServeDetails {
  http_options?: { host?: string; port?: number };
  proxy_location?: string;
  applications: Record<string, ServeAppDetails>;
}

export class RayServeClient extends RayDashboardClient {
  /** Serve's state: its HTTP options and every application (none when Serve is not running). */
  async details(): Promise<ServeDetails> {
    const d = (await this.getJson('/api/serve/applications/', 'reading Serve applications')) as ServeDetails | null;
    return { ...d, applications: d?.applications ?? {} };
  }

  /** Deploys exactly these applications (starting Serve with `httpOptions` when it is not running). */
  async putAll(applications: ServeAppConfig[], httpOptions: { host: string; port: number }): Promise<void> {
    await this.json('PUT', '/api/serve/applications/', {
      proxy_location: 'HeadOnly',
      http_options: httpOptions,
      applications,
    });
  }

  /** The last `lines` lines of a log file of a node (`serve/replica_….log`). */
  async logFile(nodeId: string, filename: string, lines: number): Promise<string> {
    const q = new URLSearchParams({ node_id: nodeId, filename: filename.replace(/^\/+/, ''), lines: String(lines) });
    return this.text(`/api/v0/logs/file?${q}`);
  }
}
