import type { Command } from 'commander';
import { MANAGEMENT_AUDIENCE } from '@atelier/sdk';
import { globals, resolveWorkspace } from '../context.js';
import { print } from '../output.js';

/** A value for a POSIX shell, in single quotes. */
const sh = (v: string): string => `'${v.replace(/'/g, `'\\''`)}'`;

/** `mlflow env`: what a stock MLflow client needs to log to a workspace. */
export function mlflowCommands(program: Command): void {
  const mlflow = program.command('mlflow').description('use a workspace from a stock MLflow client');
  mlflow
    .command('env')
    .description(
      'print `export MLFLOW_TRACKING_URI=… MLFLOW_TRACKING_TOKEN=…` for a workspace: eval "$(atelier mlflow env -w <ws>)"',
    )
    .option('-w, --workspace <name>', 'workspace (default: the one in .azureml/config.json)')
    .option('-g, --resource-group <group>', 'resource group of the workspace (default: search the subscription)')
    .addHelpText(
      'after',
      '\nThe token is an access token: it lasts about an hour (run the command again for a new one).\nWith -o json|yaml|tsv the two values print in that format instead of as shell exports.',
    )
    .action(async (o: { workspace?: string; resourceGroup?: string }, cmd: Command) => {
      const g = globals(cmd);
      const ws = await resolveWorkspace(g, o);
      const { client } = ws.serviceContext;
      const t = await client.auth.getToken({ endpoint: client.endpoint, audience: MANAGEMENT_AUDIENCE });
      const vars = { MLFLOW_TRACKING_URI: ws.getMlflowTrackingUri(), MLFLOW_TRACKING_TOKEN: t.token };
      // Shell exports unless an output format was asked for.
      if (program.getOptionValueSource('output') === 'cli') {
        print(vars, g);
        return;
      }
      process.stdout.write(
        Object.entries(vars)
          .map(([k, v]) => `export ${k}=${sh(v)}`)
          .join('\n') + '\n',
      );
    });
}
