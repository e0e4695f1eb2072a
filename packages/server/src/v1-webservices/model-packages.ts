import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { PassThrough } from 'node:stream';
import tarStream from 'tar-stream';
import YAML from 'yaml';
import type { WorkspaceInfo } from '../resources/workspace-info.js';
import type { Principal } from '../identity/principals.js';
import type { OperationService, Operation } from '../operations/operations.js';
import type { ModelSource } from '../deployments/model-source.js';
import { mlflowModelDir, mlflowRequirements, parseModelRef } from '../deployments/model-source.js';
import type { V1ArtifactService } from '../v1-artifacts/artifacts.js';
import { InvalidInput, NotFound } from '../errors.js';
import { obj, str, type Obj } from '../assets/validate.js';
import type { V1WebserviceDeployer, ImageRequest } from './deploy.js';
import type { V1ImagePackages } from './image-packages.js';

/** The operation kind of `Model.package(…, generate_dockerfile=True)`: the Docker build context is made. */
export const CONTEXT_OPERATION = 'v1.package.dockerBuildContext';
/** Where the build context's archive is kept: a v1 artifact container of its own per package. */
export const PACKAGE_ORIGIN = 'LocalUpload';
const ARCHIVE = 'context.tar.gz';
/** azureml-core's base image when the environment names none (its `DEFAULT_CPU_IMAGE`). */
const DEFAULT_BASE_IMAGE = 'mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04';
/** The HTTP server that runs an Azure ML entry script (init()/run()) in a container, as Azure's inference images do. */
const INFERENCE_SERVER = 'azureml-inference-server-http';
/** Where Azure ML's inference containers keep the app (code and models) and listen. */
const APP = '/var/azureml-app';
const PORT = 5001;
/** Most bytes of the models and code of one build context (the archive is made on the server). */
const MAX_CONTEXT_BYTES = 2 * 1024 ** 3;
const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

const invalid = (target: string, message: string) => new InvalidInput(message, { code: 'INVALID_INPUT', target });

/** One file of a build context: its path in the context and its bytes (or the local file holding them). */
interface ContextFile {
  path: string;
  data?: Buffer;
  local?: string;
  size: number;
}

/** What the operation records (its journal): enough to answer the manifest and the log. */
interface ContextJournal {
  workspace?: string;
  container?: string;
  dockerfile?: string;
  log?: string;
}

/** The files below a local folder (regular files only), relative '/'-separated paths. */
async function walk(root: string, under = ''): Promise<{ rel: string; abs: string; size: number }[]> {
  const out: { rel: string; abs: string; size: number }[] = [];
  for (const e of await fs.promises.readdir(path.join(root, under), { withFileTypes: true })) {
    const rel = under ? `${under}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await walk(root, rel)));
    else if (e.isFile() && e.name !== '.complete')
      out.push({ rel, abs: path.join(root, rel), size: (await fs.promises.stat(path.join(root, rel))).size });
  }
  return out;
}

/** A Dockerfile `ENV` line's value: a JSON string is a valid double-quoted Dockerfile word. */
const q = (v: string) => JSON.stringify(v);

/**
 * The Dockerfile of a package: the environment installed as Azure's generated Dockerfiles do
 * (`conda env create` from the environment's conda specification into `/azureml-envs/{name}`, on
 * its base image or base Dockerfile), Azure ML's inference HTTP server added to it, the models in
 * `/var/azureml-app/azureml-models`, the code in `/var/azureml-app`, and the entry script served on
 * port 5001 (`/score`), as a `LocalWebservice` runs it. Written here because no library makes it.
 */
export function packageDockerfile(opts: {
  baseImage?: string;
  baseDockerfile?: string;
  envName: string;
  condaFile?: string;
  userManaged: boolean;
  environmentVariables: Record<string, string>;
  entryScript?: string;
  mlflowModel?: string;
  hasCode: boolean;
}): string {
  const lines: string[] = [
    '# Made by Atelier for Model.package(…, generate_dockerfile=True): the models, the entry script and',
    '# the environment of the InferenceConfig. Build: docker build -t <name> .',
    `# Run: docker run -p ${PORT}:${PORT} <name>   (scoring: POST http://localhost:${PORT}/score)`,
  ];
  if (opts.baseDockerfile) lines.push('# The environment’s base Dockerfile:', opts.baseDockerfile.trimEnd(), '');
  else lines.push(`FROM ${opts.baseImage ?? DEFAULT_BASE_IMAGE}`);
  lines.push('USER root', 'WORKDIR /');
  const envDir = `/azureml-envs/${opts.envName}`;
  if (opts.condaFile && !opts.userManaged) {
    lines.push(
      `COPY ${opts.condaFile} /${opts.condaFile}`,
      `RUN conda env create -p ${envDir} -f /${opts.condaFile} && conda clean -aqy && rm -rf /root/.cache/pip`,
      `ENV PATH=${envDir}/bin:$PATH AZUREML_CONDA_ENVIRONMENT_PATH=${envDir}`,
    );
  } else if (opts.mlflowModel) {
    lines.push(
      'COPY azureml-environment-setup/requirements.txt /azureml-environment-setup/requirements.txt',
      'RUN python -m pip install --no-cache-dir -r /azureml-environment-setup/requirements.txt',
    );
  } else lines.push(`RUN python -m pip install --no-cache-dir ${INFERENCE_SERVER}`);
  lines.push(`COPY azureml-models ${APP}/azureml-models`);
  if (opts.hasCode) lines.push(`COPY azureml-app ${APP}`);
  const vars = Object.entries(opts.environmentVariables);
  if (vars.length) lines.push(`ENV ${vars.map(([k, v]) => `${k}=${q(v)}`).join(' \\\n    ')}`);
  lines.push(`WORKDIR ${APP}`, `EXPOSE ${PORT}`);
  if (opts.entryScript)
    lines.push(`CMD ["azmlinfsrv", "--entry_script", ${q(`${APP}/${opts.entryScript}`)}, "--port", "${PORT}"]`);
  else
    lines.push(
      `CMD ["mlflow", "models", "serve", "-m", ${q(`${APP}/azureml-models/${opts.mlflowModel}`)}, "--env-manager", "local", "-h", "0.0.0.0", "-p", "${PORT}"]`,
    );
  return lines.join('\n') + '\n';
}

