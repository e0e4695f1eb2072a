import { NotFoundError, ServiceError, ValidationError } from '../errors.js';
import { linkOf, type HasServiceContext, type WorkspaceLink } from '../assets/link.js';
import type { OperationProgress } from '../http/client.js';
import type * as C from '@atelier/contracts';

/** A registered model version to serve: the SDK's `Model`, or `{name, version}`. */
export interface ModelVersionRef {
  name: string;
  version: number | string;
}

/**
 * How the service runs its model (the seed's `InferenceConfig`). Without one, an MLflow model is
 * served with MLflow's scoring contract. With one: `entryScript` (Azure's `init()`/`run(raw_data)`)
 * from the code asset `codeId`, in `environmentId` (`azureml:name:version` or an ARM id); without
 * `environmentId`, in the server's serving Python (ATELIER_SERVING_PYTHON) with the model's own
 * requirements, as the server allows for an MLflow model.
 */
export interface InferenceConfig {
  entryScript: string;
  codeId: string;
  environmentId?: string;
}

/** Where and how big (the seed's `deploy_configuration`). */
export interface DeploymentConfig {
  /** Instances (worker processes), 1–32; default 1. */
  instanceCount?: number;
  /** Token authentication (`AMLToken`) instead of keys (the default). */
  tokenAuthEnabled?: boolean;
  /** Requests each instance runs at once; default 1. */
  maxConcurrentRequestsPerInstance?: number;
  /** Longest a request may take (ms); default 5000. */
  requestTimeoutMs?: number;
  /** Longest a request waits for a free instance before 429 (ms); default 500. */
  maxQueueWaitMs?: number;
  environmentVariables?: Record<string, string>;
  description?: string;
  tags?: Record<string, string>;
}

export interface DeployOptions {
  /** Replace a service of this name (default: refuse, as the seed does). */
  overwrite?: boolean;
  onProgress?: (p: OperationProgress) => void;
}

/** The deployment a v1 web service runs: one per endpoint, with all its traffic. */
export const WEBSERVICE_DEPLOYMENT = 'default';

const NAME = /^[a-zA-Z][a-zA-Z0-9-]{1,30}[a-zA-Z0-9]$/;
const duration = (ms: number, target: string) => {
  if (!Number.isFinite(ms) || ms < 0)
    throw new ValidationError(`${target} must be a number of milliseconds`, { target });
  return `PT${ms / 1000}S`;
};

function deploymentBody(
  link: WorkspaceLink,
  models: ModelVersionRef[],
  inference: InferenceConfig | undefined,
  config: DeploymentConfig,
): Record<string, unknown> {
  if (!Array.isArray(models) || models.length === 0)
    throw new ValidationError('models must name one registered model version', { target: 'models' });
  if (models.length > 1)
    throw new ValidationError(
      'a web service serves one model here; deploy one service per model (or load the others from its scoring script)',
      { target: 'models' },
    );
  const m = models[0]!;
  const properties: Record<string, unknown> = {
    endpointComputeType: 'Managed',
    model: `${link.id}/models/${encodeURIComponent(m.name)}/versions/${encodeURIComponent(String(m.version))}`,
    environmentVariables: config.environmentVariables ?? {},
    requestSettings: {
      maxConcurrentRequestsPerInstance: config.maxConcurrentRequestsPerInstance ?? 1,
      requestTimeout: duration(config.requestTimeoutMs ?? 5000, 'requestTimeoutMs'),
      maxQueueWait: duration(config.maxQueueWaitMs ?? 500, 'maxQueueWaitMs'),
    },
  };
  if (config.description) properties.description = config.description;
  if (inference) {
    properties.codeConfiguration = { codeId: inference.codeId, scoringScript: inference.entryScript };
    if (inference.environmentId) properties.environmentId = inference.environmentId;
  }
  return { location: 'local', sku: { name: 'Default', capacity: config.instanceCount ?? 1 }, properties };
}

/**
 * A deployed model behind a scoring URI (the seed's `Webservice`): an online endpoint of the
 * workspace and its one deployment (`default`). `run` scores with the endpoint's key or token.
 */
export class Webservice {
  private body: C.OnlineEndpoint;
  private readonly link: WorkspaceLink;

  private constructor(link: WorkspaceLink, body: C.OnlineEndpoint) {
    this.link = link;
    this.body = body;
  }

