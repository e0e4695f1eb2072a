import { ValidationError } from '../errors.js';
import { WORKSPACE_PROVIDER } from '../constants.js';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The seed's rule: 2–32 characters, first a letter or digit, then letters, digits, '-' and '_'. */
export const WORKSPACE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{1,31}$/;

export function checkWorkspaceName(name: unknown): string {
  if (typeof name !== 'string' || !WORKSPACE_NAME.test(name)) {
    throw new ValidationError(
      `workspace name '${String(name)}' is invalid: use 2–32 characters, the first a letter or digit, the rest letters, digits, '-' or '_' (no spaces)`,
      { code: 'InvalidWorkspaceName', target: 'name' },
    );
  }
  return name;
}

export function checkSubscriptionId(id: unknown): string {
  if (typeof id !== 'string' || !GUID.test(id))
    throw new ValidationError(`subscription id '${String(id)}' is not a GUID`, {
      code: 'InvalidSubscriptionId',
      target: 'subscriptionId',
    });
  return id;
}

/** Resource group names: 1–90 of letters, digits, '_', '-', '.', '(', ')', not ending in '.'. */
export function checkResourceGroupName(name: unknown): string {
  if (typeof name !== 'string' || !/^[-\w.()]{1,90}$/.test(name) || name.endsWith('.')) {
    throw new ValidationError(
      `resource group name '${String(name)}' is invalid: use 1–90 letters, digits, '_', '-', '.', '(' or ')', not ending in '.'`,
      { code: 'InvalidResourceGroupName', target: 'resourceGroup' },
    );
  }
  return name;
}

export const subscriptionPath = (sub: string) => `/subscriptions/${encodeURIComponent(sub)}`;
export const groupPath = (sub: string, rg: string) =>
  `${subscriptionPath(sub)}/resourceGroups/${encodeURIComponent(rg)}`;
export const workspacePath = (sub: string, rg: string, name: string) =>
  `${groupPath(sub, rg)}/providers/${WORKSPACE_PROVIDER}/workspaces/${encodeURIComponent(name)}`;

/** Parses a workspace ARM id (any case), as found in a config file's `Scope`. */
export function parseWorkspaceId(
  id: string,
): { subscriptionId: string; resourceGroup: string; workspaceName: string } | undefined {
  const m =
    /^\/?subscriptions\/([^/]+)\/resourcegroups\/([^/]+)\/providers\/microsoft\.machinelearningservices\/workspaces\/([^/]+)\/?$/i.exec(
      id.trim(),
    );
  if (!m) return undefined;
  return {
    subscriptionId: decodeURIComponent(m[1]!),
    resourceGroup: decodeURIComponent(m[2]!),
    workspaceName: decodeURIComponent(m[3]!),
  };
}

/**
 * A dependent resource given by ARM id (storage account, key vault, …): must name a resource in
 * the given provider namespace. The seed's examples omit the leading '/', which is added.
 */
export function normaliseResourceId(id: unknown, option: string, provider: string, type: string): string {
  if (typeof id !== 'string' || !id.trim())
    throw new ValidationError(`${option} must be an ARM resource id string`, {
      code: 'InvalidResourceId',
      target: option,
    });
  const s = id.trim().startsWith('/') ? id.trim() : `/${id.trim()}`;
  const re = new RegExp(
    `^/subscriptions/[^/]+/resourcegroups/[^/]+/providers/${provider.replace('.', '\\.')}/${type}/[^/]+$`,
    'i',
  );
  if (!re.test(s)) {
    throw new ValidationError(
      `${option} '${id}' is not an ARM id of a ${provider}/${type} resource; use /subscriptions/<id>/resourceGroups/<group>/providers/${provider}/${type}/<name>`,
      { code: 'InvalidResourceId', target: option },
    );
  }
  return s;
}
