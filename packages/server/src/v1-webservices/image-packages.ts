import crypto from 'node:crypto';
import path from 'node:path';
import YAML from 'yaml';
import type { AppContext } from '../context.js';
import type { WorkspaceInfo } from '../resources/workspace-info.js';
import type { Principal } from '../identity/principals.js';
import type { DeploymentServices } from '../deployments/services.js';
import type { OperationService, Operation } from '../operations/operations.js';
import type { AzureModelService } from '../models/azure-models.js';
import type { V1ArtifactService } from '../v1-artifacts/artifacts.js';
import type { EnvironmentBuildService } from '../environment-builds/environment-builds.js';
import type { CodeService } from '../codes/code-assets.js';
import { Conflict, InvalidInput, NotFound, NotImplemented } from '../errors.js';
import { obj, str, type Obj } from '../assets/validate.js';
import { readAll, untar, V1WebserviceDeployer, type CodeFile, type ImageRequest } from './deploy.js';
import type { V1Image } from './images.js';

/** The operation kind of `Image.create`: the image's environment is built (durable; polled by azureml-core). */
export const IMAGE_OPERATION = 'v1.image.create';
/** azureml-core's base image when none is given (its `DEFAULT_CPU_IMAGE`); recorded, not pulled. */
const DEFAULT_BASE_IMAGE = 'mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04';
/** The package azureml-core adds to every image's pip requirements for its own container driver (not used here). */
const SDK_REQUIREMENT = /^azureml-model-management-sdk\b/i;
/** Most bytes of one uploaded asset (driver, conda file, requirements, a dependency archive). */
const MAX_ASSET_BYTES = 200 * 1024 ** 2;
const MAX_TEXT_BYTES = 1024 ** 2;
const NAME = /^[a-z0-9][a-z0-9.-]{0,254}$/;
const LOG_LIMIT = 200_000;

const invalid = (target: string, message: string) => new InvalidInput(message, { code: 'INVALID_INPUT', target });
const noRuntime = (target: string, what: string) =>
  new NotImplemented(
    `${what}: an image here is a package (model + code + a Python environment built by uv on the server), not a container image; this server has no container runtime to build or run Docker images, so nothing was made`,
    { code: 'NOT_IMPLEMENTED', target },
  );

/** What an image holds (stored as JSON). */
interface ImageContents {
  /** `azureml:{name}:{version}` of its model, or absent. */
  model?: string;
  modelIds: string[];
  /** The environment version's ARM id, or absent (the server's serving Python). */
  environmentId?: string;
  /** The code asset version's ARM id and the entry script inside it. */
  codeId: string;
  scoringScript: string;
  /** The environment build's record id and digest, once built. */
  buildId?: string;
  digest?: string;
  /** What azureml-core sent, answered back (its ContainerImage reads them). */
  driverProgram: string;
  assets: Obj[];
  targetRuntime: Obj;
}

interface ImageRow {
  id: string;
  workspace_key: string;
  name: string;
  version: number;
  status: string;
  description: string | null;
  tags: string;
  properties: string;
  contents: string;
  operation_id: string | null;
  log: string;
  created_at: number;
  finished_at: number | null;
}

declare module '../store/schema.js' {
  interface Tables {
    v1_images: ImageRow;
  }
}

interface ImageRecord {
  id: string;
  name: string;
  version: number;
  status: 'Running' | 'Succeeded' | 'Failed';
  description: string | null;
  tags: Record<string, string>;
  properties: Record<string, string>;
  contents: ImageContents;
  operationId: string | null;
  log: string;
  createdAt: number;
  finishedAt: number | null;
}