  get name(): string {
    return this.body.name;
  }
  get id(): string {
    return this.body.id;
  }
  get scoringUri(): string {
    return String(this.body.properties.scoringUri);
  }
  get swaggerUri(): string {
    return String(this.body.properties.swaggerUri);
  }
  /** `Key` or `AMLToken`. */
  get authMode(): string {
    return this.body.properties.authMode;
  }
  get tags(): Record<string, string> {
    return this.body.tags ?? {};
  }
  /** The deployment's provisioning state (`Succeeded`, `Failed`, …) as of the last refresh. */
  state?: string;

  private get path(): string {
    return `${this.link.id}/onlineEndpoints/${encodeURIComponent(this.name)}`;
  }

  /**
   * Deploys `models` as the web service `name` (the seed's `Model.deploy`): an endpoint, its
   * deployment `default` with all the traffic; resolves once the instances are ready (or throws
   * with the log's tail when the model does not load).
   */
  static async deploy(
    ws: HasServiceContext | WorkspaceLink,
    name: string,
    models: ModelVersionRef[],
    inferenceConfig?: InferenceConfig,
    deploymentConfig: DeploymentConfig = {},
    opts: DeployOptions = {},
  ): Promise<Webservice> {
    const link = linkOf(ws);
    if (!NAME.test(name))
      throw new ValidationError(
        `service name '${name}' must be 3–32 letters, digits and '-', starting with a letter and not ending with '-'`,
        { target: 'name' },
      );
    const body = deploymentBody(link, models, inferenceConfig, deploymentConfig);
    const ep = `${link.id}/onlineEndpoints/${encodeURIComponent(name)}`;
    const exists = await link.client.request('GET', ep, { what: `get service '${name}'` }).then(
      () => true,
      (e) => {
        if (e instanceof NotFoundError) return false;
        throw e;
      },
    );
    if (exists && !opts.overwrite)
      throw new ValidationError(`a service '${name}' exists already; pass overwrite: true to replace it`, {
        target: 'name',
      });
    if (!exists)
      await link.client.request('PUT', ep, {
        body: {
          location: 'local',
          tags: deploymentConfig.tags ?? {},
          properties: { authMode: deploymentConfig.tokenAuthEnabled ? 'AMLToken' : 'Key' },
        },
        what: `create service '${name}'`,
      });
    const d = `${ep}/deployments/${WEBSERVICE_DEPLOYMENT}`;
    const put = await link.client.request('PUT', d, { body, what: `deploy service '${name}'` });
    await link.client.waitFor(put, 'PUT', d, { what: `deploy service '${name}'`, onProgress: opts.onProgress });
    await link.client.request('PATCH', ep, {
      body: { properties: { traffic: { [WEBSERVICE_DEPLOYMENT]: 100 } } },
      what: `route service '${name}'`,
    });
    return Webservice.get(link, name);
  }

  /** A web service of the workspace by name. */
  static async get(ws: HasServiceContext | WorkspaceLink, name: string): Promise<Webservice> {
    const link = linkOf(ws);
    const r = await link.client.request<C.OnlineEndpoint>(
      'GET',
      `${link.id}/onlineEndpoints/${encodeURIComponent(name)}`,
      { what: `get service '${name}'` },
    );
    const s = new Webservice(link, r.body);
    await s.refreshState();
    return s;
  }

  /** Every web service (online endpoint) of the workspace. */
  static async list(ws: HasServiceContext | WorkspaceLink): Promise<Webservice[]> {
    const link = linkOf(ws);
    const out: Webservice[] = [];
    for await (const b of link.client.list<C.OnlineEndpoint>(`${link.id}/onlineEndpoints`, { what: 'list services' }))
      out.push(new Webservice(link, b));
    for (const s of out) await s.refreshState();
    return out;
  }

  private async refreshState(): Promise<void> {
    const d = await this.link.client
      .request<C.OnlineDeployment>('GET', `${this.path}/deployments/${WEBSERVICE_DEPLOYMENT}`)
      .catch((e) => {
        if (e instanceof NotFoundError) return undefined;
        throw e;
      });
    this.state = d?.body.properties.provisioningState;
  }

  /** The endpoint's keys (Key services). */
  async getKeys(): Promise<[primary: string, secondary: string]> {
    const r = await this.link.client.request<C.EndpointKeys>('POST', `${this.path}/listKeys`, {
      what: `get the keys of service '${this.name}'`,
    });
    return [r.body.primaryKey, r.body.secondaryKey];
  }

