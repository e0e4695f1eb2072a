/** @atelier/sdk: the TypeScript SDK of Atelier (the seed's `azureml.core.Workspace`, and more as it lands). */
// First: defaults from the process, the `atelier login` profile and config files (see host.ts).
import './node-host.js';

export * from './browser.js';
export {
  findConfigFile,
  loadWorkspaceConfig,
  readConfigFile,
  writeWorkspaceConfig,
  CONFIG_FILE_NAMES,
  CONFIG_FOLDERS,
} from './workspace/config-file.js';
export {
  ProfileAuthentication,
  loginWithDeviceCode,
  saveLogin,
  configDir,
  profilePath,
  readProfile,
  writeProfile,
  deleteProfile,
  loginWithPassword,
  type Profile,
  type PasswordLoginOptions,
} from './auth/profile.js';
export * from './assets/index.js';
export * from './tracking/index.js';
export * from './deployments/index.js';
export * from './jobs/index.js';
