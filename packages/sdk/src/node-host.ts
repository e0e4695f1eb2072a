import { configDir, readProfile, ProfileAuthentication } from './auth/profile.js';
import { setHost, type Env } from './host.js';
import { loadWorkspaceConfig, writeWorkspaceConfig } from './workspace/config-file.js';

// The SDK in Node: defaults from the process environment, the `atelier login` profile in
// ATELIER_CONFIG_DIR (default ~/.atelier) and workspace config files; output to stdout/stderr.
setHost({
  env: () => process.env,
  profile: (env: Env) => readProfile(configDir(env)),
  profileAuthentication: (env: Env) => new ProfileAuthentication(configDir(env)),
  loadWorkspaceConfig,
  writeWorkspaceConfig,
  print: (line) => process.stdout.write(`${line}\n`),
  printError: (line) => process.stderr.write(`${line}\n`),
  interactive: () => Boolean(process.stdin.isTTY),
  userAgent: (v) => `atelier-sdk/${v} node/${process.versions.node}`,
});
