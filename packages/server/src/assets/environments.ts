import YAML from 'yaml';
import type { AppContext } from '../context.js';
import type { ResourceEngine } from '../resources/engine.js';
import type { WorkspaceInfo } from '../resources/workspaces.js';
import { VersionedAssetService, type VersionedKind } from './versioned-assets.js';
import { invalid, obj, onlyKeys, str, stringMap, type Obj } from './validate.js';

/** A container image reference: [registry[:port]/]repository[:tag][@sha256:digest]. */
const IMAGE =
  /^(?:[a-zA-Z0-9.-]+(?::\d{1,5})?\/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;
/** One pip requirement: name[extras] [version specifiers] [; marker]. */
const REQUIREMENT =
  /^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9._, -]*\])?\s*((===|==|>=|<=|~=|!=|>|<)\s*[A-Za-z0-9.*+!_-]+(\s*,\s*(===|==|>=|<=|~=|!=|>|<)\s*[A-Za-z0-9.*+!_-]+)*)?\s*(;.*)?$/;
const ENV_VAR = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function checkCondaFile(text: string): void {
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (e) {
    throw invalid('properties.condaFile', `is not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc))
    throw invalid(
      'properties.condaFile',
      'must be a conda environment file: a YAML mapping with name, channels and dependencies',
    );
  const d = doc as Obj;
  for (const k of Object.keys(d))
    if (!['name', 'channels', 'dependencies', 'variables', 'prefix'].includes(k))
      throw invalid(
        'properties.condaFile',
        `has an unknown key '${k}' (a conda file has name, channels, dependencies, variables)`,
      );
  if (d.channels !== undefined && (!Array.isArray(d.channels) || d.channels.some((c) => typeof c !== 'string')))
    throw invalid('properties.condaFile', 'channels must be a list of channel names');
  if (d.dependencies !== undefined) {
    if (!Array.isArray(d.dependencies)) throw invalid('properties.condaFile', 'dependencies must be a list');
    for (const dep of d.dependencies) {
      if (typeof dep === 'string') continue;
      if (
        dep &&
        typeof dep === 'object' &&
        !Array.isArray(dep) &&
        Object.keys(dep).length === 1 &&
        Array.isArray((dep as Obj).pip)
      ) {
        for (const line of (dep as { pip: unknown[] }).pip)
          if (typeof line !== 'string') throw invalid('properties.condaFile', 'every pip entry must be a string');
        continue;
      }
      throw invalid(
        'properties.condaFile',
        `dependency ${JSON.stringify(dep)} is not a package spec or a { pip: [...] } list`,
      );
    }
  }
}

export function checkPipRequirements(text: string): void {
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/\s+#.*$/, '').trim();
    if (!line || line.startsWith('#')) return;
    if (line.startsWith('-') || /^(git\+|https?:\/\/|file:)/.test(line) || / @ (https?|git\+|file):/.test(line)) return;
    if (!REQUIREMENT.test(line))
      throw invalid(
        'properties.pipRequirements',
        `line ${i + 1} '${raw.trim()}' is not a requirement (e.g. 'pandas==2.2.3' or 'scikit-learn>=1.5')`,
      );
  });
}

const curatedConda = (deps: string[], pip: string[]) =>
  YAML.stringify({ name: 'project_environment', channels: ['conda-forge'], dependencies: [...deps, { pip }] });

/** Curated environments present in every workspace (read-only; the 'AzureML-' prefix is reserved). */
export const CURATED: VersionedKind['builtIn'] = new Map(
  [
    {
      name: 'AzureML-minimal-py311',
      description: 'Python 3.11 with MLflow tracking, for scripts that bring their own packages.',
      versions: {
        '1': { image: 'python:3.11-slim', condaFile: curatedConda(['python=3.11', 'pip'], ['mlflow-skinny==3.1.1']) },
      },
    },
    {
      name: 'AzureML-sklearn-1.5',
      description: 'Python 3.11 with scikit-learn 1.5, pandas and MLflow.',
      versions: {
        '1': {
          image: 'python:3.11-slim',
          condaFile: curatedConda(
            ['python=3.11', 'pip'],
            ['scikit-learn==1.5.2', 'pandas==2.2.3', 'mlflow-skinny==3.1.1'],
          ),
        },
      },
    },
    {
      name: 'AzureML-lightgbm-4.5',
      description: 'Python 3.11 with LightGBM 4.5, pandas and MLflow.',
      versions: {
        '1': {
          image: 'python:3.11-slim',
          condaFile: curatedConda(['python=3.11', 'pip'], ['lightgbm==4.5.0', 'pandas==2.2.3', 'mlflow-skinny==3.1.1']),
        },
      },
    },
  ].map((c) => [
    c.name.toLowerCase(),
    {
      name: c.name,
      description: c.description,
      versions: Object.fromEntries(
        Object.entries(c.versions).map(([v, p]) => [
          v,
          {
            ...p,
            description: c.description,
            tags: {},
            properties: {},
            osType: 'Linux',
            environmentType: 'Curated',
            autoRebuild: 'Disabled',
            isAnonymous: false,
            isArchived: false,
            provisioningState: 'Succeeded',
          },
        ]),
      ),
    },
  ]),
);

/** Environments `W/environments/{name}/versions/{v}`: base image or build context, conda file, pip requirements, variables. */
export function environmentService(ctx: AppContext, engine: ResourceEngine): VersionedAssetService {
  const kind: VersionedKind = {
    segment: 'environments',
    label: 'environment',
    containerType: 'Microsoft.MachineLearningServices/workspaces/environments',
    versionType: 'Microsoft.MachineLearningServices/workspaces/environments/versions',
    keys: [
      'image',
      'condaFile',
      'build',
      'osType',
      'inferenceConfig',
      'autoRebuild',
      'environmentType',
      'environmentVariables',
      'pipRequirements',
    ],
    builtIn: CURATED,
    reservedPrefix: 'AzureML-',
    async validate(_ws: WorkspaceInfo, _name: string, p: Obj): Promise<Obj> {
      const T = 'properties';
      const out: Obj = { environmentType: 'UserCreated' };
      const image = str(p, 'image', T, {
        max: 500,
        pattern: IMAGE,
        rule: "must be an image reference like 'python:3.11-slim' or 'registry.example.com/team/image:1.0' (lower-case repository)",
      });
      if (image) out.image = image;
      const build = obj(p.build, `${T}.build`, false);
      if (build) {
        onlyKeys(build, ['contextUri', 'dockerfilePath'], `${T}.build`);
        const contextUri = str(build, 'contextUri', `${T}.build`, { required: true, max: 2000 })!;
        if (!/^(azureml|https?):\/\//i.test(contextUri))
          throw invalid(`${T}.build.contextUri`, 'must be an azureml:// or http(s):// URI of the build context folder');
        out.build = {
          contextUri,
          dockerfilePath: str(build, 'dockerfilePath', `${T}.build`, { max: 500 }) ?? 'Dockerfile',
        };
      }
      if (!image && !build)
        throw invalid(T, 'an environment needs a base image (properties.image) or a build context (properties.build)');
      if (image && build) throw invalid(T, 'give either properties.image or properties.build, not both');
      const conda = str(p, 'condaFile', T, { max: 100_000 });
      if (conda !== undefined) {
        checkCondaFile(conda);
        out.condaFile = conda;
      }
      const pip = str(p, 'pipRequirements', T, { max: 100_000 });
      if (pip !== undefined) {
        checkPipRequirements(pip);
        out.pipRequirements = pip;
      }
      const vars = stringMap(p, 'environmentVariables', T, {
        maxEntries: 200,
        keyPattern: ENV_VAR,
        rule: 'must be a variable name (letters, digits, _; not starting with a digit)',
      });
      if (vars) out.environmentVariables = vars;
      out.osType = str(p, 'osType', T, { oneOf: ['Linux', 'Windows'] }) ?? 'Linux';
      out.autoRebuild = str(p, 'autoRebuild', T, { oneOf: ['Disabled', 'OnBaseImageUpdate'] }) ?? 'Disabled';
      if (p.environmentType !== undefined && String(p.environmentType) !== 'UserCreated')
        throw invalid(`${T}.environmentType`, "is read-only; only curated environments are 'Curated'");
      const inf = obj(p.inferenceConfig, `${T}.inferenceConfig`, false);
      if (inf) {
        onlyKeys(inf, ['livenessRoute', 'readinessRoute', 'scoringRoute'], `${T}.inferenceConfig`);
        const routes: Obj = {};
        for (const k of ['livenessRoute', 'readinessRoute', 'scoringRoute']) {
          const r = obj(inf[k], `${T}.inferenceConfig.${k}`, false);
          if (!r) continue;
          onlyKeys(r, ['path', 'port'], `${T}.inferenceConfig.${k}`);
          const path = str(r, 'path', `${T}.inferenceConfig.${k}`, {
            required: true,
            max: 500,
            pattern: /^\//,
            rule: "must start with '/'",
          });
          if (typeof r.port !== 'number' || !Number.isInteger(r.port) || r.port < 1 || r.port > 65535)
            throw invalid(`${T}.inferenceConfig.${k}.port`, 'must be a port number 1–65535');
          routes[k] = { path, port: r.port };
        }
        out.inferenceConfig = routes;
      }
      return out;
    },
  };
  return new VersionedAssetService(ctx, engine, kind);
}
