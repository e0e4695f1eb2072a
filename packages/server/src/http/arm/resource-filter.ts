import { InvalidInput } from '../../errors.js';
import type { StoredResource } from '../../resources/engine.js';

/** What `$filter` of a generic resource list may say (ARM's `GET …/resources`). */
export interface ResourceFilter {
  resourceGroup?: string;
  resourceType?: string;
  name?: string;
  nameContains?: string;
}

const CLAUSES: [RegExp, (f: ResourceFilter, v: string) => void][] = [
  [/^resourceGroup\s+eq\s+'([^']*)'$/i, (f, v) => (f.resourceGroup = v)],
  [/^resourceType\s+eq\s+'([^']*)'$/i, (f, v) => (f.resourceType = v)],
  [/^name\s+eq\s+'([^']*)'$/i, (f, v) => (f.name = v)],
  [/^substringof\(\s*'([^']*)'\s*,\s*name\s*\)$/i, (f, v) => (f.nameContains = v)],
];

/**
 * Parses ARM's resource-list `$filter` subset that clients send (azureml-core's `Workspace.list`:
 * `resourceType eq 'Microsoft.MachineLearningServices/workspaces'`, optionally `and resourceGroup
 * eq '…'`): clauses joined by `and`. Anything else is a 400 that lists what is understood.
 */
export function parseResourceFilter(filter: string | undefined): ResourceFilter {
  const f: ResourceFilter = {};
  if (!filter?.trim()) return f;
  for (const clause of filter.trim().split(/\s+and\s+/i)) {
    const c = clause.trim();
    const hit = CLAUSES.find(([re]) => re.test(c));
    if (!hit)
      throw new InvalidInput(
        `$filter clause '${c}' is not understood; use resourceType eq '<namespace>/<type>', resourceGroup eq '<name>', name eq '<name>' or substringof('<text>', name), joined by 'and'`,
        { target: '$filter' },
      );
    hit[1](f, hit[0].exec(c)![1]!);
  }
  return f;
}

/** Whether a resource passes the filter (names and types compare case-insensitively, as ARM does). */
export function matchesResourceFilter(r: StoredResource, f: ResourceFilter): boolean {
  const eq = (a: string | undefined, b: string | undefined) => b === undefined || a?.toLowerCase() === b.toLowerCase();
  return (
    eq(r.resourceGroup, f.resourceGroup) &&
    eq(r.type, f.resourceType) &&
    eq(r.name, f.name) &&
    (f.nameContains === undefined || r.name.toLowerCase().includes(f.nameContains.toLowerCase()))
  );
}
