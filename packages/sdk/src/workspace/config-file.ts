import fs from 'node:fs';
import path from 'node:path';
import { ConfigurationError, ValidationError } from '../errors.js';
import { parseWorkspaceId } from './arm-ids.js';

/** What a workspace config file says. */
export interface WorkspaceConfig {
  subscriptionId: string;
  resourceGroup: string;
  workspaceName: string;
  /** The Atelier server, when the file names one (files written by `writeConfig` do). */
  endpoint?: string;
  /** The file it was read from. */
  file: string;
}

/** The folders searched in each directory, in order ('' = the directory itself). */
export const CONFIG_FOLDERS = ['.azureml', 'aml_config', ''] as const;
/** The file names searched, in order, when none is given (`project.json` is the legacy name). */
export const CONFIG_FILE_NAMES = ['config.json', 'project.json'] as const;
export const DEFAULT_CONFIG_FOLDER = '.azureml';
export const DEFAULT_CONFIG_FILE = 'config.json';

/** A file name given by the user must stay in its folder. */
export function checkFileName(fileName: string): string {
  if (!fileName || fileName === '.' || fileName === '..' || /[/\\\0]/.test(fileName)) {
    throw new ValidationError(
      `fileName '${fileName}' must be a plain file name (no folders); put the folder in 'path'`,
      { code: 'InvalidFileName', target: 'fileName' },
    );
  }
  return fileName;
}

/**
 * Finds the config file the way the seed's `from_config` does: starting at `start` (default the
 * current folder) and walking up to the root, in each folder look in `.azureml/`, `aml_config/`,
 * then the folder itself, for `config.json` then `project.json` (or only `fileName` if given).
 * The nearest folder wins. Returns undefined when there is none.
 */
export function findConfigFile(start: string = process.cwd(), fileName?: string): string | undefined {
  const names = fileName ? [checkFileName(fileName)] : CONFIG_FILE_NAMES;
  let dir = path.resolve(start);
  for (;;) {
    for (const name of names) {
      for (const folder of CONFIG_FOLDERS) {
        const candidate = path.join(dir, folder, name);
        try {
          if (fs.statSync(candidate).isFile()) return candidate;
        } catch {
          /* not here */
        }
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** Reads one config file: `{subscription_id, resource_group, workspace_name}` or `{Scope: "<workspace ARM id>"}`. */
export function readConfigFile(file: string): WorkspaceConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigurationError(`cannot read the workspace config file ${file}: ${(e as Error).message}`, {
      code: 'ConfigFileUnreadable',
    });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (e) {
    throw new ConfigurationError(`the workspace config file ${file} is not valid JSON (${(e as Error).message})`, {
      code: 'ConfigFileInvalid',
    });
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw))
    throw new ConfigurationError(`the workspace config file ${file} must hold a JSON object`, {
      code: 'ConfigFileInvalid',
    });
  const o = raw as Record<string, unknown>;
  const endpoint = typeof o.endpoint === 'string' && o.endpoint ? o.endpoint : undefined;
  const scope = o.Scope ?? o.scope;
  if (typeof scope === 'string') {
    const ids = parseWorkspaceId(scope);
    if (!ids)
      throw new ConfigurationError(
        `the Scope in ${file} is not a workspace ARM id (/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.MachineLearningServices/workspaces/<name>)`,
        { code: 'ConfigFileInvalid' },
      );
    return { ...ids, ...(endpoint ? { endpoint } : {}), file };
  }
  const missing = ['subscription_id', 'resource_group', 'workspace_name'].filter(
    (k) => typeof o[k] !== 'string' || !(o[k] as string).trim(),
  );
  if (missing.length) {
    throw new ConfigurationError(
      `the workspace config file ${file} lacks ${missing.join(', ')}: it needs subscription_id, resource_group and workspace_name (or a Scope)`,
      { code: 'ConfigFileInvalid' },
    );
  }
  return {
    subscriptionId: (o.subscription_id as string).trim(),
    resourceGroup: (o.resource_group as string).trim(),
    workspaceName: (o.workspace_name as string).trim(),
    ...(endpoint ? { endpoint } : {}),
    file,
  };
}

/**
 * `path` may be the config file itself or the folder to start the search from (default the
 * current folder). Throws ConfigurationError naming every place looked at when nothing is found.
 */
export function loadWorkspaceConfig(opts: { path?: string; fileName?: string } = {}): WorkspaceConfig {
  const start = path.resolve(opts.path ?? process.cwd());
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(start);
  } catch {
    throw new ConfigurationError(`the path '${opts.path}' given to fromConfig does not exist`, {
      code: 'ConfigFileNotFound',
    });
  }
  if (stat.isFile()) return readConfigFile(start);
  const file = findConfigFile(start, opts.fileName);
  if (!file) {
    const names = opts.fileName ? [opts.fileName] : [...CONFIG_FILE_NAMES];
    throw new ConfigurationError(
      `no workspace config file found: looked for ${names.join(' or ')} in .azureml/, aml_config/ and the folder itself, from ${start} up to the root. ` +
        'Write one with `ws.writeConfig()` or `atelier workspace write-config`, or pass its path.',
      { code: 'ConfigFileNotFound' },
    );
  }
  return readConfigFile(file);
}

/**
 * Writes `{subscription_id, resource_group, workspace_name, endpoint}` to `path/fileName`
 * (default `.azureml/config.json` under the current folder). Returns the file written.
 */
export function writeWorkspaceConfig(
  cfg: Omit<WorkspaceConfig, 'file'>,
  opts: { path?: string; fileName?: string } = {},
): string {
  const dir = path.resolve(opts.path ?? DEFAULT_CONFIG_FOLDER);
  const file = path.join(dir, checkFileName(opts.fileName ?? DEFAULT_CONFIG_FILE));
  const body: Record<string, string> = {
    subscription_id: cfg.subscriptionId,
    resource_group: cfg.resourceGroup,
    workspace_name: cfg.workspaceName,
  };
  if (cfg.endpoint) body.endpoint = cfg.endpoint;
  try {
    fs.mkdirSync(dir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(body, null, 2) + '\n');
    fs.renameSync(tmp, file);
  } catch (e) {
    throw new ConfigurationError(`cannot write the workspace config file ${file}: ${(e as Error).message}`, {
      code: 'ConfigFileUnwritable',
    });
  }
  return file;
}
