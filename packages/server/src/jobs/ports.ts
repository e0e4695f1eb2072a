import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import type { WorkspaceInfo } from '../resources/workspace-info.js';
import type { Tx } from '../store/database.js';
import { NotFound, NotImplemented } from '../errors.js';

/**
 * What the jobs module asks of the modules it runs on (computes, environment builds, code assets),
 * as small ports: the composition root plugs the real services in (services.ts); where one is not
 * there, the default below answers what it honestly can.
 */

/** A compute's capacity (services.computes.capacity). */
export interface Capacity {
  computeType: string;
  maxNodeCount: number;
  minNodeCount: number;
  coresPerNode: number;
  memoryGiB: number;
  gpusPerNode: number;
  stopped: boolean;
  rayAddress?: string;
}

export interface ComputePort {
  capacity(ws: WorkspaceInfo, computeName: string): Promise<Capacity>;
  /**
   * Holds the compute in a write transaction that binds a job to it (submit, claim): a delete of the
   * compute waits for that transaction, or the hold waits for the delete and throws (services.computes.hold).
   */
  hold?(tx: Tx, ws: Pick<WorkspaceInfo, 'id' | 'name'>, computeName: string): Promise<unknown>;
}

/** A built Python environment (services.environmentBuilds.ensure). */
export interface BuiltEnvironment {
  id?: string;
  specHash?: string;
  pythonPath: string;
  envDir: string;
  pipRequirements: string[];
}

export interface EnvironmentPort {
  ensure(
    ws: WorkspaceInfo,
    environmentId: string,
    opts?: { signal?: AbortSignal; onLog?: (line: string) => void },
  ): Promise<BuiltEnvironment>;
}

/** A code asset's snapshot (services.codes.snapshot): a read-only folder. */
export interface CodePort {
  snapshot(ws: WorkspaceInfo, codeId: string): Promise<{ dir: string; hash: string }>;
}

/** The compute of jobs that name none: this server's machine, one node per CPU core. */
export const LOCAL_COMPUTE = '';

export function localCapacity(): Capacity {
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return {
    computeType: 'Local',
    maxNodeCount: Math.max(1, cores),
    minNodeCount: 0,
    coresPerNode: 1,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    gpusPerNode: 0,
    stopped: false,
  };
}

export const noComputes: ComputePort = {
  async capacity(_ws, name) {
    throw new NotFound(
      `compute '${name}' does not exist in this workspace; leave computeId out to run on the server's own machine`,
      { code: 'NOT_FOUND', target: 'properties.computeId' },
    );
  },
};

export const noEnvironmentBuilds: EnvironmentPort = {
  async ensure() {
    throw new NotImplemented(
      'this server cannot build environments yet; leave environmentId out to run with the server’s Python (ATELIER_JOBS_PYTHON)',
      { target: 'properties.environmentId' },
    );
  },
};

export const noCodes: CodePort = {
  async snapshot() {
    throw new NotImplemented(
      'this server cannot store code assets yet; leave codeId out (the command runs in an empty folder)',
      {
        target: 'properties.codeId',
      },
    );
  },
};

/**
 * The Python of jobs without an environment: `ATELIER_JOBS_PYTHON`, else `python3` on the PATH. Its
 * venv (when it is in one) is the job's environment folder. Looked up once.
 */
let systemPython: BuiltEnvironment | undefined;
export function defaultPython(env: NodeJS.ProcessEnv = process.env): BuiltEnvironment {
  if (systemPython) return systemPython;
  let pythonPath = env.ATELIER_JOBS_PYTHON;
  if (!pythonPath) {
    try {
      pythonPath = execFileSync('/bin/sh', ['-c', 'command -v python3'], { encoding: 'utf8' }).trim();
    } catch {
      pythonPath = '';
    }
  }
  if (!pythonPath)
    throw new NotImplemented(
      'no Python for jobs without an environment: install python3 or set ATELIER_JOBS_PYTHON, or give the job an environmentId',
      { target: 'properties.environmentId' },
    );
  const abs = path.resolve(pythonPath);
  const venv = path.dirname(path.dirname(abs));
  systemPython = {
    pythonPath: abs,
    envDir: fs.existsSync(path.join(venv, 'pyvenv.cfg')) ? venv : '',
    pipRequirements: [],
  };
  return systemPython;
}