const toRecord = (r: ImageRow): ImageRecord => ({
  id: r.id,
  name: r.name,
  version: Number(r.version),
  status: r.status as ImageRecord['status'],
  description: r.description,
  tags: JSON.parse(r.tags) as Record<string, string>,
  properties: JSON.parse(r.properties) as Record<string, string>,
  contents: JSON.parse(r.contents) as ImageContents,
  operationId: r.operation_id,
  log: r.log,
  createdAt: Number(r.created_at),
  finishedAt: r.finished_at === null ? null : Number(r.finished_at),
});

/** A string map of a request (tags, properties): values as strings. */
function stringMap(v: unknown, target: string): Record<string, string> {
  if (v == null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw invalid(target, 'must be an object of strings');
  return Object.fromEntries(Object.entries(v as Obj).map(([k, x]) => [k, typeof x === 'string' ? x : String(x)]));
}

/** The user script azureml-core's generated driver (its `main_template.txt`) loads, or undefined. */
export function driverScript(driver: string): string | undefined {
  const m =
    /script_location\s*=\s*os\.path\.join\(os\.path\.dirname\(os\.path\.realpath\(__file__\)\),\s*'([^'\n]+)'\)/.exec(
      driver,
    );
  return m?.[1];
}

/**
 * azureml-core's `Image.create` (and so `Webservice.deploy_from_model` / `Webservice.deploy`) without a
 * container registry: an image is a **package** — the model, the uploaded entry script and
 * dependencies (an anonymous code asset) and an environment version (from the conda file), whose
 * Python environment the server builds with uv as a durable operation azureml-core polls. It is then
 * what `Webservice.deploy_from_image` serves: an online endpoint whose deployment runs the entry
 * script in that environment (the same path as `Model.deploy`). Docker-only settings (extra
 * Dockerfile steps, GPU/CUDA, Spark) are 501s naming the setting; nothing is made.
 */
export class V1ImagePackages {
  constructor(
    private readonly ctx: AppContext,
    private readonly deployer: V1WebserviceDeployer,
    private readonly serving: DeploymentServices,
    private readonly models: AzureModelService,
    private readonly artifacts: V1ArtifactService,
    private readonly builds: EnvironmentBuildService,
    private readonly codes: CodeService,
    private readonly operations: OperationService,
  ) {
    // A build whose server stopped: the image failed (create it again).
    operations.onRecover(IMAGE_OPERATION, async (op) => {
      await this.ctx.db
        .updateTable('v1_images')
        .set({ status: 'Failed', log: 'the server stopped while the image was built', finished_at: Date.now() })
        .where('operation_id', '=', op.id)
        .where('status', '=', 'Running')
        .execute();
    });
  }

  /** Forgets a deleted workspace's images (their code and environments go with the workspace). */
  async forgetWorkspace(ws: { id: string }): Promise<void> {
    await this.ctx.db.deleteFrom('v1_images').where('workspace_key', '=', ws.id.toLowerCase()).execute();
  }

  private logUri(ws: WorkspaceInfo, name: string, version: number): string {
    return `${this.ctx.config.publicUrl}/modelmanagement/v1.0${ws.id}/images/${encodeURIComponent(`${name}:${version}`)}/buildlog`;
  }

  /** An image in azureml-core's `ContainerImage` shape (imageType Docker, flavor WebApiContainer). */
  toV1(ws: WorkspaceInfo, r: ImageRecord): V1Image {
    const id = `${r.name}:${r.version}`;
    const c = r.contents;
    const dto = {
      id,
      name: r.name,
      version: r.version,
      createdTime: new Date(r.createdAt).toISOString(),
      creationState: r.status,
      description: r.description,
      imageBuildLogUri: this.logUri(ws, r.name, r.version),
      generatedDockerFileUri: null,
      // No registry holds it: the package is this server's own (see properties.digest).
      imageLocation: null,
      imageType: 'Docker',
      imageFlavor: 'WebApiContainer',
      modelIds: c.modelIds,
      kvTags: r.tags,
      properties: {
        ...r.properties,
        kind: 'package',
        codeId: c.codeId,
        scoringScript: c.scoringScript,
        ...(c.environmentId ? { environmentId: c.environmentId } : {}),
        ...(c.digest ? { digest: c.digest } : {}),
      },
      assets: c.assets,
      driverProgram: c.driverProgram,
      targetRuntime: c.targetRuntime,
    };
    return {
      id,
      name: r.name,
      version: r.version,
      createdAt: r.createdAt,
      digest: c.digest ?? '',
      modelIds: c.modelIds,
      dto,
    };
  }

