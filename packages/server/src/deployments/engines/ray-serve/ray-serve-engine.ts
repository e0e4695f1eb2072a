import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { InvalidInput } from '../../../errors.js';
import { packageWorkingDir } from '../../../jobs/executors/ray/working-dir-package.js';
import type { DeploymentRuntime, DeploymentSpec, ServingEngine, Upstream } from '../engine.js';
import { RayServeClient, type ServeAppConfig, type ServeAppDetails, type ServeDetails } from './ray-serve-client.js';
import { SERVE_APP_PY } from './serve-app-source.js';
import { logLines, writtenOut } from '../../logs.js';

/**
 * The Ray Serve engine: a deployment becomes one Serve application on a Ray cluster, its instances
 * Serve replicas (`num_replicas` = sku.capacity, `max_ongoing_requests` = requests per instance).
 * - What the replicas need goes up as one content-addressed package (the engine's Serve app, the
 *   worker the local engine runs, the model, the code): `runtime_env.working_dir`; the environment's
 *   pip requirements are `runtime_env.pip`, its variables `env_vars`.
 * - The application is added to (and later removed from) the cluster's declarative Serve config
 *   under a lock per cluster, the other applications kept as the cluster reports them.
 * - Readiness: the application RUNNING with replicas RUNNING; DEPLOY_FAILED rejects the start with
 *   Serve's message (the worker's last lines). While it runs, the cluster is polled and the proxy
 *   told when the application stops or starts being ready.
 * - The proxy sends requests to Serve's HTTP ingress with the application's route prefix
 *   (`Upstream.pathPrefix`); Serve spreads them over the replicas.
 * - Logs: the engine's own lines (the deployment's log file) and each replica's Serve log, read
 *   through Ray's state API.
 */

export interface RayServeEngineOptions {
  /** The cluster's dashboard (Jobs, Serve and state APIs), http://host:8265. */
  dashboardUrl: string;
  /** The worker each replica runs (the local engine's worker source). */
  workerSource: string;
  /** Port of Serve's HTTP ingress when this engine starts Serve (default 8000; a running Serve keeps its own). */
  httpPort?: number;
  /** CPUs each replica reserves (default 1). */
  replicaCpus?: number;
  /** How often a running deployment's state is read (default 2 s; while starting, 500 ms). */
  pollMs?: number;
  /** Longest start (package upload, pip environment, model load): default 15 minutes. */
  startTimeoutMs?: number;
  /** Folder for the package staging (default the OS temporary folder). */
  tmpDir?: string;
  /**
   * How many replica constructors (model loads) may fail before Serve gives the application up as
   * DEPLOY_FAILED (Serve's `max_constructor_retry_count`); default Serve's own (3 per replica, at
   * most 20). The tests set 1: a model that cannot load fails on its first attempt.
   */
  constructorRetries?: number;
}

const ENGINE_LOG_TAIL = 200;
/** One read-modify-write of a cluster's Serve config at a time (per cluster address). */
const locks = new Map<string, Promise<unknown>>();

export class RayServeEngine implements ServingEngine {
  readonly kind = 'ray-serve' as const;
  readonly client: RayServeClient;
  private readonly o: Required<Omit<RayServeEngineOptions, 'tmpDir' | 'constructorRetries'>> &
    Pick<RayServeEngineOptions, 'constructorRetries'> & { tmpDir: string };

  constructor(opts: RayServeEngineOptions) {
    this.client = new RayServeClient(opts.dashboardUrl);
    this.o = {
      httpPort: 8000,
      replicaCpus: 1,
      pollMs: 2_000,
      startTimeoutMs: 15 * 60_000,
      tmpDir: os.tmpdir(),
      ...opts,
    };
  }

  /** The Serve application of a deployment: one per deployment id (a redeploy replaces it). */
  appName(deploymentId: string): string {
    return `atelier-${crypto.createHash('sha256').update(deploymentId.toLowerCase()).digest('hex').slice(0, 20)}`;
  }

