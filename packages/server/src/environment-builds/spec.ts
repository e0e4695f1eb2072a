import crypto from 'node:crypto';
import YAML from 'yaml';
import { InvalidInput } from '../errors.js';

/** What a Python environment is made of, normalised: its hash is the cache key of the build. */
export interface EnvironmentSpec {
  /** `3.11`, `>=3.10`… from the conda file's `python` dependency; undefined = the builder's default Python. */
  python?: string;
  /** pip requirement lines, in order (options like --index-url kept as lines). */
  requirements: string[];
}

/** Conda dependencies that need no conda solver: the interpreter and pip itself. */
const CONDA_OK = new Set(['python', 'pip', 'setuptools', 'wheel']);
/** pip options a requirements list may carry (anything naming local files is refused: there are none here). */
const PIP_OPTIONS =
  /^(--index-url|-i|--extra-index-url|--find-links|-f|--pre|--no-binary|--only-binary|--prefer-binary)\b/;

function pipLines(text: string, where: string): string[] {
  const out: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/(^|\s)#.*$/, '').trim();
    if (!line) continue;
    if (line.startsWith('-') && !PIP_OPTIONS.test(line))
      throw new InvalidInput(
        `${where}: '${line}' refers to files or options a build here cannot use; list the packages themselves`,
        { target: where },
      );
    out.push(line);
  }
  return out;
}

/**
 * The spec of an environment version's properties: the conda file's python version and `pip:` list,
 * then `pipRequirements`. An environment with only an image (or a Docker build context) needs a
 * container runtime; a conda-only package needs a conda solver: both are refused with a 400 naming why.
 */
export function specOf(
  p: { image?: unknown; build?: unknown; condaFile?: unknown; pipRequirements?: unknown },
  label: string,
): EnvironmentSpec {
  // A Dockerfile's steps (properties.build) need a container runtime even when conda or pip lists
  // come with it: building only those lists would quietly leave the Dockerfile's steps out.
  if (p.build)
    throw new InvalidInput(
      `environment ${label} is built from a Dockerfile (properties.build), whose steps need a container runtime, and this server has none; register a version with a base image (properties.image) and a conda file or pip requirements so it can be built as a Python environment`,
      { code: 'ENVIRONMENT_NEEDS_CONTAINER', target: 'environmentId' },
    );
  if (typeof p.condaFile !== 'string' && typeof p.pipRequirements !== 'string') {
    throw new InvalidInput(
      `environment ${label} is only ${p.build ? 'a Docker build context' : `the container image '${String(p.image ?? '')}'`}, and this server has no container runtime to run it; add a conda file or pip requirements to the environment (a new version) so it can be built as a Python environment`,
      { code: 'ENVIRONMENT_NEEDS_CONTAINER', target: 'environmentId' },
    );
  }
  const spec: EnvironmentSpec = { requirements: [] };
  if (typeof p.condaFile === 'string') {
    const doc = (YAML.parse(p.condaFile) ?? {}) as { dependencies?: unknown[] };
    const condaOnly: string[] = [];
    for (const dep of doc.dependencies ?? []) {
      if (typeof dep === 'string') {
        const m = /^([A-Za-z0-9_.-]+)(?:::)?\s*(.*)$/.exec(dep.replace(/^[^:]+::/, '').trim());
        const name = (m?.[1] ?? dep).toLowerCase();
        const version = (m?.[2] ?? '').trim();
        if (name === 'python') {
          // conda's `python=3.11` / `python==3.11.4` / `python>=3.10`
          spec.python = version.replace(/^=+/, '').replace(/\.\*$/, '') || undefined;
        } else if (!CONDA_OK.has(name)) condaOnly.push(dep);
      } else if (dep && typeof dep === 'object' && Array.isArray((dep as { pip?: unknown }).pip)) {
        spec.requirements.push(...pipLines((dep as { pip: string[] }).pip.join('\n'), 'properties.condaFile pip'));
      }
    }
    if (condaOnly.length)
      throw new InvalidInput(
        `environment ${label}: the conda file names conda packages (${condaOnly.map((d) => `'${d}'`).join(', ')}), and this server builds environments with pip only (no conda solver); move them to the 'pip:' list (most exist on PyPI under the same name) or to pipRequirements`,
        { code: 'CONDA_PACKAGE_UNSUPPORTED', target: 'properties.condaFile' },
      );
  }
  if (typeof p.pipRequirements === 'string')
    spec.requirements.push(...pipLines(p.pipRequirements, 'properties.pipRequirements'));
  if (spec.python !== undefined && !/^(==|>=|<=|~=|>|<)?\d+(\.\d+){0,2}$/.test(spec.python))
    throw new InvalidInput(
      `environment ${label}: python version '${spec.python}' is not one a build can use (e.g. 3.11)`,
      {
        target: 'properties.condaFile',
      },
    );
  return spec;
}

/** The spec's hash: sha256 of its normalised JSON. */
export function specHash(spec: EnvironmentSpec): string {
  return crypto
    .createHash('sha256')
    .update(JSON.stringify({ python: spec.python ?? null, requirements: spec.requirements }))
    .digest('hex');
}
