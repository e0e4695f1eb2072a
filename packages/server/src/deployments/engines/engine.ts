/**
 * A serving engine runs the instances of one deployment and tells the balancing proxy where they
 * listen. `engines/local/` runs worker processes on this machine; a distributed engine (Ray Serve)
 * implements the same interface. The proxy (deployments/proxy/) knows nothing of processes.
 */

/** What a deployment's instances run: resolved by the deployment service before the engine starts. */
export interface DeploymentSpec {
  /** ARM id of the deployment (log and error messages). */
  deploymentId: string;
  /** `mlflow`: an MLflow model without code; `score`: a scoring script with init()/run(raw_data). */
  mode: 'mlflow' | 'score';
  /** Local folder of the model (AZUREML_MODEL_DIR). */
  modelDir: string;
  modelName: string;
  modelVersion: string;
  /** Folder of the code snapshot (the working directory) and the scoring script relative to it (mode `score`). */
  codeDir?: string;
  scoringScript?: string;
  /** The Python of the deployment's environment. */
  pythonPath: string;
  /** For engines that build environments themselves (Ray's runtime_env). */
  pipRequirements: string[];
  environmentVariables: Record<string, string>;
  /** sku.capacity: number of instances (with autoscaling, the number it starts with). */
  instanceCount: number;
  /**
   * scaleSettings `TargetUtilization`: the engine's autoscaler keeps between min and max instances,
   * aiming at `targetUtilization` % of each instance's concurrent requests, deciding every
   * `pollingIntervalS`. Only engines with an autoscaler get it (Ray Serve).
   */
  autoscale?: { minInstances: number; maxInstances: number; targetUtilization: number; pollingIntervalS: number };
  /** requestSettings.maxConcurrentRequestsPerInstance. */
  maxConcurrentPerInstance: number;
  livenessProbe: ProbeSettings;
  readinessProbe: ProbeSettings;
  /** What each instance reserves on a distributed engine (containerResourceRequests); its defaults when absent. */
  resources?: { cpu?: number; gpu?: number; memoryBytes?: number };
}

export interface ProbeSettings {
  initialDelayMs: number;
  periodMs: number;
  timeoutMs: number;
  failureThreshold: number;
  successThreshold: number;
}

/** One place requests can be sent to (an instance, or a distributed engine's ingress). */
export interface Upstream {
  /** `http://127.0.0.1:port` */
  origin: string;
  /** Put before each request's path: a Ray Serve application's route prefix (`/atelier-…`); none for a worker. */
  pathPrefix?: string;
  /** Requests it may run at once. */
  concurrency: number;
}

export interface DeploymentRuntime {
  /** The upstreams that pass their readiness probe now. */
  ready(): Upstream[];
  /** Called when the set of ready upstreams changes (the proxy drops pools of gone ones). */
  onChange(listener: () => void): void;
  /** The log (worker output and the engine's own lines); the last `tail` lines when given. */
  logs(tail?: number): Promise<string>;
  /** Stops every instance (in-flight requests end with 502); resolves when they are gone. */
  stop(): Promise<void>;
}

export interface ServingEngine {
  readonly kind: 'local' | 'ray-serve';
  /**
   * Starts the instances and resolves once all pass their readiness probe; rejects (having
   * stopped what it started) with the log tail when one fails to load its model.
   */
  start(spec: DeploymentSpec, opts: { logFile: string; signal?: AbortSignal }): Promise<DeploymentRuntime>;
}
