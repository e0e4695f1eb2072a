import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { freePort } from '../../../free-port.js';
import { rankLogFile, type ExecutionResult, type ExecutionSpec, type Executor } from '../executor.js';

/**
 * The local executor: each rank is a child process of this server in a process group of its own
 * (`detached: true`), its stdout and stderr appended to its log file, its cwd the job's private work
 * folder. A small `/bin/sh` wrapper around the command records its exit code in the job's state
 * folder, so a restarted server that finds the ranks gone still learns how they ended; while they
 * live it reattaches by process id (checked against the process's start time, so a reused id is
 * not taken for the job).
 *
 * The wrapper shell traps TERM/INT/HUP with a no-op handler (handlers, unlike ignored signals, are
 * reset for the command it starts), so a SIGTERM to the group stops the command and the wrapper
 * still writes its exit code.
 */
const WRAPPER = `trap : TERM INT HUP
/bin/sh -c "$1"
c=$?
printf '%s' "$c" > "$2.tmp" && mv -f "$2.tmp" "$2"
exit $c`;

/** Grace between SIGTERM and SIGKILL when the executor itself stops a job (timeout, a failed sibling rank). */
const STOP_GRACE_MS = 5_000;

interface Handle {
  v: 1;
  stateDir: string;
  pids: number[];
  /** Start times (clock ticks since boot, /proc/<pid>/stat) of the ranks, where /proc exists. */
  starts: (number | null)[];
  /** Epoch ms past which the job is stopped and Failed (limits.timeout), and that limit. */
  deadline?: number;
  timeoutMs?: number;
}

interface RankExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface Live {
  exits: Promise<RankExit>[];
  children: { unref(): void }[];
  timer?: NodeJS.Timeout;
}

const CANCELED = 'canceled';
const TIMED_OUT = 'timed-out';

export class LocalExecutor implements Executor {
  readonly kind = 'local' as const;
  private readonly live = new Map<string, Live>();

