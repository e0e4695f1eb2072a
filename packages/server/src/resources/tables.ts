/** Row types of the control plane's own tables (migrations/0002-control-plane.ts). */
export interface ResourceKeyRow {
  resource_key: string;
  name: string;
  value: string;
  created_at: number;
}
export interface WorkspaceIdRow {
  workspace_id: string;
  id_key: string;
}
export interface GlobalNameRow {
  type_key: string;
  name_key: string;
  id_key: string;
}

declare module '../store/schema.js' {
  interface Tables {
    resource_keys: ResourceKeyRow;
    workspace_ids: WorkspaceIdRow;
    global_names: GlobalNameRow;
  }
}
declare module '../store/tables.js' {
  interface OperationRow {
    requested_by: string | null;
  }
}
