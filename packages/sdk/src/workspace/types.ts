import type * as C from '@atelier/contracts';

/** ARM shapes of `Microsoft.MachineLearningServices/workspaces` (api-version 2025-09-01), from @atelier/contracts. */
export type WorkspaceProperties = C.WorkspaceProperties;
export type WorkspaceResource = C.Workspace;

/** `getDetails()`: exactly the keys the seed lists; a value the server does not report is null. */
export interface WorkspaceDetails {
  id: string;
  name: string;
  location: string;
  type: string;
  tags: Record<string, string>;
  workspaceid: string | null;
  description: string | null;
  friendlyName: string | null;
  creationTime: string | null;
  containerRegistry: string | null;
  keyVault: string | null;
  applicationInsights: string | null;
  identityPrincipalId: string | null;
  identityTenantId: string | null;
  identityType: string | null;
  storageAccount: string | null;
  sku: string;
  resourceCmkUri: string | null;
  hbiWorkspace: boolean;
  imageBuildCompute: string | null;
  systemDatastoresAuthMode: string | null;
}

export const DETAIL_KEYS = [
  'id',
  'name',
  'location',
  'type',
  'tags',
  'workspaceid',
  'description',
  'friendlyName',
  'creationTime',
  'containerRegistry',
  'keyVault',
  'applicationInsights',
  'identityPrincipalId',
  'identityTenantId',
  'identityType',
  'storageAccount',
  'sku',
  'resourceCmkUri',
  'hbiWorkspace',
  'imageBuildCompute',
  'systemDatastoresAuthMode',
] as const satisfies readonly (keyof WorkspaceDetails)[];

/** `POST W/listKeys` (ListWorkspaceKeysResult). */
export type WorkspaceKeys = C.WorkspaceKeys;

export function toDetails(r: WorkspaceResource): WorkspaceDetails {
  const p = r.properties ?? {};
  const n = <T>(v: T | undefined | null): T | null => (v === undefined || v === null || v === '' ? null : v);
  return {
    id: r.id,
    name: r.name,
    location: r.location,
    type: r.type,
    tags: { ...(r.tags ?? {}) },
    workspaceid: n(p.workspaceId),
    description: n(p.description),
    friendlyName: n(p.friendlyName),
    creationTime: n(p.creationTime ?? r.systemData?.createdAt),
    containerRegistry: n(p.containerRegistry),
    keyVault: n(p.keyVault),
    applicationInsights: n(p.applicationInsights),
    identityPrincipalId: n(r.identity?.principalId),
    identityTenantId: n(r.identity?.tenantId),
    identityType: n(r.identity?.type),
    storageAccount: n(p.storageAccount),
    sku: r.sku?.name ?? 'Basic',
    resourceCmkUri: n(p.encryption?.keyVaultProperties?.keyIdentifier),
    hbiWorkspace: Boolean(p.hbiWorkspace),
    imageBuildCompute: n(p.imageBuildCompute),
    systemDatastoresAuthMode: n(p.systemDatastoresAuthMode),
  };
}
