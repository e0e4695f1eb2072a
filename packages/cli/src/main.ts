import { Command, CommanderError, Option } from 'commander';
import { AtelierError } from '@atelier/sdk';
import { UsageError } from './output.js';
import { serverCommands } from './commands/server.js';
import { accountCommands } from './commands/account.js';
import { groupCommands } from './commands/group.js';
import { workspaceCommands } from './commands/workspace.js';
import { datastoreCommands } from './commands/datastore.js';
import { userCommands } from './commands/user.js';
import { spCommands } from './commands/sp.js';
import { roleCommands } from './commands/role.js';
import { runCommands } from './commands/run.js';
import { modelCommands } from './commands/model.js';
import { keyvaultCommands } from './commands/keyvault.js';

/** The `atelier` command line. */
export function buildProgram(): Command {
  const program = new Command('atelier')
    .description('Atelier: a self-hosted machine-learning workspace (server, sign-in, resource groups, workspaces)')
    .version('0.1.0')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['json', 'table']).default('json'))
    .option('--endpoint <url>', 'the server (default: ATELIER_ENDPOINT, else the `atelier login` profile)')
    .option('--subscription <id>', 'subscription (default: the profile\'s, else the only one you can see)')
    .addHelpText('after', '\nSign-in: `atelier login` (profile in ~/.atelier/, or ATELIER_CONFIG_DIR), or ATELIER_TOKEN.');
  program.exitOverride();
  serverCommands(program);
  accountCommands(program);
  groupCommands(program);
  workspaceCommands(program);
  datastoreCommands(program);
  userCommands(program);
  spCommands(program);
  roleCommands(program);
  runCommands(program);
  modelCommands(program);
  keyvaultCommands(program);
  // Every sub-command reports usage errors the same way.
  const all = (c: Command): Command[] => [c, ...c.commands.flatMap(all)];
  for (const c of all(program)) c.exitOverride();
  return program;
}

/** One line on standard error, and the exit code: 2 usage, 1 anything else. */
function fail(e: unknown): never {
  if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : 2);
  const oneLine = (s: string) => s.replace(/\s*\n\s*/g, ' ').trim();
  if (e instanceof UsageError) {
    process.stderr.write(`atelier: ${oneLine(e.message)}\n`);
    process.exit(2);
  }
  if (e instanceof AtelierError) {
    process.stderr.write(`atelier: ${oneLine(e.message)}${e.code && !e.message.includes(e.code) ? ` [${e.code}]` : ''}\n`);
    process.exit(1);
  }
  if (e instanceof TypeError || e instanceof RangeError) {
    process.stderr.write(`atelier: ${oneLine((e as Error).message)}\n`);
    process.exit(2);
  }
  process.stderr.write(`atelier: ${oneLine((e as Error)?.message ?? String(e))}\n`);
  if (process.env.ATELIER_DEBUG) process.stderr.write(`${(e as Error)?.stack}\n`);
  process.exit(1);
}

try {
  await buildProgram().parseAsync(process.argv);
} catch (e) {
  fail(e);
}
