import fs from 'node:fs';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DeploymentRuntime, DeploymentSpec, ProbeSettings, ServingEngine, Upstream } from '../engine.js';
import { InvalidInput } from '../../../errors.js';
import { WORKER_PY } from './worker-source.js';
import { logLines, tailFile, writtenOut } from '../../logs.js';

/** Longest a worker may take to load its model and listen. */
const START_TIMEOUT_MS = 10 * 60_000;
/** Restart back-off of a crashed instance: 0.5 s doubling to 30 s (reset after a minute of health). */
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 30_000;
/** The log file is cut to its last MiB when it grows past this at a start. */
const LOG_MAX_BYTES = 8 * 1024 * 1024;

/**
 * The local engine: `sku.capacity` worker processes of the deployment's Python on this machine,
 * each listening on its own 127.0.0.1 port (worker-source.ts). Readiness probes gate traffic,
 * liveness probes restart a hung worker, and a worker that exits is restarted (its in-flight
 * requests end with 502 at the proxy, which sees the connection close). Each worker is its own
 * process group, so stopping it takes whatever it started along.
 */
export class LocalEngine implements ServingEngine {
  readonly kind = 'local' as const;
  private readonly workerFile: string;

  constructor(servingDir: string) {
    fs.mkdirSync(servingDir, { recursive: true });
    this.workerFile = path.join(servingDir, 'atelier_worker.py');
    // Written each start (the server's version of the worker wins), atomically.
    const tmp = `${this.workerFile}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, WORKER_PY);
    fs.renameSync(tmp, this.workerFile);
  }

  async start(spec: DeploymentSpec, opts: { logFile: string; signal?: AbortSignal }): Promise<DeploymentRuntime> {
    trimLog(opts.logFile);
    const runtime = new LocalRuntime(spec, this.workerFile, opts.logFile);
    try {
      await runtime.startAll(opts.signal);
    } catch (e) {
      await runtime.stop();
      throw e;
    }
    return runtime;
  }
}

function trimLog(file: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  try {
    const st = fs.statSync(file);
    if (st.size <= LOG_MAX_BYTES) return;
    const keep = Buffer.alloc(1024 * 1024);
    const fd = fs.openSync(file, 'r');
    fs.readSync(fd, keep, 0, keep.length, st.size - keep.length);
    fs.closeSync(fd);
    fs.writeFileSync(file, keep);
  } catch {
    // no log yet
  }
}

class Instance {
  proc?: ChildProcess;
  port?: number;
  ready = false;
  failures = 0;
  successes = 0;
  restarts = 0;
  probeTimer?: NodeJS.Timeout;
  healthySince = 0;
  /** When its worker process was started (epoch ms). */
  startedAt = 0;
  constructor(readonly index: number) {}
}

/**
 * Milliseconds until an instance's first liveness probe, once it is ready: the probe's
 * `initialDelay` counts from the worker's start (Kubernetes' initialDelaySeconds), and a probe comes
 * no sooner than one `period` after readiness.
 */
export function firstLivenessDelay(
  p: Pick<ProbeSettings, 'initialDelayMs' | 'periodMs'>,
  startedAt: number,
  now: number,
): number {
  return Math.max(p.periodMs, startedAt + p.initialDelayMs - now);
}

class LocalRuntime implements DeploymentRuntime {
  private readonly instances: Instance[];
  private readonly listeners: (() => void)[] = [];
  private readonly log: fs.WriteStream;
  private stopping = false;
  private upstreams: Upstream[] = [];

  constructor(
    private readonly spec: DeploymentSpec,
    private readonly workerFile: string,
    private readonly logFile: string,
  ) {
    this.instances = Array.from({ length: spec.instanceCount }, (_, i) => new Instance(i));
    this.log = fs.createWriteStream(logFile, { flags: 'a' });
  }

  private line(instance: number | undefined, text: string): void {
    logLines(this.log, instance === undefined ? '[atelier]' : `[instance-${instance}]`, text);
  }

  ready(): Upstream[] {
    return this.upstreams;
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  private changed(): void {
    this.upstreams = this.instances
      .filter((i) => i.ready && i.port)
      .map((i) => ({ origin: `http://127.0.0.1:${i.port}`, concurrency: this.spec.maxConcurrentPerInstance }));
    for (const l of this.listeners) l();
  }

