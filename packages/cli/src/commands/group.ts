import type { Command } from 'commander';
import {
  createResourceGroup,
  deleteResourceGroup,
  getResourceGroup,
  listResourceGroups,
  NotFoundError,
  type ResourceGroup,
} from '@atelier/sdk';
import { session } from '../context.js';
import { print } from '../output.js';
import { confirm, parseTags } from '../prompt.js';
import { withSpinner } from '../spinner.js';

const COLUMNS = ['name', 'location', 'provisioningState', 'tags'];
const row = (g: ResourceGroup) => ({
  name: g.name,
  location: g.location,
  provisioningState: g.properties?.provisioningState ?? null,
  tags: g.tags ?? {},
  id: g.id,
});

/** `group create|show|list|delete`: resource groups of a subscription. */
export function groupCommands(program: Command): void {
  const group = program.command('group').description('resource groups');
  group
    .command('create <name>')
    .description('create a resource group (or update its tags)')
    .requiredOption('-l, --location <location>', "location, e.g. 'local' or 'westeurope'")
    .option('--tags <key=value...>', 'tags (key=value …)')
    .action(async (name: string, o: { location: string; tags?: string[] }, cmd: Command) => {
      const { g, client, subscriptionId } = await session(cmd);
      print(row(await createResourceGroup(client, subscriptionId, name, o.location, parseTags(o.tags))), g);
    });
  group
    .command('show <name>')
    .description('show a resource group')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const { g, client, subscriptionId } = await session(cmd);
      const rg = await getResourceGroup(client, subscriptionId, name);
      if (!rg)
        throw new NotFoundError(`resource group '${name}' could not be found in subscription ${subscriptionId}`, {
          code: 'ResourceGroupNotFound',
          status: 404,
        });
      print(row(rg), g);
    });
  group
    .command('list')
    .description('list the resource groups you can see')
    .action(async (_o: unknown, cmd: Command) => {
      const { g, client, subscriptionId } = await session(cmd);
      print((await listResourceGroups(client, subscriptionId)).map(row), g, COLUMNS);
    });
  group
    .command('delete <name>')
    .description('delete a resource group and everything in it')
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--no-wait', 'return once the server accepted the deletion')
    .action(async (name: string, o: { yes?: boolean; wait: boolean }, cmd: Command) => {
      const { g, client, subscriptionId } = await session(cmd);
      await confirm(`Delete resource group '${name}' and everything in it?`, o.yes);
      const deleted = await withSpinner(
        `Deleting resource group '${name}'…`,
        o.wait ? `Deleted resource group '${name}'` : `Deletion of resource group '${name}' accepted`,
        (progress) => deleteResourceGroup(client, subscriptionId, name, { noWait: !o.wait, onProgress: progress }),
      );
      if (!deleted)
        throw new NotFoundError(`resource group '${name}' could not be found in subscription ${subscriptionId}`, {
          code: 'ResourceGroupNotFound',
          status: 404,
        });
      print({ deleted: name }, g);
    });
}
