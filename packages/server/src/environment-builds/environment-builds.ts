import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { spawn } from 'node:child_process';
import lockfile from 'proper-lockfile';
import type { AppContext } from '../context.js';
import type { WorkspaceInfo } from '../resources/workspace-info.js';
import type { VersionedAssetService } from '../assets/versioned-assets.js';
import { AtelierError, InvalidInput, NotFound } from '../errors.js';
import { specHash, specOf, type EnvironmentSpec } from './spec.js';
import './tables.js';

/** A built environment, ready to run: what jobs and deployments use. */
export interface EnvironmentBuild {
  id: string;
  specHash: string;
  status: 'Succeeded';
  /** Absolute path of the environment's python. */
  pythonPath: string;
  envDir: string;
  /** The pip requirement lines (for Ray's runtime_env). */
  pipRequirements: string[];
  log: string;
  createdAt: number;
}

/** A build record: the seed's "image" (digest = spec hash). */
export interface BuildRecord {
  id: string;
  digest: string;
  environmentId: string;
  status: 'Running' | 'Succeeded' | 'Failed';
  tool: string;
  log: string;
  sizeBytes: number | null;
  createdAt: number;
  finishedAt: number | null;
  spec: EnvironmentSpec;
}

const LOG_LIMIT = 200_000;
const MARKER = '.atelier-build.json';

/**
 * Where `uv` is: ATELIER_UV, else `uv` on PATH, else next to the python3 on PATH; undefined when
 * absent (builds then use `python3 -m venv` + pip, and say so in their log).
 */
export function findUv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.ATELIER_UV) return fs.existsSync(env.ATELIER_UV) ? env.ATELIER_UV : undefined;
  for (const dir of (env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    if (fs.existsSync(path.join(dir, 'uv'))) return path.join(dir, 'uv');
    if (fs.existsSync(path.join(dir, 'python3'))) {
      const beside = path.join(path.dirname(fs.realpathSync(path.join(dir, 'python3'))), 'uv');
      if (fs.existsSync(beside)) return beside;
    }
  }
  return undefined;
}

/** Runs a command, streaming its lines to `log`; rejects with the exit status. */
function run(cmd: string, args: string[], log: (l: string) => void, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    log(`$ ${[cmd, ...args].join(' ')}`);
    const p = spawn(cmd, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      signal,
      env: { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1' },
    });
    let rest = '';
    const onData = (c: Buffer) => {
      const lines = (rest + c.toString('utf8')).split('\n');
      rest = lines.pop() ?? '';
      for (const l of lines) log(l);
    };
    p.stdout.on('data', onData);
    p.stderr.on('data', onData);
    p.on('error', reject);
    p.on('close', (code) => {
      if (rest) log(rest);
      if (code === 0) resolve();
      else reject(new Error(`${path.basename(cmd)} exited with status ${code}`));
    });
  });
}

async function sizeOf(dir: string): Promise<number> {
  let total = 0;
  for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += await sizeOf(p);
    else if (e.isFile()) total += (await fsp.lstat(p)).size;
  }
  return total;
}

/**
 * Python environments built from workspace environments (conda file python + pip list, pip
 * requirements) with uv (or venv + pip), cached by the hash of the normalised spec under
 * `ATELIER_HOME/environments/<hash>`: built in a temporary folder and renamed into place, so an
 * environment is whole or absent; one build per spec at a time in this process (a shared promise)
 * and across processes (a lock file). Every build is recorded (status, log, size) — the seed's
 * "images"; a failed build keeps its log and the next ensure() builds again.
 */
export class EnvironmentBuildService {
  private readonly root: string;
  private readonly inflight = new Map<string, Promise<{ dir: string; log: string; tool: string }>>();

  constructor(
    private readonly ctx: AppContext,
    private readonly environments: VersionedAssetService,
    private readonly uv: string | undefined = findUv(),
  ) {
    this.root = path.join(ctx.config.home, 'environments');
  }