/**
 * azureml-core's `Model.package(ws, models, inference_config, generate_dockerfile)` (`POST
 * …/modelmanagement/v1.0/…/packages`). With `generate_dockerfile=True` (`DockerBuildContext`) the
 * server makes a Docker build context — a Dockerfile, the models, the code and the environment's
 * conda file — kept as one archive in a v1 artifact container of its own; the operation's
 * `resourceLocation` is the context's manifest (a signed URL, as `ModelPackage.save` reads it without
 * credentials), whose entries azureml-core writes (the Dockerfile inline) and downloads (the archive,
 * with the caller's credentials) into the folder given to `save(output_dir)`. Without it
 * (`DockerImage`) the package is the one `Image.create` makes (image-packages.ts).
 */
export class V1ModelPackages {
  constructor(
    private readonly deployer: V1WebserviceDeployer,
    private readonly images: V1ImagePackages,
    private readonly models: ModelSource,
    private readonly artifacts: V1ArtifactService,
    private readonly operations: OperationService,
  ) {
    // A build context whose server stopped midway: its archive goes (Model.package again).
    operations.onRecover(CONTEXT_OPERATION, async (op, journal) => {
      const j = journal as ContextJournal & { ws?: WorkspaceInfo };
      if (j.ws && j.container)
        await this.artifacts.delete(j.ws, PACKAGE_ORIGIN, j.container, ARCHIVE).catch(() => undefined);
    });
  }

