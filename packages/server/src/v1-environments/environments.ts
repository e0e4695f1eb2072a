import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import YAML from 'yaml';
import type { Principal } from '../identity/principals.js';
import type { WorkspaceInfo } from '../resources/workspace-info.js';
import type { StoredResource } from '../resources/engine.js';
import type { VersionedAssetService } from '../assets/versioned-assets.js';
import type { EnvironmentBuildService } from '../environment-builds/environment-builds.js';
import type { OperationService } from '../operations/operations.js';
import type { ComputeService } from '../compute/computes.js';
import type { DatastoreService } from '../assets/datastores.js';
import { AtelierError, Conflict, InvalidInput, NotFound, NotImplemented } from '../errors.js';
import { EnvironmentLabels, LATEST } from './labels.js';
import { specHash, specOf } from '../environment-builds/spec.js';
import { BUILD_SCRIPT, CHECK_SCRIPT, recipeFiles, zipFiles } from './recipe.js';

/** Where the v1 fields that have no ARM field are kept: a property of the environment version. */
const V1_EXTRAS = 'azureml.v1.definition';
/** Where a v1 `docker.base_dockerfile` is kept as the version's build context: the workspace's blob datastore. */
const CONTEXT_DATASTORE = 'workspaceblobstore';
/** The build context folder of a Dockerfile: content-addressed, below the environment's name. */
const contextPath = (name: string, dockerfile: string) =>
  `environments/${name}/dockerfile-${crypto.createHash('sha256').update(dockerfile).digest('hex').slice(0, 32)}/`;
/** The operation kind of `env.build(ws)`: a durable row any replica answers polls from, after a restart too. */
export const BUILD_OPERATION = 'environment.build';
type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
/** azureml-core sends PascalCase top-level keys on register and reads camelCase: accept either. */
const pick = (b: Obj, key: string): unknown => b[key] ?? b[key[0]!.toUpperCase() + key.slice(1)];

/**
 * azureml-core's environment service (`/environment/v1.0/…`: `Environment.register`, `get`,
 * `list`, `ws.environments`, `env.build`) over the workspace's environment versions
 * (`W/environments/{name}/versions/{v}`, what azure-ai-ml and jobs use): one store. A v1 definition
 * maps to the ARM version's `image` (docker.baseImage), `condaFile` (python.condaDependencies as
 * YAML; none when dependencies are user-managed) and `environmentVariables`; the v1 fields ARM has
 * no place for (interpreter path, docker and spark settings, …) ride along in the property
 * `azureml.v1.definition`, so `Environment.get` answers what was registered.
 */
export class V1EnvironmentService {
  constructor(
    private readonly environments: VersionedAssetService,
    private readonly builds: EnvironmentBuildService,
    private readonly operations: OperationService,
    private readonly labels: EnvironmentLabels,
    private readonly computes: ComputeService,
    private readonly datastores: DatastoreService,
  ) {
    // A build whose server stopped: done when its record says it succeeded, else failed (build again).
    operations.onRecover(BUILD_OPERATION, async (op, journal) => {
      const id = typeof journal.buildId === 'string' ? journal.buildId : undefined;
      const ws = journal.workspace as WorkspaceInfo | undefined;
      if (!id || !ws) return;
      const rec = await this.builds.get(ws, id).catch(() => undefined);
      if (rec?.status === 'Succeeded' && rec.environmentId.toLowerCase() === op.resourceId.toLowerCase())
        return 'completed';
    });
  }