  /** An environment version by ARM id, `name:version` or `azureml:name:version`. */
  async resolve(
    ws: WorkspaceInfo,
    environmentId: string,
  ): Promise<{ id: string; properties: Record<string, unknown>; label: string }> {
    const short = /^(?:azureml:)?([^/:@]+)[:@]([^/:]+)$/.exec(environmentId);
    let name: string;
    let version: string;
    if (short) [name, version] = [short[1]!, short[2]!];
    else {
      const m = /\/environments\/([^/]+)\/versions\/([^/]+)$/i.exec(environmentId);
      if (!m || !environmentId.toLowerCase().startsWith(`${ws.id.toLowerCase()}/`))
        throw new InvalidInput(
          `'${environmentId}' is not an environment version of workspace '${ws.name}' (give ${ws.id}/environments/{name}/versions/{version} or name:version)`,
          { target: 'environmentId' },
        );
      [name, version] = [m[1]!, m[2]!];
    }
    const r = await this.environments.getVersion(ws, name, version);
    return { id: r.id, properties: r.properties, label: `'${name}' version '${version}'` };
  }

  /** Checks that an environment version exists and can be built here (its spec), without building it. */
  async check(ws: WorkspaceInfo, environmentId: string): Promise<void> {
    const env = await this.resolve(ws, environmentId);
    specOf(env.properties, env.label);
  }

  /** The pip requirements of an environment version and its spec hash, without building it (Ray's runtime_env builds it there). */
  async requirements(
    ws: WorkspaceInfo,
    environmentId: string,
  ): Promise<{ pipRequirements: string[]; specHash: string }> {
    const env = await this.resolve(ws, environmentId);
    const spec = specOf(env.properties, env.label);
    return { pipRequirements: spec.requirements, specHash: specHash(spec) };
  }

  /** The built environment of a workspace environment version (building it when needed). */
  async ensure(
    ws: WorkspaceInfo,
    environmentId: string,
    opts: { signal?: AbortSignal; onLog?: (line: string) => void } = {},
  ): Promise<EnvironmentBuild> {
    const env = await this.resolve(ws, environmentId);
    const spec = specOf(env.properties, env.label);
    return this.ensureSpec(spec, { workspaceKey: ws.id.toLowerCase(), environmentId: env.id }, opts);
  }

  /** A built environment of these requirements (e.g. an MLflow model's own), not tied to a workspace environment. */
  async ensureForRequirements(
    requirements: string[],
    python?: string,
    opts: { signal?: AbortSignal; onLog?: (line: string) => void } = {},
  ): Promise<EnvironmentBuild> {
    const spec = specOf(
      {
        pipRequirements: requirements.join('\n'),
        condaFile: python ? `dependencies:\n  - python=${python}\n` : undefined,
      },
      'of the requirements',
    );
    return this.ensureSpec(spec, { workspaceKey: '', environmentId: '' }, opts);
  }

  private async ensureSpec(
    spec: EnvironmentSpec,
    owner: { workspaceKey: string; environmentId: string },
    opts: { signal?: AbortSignal; onLog?: (line: string) => void },
  ): Promise<EnvironmentBuild> {
    const hash = specHash(spec);
    const dir = path.join(this.root, hash);
    let built: { dir: string; log: string; tool: string };
    if (fs.existsSync(path.join(dir, MARKER))) {
      built = { dir, log: `reused the environment built for spec ${hash}`, tool: 'cache' };
      opts.onLog?.(built.log);
    } else {
      let p = this.inflight.get(hash);
      if (!p) {
        p = this.build(spec, hash, owner, opts).finally(() => this.inflight.delete(hash));
        this.inflight.set(hash, p);
      } else opts.onLog?.(`waiting for the build of spec ${hash} already under way`);
      built = await p;
    }
    const rec = await this.recordFor(owner, hash, built);
    return {
      id: rec.id,
      specHash: hash,
      status: 'Succeeded',
      pythonPath: path.join(built.dir, 'bin', 'python'),
      envDir: built.dir,
      pipRequirements: spec.requirements,
      log: built.log,
      createdAt: rec.createdAt,
    };
  }

