import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { WorkspaceInfo } from '../resources/workspace-info.js';
import type { Tx } from '../store/database.js';
import type { RegistryService } from '../tracking/registry/registry.js';
import type { ArtifactService, WorkspaceRef } from '../tracking/artifacts/artifacts.js';
import { proxiedArtifactPath } from '../tracking/logged-models/logged-models.js';
import { AtelierError, InvalidInput, NotFound } from '../errors.js';

/** A model reference of a deployment, parsed: a version of a registered model. */
export interface ModelRef {
  name: string;
  version: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._ -]{0,254}$/;

/**
 * Parses `properties.model` of a deployment. Accepted: the ARM id of a model version
 * (`…/workspaces/{w}/models/{name}/versions/{v}`, what azure-ai-ml sends), `azureml:name:version`,
 * `name:version`, and MLflow's `models:/name/version`. The one registry (MLflow registered models,
 * which `W/models` shows too) holds them all.
 */
export function parseModelRef(
  raw: string,
  ws: Pick<WorkspaceInfo, 'id' | 'name'>,
  target = 'properties.model',
): ModelRef {
  const bad = (why: string) =>
    new InvalidInput(
      `${target} '${raw}' ${why}: use the model version's id (${ws.id}/models/<name>/versions/<version>), azureml:<name>:<version> or models:/<name>/<version>`,
      { code: 'INVALID_INPUT', target },
    );
  let name: string | undefined;
  let version: string | undefined;
  const arm =
    /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.MachineLearningServices\/workspaces\/([^/]+)\/models\/([^/]+)\/versions\/([^/]+)$/i.exec(
      raw,
    );
  if (arm) {
    if (arm[1]!.toLowerCase() !== ws.name.toLowerCase())
      throw bad(`names a model of workspace '${arm[1]}', not of this workspace '${ws.name}'`);
    name = decodeURIComponent(arm[2]!);
    version = decodeURIComponent(arm[3]!);
  } else if (/^models:\//i.test(raw)) {
    const m = /^models:\/+([^/@]+)\/([^/]+)$/i.exec(raw);
    if (!m) throw bad('is not models:/<name>/<version>');
    name = m[1];
    version = m[2];
  } else {
    const m = /^(?:azureml:)?([^:/]+):([^:/]+)$/i.exec(raw);
    if (!m) throw bad('is not a model version reference');
    name = m[1];
    version = m[2];
  }
  if (!NAME.test(name!)) throw bad('has a model name that is not valid');
  if (!/^\d{1,9}$/.test(version!)) throw bad('has a version that is not a whole number');
  return { name: name!, version: version! };
}

function noSuchVersion(ws: WorkspaceInfo, ref: ModelRef): InvalidInput {
  return new InvalidInput(
    `properties.model: workspace '${ws.name}' has no model '${ref.name}' version ${ref.version}; register it first (MLflow's register_model or ml_client.models.create_or_update)`,
    { code: 'MODEL_VERSION_NOT_FOUND', target: 'properties.model' },
  );
}

/**
 * The model versions a deployment's properties serve: `model` and, when it serves several, each
 * of `properties[MODELS_PROPERTY]` (stored after validation, so they parse).
 */
export function modelsServed(props: Record<string, unknown>, ws: Pick<WorkspaceInfo, 'id' | 'name'>): ModelRef[] {
  const refs: ModelRef[] = [];
  if (typeof props.model === 'string') refs.push(parseModelRef(props.model, ws));
  const several = (props.properties as Record<string, unknown> | undefined)?.[MODELS_PROPERTY];
  if (typeof several === 'string')
    refs.push(...parseModelList(several, ws, `properties.properties.${MODELS_PROPERTY}`));
  return refs;
}

/**
 * Brings a registered model version's files from the workspace's artifact store to a local folder
 * the workers read (AZUREML_MODEL_DIR). Folders are cached by storage location (a version's files
 * never change) and made in a private folder, renamed into place when complete.
 */
export class ModelSource {
  /** Fills under way, by folder: deployments of one model started together share one download. */
  private readonly filling = new Map<string, Promise<string>>();

  constructor(
    private readonly cacheDir: string,
    private readonly registry: RegistryService,
    private readonly artifacts: ArtifactService,
  ) {}

  /** Checks that the version exists (400 naming it otherwise, for a PUT to refuse at once). */
  async check(ws: WorkspaceInfo, ref: ModelRef): Promise<void> {
    await this.locate(ws, ref);
  }