  /** The ARM properties of a v1 definition (checked by the environment asset's own validation on PUT). */
  toArm(name: string, body: unknown): Obj {
    if (!isObj(body)) throw new InvalidInput('the environment definition must be a JSON object', { target: 'body' });
    const python = (pick(body, 'python') ?? {}) as Obj;
    const docker = (pick(body, 'docker') ?? {}) as Obj;
    if (!isObj(python)) throw new InvalidInput('python must be an object', { target: 'python' });
    if (!isObj(docker)) throw new InvalidInput('docker must be an object', { target: 'docker' });
    if (docker.buildContext)
      throw new NotImplemented(
        `environment '${name}': docker.build_context (a build context folder in a datastore) is not served through the v1 environment service; give docker.base_dockerfile or docker.base_image, or register the environment through ARM (PUT W/environments/{name}/versions/{v} with properties.build)`,
        { code: 'NOT_IMPLEMENTED' },
      );
    const image = typeof docker.baseImage === 'string' && docker.baseImage ? docker.baseImage : undefined;
    const dockerfile =
      typeof docker.baseDockerfile === 'string' && docker.baseDockerfile ? docker.baseDockerfile : undefined;
    if (docker.baseDockerfile !== undefined && docker.baseDockerfile !== null && dockerfile === undefined)
      throw new InvalidInput('docker.baseDockerfile must be the text of a Dockerfile', {
        target: 'docker.baseDockerfile',
      });
    if (dockerfile && dockerfile.length > 100_000)
      throw new InvalidInput('docker.baseDockerfile must be at most 100,000 characters', {
        target: 'docker.baseDockerfile',
      });
    if (image && dockerfile)
      throw new InvalidInput(
        `environment '${name}' gives both docker.base_image and docker.base_dockerfile; give one (set the other to None)`,
        { target: 'docker' },
      );
    if (!image && !dockerfile)
      throw new InvalidInput(
        `environment '${name}' needs docker.base_image (the container image it starts from) or docker.base_dockerfile`,
        { target: 'docker.baseImage' },
      );
    const vars = pick(body, 'environmentVariables');
    if (vars !== undefined && vars !== null && !isObj(vars))
      throw new InvalidInput('environmentVariables must be an object of strings', { target: 'environmentVariables' });
    let condaFile: string | undefined;
    if (
      python.userManagedDependencies !== true &&
      python.condaDependencies !== undefined &&
      python.condaDependencies !== null
    ) {
      if (!isObj(python.condaDependencies))
        throw new InvalidInput('python.condaDependencies must be a conda environment (an object)', {
          target: 'python.condaDependencies',
        });
      condaFile = YAML.stringify(python.condaDependencies);
    }
    const extras = {
      python: { ...python, condaDependencies: undefined },
      docker: { ...docker, baseImage: undefined },
      spark: pick(body, 'spark') ?? null,
      databricks: pick(body, 'databricks') ?? null,
      r: pick(body, 'r') ?? null,
      inferencingStackVersion: pick(body, 'inferencingStackVersion') ?? null,
    };
    return {
      ...(image ? { image } : {}),
      ...(dockerfile
        ? {
            build: {
              contextUri: `azureml://datastores/${CONTEXT_DATASTORE}/paths/${contextPath(name, dockerfile)}`,
              dockerfilePath: 'Dockerfile',
            },
          }
        : {}),
      ...(condaFile ? { condaFile } : {}),
      ...(vars ? { environmentVariables: vars } : {}),
      properties: { [V1_EXTRAS]: JSON.stringify(extras) },
    };
  }

  /** The v1 definition of an environment version (a version made through ARM gets the v1 defaults). */
  toV1(r: StoredResource, name: string, version: string): Obj {
    const p = r.properties as Obj;
    let extras: Obj = {};
    try {
      const raw = (p.properties as Obj | undefined)?.[V1_EXTRAS];
      if (typeof raw === 'string') extras = JSON.parse(raw) as Obj;
    } catch {
      extras = {};
    }
    const python = (isObj(extras.python) ? extras.python : {}) as Obj;
    const docker = (isObj(extras.docker) ? extras.docker : {}) as Obj;
    const conda = typeof p.condaFile === 'string' ? (YAML.parse(p.condaFile) as unknown) : null;
    return {
      name,
      version,
      assetId: r.id,
      environmentVariables: (p.environmentVariables as Obj | undefined) ?? {},
      python: {
        userManagedDependencies: conda === null,
        interpreterPath: 'python',
        condaDependenciesFile: null,
        baseCondaEnvironment: null,
        ...python,
        condaDependencies: conda,
      },
      docker: {
        enabled: false,
        baseDockerfile: null,
        buildContext: null,
        sharedVolumes: true,
        shmSize: '2g',
        arguments: [],
        ...docker,
        baseImage: typeof p.image === 'string' ? p.image : null,
      },
      spark: extras.spark ?? { repositories: [], packages: [], precachePackages: true },
      databricks: extras.databricks ?? null,
      r: extras.r ?? null,
      inferencingStackVersion: extras.inferencingStackVersion ?? null,
    };
  }