  /** The log's last lines, every line logged so far included (the stream may not have written them yet). */
  async logs(tail?: number): Promise<string> {
    await writtenOut(this.log);
    return tailFile(this.logFile, tail);
  }

  async startAll(signal?: AbortSignal): Promise<void> {
    this.line(
      undefined,
      `starting ${this.spec.instanceCount} instance(s) of ${this.spec.deploymentId.split('/').pop()}`,
    );
    await Promise.all(this.instances.map((i) => this.startInstance(i, signal)));
    this.line(undefined, 'every instance is ready');
  }

  /** Starts one worker and resolves when it passes its readiness probe (rejects if it exits first). */
  private startInstance(inst: Instance, signal?: AbortSignal): Promise<void> {
    const s = this.spec;
    const env: Record<string, string> = {
      ...pickEnv(process.env),
      ...s.environmentVariables,
      AZUREML_MODEL_DIR: s.modelDir,
      ATELIER_WORKER_MODE: s.mode,
      ATELIER_MODEL_NAME: s.modelName,
      ATELIER_MODEL_VERSION: s.modelVersion,
      ATELIER_SCORING_SCRIPT: s.scoringScript && s.codeDir ? path.join(s.codeDir, s.scoringScript) : '',
      PYTHONUNBUFFERED: '1',
    };
    const proc = spawn(s.pythonPath, [this.workerFile], {
      cwd: s.codeDir ?? s.modelDir,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    inst.proc = proc;
    inst.startedAt = Date.now();
    inst.port = undefined;
    inst.ready = false;
    // 'close' comes once the worker's output is read to its end; its 'exit' can come before that.
    const outputRead = new Promise<void>((resolve) => proc.once('close', () => resolve()));
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const fail = (why: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        // The tail is read once the worker's last lines (the traceback it wrote before exiting) have
        // been read from its pipes (at most 2 s more); logs() waits for the stream to write them.
        void Promise.race([outputRead, sleep(2_000, undefined, { ref: false })])
          .then(() => this.logs(30))
          .then((tail) =>
            reject(
              new InvalidInput(`${why}. The log's last lines:\n${tail}`, {
                code: 'ONLINE_DEPLOYMENT_FAILED',
              }),
            ),
          );
      };
      const ok = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        killGroup(proc);
        fail('the deployment was stopped while it started');
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const timer = setTimeout(() => {
        killGroup(proc);
        fail(`instance ${inst.index} did not load its model within ${START_TIMEOUT_MS / 60_000} minutes`);
      }, START_TIMEOUT_MS);
      timer.unref();
      let buffered = '';
      proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
        buffered += chunk;
        let nl;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const l = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          const m = /^ATELIER_WORKER_LISTENING (\d+)$/.exec(l.trim());
          if (m && inst.port === undefined) {
            inst.port = Number(m[1]);
            this.line(inst.index, `listening on 127.0.0.1:${inst.port}`);
            this.probe(inst, 'readiness', s.readinessProbe, ok);
          } else this.line(inst.index, l);
        }
      });
      proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => this.line(inst.index, chunk));
      proc.on('error', (e) => {
        this.line(inst.index, `could not start ${s.pythonPath}: ${e.message}`);
        fail(`instance ${inst.index} could not start ${s.pythonPath}: ${e.message}`);
      });
      proc.on('exit', (code, sig) => {
        clearTimeout(inst.probeTimer);
        const wasReady = inst.ready;
        inst.ready = false;
        inst.port = undefined;
        if (wasReady) this.changed();
        if (this.stopping) return;
        this.line(inst.index, `exited (${sig ? `signal ${sig}` : `code ${code}`})`);
        if (!settled) {
          fail(
            code === 3
              ? `the model failed to load in instance ${inst.index}`
              : `instance ${inst.index} exited before it was ready (${sig ? `signal ${sig}` : `code ${code}`})`,
          );
          return;
        }
        // A crash after it served: restart with back-off.
        if (Date.now() - inst.healthySince > 60_000) inst.restarts = 0;
        const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** inst.restarts++);
        this.line(inst.index, `restarting in ${delay} ms`);
        const t = setTimeout(() => {
          if (this.stopping) return;
          this.startInstance(inst).catch((e) => this.line(inst.index, (e as Error).message.split('\n')[0]!));
        }, delay);
        t.unref();
      });
    });
  }

  /**
   * Probes GET /ping: `readiness` until `successThreshold` successes (then the instance takes
   * traffic and liveness takes over); `liveness` kills the worker after `failureThreshold` failures
   * in a row (the exit handler restarts it).
   */
  private probe(inst: Instance, kind: 'readiness' | 'liveness', p: ProbeSettings, onReady?: () => void): void {
    const proc = inst.proc;
    inst.successes = 0;
    inst.failures = 0;
    const tick = async () => {
      if (this.stopping || inst.proc !== proc || inst.port === undefined) return;
      let healthy: boolean;
      try {
        // Loaded on first use: a server that serves no deployment does not hold undici.
        const { request } = await import('undici');
        const r = await request(`http://127.0.0.1:${inst.port}/ping`, {
          signal: AbortSignal.timeout(p.timeoutMs),
        });
        await r.body.dump();
        healthy = r.statusCode === 200;
      } catch {
        healthy = false;
      }
      if (this.stopping || inst.proc !== proc) return;
      if (healthy) {
        inst.failures = 0;
        inst.successes++;
        if (kind === 'readiness' && inst.successes >= p.successThreshold) {
          inst.ready = true;
          inst.healthySince = Date.now();
          this.changed();
          onReady?.();
          this.probe(inst, 'liveness', this.spec.livenessProbe);
          return;
        }
      } else {
        inst.successes = 0;
        inst.failures++;
        if (kind === 'liveness' && inst.failures >= p.failureThreshold) {
          this.line(inst.index, `liveness probe failed ${inst.failures} times; restarting`);
          killGroup(proc!);
          return;
        }
      }
      inst.probeTimer = setTimeout(
        () => void tick(),
        kind === 'readiness' && !healthy ? Math.min(p.periodMs, 100) : p.periodMs,
      );
      inst.probeTimer.unref();
    };
    inst.probeTimer = setTimeout(
      () => void tick(),
      kind === 'readiness' ? p.initialDelayMs : firstLivenessDelay(p, inst.startedAt, Date.now()),
    );
    inst.probeTimer.unref();
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const exits = this.instances.map((inst) => {
      clearTimeout(inst.probeTimer);
      const proc = inst.proc;
      inst.ready = false;
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
      return new Promise<void>((resolve) => {
        proc.once('exit', () => resolve());
        killGroup(proc, 'SIGTERM');
        const t = setTimeout(() => killGroup(proc, 'SIGKILL'), 3_000);
        t.unref();
      });
    });
    this.changed();
    await Promise.all(exits);
    this.line(undefined, 'stopped');
    await new Promise<void>((resolve) => this.log.end(resolve));
  }
}

function killGroup(proc: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (proc.pid === undefined) return;
  try {
    process.kill(-proc.pid, signal);
  } catch {
    try {
      proc.kill(signal);
    } catch {
      // gone
    }
  }
}

/** The server's environment passed on to workers: only what a Python process needs, never Atelier's own settings. */
function pickEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TMPDIR', 'TZ', 'SSL_CERT_FILE', 'REQUESTS_CA_BUNDLE']) {
    if (env[k]) out[k] = env[k]!;
  }
  return out;
}
