import { linkOf, type HasServiceContext, type WorkspaceLink } from './link.js';

/** The versioned asset kinds whose registrations can be archived, restored and deleted. */
export type VersionedSegment = 'data' | 'environments';

const pathOf = (link: WorkspaceLink, segment: VersionedSegment, name: string, version?: string): string =>
  `${link.id}/${segment}/${encodeURIComponent(name)}${version !== undefined ? `/versions/${encodeURIComponent(version)}` : ''}`;

/**
 * Archives (or restores) a registration: one version, or with no `version` the name itself (its
 * versions stay as they are). Archived ones are left out of lists but can still be read by name, as
 * azure-ai-ml's `archive`/`restore` do: the resource is read and written back with `isArchived`.
 */
export async function setArchived(
  ws: HasServiceContext | WorkspaceLink,
  segment: VersionedSegment,
  label: string,
  name: string,
  version: string | undefined,
  archived: boolean,
): Promise<void> {
  const link = linkOf(ws);
  const path = pathOf(link, segment, name, version);
  const what = `${archived ? 'archive' : 'restore'} ${label} '${name}'${version !== undefined ? ` version ${version}` : ''}`;
  const current = (await link.client.request<{ properties: Record<string, unknown> }>('GET', path, { what })).body;
  const properties: Record<string, unknown> = { ...current.properties, isArchived: archived };
  // Computed on the server, not part of what a PUT carries.
  for (const k of ['latestVersion', 'nextVersion', 'provisioningState']) delete properties[k];
  await link.client.request('PUT', path, { body: { properties }, what });
}

/** Deletes one version of a registration, or with no `version` the name with all its versions. */
export async function deleteAsset(
  ws: HasServiceContext | WorkspaceLink,
  segment: VersionedSegment,
  label: string,
  name: string,
  version?: string,
): Promise<void> {
  const link = linkOf(ws);
  const path = pathOf(link, segment, name, version);
  const what = `delete ${label} '${name}'${version !== undefined ? ` version ${version}` : ''}`;
  // ARM answers a DELETE of nothing with 204; a name that is not there is an error here.
  await link.client.request('GET', path, { what });
  await link.client.request('DELETE', path, { what });
}
