import type { Command } from 'commander';
import { Workspace, type WorkspaceDetails } from '@atelier/sdk';
import { globals, resolveWorkspace, type GlobalOptions } from '../context.js';
import { print, UsageError } from '../output.js';
import { confirm, parseTags } from '../prompt.js';
import { withSpinner } from '../spinner.js';

const LIST_COLUMNS = ['name', 'resourceGroup', 'location', 'friendlyName', 'workspaceId'];

function lookup(g: GlobalOptions, o: { resourceGroup?: string }) {
  return { endpoint: g.endpoint, subscriptionId: g.subscription, resourceGroup: o.resourceGroup };
}

/** `workspace create|show|list|update|delete|list-keys|sync-keys|write-config`. */
export function workspaceCommands(program: Command): void {
  const ws = program.command('workspace').alias('ws').description('machine-learning workspaces');

  ws.command('create <name>')
    .description('create a workspace and its dependent resources (storage account, key vault, application insights)')
    .option('-g, --resource-group <group>', "resource group (default '<name>-rg')")
    .option('-l, --location <location>', "location (default: the group's, or 'local' for a new group)")
    .option('--no-create-resource-group', 'fail instead of creating a missing resource group')
    .option('--friendly-name <text>', 'name shown in UIs')
    .option('--description <text>', 'description')
    .option('--tags <key=value...>', 'tags (key=value …)')
    .option('--storage-account <armId>', 'use this existing storage account')
    .option('--key-vault <armId>', 'use this existing key vault')
    .option('--app-insights <armId>', 'use this existing application insights')
    .option('--container-registry <armId>', 'use this existing container registry (default: made when first needed)')
    .option('--hbi-workspace', 'high business impact data (fixed at creation)')
    .option('--cmk-keyvault <armId>', 'customer-managed key: the key vault holding it (with --resource-cmk-uri)')
    .option(
      '--resource-cmk-uri <keyId>',
      "customer-managed key: its key id (`atelier keyvault key show`), wraps the workspace's data keys",
    )
    .option('--system-datastores-auth-mode <mode>', 'accessKey (default) or identity')
    .option('--exist-ok', 'succeed with the existing workspace if it exists')
    .action(async (name: string, o: Record<string, unknown>, cmd: Command) => {
      const g = globals(cmd);
      const created = await withSpinner(`Creating workspace '${name}'…`, `Created workspace '${name}'`, (progress) =>
        Workspace.create({
          name,
          endpoint: g.endpoint,
          subscriptionId: g.subscription,
          resourceGroup: o.resourceGroup as string | undefined,
          location: o.location as string | undefined,
          createResourceGroup: o.createResourceGroup as boolean,
          friendlyName: o.friendlyName as string | undefined,
          description: o.description as string | undefined,
          tags: parseTags(o.tags as string[] | undefined),
          storageAccount: o.storageAccount as string | undefined,
          keyVault: o.keyVault as string | undefined,
          appInsights: o.appInsights as string | undefined,
          containerRegistry: o.containerRegistry as string | undefined,
          hbiWorkspace: o.hbiWorkspace as boolean | undefined,
          cmkKeyvault: o.cmkKeyvault as string | undefined,
          resourceCmkUri: o.resourceCmkUri as string | undefined,
          systemDatastoresAuthMode: o.systemDatastoresAuthMode as 'accessKey' | undefined,
          existOk: Boolean(o.existOk),
          showOutput: false,
          onProgress: progress,
        }),
      );
      print(await created.getDetails(), g);
    });

  ws.command('show [name]')
    .description(
      'show a workspace: the seed get_details keys and its MLflow tracking URI (default: the workspace of .azureml/config.json)',
    )
    .option('-g, --resource-group <group>', 'resource group (default: search the subscription)')
    .action(async (name: string | undefined, o: { resourceGroup?: string }, cmd: Command) => {
      const g = globals(cmd);
      const w = await resolveWorkspace(g, { workspace: name, resourceGroup: o.resourceGroup });
      print({ ...(await w.getDetails()), mlflowTrackingUri: w.getMlflowTrackingUri() }, g);
    });

  ws.command('list')
    .description('list the workspaces you can see')
    .option('-g, --resource-group <group>', 'only this resource group')
    .action(async (o: { resourceGroup?: string }, cmd: Command) => {
      const g = globals(cmd);
      const all = await Workspace.list(lookup(g, o));
      const rows = [...all.values()].flat().map((w) => {
        const r = w.armResource;
        return {
          name: w.name,
          resourceGroup: w.resourceGroup,
          location: w.location,
          friendlyName: r.properties?.friendlyName ?? null,
          workspaceId: w.workspaceId ?? null,
          id: w.id,
        };
      });
      print(rows, g, LIST_COLUMNS);
    });

  ws.command('update <name>')
    .description('update friendly name, description, tags, image build compute, or the container registry')
    .option('-g, --resource-group <group>', 'resource group (default: search the subscription)')
    .option('--friendly-name <text>', 'name shown in UIs')
    .option('--description <text>', 'description')
    .option('--tags <key=value...>', 'replace the tags with these (key=value …)')
    .option('--image-build-compute <name>', 'compute used to build images')
    .option('--container-registry <armId>', 'use this existing container registry (update_dependencies)')
    .option('--force', 'replace a container registry the workspace already uses')
    .action(
      async (
        name: string,
        o: {
          resourceGroup?: string;
          friendlyName?: string;
          description?: string;
          tags?: string[];
          imageBuildCompute?: string;
          containerRegistry?: string;
          force?: boolean;
        },
        cmd: Command,
      ) => {
        const g = globals(cmd);
        const w = await Workspace.get(name, lookup(g, o));
        const changes = {
          friendlyName: o.friendlyName,
          description: o.description,
          tags: parseTags(o.tags),
          imageBuildCompute: o.imageBuildCompute,
        };
        const any = Object.values(changes).some((v) => v !== undefined);
        if (!any && !o.containerRegistry)
          throw new UsageError(
            'nothing to update: pass --friendly-name, --description, --tags, --image-build-compute or --container-registry',
          );
        let details: WorkspaceDetails | undefined;
        if (any)
          details = await withSpinner(`Updating workspace '${name}'…`, `Updated workspace '${name}'`, (progress) =>
            w.update({ ...changes, onProgress: progress }),
          );
        if (o.containerRegistry)
          details = await w.updateDependencies({ containerRegistry: o.containerRegistry, force: o.force });
        print(details, g);
      },
    );

  ws.command('delete <name>')
    .description('delete a workspace')
    .option('-g, --resource-group <group>', 'resource group (default: search the subscription)')
    .option(
      '--delete-dependent-resources',
      'also delete its storage account, key vault, application insights and container registry',
    )
    .option('--no-wait', 'return once the server accepted the deletion')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(
      async (
        name: string,
        o: { resourceGroup?: string; deleteDependentResources?: boolean; wait: boolean; yes?: boolean },
        cmd: Command,
      ) => {
        const g = globals(cmd);
        const w = await Workspace.get(name, lookup(g, o));
        await confirm(
          `Delete workspace '${name}' in resource group '${w.resourceGroup}'${o.deleteDependentResources ? ' and its dependent resources' : ''}?`,
          o.yes,
        );
        await withSpinner(
          `Deleting workspace '${name}'…`,
          o.wait ? `Deleted workspace '${name}'` : `Deletion of workspace '${name}' accepted`,
          (progress) =>
            w.delete({ deleteDependentResources: o.deleteDependentResources, noWait: !o.wait, onProgress: progress }),
        );
        print({ deleted: w.id, waited: o.wait }, g);
      },
    );

  ws.command('list-keys [name]')
    .description('the current keys of the dependent resources (secrets: handle the output with care)')
    .option('-g, --resource-group <group>', 'resource group (default: search the subscription)')
    .action(async (name: string | undefined, o: { resourceGroup?: string }, cmd: Command) => {
      const g = globals(cmd);
      print(await (await resolveWorkspace(g, { workspace: name, resourceGroup: o.resourceGroup })).listKeys(), g);
    });

  ws.command('sync-keys [name]')
    .description('make keys rotated on a dependent resource reach the workspace now')
    .option('-g, --resource-group <group>', 'resource group (default: search the subscription)')
    .option('--no-wait', 'return once the server accepted')
    .action(async (given: string | undefined, o: { resourceGroup?: string; wait: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const w = await resolveWorkspace(g, { workspace: given, resourceGroup: o.resourceGroup });
      const name = w.name;
      await withSpinner(
        `Syncing the keys of '${name}'…`,
        o.wait ? `Synced the keys of '${name}'` : `Key sync of '${name}' accepted`,
        (progress) => w.syncKeys({ noWait: !o.wait, onProgress: progress }),
      );
      print({ synced: w.id, waited: o.wait }, g);
    });

  ws.command('diagnose [name]')
    .description(
      "check a workspace's dependent resources (storage, key vault, registry, insights, network rules); exits 1 when a check finds an Error",
    )
    .option('-g, --resource-group <group>', 'resource group (default: search the subscription)')
    .action(async (name: string | undefined, o: { resourceGroup?: string }, cmd: Command) => {
      const g = globals(cmd);
      const w = await resolveWorkspace(g, { workspace: name, resourceGroup: o.resourceGroup });
      const report = await withSpinner(`Diagnosing '${w.name}'…`, `Diagnosed '${w.name}'`, () => w.diagnoseWorkspace());
      const rows = Object.entries(report).flatMap(([category, results]) =>
        results.map((r) => ({ category: category.replace(/Results$/, ''), ...r })),
      );
      print(rows, g, ['category', 'level', 'code', 'message']);
      if (rows.some((r) => r.level === 'Error')) process.exitCode = 1;
    });

  ws.command('list-linked-services [name]')
    .description('the services linked to a workspace (Synapse workspaces, other machine-learning workspaces)')
    .option('-g, --resource-group <group>', 'resource group (default: search the subscription)')
    .action(async (name: string | undefined, o: { resourceGroup?: string }, cmd: Command) => {
      const g = globals(cmd);
      const w = await resolveWorkspace(g, { workspace: name, resourceGroup: o.resourceGroup });
      print(
        [...(await w.linkedServices()).values()].map((l) => ({
          name: l.name,
          linkType: l.properties.linkType,
          linkedServiceResourceId: l.properties.linkedServiceResourceId,
          createdTime: l.properties.createdTime,
        })),
        g,
        ['name', 'linkType', 'linkedServiceResourceId'],
      );
    });

  ws.command('write-config <name>')
    .description('write .azureml/config.json (or --path/--file-name) for Workspace.fromConfig')
    .option('-g, --resource-group <group>', 'resource group (default: search the subscription)')
    .option('--path <folder>', 'folder to write in', '.azureml')
    .option('--file-name <name>', 'file name', 'config.json')
    .action(async (name: string, o: { resourceGroup?: string; path: string; fileName: string }, cmd: Command) => {
      const g = globals(cmd);
      const w = await Workspace.get(name, lookup(g, o));
      const file = w.writeConfig({ path: o.path, fileName: o.fileName });
      print({ file, subscription_id: w.subscriptionId, resource_group: w.resourceGroup, workspace_name: w.name }, g);
    });
}
