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

/** `data list|show|create|download` (data assets: the seed's datasets) and `environment list|show|create`. */
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
}

/** `private-endpoint list|delete`: a workspace's private endpoint connections. */
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