  /** Every version of an environment, oldest first (numeric versions by number). */
  private async versions(ws: WorkspaceInfo, name: string): Promise<StoredResource[]> {
    const out: StoredResource[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await this.environments.listVersions(ws, name, { after, top: 1000 });
      out.push(...page.value);
      if (!page.hasMore || !page.lastKey) break;
      after = page.lastKey;
    }
    const n = (r: StoredResource) => (/^\d+$/.test(r.name) ? Number(r.name) : Number.NaN);
    return out.sort((a, b) => n(a) - n(b) || 0 || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  private async versionsOrNone(ws: WorkspaceInfo, name: string): Promise<StoredResource[]> {
    try {
      return await this.versions(ws, name);
    } catch (e) {
      if (e instanceof AtelierError && e.kind === 'not_found') return [];
      throw e;
    }
  }

  private static same(a: Obj, b: Obj): boolean {
    const keys = ['image', 'build', 'condaFile', 'environmentVariables', 'properties'];
    const norm = (o: Obj) =>
      JSON.stringify(
        keys.map((k) =>
          k === 'properties' ? ((o.properties as Obj | undefined)?.[V1_EXTRAS] ?? null) : (o[k] ?? null),
        ),
      );
    return norm(a) === norm(b);
  }

  /**
   * `Environment.register`: without a version, the latest version when its definition is the same,
   * else the next number; with one, that version (made, or the same definition again — another
   * definition under a taken version is a 409, as versions are immutable).
   */
  async register(ws: WorkspaceInfo, name: string, version: string | undefined, body: unknown, by: Principal) {
    const arm = this.toArm(name, body);
    const all = await this.versionsOrNone(ws, name);
    if (version === undefined) {
      const latest = all[all.length - 1];
      if (latest && V1EnvironmentService.same(latest.properties as Obj, arm))
        return this.toV1(latest, name, latest.name);
      const numbers = all.map((r) => Number(r.name)).filter((x) => Number.isInteger(x));
      version = String(numbers.length ? Math.max(...numbers) + 1 : 1);
    } else {
      const existing = all.find((r) => r.name === version);
      if (existing) {
        if (V1EnvironmentService.same(existing.properties as Obj, arm)) return this.toV1(existing, name, version);
        throw new Conflict(
          `environment '${name}' version '${version}' exists with another definition; versions cannot change: register without a version (the next one is made) or under a new one`,
          { code: 'CONFLICT' },
        );
      }
    }
    const build = arm.build as { contextUri: string } | undefined;
    if (!build) {
      const { resource } = await this.environments.putVersion(ws, name, version, { properties: arm }, by);
      return this.toV1(resource, name, version);
    }
    // A Dockerfile: its build context (the Dockerfile alone) is written to the workspace's blob
    // datastore first (content-addressed, so a same Dockerfile shares it); made here, it goes again
    // when the version cannot be made.
    const store = await this.datastores.backend(ws, CONTEXT_DATASTORE, by, 'write');
    const key = `${build.contextUri.slice(`azureml://datastores/${CONTEXT_DATASTORE}/paths/`.length)}Dockerfile`;
    const text = String(((pick(body as Obj, 'docker') ?? {}) as Obj).baseDockerfile);
    const existed = (await store.stat(key)) !== undefined;
    if (!existed) await store.put(key, Readable.from([Buffer.from(text, 'utf8')]), { overwrite: true });
    try {
      const { resource } = await this.environments.putVersion(ws, name, version, { properties: arm }, by);
      return this.toV1(resource, name, version);
    } catch (e) {
      if (!existed) await store.delete(key).catch(() => false);
      throw e;
    }
  }

  /** `Environment.get`: one version, or the latest. */
  async get(ws: WorkspaceInfo, name: string, version?: string) {
    if (version !== undefined) return this.toV1(await this.environments.getVersion(ws, name, version), name, version);
    const all = await this.versions(ws, name);
    const latest = all[all.length - 1];
    if (!latest) throw new NotFound(`environment '${name}' has no versions`, { code: 'ASSET_NOT_FOUND' });
    return this.toV1(latest, name, latest.name);
  }

  /**
   * `Environment.label(ws, name, version, labels)` (`PUT …/versions/{v}/metadata` with `{Labels}`):
   * the version's labels become exactly these; a label another version had moves to this one.
   */
  async setLabels(ws: WorkspaceInfo, name: string, version: string, body: unknown, by: Principal) {
    const b = isObj(body) ? body : {};
    const labels = EnvironmentLabels.check(pick(b, 'labels'));
    const r = await this.environments.getVersion(ws, name, version);
    await this.labels.set(ws, name, r, labels, by.name);
    return { name, version: r.name, labels };
  }

  /**
   * `Environment.get(ws, name, label=…)`: the version the label names ('latest': the newest, as
   * azure-ai-ml resolves it). A label whose version was deleted names nothing.
   */
  async getByLabel(ws: WorkspaceInfo, name: string, label: string) {
    if (label.toLowerCase() === LATEST) return this.get(ws, name);
    const found = await this.labels.find(ws, name, label);
    const missing = () =>
      new NotFound(
        `environment '${name}' has no version labelled '${label}'; label one with Environment.label(ws, name, version, ['${label}'])`,
        { code: 'ASSET_NOT_FOUND' },
      );
    if (!found) throw missing();
    let r: StoredResource;
    try {
      r = await this.environments.getVersion(ws, name, found.version);
    } catch (e) {
      if (e instanceof AtelierError && e.kind === 'not_found') throw missing();
      throw e;
    }
    if (r.createdAt !== found.createdAt) throw missing();
    return this.toV1(r, name, r.name);
  }

  /** `Environment.list` / `ws.environments`: the latest version of every environment. */
  async list(ws: WorkspaceInfo) {
    const out: Obj[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await this.environments.listContainers(ws, { after, top: 1000 });
      for (const c of page.value) {
        const all = await this.versionsOrNone(ws, c.name);
        const latest = all[all.length - 1];
        if (latest) out.push(this.toV1(latest, c.name, latest.name));
      }
      if (!page.hasMore || !page.lastKey) break;
      after = page.lastKey;
    }
    return out;
  }

  /**
   * `env.build(ws)`: the version's Python environment is built by the server's environment builds
   * (no container image: Atelier runs jobs in built Python environments), as a durable operation
   * (its row answers the client's polls, from any replica and after a restart). Refused before
   * anything starts when the version cannot be built (only an image, no conda file or requirements).
   *
   * `env.build(ws, image_build_compute=…)` names a compute: it must be one of the workspace's, ready
   * and not stopped (else a 400/409 naming it, and nothing starts). An AmlCompute's nodes run their
   * jobs in this server's built environments (its cache), so the build for that compute is the same
   * build, bound to it (the operation's journal and the status name it).
   */
  async startBuild(
    ws: WorkspaceInfo,
    name: string,
    version: string,
    by: Principal,
    computeName?: string,
  ): Promise<string> {
    const r = await this.environments.getVersion(ws, name, version);
    await this.builds.check(ws, r.id);
    const compute = computeName === undefined ? undefined : await this.buildCompute(ws, computeName);
    const op = await this.operations.start(
      BUILD_OPERATION,
      { id: r.id, subscriptionId: ws.subscriptionId, location: ws.location },
      by.name,
      async (journal) => {
        await journal.record({ workspace: { id: ws.id, name: ws.name }, ...(compute ? { compute } : {}) });
        const b = await this.builds.ensure(ws, r.id);
        await journal.record({ buildId: b.id });
      },
    );
    return op.id;
  }

  /** The compute `image_build_compute` names, checked: it exists, is ready and runs work now. */
  private async buildCompute(ws: WorkspaceInfo, computeName: string): Promise<{ name: string; type: string }> {
    // A 400, not a 404: azureml-core reads any 404 of this call as "Environment '…' is not registered".
    const c = await this.computes.capacity(ws, computeName).catch((e: unknown) => {
      if (e instanceof AtelierError && e.kind === 'not_found')
        throw new InvalidInput(
          `image_build_compute: compute '${computeName}' could not be found in workspace '${ws.name}'; name one of its computes (ws.compute_targets)`,
          { code: 'COMPUTE_NOT_FOUND', target: 'image_build_compute' },
        );
      throw e;
    });
    if (c.stopped)
      throw new Conflict(
        `compute '${c.name}' is stopped, so it builds nothing; start it (POST …/computes/${c.name}/start) or name another compute`,
        { code: 'COMPUTE_STOPPED', target: 'image_build_compute' },
      );
    if (c.computeType !== 'AmlCompute')
      throw new NotImplemented(
        `compute '${c.name}' is an attached ${c.computeType} cluster: it builds a job's environment itself from the job's pip requirements (Ray's runtime_env) when the job starts there, so a build ahead of time is not served on it; name an AmlCompute, or build without image_build_compute`,
        { code: 'NOT_IMPLEMENTED', target: 'image_build_compute' },
      );
    return { name: c.name, type: c.computeType };
  }

  /**
   * `env.build_local(ws)` (`POST …/environments/{name}[/versions/{v}]/recipe` with `{platform,
   * useDocker}`): the scripts azureml-core unzips and runs on the caller's machine — a check script,
   * and when it fails a build script, both run with `/bin/bash` — that make the version's Python
   * environment there as a virtual environment from its pip list (recipe.ts). Refused with what to
   * change when the version cannot be built as a Python environment (as `env.build`), when Docker is
   * asked for (it would build on the caller's Docker) or for Windows (the scripts are bash scripts).
   */
  async recipe(ws: WorkspaceInfo, name: string, version: string | undefined, body: unknown) {
    const b = isObj(body) ? body : {};
    if (b.useDocker === true)
      throw new NotImplemented(
        `env.build_local(ws, useDocker=True) builds the environment as a Docker image with Docker on your machine, which this server cannot provide or drive; call it with useDocker=False (env.docker.enabled = False) to make the Python environment of '${name}' as a virtual environment on your machine, or build it on the server with env.build(ws)`,
        { code: 'NOT_IMPLEMENTED' },
      );
    const platform = typeof b.platform === 'string' ? b.platform : 'Linux';
    if (!['linux', 'osx'].includes(platform.toLowerCase()))
      throw new NotImplemented(
        `env.build_local for platform '${platform}' is not served: the recipe's scripts are bash scripts (azureml-core runs them with cmd.exe on Windows); build on Linux or OSX, or on the server with env.build(ws)`,
        { code: 'NOT_IMPLEMENTED' },
      );
    const v1 = await this.get(ws, name, version);
    const v = String(v1.version);
    const r = await this.environments.getVersion(ws, name, v);
    const label = `environment '${name}' version '${v}'`;
    const spec = specOf(r.properties as Obj, label);
    const zip = await zipFiles(recipeFiles(spec, specHash(spec), `${name} version ${v}`));
    return {
      setupContentZip: zip.toString('base64'),
      buildEnvironmentScriptName: BUILD_SCRIPT,
      checkEnvironmentScriptName: CHECK_SCRIPT,
      environmentVariables: {},
    };
  }

  /**
   * The state of a build operation (`env.build`'s status location): Running, Succeeded or Failed,
   * with the build's log (or why it failed before building).
   */
  async buildStatus(ws: WorkspaceInfo, name: string, version: string, operationId: string) {
    const r = await this.environments.getVersion(ws, name, version);
    const op = await this.operations.get(operationId);
    if (!op || op.kind !== BUILD_OPERATION || op.resourceId.toLowerCase() !== r.id.toLowerCase())
      throw new NotFound(`environment '${name}' version '${version}' has no build '${operationId}'`, {
        code: 'OPERATION_NOT_FOUND',
      });
    const journal = (await this.operations.journalOf(operationId)) ?? {};
    let rec =
      typeof journal.buildId === 'string'
        ? await this.builds.get(ws, journal.buildId).catch(() => undefined)
        : undefined;
    // A failed build records its log before the operation fails: the version's newest record since the start.
    if (!rec && op.status === 'Failed')
      rec = (await this.builds.list(ws, 1000)).find(
        (b) =>
          b.status === 'Failed' &&
          b.environmentId.toLowerCase() === r.id.toLowerCase() &&
          b.createdAt >= Date.parse(op.startTime) - 1000,
      );
    const status = op.status === 'InProgress' ? 'Running' : op.status;
    const compute = journal.compute as { name: string; type: string } | undefined;
    const log = rec?.log ?? op.error?.message ?? '';
    return {
      status,
      operationId: op.id,
      startTime: op.startTime,
      ...(op.endTime ? { endTime: op.endTime } : {}),
      ...(compute ? { compute: compute.name } : {}),
      log: compute
        ? `built for compute '${compute.name}' (${compute.type}: its nodes run jobs in this server's built environments)\n${log}`
        : log,
      ...(rec ? { buildId: rec.id, digest: rec.digest } : {}),
      ...(op.error ? { error: { code: op.error.code, message: op.error.message } } : {}),
    };
  }
}
