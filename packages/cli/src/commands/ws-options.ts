import type { Command } from 'commander';

/** The options that pick a workspace, on every command that works in one. */
export interface WsOpts {
  workspace?: string;
  resourceGroup?: string;
}

/** `-w/--workspace` and `-g/--resource-group`, spelled the same on every command. */
export const wsOptions = (c: Command): Command =>
  c
    .option('-w, --workspace <name>', 'workspace (default: the one in .azureml/config.json)')
    .option('-g, --resource-group <group>', 'resource group of the workspace (default: search the subscription)');
