/** Row types of the core tables (see migrations/0001-core.ts). */
export interface SettingRow {
  key: string;
  value: string;
}
export interface SubscriptionRow {
  subscription_id: string;
  display_name: string;
  tenant_id: string;
  state: string;
  created_at: number;
}
export interface ResourceGroupRow {
  id_key: string;
  subscription_id: string;
  name: string;
  location: string;
  tags: string;
  managed_by: string | null;
  provisioning_state: string;
  created_at: number;
  created_by: string | null;
}
export interface ResourceRow {
  id_key: string;
  id: string;
  subscription_id: string;
  group_key: string;
  parent_key: string | null;
  type: string;
  type_key: string;
  name: string;
  location: string | null;
  kind: string | null;
  tags: string | null;
  sku: string | null;
  identity: string | null;
  properties: string;
  etag: string;
  created_at: number;
  created_by: string | null;
  updated_at: number;
  updated_by: string | null;
}
export interface OperationRow {
  id: string;
  subscription_id: string;
  location: string;
  kind: string;
  resource_id: string;
  status: string;
  error: string | null;
  result: string | null;
  owner: string;
  created_at: number;
  updated_at: number;
}
export interface PrincipalRow {
  id: string;
  tenant_id: string;
  kind: string;
  name: string;
  name_key: string;
  display_name: string;
  password_hash: string | null;
  enabled: number;
  created_at: number;
  /** The ARM id of the user-assigned managed identity whose principal this is (migration 0280); null otherwise. */
  managed_identity?: string | null;
}
export interface RoleAssignmentRow {
  id: string;
  scope_key: string;
  scope: string;
  principal_id: string;
  role: string;
  created_at: number;
  created_by: string | null;
}
export interface SigningKeyRow {
  kid: string;
  private_key: string;
  public_jwk: string;
  created_at: number;
  retired_at: number | null;
}
export interface DataKeyRow {
  owner_key: string;
  wrapped: string;
  wrapped_by: string;
  created_at: number;
}
export interface VaultSecretRow {
  vault_key: string;
  name: string;
  name_key: string;
  value: string;
  content_type: string | null;
  tags: string | null;
  enabled: number;
  version: string;
  created_at: number;
  updated_at: number;
}

declare module './schema.js' {
  interface Tables {
    settings: SettingRow;
    subscriptions: SubscriptionRow;
    resource_groups: ResourceGroupRow;
    resources: ResourceRow;
    operations: OperationRow;
    principals: PrincipalRow;
    role_assignments: RoleAssignmentRow;
    signing_keys: SigningKeyRow;
    data_keys: DataKeyRow;
    vault_secrets: VaultSecretRow;
  }
}
