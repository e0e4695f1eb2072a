import fs from 'node:fs';
import type { Command } from 'commander';
import { Dataset, Datastore, Environment, FileDataset, TabularDataset, type Workspace } from '@atelier/sdk';
import { globals, resolveWorkspace } from '../context.js';
import { print, UsageError } from '../output.js';
import { confirm, parseTags } from '../prompt.js';
import { wsOptions, type WsOpts } from './ws-options.js';

const datasetRow = (name: string, d: FileDataset | TabularDataset) => ({
  name,
  version: d.version ?? null,
  type: d instanceof TabularDataset ? 'tabular' : 'file',
  uri: d.uri,
  description: d.description ?? null,
  tags: d.tags,
});

const envRow = (e: Environment) => ({
  name: e.name,
  version: e.version ?? null,
  image: e.image ?? null,
  condaFile: e.condaFile ?? null,
  pipRequirements: e.pipRequirements ?? null,
  environmentVariables: e.environmentVariables,
  description: e.description ?? null,
  tags: e.tags,
});

function readText(file: string, flag: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(
      `${flag} ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
}

/**
 * `archive`, `restore` and `delete` of a versioned asset kind: the name (all its versions), or with
 * the version flag one version.
 */
function lifecycleCommands(
  group: Command,
  what: string,
  versionFlag: string,
  ops: {
    archive(ws: Workspace, name: string, version?: string): Promise<void>;
    restore(ws: Workspace, name: string, version?: string): Promise<void>;
    delete(ws: Workspace, name: string, version?: string): Promise<void>;
  },
): void {
  const versionKey = versionFlag.replace(/^--/, '').replace(/-(\w)/g, (_m, c: string) => c.toUpperCase());
  const label = (name: string, version?: string) =>
    `${what} '${name}'${version !== undefined ? ` version ${version}` : ' (every version)'}`;
  for (const [verb, help] of [
    ['archive', `archive a ${what} (left out of lists, still readable; ${versionFlag}: only that version)`],
    ['restore', `make an archived ${what} active again (${versionFlag}: only that version)`],
  ] as const) {
    wsOptions(group.command(`${verb} <name>`).description(help))
      .option(`-v, ${versionFlag} <version>`, 'only this version (default: the name itself)')
      .action(async (name: string, o: WsOpts & Record<string, string | undefined>, cmd: Command) => {
        const g = globals(cmd);
        const version = o[versionKey];
        await ops[verb](await resolveWorkspace(g, o), name, version);
        print({ name, version: version ?? null, archived: verb === 'archive' }, g);
      });
  }
  wsOptions(
    group
      .command('delete <name>')
      .description(`delete a ${what} with every version (${versionFlag}: only that version)`),
  )
    .option(`-v, ${versionFlag} <version>`, 'only this version (default: every version)')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (name: string, o: WsOpts & Record<string, string | boolean | undefined>, cmd: Command) => {
      const g = globals(cmd);
      const version = o[versionKey] as string | undefined;
      const ws = await resolveWorkspace(g, o);
      await confirm(`Delete ${label(name, version)} of workspace '${ws.name}'?`, o.yes as boolean | undefined);
      await ops.delete(ws, name, version);
      print({ deleted: name, version: version ?? null }, g);
    });
}

/**
 * `data list|show|create|download|archive|restore|delete` (data assets: the seed's datasets) and
 * `environment list|show|create|archive|restore|delete`.
 */
export function assetCommands(program: Command): void {
  const data = program
    .command('data')
    .alias('dataset')
    .description("a workspace's data assets (the seed's datasets): files or delimited tables on a datastore");

  wsOptions(data.command('list').description('the latest version of each data asset')).action(
    async (o: WsOpts, cmd: Command) => {
      const g = globals(cmd);
      const all = await Dataset.list(await resolveWorkspace(g, o));
      print(
        [...all].map(([name, d]) => datasetRow(name, d)),
        g,
        ['name', 'version', 'type', 'uri'],
      );
    },
  );

  wsOptions(data.command('show <name>').description('a data asset version (default: the latest)'))
    .option('-v, --data-version <version>', 'version (default: latest)', 'latest')
    .action(async (name: string, o: WsOpts & { dataVersion: string }, cmd: Command) => {
      const g = globals(cmd);
      print(datasetRow(name, await Dataset.getByName(await resolveWorkspace(g, o), name, o.dataVersion)), g);
    });

  wsOptions(
    data
      .command('create <name>')
      .description('register files or a delimited table on a datastore as a new data asset version'),
  )
    .requiredOption('--path <path>', 'a file or folder on the datastore (e.g. data/iris.csv)')
    .option('-d, --datastore <name>', "datastore (default: the workspace's default datastore)")
    .option('-t, --type <type>', 'file (default) or tabular (delimited files with an inferred schema)', 'file')
    .option('--separator <char>', 'tabular: the field separator', ',')
    .option('--description <text>', 'description')
    .option('--tags <key=value...>', 'tags (key=value …)')
    .option('--create-new-version', 'add a version even when the name exists with other data')
    .action(
      async (
        name: string,
        o: WsOpts & {
          path: string;
          datastore?: string;
          type: string;
          separator: string;
          description?: string;
          tags?: string[];
          createNewVersion?: boolean;
        },
        cmd: Command,
      ) => {
        const g = globals(cmd);
        if (o.type !== 'file' && o.type !== 'tabular')
          throw new UsageError(`--type must be file or tabular, got '${o.type}'`);
        const tags = parseTags(o.tags);
        const ws = await resolveWorkspace(g, o);
        const ds = o.datastore ? await Datastore.get(ws, o.datastore) : await ws.getDefaultDatastore();
        const d =
          o.type === 'tabular'
            ? Dataset.Tabular.fromDelimitedFiles([ds, o.path], { separator: o.separator })
            : Dataset.File.fromFiles([ds, o.path]);
        const made = await d.register(ws, {
          name,
          ...(o.description !== undefined ? { description: o.description } : {}),
          ...(tags ? { tags } : {}),
          createNewVersion: Boolean(o.createNewVersion),
        });
        print(datasetRow(name, made as FileDataset | TabularDataset), g);
      },
    );

  wsOptions(
    data.command('download <name> <dest>').description("download a file data asset's files into a local folder"),
  )
    .option('-v, --data-version <version>', 'version (default: latest)', 'latest')
    .option('--overwrite', 'replace local files that already exist')
    .action(
      async (name: string, dest: string, o: WsOpts & { dataVersion: string; overwrite?: boolean }, cmd: Command) => {
        const g = globals(cmd);
        const d = await Dataset.getByName(await resolveWorkspace(g, o), name, o.dataVersion);
        if (!(d instanceof FileDataset))
          throw new UsageError(
            `data asset '${name}' is tabular: read it with the SDK (toRecords), or download its datastore path`,
          );
        const r = await d.download(dest, { overwrite: Boolean(o.overwrite), showProgress: false });
        print({ name, version: d.version, dest, ...r }, g);
      },
    );

  lifecycleCommands(data, 'data asset', '--data-version', {
    archive: (ws, n, v) => Dataset.archive(ws, n, v),
    restore: (ws, n, v) => Dataset.restore(ws, n, v),
    delete: (ws, n, v) => Dataset.delete(ws, n, v),
  });

  const env = program
    .command('environment')
    .alias('env')
    .description("a workspace's environments: the Python packages jobs and deployments run with");

  wsOptions(env.command('list').description('the latest version of each environment')).action(
    async (o: WsOpts, cmd: Command) => {
      const g = globals(cmd);
      const all = await Environment.list(await resolveWorkspace(g, o));
      print([...all.values()].map(envRow), g, ['name', 'version', 'image', 'description']);
    },
  );

  wsOptions(env.command('show <name>').description('an environment version (default: the latest)'))
    .option('-v, --env-version <version>', 'version (default: latest)')
    .action(async (name: string, o: WsOpts & { envVersion?: string }, cmd: Command) => {
      const g = globals(cmd);
      print(envRow(await Environment.get(await resolveWorkspace(g, o), name, o.envVersion)), g);
    });

  wsOptions(env.command('create <name>').description('register a new environment version'))
    .option('--conda-file <file>', 'a conda environment file (its pip dependencies are installed)')
    .option('--pip-requirements <file>', 'a pip requirements file')
    .option('--image <image>', 'base image (only for runtimes with containers)')
    .option('--environment-variables <KEY=value...>', 'environment variables of the environment')
    .option('-v, --env-version <version>', 'version (default: the next number)')
    .option('--description <text>', 'description')
    .option('--tags <key=value...>', 'tags (key=value …)')
    .action(
      async (
        name: string,
        o: WsOpts & {
          condaFile?: string;
          pipRequirements?: string;
          image?: string;
          environmentVariables?: string[];
          envVersion?: string;
          description?: string;
          tags?: string[];
        },
        cmd: Command,
      ) => {
        const g = globals(cmd);
        if (!o.condaFile && !o.pipRequirements && !o.image)
          throw new UsageError('say what the environment holds: --conda-file, --pip-requirements or --image');
        const e = new Environment(name);
        if (o.condaFile) e.condaFile = readText(o.condaFile, '--conda-file');
        if (o.pipRequirements) e.pipRequirements = readText(o.pipRequirements, '--pip-requirements');
        if (o.image) e.image = o.image;
        if (o.environmentVariables) e.environmentVariables = parseTags(o.environmentVariables)!;
        if (o.description !== undefined) e.description = o.description;
        const tags = parseTags(o.tags);
        if (tags) e.tags = tags;
        const ws: Workspace = await resolveWorkspace(g, o);
        print(envRow(await e.register(ws, o.envVersion)), g);
      },
    );

  lifecycleCommands(env, 'environment', '--env-version', {
    archive: (ws, n, v) => Environment.archive(ws, n, v),
    restore: (ws, n, v) => Environment.restore(ws, n, v),
    delete: (ws, n, v) => Environment.delete(ws, n, v),
  });
}

/** `private-endpoint create|list|delete`: a workspace's private endpoints and their connections. */
export function privateEndpointCommands(program: Command): void {
  const pe = program
    .command('private-endpoint')
    .description("a workspace's private endpoint connections: the network paths allowed in when public access is off");
  wsOptions(pe.command('list').description('list the private endpoint connections')).action(
    async (o: WsOpts, cmd: Command) => {
      const g = globals(cmd);
      print([...(await (await resolveWorkspace(g, o)).privateEndpoints()).values()], g, [
        'name',
        'status',
        'privateEndpointId',
      ]);
    },
  );
  wsOptions(
    pe
      .command('create <name>')
      .description(
        'create a private endpoint to the workspace: the networks (CIDRs) it admits while public network access is off',
      )
      .addHelpText(
        'after',
        '\nExamples:\n  atelier private-endpoint create lab-pe --vnet-name lab-net --subnet-name default\n' +
          '  atelier private-endpoint create lab-pe --address-prefixes 10.1.0.0/24 10.2.0.0/16\n' +
          'Without --manual-approval the connection is approved at once when you may approve it (an Owner).',
      ),
  )
    .option(
      '--address-prefixes <cidr...>',
      "the networks the endpoint admits, e.g. 10.1.0.0/24 (default: its subnet's, with --vnet-name)",
    )
    .option('--vnet-name <name>', 'the virtual network the endpoint is in (its subnet gives the networks)')
    .option('--subnet-name <name>', "the virtual network's subnet (default: default)")
    .option('--vnet-resource-group <group>', "resource group of the endpoint (default: the workspace's)")
    .option('--manual-approval', 'leave the connection Pending until an Owner approves it (default: approve it now)')
    .option('-l, --location <location>', "location (default: the workspace's)")
    .option('--tags <key=value...>', 'tags (key=value …)')
    .action(
      async (
        name: string,
        o: WsOpts & {
          addressPrefixes?: string[];
          vnetName?: string;
          subnetName?: string;
          vnetResourceGroup?: string;
          manualApproval?: boolean;
          location?: string;
          tags?: string[];
        },
        cmd: Command,
      ) => {
        const g = globals(cmd);
        if (!o.addressPrefixes && !o.vnetName)
          throw new UsageError(
            "give --vnet-name (the endpoint takes its subnet's networks) or --address-prefixes <cidr...>",
          );
        const tags = parseTags(o.tags);
        const ws = await resolveWorkspace(g, o);
        const made = await ws.addPrivateEndpoint({
          privateEndpointConfig: {
            name,
            ...(o.addressPrefixes ? { addressPrefixes: o.addressPrefixes } : {}),
            ...(o.vnetName ? { vnetName: o.vnetName } : {}),
            ...(o.subnetName ? { vnetSubnetName: o.subnetName } : {}),
            ...(o.vnetResourceGroup ? { vnetResourceGroup: o.vnetResourceGroup } : {}),
          },
          privateEndpointAutoApproval: !o.manualApproval,
          ...(o.location ? { location: o.location } : {}),
          ...(tags ? { tags } : {}),
          showOutput: false,
        });
        print(made, g);
      },
    );

  wsOptions(pe.command('delete <name>').description('delete a private endpoint connection'))
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (name: string, o: WsOpts & { yes?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const ws = await resolveWorkspace(g, o);
      await confirm(`Delete private endpoint connection '${name}' of workspace '${ws.name}'?`, o.yes);
      await ws.deletePrivateEndpointConnection(name);
      print({ deleted: name }, g);
    });
}
