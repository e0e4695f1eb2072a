import { InvalidInput } from '../errors.js';
import { GUID, groupId } from './arm-ids.js';

/** A parsed ARM resource id: `/subscriptions/{s}/resourceGroups/{g}/providers/{ns}/{type}/{name}[/{type}/{name}]…`. */
export interface ParsedResourceId {
  subscriptionId: string;
  resourceGroup: string;
  /** e.g. `Microsoft.MachineLearningServices/workspaces/datastores` */
  type: string;
  name: string;
  /** The id of the parent resource (child resources only). */
  parentId?: string;
  /** The top-level resource's id. */
  rootId: string;
}

const ID = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/([^/]+)\/(.+)$/i;

/** Parses an ARM resource id; throws InvalidInput naming `what` when it is not one. */
export function parseResourceId(id: string, what = 'resource id'): ParsedResourceId {
  const m = typeof id === 'string' ? ID.exec(id.trim()) : null;
  const bad = () =>
    new InvalidInput(
      `${what} '${String(id)}' is not an ARM resource id; use /subscriptions/{subscriptionId}/resourceGroups/{group}/providers/{namespace}/{type}/{name}`,
      { code: 'INVALID_RESOURCE_ID', target: what },
    );
  if (!m) throw bad();
  const [, sub, rg, ns, rest] = m as unknown as [string, string, string, string, string];
  if (!GUID.test(sub)) throw bad();
  const parts = rest.split('/');
  if (parts.length % 2 !== 0 || parts.some((p) => p === '')) throw bad();
  const types: string[] = [ns];
  let parentId: string | undefined;
  let path = `${groupId(sub, rg)}/providers/${ns}`;
  let rootId = '';
  for (let i = 0; i < parts.length; i += 2) {
    if (i > 0) parentId = path;
    path += `/${parts[i]}/${parts[i + 1]}`;
    if (i === 0) rootId = path;
    types.push(parts[i]!);
  }
  return {
    subscriptionId: sub.toLowerCase(),
    resourceGroup: rg,
    type: types.join('/'),
    name: parts[parts.length - 1]!,
    parentId,
    rootId,
  };
}

/** The id of a top-level resource. */
export const resourceId = (sub: string, rg: string, type: string, name: string): string =>
  `${groupId(sub, rg)}/providers/${type}/${name}`;

/** Whether two ARM types are the same (types compare without case). */
export const sameType = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();
