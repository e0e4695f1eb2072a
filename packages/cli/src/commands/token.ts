import type { Command } from 'commander';
import { createAccessToken, listAccessTokens, revokeAccessToken } from '@atelier/sdk';
import { resolveWorkspace } from '../context.js';
import { print, UsageError } from '../output.js';
import { identityClient } from './identity-common.js';
import { wsOptions, type WsOpts } from './ws-options.js';

const COLUMNS = ['name', 'id', 'hint', 'workspace', 'readOnly', 'expiresOn', 'expired', 'revoked'];

/** `atelier token create|list|revoke`: your personal access tokens (for scripts, CI, long training jobs). */
export function tokenCommands(program: Command): void {
  const token = program
    .command('token')
    .description('your personal access tokens: for scripts, CI and long training jobs (an access token lasts an hour)');

  wsOptions(
    token
      .command('create <name>')
      .description('make a personal access token; its secret is printed this once (atp_…)')
      .addHelpText(
        'after',
        "\nUse it as `Authorization: Bearer atp_…`, as MLFLOW_TRACKING_TOKEN, or as MLflow's Basic password\n" +
          '(MLFLOW_TRACKING_USERNAME=<you>, MLFLOW_TRACKING_PASSWORD=atp_…). With -w it reaches only that workspace.',
      ),
  )
    .option('--expires-in-days <days>', 'how long it lasts: 1–365 days', '30')
    .option('--read-only', 'it may only read (GET, and searches)')
    .action(async (name: string, o: WsOpts & { expiresInDays: string; readOnly?: boolean }, cmd: Command) => {
      const { g, client } = identityClient(cmd);
      if (!/^\d+$/.test(o.expiresInDays))
        throw new UsageError(`--expires-in-days must be a whole number of days (1–365), got '${o.expiresInDays}'`);
      if (o.resourceGroup && !o.workspace) throw new UsageError('-g/--resource-group goes with -w/--workspace');
      const workspace = o.workspace ? (await resolveWorkspace(g, o)).id : undefined;
      print(
        await createAccessToken(client, {
          name,
          expiresInDays: Number(o.expiresInDays),
          ...(workspace ? { workspace } : {}),
          ...(o.readOnly ? { readOnly: true } : {}),
        }),
        g,
      );
    });

  token
    .command('list')
    .description('list your personal access tokens (never their secrets)')
    .action(async (_o: unknown, cmd: Command) => {
      const { g, client } = identityClient(cmd);
      print(await listAccessTokens(client), g, COLUMNS);
    });

  token
    .command('revoke <idOrName>')
    .description('revoke one of your personal access tokens, by id (or by name when only one has it)')
    .action(async (idOrName: string, _o: unknown, cmd: Command) => {
      const { g, client } = identityClient(cmd);
      print(await revokeAccessToken(client, idOrName), g);
    });
}
