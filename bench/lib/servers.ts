import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { descendants, localPostmaster } from './cpu.js';
// Not through server.ts: importing the server (through tsx) costs seconds of CPU, and
// `npm run bench -- --bad-option` should answer before that.
import { freePort } from '../../packages/server/src/free-port.js';

/** A server the bench talks to: its MLflow tracking URI, how to authenticate, and its process. */
export interface BenchTarget {
  /** Label in the report: "Atelier", "MLflow", or the --target URL. */
  name: string;
  trackingUri: string;
  token?: string;
  /** The server process when the bench started it (for RSS); undefined for --target. */
  pid?: number;
  /** spawn → /health 200, milliseconds (servers the bench started). */
  coldStartMs?: number;
  /** PUT workspace → provisioningState Succeeded, milliseconds (Atelier). */
  workspaceCreateMs?: number;
  idleRssBytes?: number;
  /** The postmaster of Atelier's PostgreSQL when it runs on this machine (its CPU is counted). */
  postmasterPid?: number;
  notes: string[];
  stop(): Promise<void>;
}

export const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
export const WORK = path.join(ROOT, 'bench', '.work');

/** Polls `url` until it answers 200 (or the process exits, or `timeoutMs` passes). */
async function waitHealthy(url: string, child: ChildProcess, timeoutMs: number, logFile: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited: number | null = null;
  child.once('exit', (code) => {
    exited = code ?? -1;
  });
  while (Date.now() < deadline) {
    if (exited !== null)
      throw new Error(`the server exited (code ${exited}) before answering ${url}; its log ends:\n${tail(logFile)}`);
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await r.arrayBuffer();
      if (r.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs / 1000} s; the server log ends:\n${tail(logFile)}`);
}

function tail(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '(no log)';
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const done = new Promise<void>((r) => child.once('exit', () => r()));
  // The bench started the server in its own process group: end it and its workers.
  try {
    process.kill(-child.pid!, 'SIGTERM');
  } catch {
    child.kill('SIGTERM');
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  }, 10_000);
  await done;
  clearTimeout(timer);
}

// ---------------------------------------------------------------------------------------------
// Atelier

export interface AtelierOptions {
  /** postgres://… server where the bench may CREATE DATABASE; unset = SQLite. */
  postgres?: string;
  home: string;
  /** Write a V8 CPU profile of the server into this folder (node --cpu-prof). */
  profileDir?: string;
}

/**
 * Starts Atelier the way `npm start` does (the bundled server, built first so the cold start
 * measures the server, not the bundler), gets an admin token and creates a workspace.
 */
export async function startAtelier(opts: AtelierOptions): Promise<BenchTarget> {
  const notes: string[] = [];
  const startScript = path.join(ROOT, 'scripts', 'start.mjs');
  const mod = (await import(pathToFileURL(startScript).href)) as {
    buildServer(o?: { force?: boolean }): Promise<string>;
  };
  const bundle = await mod.buildServer();
  let dropDb: (() => Promise<void>) | undefined;
  let databaseUrl: string | undefined;
  let postmasterPid: number | undefined;
  if (opts.postgres) {
    // Loaded here, not at the top: see the freePort import.
    const { freshPostgres } = await import('../../packages/server/src/testing/harness.js');
    const fresh = await freshPostgres(opts.postgres, 'atelier_bench');
    databaseUrl = fresh.url;
    dropDb = fresh.drop;
    postmasterPid = await localPostmaster(fresh.url);
    notes.push('PostgreSQL (fresh database)');
  } else {
    notes.push('SQLite');
  }
  const port = await freePort();
  const password = crypto.randomBytes(12).toString('base64url');
  fs.mkdirSync(opts.home, { recursive: true });
  const logFile = path.join(opts.home, 'server.log');
  const log = fs.openSync(logFile, 'a');
  const t0 = performance.now();
  const nodeArgs = [...(opts.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.profileDir}`] : []), bundle];
  const child = spawn(process.execPath, nodeArgs, {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', log, log],
    env: {
      ...process.env,
      ATELIER_HOME: path.join(opts.home, 'data'),
      ATELIER_HOST: '127.0.0.1',
      ATELIER_PORT: String(port),
      ATELIER_ADMIN_PASSWORD: password,
      ATELIER_LOG_LEVEL: 'warn',
      ATELIER_DATABASE_URL: databaseUrl ?? '',
    },
  });
  fs.closeSync(log);
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    await stopChild(child);
    if (dropDb) await dropDb().catch(() => {});
  };
  try {
    await waitHealthy(`${url}/health`, child, 60_000, logFile);
    const coldStartMs = performance.now() - t0;
    const token = await atelierToken(url, password);
    const { trackingUri, ms } = await createWorkspace(url, token);
    await new Promise((r) => setTimeout(r, 500));
    return {
      name: 'Atelier',
      trackingUri,
      token,
      pid: child.pid,
      coldStartMs,
      workspaceCreateMs: ms,
      idleRssBytes: processTreeRss(child.pid!),
      postmasterPid,
      notes,
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

async function atelierToken(url: string, password: string): Promise<string> {
  const r = await fetch(`${url}/common/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'password',
      username: 'admin',
      password,
      scope: 'https://management.azure.com/.default',
    }),
  });
  const body = (await r.json()) as { access_token?: string; error_description?: string };
  if (!body.access_token) throw new Error(`could not get an admin token: HTTP ${r.status} ${JSON.stringify(body)}`);
  return body.access_token;
}

const API = 'api-version=2025-09-01';

/**
 * ARM: a resource group and a workspace, polled until provisioningState is Succeeded; returns
 * the workspace's mlFlowTrackingUri and the create→Succeeded time.
 */
export async function createWorkspace(url: string, token: string): Promise<{ trackingUri: string; ms: number }> {
  const h = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const subs = (await (await fetch(`${url}/subscriptions?${API}`, { headers: h })).json()) as {
    value: { subscriptionId: string }[];
  };
  const sub = subs.value[0]?.subscriptionId;
  if (!sub) throw new Error('the server lists no subscription');
  const rg = `${url}/subscriptions/${sub}/resourceGroups/bench?${API}`;
  let r = await fetch(rg, { method: 'PUT', headers: h, body: JSON.stringify({ location: 'local' }) });
  if (r.status >= 300) throw new Error(`PUT resource group: HTTP ${r.status} ${await r.text()}`);
  await r.arrayBuffer();
  const ws = `${url}/subscriptions/${sub}/resourceGroups/bench/providers/Microsoft.MachineLearningServices/workspaces/bench-ws?${API}`;
  const t0 = performance.now();
  r = await fetch(ws, {
    method: 'PUT',
    headers: h,
    body: JSON.stringify({ location: 'local', properties: { friendlyName: 'bench' } }),
  });
  if (r.status >= 300) throw new Error(`PUT workspace: HTTP ${r.status} ${(await r.text()).slice(0, 500)}`);
  let body = (await r.json()) as { properties?: { provisioningState?: string; mlFlowTrackingUri?: string } };
  const deadline = Date.now() + 120_000;
  while (body.properties?.provisioningState !== 'Succeeded') {
    const state = body.properties?.provisioningState;
    if (state === 'Failed' || state === 'Canceled')
      throw new Error(`workspace provisioning ended ${state}: ${JSON.stringify(body)}`);
    if (Date.now() > deadline) throw new Error(`workspace still ${state} after 120 s`);
    await new Promise((res) => setTimeout(res, 5));
    const g = await fetch(ws, { headers: h });
    if (g.status !== 200) throw new Error(`GET workspace: HTTP ${g.status} ${(await g.text()).slice(0, 500)}`);
    body = (await g.json()) as typeof body;
  }
  const ms = performance.now() - t0;
  const trackingUri = body.properties?.mlFlowTrackingUri;
  if (!trackingUri)
    throw new Error(`the workspace has no properties.mlFlowTrackingUri: ${JSON.stringify(body).slice(0, 500)}`);
  return { trackingUri, ms };
}

// ---------------------------------------------------------------------------------------------
// MLflow

export const MLFLOW_VENV = path.join(WORK, 'mlflow-venv');
const MLFLOW_REQUIREMENTS = path.join(ROOT, 'bench', 'mlflow-server-requirements.txt');

/** The `mlflow` executable of the bench's virtual environment, installed on first use. */
export function ensureMlflowServer(log: (s: string) => void): string {
  const bin = path.join(MLFLOW_VENV, 'bin', 'mlflow');
  const stamp = path.join(MLFLOW_VENV, '.requirements');
  const wanted = fs.readFileSync(MLFLOW_REQUIREMENTS, 'utf8');
  if (fs.existsSync(bin) && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === wanted) return bin;
  log(`installing the MLflow server into ${path.relative(ROOT, MLFLOW_VENV)} (once; takes a few minutes)…`);
  const python = process.env.ATELIER_BENCH_PYTHON ?? 'python3';
  const run = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    if (r.status !== 0)
      throw new Error(
        `${cmd} ${args.join(' ')} failed (exit ${r.status}); --compare mlflow needs Python 3.10+ with venv and access to PyPI`,
      );
  };
  if (!fs.existsSync(path.join(MLFLOW_VENV, 'bin', 'python'))) run(python, ['-m', 'venv', MLFLOW_VENV]);
  run(path.join(MLFLOW_VENV, 'bin', 'pip'), [
    'install',
    '-q',
    '--disable-pip-version-check',
    '-r',
    MLFLOW_REQUIREMENTS,
  ]);
  fs.writeFileSync(stamp, wanted);
  return bin;
}

/** `mlflow server` on SQLite with proxied artifacts in a temp folder, loopback only, default workers. */
export async function startMlflow(mlflowBin: string, home: string): Promise<BenchTarget> {
  fs.mkdirSync(home, { recursive: true });
  const port = await freePort();
  const logFile = path.join(home, 'mlflow.log');
  const log = fs.openSync(logFile, 'a');
  const args = [
    'server',
    '--backend-store-uri',
    `sqlite:///${path.join(home, 'mlflow.db')}`,
    '--artifacts-destination',
    path.join(home, 'artifacts'),
    '--serve-artifacts',
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
  ];
  const t0 = performance.now();
  const child = spawn(mlflowBin, args, {
    cwd: home,
    detached: true,
    stdio: ['ignore', log, log],
    env: { ...process.env, MLFLOW_TRACKING_URI: '' },
  });
  fs.closeSync(log);
  const url = `http://127.0.0.1:${port}`;
  try {
    // MLflow migrates a new SQLite database on start: allow it time.
    await waitHealthy(`${url}/health`, child, 180_000, logFile);
  } catch (e) {
    await stopChild(child);
    throw e;
  }
  const coldStartMs = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 500));
  return {
    name: 'MLflow',
    trackingUri: url,
    pid: child.pid,
    coldStartMs,
    idleRssBytes: processTreeRss(child.pid!),
    notes: [`mlflow ${mlflowVersion()} server, SQLite, default workers`],
    stop: () => stopChild(child),
  };
}

