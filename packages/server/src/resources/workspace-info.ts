/** A workspace as other modules see it (resolveWorkspace, hooks); declared apart so that lower modules can name it without importing workspaces.ts. */
export interface WorkspaceInfo {
  /** ARM id (W), with the casing it was created with. */
  id: string;
  /** The workspace's GUID: key of its tracking data, assets and secrets. */
  workspaceId: string;
  name: string;
  subscriptionId: string;
  resourceGroup: string;
  location: string;
  provisioningState: string;
  storageAccountId: string | undefined;
  keyVaultId: string | undefined;
  applicationInsightsId: string | undefined;
  containerRegistryId: string | undefined;
  publicNetworkAccess: 'Enabled' | 'Disabled';
  hbiWorkspace: boolean;
  systemDatastoresAuthMode: string;
  mlFlowTrackingUri: string;
  tags: Record<string, string>;
}
