/** Workspace assets in the SDK: datastores, datasets, environments, key vault, connections, private endpoints, diagnostics. */
import './workspace-assets.js';
export {
  Datastore,
  type DatastoreFile,
  type DatastoreResource,
  type TransferOptions,
  type TransferProgress,
} from './datastore.js';
export {
  Dataset,
  FileDataset,
  TabularDataset,
  inferType,
  type ColumnType,
  type DataPathLike,
  type DelimitedOptions,
} from './dataset.js';
export { Environment } from './environment.js';
export { Keyvault, type SecretInfo, type KeyInfo } from './keyvault.js';
export type {
  WorkspaceConnection,
  PrivateEndpointConfig,
  PrivateEndpointConnectionInfo,
  DiagnoseReport,
  DiagnoseResult,
} from './workspace-assets.js';
export type { WorkspaceLink } from './link.js';