  async start(spec: DeploymentSpec, opts: { logFile: string; signal?: AbortSignal }): Promise<DeploymentRuntime> {
    const name = this.appName(spec.deploymentId);
    // Each start owns the configuration it puts: an update replaces the application in place (same
    // route), and the runtime it replaces removes the application only while it is still its own.
    const startId = crypto.randomUUID();
    const runtime = new RayServeRuntime(this, name, spec, opts.logFile, startId);
    runtime.line(
      `deploying ${spec.deploymentId} to Ray Serve at ${this.client.base} as application ${name} (${spec.autoscale ? `${spec.autoscale.minInstances}–${spec.autoscale.maxInstances} replica(s), autoscaled at ${spec.autoscale.targetUtilization}% of ${spec.maxConcurrentPerInstance} request(s) each` : `${spec.instanceCount} replica(s)`})`,
    );
    const pkg = await this.stage(spec);
    if (!(await this.client.packageExists(pkg.uri))) {
      runtime.line(`uploading ${pkg.files} file(s), ${pkg.zip.length} bytes (${pkg.uri})`);
      await this.client.uploadPackage(pkg.uri, pkg.zip);
    }
    const app: ServeAppConfig = {
      name,
      route_prefix: `/${name}`,
      import_path: 'atelier_serve:build',
      runtime_env: {
        working_dir: pkg.uri,
        ...(spec.pipRequirements.length ? { pip: spec.pipRequirements } : {}),
        env_vars: { ...spec.environmentVariables },
      },
      args: {
        settings: {
          mode: spec.mode,
          model_dir: 'model',
          model_name: spec.modelName,
          model_version: spec.modelVersion,
          ...(spec.codeDir ? { code_dir: 'code', scoring_script: spec.scoringScript ?? '' } : {}),
          start_timeout_s: Math.ceil(this.o.startTimeoutMs / 1000),
          start: startId,
        },
        deployment: {
          // Autoscaling is Ray Serve's own: the target is the share of max_ongoing_requests Azure's
          // targetUtilizationPercentage names; it decides over and after each polling interval.
          ...(spec.autoscale
            ? {
                autoscaling_config: {
                  min_replicas: spec.autoscale.minInstances,
                  max_replicas: spec.autoscale.maxInstances,
                  initial_replicas: Math.min(
                    spec.autoscale.maxInstances,
                    Math.max(spec.autoscale.minInstances, spec.instanceCount),
                  ),
                  target_ongoing_requests: (spec.maxConcurrentPerInstance * spec.autoscale.targetUtilization) / 100,
                  look_back_period_s: spec.autoscale.pollingIntervalS,
                  upscale_delay_s: spec.autoscale.pollingIntervalS,
                  downscale_delay_s: spec.autoscale.pollingIntervalS,
                },
              }
            : { num_replicas: spec.instanceCount }),
          max_ongoing_requests: spec.maxConcurrentPerInstance,
          ...(this.o.constructorRetries ? { max_constructor_retry_count: this.o.constructorRetries } : {}),
          ray_actor_options: {
            num_cpus: spec.resources?.cpu ?? this.o.replicaCpus,
            ...(spec.resources?.gpu ? { num_gpus: spec.resources.gpu } : {}),
            ...(spec.resources?.memoryBytes ? { memory: spec.resources.memoryBytes } : {}),
          },
          health_check_period_s: Math.max(1, spec.livenessProbe.periodMs / 1000),
          health_check_timeout_s: Math.max(1, spec.livenessProbe.timeoutMs / 1000),
        },
      },
    };
    await this.update((apps) => [...apps.filter((a) => a.name !== name), app]);
    try {
      await runtime.waitReady(opts.signal);
    } catch (e) {
      await runtime.stop().catch(() => undefined);
      throw e;
    }
    runtime.line('every replica is ready');
    runtime.watch();
    return runtime;
  }

  /** Reads the cluster's applications, changes the list, writes it back: one change at a time per cluster. */
  async update(change: (apps: ServeAppConfig[]) => ServeAppConfig[]): Promise<void> {
    const key = this.client.base;
    const prev = locks.get(key) ?? Promise.resolve();
    const run = prev
      .catch(() => undefined)
      .then(async () => {
        const d = await this.client.details();
        const apps = Object.values(d.applications)
          .filter((a) => a.status !== 'DELETING')
          .map((a) => a.deployed_app_config)
          .filter((c): c is ServeAppConfig => !!c);
        const next = change(apps);
        await this.client.putAll(next, { host: this.httpHost(), port: d.http_options?.port ?? this.o.httpPort });
      });
    locks.set(key, run);
    try {
      await run;
    } finally {
      if (locks.get(key) === run) locks.delete(key);
    }
  }

