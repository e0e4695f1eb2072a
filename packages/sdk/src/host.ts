import type { Authentication } from './auth/authentication.js';
import { ConfigurationError } from './errors.js';
import type { WorkspaceConfig } from './workspace/config-file.js';

/** Environment variables as the SDK reads them (`process.env` in Node). */
export type Env = Record<string, string | undefined>;

/**
 * What the SDK asks of the runtime it runs in, beyond `fetch`: where defaults come from (environment
 * variables, the `atelier login` profile, workspace config files) and where messages go. The Node
 * entry (`@atelier/sdk`) installs one that reads them from the process and the file system; the
 * browser entry (`@atelier/sdk/browser`) keeps this module's default, which knows none of them, so
 * the endpoint and `auth` must be given and config files are refused with a clear error.
 */
export interface SdkHost {
  /** Environment variables (ATELIER_ENDPOINT, ATELIER_TOKEN, ATELIER_CONFIG_DIR). */
  env(): Env;
  /** The server and default subscription of the saved sign-in, if any. */
  profile(env: Env): { endpoint: string; subscriptionId?: string } | undefined;
  /** Signing in with the saved sign-in, if this runtime has one. */
  profileAuthentication(env: Env): Authentication | undefined;
  loadWorkspaceConfig(opts: { path?: string; fileName?: string }): WorkspaceConfig;
  writeWorkspaceConfig(cfg: Omit<WorkspaceConfig, 'file'>, opts: { path?: string; fileName?: string }): string;
  /** Progress lines (`showOutput`). */
  print(line: string): void;
  /** Messages for the user beside the output (the device code prompt). */
  printError(line: string): void;
  /** Whether a person can answer a prompt (a terminal). */
  interactive(): boolean;
  /** The `user-agent` header to send, or undefined where the runtime sets it (browsers). */
  userAgent(sdkVersion: string): string | undefined;
}

const noConfigFiles = (): never => {
  throw new ConfigurationError(
    'workspace config files are read and written by the Node entry of the SDK (@atelier/sdk) only; here, use Workspace.get with the endpoint and auth options',
    {
      code: 'ConfigFilesUnsupported',
    },
  );
};

/** The runtime without a process or files (a browser). */
export const webHost: SdkHost = {
  env: () => ({}),
  profile: () => undefined,
  profileAuthentication: () => undefined,
  loadWorkspaceConfig: noConfigFiles,
  writeWorkspaceConfig: noConfigFiles,
  print: (line) => console.log(line),
  printError: (line) => console.error(line),
  interactive: () => false,
  userAgent: () => undefined,
};

let current: SdkHost = webHost;

export function host(): SdkHost {
  return current;
}

/** Installs the runtime's host (done once by an entry module). */
export function setHost(h: SdkHost): void {
  current = h;
}