  /** Replaces the primary or secondary key with a new random one (or `value`). */
  async regenKey(key: 'Primary' | 'Secondary', value?: string): Promise<void> {
    if (key !== 'Primary' && key !== 'Secondary')
      throw new ValidationError("key must be 'Primary' or 'Secondary'", { target: 'key' });
    await this.link.client.request('POST', `${this.path}/regenerateKeys`, {
      body: value === undefined ? { keyType: key } : { keyType: key, keyValue: value },
      what: `regenerate the ${key.toLowerCase()} key of service '${this.name}'`,
    });
  }

  /** A token for the scoring URI and when it expires (AMLToken services). */
  async getToken(): Promise<[token: string, refreshAfter: Date]> {
    const r = await this.link.client.request<C.EndpointAuthToken>('POST', `${this.path}/token`, {
      what: `get a token of service '${this.name}'`,
    });
    return [r.body.accessToken, new Date(r.body.refreshAfterTimeUtc * 1000)];
  }

  /** The last `numLines` lines of the instances' log (default 5000). */
  async getLogs(numLines = 5000): Promise<string> {
    const r = await this.link.client.request<C.DeploymentLogs>(
      'POST',
      `${this.path}/deployments/${WEBSERVICE_DEPLOYMENT}/getLogs`,
      { body: { tail: numLines }, what: `get the logs of service '${this.name}'` },
    );
    return r.body.content;
  }

  /**
   * Scores `input` (an object, sent as JSON, or a string sent as it is) and returns the parsed
   * answer. A failed call throws ServiceError with the status and the service's message.
   */
  async run(input: unknown): Promise<unknown> {
    const credential = this.authMode === 'AMLToken' ? (await this.getToken())[0] : (await this.getKeys())[0];
    const res = await fetch(this.scoringUri, {
      method: 'POST',
      headers: { authorization: `Bearer ${credential}`, 'content-type': 'application/json' },
      body: typeof input === 'string' ? input : JSON.stringify(input),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: the text itself
    }
    if (!res.ok)
      throw new ServiceError(`service '${this.name}' answered ${res.status}: ${text.slice(0, 2000)}`, {
        code: `HTTP${res.status}`,
      });
    return parsed;
  }

  /** Deploys new models or settings in place (the scoring URI and keys stay). */
  async update(
    opts: {
      models?: ModelVersionRef[];
      inferenceConfig?: InferenceConfig;
      deploymentConfig?: DeploymentConfig;
      onProgress?: (p: OperationProgress) => void;
    } = {},
  ): Promise<void> {
    const d = `${this.path}/deployments/${WEBSERVICE_DEPLOYMENT}`;
    const current = await this.link.client.request<C.OnlineDeployment>('GET', d, {
      what: `get service '${this.name}'`,
    });
    const cur = current.body.properties;
    const models = opts.models ?? [parseModel(String(cur.model ?? ''))];
    const rs = (cur.requestSettings ?? {}) as { maxConcurrentRequestsPerInstance?: number };
    const body = deploymentBody(this.link, models, opts.inferenceConfig, {
      instanceCount: Number((current.body.sku as { capacity?: number } | undefined)?.capacity ?? 1),
      maxConcurrentRequestsPerInstance: rs.maxConcurrentRequestsPerInstance,
      environmentVariables: cur.environmentVariables,
      ...(opts.deploymentConfig ?? {}),
    });
    if (!opts.inferenceConfig && cur.codeConfiguration) {
      (body.properties as Record<string, unknown>).codeConfiguration = cur.codeConfiguration;
      if (cur.environmentId) (body.properties as Record<string, unknown>).environmentId = cur.environmentId;
    }
    const put = await this.link.client.request('PUT', d, { body, what: `update service '${this.name}'` });
    await this.link.client.waitFor(put, 'PUT', d, {
      what: `update service '${this.name}'`,
      onProgress: opts.onProgress,
    });
    await this.refreshState();
  }

  /** Deletes the service (its endpoint, deployment and instances). */
  async delete(): Promise<void> {
    await this.link.client.request('DELETE', this.path, { what: `delete service '${this.name}'` });
  }
}

function parseModel(id: string): ModelVersionRef {
  const m = /\/models\/([^/]+)\/versions\/([^/]+)$/.exec(id) ?? /^(?:azureml:)?([^:]+):([^:]+)$/.exec(id);
  if (!m) throw new ServiceError(`the service's model '${id}' is not a model version reference`);
  return { name: decodeURIComponent(m[1]!), version: decodeURIComponent(m[2]!) };
}