  /** The Succeeded record of this owner and hash (one is added for an environment reused from another). */
  private async recordFor(
    owner: { workspaceKey: string; environmentId: string },
    hash: string,
    built: { log: string; tool: string; dir: string },
  ): Promise<{ id: string; createdAt: number }> {
    const row = await this.ctx.db
      .selectFrom('environment_builds')
      .select(['id', 'created_at'])
      .where('spec_hash', '=', hash)
      .where('workspace_key', '=', owner.workspaceKey)
      .where('environment_id', '=', owner.environmentId)
      .where('status', '=', 'Succeeded')
      .orderBy('created_at', 'desc')
      .executeTakeFirst();
    if (row) return { id: row.id, createdAt: row.created_at };
    const now = Date.now();
    const id = crypto.randomUUID();
    const marker = JSON.parse(await fsp.readFile(path.join(built.dir, MARKER), 'utf8').catch(() => '{}')) as {
      spec?: EnvironmentSpec;
      sizeBytes?: number;
      tool?: string;
    };
    await this.ctx.db
      .insertInto('environment_builds')
      .values({
        id,
        spec_hash: hash,
        workspace_key: owner.workspaceKey,
        environment_id: owner.environmentId,
        status: 'Succeeded',
        spec: JSON.stringify(marker.spec ?? {}),
        log: built.log.slice(-LOG_LIMIT),
        size_bytes: marker.sizeBytes ?? null,
        tool: marker.tool ?? built.tool,
        created_at: now,
        finished_at: now,
      })
      .execute();
    return { id, createdAt: now };
  }