  /**
   * Holds the version in a write transaction that stores a deployment serving it (the registry's
   * `holdVersion`): a delete of the version waits for that write and then sees the deployment.
   */
  async hold(tx: Tx, ws: WorkspaceInfo, ref: ModelRef): Promise<void> {
    try {
      await this.registry.holdVersion(tx, ws, ref.name, Number(ref.version));
    } catch (e) {
      if (e instanceof AtelierError && e.kind === 'not_found') throw noSuchVersion(ws, ref);
      throw e;
    }
  }

  private async locate(ws: WorkspaceInfo, ref: ModelRef): Promise<{ wsRef: WorkspaceRef; artifactPath: string }> {
    const wsRef: WorkspaceRef = { workspaceId: ws.workspaceId, storageAccountId: ws.storageAccountId ?? null };
    let storage: string;
    try {
      storage = await this.registry.getDownloadUri(wsRef, ref.name, ref.version);
    } catch (e) {
      if (e instanceof AtelierError && e.kind === 'not_found') throw noSuchVersion(ws, ref);
      throw e;
    }
    const artifactPath = proxiedArtifactPath(storage);
    if (artifactPath === undefined)
      throw new InvalidInput(
        `properties.model: model '${ref.name}' version ${ref.version} is stored at '${storage}', outside the workspace's artifact store; deployments serve models whose files are in the workspace (mlflow-artifacts:/…)`,
        { code: 'MODEL_SOURCE_UNAVAILABLE', target: 'properties.model' },
      );
    return { wsRef, artifactPath };
  }

  /** The local folder of the model's files (downloaded once). */
  async fetch(ws: WorkspaceInfo, ref: ModelRef): Promise<string> {
    const { wsRef, artifactPath } = await this.locate(ws, ref);
    const key = crypto.createHash('sha256').update(`${ws.workspaceId}\n${artifactPath}`).digest('hex').slice(0, 32);
    const dir = path.join(this.cacheDir, key);
    if (fs.existsSync(path.join(dir, COMPLETE))) return dir;
    // Listed inside the fill: deployments of the model started together list and download it once.
    return this.fillOnce(dir, async (tmp) => {
      let files = await this.artifacts.listRecursive(wsRef, artifactPath);
      let base = artifactPath;
      if (!files.length) {
        // A model registered as one file (azureml-core's Model.register(model_path='model.pkl')): its
        // folder holds that file, as Azure's AZUREML_MODEL_DIR does.
        const st = await this.artifacts.stat(wsRef, artifactPath);
        if (st && !st.isDir) {
          base = path.posix.dirname(artifactPath);
          files = [{ ...st, path: path.posix.basename(artifactPath) }];
        }
      }
      if (!files.length)
        throw new NotFound(
          `model '${ref.name}' version ${ref.version} has no files at '${artifactPath}' in the workspace's artifact store`,
          { code: 'MODEL_SOURCE_UNAVAILABLE' },
        );
      for (const f of files) {
        const dest = path.resolve(tmp, f.path);
        if (!dest.startsWith(tmp + path.sep)) continue;
        await fs.promises.mkdir(path.dirname(dest), { recursive: true });
        const { stream } = await this.artifacts.download(wsRef, `${base}/${f.path}`);
        await pipeline(stream, fs.createWriteStream(dest));
      }
    });
  }

  /**
   * The folder of several models, each under `{name}/{version}/` (made once per list from the
   * models' own cached folders, renamed into place when complete).
   */
  async fetchAll(ws: WorkspaceInfo, refs: ModelRef[]): Promise<string> {
    const ids = refs.map((r) => `${r.name}/${r.version}`);
    const key = crypto
      .createHash('sha256')
      .update(`${ws.workspaceId}\n${ids.join('\n')}`)
      .digest('hex')
      .slice(0, 32);
    const dir = path.join(this.cacheDir, `models-${key}`);
    if (fs.existsSync(path.join(dir, COMPLETE))) return dir;
    return this.fillOnce(dir, async (tmp) => {
      for (const r of refs) {
        const from = await this.fetch(ws, r);
        await fs.promises.cp(from, path.join(tmp, r.name, r.version), {
          recursive: true,
          filter: (f) => path.basename(f) !== COMPLETE,
        });
      }
    });
  }

  /** `fillOnce`, joined by a fill of the same folder already under way in this process. */
  private fillOnce(dir: string, fill: (tmp: string) => Promise<void>): Promise<string> {
    let filled = this.filling.get(dir);
    if (!filled) {
      filled = fillOnce(dir, fill).finally(() => this.filling.delete(dir));
      this.filling.set(dir, filled);
    }
    return filled;
  }
}