  /** The workspace's images, newest first. */
  async list(ws: WorkspaceInfo, top: number): Promise<V1Image[]> {
    const rows = await this.ctx.db
      .selectFrom('v1_images')
      .selectAll()
      .where('workspace_key', '=', ws.id.toLowerCase())
      .orderBy('created_at', 'desc')
      .limit(top)
      .execute();
    return rows.map((r) => this.toV1(ws, toRecord(r)));
  }

  /** One image by `name:version`, or undefined (none of this workspace's Image.create images). */
  async find(ws: WorkspaceInfo, id: string): Promise<ImageRecord | undefined> {
    const m = /^(.+):(\d{1,9})$/.exec(id);
    if (!m) return undefined;
    const r = await this.ctx.db
      .selectFrom('v1_images')
      .selectAll()
      .where('workspace_key', '=', ws.id.toLowerCase())
      .where('name', '=', m[1]!)
      .where('version', '=', Number(m[2]))
      .executeTakeFirst();
    return r ? toRecord(r) : undefined;
  }

  private async require(ws: WorkspaceInfo, id: string): Promise<ImageRecord> {
    const r = await this.find(ws, id);
    if (!r) throw new NotFound(`image '${id}' could not be found in workspace '${ws.name}'`, { code: 'NOT_FOUND' });
    return r;
  }

  /** The build log of an image (`image_build_log_uri`). */
  async buildLog(ws: WorkspaceInfo, id: string): Promise<string> {
    return (await this.require(ws, id)).log;
  }

  /** Reads one uploaded asset (`aml://artifact/{origin}/{container}/{path}`) azureml-core sent. */
  private async read(
    ws: WorkspaceInfo,
    url: unknown,
    target: string,
    limit: number,
  ): Promise<{ data: Buffer; name: string }> {
    if (typeof url !== 'string') throw invalid(target, 'must be the URL of a file azureml-core uploaded');
    const m = /^aml:\/\/artifact\/([^/]+)\/([^/]+)\/(.+)$/.exec(url);
    if (!m)
      throw invalid(
        target,
        `'${url.slice(0, 200)}' is not an uploaded artifact (aml://artifact/{origin}/{container}/{path}); let azureml-core upload the file`,
      );
    try {
      const { stream } = await this.artifacts.download(ws, m[1]!, m[2]!, m[3]!);
      return { data: await readAll(stream, limit, `the file at ${target}`), name: path.posix.basename(m[3]!) };
    } catch (e) {
      if (e instanceof NotFound) throw invalid(target, `nothing was uploaded at '${url.slice(0, 200)}'`);
      throw e;
    }
  }

