import type { Command } from 'commander';
import {
  createClient,
  findConfigFile,
  normaliseEndpoint,
  readConfigFile,
  resolveSubscription,
  Workspace,
  type ArmClient,
  type WorkspaceConfig,
} from '@atelier/sdk';
import { parseFormat, parseQuery, UsageError, type OutputFormat } from './output.js';

export interface GlobalOptions {
  output: OutputFormat;
  /** JMESPath applied to the result before it is printed. */
  query?: string;
  endpoint?: string;
  subscription?: string;
}

export function globals(cmd: Command): GlobalOptions {
  const o = cmd.optsWithGlobals() as { output?: string; query?: string; endpoint?: string; subscription?: string };
  return {
    output: parseFormat(o.output ?? 'json'),
    query: parseQuery(o.query),
    endpoint: o.endpoint,
    subscription: o.subscription,
  };
}

/**
 * The workspace config file (`.azureml/config.json`, …) found the way `Workspace.fromConfig` finds
 * it: from the current folder up to the root. Undefined when there is none.
 */
export function workspaceConfig(): WorkspaceConfig | undefined {
  const file = findConfigFile(process.cwd());
  return file ? readConfigFile(file) : undefined;
}

/** The config file's subscription, when the file is for the server `endpoint` (or names none). */
function configSubscription(endpoint: string): string | undefined {
  let cfg: WorkspaceConfig | undefined;
  try {
    cfg = workspaceConfig();
  } catch {
    return undefined; // a damaged file is reported by the commands that need its workspace
  }
  if (!cfg) return undefined;
  if (cfg.endpoint && normaliseEndpoint(cfg.endpoint).toLowerCase() !== endpoint.toLowerCase()) return undefined;
  return cfg.subscriptionId;
}

/**
 * The ARM client and subscription a command works in: --subscription, else the workspace config
 * file's (for the same server), else the profile's, else the only one you can see.
 */
export async function session(cmd: Command): Promise<{ g: GlobalOptions; client: ArmClient; subscriptionId: string }> {
  const g = globals(cmd);
  const client = createClient({ endpoint: g.endpoint });
  const subscriptionId = await resolveSubscription(client, g.subscription ?? configSubscription(client.endpoint));
  return { g, client, subscriptionId };
}

/**
 * The workspace a command works on: `-w` (with -g and --subscription, or searched for), else the
 * one named in the workspace config file, with its group, subscription and server (each option given
 * still wins).
 */
export async function resolveWorkspace(
  g: GlobalOptions,
  o: { workspace?: string; resourceGroup?: string },
): Promise<Workspace> {
  if (o.workspace) {
    const client = createClient({ endpoint: g.endpoint });
    return Workspace.get(o.workspace, {
      endpoint: g.endpoint,
      subscriptionId: g.subscription ?? configSubscription(client.endpoint),
      resourceGroup: o.resourceGroup,
    });
  }
  const cfg = workspaceConfig();
  if (!cfg)
    throw new UsageError(
      'name the workspace with -w <workspace> (or run in a folder with .azureml/config.json: `atelier workspace write-config <name>` writes one)',
    );
  return Workspace.get(cfg.workspaceName, {
    endpoint: g.endpoint ?? cfg.endpoint,
    subscriptionId: g.subscription ?? cfg.subscriptionId,
    resourceGroup: o.resourceGroup ?? cfg.resourceGroup,
  });
}