  /** Serve's ingress as the proxy reaches it: the dashboard's host, Serve's port. */
  ingress(d: ServeDetails): string {
    const u = new URL(this.client.base);
    return `http://${u.hostname}:${d.http_options?.port ?? this.o.httpPort}`;
  }

  /** Serve listens on loopback for a cluster on this machine, on every interface otherwise. */
  private httpHost(): string {
    const h = new URL(this.client.base).hostname;
    return h === '127.0.0.1' || h === 'localhost' || h === '[::1]' ? '127.0.0.1' : '0.0.0.0';
  }

  get options(): Readonly<Required<Omit<RayServeEngineOptions, 'tmpDir' | 'constructorRetries'>>> {
    return this.o;
  }

  /** The package of a deployment: the Serve app, the worker, `model/` and `code/`. */
  private async stage(spec: DeploymentSpec) {
    await fs.promises.mkdir(this.o.tmpDir, { recursive: true });
    const dir = await fs.promises.mkdtemp(path.join(this.o.tmpDir, 'atelier-serve-'));
    try {
      await fs.promises.writeFile(path.join(dir, 'atelier_serve.py'), SERVE_APP_PY);
      await fs.promises.writeFile(path.join(dir, 'atelier_worker.py'), this.o.workerSource);
      await fs.promises.cp(spec.modelDir, path.join(dir, 'model'), { recursive: true });
      if (spec.codeDir) await fs.promises.cp(spec.codeDir, path.join(dir, 'code'), { recursive: true });
      return await packageWorkingDir(dir);
    } finally {
      await fs.promises.rm(dir, { recursive: true, force: true });
    }
  }
}

class RayServeRuntime implements DeploymentRuntime {
  private upstreams: Upstream[] = [];
  private readonly listeners: (() => void)[] = [];
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private readonly log: fs.WriteStream;

  constructor(
    private readonly engine: RayServeEngine,
    private readonly name: string,
    private readonly spec: DeploymentSpec,
    private readonly logFile: string,
    private readonly startId: string,
  ) {
    fs.mkdirSync(path.dirname(logFile), { recursive: true });
    this.log = fs.createWriteStream(logFile, { flags: 'a' });
  }

  line(text: string): void {
    logLines(this.log, '[atelier]', text);
  }