  /**
   * `POST …/images` (Image.create): checks the request and reads its uploads (a 4xx makes nothing),
   * makes the code asset and the environment version, records the image (Running) and starts its
   * build. Returns the operation azureml-core polls (its `resourceLocation` ends in the image id).
   */
  async create(ws: WorkspaceInfo, raw: unknown, by: Principal): Promise<Operation> {
    const T = 'body';
    const b = obj(raw, T)!;
    const name = str(b, 'name', T, { required: true, max: 255 })!;
    if (!NAME.test(name))
      throw invalid(`${T}.name`, `'${name}' is not an image name: lower-case letters, digits, '.' and '-'`);
    const imageType = b.imageType ?? 'Docker';
    if (imageType !== 'Docker') throw invalid(`${T}.imageType`, `must be 'Docker', got ${JSON.stringify(imageType)}`);
    const flavor = b.imageFlavor ?? 'WebApiContainer';
    if (flavor !== 'WebApiContainer')
      throw noRuntime(`${T}.imageFlavor`, `'${String(flavor)}' images (FPGA or IoT Edge containers) are not served`);
    if (b.dockerFileUri != null)
      throw noRuntime(
        `${T}.dockerFileUri`,
        'docker_file / extra_docker_file_steps are Dockerfile steps; put the dependencies in the conda file instead',
      );
    const runtime = obj(b.targetRuntime ?? {}, `${T}.targetRuntime`)!;
    const rtType = runtime.runtimeType ?? 'Python';
    if (rtType === 'SparkPython')
      throw noRuntime(`${T}.targetRuntime.runtimeType`, "runtime='spark-py' images (Spark inside the container)");
    if (rtType !== 'Python' && rtType !== 'PythonSlim' && rtType !== 'PythonCustom')
      throw invalid(`${T}.targetRuntime.runtimeType`, `'${String(rtType)}' is not a runtime: use runtime='python'`);
    const rtProps = obj(runtime.properties ?? {}, `${T}.targetRuntime.properties`)!;
    if (rtProps.installCuda === true || rtProps.cudaVersion != null)
      throw noRuntime(
        `${T}.targetRuntime.properties`,
        'enable_gpu / cuda_version install CUDA into a GPU container image',
      );
    const ids = b.modelIds ?? [];
    if (!Array.isArray(ids) || ids.some((x) => typeof x !== 'string'))
      throw invalid(`${T}.modelIds`, 'must be a list of model ids (name:version)');
    if (ids.length > 1)
      throw invalid(
        `${T}.modelIds`,
        `an image here packages one model (what its service serves); got ${ids.length}: register them as one model folder`,
      );
    let model: string | undefined;
    for (const id of ids as string[]) {
      try {
        const { mv } = await this.models.v1Find(ws, id);
        model = `azureml:${mv.name}:${mv.version}`;
      } catch (e) {
        if (e instanceof NotFound)
          throw invalid(
            `${T}.modelIds`,
            `model '${id}' could not be found in workspace '${ws.name}'; register it first`,
          );
        throw e;
      }
    }
    const tags = stringMap(b.kvTags, `${T}.kvTags`);
    const properties = stringMap(b.properties, `${T}.properties`);
    const description = typeof b.description === 'string' ? b.description.slice(0, 5000) : null;

    // The uploads: the driver azureml-core generated names the entry script; the other assets are
    // the entry script and dependencies (archives to unpack, or single files).
    const driverProgram = str(b, 'driverProgram', T, { required: true, max: 255 })!;
    const assets = b.assets ?? [];
    if (!Array.isArray(assets) || !assets.length)
      throw invalid(`${T}.assets`, 'must list the uploaded driver program and entry script');
    const driverAsset = assets.find((a) => a && typeof a === 'object' && (a as Obj).id === driverProgram) as
      Obj | undefined;
    if (!driverAsset) throw invalid(`${T}.assets`, `holds no asset '${driverProgram}' (the driverProgram)`);
    const driver = await this.read(ws, driverAsset.url, `${T}.assets[driver].url`, MAX_TEXT_BYTES);
    const script = driverScript(driver.data.toString('utf8'));
    if (!script)
      throw invalid(
        `${T}.driverProgram`,
        "is not azureml-core's generated driver (it names no entry script): create the image with ContainerImage.image_configuration or an InferenceConfig",
      );
    const entry = path.posix.normalize(script.replace(/\\/g, '/')).replace(/^\.\//, '');
    if (entry.startsWith('..') || entry.startsWith('/') || !entry.endsWith('.py'))
      throw invalid(`${T}.driverProgram`, `the entry script '${script}' is not a Python script inside the image`);
    let files: CodeFile[] = [];
    for (const [i, a] of assets.entries()) {
      if (a === driverAsset) continue;
      const asset = obj(a, `${T}.assets[${i}]`)!;
      const got = await this.read(ws, asset.url, `${T}.assets[${i}].url`, MAX_ASSET_BYTES);
      files.push(...(asset.unpack === true ? await untar(got.data) : [{ path: got.name, data: got.data }]));
    }
    // ContainerImage packs each dependency under its absolute path: the entry script's folder is the root.
    if (!files.some((f) => f.path === entry)) {
      const found = files.filter((f) => f.path.endsWith(`/${entry}`));
      if (found.length !== 1)
        throw invalid(
          `${T}.assets`,
          `the entry script '${entry}' is not among the uploaded files (${files
            .slice(0, 10)
            .map((f) => f.path)
            .join(', ')})`,
        );
      const root = found[0]!.path.slice(0, -entry.length);
      const outside = files.find((f) => !f.path.startsWith(root));
      if (outside)
        throw invalid(
          `${T}.assets`,
          `the dependency '${outside.path}' is not in the entry script's folder; give dependencies inside it`,
        );
      files = files.map((f) => ({ path: f.path.slice(root.length), data: f.data }));
    }

    // The environment: the conda file, and pip requirements besides azureml-core's own SDK line.
    let conda: Obj | undefined;
    if (rtProps.condaEnvFile != null) {
      const f = await this.read(ws, rtProps.condaEnvFile, `${T}.targetRuntime.properties.condaEnvFile`, MAX_TEXT_BYTES);
      let parsed: unknown;
      try {
        parsed = YAML.parse(f.data.toString('utf8'));
      } catch (e) {
        throw invalid(`${T}.targetRuntime.properties.condaEnvFile`, `is not YAML: ${(e as Error).message}`);
      }
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
        throw invalid(`${T}.targetRuntime.properties.condaEnvFile`, 'is not a conda environment (a YAML mapping)');
      conda = parsed as Obj;
    }
    if (rtProps.pipRequirements != null) {
      const f = await this.read(
        ws,
        rtProps.pipRequirements,
        `${T}.targetRuntime.properties.pipRequirements`,
        MAX_TEXT_BYTES,
      );
      const lines = f.data
        .toString('utf8')
        .split(/\r?\n/)
        .map((l) => l.trim())
        .filter((l) => l && !l.startsWith('#') && !SDK_REQUIREMENT.test(l));
      if (lines.length) {
        conda ??= { dependencies: ['pip'] };
        const deps = Array.isArray(conda.dependencies) ? [...(conda.dependencies as unknown[])] : [];
        deps.push({ pip: lines });
        conda = { ...conda, dependencies: deps };
      }
    }
    const baseImage = typeof b.baseImage === 'string' && b.baseImage ? b.baseImage : DEFAULT_BASE_IMAGE;
    const environment = conda
      ? {
          name: `image-${name}`,
          body: {
            name: `image-${name}`,
            python: { userManagedDependencies: false, condaDependencies: conda },
            docker: { baseImage },
            environmentVariables: { AZUREML_ENTRY_SCRIPT: entry },
          },
        }
      : undefined;
    const targetRuntime = {
      runtimeType: rtType,
      targetArchitecture: runtime.targetArchitecture ?? 'amd64',
      properties: Object.fromEntries(
        Object.entries(rtProps).filter(([k]) => k === 'condaEnvFile' || k === 'pipRequirements'),
      ),
    };
    const answered = assets.map((a) => {
      const x = a as Obj;
      return { id: x.id, mimeType: x.mimeType ?? null, unpack: x.unpack === true, url: x.url };
    });
    return this.record(
      ws,
      { name, description, tags, properties },
      { model, modelIds: ids as string[], environment, files, entryScript: entry },
      { driverProgram, assets: answered, targetRuntime },
      by,
    );
  }

  /**
   * `Model.package(ws, models, inference_config)` (`POST …/packages`, packageType `DockerImage`): the
   * same package `Image.create` makes, from the environmentImageRequest `Model.deploy` also sends
   * (checked by the deployer: models, uploaded code, environment). Named `imageName` (azureml-core's
   * `image_name`, by default `package`). Returns the build's operation.
   */
  async fromImageRequest(ws: WorkspaceInfo, name: string, req: ImageRequest, raw: Obj, by: Principal) {
    if (!NAME.test(name))
      throw invalid('body.imageName', `'${name}' is not an image name: lower-case letters, digits, '.' and '-'`);
    if (req.several)
      throw invalid(
        'body.imageRequest.modelIds',
        `an image here packages one model (what its service serves); got ${req.several.length}: register them as one model folder, or package with generate_dockerfile=True`,
      );
    if (!req.files || !req.entryScript)
      throw invalid(
        'body.imageRequest.environment',
        'an image here runs an entry script: give the InferenceConfig an entry_script and an environment (or package with generate_dockerfile=True)',
      );
    const assets = (Array.isArray(raw.assets) ? raw.assets : []).map((a) => {
      const x = a as Obj;
      return { id: x.id, mimeType: x.mimeType ?? null, unpack: x.unpack === true, url: x.url };
    });
    return this.record(
      ws,
      { name, description: null, tags: {}, properties: {} },
      req,
      {
        driverProgram: typeof raw.driverProgram === 'string' ? raw.driverProgram : '',
        assets,
        targetRuntime: { runtimeType: 'Python', targetArchitecture: 'amd64', properties: {} },
      },
      by,
    );
  }

  /** Reserves the image's version, makes its code and environment (undone on failure) and starts its build. */
  private async record(
    ws: WorkspaceInfo,
    meta: {
      name: string;
      description: string | null;
      tags: Record<string, string>;
      properties: Record<string, string>;
    },
    req: ImageRequest,
    answer: { driverProgram: string; assets: Obj[]; targetRuntime: Obj },
    by: Principal,
  ): Promise<Operation> {
    const { name, description, tags, properties } = meta;
    const { model, modelIds: ids, entryScript: entry } = req;
    const { driverProgram, assets: answered, targetRuntime } = answer;
    // Reserve the version, then make the code and environment; a failure removes what was made.
    const key = ws.id.toLowerCase();
    const rowId = crypto.randomUUID();
    let version: number;
    for (let attempt = 0; ; attempt++) {
      const last = await this.ctx.db
        .selectFrom('v1_images')
        .select((e) => e.fn.max('version').as('v'))
        .where('workspace_key', '=', key)
        .where('name', '=', name)
        .executeTakeFirst();
      version = Number(last?.v ?? 0) + 1;
      try {
        await this.ctx.db
          .insertInto('v1_images')
          .values({
            id: rowId,
            workspace_key: key,
            name,
            version,
            status: 'Running',
            description,
            tags: JSON.stringify(tags),
            properties: JSON.stringify(properties),
            contents: '{}',
            operation_id: null,
            log: '',
            created_at: Date.now(),
            finished_at: null,
          })
          .execute();
        break;
      } catch (e) {
        // Another Image.create of this name took the version: take the next one.
        if (attempt >= 4) throw e;
      }
    }
    const undo: (() => Promise<unknown>)[] = [
      () => this.ctx.db.deleteFrom('v1_images').where('id', '=', rowId).execute(),
    ];
    try {
      const made = await this.deployer.materialise(ws, req, by, undo);
      const code = made.codeConfiguration as { codeId: string };
      const contents: ImageContents = {
        ...(model ? { model } : {}),
        modelIds: ids,
        ...(typeof made.environmentId === 'string' ? { environmentId: made.environmentId } : {}),
        codeId: code.codeId,
        scoringScript: entry!,
        driverProgram,
        assets: answered,
        targetRuntime,
      };
      if (contents.environmentId) await this.builds.check(ws, contents.environmentId);
      const imageId = `${name}:${version}`;
      const op = await this.operations.start(
        IMAGE_OPERATION,
        { id: `${ws.id}/images/${imageId}`, subscriptionId: ws.subscriptionId, location: ws.location },
        by.id,
        async (journal) => {
          await journal.record({ image: rowId });
          await this.build(ws, rowId, contents);
        },
      );
      await this.ctx.db
        .updateTable('v1_images')
        .set({ contents: JSON.stringify(contents), operation_id: op.id })
        .where('id', '=', rowId)
        .execute();
      return op;
    } catch (e) {
      await V1WebserviceDeployer.undoAll(undo);
      throw e;
    }
  }

  /** Builds the image's environment (uv; cached by spec) and records the outcome and log. */
  private async build(ws: WorkspaceInfo, rowId: string, contents: ImageContents): Promise<void> {
    const lines: string[] = [];
    try {
      let done = { ...contents };
      if (contents.environmentId) {
        const b = await this.builds.ensure(ws, contents.environmentId, { onLog: (l) => lines.push(l) });
        done = { ...done, buildId: b.id, digest: `sha256:${b.specHash}` };
        lines.push(b.log);
      } else lines.push("no conda file: the image's service runs in the server's serving Python");
      await this.ctx.db
        .updateTable('v1_images')
        .set({
          status: 'Succeeded',
          contents: JSON.stringify(done),
          log: lines.join('\n').slice(-LOG_LIMIT),
          finished_at: Date.now(),
        })
        .where('id', '=', rowId)
        .execute();
    } catch (e) {
      lines.push((e as Error).message);
      await this.ctx.db
        .updateTable('v1_images')
        .set({ status: 'Failed', log: lines.join('\n').slice(-LOG_LIMIT), finished_at: Date.now() })
        .where('id', '=', rowId)
        .execute();
      throw e;
    }
  }

  /**
   * `PATCH …/images/{id}` (image.update / add_tags / remove_tags / add_properties): a JSON Patch of
   * `/kvTags` (replaced) and `/properties` (keys added; a key's value cannot change).
   */
  async patch(ws: WorkspaceInfo, id: string, body: unknown): Promise<void> {
    const r = await this.find(ws, id);
    if (!r)
      throw invalid(
        'id',
        `image '${id}' is not one Image.create made (environment builds and deployment packages are read-only records), or it does not exist in workspace '${ws.name}'`,
      );
    if (!Array.isArray(body) || !body.length) throw invalid('body', 'must be a JSON Patch list of operations');
    let tags = r.tags;
    const properties = { ...r.properties };
    for (const [i, raw] of body.entries()) {
      const o = obj(raw, `body[${i}]`)!;
      const op = o.op;
      if (o.path === '/kvTags' && (op === 'replace' || op === 'add')) tags = stringMap(o.value, `body[${i}].value`);
      else if (o.path === '/properties' && (op === 'add' || op === 'replace')) {
        for (const [k, v] of Object.entries(stringMap(o.value, `body[${i}].value`))) {
          if (k in properties && properties[k] !== v)
            throw invalid(
              `body[${i}].value.${k}`,
              `property '${k}' is already '${properties[k]}'; properties cannot change`,
            );
          properties[k] = v;
        }
      } else
        throw invalid(
          `body[${i}]`,
          `'${String(op)} ${String(o.path)}' is not served: an image's tags (/kvTags) and properties (/properties) change`,
        );
    }
    await this.ctx.db
      .updateTable('v1_images')
      .set({ tags: JSON.stringify(tags), properties: JSON.stringify(properties) })
      .where('id', '=', r.id)
      .execute();
  }

  /** The services (`endpoint/deployment`) whose deployment runs the image's code. */
  private async usedBy(ws: WorkspaceInfo, codeId: string): Promise<string[]> {
    const used: string[] = [];
    const { value: endpoints } = await this.serving.endpoints.list(ws, { top: 10_000 });
    for (const ep of endpoints) {
      const { value: deployments } = await this.serving.deployments.list(ws, ep.name, { top: 1000 });
      for (const d of deployments) {
        const c = (d.properties.codeConfiguration ?? {}) as Obj;
        if (typeof c.codeId === 'string' && c.codeId.toLowerCase() === codeId.toLowerCase())
          used.push(`${ep.name}/${d.name}`);
      }
    }
    return used;
  }

  /**
   * `DELETE …/images/{id}` (image.delete): refused (409) while a service runs it; else the image and
   * its code asset go (its environment version stays: it is the workspace's, others may use it).
   * A service runs an image through its code version, so the in-use check is that version's delete
   * (one write transaction holding the version's row, against deployments written holding it FOR
   * SHARE: VersionedAssetService.deleteVersion); the image's row goes only once it succeeded, and a
   * deploy_from_image that comes after finds the code version gone and fails.
   */
  async delete(ws: WorkspaceInfo, id: string): Promise<void> {
    const r = await this.find(ws, id);
    if (!r)
      throw invalid(
        'id',
        `image '${id}' is not one Image.create made (environment builds and deployment packages are read-only records), or it does not exist in workspace '${ws.name}'`,
      );
    if (r.status === 'Running')
      throw new Conflict(`image '${id}' is still being built: wait_for_creation() first`, { code: 'CONFLICT' });
    const codeId = r.contents.codeId;
    const m = codeId ? /\/codes\/([^/]+)\/versions\/([^/]+)$/i.exec(codeId) : null;
    const v = m ? await this.codes.versions.getVersion(ws, m[1]!, m[2]!).catch(() => undefined) : undefined;
    if (m) {
      try {
        await this.codes.versions.deleteVersion(ws, m[1]!, m[2]!);
      } catch (e) {
        if (!(e instanceof Conflict && e.code === 'ASSET_IN_USE')) throw e;
        const used = await this.usedBy(ws, codeId!);
        throw new Conflict(
          used.length
            ? `image '${id}' is used by webservice ${used.map((u) => `'${u.split('/')[0]}'`).join(', ')}: delete the service first (service.delete())`
            : `image '${id}': ${e.message}`,
          { code: 'CONFLICT' },
        );
      }
    }
    await this.ctx.db.deleteFrom('v1_images').where('id', '=', r.id).execute();
    if (m) {
      const uri = typeof v?.properties.codeUri === 'string' ? new URL(v.properties.codeUri) : undefined;
      if (uri) {
        const [account = '', container = '', ...dir] = uri.pathname.split('/').filter(Boolean).slice(1);
        if (dir.length)
          await this.ctx.blobs
            .account(account, container)
            .deletePrefix(dir.map(decodeURIComponent).join('/'))
            .catch(() => undefined);
      }
    }
  }

  /** The deployment properties `Webservice.deploy_from_image` serves an image with (400 unless it was built). */
  async deploymentProps(ws: WorkspaceInfo, imageId: unknown): Promise<Obj> {
    if (typeof imageId !== 'string') throw invalid('body.imageId', 'must be an image id (name:version)');
    const r = await this.find(ws, imageId);
    if (!r)
      throw invalid(
        'body.imageId',
        `image '${imageId}' is not one Image.create made in workspace '${ws.name}' (environment builds and deployment packages cannot be deployed on their own)`,
      );
    if (r.status !== 'Succeeded')
      throw invalid('body.imageId', `image '${imageId}' is ${r.status}: deploy an image whose creation succeeded`);
    const c = r.contents;
    return {
      ...(c.model ? { model: c.model } : {}),
      ...(c.environmentId ? { environmentId: c.environmentId } : {}),
      codeConfiguration: { codeId: c.codeId, scoringScript: c.scoringScript },
    };
  }
}
