import type { Command } from 'commander';
import { globals, resolveWorkspace } from '../context.js';
import { print, UsageError } from '../output.js';
import { readStdinLine } from './identity-common.js';

interface WsOpts {
  workspace?: string;
  resourceGroup?: string;
}
const wsOptions = (c: Command): Command =>
  c
    .option('-w, --workspace <name>', 'workspace (default: the one in .azureml/config.json)')
    .option('-g, --resource-group <group>', 'resource group of the workspace (default: search the subscription)');

/** `connection set|list|show|delete`: a workspace's connections (feeds, registries, services). */
export function connectionCommands(program: Command): void {
  const conn = program
    .command('connection')
    .description("a workspace's connections to outside services (package feeds, registries, …)");
  wsOptions(conn.command('set <name>').description('create or replace a connection'))
    .requiredOption('--category <category>', 'e.g. PythonFeed, ACR, Git')
    .requiredOption('--target <url>', 'what it connects to')
    .requiredOption('--auth-type <type>', 'e.g. PAT, ManagedIdentity, None')
    .option('--value <json>', 'credentials, JSON (prefer --value-stdin: a command line is visible to other users)')
    .option('--value-stdin', 'read the credentials (JSON) from standard input')
    .action(
      async (
        name: string,
        o: WsOpts & { category: string; target: string; authType: string; value?: string; valueStdin?: boolean },
        cmd: Command,
      ) => {
        const g = globals(cmd);
        if (o.value !== undefined && o.valueStdin) throw new UsageError('give --value or --value-stdin, not both');
        const value = o.value ?? (o.valueStdin ? await readStdinLine() : '');
        const ws = await resolveWorkspace(g, o);
        print(await ws.setConnection(name, o.category, o.target, o.authType, value), g);
      },
    );
  wsOptions(conn.command('list').description('list connections'))
    .option('--category <category>', 'only this category')
    .option('--target <url>', 'only this target')
    .action(async (o: WsOpts & { category?: string; target?: string }, cmd: Command) => {
      const g = globals(cmd);
      print(await (await resolveWorkspace(g, o)).listConnections(o.category, o.target), g);
    });
  wsOptions(conn.command('show <name>').description('show a connection')).action(
    async (name: string, o: WsOpts, cmd: Command) => {
      const g = globals(cmd);
      print(await (await resolveWorkspace(g, o)).getConnection(name), g);
    },
  );
  wsOptions(conn.command('delete <name>').description('delete a connection')).action(
    async (name: string, o: WsOpts, cmd: Command) => {
      const g = globals(cmd);
      await (await resolveWorkspace(g, o)).deleteConnection(name);
      print({ deleted: name }, g);
    },
  );
}