  /** Checks the request (a 4xx makes nothing) and starts the package's operation. */
  async create(ws: WorkspaceInfo, raw: unknown, by: Principal): Promise<Operation> {
    const T = 'body';
    const b = obj(raw, T)!;
    const type = str(b, 'packageType', T, { required: true, oneOf: ['DockerBuildContext', 'DockerImage'] })!;
    const rawRequest = obj(b.imageRequest, `${T}.imageRequest`)!;
    const req = await this.deployer.imageRequest(ws, rawRequest);
    if (type === 'DockerImage') {
      const name = str(b, 'imageName', T, { max: 255 }) ?? 'package';
      return this.images.fromImageRequest(ws, name, req, rawRequest, by);
    }
    const env = req.environment?.body;
    const docker = (env?.docker ?? {}) as Obj;
    const python = (env?.python ?? {}) as Obj;
    const vars = (env?.environmentVariables ?? {}) as Record<string, unknown>;
    for (const k of Object.keys(vars))
      if (!ENV_KEY.test(k))
        throw invalid(
          `${T}.imageRequest.environment.environmentVariables`,
          `'${k}' is not an environment variable name a Dockerfile's ENV can set (letters, digits, '_')`,
        );
    if (env && python.userManagedDependencies !== true && !python.condaDependencies)
      throw invalid(
        `${T}.imageRequest.environment.python.condaDependencies`,
        'is missing: give the environment a conda specification (Environment.from_conda_specification / CondaDependencies) or user_managed_dependencies=True',
      );
    const container = `package-${crypto.randomUUID()}`;
    return this.operations.start(
      CONTEXT_OPERATION,
      { id: `${ws.id}/packages/${container}`, subscriptionId: ws.subscriptionId, location: ws.location },
      by.id,
      async (journal) => {
        await journal.record({ ws, container });
        const made = await this.makeContext(ws, container, req, {
          baseImage: typeof docker.baseImage === 'string' && docker.baseImage ? docker.baseImage : undefined,
          baseDockerfile:
            typeof docker.baseDockerfile === 'string' && docker.baseDockerfile ? docker.baseDockerfile : undefined,
          conda: python.condaDependencies as Obj | undefined,
          userManaged: python.userManagedDependencies === true,
          vars: Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, String(v)])),
        });
        await journal.record({ workspace: ws.id, dockerfile: made.dockerfile, log: made.log });
      },
    );
  }

  /** Gathers the context's files, writes its archive and returns the Dockerfile and a log of what it holds. */
  private async makeContext(
    ws: WorkspaceInfo,
    container: string,
    req: ImageRequest,
    env: {
      baseImage?: string;
      baseDockerfile?: string;
      conda?: Obj;
      userManaged: boolean;
      vars: Record<string, string>;
    },
  ): Promise<{ dockerfile: string; log: string }> {
    const files: ContextFile[] = [];
    const log: string[] = [];
    // The models: one under azureml-models/{name}/{version}/ (AZUREML_MODEL_DIR), several likewise
    // (AZUREML_MODEL_DIR is then azureml-models), as Azure ML v1's containers lay them out.
    const refs = (req.several ?? (req.model ? [req.model] : [])).map((m) => parseModelRef(m, ws));
    let mlflowModel: string | undefined;
    for (const r of refs) {
      const dir = await this.models.fetch(ws, r);
      for (const f of await walk(dir))
        files.push({ path: `azureml-models/${r.name}/${r.version}/${f.rel}`, local: f.abs, size: f.size });
      log.push(`model ${r.name}:${r.version} → azureml-models/${r.name}/${r.version}`);
      if (!req.entryScript) {
        const inner = mlflowModelDir(dir);
        if (!inner)
          throw invalid(
            'body.imageRequest',
            `model ${r.name}:${r.version} is not an MLflow model (no MLmodel file): give the InferenceConfig an entry script`,
          );
        mlflowModel = `${r.name}/${r.version}${inner === dir ? '' : `/${path.relative(dir, inner).split(path.sep).join('/')}`}`;
        const reqs = mlflowRequirements(inner);
        if (!reqs.some((l) => /^mlflow\b/i.test(l))) reqs.unshift('mlflow');
        files.push({
          path: 'azureml-environment-setup/requirements.txt',
          data: Buffer.from(reqs.join('\n') + '\n'),
          size: 0,
        });
      }
    }
    const vars: Record<string, string> = { ...env.vars };
    if (refs.length)
      vars.AZUREML_MODEL_DIR =
        refs.length === 1 ? `${APP}/azureml-models/${refs[0]!.name}/${refs[0]!.version}` : `${APP}/azureml-models`;
    for (const f of req.files ?? []) files.push({ path: `azureml-app/${f.path}`, data: f.data, size: f.data.length });
    if (req.files) log.push(`code: ${req.files.length} file(s) → azureml-app (entry script ${req.entryScript})`);
    let condaFile: string | undefined;
    if (env.conda && !env.userManaged) {
      // The inference server joins the environment's pip packages, as Azure's inference images carry it.
      const conda = structuredClone(env.conda);
      const deps = Array.isArray(conda.dependencies) ? [...(conda.dependencies as unknown[])] : [];
      if (!deps.some((d) => typeof d === 'string' && /^pip\b/.test(d))) deps.push('pip');
      const pipAt = deps.findIndex((d) => d && typeof d === 'object' && Array.isArray((d as Obj).pip));
      const pip = pipAt >= 0 ? [...((deps[pipAt] as Obj).pip as string[])] : [];
      if (!pip.some((p) => typeof p === 'string' && p.toLowerCase().startsWith(INFERENCE_SERVER)))
        pip.push(INFERENCE_SERVER);
      if (pipAt >= 0) deps[pipAt] = { ...(deps[pipAt] as Obj), pip };
      else deps.push({ pip });
      conda.dependencies = deps;
      condaFile = 'azureml-environment-setup/conda_dependencies.yml';
      files.push({ path: condaFile, data: Buffer.from(YAML.stringify(conda)), size: 0 });
    }
    for (const f of files) if (f.data) f.size = f.data.length;
    const total = files.reduce((n, f) => n + f.size, 0);
    if (total > MAX_CONTEXT_BYTES)
      throw invalid(
        'body.imageRequest.modelIds',
        `the build context would hold ${total} bytes, more than the ${MAX_CONTEXT_BYTES / 1024 ** 3} GiB a package's archive may`,
      );
    const dockerfile = packageDockerfile({
      baseImage: env.baseImage,
      baseDockerfile: env.baseDockerfile,
      envName: req.environment?.name.replace(/[^A-Za-z0-9_.-]/g, '_') ?? 'model',
      condaFile,
      userManaged: env.userManaged,
      environmentVariables: vars,
      entryScript: req.entryScript,
      mlflowModel,
      hasCode: Boolean(req.files?.length),
    });
    // One .tar.gz of every file (azureml-core unpacks it into the output folder; it makes no
    // folders for inline entries, so only the Dockerfile is given inline).
    const pack = tarStream.pack();
    const gz = pack.pipe(zlib.createGzip()).pipe(new PassThrough());
    const upload = this.artifacts.upload(ws, PACKAGE_ORIGIN, container, ARCHIVE, gz);
    const written = (async () => {
      for (const f of files) {
        const data = f.data ?? (await fs.promises.readFile(f.local!));
        await new Promise<void>((resolve, reject) =>
          pack.entry({ name: f.path, size: data.length, mode: 0o644 }, data, (e) => (e ? reject(e) : resolve())),
        );
      }
      pack.finalize();
    })();
    await Promise.all([written, upload]).catch(async (e) => {
      pack.destroy();
      await this.artifacts.delete(ws, PACKAGE_ORIGIN, container, ARCHIVE).catch(() => undefined);
      throw e;
    });
    log.push(`Dockerfile and ${files.length} file(s), ${total} bytes: build context ready`);
    return { dockerfile, log: log.join('\n') };
  }

  private async journal(ws: WorkspaceInfo, id: string): Promise<{ op: Operation; j: ContextJournal }> {
    const op = await this.operations.get(id);
    if (!op || op.kind !== CONTEXT_OPERATION || !op.resourceId.toLowerCase().startsWith(`${ws.id.toLowerCase()}/`))
      throw new NotFound(`package '${id}' could not be found in workspace '${ws.name}'`, { code: 'NOT_FOUND' });
    return { op, j: ((await this.operations.journalOf(id)) ?? {}) as ContextJournal };
  }

  /** The manifest `ModelPackage.save` downloads: the Dockerfile inline, the rest as one archive to unpack. */
  async manifest(ws: WorkspaceInfo, id: string): Promise<Obj> {
    const { op, j } = await this.journal(ws, id);
    if (op.status !== 'Succeeded' || !j.dockerfile || !j.container)
      throw new NotFound(`package '${id}' has no build context (it is ${op.status})`, { code: 'NOT_FOUND' });
    return {
      packageType: 'DockerBuildContext',
      context: [
        {
          entryType: 'inline',
          path: 'Dockerfile',
          encoding: 'base64',
          content: Buffer.from(j.dockerfile).toString('base64'),
        },
        {
          entryType: 'remote',
          path: '.',
          uri: `aml://artifact/${PACKAGE_ORIGIN}/${j.container}/${ARCHIVE}`,
          unpack: true,
        },
      ],
    };
  }

  /** What the package's operation did (`ModelPackage.get_logs()`). */
  async log(ws: WorkspaceInfo, id: string): Promise<string> {
    const { op, j } = await this.journal(ws, id);
    return [j.log ?? '', op.error ? `failed: ${op.error.message}` : ''].filter(Boolean).join('\n');
  }
}