  ready(): Upstream[] {
    return this.upstreams;
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** Polls until the application runs (resolves) or fails to deploy (rejects with Serve's message). */
  async waitReady(signal?: AbortSignal): Promise<void> {
    const until = Date.now() + this.engine.options.startTimeoutMs;
    let last = '';
    for (;;) {
      if (signal?.aborted)
        throw new InvalidInput('the deployment was stopped while it started', { code: 'ONLINE_DEPLOYMENT_FAILED' });
      const d = await this.engine.client.details();
      const app = d.applications[this.name];
      const status = app?.status ?? 'NOT_STARTED';
      if (status !== last) this.line(`Serve application ${this.name}: ${status}`);
      last = status;
      // Until Serve has taken this start's configuration, its status is the previous one's.
      const mine = !!app && startOf(app.deployed_app_config) === this.startId;
      if (mine && status === 'RUNNING' && this.apply(d)) return;
      if (mine && status === 'DEPLOY_FAILED') {
        const why = failureMessage(app);
        this.line(why);
        throw new InvalidInput(`the deployment failed to start on Ray Serve: ${why}`, {
          code: 'ONLINE_DEPLOYMENT_FAILED',
        });
      }
      if (Date.now() > until)
        throw new InvalidInput(
          `the deployment did not start on Ray Serve within ${Math.round(this.engine.options.startTimeoutMs / 60_000)} minutes (last status ${status})`,
          { code: 'ONLINE_DEPLOYMENT_FAILED' },
        );
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  /** Keeps the ready upstreams in step with the cluster (a replica lost, the application unhealthy). */
  watch(): void {
    const tick = async () => {
      if (this.stopped) return;
      try {
        this.apply(await this.engine.client.details());
      } catch (e) {
        // An unreachable cluster: nothing is known to be ready there.
        if (this.upstreams.length) this.line(`Ray Serve could not be read: ${(e as Error).message}`);
        this.set([]);
      }
      if (!this.stopped) this.timer = setTimeout(() => void tick(), this.engine.options.pollMs);
      this.timer?.unref();
    };
    this.timer = setTimeout(() => void tick(), this.engine.options.pollMs);
    this.timer.unref();
  }

  /** Takes the application's state; true when it has running replicas. */
  private apply(d: ServeDetails): boolean {
    if (this.stopped) return false;
    const app = d.applications[this.name];
    const running = app
      ? Object.values(app.deployments).reduce(
          (n, dep) => n + (dep.replicas ?? []).filter((r) => r.state === 'RUNNING').length,
          0,
        )
      : 0;
    const ok = !!app && (app.status === 'RUNNING' || app.status === 'UNHEALTHY') && running > 0;
    this.set(
      ok
        ? [
            {
              origin: this.engine.ingress(d),
              pathPrefix: `/${this.name}`,
              concurrency: running * this.spec.maxConcurrentPerInstance,
            },
          ]
        : [],
    );
    return ok;
  }

  private set(next: Upstream[]): void {
    if (JSON.stringify(next) === JSON.stringify(this.upstreams)) return;
    this.upstreams = next;
    for (const l of this.listeners) l();
  }

  async logs(tail?: number): Promise<string> {
    const n = tail ?? ENGINE_LOG_TAIL;
    const parts: string[] = [];
    // Every line logged so far included: the stream may not have written them yet.
    await writtenOut(this.log);
    try {
      parts.push(fs.readFileSync(this.logFile, 'utf8'));
    } catch {
      // no engine lines yet
    }
    try {
      const app = (await this.engine.client.details()).applications[this.name];
      for (const dep of Object.values(app?.deployments ?? {}))
        for (const r of dep.replicas ?? []) {
          if (!r.log_file_path) continue;
          const text = await this.engine.client.logFile(r.node_id, r.log_file_path, n).catch(() => '');
          parts.push(
            text
              .split('\n')
              .filter(Boolean)
              .map((l) => `[replica-${r.replica_id}] ${l}\n`)
              .join(''),
          );
        }
    } catch (e) {
      parts.push(`[atelier] the replicas' logs could not be read from Ray: ${(e as Error).message}\n`);
    }
    const lines = parts.join('').split('\n').filter(Boolean);
    return lines.slice(-n).join('\n') + (lines.length ? '\n' : '');
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.set([]);
    let removed = false;
    await this.engine.update((apps) =>
      apps.filter((a) => {
        const own = a.name === this.name && startOf(a) === this.startId;
        removed ||= own;
        return !own;
      }),
    );
    if (!removed) {
      // A later start (an update, or another replica of the server) owns the application now.
      this.line(`Serve application ${this.name} left to the start that replaced this one`);
      await new Promise<void>((r) => this.log.end(r));
      return;
    }
    // Serve deletes the application's replicas asynchronously: wait until it is gone.
    const until = Date.now() + 60_000;
    while (Date.now() < until) {
      const d = await this.engine.client.details().catch(() => null);
      if (!d || !d.applications[this.name]) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    this.line(`Serve application ${this.name} removed`);
    await new Promise<void>((r) => this.log.end(r));
  }
}

function failureMessage(app: ServeAppDetails): string {
  const msgs = [app.message ?? '', ...Object.values(app.deployments).map((d) => d.message ?? '')].filter(Boolean);
  const text = msgs.join('\n').trim() || 'Ray Serve gave no reason';
  return text.split('\n').slice(-30).join('\n');
}

/** The start that put an application's configuration (`args.settings.start`). */
function startOf(c: ServeAppConfig | null | undefined): string | undefined {
  const settings = (c?.args as { settings?: { start?: unknown } } | undefined)?.settings;
  return typeof settings?.start === 'string' ? settings.start : undefined;
}