function mlflowVersion(): string {
  const m = /mlflow==(\S+)/.exec(fs.readFileSync(MLFLOW_REQUIREMENTS, 'utf8'));
  return m?.[1] ?? '?';
}

/** Any MLflow-compatible server given by URL (token from --token or MLFLOW_TRACKING_TOKEN). */
export function externalTarget(url: string, token?: string): BenchTarget {
  return { name: url, trackingUri: url.replace(/\/+$/, ''), token, notes: ['external server'], stop: async () => {} };
}

// ---------------------------------------------------------------------------------------------
// Memory of a process and its descendants (Linux /proc)

function statusField(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(s);
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Resident memory of a process and all its descendants (MLflow runs worker processes), bytes. */
export function processTreeRss(pid: number): number {
  return descendants(pid).reduce((sum, p) => sum + statusField(p, 'VmRSS'), 0);
}

/**
 * Samples the tree's RSS every 20 ms while `work` runs; also resets and reads the kernel's peak
 * (VmHWM) of each process, which catches spikes between samples. Returns peak − RSS before.
 */
export async function measureRssGrowth<T>(
  pid: number | undefined,
  work: () => Promise<T>,
): Promise<{ value: T; growthBytes?: number }> {
  if (!pid || !fs.existsSync(`/proc/${pid}/status`)) return { value: await work() };
  const pids = descendants(pid);
  for (const p of pids) {
    try {
      fs.writeFileSync(`/proc/${p}/clear_refs`, '5');
    } catch {
      /* not permitted: sampling still works */
    }
  }
  const before = pids.reduce((s, p) => s + statusField(p, 'VmRSS'), 0);
  let peak = before;
  const sample = (): number => pids.reduce((s, p) => s + statusField(p, 'VmRSS'), 0);
  const timer = setInterval(() => {
    peak = Math.max(peak, sample());
  }, 20);
  let value: T;
  try {
    value = await work();
  } finally {
    clearInterval(timer);
  }
  // After clear_refs, VmHWM is each process's peak since the reset (summed over a tree it is an
  // upper bound, as the processes may peak at different moments).
  const hwm = pids.reduce((s, p) => s + statusField(p, 'VmHWM'), 0);
  peak = Math.max(peak, sample(), hwm);
  return { value, growthBytes: Math.max(0, peak - before) };
}