  private async build(
    spec: EnvironmentSpec,
    hash: string,
    owner: { workspaceKey: string; environmentId: string },
    opts: { signal?: AbortSignal; onLog?: (line: string) => void },
  ): Promise<{ dir: string; log: string; tool: string }> {
    await fsp.mkdir(this.root, { recursive: true });
    const dir = path.join(this.root, hash);
    const lockTarget = `${dir}.lock`;
    await fsp.writeFile(lockTarget, '', { flag: 'a' });
    // Across processes (replicas, a restarted server): one builder per spec; the others wait for it.
    const release = await lockfile.lock(lockTarget, {
      retries: { retries: 1200, minTimeout: 500, maxTimeout: 1000 },
      stale: 30_000,
    });
    const lines: string[] = [];
    let size = 0;
    const log = (l: string) => {
      if (size < LOG_LIMIT) lines.push(l);
      size += l.length + 1;
      opts.onLog?.(l);
    };
    const tool = this.uv ? 'uv' : 'venv';
    const id = crypto.randomUUID();
    try {
      if (fs.existsSync(path.join(dir, MARKER)))
        return { dir, log: `reused the environment built for spec ${hash} (by another process)`, tool: 'cache' };
      await this.ctx.db
        .insertInto('environment_builds')
        .values({
          id,
          spec_hash: hash,
          workspace_key: owner.workspaceKey,
          environment_id: owner.environmentId,
          status: 'Running',
          spec: JSON.stringify(spec),
          log: '',
          size_bytes: null,
          tool,
          created_at: Date.now(),
          finished_at: null,
        })
        .execute();
      const tmp = `${dir}.tmp-${crypto.randomBytes(4).toString('hex')}`;
      const started = Date.now();
      try {
        const reqFile = `${tmp}.requirements.txt`;
        await fsp.writeFile(reqFile, spec.requirements.join('\n') + '\n');
        try {
          if (this.uv) {
            log(`building with uv (${this.uv}) for spec ${hash}`);
            await run(
              this.uv,
              ['venv', '--relocatable', '--seed', ...(spec.python ? ['--python', spec.python] : []), tmp],
              log,
              opts.signal,
            );
            if (spec.requirements.length)
              await run(
                this.uv,
                ['pip', 'install', '--python', path.join(tmp, 'bin', 'python'), '-r', reqFile],
                log,
                opts.signal,
              );
          } else {
            log('uv was not found (ATELIER_UV, PATH): building with python3 -m venv and pip, which is slower');
            if (spec.python) log(`note: python ${spec.python} was asked for; venv uses this machine's python3`);
            await run('python3', ['-m', 'venv', tmp], log, opts.signal);
            if (spec.requirements.length)
              await run(path.join(tmp, 'bin', 'python'), ['-m', 'pip', 'install', '-r', reqFile], log, opts.signal);
          }
        } finally {
          await fsp.rm(reqFile, { force: true });
        }
        const sizeBytes = await sizeOf(tmp);
        await fsp.writeFile(
          path.join(tmp, MARKER),
          JSON.stringify({ spec, hash, tool, sizeBytes, builtAt: Date.now() }),
        );
        await fsp.rm(dir, { recursive: true, force: true });
        await fsp.rename(tmp, dir);
        log(`built in ${((Date.now() - started) / 1000).toFixed(1)} s (${(sizeBytes / 2 ** 20).toFixed(1)} MiB)`);
        await this.ctx.db
          .updateTable('environment_builds')
          .set({ status: 'Succeeded', log: lines.join('\n'), size_bytes: sizeBytes, finished_at: Date.now() })
          .where('id', '=', id)
          .execute();
        return { dir, log: lines.join('\n'), tool };
      } catch (e) {
        await fsp.rm(tmp, { recursive: true, force: true }).catch(() => {});
        log(`build failed: ${(e as Error).message}`);
        await this.ctx.db
          .updateTable('environment_builds')
          .set({ status: 'Failed', log: lines.join('\n'), finished_at: Date.now() })
          .where('id', '=', id)
          .execute();
        const tail = lines.slice(-30).join('\n');
        throw new AtelierError(`building the Python environment failed (build ${id}); the end of its log:\n${tail}`, {
          code: 'ENVIRONMENT_BUILD_FAILED',
        });
      }
    } finally {
      await release().catch(() => {});
    }
  }

  private toRecord(r: {
    id: string;
    spec_hash: string;
    environment_id: string;
    status: string;
    tool: string;
    log: string;
    size_bytes: number | null;
    created_at: number;
    finished_at: number | null;
    spec: string;
  }): BuildRecord {
    return {
      id: r.id,
      digest: `sha256:${r.spec_hash}`,
      environmentId: r.environment_id,
      status: r.status as BuildRecord['status'],
      tool: r.tool,
      log: r.log,
      sizeBytes: r.size_bytes === null ? null : Number(r.size_bytes),
      createdAt: Number(r.created_at),
      finishedAt: r.finished_at === null ? null : Number(r.finished_at),
      spec: JSON.parse(r.spec) as EnvironmentSpec,
    };
  }

  /** The workspace's build records, newest first (the seed's images). */
  async list(ws: WorkspaceInfo, top = 100): Promise<BuildRecord[]> {
    const rows = await this.ctx.db
      .selectFrom('environment_builds')
      .selectAll()
      .where('workspace_key', '=', ws.id.toLowerCase())
      .orderBy('created_at', 'desc')
      .limit(top)
      .execute();
    return rows.map((r) => this.toRecord(r));
  }

  async get(ws: WorkspaceInfo, id: string): Promise<BuildRecord> {
    const r = await this.ctx.db
      .selectFrom('environment_builds')
      .selectAll()
      .where('id', '=', id)
      .where('workspace_key', '=', ws.id.toLowerCase())
      .executeTakeFirst();
    if (!r) throw new NotFound(`no environment build '${id}' in workspace '${ws.name}'`);
    return this.toRecord(r);
  }
}