/** The marker a cache folder holds once it is whole. */
const COMPLETE = '.complete';

/**
 * Fills a cache folder once: `fill` writes into a temporary folder beside it, which is marked complete
 * and renamed into place. A complete folder is never removed: fills of one folder in other processes
 * (servers sharing a data folder) each make a copy, the first one renamed into place wins and is every
 * fill's answer (the others' copies, the same files, are dropped) while workers may already read it.
 * A folder in the way without the marker was not made by a fill: it is first renamed aside (one
 * atomic step, so a removal never runs inside a folder another fill has just put in place), then
 * removed, and the rename tried again; a complete folder found aside (another fill's, put in place
 * after this one looked) goes back. On a failure the temporary folder is removed, and a folder
 * another fill completed meanwhile is the answer.
 */
async function fillOnce(dir: string, fill: (tmp: string) => Promise<void>): Promise<string> {
  const tmp = `${dir}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
  const complete = () => fs.existsSync(path.join(dir, COMPLETE));
  try {
    await fill(tmp);
    await fs.promises.writeFile(path.join(tmp, COMPLETE), '');
    for (let attempt = 0; ; attempt++) {
      try {
        await fs.promises.rename(tmp, dir);
        return dir;
      } catch (e) {
        if (complete()) return dir;
        const code = (e as NodeJS.ErrnoException).code;
        if ((code !== 'ENOTEMPTY' && code !== 'EEXIST') || attempt === 2) throw e;
        if (await setAside(dir, `${tmp}.${attempt}.old`)) return dir;
      }
    }
  } catch (e) {
    if (complete()) return dir;
    throw e;
  } finally {
    // Gone once renamed into place; else the copy a failed or losing fill leaves.
    await fs.promises.rm(tmp, { recursive: true, force: true });
  }
}

/**
 * Moves the folder in the way to `aside` and removes it there. Answers true when what it moved was a
 * complete folder (another fill's, renamed into place after the caller looked) and it went back.
 */
async function setAside(dir: string, aside: string): Promise<boolean> {
  try {
    await fs.promises.rename(dir, aside);
  } catch (e) {
    // Gone already (another fill set it aside): the caller's rename may now succeed.
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
  if (fs.existsSync(path.join(aside, COMPLETE))) {
    try {
      await fs.promises.rename(aside, dir);
      return true;
    } catch {
      // Something took its place again; that folder is judged on the caller's next attempt.
    }
  }
  await fs.promises.rm(aside, { recursive: true, force: true });
  return false;
}

/**
 * `properties.properties[MODELS_PROPERTY]` of a deployment serving several models: their references
 * (`azureml:{name}:{version}`), comma-separated. AZUREML_MODEL_DIR then holds each model's files
 * under `{name}/{version}/`, Azure ML v1's layout for a service of several models.
 */
export const MODELS_PROPERTY = 'atelier.models';

/** The model references of a deployment's MODELS_PROPERTY (checked: 400 naming the property). */
export function parseModelList(raw: string, ws: Pick<WorkspaceInfo, 'id' | 'name'>, target: string): ModelRef[] {
  const refs = raw
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)
    .map((x) => parseModelRef(x, ws, target));
  const seen = new Set(refs.map((r) => `${r.name.toLowerCase()}/${r.version}`));
  if (refs.length < 2 || refs.length > 32 || seen.size !== refs.length)
    throw new InvalidInput(
      `${target}: must list 2 to 32 different models (azureml:{name}:{version}, comma-separated)`,
      {
        code: 'INVALID_INPUT',
        target,
      },
    );
  return refs;
}

/** The folder of an MLflow model inside a model's files (its root, or the one folder below it holding MLmodel). */
export function mlflowModelDir(dir: string): string | undefined {
  if (fs.existsSync(path.join(dir, 'MLmodel'))) return dir;
  const subs = fs.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory());
  for (const s of subs) if (fs.existsSync(path.join(dir, s.name, 'MLmodel'))) return path.join(dir, s.name);
  return undefined;
}

/** The model's own pip requirements (MLflow writes requirements.txt beside MLmodel). */
export function mlflowRequirements(modelDir: string): string[] {
  try {
    return fs
      .readFileSync(path.join(modelDir, 'requirements.txt'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
  } catch {
    return [];
  }
}