  async start(spec: ExecutionSpec): Promise<{ handle: string }> {
    const n = spec.instanceCount;
    if (!Number.isInteger(n) || n < 1) throw new Error(`instanceCount must be a positive integer, got ${n}`);
    await fs.promises.mkdir(path.join(spec.logDir, 'user_logs'), { recursive: true });
    const bin = path.join(spec.stateDir, 'bin');
    await fs.promises.mkdir(bin, { recursive: true });
    // `python` and `python3` are the job's interpreter, whatever its own file is called. Small scripts
    // that exec it by its own path, not symlinks: a venv's Python finds its pyvenv.cfg from that path.
    // A bare name (`python3`) is resolved on the server's PATH first: the shims come first on the
    // job's PATH, and a shim that execs `python3` by name would exec itself forever.
    const python = absoluteExecutable(spec.python.pythonPath);
    for (const name of ['python', 'python3']) {
      const shim = path.join(bin, name);
      await fs.promises.rm(shim, { force: true });
      await fs.promises.writeFile(shim, `#!/bin/sh\nexec ${shellQuote(python)} "$@"\n`, {
        mode: 0o700,
      });
    }
    const envBin = spec.python.envDir ? `${path.join(spec.python.envDir, 'bin')}:` : '';
    const base: Record<string, string> = {
      PATH: `${bin}:${envBin}${process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin'}`,
    };
    for (const k of ['HOME', 'LANG', 'LC_ALL', 'TZ']) if (process.env[k]) base[k] = process.env[k]!;
    if (spec.python.envDir) base.VIRTUAL_ENV = spec.python.envDir;
    const masterPort = n > 1 ? await freePort() : 0;

    const pids: number[] = [];
    const starts: (number | null)[] = [];
    const exits: Promise<RankExit>[] = [];
    const children: { unref(): void }[] = [];
    const deadline = spec.timeoutMs ? Date.now() + spec.timeoutMs : undefined;
    const handle: Handle = {
      v: 1,
      stateDir: spec.stateDir,
      pids,
      starts,
      ...(deadline ? { deadline, timeoutMs: spec.timeoutMs } : {}),
    };
    try {
      for (let rank = 0; rank < n; rank++) {
        const env: Record<string, string> = {
          ...base,
          ...spec.env,
          RANK: String(rank),
          WORLD_SIZE: String(n),
          LOCAL_RANK: String(rank),
          LOCAL_WORLD_SIZE: String(n),
          NODE_RANK: '0',
          AZUREML_PROCESS_RANK: String(rank),
          OMPI_COMM_WORLD_RANK: String(rank),
          OMPI_COMM_WORLD_SIZE: String(n),
          ...(n > 1 ? { MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(masterPort) } : {}),
        };
        const fd = fs.openSync(path.join(spec.logDir, rankLogFile(rank, n)), 'a');
        try {
          const child = spawn('/bin/sh', ['-c', WRAPPER, 'atelier-job', spec.command, exitFile(spec.stateDir, rank)], {
            cwd: spec.workDir,
            env,
            detached: true,
            stdio: ['ignore', fd, fd],
          });
          if (child.pid === undefined) {
            const err = await new Promise<Error>((resolve) => child.once('error', resolve));
            throw new Error(`could not start rank ${rank}: ${err.message}`);
          }
          children.push(child);
          pids.push(child.pid);
          starts.push(processStart(child.pid));
          exits.push(new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal }))));
        } finally {
          fs.closeSync(fd);
        }
      }
    } catch (err) {
      for (const pid of pids) killGroup(pid, 'SIGKILL');
      throw err;
    }
    const key = spec.stateDir;
    const live: Live = { exits, children };
    this.live.set(key, live);
    const encoded = JSON.stringify(handle);
    // A rank that fails stops its siblings (the job has failed); the deadline stops them all.
    exits.forEach((e) =>
      e.then((x) => {
        if (x.code !== 0 && !fs.existsSync(path.join(key, CANCELED))) void this.stop(handle, null);
      }),
    );
    if (deadline) live.timer = setTimeout(() => void this.stop(handle, TIMED_OUT), deadline - Date.now());
    live.timer?.unref();
    void Promise.all(exits).then(() => {
      if (live.timer) clearTimeout(live.timer);
      this.live.delete(key);
    });
    return { handle: encoded };
  }

  async wait(handle: string, signal?: AbortSignal): Promise<ExecutionResult> {
    const h = parseHandle(handle);
    const live = this.live.get(h.stateDir);
    let codes: (number | null)[];
    if (live) {
      const all = Promise.all(live.exits);
      const ended = await abortable(all, signal);
      codes = ended.map((x) => (x.code === null ? null : x.code));
    } else {
      // Reattached (another process started it): poll the ranks, then read their recorded exit codes.
      let timer: NodeJS.Timeout | undefined;
      if (h.deadline) {
        timer = setTimeout(() => void this.stop(h, TIMED_OUT), Math.max(0, h.deadline - Date.now()));
        timer.unref();
      }
      try {
        while (this.anyAlive(h)) await abortable(sleep(200), signal);
      } finally {
        if (timer) clearTimeout(timer);
      }
      codes = h.pids.map((_, rank) => readExit(h.stateDir, rank));
    }
    const n = h.pids.length;
    if (fs.existsSync(path.join(h.stateDir, CANCELED))) return { outcome: 'Canceled', reason: 'the job was canceled' };
    if (fs.existsSync(path.join(h.stateDir, TIMED_OUT))) {
      const limit = fs.readFileSync(path.join(h.stateDir, TIMED_OUT), 'utf8');
      return {
        outcome: 'Failed',
        reason: `the job ran past its time limit (limits.timeout${limit ? ` = ${limit}` : ''}) and was stopped`,
      };
    }
    const failed = codes.findIndex((c) => c !== 0);
    if (failed < 0) return { outcome: 'Completed', exitCode: 0 };
    const code = codes[failed];
    const who = n > 1 ? `rank ${failed} ` : '';
    if (code === null || code === undefined)
      return { outcome: 'Failed', reason: `the ${who}process was killed before it could report its exit code` };
    if (code > 128)
      return { outcome: 'Failed', exitCode: code, reason: `the ${who}process was killed by signal ${code - 128}` };
    return { outcome: 'Failed', exitCode: code, reason: `the ${who}process exited with code ${code}` };
  }

  /**
   * Lets this process exit while ranks still run (server shutdown): they keep running in their own
   * process groups, and the next server reattaches to them.
   */
  detach(): void {
    for (const l of this.live.values()) {
      for (const c of l.children) c.unref();
      if (l.timer) clearTimeout(l.timer);
    }
    this.live.clear();
  }

  async cancel(handle: string, graceMs: number): Promise<void> {
    await this.stop(parseHandle(handle), CANCELED, graceMs);
  }

  async alive(handle: string): Promise<boolean> {
    return this.anyAlive(parseHandle(handle));
  }

  /** Stops every rank: SIGTERM to the groups, `graceMs`, SIGKILL; `marker` records why (canceled, timed out). */
  private async stop(h: Handle, marker: string | null, graceMs = STOP_GRACE_MS): Promise<void> {
    if (marker) {
      const limit = marker === TIMED_OUT && h.timeoutMs ? `${h.timeoutMs / 1000} s` : '';
      await fs.promises.writeFile(path.join(h.stateDir, marker), limit).catch(() => undefined);
    }
    for (const pid of h.pids) killGroup(pid, 'SIGTERM');
    const until = Date.now() + graceMs;
    while (this.anyAlive(h) && Date.now() < until) await sleep(25);
    // The group may outlive its leader (background children): SIGKILL it whatever the leader did.
    for (const pid of h.pids) killGroup(pid, 'SIGKILL');
    while (this.anyAlive(h)) await sleep(25);
  }

  private anyAlive(h: Handle): boolean {
    return h.pids.some((pid, i) => {
      if (readExitFileExists(h.stateDir, i) && !this.live.has(h.stateDir)) return false;
      try {
        process.kill(pid, 0);
      } catch {
        return false;
      }
      const start = h.starts[i];
      if (start === null || start === undefined) return true;
      const now = processStart(pid);
      // A zombie (ended, not yet reaped) counts as ended.
      return now === start && !isZombie(pid);
    });
  }
}

function shellQuote(v: string): string {
  return `'${v.replace(/'/g, `'\\''`)}'`;
}

function exitFile(stateDir: string, rank: number): string {
  return path.join(stateDir, `exit_${rank}`);
}

function readExitFileExists(stateDir: string, rank: number): boolean {
  return fs.existsSync(exitFile(stateDir, rank));
}

function readExit(stateDir: string, rank: number): number | null {
  try {
    const v = Number.parseInt(fs.readFileSync(exitFile(stateDir, rank), 'utf8'), 10);
    return Number.isFinite(v) ? v : null;
  } catch {
    return null;
  }
}

function parseHandle(handle: string): Handle {
  const h = JSON.parse(handle) as Handle;
  if (h?.v !== 1 || !Array.isArray(h.pids) || typeof h.stateDir !== 'string')
    throw new Error('not a handle of the local executor');
  return h;
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), or null where there is no /proc. */
function processStart(pid: number): number | null {
  const stat = procStat(pid);
  if (!stat) return null;
  const v = Number(stat[19]);
  return Number.isFinite(v) ? v : null;
}

function isZombie(pid: number): boolean {
  return procStat(pid)?.[0] === 'Z';
}

/** The fields of /proc/<pid>/stat after the command name (state first). */
function procStat(pid: number): string[] | null {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s
      .slice(s.lastIndexOf(')') + 2)
      .trim()
      .split(' ');
  } catch {
    return null;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function abortable<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** `name` as an absolute path: as given when it has a slash, else the first executable of that name on PATH. */
function absoluteExecutable(name: string): string {
  if (name.includes('/')) return path.resolve(name);
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  throw new Error(`the job's Python '${name}' is not on the server's PATH; give its absolute path`);
}
